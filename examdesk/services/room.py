"""The exam room as the invigilator sees it: one read model for the desk's room screen (F11)
and `examdesk room status`, and the room's three actions (acknowledge an incident with a note,
let a candidate step out, end the exam for the room).

The read model is what the seats' agents last wrote (:mod:`proctoring.seat_store`) turned into
what a person needs: each seat's state in one word-and-symbol key — the agent's own state, or
"agent silent" when its heartbeats stopped, or "ended" once the invigilator ended the exam —
and the room's alerts (the seats' incidents) worst first. The screen polls it about once a
second on a worker; everything here is one short read.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from proctoring.errors import InvalidInput
from proctoring.evidence import read_evidence
from proctoring.models import (
    AuditEvent,
    Candidate,
    Evidence,
    EvidenceKind,
    ExamSession,
    Incident,
    IncidentCheckIn,
    IncidentKind,
    RosterEntry,
    Severity,
)
from proctoring.seat import CAMERA_COVERED_KEY, CAMERA_LOST_KEY, SeatState
from proctoring.seat_models import IncidentAck, SeatAgentRow
from proctoring.seat_store import acknowledge, pause_seat
from proctoring.sessions import find_session
from proctoring.store import Store

# Three heartbeats (every 2 s) missed: a killed agent is "silent" on the screen within 10 s
# of the kill (6 s + the age of its last beat, at most 2 s + the screen's poll, about 1 s),
# and a seat whose check once runs long is not called silent for it.
SILENT_AFTER = timedelta(seconds=6)
# "Ending" the exam pauses every seat this long: the agents stop watching and close what is
# open at their next check (the pause they already follow), and nobody watches after the end.
ENDED_PAUSE = timedelta(hours=12)


class RoomEnded(InvalidInput):
    """The exam of this room was ended already (context: ``session``)."""

    key = "room.already_ended"


# The state's symbol, said with its words wherever it is shown (never colour alone): the
# screen's tiles and `room status` alike.
SYMBOLS = {"waiting": "…", "bound": "◆", "watching": "●", "absent": "○", "several_faces": "‼",
           "different_person": "✖", "camera_lost": "⌀", "camera_covered": "◐", "paused": "‖",
           "no_consent": "⊘",
           "silent": "?", "no_agent": "·", "ended": "■", "other": "!"}
SEVERITY_ORDER = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}
# The seat states worth the invigilator's eyes: the tile says so beyond its words.
ATTENTION = frozenset({"absent", "several_faces", "different_person", "camera_lost",
                       "camera_covered", "silent"})


@dataclass(frozen=True)
class SeatTile:
    seat: str
    name: str | None  # None: a seat an agent reported from that no roster line names
    registration_number: str | None
    shown: str  # seat.state.<shown>: a SeatState value, "silent", "no_agent" or "ended"
    agent_state: SeatState | None  # what the agent last said (None: no agent ever reported)
    heartbeat_at: datetime | None
    paused_until: datetime | None
    open_alerts: int

    @property
    def attention(self) -> bool:
        return self.shown in ATTENTION


@dataclass(frozen=True)
class Alert:
    incident_id: uuid.UUID
    seat: str
    name: str | None
    registration_number: str | None
    kind: IncidentKind
    severity: Severity
    message_key: str
    details: dict[str, object]
    started_at: datetime
    ended_at: datetime | None
    ack_note: str | None  # the latest acknowledgement's note (None: nobody acknowledged yet)
    ack_by: str | None
    frames: int  # evidence frames kept (0: none, e.g. no consent recorded at the door)

    @property
    def acknowledged(self) -> bool:
        return self.ack_note is not None


@dataclass(frozen=True)
class RoomView:
    session_id: uuid.UUID
    session_code: str
    session_title: str
    at: datetime
    ended_at: datetime | None  # the invigilator ended the exam for the room (None: running)
    seats: tuple[SeatTile, ...]
    alerts: tuple[Alert, ...]  # unacknowledged first, then worst first, then newest first

    def seat(self, label: str) -> SeatTile | None:
        return next((s for s in self.seats if s.seat == label), None)

    @property
    def waiting_alerts(self) -> int:
        return sum(1 for a in self.alerts if not a.acknowledged)


def alert_order(alerts: Sequence[Alert]) -> list[Alert]:
    """What the invigilator has not seen first; among those the worst, then the newest."""
    return sorted(alerts, key=lambda a: (a.acknowledged, SEVERITY_ORDER[a.severity],
                                         -a.started_at.timestamp(), str(a.incident_id)))


def shown_state(agent: SeatAgentRow | None, now: datetime, ended: bool) -> str:
    if ended:
        return "ended"
    if agent is None or agent.heartbeat_at is None:
        return "no_agent"
    if now - agent.heartbeat_at > SILENT_AFTER:
        return "silent"
    return SeatState(agent.state).value


def room_view(store: Store, session_ref: str, *, now: datetime | None = None) -> RoomView:
    """Every seat of the session's roster (and every seat an agent reported from) in seat
    order, and the seats' incidents as alerts."""
    now = now or store.now()
    with store.read() as tx:
        session: ExamSession = find_session(tx, session_ref)
        ended_at = _room_ended(tx, session.id)
        entries = tx.exec(select(RosterEntry, Candidate)
                          .join(Candidate, col(Candidate.id) == col(RosterEntry.candidate_id))
                          .where(RosterEntry.session_id == session.id)).all()
        agents = {a.seat: a for a in tx.exec(select(SeatAgentRow)
                                             .where(SeatAgentRow.session_id == session.id))}
        incidents = [i for i in tx.exec(select(Incident)
                                        .where(Incident.session_id == session.id)).all()
                     if isinstance((i.details or {}).get("seat"), str)]
        ids = [i.id for i in incidents]
        acks: dict[uuid.UUID, IncidentAck] = {}
        frames: dict[uuid.UUID, int] = {}
        if ids:
            for ack in tx.exec(select(IncidentAck).where(col(IncidentAck.incident_id).in_(ids))
                               .order_by(col(IncidentAck.acked_at))).all():
                acks[ack.incident_id] = ack  # the latest wins
            for incident_id in tx.exec(select(Evidence.incident_id)
                                       .where(col(Evidence.incident_id).in_(ids))
                                       .where(col(Evidence.purged_at).is_(None))).all():
                if incident_id is not None:
                    frames[incident_id] = frames.get(incident_id, 0) + 1
    ended = ended_at is not None
    people = {e.seat: (e, c) for e, c in entries if e.seat}
    by_entry = {e.id: (e, c) for e, c in entries}
    alerts = []
    for i in incidents:
        entry, cand = by_entry.get(i.roster_entry_id, (None, None)) if i.roster_entry_id \
            else (None, None)
        seen = acks.get(i.id)
        alerts.append(Alert(i.id, str((i.details or {})["seat"]),
                            cand.full_name if cand else None,
                            entry.registration_number if entry else None, i.kind, i.severity,
                            i.message_key, dict(i.details or {}), i.started_at, i.ended_at,
                            seen.note if seen else None, seen.actor if seen else None,
                            frames.get(i.id, 0)))
    open_by_seat: dict[str, int] = {}
    for a in alerts:
        if a.ended_at is None and not a.acknowledged:
            open_by_seat[a.seat] = open_by_seat.get(a.seat, 0) + 1
    tiles = []
    for seat in sorted(set(people) | set(agents)):
        entry, cand = people.get(seat, (None, None))
        agent = agents.get(seat)
        tiles.append(SeatTile(seat, cand.full_name if cand else None,
                              entry.registration_number if entry else None,
                              shown_state(agent, now, ended),
                              SeatState(agent.state) if agent else None,
                              agent.heartbeat_at if agent else None,
                              agent.paused_until if agent else None,
                              open_by_seat.get(seat, 0)))
    return RoomView(session.id, session.code, session.title, now, ended_at, tuple(tiles),
                    tuple(alert_order(alerts)))


