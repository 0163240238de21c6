"""The exam room in the store: what a seat agent reads (the admission) and writes (binding,
state, heartbeat, incidents), what the room view reads (the grid) and the invigilator's ack.

Built against today's :class:`~.store.Store` (the centre store of issue 17 will replace the
connection, not these functions). Every write an agent delivers is idempotent by the ids the
agent chose, so a delivery repeated after a lost reply changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, func
from sqlmodel import Session, col, select

from .audit_rows import row_bindings
from .checkins import admitted_faces
from .errors import InvalidInput, NotFound
from .evidence import EvidenceItem, add_evidence
from .models import (
    Candidate,
    CheckIn,
    Decision,
    EvidenceKind,
    ExamSession,
    Incident,
    IncidentCheckIn,
    IncidentKind,
    RosterEntry,
    Severity,
)
from .seat import Admission, Binding, ConsentAnswer, SeatState
from .seat_models import IncidentAck, SeatAgentRow, SeatConsent
from .sessions import find_session
from .store import Store

SILENT_AFTER = timedelta(seconds=10)
MAX_NOTE = 2000
MAX_SEAT = 32


@dataclass(frozen=True)
class SeatPlace:
    """Where an agent sits: the session and the seat label on its roster."""

    session_id: uuid.UUID
    centre_id: uuid.UUID
    session_code: str
    seat: str


def seat_place(store: Store, session_ref: str, seat: str) -> SeatPlace:
    seat = seat.strip()
    if not seat or len(seat) > MAX_SEAT:
        raise InvalidInput(f"seat {seat!r}: 1 to {MAX_SEAT} characters", field="seat")
    with store.read() as tx:
        session = find_session(tx, session_ref)
        return SeatPlace(session.id, session.centre_id, session.code, seat)


def find_admission(store: Store, place: SeatPlace) -> Admission | None:
    """The candidate whose roster line names this seat, if the door admitted them: their
    latest admitted face (decrypted in memory only)."""
    with store.read() as tx:
        entry = tx.exec(select(RosterEntry).where(RosterEntry.session_id == place.session_id)
                        .where(RosterEntry.seat == place.seat)).first()
    if entry is None:
        return None
    faces = admitted_faces(store, place.session_id, roster_entry_id=entry.id)
    if not len(faces):
        return None
    last = faces.checkin_ids[-1]
    rows = [i for i, c in enumerate(faces.checkin_ids) if c == last]
    return Admission(entry.id, last, faces.embeddings[rows[0]:rows[-1] + 1])


# A tap is read with the CAN of each roster line (a CCCD's CAN is the last 6 digits of its ID):
# this seat's line first, then the candidates the door admitted, then the rest, at most this many
# (each wrong CAN costs a PACE run on the card).
MAX_TAP_KEYS = 64


def roster_numbers(store: Store, place: SeatPlace) -> list[str]:
    """The ID numbers whose CAN a card tapped at this seat is tried with, most likely first."""
    with store.read() as tx:
        rows = tx.exec(select(RosterEntry.id, RosterEntry.seat, Candidate.id_number)
                       .join(Candidate, col(Candidate.id) == col(RosterEntry.candidate_id))
                       .where(RosterEntry.session_id == place.session_id)
                       .order_by(col(RosterEntry.position))).all()
        admitted = set(tx.exec(select(CheckIn.roster_entry_id)
                               .where(CheckIn.session_id == place.session_id)
                               .where(CheckIn.decision == Decision.ADMIT)).all())
    ranked = sorted(rows, key=lambda r: (r[1] != place.seat, r[0] not in admitted))
    return list(dict.fromkeys(number for _, _, number in ranked))[:MAX_TAP_KEYS]


def card_holder(store: Store, place: SeatPlace, id_number: str
                ) -> tuple[uuid.UUID | None, Admission | None]:
    """The roster line of the card's holder in this session (None: not on the roster) and the
    door's admission of them (None: not admitted)."""
    with store.read() as tx:
        entry_id = tx.exec(select(RosterEntry.id)
                           .join(Candidate, col(Candidate.id) == col(RosterEntry.candidate_id))
                           .where(RosterEntry.session_id == place.session_id)
                           .where(Candidate.id_number == id_number)).first()
    if entry_id is None:
        return None, None
    faces = admitted_faces(store, place.session_id, roster_entry_id=entry_id)
    if not len(faces):
        return entry_id, None
    last = faces.checkin_ids[-1]
    rows = [i for i, c in enumerate(faces.checkin_ids) if c == last]
    return entry_id, Admission(entry_id, last, faces.embeddings[rows[0]:rows[-1] + 1])


