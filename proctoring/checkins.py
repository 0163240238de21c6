"""Storing check-ins, overrides and incidents; the reads the workflow, GUI and reports need.

The check-in *decision* is made elsewhere (the workflow issue). This module guarantees how it is
kept: a check-in row, its sealed evidence, any incidents it raises and its audit events are ONE
transaction, so a crash leaves either all of it or none of it.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from reader.errors import InvalidKeyInput
from reader.keys import validate_id_number

from .attendance import CandidateAttendance, attendance_of
from .audit import json_ready
from .audit_rows import row_bindings
from .errors import (
    ConsentRequired,
    InvalidInput,
    NotFound,
    OverrideNeedsReason,
    SessionNotFound,
)
from .evidence import EvidenceItem, add_evidence_all, open_blob
from .models import (
    AuditEvent,
    Candidate,
    CheckIn,
    Decision,
    Evidence,
    EvidenceBlob,
    EvidenceKind,
    ExamSession,
    Incident,
    IncidentCheckIn,
    IncidentKind,
    IncidentStatus,
    RosterEntry,
    RosterStatus,
    SessionKind,
    Severity,
    Stage,
)
from .override_rules import OverrideAuthority, admits_forged_card, check_override
from .sessions import require_open
from .station_models import StationAuditEvent
from .store import Store

EMBEDDING_DIM = 128


@dataclass(frozen=True)
class Reason:
    """Why a decision is what it is: a message key with its detail and context."""

    key: str
    detail: str = ""
    context: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return json_ready({"key": self.key, "detail": self.detail,
                           "context": {k: str(v) for k, v in self.context.items()}})


@dataclass(frozen=True)
class NewIncident:
    """An incident to open. ``related_checkins``: other check-ins it is about (for a proxy, the
    earlier admission of the same face); the check-in being recorded is linked anyway."""

    kind: IncidentKind
    severity: Severity
    message_key: str
    details: Mapping[str, Any] = field(default_factory=dict)
    related_checkins: Sequence[uuid.UUID] = ()
    evidence: Sequence[EvidenceItem] = ()
    started_at: datetime | None = None
    ended_at: datetime | None = None
    roster_entry_id: uuid.UUID | None = None


@dataclass(frozen=True)
class CheckInInput:
    """Everything the workflow decided about one card at one station."""

    session_id: uuid.UUID
    id_number: str  # from the chip
    decision: Decision
    reasons: Sequence[Reason]
    consent: bool
    started_at: datetime
    decided_at: datetime | None = None
    roster_entry_id: uuid.UUID | None = None  # None: not on the roster
    stage: Stage | None = None  # required for a driving test
    trust_verdict: str | None = None
    trust_findings: Sequence[str] = ()
    face_outcome: str | None = None
    face_distance: float | None = None
    liveness: str | None = None
    operator_id: uuid.UUID | None = None
    desk: str | None = None  # the station's name for itself ("Cửa 1")
    evidence: Sequence[EvidenceItem] = ()
    incidents: Sequence[NewIncident] = ()
    # Chosen by the caller so a retry after an unknown outcome (timeout, crash) is idempotent.
    checkin_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class RecordedCheckIn:
    checkin: CheckIn
    evidence_ids: tuple[uuid.UUID, ...]
    incident_ids: tuple[uuid.UUID, ...]


def _checkin_payload(c: CheckIn, evidence: Sequence[Evidence]) -> dict[str, Any]:
    return {"session_id": c.session_id, "roster_entry_id": c.roster_entry_id,
            "stage": c.stage, "decision": c.decision, "reasons": [r["key"] for r in c.reasons],
            "trust_verdict": c.trust_verdict, "face_outcome": c.face_outcome,
            "face_distance": c.face_distance, "liveness": c.liveness, "consent": c.consent,
            "operator_id": c.operator_id,
            "evidence": sorted([[str(e.id), EvidenceKind(e.kind).value] for e in evidence])}


Amend = Callable[[Session, "CheckInInput"], "CheckInInput"]


def record_checkin(store: Store, item: CheckInInput, *, actor: str,
                   amend: Amend | None = None) -> RecordedCheckIn:
    """Store one check-in with its evidence, incidents and audit events, in one transaction.

    Recording the same ``checkin_id`` again returns the stored one and writes nothing.
    ``amend``: called first inside the write transaction, it may lock rows and return the
    check-in changed by what other desks committed meanwhile (:mod:`.checkin_guard`).
    """
    try:
        id_number = validate_id_number(item.id_number)
    except InvalidKeyInput as exc:
        raise InvalidInput(exc.detail, field="id_number") from None
    if item.evidence and not item.consent:
        raise ConsentRequired("biometric evidence without the candidate's consent")
    decided = item.decided_at or store.now()
    with store.write() as tx:
        if amend is not None:
            item = amend(tx, item)
        existing = tx.get(CheckIn, item.checkin_id)
        if existing is not None:
            return _recorded(tx, existing)
        session = _session(tx, item.session_id)
        require_open(session)
        stage = _check_stage(session, item.stage)
        if item.roster_entry_id is not None:
            entry = tx.get(RosterEntry, item.roster_entry_id)
            if entry is None or entry.session_id != session.id:
                raise InvalidInput("the roster entry is not in this session",
                                   field="roster_entry_id")
            holder = tx.get(Candidate, entry.candidate_id)
            if holder is None or holder.id_number != id_number:
                raise InvalidInput("the roster entry belongs to another ID number",
                                   field="roster_entry_id")
        checkin = CheckIn(
            id=item.checkin_id, centre_id=session.centre_id, session_id=session.id,
            roster_entry_id=item.roster_entry_id, id_number=id_number, stage=stage,
            decision=Decision(item.decision), machine_decision=Decision(item.decision),
            reasons=[r.to_dict() for r in item.reasons], trust_verdict=item.trust_verdict,
            trust_findings=list(item.trust_findings), face_outcome=item.face_outcome,
            face_distance=item.face_distance, liveness=item.liveness, consent=item.consent,
            operator_id=item.operator_id, started_at=item.started_at, decided_at=decided)
        tx.add(checkin)
        tx.flush()
        evidence = add_evidence_all(tx, store, item.evidence, centre_id=session.centre_id,
                                    session_id=session.id, checkin_id=checkin.id)
        store.audit.append(tx, centre_id=session.centre_id, actor=actor,
                           action="checkin.recorded", subject_id=checkin.id,
                           payload={**_checkin_payload(checkin, evidence),
                                    # Where it was made: the roster's "at desk Cửa 1".
                                    **({"desk": desk} if (desk := _desk(item.desk)) else {}),
                                    "rows": row_bindings(tx, checkins=[checkin.id])},
                           at=store.now())
        incidents = [_open_incident(tx, store, session, new, actor=actor,
                                    reporter=item.operator_id, checkins=[checkin.id])
                     for new in item.incidents]
        return RecordedCheckIn(checkin, tuple(e.id for e in evidence),
                               tuple(i.id for i in incidents))


def _desk(name: str | None) -> str | None:
    """A desk's name as stored: NFC, single spaces, at most the column's 100 characters."""
    text = " ".join(unicodedata.normalize("NFC", name or "").split())
    return text[:100] or None


def _recorded(tx: Session, c: CheckIn) -> RecordedCheckIn:
    ev = tx.exec(select(Evidence.id).where(Evidence.checkin_id == c.id)).all()
    inc = tx.exec(select(IncidentCheckIn.incident_id)
                  .where(IncidentCheckIn.checkin_id == c.id)).all()
    return RecordedCheckIn(c, tuple(ev), tuple(inc))


def _session(tx: Session, session_id: uuid.UUID) -> ExamSession:
    session = tx.get(ExamSession, session_id)
    if session is None:
        raise SessionNotFound(f"no session {session_id}", ref=str(session_id))
    return session


def _check_stage(session: ExamSession, stage: Stage | None) -> Stage | None:
    if session.kind is SessionKind.ONLINE_EXAM:
        if stage is not None:
            raise InvalidInput("an online exam has no stages", field="stage")
        return None
    if stage is None or Stage(stage) not in session.stage_list:
        raise InvalidInput(f"stage {stage!r} is not one of this driving test's "
                           f"({session.stages})", field="stage")
    return Stage(stage)


def _open_incident(tx: Session, store: Store, session: ExamSession, new: NewIncident, *,
                   actor: str, reporter: uuid.UUID | None,
                   checkins: Sequence[uuid.UUID]) -> Incident:
    now = store.now()
    incident = Incident(centre_id=session.centre_id, session_id=session.id,
                        roster_entry_id=new.roster_entry_id, kind=IncidentKind(new.kind),
                        severity=Severity(new.severity), message_key=new.message_key,
                        details=json_ready(dict(new.details)), started_at=new.started_at or now,
                        ended_at=new.ended_at, reported_by_id=reporter)
    tx.add(incident)
    tx.flush()
    linked = list(dict.fromkeys([*checkins, *new.related_checkins]))
    for checkin_id in linked:
        tx.add(IncidentCheckIn(centre_id=session.centre_id, incident_id=incident.id,
                               checkin_id=checkin_id))
    evidence = add_evidence_all(tx, store, new.evidence, centre_id=session.centre_id,
                                session_id=session.id, incident_id=incident.id)
    tx.flush()
    store.audit.append(tx, centre_id=session.centre_id, actor=actor, action="incident.opened",
                       subject_id=incident.id,
                       payload={"session_id": session.id, "kind": incident.kind,
                                "severity": incident.severity, "message_key": new.message_key,
                                "checkins": linked, "evidence": [e.id for e in evidence],
                                "started_at": incident.started_at,
                                "ended_at": incident.ended_at,
                                "rows": row_bindings(tx, incidents=[incident.id])},
                       at=now)
    return incident


def record_incident(store: Store, session_id: uuid.UUID, new: NewIncident, *, actor: str,
                    reporter: uuid.UUID | None = None) -> Incident:
    """An incident on its own (the online-exam monitor: face absent, several faces, …)."""
    if new.evidence and not new.related_checkins and new.roster_entry_id is None:
        # Evidence of whom? Frames need a candidate whose consent was recorded.
        raise ConsentRequired("incident evidence must belong to a checked-in candidate")
    with store.write() as tx:
        session = _session(tx, session_id)
        _require_consent(tx, new)
        return _open_incident(tx, store, session, new, actor=actor, reporter=reporter,
                              checkins=[])


def _require_consent(tx: Session, new: NewIncident) -> None:
    if not new.evidence:
        return
    if new.related_checkins:
        consented = tx.exec(select(CheckIn.id).where(col(CheckIn.id).in_(new.related_checkins))
                            .where(col(CheckIn.consent).is_(True))).all()
        if consented:
            return
    elif new.roster_entry_id is not None:
        if tx.exec(select(CheckIn.id).where(CheckIn.roster_entry_id == new.roster_entry_id)
                   .where(col(CheckIn.consent).is_(True))).first() is not None:
            return
    raise ConsentRequired("no check-in with consent for this candidate")


def record_override(store: Store, checkin_id: uuid.UUID, *, decision: Decision, reason: str,
                    operator_id: uuid.UUID | None, actor: str,
                    severity: Severity = Severity.MEDIUM,
                    authority: OverrideAuthority | None = None) -> Incident:
    """An invigilator changes a decision. Only with a written reason; the override is itself an
    incident for the education office, linked to the check-in, in the same transaction.
    Admitting on a FORGED card also needs the centre admin's role and a second confirmation
    (``authority``; override_rules.py)."""
    text = unicodedata.normalize("NFC", reason or "").strip()
    if not text:
        raise OverrideNeedsReason("an override needs a written reason")
    decision = Decision(decision)
    with store.write() as tx:
        checkin = tx.get(CheckIn, checkin_id)
        if checkin is None:
            raise NotFound(f"no check-in {checkin_id}", what="checkin", ref=str(checkin_id))
        session = _session(tx, checkin.session_id)
        require_open(session)
        if checkin.decision is decision:
            raise InvalidInput(f"the decision already is {decision}", field="decision")
        authority = authority or OverrideAuthority()
        severity = check_override(checkin, decision, authority, severity)
        forged = admits_forged_card(checkin, decision)
        before = checkin.decision
        now = store.now()
        checkin.decision = decision
        checkin.overridden_at, checkin.overridden_by_id = now, operator_id
        checkin.override_reason = text
        tx.add(checkin)
        tx.flush()
        store.audit.append(tx, centre_id=checkin.centre_id, actor=actor,
                           action="checkin.overridden", subject_id=checkin.id,
                           payload={"from": before, "to": decision,
                                    "operator_id": operator_id,
                                    **({"forged_card": True, "role": authority.role,
                                        "confirmed": True} if forged else {}),
                                    "reason_sha256": hashlib.sha256(text.encode()).hexdigest(),
                                    "rows": row_bindings(tx, checkins=[checkin.id])},
                           at=now)
        return _open_incident(
            tx, store, session,
            NewIncident(IncidentKind.OVERRIDE, severity, "incident.override",
                        {"from": before.value, "to": decision.value, "reason": text,
                         **({"forged_card": True} if forged else {})},
                        roster_entry_id=checkin.roster_entry_id),
            actor=actor, reporter=operator_id, checkins=[checkin.id])


def review_incident(store: Store, incident_id: uuid.UUID, *, status: IncidentStatus,
                    notes: str, reviewer_id: uuid.UUID | None, actor: str) -> Incident:
    """The education office confirms or dismisses (or reopens) an incident, with notes."""
    with store.write() as tx:
        incident = tx.get(Incident, incident_id)
        if incident is None:
            raise NotFound(f"no incident {incident_id}", what="incident", ref=str(incident_id))
        now = store.now()
        before = incident.status
        incident.status = IncidentStatus(status)
        incident.reviewer_notes = unicodedata.normalize("NFC", notes).strip() or None
        incident.reviewed_by_id, incident.reviewed_at = reviewer_id, now
        tx.add(incident)
        tx.flush()
        store.audit.append(tx, centre_id=incident.centre_id, actor=actor,
                           action="incident.reviewed", subject_id=incident.id,
                           payload={"from": before, "to": incident.status,
                                    "reviewer_id": reviewer_id,
                                    "rows": row_bindings(tx, incidents=[incident.id])}, at=now)
        return incident


# --- reads ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterMatch:
    entry: RosterEntry
    candidate: Candidate


def roster_lookup(store: Store, session_id: uuid.UUID, id_number: str) -> RosterMatch | None:
    """The roster entry for the chip's 12-digit ID, or None (not on this session's roster)."""
    with store.read() as tx:
        return roster_lookup_in(tx, session_id, id_number)


def roster_lookup_in(tx: Session, session_id: uuid.UUID, id_number: str) -> RosterMatch | None:
    """:func:`roster_lookup` inside the caller's transaction (a check-in reads the roster, the
    earlier admission and the operating point in one: one round trip fewer each, per desk)."""
    row = tx.exec(select(RosterEntry, Candidate)
                  .join(Candidate, col(Candidate.id) == col(RosterEntry.candidate_id))
                  .where(RosterEntry.session_id == session_id)
                  .where(Candidate.id_number == "".join(id_number.split()))).first()
    return None if row is None else RosterMatch(*row)


@dataclass(frozen=True)
class FaceSet:
    """Embeddings of admitted faces, one row per embedding, with who each row belongs to."""

    embeddings: np.ndarray  # float32 (n, 128), C-contiguous
    checkin_ids: tuple[uuid.UUID, ...]
    roster_entry_ids: tuple[uuid.UUID | None, ...]

    def __len__(self) -> int:
        return len(self.checkin_ids)


def admitted_faces(store: Store, session_id: uuid.UUID, *, stage: Stage | None = None,
                   roster_entry_id: uuid.UUID | None = None,
                   kind: EvidenceKind = EvidenceKind.LIVE_EMBEDDING) -> FaceSet:
    """Decrypted (in memory only) embeddings of the check-ins whose decision in force is ADMIT:
    the duplicate-face check's gallery, or one candidate's earlier stages."""
    with store.read() as tx:
        return admitted_faces_in(tx, store, session_id, stage=stage,
                                 roster_entry_id=roster_entry_id, kind=kind)


def admitted_faces_in(tx: Session, store: Store, session_id: uuid.UUID, *,
                      stage: Stage | None = None, roster_entry_id: uuid.UUID | None = None,
                      kind: EvidenceKind = EvidenceKind.LIVE_EMBEDDING,
                      only: Collection[uuid.UUID] | None = None) -> FaceSet:
    """:func:`admitted_faces` inside the caller's transaction (a write that holds a lock);
    ``only``: of these check-ins alone (None: all)."""
    query = (select(CheckIn, Evidence, EvidenceBlob)
             .join(Evidence, col(Evidence.checkin_id) == col(CheckIn.id))
             .join(EvidenceBlob, col(EvidenceBlob.id) == col(Evidence.id))
             .where(CheckIn.session_id == session_id)
             .where(CheckIn.decision == Decision.ADMIT)
             .where(Evidence.kind == kind)
             .order_by(col(CheckIn.decided_at), col(Evidence.id)))
    if stage is not None:
        query = query.where(CheckIn.stage == stage)
    if roster_entry_id is not None:
        query = query.where(CheckIn.roster_entry_id == roster_entry_id)
    if only is not None:
        query = query.where(col(CheckIn.id).in_(list(only)))
    blocks: list[np.ndarray] = []
    checkins: list[uuid.UUID] = []
    entries: list[uuid.UUID | None] = []
    for checkin, ev, blob in tx.exec(query).all():
        matrix = np.frombuffer(open_blob(store, ev, blob), dtype="<f4")
        matrix = matrix.reshape(-1, EMBEDDING_DIM)
        blocks.append(matrix)
        checkins += [checkin.id] * len(matrix)
        entries += [checkin.roster_entry_id] * len(matrix)
    embeddings = (np.ascontiguousarray(np.vstack(blocks), dtype=np.float32) if blocks
                  else np.zeros((0, EMBEDDING_DIM), dtype=np.float32))
    return FaceSet(embeddings, tuple(checkins), tuple(entries))


def embedding_item(embeddings: np.ndarray, kind: EvidenceKind = EvidenceKind.LIVE_EMBEDDING,
                   captured_at: datetime | None = None) -> EvidenceItem:
    """Evidence from float32 (n, 128) or (128,) embeddings, stored little-endian."""
    matrix = np.asarray(embeddings, dtype="<f4").reshape(-1, EMBEDDING_DIM)
    return EvidenceItem(kind, np.ascontiguousarray(matrix).tobytes(), "application/x-float32",
                        captured_at)


def attempt_dict(c: CheckIn, desk: str | None) -> dict[str, Any]:
    """One attempt of a candidate's history, as the JSON outputs show it."""
    return {"checkin_id": str(c.id), "decided_at": c.decided_at.isoformat(),
            "decision": Decision(c.decision).value, "desk": desk,
            "trust_verdict": c.trust_verdict, "face_outcome": c.face_outcome,
            "overridden": c.overridden_at is not None}


