"""A centre ↔ district sync: push the outbox, pull the office's review decisions.

One run (:func:`sync_once`, what ``examdesk sync`` and the app's background worker call):

1. connect to the district's PostgreSQL with the centre's own login (row-level security: it
   sees only this centre's rows), check the schema version, register the centre row on the
   first run (``examdesk_claim_centre``), check the office's public key against the pinned one
   and send the centre's evidence data key sealed to it (:mod:`.keywrap`);
2. **push**: read the district's copy of this centre's chain head; it must be an event of the
   local chain (else the local database was replaced or restored: :class:`ChainDiverged`, nothing
   is sent). Then, batch after batch, the next events with their rows (:mod:`.outbox`) go in
   *one* district transaction that also moves the district's head, under ``FOR UPDATE`` on that
   head. A batch commits whole or not at all, so whatever interrupts a sync — network cut,
   server stopped, the app killed, a commit whose answer never arrived — the next run starts
   from the head the district actually has: nothing is lost, nothing is applied twice. (Rows are
   upserted by UUID as well, so even a re-sent row changes nothing.)
   A centre with stations (issue 17) is synced once for the whole centre, from any desk that
   holds the centre's signing key: after the centre's chain, each station's own chain goes the
   same way under the district's copy of that station's head (made with the station's first
   batch, which always carries the station's row: public keys and state, never a sealed data
   key). The district verifies each chain as ``audit verify`` does locally.
3. **pull**: review notices for this centre after the last one applied, in ``seq`` order,
   applied locally in one transaction with an audit event each and the new position, then the
   district's face calibrations for this centre the same way (:mod:`.face_population`); those
   receipt events are pushed in the same run.

The local ``sync_state`` row remembers the outcome for :func:`sync_status` (the app's status
line: last success, events not yet confirmed by the district, last error).
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from .audit import GENESIS, event_format
from .audit_keys import anchor_key
from .audit_rows import row_bindings
from .central import (
    central_engine,
    central_errors,
    central_url,
    check_schema,
    safe_url,
    save_central_url,
)
from .crypto import DataKeys
from .district_models import StationSyncState, SyncState, station_sync_state, sync_state
from .errors import InvalidInput, ProctoringError
from .face_population import apply_district_calibrations, calibration_position
from .keywrap import wrap_data_key
from .models import Centre, Incident, IncidentStatus
from .outbox import MUTABLE, SYNCED, Batch, checkpoint_rows, event_hash_at, read_batch, table
from .store import Store
from .sync_errors import (
    CentreAmbiguous,
    ChainDiverged,
    DistrictKeyChanged,
    NotADistrict,
    StationChainDiverged,
    SyncNeedsCentreKey,
)

DEFAULT_BATCH_EVENTS = 200
DEFAULT_BATCH_BYTES = 16 << 20
_NOTICES_PER_PULL = 500


@dataclass(frozen=True)
class ErrorInfo:
    key: str  # message key (examdesk/i18n)
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "detail": self.detail}


@dataclass(frozen=True)
class BatchReport:
    """One batch the district committed (the app may show progress with it)."""

    first_seq: int
    last_seq: int
    rows: Mapping[str, int]
    blob_bytes: int
    remaining: int  # events still to send after this batch


@dataclass(frozen=True)
class SyncResult:
    centre_id: uuid.UUID
    district_code: str | None
    central: str | None
    started_at: datetime
    finished_at: datetime
    pushed_events: int = 0
    batches: int = 0
    rows: Mapping[str, int] = field(default_factory=dict)
    blob_bytes: int = 0
    keys_sent: int = 0
    checkpoints_sent: int = 0
    reviews_applied: int = 0
    calibrations_applied: int = 0
    pending: int = 0  # local events the district has not confirmed (after this run)
    error: ErrorInfo | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "centre_id": str(self.centre_id),
                "district": self.district_code, "central": self.central,
                "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat(),
                "pushed_events": self.pushed_events, "batches": self.batches,
                "rows": dict(self.rows), "blob_bytes": self.blob_bytes,
                "keys_sent": self.keys_sent, "checkpoints_sent": self.checkpoints_sent,
                "reviews_applied": self.reviews_applied,
                "calibrations_applied": self.calibrations_applied, "pending": self.pending,
                "error": self.error.to_dict() if self.error else None}


@dataclass(frozen=True)
class SyncStatus:
    """What the app shows without touching the network."""

    centre_id: uuid.UUID
    central: str | None
    district_code: str | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    pending: int
    last_error: ErrorInfo | None
    running: bool = False
    # The last head the district confirmed holding (a witness outside this database: a log
    # cut back below it is caught by ``audit verify --district``); 0 before the first sync.
    witnessed_seq: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"centre_id": str(self.centre_id), "central": self.central,
                "witnessed_seq": self.witnessed_seq,
                "district": self.district_code,
                "last_attempt_at": _iso(self.last_attempt_at),
                "last_success_at": _iso(self.last_success_at), "pending": self.pending,
                "last_error": self.last_error.to_dict() if self.last_error else None,
                "running": self.running}


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


@dataclass
class _Run:
    """Counters of one run."""

    district_code: str | None = None
    central: str | None = None
    pushed: int = 0
    batches: int = 0
    rows: Counter[str] = field(default_factory=Counter)
    blob_bytes: int = 0
    keys_sent: int = 0
    checkpoints_sent: int = 0
    reviews: int = 0
    calibrations: int = 0


# --- the run --------------------------------------------------------------------------------


def sync_once(store: Store, central: str | None = None, *, centre_id: uuid.UUID | None = None,
              district_key: str | None = None, register_as: str | None = None,
              batch_events: int = DEFAULT_BATCH_EVENTS,
              batch_bytes: int = DEFAULT_BATCH_BYTES,
              on_batch: Callable[[BatchReport], None] | None = None) -> SyncResult:
    """Push everything not yet in the district, pull review decisions; never raises for a
    failure it can name (unreachable district, refused credentials, a diverged chain, …): the
    result and ``sync_status`` carry it. ``district_key`` pins the office's X25519 public key
    (hex) instead of trusting the first one seen. The district account must be the one the
    office made for this centre's code (``register_as`` when the local code differs, e.g. a
    centre that started as "local"). Raises only when the database names no single centre."""
    started = store.now()
    centre = local_centre(store, centre_id)
    run = _Run()
    error: ErrorInfo | None = None
    try:
        _note(store, centre.id, last_attempt_at=started)
        url = central_url(central, store.keys)
        run.central = safe_url(url)
        engine = central_engine(url)
        try:
            with central_errors(run.central):
                _connect(engine, store, centre, run, district_key, register_as)
                _push_all(engine, store, centre.id, run, batch_events, batch_bytes, on_batch)
                _send_missing_checkpoints(engine, store, centre.id, run)
                reviews = _pull(engine, store, centre.id, run)
                if reviews + _pull_calibrations(engine, store, centre.id, run):
                    # The receipts of the decisions just applied go up in the same run.
                    _push_all(engine, store, centre.id, run, batch_events, batch_bytes,
                              on_batch)
        finally:
            engine.dispose()
    except ProctoringError as exc:
        error = ErrorInfo(exc.key, exc.detail or str(exc))
    finished = store.now()
    try:
        if error is None:
            _note(store, centre.id, last_success_at=finished, last_error_key=None,
                  last_error_detail=None)
        else:
            _note(store, centre.id, last_error_key=error.key, last_error_detail=error.detail)
        pending = sync_status(store, centre.id).pending
    except ProctoringError:
        pending = -1  # the local database itself failed: the error above says so
    return SyncResult(centre.id, run.district_code, run.central, started, finished, run.pushed,
                      run.batches, dict(run.rows), run.blob_bytes, run.keys_sent,
                      run.checkpoints_sent, run.reviews, run.calibrations, pending, error)


def sync_and_save(store: Store, url: str, **sync: Any) -> tuple[SyncResult, str | None]:
    """Sync with ``url`` and keep it (:func:`save_central_url`) only if the district accepted
    it: a typo is never saved. Returns the result and where the address went (None: not kept).
    ``sync`` goes to :func:`sync_once` (``centre_id``, ``district_key``, …)."""
    result = sync_once(store, url, **sync)
    if result.error is not None:
        return result, None
    return result, save_central_url(store.keys, url)


def local_centre(store: Store, centre_id: uuid.UUID | None = None,
                 code: str | None = None) -> Centre:
    """The centre this database syncs for: the one given, else its only centre."""
    with store.read() as tx:
        if centre_id is not None:
            found = tx.get(Centre, centre_id)
            if found is None:
                raise InvalidInput(f"no centre {centre_id} in this database", field="centre")
            return found
        centres = list(tx.exec(select(Centre).order_by(col(Centre.code))).all())
    if code is not None:
        centres = [c for c in centres if c.code == code]
    if len(centres) == 1:
        return centres[0]
    if not centres:
        raise InvalidInput("no centre in this database yet" if code is None
                           else f"no centre {code!r} in this database", field="centre")
    raise CentreAmbiguous(f"{len(centres)} centres in this database: choose one",
                          centres=", ".join(c.code for c in centres))


def _connect(engine: Engine, store: Store, centre: Centre, run: _Run,
             district_key: str | None, register_as: str | None) -> None:
    """Schema check, centre registration, office key check, the sealed data key."""
    anchor = anchor_key(store.keys, centre.id)
    if anchor is None:
        with store.read() as tx:
            signed = _local_seq(tx, centre.id) > 0
        if signed:  # another desk signs this centre's chain: the district knows its key
            raise SyncNeedsCentreKey(f"this desk holds no signing key of centre {centre.code}",
                                     centre=centre.code)
    district = table("district")
    with engine.begin() as conn:
        check_schema(conn, run.central or "")
        conn.execute(sa.text("SELECT examdesk_claim_centre(:id, :name, :code, :key)"),
                     {"id": centre.id, "name": centre.name, "code": register_as or centre.code,
                      "key": anchor})
        found = conn.execute(sa.select(district.c.code, district.c.box_public_key)).first()
    if found is None:
        raise NotADistrict("the district database has no office yet (district init)")
    run.district_code, box = str(found.code), str(found.box_public_key)
    with store.write() as tx:
        state = sync_state(tx, centre.id)
        pinned = (district_key or "").lower() or state.box_public_key
        if pinned and pinned != box:
            raise DistrictKeyChanged(f"the district offers office key {box[:16]}…, this centre "
                                     f"trusts {pinned[:16]}…", offered=box, pinned=pinned)
        state.box_public_key, state.district_code = box, run.district_code
        state.central = run.central
        tx.add(state)
    current = store.data_key
    # Rotated keys too: blobs they sealed may reach the district only now.
    older = current.older.values() if isinstance(current, DataKeys) else ()
    ck = table("centre_key")
    for key in (current, *older):
        with engine.begin() as conn:
            have = conn.execute(sa.select(ck.c.id).where(
                ck.c.centre_id == centre.id, ck.c.key_id == key.key_id,
                ck.c.box_public_key == box)).first()
            if have is None:
                now = store.now()
                # ON CONFLICT: a second sync of this centre running at once sends it too.
                sent = conn.execute(pg_insert(ck).values(
                    id=uuid.uuid4(), centre_id=centre.id, key_id=key.key_id,
                    box_public_key=box,
                    wrapped=wrap_data_key(key, box, district_code=run.district_code,
                                          centre_id=centre.id),
                    created_at=now, updated_at=now).on_conflict_do_nothing(
                    index_elements=["centre_id", "key_id", "box_public_key"]
                ).returning(ck.c.id))
                # RETURNING, not rowcount: SQLAlchemy reports -1 as an INSERT's rowcount.
                run.keys_sent += len(sent.all())


# --- push -------------------------------------------------------------------------------------


def _central_head(engine: Engine, centre_id: uuid.UUID,
                  station_id: uuid.UUID | None = None) -> tuple[int, str]:
    """How far the district holds the centre's chain, or ``station_id``'s (whose head row the
    district gets with that station's first batch: none yet means nothing held)."""
    if station_id is not None:
        sh = table("station_audit_head")
        with engine.connect() as conn:
            row = conn.execute(sa.select(sh.c.seq, sh.c.hash).where(
                sh.c.centre_id == centre_id, sh.c.station_id == station_id)).first()
        return (int(row.seq), str(row.hash)) if row is not None else (0, GENESIS)
    h = table("audit_head")
    with engine.connect() as conn:
        row = conn.execute(sa.select(h.c.seq, h.c.hash).where(h.c.centre_id == centre_id)).first()
    if row is None:  # examdesk_claim_centre makes it: only a damaged district lacks it
        raise NotADistrict("the district has no audit head for this centre")
    return int(row.seq), str(row.hash)


def _push_all(engine: Engine, store: Store, centre_id: uuid.UUID, run: _Run,
              batch_events: int, batch_bytes: int,
              on_batch: Callable[[BatchReport], None] | None) -> None:
    """The centre's chain, then each station's own chain (issue 17) in the order the stations
    were enrolled: an approval is on an earlier chain than the station it approves, so the
    district can vouch for a station's key as soon as its events arrive."""
    _push(engine, store, centre_id, run, batch_events, batch_bytes, on_batch)
    for station_id in _local_stations(store, centre_id):
        _push(engine, store, centre_id, run, batch_events, batch_bytes, on_batch,
              station_id=station_id)


def _local_stations(store: Store, centre_id: uuid.UUID) -> list[uuid.UUID]:
    from .station_models import Station

    with store.read() as tx:
        return list(tx.exec(select(Station.id).where(Station.centre_id == centre_id)
                            .order_by(col(Station.enrolled_at), col(Station.id))).all())


def _push(engine: Engine, store: Store, centre_id: uuid.UUID, run: _Run, batch_events: int,
          batch_bytes: int, on_batch: Callable[[BatchReport], None] | None, *,
          station_id: uuid.UUID | None = None) -> None:
    seq, digest = _central_head(engine, centre_id, station_id)
    _check_continues(store, centre_id, seq, digest, station_id)
    _note_pushed(store, centre_id, seq, station_id, exact=True)  # the district's word counts
    while True:
        with store.read() as tx:
            batch = read_batch(tx, centre_id, seq, max_events=batch_events, max_bytes=batch_bytes,
                               station_id=station_id)
            local_end = _local_seq(tx, centre_id, station_id)
        if batch is None:
            return
        _verify_links(batch, digest)
        with engine.begin() as conn:
            applied = _apply(conn, batch, seq, digest, store.now())
        if not applied:  # another sync of this centre got there first: start from its head
            seq, digest = _central_head(engine, centre_id, station_id)
            _check_continues(store, centre_id, seq, digest, station_id)
            continue
        seq, digest = batch.last_seq, batch.last_hash
        _note_pushed(store, centre_id, seq, station_id)
        run.pushed += len(batch.events)
        run.batches += 1
        run.rows.update(batch.counts())
        run.blob_bytes += batch.blob_bytes
        run.checkpoints_sent += len(batch.checkpoints)
        if on_batch is not None:
            on_batch(BatchReport(batch.first_seq, batch.last_seq, batch.counts(),
                                 batch.blob_bytes, max(0, local_end - seq)))


def _check_continues(store: Store, centre_id: uuid.UUID, seq: int, digest: str,
                     station_id: uuid.UUID | None = None) -> None:
    """The district's head must be an event of the local chain (the centre's or the
    station's)."""
    with store.read() as tx:
        local_end = _local_seq(tx, centre_id, station_id)
        local_hash = (event_hash_at(tx, centre_id, seq, station_id=station_id) if seq
                      else GENESIS)
    if seq <= local_end and local_hash == digest:
        return
    detail = (f"the district holds {seq} events, this database only {local_end}"
              if seq > local_end else f"event {seq} differs from the district's copy")
    if station_id is None:
        raise ChainDiverged(detail, district_seq=seq, local_seq=local_end)
    from .station_models import Station

    with store.read() as tx:
        station = tx.get(Station, station_id)
    name = station.name if station is not None else str(station_id)
    raise StationChainDiverged(f"station {name}: {detail}", station=name, district_seq=seq,
                               local_seq=local_end)


def _local_seq(tx: Session, centre_id: uuid.UUID, station_id: uuid.UUID | None = None) -> int:
    if station_id is not None:
        sh = table("station_audit_head")
        found = tx.connection().execute(sa.select(sh.c.seq).where(
            sh.c.centre_id == centre_id, sh.c.station_id == station_id)).scalar()
        return int(found or 0)
    h = table("audit_head")
    found = tx.connection().execute(sa.select(h.c.seq).where(h.c.centre_id == centre_id)).scalar()
    return int(found or 0)


def _verify_links(batch: Batch, prev: str) -> None:
    """Send only a chain that verifies: each event's hash from its content, each linked to the
    one before. A tampered local log is for ``audit verify`` to explain, not for the district
    to inherit."""
    for e in batch.events:
        fmt = event_format(centre_id=e["centre_id"], occurred_at=e["occurred_at"],
                           actor=e["actor"], action=e["action"], subject_id=e["subject_id"],
                           payload=e["payload"], prev_hash=e["prev_hash"], hash=e["hash"],
                           station_id=batch.station_id)
        if e["prev_hash"] != prev or fmt is None:
            raise ChainDiverged(f"the local audit log does not verify at event {e['seq']} "
                                "(run examdesk audit verify)", local_seq=e["seq"])
        prev = e["hash"]


def _apply(conn: sa.Connection, batch: Batch, seq: int, digest: str, now: datetime) -> bool:
    """One batch in the district, in the caller's transaction; False when the head moved."""
    if batch.station_id is not None:
        return _apply_station(conn, batch, seq, digest, now)
    h = table("audit_head")
    return _apply_chain(conn, batch, seq, digest, now, head=h,
                        which=h.c.centre_id == batch.centre_id, events="audit_event",
                        checkpoints="audit_checkpoint")


def _apply_station(conn: sa.Connection, batch: Batch, seq: int, digest: str,
                   now: datetime) -> bool:
    """A batch of one station's chain: the station's row and its head row first (its first
    batch makes them; ``ON CONFLICT``: a second sync doing the same at once waits on the
    unique key, then finds them), then the same as the centre's chain under that head."""
    sh = table("station_audit_head")
    conn.execute(_upsert("station"), batch.rows["station"])
    conn.execute(pg_insert(sh).values(
        id=uuid.uuid4(), centre_id=batch.centre_id, station_id=batch.station_id, seq=0,
        hash=GENESIS, updated_at=now).on_conflict_do_nothing(index_elements=["station_id"]))
    return _apply_chain(conn, batch, seq, digest, now, head=sh,
                        which=sh.c.station_id == batch.station_id,
                        events="station_audit_event", checkpoints="station_audit_checkpoint")


def _apply_chain(conn: sa.Connection, batch: Batch, seq: int, digest: str, now: datetime, *,
                 head: sa.Table, which: sa.ColumnElement[bool], events: str,
                 checkpoints: str) -> bool:
    """The batch under one chain's head row (``which`` of ``head``), locked: False when it is
    no longer at (seq, digest) — another sync got there first; else the rows, the events,
    the checkpoints, and the head moved to the batch's last event. The centre's chain and a
    station's differ only in these tables."""
    at = conn.execute(sa.select(head.c.seq, head.c.hash).where(which).with_for_update()).one()
    if (int(at.seq), str(at.hash)) != (seq, digest):
        return False
    _apply_rows(conn, batch)
    conn.execute(sa.insert(table(events)), batch.events)
    if batch.checkpoints:
        conn.execute(pg_insert(table(checkpoints)).on_conflict_do_nothing(
            index_elements=["id"]), batch.checkpoints)
    conn.execute(sa.update(head).where(which)
                 .values(seq=batch.last_seq, hash=batch.last_hash, updated_at=now))
    return True


def _apply_rows(conn: sa.Connection, batch: Batch) -> None:
    for name in SYNCED:
        rows = batch.rows.get(name)
        if rows:
            conn.execute(_upsert(name), rows)
    if batch.purged:  # retention: gone from the district too, unless an open incident holds it
        conn.execute(sa.text("SELECT examdesk_purge_blobs(:ids)"), {"ids": batch.purged})


def _upsert(name: str) -> Any:
    """Insert by UUID; an existing row takes only the columns a centre may change, and only
    from a newer version (a late re-send never rolls a row back)."""
    t = table(name)
    stmt = pg_insert(t)
    columns = MUTABLE[name]
    if not columns:
        return stmt.on_conflict_do_nothing(index_elements=["id"])
    return stmt.on_conflict_do_update(
        index_elements=["id"], set_={c: stmt.excluded[c] for c in columns},
        where=t.c.updated_at < stmt.excluded.updated_at)


def _send_missing_checkpoints(engine: Engine, store: Store, centre_id: uuid.UUID,
                              run: _Run) -> None:
    """Checkpoints signed later over events already sent (``AuditLog.checkpoint``)."""
    cp = table("audit_checkpoint")
    seq, _ = _central_head(engine, centre_id)
    with store.read() as tx:
        local = checkpoint_rows(tx, centre_id, seq)
    with engine.connect() as conn:
        there = conn.execute(sa.select(sa.func.count()).select_from(cp)
                             .where(cp.c.centre_id == centre_id)).scalar_one()
        if there >= len(local):
            return
        ids = set(conn.execute(sa.select(cp.c.id).where(cp.c.centre_id == centre_id)).scalars())
    missing = [r for r in local if r["id"] not in ids]
    with engine.begin() as conn:
        conn.execute(pg_insert(cp).on_conflict_do_nothing(index_elements=["id"]), missing)
    run.checkpoints_sent += len(missing)


# --- pull -------------------------------------------------------------------------------------


def _pull(engine: Engine, store: Store, centre_id: uuid.UUID, run: _Run) -> int:
    """Apply the office's new decisions; returns how many were applied."""
    before = run.reviews
    while True:
        with store.read() as tx:
            after = sync_state(tx, centre_id).notice_seq
        batch = _rows_after(engine, "review_notice", "seq", centre_id, after)
        if not batch:
            return run.reviews - before
        run.reviews += _apply_notices(store, centre_id, batch)


def _pull_calibrations(engine: Engine, store: Store, centre_id: uuid.UUID, run: _Run) -> int:
    """Apply the district's new face calibrations for this centre; returns how many."""
    before = run.calibrations
    while True:
        after = calibration_position(store, centre_id)
        batch = _rows_after(engine, "face_calibration", "district_seq", centre_id, after)
        if not batch:
            return run.calibrations - before
        run.calibrations += apply_district_calibrations(store, centre_id, batch)
        if calibration_position(store, centre_id) <= after:
            return run.calibrations - before  # nothing moved: never loop on the same rows


def _rows_after(engine: Engine, name: str, position: str, centre_id: uuid.UUID,
               after: int) -> list[dict[str, Any]]:
    """The district's next rows of table ``name`` for this centre: ``position`` past
    ``after``, in its order, one pull's worth at most (the caller loops until none)."""
    t = table(name)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            sa.select(t).where(t.c.centre_id == centre_id, t.c[position] > after)
            .order_by(t.c[position]).limit(_NOTICES_PER_PULL))]