# --- what an agent delivers ---------------------------------------------------------------------


def _seat_row(tx: Session, place: SeatPlace) -> SeatAgentRow:
    row = tx.exec(select(SeatAgentRow).where(SeatAgentRow.session_id == place.session_id)
                  .where(SeatAgentRow.seat == place.seat)).first()
    if row is None:
        row = SeatAgentRow(centre_id=place.centre_id, session_id=place.session_id,
                           seat=place.seat, state=SeatState.WAITING.value)
    return row


def record_binding(store: Store, place: SeatPlace, binding: Binding, *, actor: str,
                   by: str = "door_admission") -> None:
    """``by``: how the seat knew its candidate — "door_admission" (the seat plan) or
    "chip_card" (a tap on the seat's reader); either way a face match at the seat made it."""
    with store.write() as tx:
        row = _seat_row(tx, place)
        if row.checkin_id == binding.checkin_id and row.bound_at == binding.bound_at:
            return  # delivered before
        row.roster_entry_id = binding.roster_entry_id
        row.checkin_id = binding.checkin_id
        row.bound_at = binding.bound_at
        tx.add(row)
        tx.flush()
        store.audit.append(tx, centre_id=place.centre_id, actor=actor, action="seat.bound",
                           subject_id=row.id,
                           payload={"session_id": place.session_id, "seat": place.seat,
                                    "roster_entry_id": binding.roster_entry_id,
                                    "checkin_id": binding.checkin_id,
                                    "distance": binding.distance, "by": by},
                           at=binding.bound_at)


def read_consent(store: Store, place: SeatPlace, roster_entry_id: uuid.UUID) -> bool | None:
    """The candidate's last answer to the seat's consent text in this session (None: none)."""
    with store.read() as tx:
        return tx.exec(select(SeatConsent.given)
                       .where(SeatConsent.session_id == place.session_id)
                       .where(SeatConsent.roster_entry_id == roster_entry_id)).first()


def record_consent(store: Store, place: SeatPlace, roster_entry_id: uuid.UUID,
                   answer: ConsentAnswer, at: datetime, *, actor: str) -> bool:
    """Keep the candidate's answer (the latest one per session) and audit it; False when this
    answer was delivered before (same time, same answer)."""
    if len(answer.text_sha256) != 64 or any(c not in "0123456789abcdef"
                                            for c in answer.text_sha256):
        raise InvalidInput("the consent text's digest is not a SHA-256", field="consent")
    with store.write() as tx:
        entry = tx.get(RosterEntry, roster_entry_id)
        if entry is None or entry.session_id != place.session_id:
            raise NotFound(f"no roster line {roster_entry_id} in this session",
                           what="roster_entry", ref=str(roster_entry_id))
        row = tx.exec(select(SeatConsent).where(SeatConsent.session_id == place.session_id)
                      .where(SeatConsent.roster_entry_id == roster_entry_id)).first()
        if row is not None and row.answered_at == at and row.given == answer.given:
            return False
        if row is None:
            row = SeatConsent(centre_id=place.centre_id, session_id=place.session_id,
                              roster_entry_id=roster_entry_id, seat=place.seat,
                              given=answer.given, text_sha256=answer.text_sha256,
                              lang=answer.lang[:8], answered_at=at)
        else:
            row.seat, row.given, row.answered_at = place.seat, answer.given, at
            row.text_sha256, row.lang = answer.text_sha256, answer.lang[:8]
        tx.add(row)
        tx.flush()
        store.audit.append(tx, centre_id=place.centre_id, actor=actor, action="seat.consent",
                           subject_id=row.id,
                           payload={"session_id": place.session_id, "seat": place.seat,
                                    "roster_entry_id": roster_entry_id, "given": answer.given,
                                    "text_sha256": answer.text_sha256, "lang": answer.lang},
                           at=at)
        return True


def record_heartbeat(store: Store, place: SeatPlace, state: SeatState, at: datetime) -> None:
    """The seat's state now, and that its agent is alive (not audited: see SeatAgentRow)."""
    with store.write() as tx:
        row = _seat_row(tx, place)
        row.state = SeatState(state).value
        if row.heartbeat_at is None or at >= row.heartbeat_at:
            row.heartbeat_at = at
        tx.add(row)