@dataclass(frozen=True)
class AttendanceRow:
    entry: RosterEntry
    candidate: Candidate
    status: RosterStatus
    checkin: CheckIn | None  # the one the state stands on (the first admission, if admitted)
    portrait_id: uuid.UUID | None  # chip portrait evidence (None: none, or purged)
    frame_id: uuid.UUID | None  # first live frame of that check-in
    history: CandidateAttendance = field(
        default_factory=lambda: CandidateAttendance(RosterStatus.ABSENT, None, ()))

    @property
    def later(self) -> tuple[CheckIn, ...]:
        """Attempts after the admission: listed on every roster, never in force."""
        return self.history.later

    def to_dict(self) -> dict[str, Any]:
        c = self.candidate
        return {"position": self.entry.position,
                "registration_number": self.entry.registration_number,
                "seat": self.entry.seat, "vehicle": self.entry.vehicle,
                "id_number": c.id_number, "full_name": c.full_name,
                "date_of_birth": c.date_of_birth.isoformat(), "sex": c.sex,
                "status": self.status.value,
                "checkin_id": str(self.checkin.id) if self.checkin else None,
                "decided_at": self.checkin.decided_at.isoformat() if self.checkin else None,
                "desk": self.history.desk(self.checkin),
                "overridden": self.history.overridden,
                "attempts": [attempt_dict(a, self.history.desk(a))
                             for a in self.history.attempts],
                "later_attempts": [attempt_dict(a, self.history.desk(a)) for a in self.later],
                "portrait_id": str(self.portrait_id) if self.portrait_id else None,
                "frame_id": str(self.frame_id) if self.frame_id else None}


