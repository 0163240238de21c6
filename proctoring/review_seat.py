"""What the education office's review adds for an online-exam incident raised by a seat agent
(issue 18): the seat it happened at and the invigilator's notes from the room.

The incident itself, its linked door check-in and its own evidence frames are already the
review's (:func:`.review.incident_file`: the monitor's frames are the incident's evidence).
The room's acknowledgements live in ``incident_ack``, which the district sync carries with the
seat tables (:mod:`.district_room` lists a district's seat incidents with them); a district
database from before that sync, or a login without the right to read the table, has none and
:func:`room_notes` then returns nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.exc import ProgrammingError
from sqlmodel import Session, col, select

from .models import Incident
from .seat_models import IncidentAck
from .store import Store


@dataclass(frozen=True)
class RoomNote:
    """An invigilator's acknowledgement in the room: what they saw and did."""

    note: str
    actor: str
    acked_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"note": self.note, "actor": self.actor, "acked_at": self.acked_at.isoformat()}


def seat_of(incident: Incident) -> str | None:
    """The seat an online-exam incident was raised at (None: not a seat's incident)."""
    seat = (incident.details or {}).get("seat")
    return str(seat) if seat else None


def room_notes(store: Store, incident_id: uuid.UUID) -> tuple[RoomNote, ...]:
    """The room's acknowledgements of the incident, oldest first. A district login that may
    not read the room's table yet sees none: the review still shows the incident."""
    try:
        with store.read() as tx:
            return _room_notes(tx, incident_id)
    except ProgrammingError:  # permission denied for table incident_ack
        return ()


def _room_notes(tx: Session, incident_id: uuid.UUID) -> tuple[RoomNote, ...]:
    # A district created before the seat tables travel may not have the table at all.
    if not inspect(tx.connection()).has_table(IncidentAck.__tablename__):
        return ()
    rows = tx.exec(select(IncidentAck).where(IncidentAck.incident_id == incident_id)
                   .order_by(col(IncidentAck.acked_at), col(IncidentAck.id))).all()
    return tuple(RoomNote(r.note, r.actor, r.acked_at) for r in rows)