def record_opened(store: Store, place: SeatPlace, *, incident_id: uuid.UUID, kind: IncidentKind,
                  severity: Severity, message_key: str, started_at: datetime,
                  details: dict[str, object], roster_entry_id: uuid.UUID | None,
                  checkin_id: uuid.UUID | None, frame_jpeg: bytes | None, actor: str) -> bool:
    """Open an incident under the id the agent chose; False when it is there already.
    ``checkin_id`` None: a card tapped at the seat whose holder the door did not admit."""
    with store.write() as tx:
        if tx.get(Incident, incident_id) is not None:
            return False
        consent = None if checkin_id is None else tx.exec(
            select(CheckIn.consent).where(CheckIn.id == checkin_id)).first()
        if frame_jpeg is not None and not consent:
            # No consent recorded at the door: the incident, saying its frame was not kept.
            frame_jpeg = None
            details = {**details, "frame_withheld": "no_consent"}
        now = store.now()
        incident = Incident(id=incident_id, centre_id=place.centre_id,
                            session_id=place.session_id, roster_entry_id=roster_entry_id,
                            kind=kind, severity=severity, message_key=message_key,
                            details={**details, "seat": place.seat}, started_at=started_at)
        tx.add(incident)
        tx.flush()
        if checkin_id is not None:
            tx.add(IncidentCheckIn(centre_id=place.centre_id, incident_id=incident_id,
                                   checkin_id=checkin_id))
        evidence = [] if frame_jpeg is None else [add_evidence(
            tx, store, EvidenceItem(EvidenceKind.LIVE_FRAME, frame_jpeg, "image/jpeg",
                                    started_at),
            centre_id=place.centre_id, session_id=place.session_id, incident_id=incident_id)]
        tx.flush()
        store.audit.append(tx, centre_id=place.centre_id, actor=actor, action="incident.opened",
                           subject_id=incident_id,
                           payload={"session_id": place.session_id, "kind": kind,
                                    "severity": severity, "message_key": message_key,
                                    "checkins": [] if checkin_id is None else [checkin_id],
                                    "evidence": [e.id for e in evidence],
                                    "started_at": started_at, "ended_at": None,
                                    "seat": place.seat,
                                    "rows": row_bindings(tx, incidents=[incident_id])},
                           at=now)
        return True


def record_closed(store: Store, place: SeatPlace, incident_id: uuid.UUID, ended_at: datetime,
                  *, actor: str) -> bool:
    """The incident's end time; False when it was closed already (a repeated delivery)."""
    with store.write() as tx:
        incident = tx.get(Incident, incident_id)
        if incident is None:
            raise NotFound(f"no incident {incident_id}", what="incident", ref=str(incident_id))
        if incident.ended_at is not None:
            return False
        incident.ended_at = ended_at
        tx.add(incident)
        tx.flush()
        store.audit.append(tx, centre_id=place.centre_id, actor=actor, action="incident.ended",
                           subject_id=incident_id,
                           payload={"ended_at": ended_at, "seat": place.seat,
                                    "rows": row_bindings(tx, incidents=[incident_id])},
                           at=store.now())
        return True


def read_pause(store: Store, place: SeatPlace) -> datetime | None:
    """Until when the invigilator paused this seat (None: not paused)."""
    with store.read() as tx:
        return tx.exec(select(SeatAgentRow.paused_until)
                       .where(SeatAgentRow.session_id == place.session_id)
                       .where(SeatAgentRow.seat == place.seat)).first()


MAX_PAUSE = timedelta(minutes=60)


def pause_seat(store: Store, session_ref: str, seat: str, *, minutes: float | None, note: str,
               actor: str) -> datetime | None:
    """The invigilator lets the candidate of a seat step out for ``minutes`` (None: resume
    now). Audited with the note; the agent picks it up at its next check."""
    note = " ".join(note.split())
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"a note of {len(note)} characters (at most {MAX_NOTE})",
                           field="note")
    if minutes is not None and not 0 < minutes <= MAX_PAUSE.total_seconds() / 60:
        raise InvalidInput(f"{minutes} minutes (1 to 60)", field="minutes")
    place = seat_place(store, session_ref, seat)
    now = store.now()
    until = None if minutes is None else now + timedelta(minutes=minutes)
    with store.write() as tx:
        row = _seat_row(tx, place)
        row.paused_until = until
        tx.add(row)
        tx.flush()
        store.audit.append(tx, centre_id=place.centre_id, actor=actor,
                           action="seat.paused" if until else "seat.resumed",
                           subject_id=row.id,
                           payload={"session_id": place.session_id, "seat": place.seat,
                                    "until": until, "note": note},
                           at=now)
    return until


