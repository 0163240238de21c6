"""The face operating points a centre has been calibrated to (on its own population, or by its
district), newest in force. Numbers only: no descriptor, no picture, nothing personal.

A centre's own calibration is written in its database with ``district_seq`` empty; the
district's calibration is written in the district database, one row per centre, with the
sequence number of the office's audit event for it (ordered by commit, as review notices are),
and a centre's sync copies its rows down (same id) and audits their arrival.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .models import _centre_fk, _created, _updated, _uuid_pk
from .types import UtcDateTime


class FaceCalibration(SQLModel, table=True):
    __tablename__ = "face_calibration"

    id: uuid.UUID = _uuid_pk()
    centre_id: uuid.UUID = _centre_fk()  # the centre whose check-ins use this point
    scope: str = Field(max_length=16)  # "centre" (its own data) or "district"
    district_seq: int | None = Field(default=None, sa_type=sa.BigInteger, unique=True)
    threshold: float
    review_low: float
    review_high: float
    target_fmr: float
    confidence: float
    impostor_pairs: int = Field(sa_type=sa.BigInteger)
    false_matches: int = Field(sa_type=sa.BigInteger)
    fmr_upper: float
    genuine_pairs: int = Field(sa_type=sa.BigInteger)
    false_non_matches: int = Field(sa_type=sa.BigInteger)
    fnmr_upper: float
    identities: int
    source: str = Field(max_length=200)
    calibrated_by: str = Field(max_length=100)
    calibrated_at: datetime = Field(sa_type=UtcDateTime)
    created_at: datetime = _created()
    updated_at: datetime = _updated()