def _apply_notices(store: Store, centre_id: uuid.UUID, notices: list[dict[str, Any]]) -> int:
    """The office's decisions on this centre's incidents, with an audit event each and the new
    position, in one local transaction (a second sync running at once skips what this one
    applied: the position is re-read under the write lock)."""
    applied = 0
    with store.write() as tx:
        state = sync_state(tx, centre_id)
        for n in notices:
            if n["seq"] <= state.notice_seq:
                continue
            state.notice_seq = n["seq"]
            incident = tx.get(Incident, n["incident_id"])
            if incident is None or incident.centre_id != centre_id:
                continue
            before = incident.status
            incident.status = IncidentStatus(n["status"])
            incident.reviewer_notes = n["reviewer_notes"]
            incident.reviewed_at = n["reviewed_at"]
            incident.reviewed_by_id = None  # the office's users live in the district only
            tx.add(incident)
            tx.flush()
            store.audit.append(tx, centre_id=centre_id, actor=f"district:{n['reviewer']}"[:100],
                               action="incident.review_received", subject_id=incident.id,
                               payload={"notice_id": n["id"], "district_seq": n["seq"],
                                        "from": before, "to": incident.status,
                                        "reviewer": n["reviewer"],
                                        "reviewed_at": n["reviewed_at"],
                                        "rows": row_bindings(tx, incidents=[incident.id])},
                               at=store.now())
            applied += 1
        tx.add(state)
    return applied