@dataclass(frozen=True)
class Totals:
    admitted: int
    rejected: int
    review: int
    absent: int
    not_on_roster: int  # refused cards whose holder is on no roster line

    @property
    def rostered(self) -> int:
        return self.admitted + self.rejected + self.review + self.absent

    def to_dict(self) -> dict[str, int]:
        return {"admitted": self.admitted, "rejected": self.rejected, "review": self.review,
                "absent": self.absent, "rostered": self.rostered,
                "not_on_roster": self.not_on_roster}


@dataclass(frozen=True)
class Attendance:
    rows: tuple[AttendanceRow, ...]
    totals: Totals


def attendance(store: Store, session_id: uuid.UUID, *, stage: Stage | None = None) -> Attendance:
    """The roster in print order with each candidate's attendance state (at ``stage`` for a
    driving test) as :func:`~.attendance.attendance_of` computes it from their check-ins, the
    evidence ids the signed roster PDF shows, and totals for its footer."""
    with store.read() as tx:
        entries = tx.exec(select(RosterEntry, Candidate)
                          .join(Candidate, col(Candidate.id) == col(RosterEntry.candidate_id))
                          .where(RosterEntry.session_id == session_id)
                          .order_by(col(RosterEntry.position))).all()
        query = select(CheckIn).where(CheckIn.session_id == session_id)
        if stage is not None:
            query = query.where(CheckIn.stage == stage)
        per_entry: dict[uuid.UUID, list[CheckIn]] = {}
        strangers = 0
        for c in tx.exec(query).all():
            if c.roster_entry_id is None:
                strangers += 1
            else:
                per_entry.setdefault(c.roster_entry_id, []).append(c)
        desks = desks_of(tx, [c.id for v in per_entry.values() for c in v])
        states = {k: attendance_of(v, desks) for k, v in per_entry.items()}
        wanted = [a.deciding.id for a in states.values() if a.deciding is not None]
        pictures: dict[tuple[uuid.UUID, EvidenceKind], uuid.UUID] = {}
        if wanted:
            for ev in tx.exec(select(Evidence).where(col(Evidence.checkin_id).in_(wanted))
                              .where(col(Evidence.purged_at).is_(None))
                              .order_by(col(Evidence.captured_at))).all():
                assert ev.checkin_id is not None
                pictures.setdefault((ev.checkin_id, EvidenceKind(ev.kind)), ev.id)
    rows = []
    for entry, candidate in entries:
        state = states.get(entry.id) or attendance_of(())
        shown = state.deciding
        rows.append(AttendanceRow(
            entry, candidate, state.state, shown,
            pictures.get((shown.id, EvidenceKind.CHIP_PORTRAIT)) if shown else None,
            pictures.get((shown.id, EvidenceKind.LIVE_FRAME)) if shown else None, state))
    count = {s: sum(1 for r in rows if r.status is s) for s in RosterStatus}
    totals = Totals(count[RosterStatus.ADMIT], count[RosterStatus.REJECT],
                    count[RosterStatus.REVIEW], count[RosterStatus.ABSENT], strangers)
    return Attendance(tuple(rows), totals)


