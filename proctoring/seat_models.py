"""The tables of the exam room: each seat's binding and heartbeat, and invigilators'
acknowledgements of incidents (migration 0009_seat18_seats), candidates' consent to monitoring at
the seat (0014_seattap18_seat_consent)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .types import UtcDateTime, utcnow


class SeatAgentRow(SQLModel, table=True):
    """One seat of a session as its agent last reported it. Written by the agent (binding,
    state, heartbeat); read by the room view. Heartbeats overwrite ``heartbeat_at`` and are not
    audited (every 2 s per seat would drown the chain); the binding is (``seat.bound``)."""

    __tablename__ = "seat_agent"
    __table_args__ = (sa.UniqueConstraint("session_id", "seat"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    centre_id: uuid.UUID = Field(foreign_key="centre.id", index=True)
    session_id: uuid.UUID = Field(foreign_key="exam_session.id", index=True)
    seat: str = Field(max_length=32)
    roster_entry_id: uuid.UUID | None = Field(default=None, foreign_key="roster_entry.id")
    checkin_id: uuid.UUID | None = Field(default=None, foreign_key="checkin.id")
    state: str = Field(max_length=32)  # proctoring.seat.SeatState's value
    bound_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    heartbeat_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # Set by the invigilator (room pause): the agent stops watching until then.
    paused_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False,
                                 sa_column_kwargs={"onupdate": utcnow})


class IncidentAck(SQLModel, table=True):
    """An invigilator saw an incident in the room and wrote what they did (the office's review
    of the incident stays separate: this is the room's answer, live)."""

    __tablename__ = "incident_ack"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    centre_id: uuid.UUID = Field(foreign_key="centre.id", index=True)
    incident_id: uuid.UUID = Field(foreign_key="incident.id", index=True)
    note: str = Field(sa_type=sa.Text)
    actor: str = Field(max_length=100)
    acked_at: datetime = Field(sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False,
                                 sa_column_kwargs={"onupdate": utcnow})


class SeatConsent(SQLModel, table=True):
    """A candidate's answer to the seat's consent text, per session (migration
    0014_seattap18_seat_consent). Written by the agent before it reads any frame; a later answer
    replaces the row and each answer is an audit event (``seat.consent``), so the history stays
    in the chain. ``text_sha256`` names the text shown (both languages), ``lang`` the one read."""

    __tablename__ = "seat_consent"
    __table_args__ = (sa.UniqueConstraint("session_id", "roster_entry_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    centre_id: uuid.UUID = Field(foreign_key="centre.id", index=True)
    session_id: uuid.UUID = Field(foreign_key="exam_session.id", index=True)
    roster_entry_id: uuid.UUID = Field(foreign_key="roster_entry.id")
    seat: str = Field(max_length=32)
    given: bool
    text_sha256: str = Field(max_length=64)
    lang: str = Field(max_length=8)
    answered_at: datetime = Field(sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False,
                                 sa_column_kwargs={"onupdate": utcnow})