ROOM_ENDED = "room.ended"


def _room_ended(tx: Session, session_id: uuid.UUID) -> datetime | None:
    """When the invigilator ended the room's exam: the audit event says so (a scheduled end
    time passing ends nothing — an exam that started late runs over it, still watched)."""
    return tx.exec(select(AuditEvent.occurred_at).where(AuditEvent.subject_id == session_id)
                   .where(AuditEvent.action == ROOM_ENDED)
                   .order_by(col(AuditEvent.seq))).first()


# --- an alert opened ------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertPictures:
    """What the invigilator compares: the frames the seat kept as evidence, beside the chip
    portrait read at the door and the face admitted there (decrypted bytes: show, then drop)."""

    frames: tuple[bytes, ...]
    chip_portrait: bytes | None
    admitted_face: bytes | None


MAX_FRAMES = 3  # what the screen shows side by side


def alert_pictures(store: Store, incident_id: uuid.UUID) -> AlertPictures:
    with store.read() as tx:
        own = list(tx.exec(select(Evidence.id).where(Evidence.incident_id == incident_id)
                           .where(Evidence.kind == EvidenceKind.LIVE_FRAME)
                           .where(col(Evidence.purged_at).is_(None))
                           .order_by(col(Evidence.captured_at))).all())
        checkins = list(tx.exec(select(IncidentCheckIn.checkin_id)
                                .where(IncidentCheckIn.incident_id == incident_id)).all())
        door = list(tx.exec(select(Evidence).where(col(Evidence.checkin_id).in_(checkins))
                            .where(col(Evidence.purged_at).is_(None))).all()) if checkins else []
    portrait = next((e.id for e in door if e.kind == EvidenceKind.CHIP_PORTRAIT), None)
    face = next((e.id for e in door if e.kind == EvidenceKind.LIVE_FRAME), None)
    return AlertPictures(tuple(read_evidence(store, e) for e in own[-MAX_FRAMES:]),
                         None if portrait is None else read_evidence(store, portrait),
                         None if face is None else read_evidence(store, face))