def candidate_attendance(store: Store, session_id: uuid.UUID, roster_entry_id: uuid.UUID,
                         stage: Stage | None = None) -> CandidateAttendance:
    """One roster line's state (at ``stage``): what the desk and ``checkin`` say "already
    admitted at 07:42 at desk Cửa 1" from. The same rule as the roster's."""
    with store.read() as tx:
        return candidate_attendance_in(tx, session_id, roster_entry_id, stage)


def candidate_attendance_in(tx: Session, session_id: uuid.UUID, roster_entry_id: uuid.UUID,
                            stage: Stage | None = None) -> CandidateAttendance:
    """:func:`candidate_attendance` inside the caller's transaction."""
    query = (select(CheckIn).where(CheckIn.session_id == session_id)
             .where(CheckIn.roster_entry_id == roster_entry_id))
    if stage is not None:
        query = query.where(CheckIn.stage == stage)
    found = list(tx.exec(query).all())
    return attendance_of(found, desks_of(tx, [c.id for c in found]))


def desks_of(tx: Session, checkin_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Where each check-in was made, from its ``checkin.recorded`` audit event (hashed and
    signed with it; events written before desks were named have none) — on the centre's chain
    or, for an enrolled station's check-in, on that station's own chain (issue 17)."""
    out: dict[uuid.UUID, str] = {}
    ids = list(dict.fromkeys(checkin_ids))
    rows: list[tuple[uuid.UUID, str]] = []
    for i in range(0, len(ids), 500):
        for table in (AuditEvent, StationAuditEvent):
            rows += tx.exec(select(table.subject_id, table.payload)
                            .where(table.action == "checkin.recorded")
                            .where(col(table.subject_id).in_(ids[i:i + 500]))
                            .where(col(table.payload).contains('"desk":'))).all()
    for subject, payload in rows:
        try:
            desk = json.loads(payload).get("desk")
        except (ValueError, AttributeError):
            continue
        if isinstance(desk, str) and desk:
            out[subject] = desk
    return out


def incidents(store: Store, *, session_id: uuid.UUID | None = None,
              status: IncidentStatus | None = None) -> list[tuple[Incident, list[uuid.UUID]]]:
    """Incidents (newest first) with the check-ins each is linked to: the fraud review's list."""
    query = select(Incident).order_by(col(Incident.started_at).desc())
    if session_id is not None:
        query = query.where(Incident.session_id == session_id)
    if status is not None:
        query = query.where(Incident.status == status)
    with store.read() as tx:
        found = list(tx.exec(query).all())
        links: dict[uuid.UUID, list[uuid.UUID]] = {i.id: [] for i in found}
        if found:
            for link in tx.exec(select(IncidentCheckIn)
                                .where(col(IncidentCheckIn.incident_id).in_(list(links)))):
                links[link.incident_id].append(link.checkin_id)
        return [(i, links[i.id]) for i in found]