# --- state and status ---------------------------------------------------------------------------




def _note(store: Store, centre_id: uuid.UUID, **values: Any) -> None:
    with store.write() as tx:
        state = sync_state(tx, centre_id)
        for name, value in values.items():
            setattr(state, name, value)
        tx.add(state)


def _note_pushed(store: Store, centre_id: uuid.UUID, seq: int,
                 station_id: uuid.UUID | None = None, *, exact: bool = False) -> None:
    """Only forward: a concurrent sync that confirmed more must not be undone by a slower one
    (``exact``: the district's own head, read at the start of a push, counts either way)."""
    with store.write() as tx:
        state: SyncState | StationSyncState
        state = (sync_state(tx, centre_id) if station_id is None
                 else station_sync_state(tx, centre_id, station_id))
        if seq > state.pushed_seq or (exact and seq != state.pushed_seq):
            state.pushed_seq = seq
            tx.add(state)


def sync_status(store: Store, centre_id: uuid.UUID | None = None) -> SyncStatus:
    """Last success, last error and the events the district has not confirmed yet (counted
    from the local chain: it may say more than the district lacks after a commit whose answer
    was lost, never less)."""
    centre = local_centre(store, centre_id)
    with store.read() as tx:
        state = tx.exec(select(SyncState).where(SyncState.centre_id == centre.id)).first()
        end = _local_seq(tx, centre.id)
        stations = _stations_waiting(tx, centre.id)
    if state is None:
        return SyncStatus(centre.id, None, None, None, None, end + stations, None)
    error = (ErrorInfo(state.last_error_key, state.last_error_detail or "")
             if state.last_error_key else None)
    return SyncStatus(centre.id, state.central, state.district_code, state.last_attempt_at,
                      state.last_success_at, max(0, end - state.pushed_seq) + stations, error,
                      witnessed_seq=state.pushed_seq)


