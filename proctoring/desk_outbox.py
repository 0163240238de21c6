"""A desk's check-ins under a centre outage (issue 17): kept locally, delivered when the centre
database returns — in order, once — and what the desk needs to go on checking in meanwhile.

While the centre's PostgreSQL answers, a check-in is stored there as always
(:func:`~.checkins.record_checkin`). When it does not, the whole :class:`~.checkins.CheckInInput`
(its evidence included) goes to this desk's own SQLite outbox (:mod:`.local_outbox`), sealed
with a key of this desk's key store (AES-256-GCM, the check-in's id as associated data): the
centre's data key may be out of reach too (a station gets it sealed from the centre's database).
Delivery stores each waiting check-in with the id the desk chose, so a check-in the centre
already has (a crash between its commit and the outbox's delete) is not stored twice; it goes
in outbox order, stopping at the first one the centre cannot take for being unreachable, so
the desk's station chain gets its events in the order the check-ins were made. Once a check-in
waits, every later one queues behind it (never overtakes it).

A check-in the centre refuses for good on delivery (the session was closed meanwhile, the
station was revoked) is parked, sealed as it was, never dropped.

For the offline check-in itself the desk keeps a sealed copy of each session's roster it saw
while online (``remember``): the roster lookup then works offline; the comparisons that need
other desks' data (faces admitted elsewhere, earlier stages) follow the offline rule stated on
screen (:mod:`.checkin` and the ``outbox.rule_*`` texts).
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from biometrics.config import OperatingPoint

from .checkin_guard import Guarded, record_guarded
from .checkins import (
    CheckInInput,
    NewIncident,
    Reason,
    RosterMatch,
)
from .crypto import DataKey, KeyStore, Sealed
from .errors import (
    DatabaseLoginRefused,
    DatabaseUnavailable,
    EvidenceUnreadable,
    ProctoringError,
)
from .evidence import EvidenceItem
from .face_population import point_in_force
from .local_outbox import LocalOutbox
from .models import (
    Candidate,
    Decision,
    EvidenceKind,
    ExamSession,
    IncidentKind,
    RosterEntry,
    Severity,
    Stage,
)
from .store import Store

KEY_NAME = "desk-outbox"
FILE_NAME = "desk-outbox.db"
CHECKIN_KIND = "DESK_CHECKIN"
ROSTER_KIND = "DESK_ROSTER"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS roster (
    session_id TEXT PRIMARY KEY,
    stamp TEXT NOT NULL,
    key_id TEXT NOT NULL, nonce BLOB NOT NULL, ciphertext BLOB NOT NULL
);
"""


class CentreOffline(DatabaseUnavailable):
    """The centre database is unreachable and this desk has no copy of the session's roster
    (it never saw the session while the centre answered)."""

    key = "outbox.no_roster"


@dataclass(frozen=True)
class Kept:
    """What became of one check-in: stored at the centre, or waiting in this desk's outbox."""

    checkin_id: uuid.UUID
    incident_ids: tuple[uuid.UUID, ...]
    waiting: int  # check-ins in the outbox after this one was kept (0: the centre has it)
    # As the centre recorded it, with what its re-check added (None: waiting in the outbox).
    guarded: Guarded | None = None

    @property
    def queued(self) -> bool:
        return self.waiting > 0


@dataclass(frozen=True)
class Delivery:
    delivered: int
    parked: int
    waiting: int
    reachable: bool  # False: stopped because the centre did not answer
    stored: dict[uuid.UUID, Guarded] = field(default_factory=dict)
    refused: dict[uuid.UUID, ProctoringError] = field(default_factory=dict)


# Records one check-in at the centre: (store, check-in, actor) → what was recorded.
Recorder = Callable[[Store, CheckInInput, str], Guarded]


def delivery_recorder(fallback: OperatingPoint) -> Recorder:
    """How a check-in kept here is recorded on delivery: under the session's lock, with the
    face rules run over every admission the centre holds — the desk decided it offline and saw
    none of the other desks'. The centre's calibration in force, else ``fallback`` (the
    desk's settings), sets the point."""
    def record(store: Store, item: CheckInInput, actor: str) -> Guarded:
        with store.read() as tx:
            session = tx.get(ExamSession, item.session_id)
        point = (fallback if session is None
                 else point_in_force(store, session.centre_id, fallback).point)
        return record_guarded(store, item, actor=actor, point=point, seen=())
    return record


