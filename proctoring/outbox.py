"""A centre's outbox: its audit chain, and the rows each event is about.

The outbox is not a new queue but the audit log itself. Every change to a centre's data appends
one audit event *in the transaction that makes the change* (see :mod:`.audit`), and appends lock
the chain's head until commit, so a centre's events are gap-free and numbered (``seq``) in commit
order. That is exactly what an outbox must be: nothing committed is missing from it, nothing is
in it that did not commit, and its order is the order things happened. The district's copy of
the chain says how far a centre got (its head), in the same transaction as the rows, so a sync
resumes there after any interruption and never sends an event twice.

For each batch of events this module reads the rows the events are about, *as they are now*:
the event's subject row (a check-in, an incident, a session, …), its parts (a check-in's evidence
and blobs, an incident's links and evidence, a session's roster), and every row those point to
(a check-in's operator, a roster line's candidate), so the district never receives a row whose
foreign keys it cannot satisfy. Shipping current state rather than the state at event time is
what makes a re-send harmless: rows are upserted by their UUID, newest ``updated_at`` wins, and
columns a centre may not change after the fact (a check-in's machine decision) are never updated.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from .errors import InvalidInput

# The tables a centre ships, parents before children (the order rows are upserted in).
# The stations (issue 17) travel with their public keys and state only: their sealed copies of
# the data key (``station_data_key``) stay in the centre (the office opens evidence with the
# centre's key sealed to it, ``centre_key``). The exam room's seats and acknowledgements
# (issue 18) travel so that the office reviews online-exam incidents as the room saw them.
SYNCED: tuple[str, ...] = ("centre", "station", "app_user", "exam_session", "candidate",
                           "roster_entry", "checkin", "seat_agent", "incident",
                           "incident_checkin", "incident_ack", "evidence", "evidence_blob")

# Columns a centre may still change once a row is in the district (everything else is fixed at
# insert): the same lists are the centre role's column privileges in PostgreSQL (district.py).
MUTABLE: Mapping[str, tuple[str, ...]] = {
    "centre": ("name", "updated_at"),
    # Never its keys: a station's public keys are fixed at enrolment (a new desk is a new row).
    "station": ("name", "stages", "status", "approved_by", "approved_at", "revoked_by",
                "revoked_at", "revoke_reason", "updated_at"),
    "app_user": ("full_name", "role", "active", "updated_at"),
    "exam_session": ("title", "ends_at", "status", "closed_at", "updated_at"),
    "candidate": ("full_name", "updated_at"),
    "roster_entry": ("seat", "vehicle", "updated_at"),
    "checkin": ("decision", "overridden_at", "overridden_by_id", "override_reason", "updated_at"),
    # Review fields are the office's: they flow down as review notices, never up.
    "incident": ("ended_at", "updated_at"),
    "incident_checkin": (),
    "evidence": ("purged_at", "updated_at"),
    "evidence_blob": (),
    "seat_agent": ("roster_entry_id", "checkin_id", "state", "bound_at", "heartbeat_at",
                   "paused_until", "updated_at"),
    "incident_ack": (),
}

# Rows that are part of a subject: (child table, its column pointing at the subject's table).
_PARTS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "exam_session": (("roster_entry", "session_id"),),
    "checkin": (("evidence", "checkin_id"),),
    "incident": (("incident_checkin", "incident_id"), ("evidence", "incident_id"),
                 ("incident_ack", "incident_id")),
}
_SUBJECT_TABLES = ("centre", "station", "app_user", "exam_session", "checkin", "seat_agent",
                   "incident")
_CHUNK = 500

Row = dict[str, Any]


def table(name: str) -> sa.Table:
    return SQLModel.metadata.tables[name]


@dataclass
class Batch:
    """Events ``first_seq..last_seq`` of one centre and the rows to upsert with them."""

    centre_id: uuid.UUID
    events: list[Row]
    rows: dict[str, list[Row]]  # table → rows, tables in SYNCED order
    checkpoints: list[Row]
    # Evidence purged on retention: its blobs leave the district too (unless an open incident
    # holds them there, see district.examdesk_purge_blobs).
    purged: list[uuid.UUID] = field(default_factory=list)
    # A station's own chain (issue 17): events of ``station_audit_event``; None: the centre's.
    station_id: uuid.UUID | None = None

    @property
    def first_seq(self) -> int:
        return int(self.events[0]["seq"])

    @property
    def last_seq(self) -> int:
        return int(self.events[-1]["seq"])

    @property
    def last_hash(self) -> str:
        return str(self.events[-1]["hash"])

    @property
    def blob_bytes(self) -> int:
        return sum(len(r["ciphertext"]) for r in self.rows.get("evidence_blob", []))

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.rows.items() if rows}


def _chain(station_id: uuid.UUID | None) -> tuple[sa.Table, sa.Table, str]:
    """(events, checkpoints, the column naming the chain) of a centre's or a station's chain."""
    if station_id is None:
        return table("audit_event"), table("audit_checkpoint"), "centre_id"
    return table("station_audit_event"), table("station_audit_checkpoint"), "station_id"


def read_events(tx: Session, centre_id: uuid.UUID, after_seq: int, limit: int, *,
                station_id: uuid.UUID | None = None) -> list[Row]:
    t, _, column = _chain(station_id)
    query = (sa.select(t).where(t.c.centre_id == centre_id,
                                t.c[column] == (station_id or centre_id), t.c.seq > after_seq)
             .order_by(t.c.seq).limit(limit))
    return [dict(r._mapping) for r in tx.connection().execute(query)]


def read_batch(tx: Session, centre_id: uuid.UUID, after_seq: int, *, max_events: int = 200,
               max_bytes: int = 16 << 20, station_id: uuid.UUID | None = None) -> Batch | None:
    """The next events after ``after_seq`` with their rows, or None when there are none: of
    the centre's chain, or of ``station_id``'s own chain (whose batch always carries the
    station's row, so the district has it before the first event that names it).

    Fewer than ``max_events`` events when their blobs would pass ``max_bytes`` (but always at
    least one event, however large: a batch must make progress)."""
    events = read_events(tx, centre_id, after_seq, max_events, station_id=station_id)
    if not events:
        return None
    while True:
        batch = _expand(tx, centre_id, events, station_id)
        if batch.blob_bytes <= max_bytes or len(events) == 1:
            return batch
        events = events[: max(1, len(events) // 2)]


def _expand(tx: Session, centre_id: uuid.UUID, events: list[Row],
            station_id: uuid.UUID | None = None) -> Batch:
    conn = tx.connection()
    found: dict[str, dict[uuid.UUID, Row]] = defaultdict(dict)
    subjects = {e["subject_id"] for e in events}
    if station_id is not None:
        _fetch(conn, found, "station", "id", [station_id])
    for name in _SUBJECT_TABLES:
        _fetch(conn, found, name, "id", subjects)
    for parent, parts in _PARTS.items():
        for child, column in parts:
            _fetch(conn, found, child, column, set(found[parent]))
    for e in events:
        if e["action"] == "evidence.purged":
            _purged_by(conn, found, centre_id, e)
    _close_over_parents(conn, found)
    live = {i for i, r in found["evidence"].items() if r["purged_at"] is None}
    _fetch(conn, found, "evidence_blob", "id", live)
    rows = {name: list(found[name].values()) for name in SYNCED}
    for name, table_rows in rows.items():
        _check_owner(name, table_rows, centre_id)
    _, cp, column = _chain(station_id)
    checkpoints = [dict(r._mapping) for r in conn.execute(
        sa.select(cp).where(cp.c.centre_id == centre_id,
                            cp.c[column] == (station_id or centre_id),
                            cp.c.seq >= events[0]["seq"],
                            cp.c.seq <= events[-1]["seq"]).order_by(cp.c.seq))]
    purged = [r["id"] for r in rows["evidence"] if r["purged_at"] is not None]
    return Batch(centre_id, events, rows, checkpoints, purged, station_id)


def _fetch(conn: sa.Connection, found: dict[str, dict[uuid.UUID, Row]], name: str,
           column: str, values: Iterable[uuid.UUID]) -> None:
    """Rows of ``name`` whose ``column`` is in ``values``, added to ``found``."""
    t = table(name)
    wanted = sorted(v for v in set(values) if v is not None)
    for i in range(0, len(wanted), _CHUNK):
        for r in conn.execute(sa.select(t).where(t.c[column].in_(wanted[i:i + _CHUNK]))):
            row = dict(r._mapping)
            found[name].setdefault(row["id"], row)


def _close_over_parents(conn: sa.Connection, found: dict[str, dict[uuid.UUID, Row]]) -> None:
    """Add every row a found row points to (foreign keys into synced tables), transitively."""
    while True:
        missing: dict[str, set[uuid.UUID]] = defaultdict(set)
        for name in SYNCED:
            for fk in table(name).foreign_keys:
                target = fk.column.table.name
                if target not in SYNCED:
                    continue
                for row in found[name].values():
                    ref = row[fk.parent.name]
                    if ref is not None and ref not in found[target]:
                        missing[target].add(ref)
        if not missing:
            return
        for target, ids in missing.items():
            _fetch(conn, found, target, "id", ids)
            unknown = ids - set(found[target])
            if unknown:  # a dangling reference: SQLite enforces foreign keys, so never
                raise InvalidInput(f"{target} {sorted(unknown)[0]} is referenced but missing",
                                   field=target)


def _purged_by(conn: sa.Connection, found: dict[str, dict[uuid.UUID, Row]],
               centre_id: uuid.UUID, event: Row) -> None:
    """The evidence rows an ``evidence.purged`` event purged: the purge stamps them with the
    event's own time. If they do not add up to what the event recorded (count and id hash),
    every purged row of the centre goes instead: more than needed, never less."""
    t = table("evidence")
    payload = json.loads(event["payload"])
    rows = [dict(r._mapping) for r in conn.execute(
        sa.select(t).where(t.c.centre_id == centre_id,
                           t.c.purged_at == event["occurred_at"]))]
    digest = hashlib.sha256("\n".join(sorted(str(r["id"]) for r in rows)).encode()).hexdigest()
    if len(rows) != payload.get("count") or digest != payload.get("ids_sha256"):
        rows = [dict(r._mapping) for r in conn.execute(
            sa.select(t).where(t.c.centre_id == centre_id, t.c.purged_at.is_not(None)))]
    for row in rows:
        found["evidence"][row["id"]] = row


def _check_owner(name: str, rows: Sequence[Row], centre_id: uuid.UUID) -> None:
    column = "id" if name == "centre" else "centre_id"
    strangers = [r["id"] for r in rows if r[column] != centre_id]
    if strangers:
        raise InvalidInput(f"{name} {strangers[0]} belongs to another centre: a centre ships "
                           "only its own rows", field=name)


def checkpoint_rows(tx: Session, centre_id: uuid.UUID, up_to: int) -> list[Row]:
    cp = table("audit_checkpoint")
    return [dict(r._mapping) for r in tx.connection().execute(
        sa.select(cp).where(cp.c.centre_id == centre_id, cp.c.seq <= up_to)
        .order_by(cp.c.seq))]


def event_hash_at(tx: Session, centre_id: uuid.UUID, seq: int, *,
                  station_id: uuid.UUID | None = None) -> str | None:
    t, _, column = _chain(station_id)
    return tx.connection().execute(sa.select(t.c.hash).where(
        t.c.centre_id == centre_id, t.c[column] == (station_id or centre_id),
        t.c.seq == seq)).scalar()