def _stations_waiting(tx: Session, centre_id: uuid.UUID) -> int:
    """Events of the centre's stations' own chains the district has not confirmed yet."""
    sh = table("station_audit_head")
    ss = table("station_sync_state")
    rows = tx.connection().execute(
        sa.select(sh.c.seq, ss.c.pushed_seq)
        .select_from(sh.outerjoin(ss, ss.c.station_id == sh.c.station_id))
        .where(sh.c.centre_id == centre_id)).all()
    return sum(max(0, int(r.seq) - int(r.pushed_seq or 0)) for r in rows)


class SyncWorker:
    """``sync_once`` every ``interval`` seconds on a daemon thread: the app's background sync.

    ``status()`` is safe to call from the GUI thread at any time; ``trigger()`` runs a sync now
    (e.g. after a check-in); ``stop()`` waits for a run in progress to finish its batch.
    """

    def __init__(self, store: Store, central: str | None = None, *, interval: float = 120.0,
                 centre_id: uuid.UUID | None = None,
                 on_result: Callable[[SyncResult], None] | None = None) -> None:
        self.store = store
        self.central = central
        self.interval = interval
        self.centre_id = centre_id
        self.on_result = on_result
        self.last_result: SyncResult | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._running = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopping.clear()
            self._thread = threading.Thread(target=self._loop, name="examdesk-sync",
                                            daemon=True)
            self._thread.start()

    def trigger(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def status(self) -> SyncStatus:
        return replace(sync_status(self.store, self.centre_id), running=self._running.is_set())

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._running.set()
            try:
                result = sync_once(self.store, self.central, centre_id=self.centre_id)
            except Exception as exc:  # a bug must not kill the thread: show it, try later
                result = SyncResult(self.centre_id or uuid.UUID(int=0), None, None,
                                    self.store.now(), self.store.now(),
                                    error=ErrorInfo("sync.error", repr(exc)))
            finally:
                self._running.clear()
            self.last_result = result
            if self.on_result is not None:
                self.on_result(result)
            self._wake.wait(self.interval)
            self._wake.clear()
