"""The tables of a centre's stations (issue 17): several desks on one centre database.

- :class:`Station`: a desk's identity (name, stages, its Ed25519 and X25519 public keys, who
  enrolled it and when, who approved or revoked it). The private keys stay in the desk's key
  store; the database holds only the public halves.
- :class:`StationDataKey`: the centre's data key sealed to one station's X25519 key (one row per
  station and data key id), so a desk reads the evidence without key files copied by hand.
- :class:`StationAuditEvent` / :class:`StationAuditHead` / :class:`StationAuditCheckpoint`: each
  station's own hash chain, signed with its own key, in tables of their own: the centre's chain
  (``audit_event`` …), its district sync and its witnesses stay exactly as they were, and two
  stations never wait for each other's head row.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .types import UtcDateTime, enum_type, utcnow


class StationStatus(StrEnum):
    PENDING = "PENDING"  # enrolled on its desk, waiting for a desk holding the data key
    ACTIVE = "ACTIVE"  # the data key is sealed to it; it may write
    REVOKED = "REVOKED"  # a stolen or retired desk: refused, sealed copies removed


def _uuid_pk() -> Any:
    return Field(default_factory=uuid.uuid4, primary_key=True)


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


def _updated() -> Any:
    return Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False,
                 sa_column_kwargs={"onupdate": utcnow})


class Station(SQLModel, table=True):
    """One desk of a centre."""

    __tablename__ = "station"
    __table_args__ = (sa.UniqueConstraint("centre_id", "name"),)

    id: uuid.UUID = _uuid_pk()
    centre_id: uuid.UUID = Field(foreign_key="centre.id", index=True)
    name: str = Field(max_length=100)  # NFC: "Sân 1", "Phòng lý thuyết"
    stages: str = Field(default="", max_length=64)  # comma-separated Stage values
    signing_public: str = Field(max_length=64, unique=True)  # Ed25519, raw, hex
    box_public: str = Field(max_length=64, unique=True)  # X25519, raw, hex
    status: StationStatus = Field(default=StationStatus.PENDING,
                                  sa_type=enum_type(StationStatus))
    enrolled_by: str = Field(max_length=100)
    enrolled_at: datetime = Field(sa_type=UtcDateTime)
    approved_by: str | None = Field(default=None, max_length=100)
    approved_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_by: str | None = Field(default=None, max_length=100)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoke_reason: str | None = Field(default=None, sa_type=sa.Text)
    # The centre PostgreSQL login the desk enrolled under (None on SQLite): with the desk roles
    # of :mod:`.desk_roles`, only that login may write this station's chain.
    db_role: str | None = Field(default=None, max_length=63)
    created_at: datetime = _created()
    updated_at: datetime = _updated()


class StationDataKey(SQLModel, table=True):
    """A data key sealed to a station (HPKE base mode, see :mod:`.stations`)."""

    __tablename__ = "station_data_key"
    __table_args__ = (sa.UniqueConstraint("station_id", "key_id"),)

    id: uuid.UUID = _uuid_pk()
    centre_id: uuid.UUID = Field(foreign_key="centre.id", index=True)
    station_id: uuid.UUID = Field(foreign_key="station.id", index=True)
    key_id: str = Field(max_length=16)  # the data key's id (crypto.DataKey.key_id)
    sealed: bytes = Field(sa_type=sa.LargeBinary)
    created_at: datetime = _created()
    updated_at: datetime = _updated()


class StationAuditEvent(SQLModel, table=True):
    """One link of a station's chain: the columns of :class:`~.models.AuditEvent`, plus the
    station, which its hash covers (an event moved to another station's chain fails)."""

    __tablename__ = "station_audit_event"
    __table_args__ = (sa.UniqueConstraint("station_id", "seq"),)

    id: uuid.UUID = _uuid_pk()
    centre_id: uuid.UUID = Field(foreign_key="centre.id", index=True)
    station_id: uuid.UUID = Field(foreign_key="station.id")
    seq: int = Field(sa_type=sa.BigInteger)
    occurred_at: datetime = Field(sa_type=UtcDateTime)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=64)
    subject_id: uuid.UUID = Field(index=True)
    payload: str = Field(sa_type=sa.Text)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class StationAuditHead(SQLModel, table=True):
    """The end of a station's chain; its appends lock only this row."""

    __tablename__ = "station_audit_head"

    id: uuid.UUID = _uuid_pk()
    centre_id: uuid.UUID = Field(foreign_key="centre.id", index=True)
    station_id: uuid.UUID = Field(foreign_key="station.id", unique=True)
    seq: int = Field(default=0, sa_type=sa.BigInteger)
    hash: str = Field(max_length=64)
    updated_at: datetime = _updated()


class StationAuditCheckpoint(SQLModel, table=True):
    """A station's Ed25519 signature over (centre, station, seq, hash)."""

    __tablename__ = "station_audit_checkpoint"

    id: uuid.UUID = _uuid_pk()
    centre_id: uuid.UUID = Field(foreign_key="centre.id", index=True)
    station_id: uuid.UUID = Field(foreign_key="station.id", index=True)
    seq: int = Field(sa_type=sa.BigInteger)
    hash: str = Field(max_length=64)
    signed_at: datetime = Field(sa_type=UtcDateTime)
    public_key: str = Field(max_length=64)
    signature: str = Field(max_length=128)
