"""Tables of the district: the education office, its centres' database accounts, the centres'
data keys wrapped for the office, review decisions on their way back to the centres, the proxy
screen's progress, and each centre's own sync state.

Every database (a centre's SQLite file, the district's PostgreSQL) has the same schema, so one
set of migrations serves both; a table that only makes sense on one side is simply empty on the
other. On PostgreSQL, ``examdesk district init`` decides who may see which rows (see
:mod:`.district`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, select

from .models import IncidentStatus, _centre_fk, _created, _updated, _uuid_pk
from .types import UtcDateTime, enum_type


class District(SQLModel, table=True):
    """The education office of the district (one row). It has a :class:`~.models.Centre` row of
    its own (``centre_id``) for its audit chain: review decisions and proxy incidents the office
    records are chained and signed there, never in a centre's chain."""

    __tablename__ = "district"

    id: uuid.UUID = _uuid_pk()
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    centre_id: uuid.UUID = Field(foreign_key="centre.id", unique=True)
    # X25519 public key (hex) the centres wrap their evidence data keys to (HPKE, RFC 9180).
    box_public_key: str = Field(max_length=64)
    created_at: datetime = _created()
    updated_at: datetime = _updated()


class DistrictMember(SQLModel, table=True):
    """A centre's PostgreSQL login role and the centre code the office gave it. ``centre_id`` is
    filled on the centre's first sync (the centre's own UUID, made when it was set up)."""

    __tablename__ = "district_member"

    id: uuid.UUID = _uuid_pk()
    role_name: str = Field(max_length=63, unique=True)  # PostgreSQL identifiers: 63 bytes
    centre_code: str = Field(max_length=32, unique=True)
    centre_id: uuid.UUID | None = Field(default=None, foreign_key="centre.id", unique=True)
    # The centre's audit public key (hex) as it was on its first sync: what ``audit verify``
    # on the district checks the centre's signatures with (set by examdesk_claim_centre only).
    audit_public_key: str | None = Field(default=None, max_length=64)
    created_at: datetime = _created()
    updated_at: datetime = _updated()


class CentreKey(SQLModel, table=True):
    """A centre's evidence data key, sealed to the office's X25519 key (HPKE base mode, info bound
    to the district, the centre and the key id). Only the office's private key opens it."""

    __tablename__ = "centre_key"
    __table_args__ = (sa.UniqueConstraint("centre_id", "key_id", "box_public_key"),)

    id: uuid.UUID = _uuid_pk()
    centre_id: uuid.UUID = _centre_fk()
    key_id: str = Field(max_length=16)  # crypto.DataKey.key_id
    box_public_key: str = Field(max_length=64)  # the office key it was wrapped to
    wrapped: bytes = Field(sa_type=sa.LargeBinary)  # HPKE enc || ciphertext
    created_at: datetime = _created()
    updated_at: datetime = _updated()


class ReviewNotice(SQLModel, table=True):
    """The office's decision on one of a centre's incidents, waiting for the centre to pull it.

    ``seq`` is the sequence number of the office's audit event for the decision: appends lock the
    office's chain head until commit, so ``seq`` grows in commit order and a centre can pull
    "everything after the last seq I applied" without ever skipping a late commit.
    """

    __tablename__ = "review_notice"
    __table_args__ = (sa.Index("ix_review_notice_centre_id_seq", "centre_id", "seq"),)

    id: uuid.UUID = _uuid_pk()
    centre_id: uuid.UUID = Field(foreign_key="centre.id")
    seq: int = Field(sa_type=sa.BigInteger, unique=True)
    incident_id: uuid.UUID = Field(foreign_key="incident.id", index=True)
    status: IncidentStatus = Field(sa_type=enum_type(IncidentStatus))
    reviewer_notes: str | None = Field(default=None, sa_type=sa.Text)
    reviewer: str = Field(max_length=100)  # the office's audit actor
    reviewed_at: datetime = Field(sa_type=UtcDateTime)
    created_at: datetime = _created()
    updated_at: datetime = _updated()