def _bind(event: dict[str, Any]) -> tuple[uuid.UUID, str]:
    return uuid.UUID(event["checkin_id"]), CHECKIN_KIND


class DeskOutbox(LocalOutbox):
    def __init__(self, path: Path, key: DataKey, recorder: Recorder) -> None:
        super().__init__(path, key, _bind, _SCHEMA)
        self._recorder = recorder
        # One delivery at a time (the check-in's and the desk's background job): in order.
        self._delivering = threading.Lock()
        # The check-in under way found the centre away: later calls in it go straight to the
        # outbox rather than wait for another connection timeout (the service resets it).
        self.centre_away = False

    @classmethod
    def for_desk(cls, keys: KeyStore, folder: Path,
                 point: OperatingPoint | None = None) -> DeskOutbox:
        """The desk's outbox in ``folder`` (its data folder), sealed with the desk's own outbox
        key (made on first use, never replaced); ``point``: the desk's settings' operating point
        (see :func:`delivery_recorder`; None: the shipped one)."""
        return cls(folder / FILE_NAME, DataKey(keys.new_key(KEY_NAME)),
                   delivery_recorder(point or OperatingPoint()))

    # --- keeping and delivering ---------------------------------------------------------------

    def record(self, store: Store, item: CheckInInput, *, actor: str,
               recorder: Recorder | None = None) -> Kept:
        """Store the check-in at the centre, or keep it here when the centre does not answer.

        Returns once the check-in is durable in one of the two (that is its acknowledgement).
        A check-in the centre refuses (not for being unreachable) raises as before.
        ``recorder``: how to record it now, when nothing waits before it (the check-in's own,
        which knows what its face step saw); else the outbox's delivery."""
        away = self.centre_away
        if len(self) == 0 and not away:
            try:
                done = (recorder or self._recorder)(store, item, actor)
                return Kept(done.recorded.checkin.id, done.recorded.incident_ids, 0, done)
            except DatabaseUnavailable:
                away = True  # kept below; if it did commit after all, delivery finds it stored
        self.push(item, actor=actor)
        if away:
            return Kept(item.checkin_id, (), len(self))
        report = self.deliver(store)
        if item.checkin_id in report.refused:
            raise report.refused[item.checkin_id]
        stored = report.stored.get(item.checkin_id)
        if stored is not None:
            return Kept(item.checkin_id, stored.recorded.incident_ids, 0, stored)
        return Kept(item.checkin_id, (), report.waiting)

    def push(self, item: CheckInInput, *, actor: str) -> int:
        event = {"type": "checkin", "checkin_id": str(item.checkin_id),
                 "session_id": str(item.session_id),
                 "roster_entry_id": str(item.roster_entry_id) if item.roster_entry_id else None,
                 "stage": item.stage.value if item.stage else None,
                 "decision": Decision(item.decision).value,
                 "decided_at": item.decided_at.isoformat() if item.decided_at else None,
                 "desk": item.desk}
        payload = json.dumps({"actor": actor, "item": _dump_input(item)}).encode()
        return self._push(event, payload)

    def deliver(self, store: Store, *, batch: int = 50) -> Delivery:
        """Every waiting check-in, oldest first, until the outbox is empty or the centre stops
        answering."""
        with self._delivering:
            return self._deliver(store, batch)

    def _deliver(self, store: Store, batch: int) -> Delivery:
        delivered = parked = 0
        stored: dict[uuid.UUID, Guarded] = {}
        refused: dict[uuid.UUID, ProctoringError] = {}
        while True:
            entries = self._entries(batch)
            if not entries:
                return Delivery(delivered, parked, 0, True, stored, refused)
            for entry in entries:
                if entry.unreadable or entry.payload is None:
                    self.park(entry.seq, EvidenceUnreadable.key)  # kept aside, never dropped
                    parked += 1
                    continue
                checkin_id = uuid.UUID(entry.event["checkin_id"])
                kept = json.loads(entry.payload)
                try:
                    done = self._recorder(store, _load_input(kept["item"]), kept["actor"])
                except DatabaseUnavailable:
                    return Delivery(delivered, parked, len(self), False, stored, refused)
                except DatabaseLoginRefused:
                    # The desk's login, not this check-in: it stays waiting, nothing is parked.
                    raise
                except ProctoringError as exc:
                    self.park(entry.seq, exc.key)
                    refused[checkin_id] = exc
                    parked += 1
                    continue
                except sa.exc.DBAPIError as exc:
                    if exc.connection_invalidated:
                        return Delivery(delivered, parked, len(self), False, stored, refused)
                    raise
                self.done(entry.seq)
                stored[checkin_id] = done
                delivered += 1

    # --- offline reads ------------------------------------------------------------------------

    def remember(self, store: Store, session: ExamSession) -> None:
        """Keep a sealed copy of the session and its roster, refreshed when the roster changed
        (the centre's rows say so with a count and the newest change)."""
        with store.read() as tx:
            stamp_row = tx.connection().execute(
                sa.select(sa.func.count(), sa.func.max(RosterEntry.updated_at))
                .where(col(RosterEntry.session_id) == session.id)).one()
            stamp = f"{stamp_row[0]}|{stamp_row[1]}|{session.updated_at}|{session.status}"
            known = self._read("SELECT stamp FROM roster WHERE session_id = ?",
                               (str(session.id),))
            if known and known[0][0] == stamp:
                return
            rows = tx.exec(select(RosterEntry, Candidate)
                           .join(Candidate, col(Candidate.id) == col(RosterEntry.candidate_id))
                           .where(RosterEntry.session_id == session.id)).all()
            copy = {"session": session.model_dump(mode="json"),
                    "roster": [[e.model_dump(mode="json"), c.model_dump(mode="json")]
                               for e, c in rows]}
        sealed = self._key.seal(json.dumps(copy).encode(), row_id=session.id, kind=ROSTER_KIND)
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO roster (session_id, stamp, key_id, nonce, "
                       "ciphertext) VALUES (?, ?, ?, ?, ?)",
                       (str(session.id), stamp, sealed.key_id, sealed.nonce, sealed.ciphertext))

    def _copy(self, session_id: uuid.UUID) -> dict[str, Any]:
        rows = self._read("SELECT key_id, nonce, ciphertext FROM roster WHERE session_id = ?",
                          (str(session_id),))
        row = rows[0] if rows else None
        if row is None:
            raise CentreOffline("the centre database is unreachable and this desk has no copy "
                                "of the session's roster", session=str(session_id))
        text = self._key.open(Sealed(*row), row_id=session_id, kind=ROSTER_KIND)
        return dict(json.loads(text))

    def session(self, session_id: uuid.UUID) -> ExamSession:
        return ExamSession.model_validate(self._copy(session_id)["session"])

    def sessions(self) -> list[ExamSession]:
        """The sessions this desk has a copy of (what the command line finds by code offline)."""
        ids = [uuid.UUID(s) for (s,) in self._read("SELECT session_id FROM roster")]
        return [self.session(i) for i in ids]

    def copies(self) -> list[tuple[ExamSession, int]]:
        """Each session this desk has a copy of, with the size of its roster copy (the
        desk's session list while the centre is unreachable)."""
        ids = [uuid.UUID(s) for (s,) in self._read("SELECT session_id FROM roster")]
        out = []
        for i in ids:
            copy = self._copy(i)
            out.append((ExamSession.model_validate(copy["session"]), len(copy["roster"])))
        return out

    def find_session(self, ref: str) -> ExamSession:
        """A session this desk has a copy of, by id, code or the id's first characters (the
        command line's ``--session`` while the centre is unreachable)."""
        text = ref.strip().lower()
        found = [s for s in self.sessions()
                 if str(s.id) == text or s.code.lower() == text
                 or (len(text) >= 6 and str(s.id).startswith(text))]
        if len(found) != 1:
            raise CentreOffline("the centre database is unreachable and this desk has no copy "
                                f"of session {ref!r}", session=ref.strip())
        return found[0]

    def roster_lookup(self, session_id: uuid.UUID, id_number: str) -> RosterMatch | None:
        wanted = "".join(id_number.split())
        for entry, candidate in self._copy(session_id)["roster"]:
            if candidate["id_number"] == wanted:
                return RosterMatch(RosterEntry.model_validate(entry),
                                   Candidate.model_validate(candidate))
        return None

    def waiting_admission(self, roster_entry_id: uuid.UUID, stage: Stage | None
                          ) -> tuple[uuid.UUID, datetime, str | None] | None:
        """The first admission of this roster line (at this stage) still waiting here."""
        for e in self.events():
            if (e.get("roster_entry_id") == str(roster_entry_id) and e["decision"] == "ADMIT"
                    and e.get("stage") == (stage.value if stage else None)
                    and e.get("decided_at")):
                return (uuid.UUID(e["checkin_id"]), datetime.fromisoformat(e["decided_at"]),
                        e.get("desk"))
        return None


