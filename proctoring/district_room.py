"""The exam room as the education office sees it after a sync (issue 18): the incidents the
seat agents raised, with the seat, the room's acknowledgements and the seat's last report.

What reaches the district (see :mod:`.outbox`): the incident with its evidence frames and its
link to the door check-in (whose chip portrait and admitted face are the other side of the
comparison), the ``seat_agent`` row at its state when the seat's last audited event was sent
(its binding, pause and last heartbeat), and every ``incident_ack`` of the incident. The
pictures themselves come from :func:`.review.incident_file` — one function opens evidence for
the office, so the office's review shows exactly the frames the room saw.

The one call for a display: :func:`room_incidents` (oldest first), then
``incident_file(office, str(item.incident_id))`` for the frames beside the chip portrait and the
admitted face.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from .district import Office
from .models import (
    Candidate,
    Centre,
    Evidence,
    EvidenceKind,
    ExamSession,
    Incident,
    IncidentCheckIn,
    RosterEntry,
    SessionKind,
)
from .review_seat import RoomNote
from .seat_models import IncidentAck, SeatAgentRow


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


@dataclass(frozen=True)
class RoomIncident:
    """One incident a seat agent raised, as the district holds it."""

    incident_id: uuid.UUID
    centre_code: str
    session_code: str
    seat: str
    kind: str  # IncidentKind's value
    severity: str
    status: str  # the office's review status
    message_key: str
    started_at: datetime
    ended_at: datetime | None  # None: still open when the centre last synced
    full_name: str | None
    registration_number: str | None
    checkin_ids: tuple[uuid.UUID, ...]  # the door check-in the seat was bound to
    frame_ids: tuple[uuid.UUID, ...]  # the incident's own evidence frames, oldest first
    acks: tuple[RoomNote, ...]
    seat_state: str | None  # the seat's last reported state (None: no seat row arrived)
    heartbeat_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {"incident_id": str(self.incident_id), "centre": self.centre_code,
                "session": self.session_code, "seat": self.seat, "kind": self.kind,
                "severity": self.severity, "status": self.status,
                "message_key": self.message_key, "started_at": self.started_at.isoformat(),
                "ended_at": _iso(self.ended_at), "full_name": self.full_name,
                "registration_number": self.registration_number,
                "checkins": [str(c) for c in self.checkin_ids],
                "frames": [str(f) for f in self.frame_ids],
                "acks": [a.to_dict() for a in self.acks], "seat_state": self.seat_state,
                "heartbeat_at": _iso(self.heartbeat_at)}


def room_incidents(office: Office, *, centre_code: str | None = None,
                   session_code: str | None = None) -> list[RoomIncident]:
    """Every incident raised at a seat of an online exam (its details name the seat), of one
    centre and/or one session code when given, oldest first."""
    with office.store.read() as tx:
        codes = {c.id: c.code for c in tx.exec(select(Centre)).all()}
        query = (select(Incident, ExamSession)
                 .join(ExamSession, col(ExamSession.id) == col(Incident.session_id))
                 .where(ExamSession.kind == SessionKind.ONLINE_EXAM))
        if session_code is not None:
            query = query.where(ExamSession.code == session_code)
        if centre_code is not None:
            wanted = [i for i, code in codes.items() if code == centre_code]
            query = query.where(col(Incident.centre_id).in_(wanted))
        found = [(i, s) for i, s in tx.exec(query.order_by(col(Incident.started_at),
                                                           col(Incident.id))).all()
                 if isinstance(i.details, dict) and isinstance(i.details.get("seat"), str)]
        ids = [i.id for i, _ in found]
        links: dict[uuid.UUID, list[uuid.UUID]] = {}
        for link in tx.exec(select(IncidentCheckIn)
                            .where(col(IncidentCheckIn.incident_id).in_(ids))).all():
            links.setdefault(link.incident_id, []).append(link.checkin_id)
        frames: dict[uuid.UUID, list[uuid.UUID]] = {}
        for ev in tx.exec(select(Evidence).where(col(Evidence.incident_id).in_(ids))
                          .where(Evidence.kind == EvidenceKind.LIVE_FRAME)
                          .order_by(col(Evidence.captured_at), col(Evidence.id))).all():
            if ev.incident_id is not None:
                frames.setdefault(ev.incident_id, []).append(ev.id)
        acks: dict[uuid.UUID, list[RoomNote]] = {}
        for a in tx.exec(select(IncidentAck).where(col(IncidentAck.incident_id).in_(ids))
                         .order_by(col(IncidentAck.acked_at), col(IncidentAck.id))).all():
            acks.setdefault(a.incident_id, []).append(RoomNote(a.note, a.actor, a.acked_at))
        sessions = {s.id for _, s in found}
        seats = {(r.session_id, r.seat): r for r in tx.exec(
            select(SeatAgentRow).where(col(SeatAgentRow.session_id).in_(sessions))).all()}
        entries = [i.roster_entry_id for i, _ in found if i.roster_entry_id is not None]
        people = {e.id: (c.full_name, e.registration_number) for e, c in tx.exec(
            select(RosterEntry, Candidate)
            .join(Candidate, col(Candidate.id) == col(RosterEntry.candidate_id))
            .where(col(RosterEntry.id).in_(entries))).all()}
    out = []
    for i, s in found:
        seat = str(i.details["seat"])
        row = seats.get((s.id, seat))
        name, number = people.get(i.roster_entry_id, (None, None)) if i.roster_entry_id \
            else (None, None)
        out.append(RoomIncident(
            i.id, codes.get(i.centre_id, str(i.centre_id)), s.code, seat, i.kind.value,
            i.severity.value, i.status.value, i.message_key, i.started_at, i.ended_at, name,
            number, tuple(links.get(i.id, ())), tuple(frames.get(i.id, ())),
            tuple(acks.get(i.id, ())), row.state if row else None,
            row.heartbeat_at if row else None))
    return out