class ProxyScreen(SQLModel, table=True):
    """An admitted check-in whose faces the district proxy screen has compared with every stored
    face: the next screen compares only newer check-ins (and compares them with these)."""

    __tablename__ = "proxy_screen"

    id: uuid.UUID = Field(foreign_key="checkin.id", primary_key=True)  # = the check-in id
    centre_id: uuid.UUID = _centre_fk()  # the check-in's centre
    faces: int  # embeddings it contributed
    screened_at: datetime = Field(sa_type=UtcDateTime)
    created_at: datetime = _created()
    updated_at: datetime = _updated()


class SyncState(SQLModel, table=True):
    """A centre's side of the sync (local database only): how far the district has confirmed
    its audit chain, the last review notice applied, the pinned office key, the last outcome."""

    __tablename__ = "sync_state"

    id: uuid.UUID = _uuid_pk()
    centre_id: uuid.UUID = Field(foreign_key="centre.id", unique=True)
    central: str | None = Field(default=None, max_length=500)  # URL without the password
    district_code: str | None = Field(default=None, max_length=32)
    # Trust on first use: a different office key later stops the sync (see sync.py).
    box_public_key: str | None = Field(default=None, max_length=64)
    pushed_seq: int = Field(default=0, sa_type=sa.BigInteger)  # confirmed by the district
    notice_seq: int = Field(default=0, sa_type=sa.BigInteger)
    # The district's face calibrations applied so far (face_calibration.district_seq).
    calibration_seq: int = Field(default=0, sa_type=sa.BigInteger,
                                 sa_column_kwargs={"server_default": "0"})
    last_attempt_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_success_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_error_key: str | None = Field(default=None, max_length=100)
    last_error_detail: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _created()
    updated_at: datetime = _updated()


def sync_state(tx: Session, centre_id: uuid.UUID) -> SyncState:
    """The centre's sync bookkeeping row, made (empty) on first use."""
    found = tx.exec(select(SyncState).where(SyncState.centre_id == centre_id)).first()
    if found is None:
        _insert_once(tx, SyncState(centre_id=centre_id), "centre_id")
        found = tx.exec(select(SyncState).where(SyncState.centre_id == centre_id)).one()
    return found


def station_sync_state(tx: Session, centre_id: uuid.UUID,
                       station_id: uuid.UUID) -> StationSyncState:
    """One station's sync bookkeeping row, made (empty) on first use."""
    query = select(StationSyncState).where(StationSyncState.station_id == station_id)
    found = tx.exec(query).first()
    if found is None:
        _insert_once(tx, StationSyncState(centre_id=centre_id, station_id=station_id),
                     "station_id")
        found = tx.exec(query).one()
    return found


def _insert_once(tx: Session, row: SQLModel, unique: str) -> None:
    """Insert ``row`` unless a row with the same ``unique`` value is there: several desks on
    one centre PostgreSQL (issue 17) may make the same bookkeeping row at the same moment; the
    loser waits for the winner's commit and keeps its row (SQLite's write lock serialises)."""
    from sqlalchemy.dialects import postgresql, sqlite

    table = type(row).__table__  # type: ignore[attr-defined]
    values = {c.name: getattr(row, c.name) for c in table.columns}
    dialect = postgresql if tx.get_bind().dialect.name == "postgresql" else sqlite
    tx.execute(dialect.insert(table).values(**values)
               .on_conflict_do_nothing(index_elements=[unique]))


class StationSyncState(SQLModel, table=True):
    """How far the district has confirmed one station's own chain (issue 17; local database
    only, beside :class:`SyncState`): what ``sync_status`` counts as still waiting. The sync
    itself resumes from the district's head, never from this row."""

    __tablename__ = "station_sync_state"

    id: uuid.UUID = _uuid_pk()
    centre_id: uuid.UUID = _centre_fk()
    station_id: uuid.UUID = Field(foreign_key="station.id", unique=True)
    pushed_seq: int = Field(default=0, sa_type=sa.BigInteger)
    created_at: datetime = _created()
    updated_at: datetime = _updated()