# --- the check-in, as kept ------------------------------------------------------------------


def _time(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def _untime(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _dump_evidence(e: EvidenceItem) -> dict[str, Any]:
    return {"kind": EvidenceKind(e.kind).value, "data": base64.b64encode(e.data).decode(),
            "media_type": e.media_type, "captured_at": _time(e.captured_at)}


def _load_evidence(d: dict[str, Any]) -> EvidenceItem:
    return EvidenceItem(EvidenceKind(d["kind"]), base64.b64decode(d["data"]), d["media_type"],
                        _untime(d["captured_at"]))


def _dump_input(item: CheckInInput) -> dict[str, Any]:
    from .audit import json_ready

    return {
        "session_id": str(item.session_id), "id_number": item.id_number,
        "decision": Decision(item.decision).value,
        "reasons": [{"key": r.key, "detail": r.detail, "context": json_ready(dict(r.context))}
                    for r in item.reasons],
        "consent": item.consent, "started_at": _time(item.started_at),
        "decided_at": _time(item.decided_at),
        "roster_entry_id": str(item.roster_entry_id) if item.roster_entry_id else None,
        "stage": item.stage.value if item.stage else None,
        "trust_verdict": item.trust_verdict, "trust_findings": list(item.trust_findings),
        "face_outcome": item.face_outcome, "face_distance": item.face_distance,
        "liveness": item.liveness,
        "operator_id": str(item.operator_id) if item.operator_id else None,
        "desk": item.desk, "evidence": [_dump_evidence(e) for e in item.evidence],
        "incidents": [{
            "kind": IncidentKind(i.kind).value, "severity": Severity(i.severity).value,
            "message_key": i.message_key, "details": json_ready(dict(i.details)),
            "related_checkins": [str(c) for c in i.related_checkins],
            "evidence": [_dump_evidence(e) for e in i.evidence],
            "started_at": _time(i.started_at), "ended_at": _time(i.ended_at),
            "roster_entry_id": str(i.roster_entry_id) if i.roster_entry_id else None,
        } for i in item.incidents],
        "checkin_id": str(item.checkin_id),
    }


def _uuid(text: str | None) -> uuid.UUID | None:
    return uuid.UUID(text) if text else None


def _load_input(d: dict[str, Any]) -> CheckInInput:
    started = _untime(d["started_at"])
    assert started is not None
    return CheckInInput(
        session_id=uuid.UUID(d["session_id"]), id_number=d["id_number"],
        decision=Decision(d["decision"]),
        reasons=tuple(Reason(r["key"], r["detail"], r["context"]) for r in d["reasons"]),
        consent=bool(d["consent"]), started_at=started, decided_at=_untime(d["decided_at"]),
        roster_entry_id=_uuid(d["roster_entry_id"]),
        stage=Stage(d["stage"]) if d["stage"] else None, trust_verdict=d["trust_verdict"],
        trust_findings=tuple(d["trust_findings"]), face_outcome=d["face_outcome"],
        face_distance=d["face_distance"], liveness=d["liveness"],
        operator_id=_uuid(d["operator_id"]), desk=d["desk"],
        evidence=tuple(_load_evidence(e) for e in d["evidence"]),
        incidents=tuple(NewIncident(
            IncidentKind(i["kind"]), Severity(i["severity"]), i["message_key"], i["details"],
            tuple(uuid.UUID(c) for c in i["related_checkins"]),
            tuple(_load_evidence(e) for e in i["evidence"]), _untime(i["started_at"]),
            _untime(i["ended_at"]), _uuid(i["roster_entry_id"])) for i in d["incidents"]),
        checkin_id=uuid.UUID(d["checkin_id"]))
