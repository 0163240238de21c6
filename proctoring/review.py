"""The education office's review of incidents across the district (no GUI here).

- :func:`list_incidents`: every centre's incidents and the office's proxy incidents, filtered
  by centre, session, kind, status and period. A centre filter also finds incidents that only
  *link* one of its check-ins (a cross-centre proxy the office opened);
- :func:`incident_file`: one incident with each linked check-in's chip portrait and live frame
  side by side, decrypted in memory with the centre's key (see :mod:`.keywrap`);
- :func:`decide`: confirm, dismiss (or reopen) with written notes. One district transaction
  updates the incident, appends the decision to the office's audit chain, for a centre's
  incident leaves a :class:`~.district_models.ReviewNotice` the centre's next sync applies, and
  releases evidence that centres purged on retention but this open case still held.

The district-wide fraud report is ``reports.incidents.collect_fraud`` on ``office.store``
(``examdesk review report``): that store's data key opens every centre's evidence.
"""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import String, func, or_
from sqlmodel import Session, col, select

from .audit_rows import row_bindings
from .district import Office
from .district_models import ReviewNotice
from .errors import AmbiguousReference, EvidenceUnreadable, NotFound
from .evidence import open_blob
from .models import (
    Candidate,
    Centre,
    CheckIn,
    Evidence,
    EvidenceBlob,
    EvidenceKind,
    ExamSession,
    Incident,
    IncidentCheckIn,
    IncidentKind,
    IncidentStatus,
    RosterEntry,
)
from .sync_errors import ReviewNeedsNotes

_CHUNK = 500


@dataclass(frozen=True)
class IncidentQuery:
    centre: str | None = None  # centre code
    session: str | None = None  # session code or id
    kind: IncidentKind | None = None
    status: IncidentStatus | None = None
    since: datetime | None = None  # started at or after
    until: datetime | None = None  # started before
    limit: int | None = None


@dataclass(frozen=True)
class IncidentRow:
    incident: Incident
    owner: str  # the owning centre's code (the office's own code for its proxy incidents)
    centres: tuple[str, ...]  # every centre involved: the owner's and the linked check-ins'
    session_code: str
    checkin_ids: tuple[uuid.UUID, ...]

    def to_dict(self) -> dict[str, Any]:
        i = self.incident
        return {"id": str(i.id), "kind": i.kind.value, "severity": i.severity.value,
                "status": i.status.value, "owner": self.owner, "centres": list(self.centres),
                "session": self.session_code, "session_id": str(i.session_id),
                "message_key": i.message_key, "details": i.details,
                "started_at": i.started_at.isoformat(),
                "reviewed_at": i.reviewed_at.isoformat() if i.reviewed_at else None,
                "reviewer_notes": i.reviewer_notes,
                "checkins": [str(c) for c in self.checkin_ids]}


def list_incidents(office: Office, query: IncidentQuery = IncidentQuery()) -> list[IncidentRow]:
    """Newest first."""
    q = select(Incident).order_by(col(Incident.started_at).desc(), col(Incident.id))
    if query.kind is not None:
        q = q.where(Incident.kind == IncidentKind(query.kind))
    if query.status is not None:
        q = q.where(Incident.status == IncidentStatus(query.status))
    if query.since is not None:
        q = q.where(col(Incident.started_at) >= query.since)
    if query.until is not None:
        q = q.where(col(Incident.started_at) < query.until)
    with office.store.read() as tx:
        centre_id = _centre_id(tx, query.centre) if query.centre else None
        if centre_id is not None:
            q = q.where(or_(col(Incident.centre_id) == centre_id,
                            col(Incident.id).in_(_linked(col(CheckIn.centre_id) == centre_id))))
        if query.session:
            sessions = _session_ids(tx, query.session, centre_id)
            q = q.where(or_(col(Incident.session_id).in_(sessions),
                            col(Incident.id).in_(_linked(col(CheckIn.session_id).in_(sessions)))))
        if query.limit is not None:
            q = q.limit(query.limit)
        return _rows(tx, list(tx.exec(q).all()), _centre_codes(tx))


def _linked(where: Any) -> sa.Select[Any]:
    """The ids of incidents that link a check-in matching ``where``."""
    return (sa.select(IncidentCheckIn.__table__.c.incident_id)  # type: ignore[attr-defined]
            .join(CheckIn, col(CheckIn.id) == col(IncidentCheckIn.checkin_id)).where(where))


def _centre_codes(tx: Session) -> dict[uuid.UUID, str]:
    return {c.id: c.code for c in tx.exec(select(Centre)).all()}