# --- the room -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeatLine:
    seat: str
    name: str | None
    registration_number: str | None
    state: SeatState | None  # None: no agent ever reported
    heartbeat_at: datetime | None
    silent: bool  # an agent reported once but not within SILENT_AFTER
    open_incidents: int


@dataclass(frozen=True)
class RoomStatus:
    session_code: str
    at: datetime
    seats: tuple[SeatLine, ...]


def room_status(store: Store, session_ref: str, *, now: datetime | None = None) -> RoomStatus:
    """Every seat of the session's roster, and every seat an agent reported from, in seat order."""
    now = now or store.now()
    with store.read() as tx:
        session: ExamSession = find_session(tx, session_ref)
        entries = tx.exec(select(RosterEntry, Candidate)
                          .join(Candidate, col(Candidate.id) == col(RosterEntry.candidate_id))
                          .where(RosterEntry.session_id == session.id)).all()
        agents = {a.seat: a for a in tx.exec(select(SeatAgentRow)
                                             .where(SeatAgentRow.session_id == session.id))}
        open_by_entry: dict[uuid.UUID, int] = {}
        for entry_id, _ in tx.exec(select(Incident.roster_entry_id, Incident.id)
                                   .where(Incident.session_id == session.id)
                                   .where(col(Incident.ended_at).is_(None))
                                   .where(col(Incident.roster_entry_id).is_not(None))).all():
            if entry_id is not None:
                open_by_entry[entry_id] = open_by_entry.get(entry_id, 0) + 1
    by_seat = {e.seat: (e, c) for e, c in entries if e.seat}
    lines = []
    for seat in sorted(set(by_seat) | set(agents)):
        entry, cand = by_seat.get(seat, (None, None))
        agent = agents.get(seat)
        beat = agent.heartbeat_at if agent else None
        lines.append(SeatLine(
            seat, cand.full_name if cand else None,
            entry.registration_number if entry else None,
            SeatState(agent.state) if agent else None, beat,
            beat is not None and now - beat > SILENT_AFTER,
            open_by_entry.get(entry.id, 0) if entry else 0))
    return RoomStatus(session.code, now, tuple(lines))


def find_incident(tx: Session, ref: str) -> Incident:
    """An incident by its id or an unambiguous prefix of it (what the room shows)."""
    text = ref.strip().lower()
    if len(text) < 4 or len(text) > 36 or any(ch not in "0123456789abcdef-" for ch in text):
        raise InvalidInput(f"not an incident reference: {ref!r}", field="incident")
    try:
        found = tx.get(Incident, uuid.UUID(text))
    except ValueError:
        found = None
    if found is not None:
        return found
    hexref = text.replace("-", "")
    # Uuid columns are CHAR(32) on SQLite and uuid on PostgreSQL: compare as text (sessions.py).
    as_text = func.replace(func.lower(func.cast(col(Incident.id), String())), "-", "")
    matches = list(tx.exec(select(Incident).where(as_text.startswith(hexref)).limit(2)).all())
    if len(matches) != 1:
        raise NotFound(f"{len(matches)} incidents match {ref!r}", what="incident", ref=ref)
    return matches[0]


def acknowledge(store: Store, incident_ref: str, note: str, *, actor: str) -> IncidentAck:
    """The invigilator saw the incident and says what they did: kept and audited."""
    note = " ".join(note.split())
    if not note:
        raise InvalidInput("an acknowledgement needs a note", field="note")
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"a note of {len(note)} characters (at most {MAX_NOTE})",
                           field="note")
    with store.write() as tx:
        incident = find_incident(tx, incident_ref)
        now = store.now()
        ack = IncidentAck(centre_id=incident.centre_id, incident_id=incident.id, note=note,
                          actor=actor, acked_at=now)
        tx.add(ack)
        tx.flush()
        store.audit.append(tx, centre_id=incident.centre_id, actor=actor,
                           action="incident.acknowledged", subject_id=incident.id,
                           payload={"ack_id": ack.id, "note": note}, at=now)
        return ack