# --- the room's actions -----------------------------------------------------------------------


def acknowledge_alert(store: Store, incident_id: uuid.UUID, note: str, *, actor: str
                      ) -> IncidentAck:
    """The same use case as `examdesk room ack` (audited, a note required)."""
    return acknowledge(store, str(incident_id), note, actor=actor)


def let_out(store: Store, session_ref: str, seat: str, *, minutes: float | None, note: str,
            actor: str) -> datetime | None:
    """`room pause` / `room resume`: the seat stops watching for ``minutes`` (None: resume)."""
    return pause_seat(store, session_ref, seat, minutes=minutes, note=note, actor=actor)


def end_exam(store: Store, session_ref: str, *, actor: str) -> datetime:
    """The invigilator ends the exam for the room: the session's end time is now (what the
    roster's facts print), every seat is paused past it (its agent stops watching and closes
    what is open), and the audit event ``room.ended`` — with the seats and what was still
    open — is what the room reads as ended. Ending twice is refused (it would hide when)."""
    with store.write() as tx:
        session = find_session(tx, session_ref)
        now = store.now()
        if _room_ended(tx, session.id) is not None:
            raise RoomEnded(f"the exam of {session.code} has ended already",
                            session=session.code)
        session.ends_at = now
        tx.add(session)
        seats = list(tx.exec(select(SeatAgentRow)
                             .where(SeatAgentRow.session_id == session.id)).all())
        for row in seats:
            row.paused_until = now + ENDED_PAUSE
            tx.add(row)
        still_open = [i.id for i in tx.exec(select(Incident)
                                            .where(Incident.session_id == session.id)
                                            .where(col(Incident.ended_at).is_(None))).all()]
        tx.flush()
        store.audit.append(tx, centre_id=session.centre_id, actor=actor, action=ROOM_ENDED,
                           subject_id=session.id,
                           payload={"code": session.code,
                                    "seats": sorted(r.seat for r in seats),
                                    "open_incidents": still_open},
                           at=now)
    return now


_KIND_SHOWN = {IncidentKind.FACE_MISMATCH: "different_person",
               IncidentKind.SEVERAL_FACES: "several_faces", IncidentKind.FACE_ABSENT: "absent",
               IncidentKind.CAMERA_COVERED: "camera_covered",
               IncidentKind.CONSENT_WITHDRAWN: "no_consent"}


def alert_state(alert: Alert) -> str:
    """The seat state an alert is about (its words on screen): the camera-lost incident has
    no kind of its own yet (proctoring/seat.py), its message key says it."""
    if alert.kind in _KIND_SHOWN:
        return _KIND_SHOWN[alert.kind]
    if alert.message_key == CAMERA_COVERED_KEY:
        return "camera_covered"
    if alert.message_key == CAMERA_LOST_KEY or "CAMERA" in alert.kind.value:
        return "camera_lost"
    return "other"