def _rows(tx: Session, incidents: list[Incident],
          codes: dict[uuid.UUID, str]) -> list[IncidentRow]:
    links: dict[uuid.UUID, list[tuple[uuid.UUID, uuid.UUID]]] = {i.id: [] for i in incidents}
    ids = list(links)
    for start in range(0, len(ids), _CHUNK):
        for incident_id, checkin_id, centre_id in tx.exec(
                select(IncidentCheckIn.incident_id, IncidentCheckIn.checkin_id, CheckIn.centre_id)
                .join(CheckIn, col(CheckIn.id) == col(IncidentCheckIn.checkin_id))
                .where(col(IncidentCheckIn.incident_id).in_(ids[start:start + _CHUNK]))):
            links[incident_id].append((checkin_id, centre_id))
    session_ids = list({i.session_id for i in incidents})
    session_codes: dict[uuid.UUID, str] = {}
    for start in range(0, len(session_ids), _CHUNK):
        for sid, code in tx.exec(select(ExamSession.id, ExamSession.code).where(
                col(ExamSession.id).in_(session_ids[start:start + _CHUNK]))):
            session_codes[sid] = code
    out = []
    for i in incidents:
        involved = [i.centre_id, *(centre for _, centre in links[i.id])]
        centres = tuple(dict.fromkeys(codes.get(c, str(c)) for c in involved))
        out.append(IncidentRow(i, codes.get(i.centre_id, str(i.centre_id)), centres,
                               session_codes.get(i.session_id, str(i.session_id)),
                               tuple(c for c, _ in links[i.id])))
    return out


def _centre_id(tx: Session, code: str) -> uuid.UUID:
    found = tx.exec(select(Centre.id).where(Centre.code == code.strip())).first()
    if found is None:
        raise NotFound(f"no centre {code!r} in the district", what="centre", ref=code)
    return found


def _session_ids(tx: Session, ref: str, centre_id: uuid.UUID | None) -> list[uuid.UUID]:
    """Session codes are unique per centre only: a code may name one session per centre."""
    q = select(ExamSession.id)
    if centre_id is not None:
        q = q.where(ExamSession.centre_id == centre_id)
    try:
        by_id = list(tx.exec(q.where(ExamSession.id == uuid.UUID(ref.strip()))).all())
    except ValueError:
        by_id = []
    found = by_id or list(tx.exec(q.where(ExamSession.code == ref.strip())).all())
    if not found:
        raise NotFound(f"no session {ref!r} in the district", what="session", ref=ref)
    return found


def find_incident(tx: Session, ref: str) -> Incident:
    """By id or the id's first characters (at least 4)."""
    ref = ref.strip()
    try:
        exact = tx.get(Incident, uuid.UUID(ref))
        if exact is not None:
            return exact
    except ValueError:
        pass
    hexref = ref.replace("-", "").lower()
    matches: list[Incident] = []
    if len(hexref) >= 4 and all(c in "0123456789abcdef" for c in hexref):
        text = func.replace(func.lower(func.cast(col(Incident.id), String())), "-", "")
        matches = list(tx.exec(select(Incident).where(text.startswith(hexref)).limit(2)).all())
    if not matches:
        raise NotFound(f"no incident {ref!r}", what="incident", ref=ref)
    if len(matches) > 1:
        raise AmbiguousReference(f"several incidents match {ref!r}", ref=ref)
    return matches[0]


# --- evidence side by side -----------------------------------------------------------------------


@dataclass(frozen=True)
class Picture:
    evidence_id: uuid.UUID
    kind: str
    media_type: str
    # "ok"; "held" (purged at the centre, kept while an open incident needs it); "purged"
    # (retention); "unreadable" (no key, or altered); "missing"
    state: str
    data: bytes | None  # plaintext, in memory only

    def to_dict(self) -> dict[str, Any]:
        return {"evidence_id": str(self.evidence_id), "kind": self.kind,
                "media_type": self.media_type, "state": self.state,
                "size": len(self.data) if self.data is not None else None}


@dataclass(frozen=True)
class Side:
    """One check-in an incident is about, as the reviewer sees it."""

    checkin: CheckIn
    centre_code: str
    session_code: str
    full_name: str | None
    registration_number: str | None
    portrait: Picture | None
    frame: Picture | None

    def to_dict(self) -> dict[str, Any]:
        c = self.checkin
        return {"checkin_id": str(c.id), "centre": self.centre_code,
                "session": self.session_code, "id_number": c.id_number,
                "full_name": self.full_name, "registration_number": self.registration_number,
                "decision": c.decision.value, "decided_at": c.decided_at.isoformat(),
                "face_distance": c.face_distance, "trust_verdict": c.trust_verdict,
                "portrait": self.portrait.to_dict() if self.portrait else None,
                "frame": self.frame.to_dict() if self.frame else None}


@dataclass(frozen=True)
class IncidentFile:
    row: IncidentRow
    sides: tuple[Side, ...]  # the linked check-ins, oldest first
    frames: tuple[Picture, ...]  # the incident's own evidence (monitor frames, …)

    def to_dict(self) -> dict[str, Any]:
        return {**self.row.to_dict(), "sides": [s.to_dict() for s in self.sides],
                "frames": [f.to_dict() for f in self.frames]}


