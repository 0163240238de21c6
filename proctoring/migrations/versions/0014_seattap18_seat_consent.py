"""Candidates' consent to monitoring at the seat (``seat_consent``: one row per candidate and
session, the latest answer; every answer is also an audit event). A new table only: existing
rows are untouched.

Revision ID: 0014_seattap18_seat_consent
Revises: 0010_sync17_station_sync
Create Date: 2026-12-03 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from proctoring.types import UtcDateTime

revision = "0014_seattap18_seat_consent"
down_revision = "0010_sync17_station_sync"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seat_consent",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("roster_entry_id", sa.Uuid(), nullable=False),
        sa.Column("seat", sa.String(length=32), nullable=False),
        sa.Column("given", sa.Boolean(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("answered_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["centre_id"], ["centre.id"],
                                name=op.f("fk_seat_consent_centre_id_centre")),
        sa.ForeignKeyConstraint(["session_id"], ["exam_session.id"],
                                name=op.f("fk_seat_consent_session_id_exam_session")),
        sa.ForeignKeyConstraint(["roster_entry_id"], ["roster_entry.id"],
                                name=op.f("fk_seat_consent_roster_entry_id_roster_entry")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seat_consent")),
        sa.UniqueConstraint("session_id", "roster_entry_id",
                            name=op.f("uq_seat_consent_session_id_roster_entry_id")),
    )
    with op.batch_alter_table("seat_consent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seat_consent_centre_id"), ["centre_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_seat_consent_session_id"), ["session_id"],
                              unique=False)


def downgrade() -> None:
    op.drop_table("seat_consent")