def incident_file(office: Office, ref: str) -> IncidentFile:
    with office.store.read() as tx:
        incident = find_incident(tx, ref)
        codes = _centre_codes(tx)
        row = _rows(tx, [incident], codes)[0]
        checkins = sorted(tx.exec(select(CheckIn).where(col(CheckIn.id).in_(row.checkin_ids)))
                          .all(), key=lambda c: (c.decided_at, str(c.id)))
        sessions = {s.id: s.code for s in tx.exec(select(ExamSession).where(
            col(ExamSession.id).in_([c.session_id for c in checkins]))).all()}
        people = {e.id: (cand.full_name, e.registration_number) for e, cand in tx.exec(
            select(RosterEntry, Candidate)
            .join(Candidate, col(Candidate.id) == col(RosterEntry.candidate_id))
            .where(col(RosterEntry.id).in_([c.roster_entry_id for c in checkins
                                            if c.roster_entry_id])))}
        evidence = list(tx.exec(select(Evidence).where(or_(
            col(Evidence.checkin_id).in_([c.id for c in checkins]),
            col(Evidence.incident_id) == incident.id))
            .order_by(col(Evidence.captured_at), col(Evidence.id))).all())
        blobs = {b.id: b for b in tx.exec(select(EvidenceBlob).where(
            col(EvidenceBlob.id).in_([e.id for e in evidence]))).all()}
    pictures = (EvidenceKind.CHIP_PORTRAIT, EvidenceKind.LIVE_FRAME)
    sides = []
    for c in checkins:
        mine = [e for e in evidence if e.checkin_id == c.id]
        portrait = next((e for e in mine if e.kind == EvidenceKind.CHIP_PORTRAIT), None)
        frame = next((e for e in mine if e.kind == EvidenceKind.LIVE_FRAME), None)
        name, number = people.get(c.roster_entry_id, (None, None)) if c.roster_entry_id \
            else (None, None)
        sides.append(Side(c, codes.get(c.centre_id, str(c.centre_id)),
                          sessions.get(c.session_id, str(c.session_id)), name, number,
                          _picture(office, portrait, blobs) if portrait else None,
                          _picture(office, frame, blobs) if frame else None))
    own = tuple(_picture(office, e, blobs) for e in evidence
                if e.incident_id == incident.id and e.kind in pictures)
    return IncidentFile(row, tuple(sides), own)


def _picture(office: Office, ev: Evidence, blobs: dict[uuid.UUID, EvidenceBlob]) -> Picture:
    kind = EvidenceKind(ev.kind).value
    blob = blobs.get(ev.id)
    if blob is None:
        state = "purged" if ev.purged_at is not None else "missing"
        return Picture(ev.id, kind, ev.media_type, state, None)
    # Purged at the centre but kept here while an open incident is about it.
    state = "held" if ev.purged_at is not None else "ok"
    try:
        return Picture(ev.id, kind, ev.media_type, state, open_blob(office.store, ev, blob))
    except EvidenceUnreadable:
        return Picture(ev.id, kind, ev.media_type, "unreadable", None)


# --- decisions ---------------------------------------------------------------------------------


def decide(office: Office, ref: str, *, status: IncidentStatus, notes: str, actor: str,
           reviewer_id: uuid.UUID | None = None) -> Incident:
    """Record the office's decision (CONFIRMED, DISMISSED, or OPEN to reopen) with notes."""
    status = IncidentStatus(status)
    text = unicodedata.normalize("NFC", notes or "").strip()
    if not text:
        raise ReviewNeedsNotes("a review decision needs written notes")
    store = office.store
    with store.write() as tx:
        found = find_incident(tx, ref)
        incident = tx.exec(select(Incident).where(Incident.id == found.id)
                           .with_for_update()).one()
        before = incident.status
        now = store.now()
        incident.status, incident.reviewer_notes = status, text
        incident.reviewed_by_id, incident.reviewed_at = reviewer_id, now
        tx.add(incident)
        tx.flush()
        event = store.audit.append(
            tx, centre_id=office.centre_id, actor=actor, action="incident.reviewed",
            subject_id=incident.id,
            payload={"centre_id": incident.centre_id, "from": before, "to": status,
                     "reviewer_id": reviewer_id,
                     "notes_sha256": hashlib.sha256(text.encode()).hexdigest(),
                     "rows": row_bindings(tx, incidents=[incident.id])},
            at=now)
        if incident.centre_id != office.centre_id:
            # The event's seq orders notices in commit order (the chain head is locked).
            tx.add(ReviewNotice(centre_id=incident.centre_id, seq=event.seq,
                                incident_id=incident.id, status=status, reviewer_notes=text,
                                reviewer=actor[:100], reviewed_at=now))
        if status is not IncidentStatus.OPEN:
            tx.flush()
            # Evidence its centre purged on retention, kept only for this case: now it goes.
            tx.connection().execute(sa.text("SELECT examdesk_release_blobs()"))
        return incident
