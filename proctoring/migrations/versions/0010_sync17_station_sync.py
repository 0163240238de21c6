"""How far the district confirmed each station's own chain (``station_sync_state``), so the
sync status counts the station events still waiting. A new table only: existing rows are
untouched.

Revision ID: 0010_sync17_station_sync
Revises: 0009_seat18_seats (the lead re-chains it after the session's other migrations)
Create Date: 2026-12-03 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from proctoring.types import UtcDateTime

revision = "0010_sync17_station_sync"
down_revision = "0009_seat18_seats"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "station_sync_state",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", sa.Uuid(), nullable=False),
        sa.Column("pushed_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["centre_id"], ["centre.id"],
                                name=op.f("fk_station_sync_state_centre_id_centre")),
        sa.ForeignKeyConstraint(["station_id"], ["station.id"],
                                name=op.f("fk_station_sync_state_station_id_station")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_sync_state")),
        sa.UniqueConstraint("station_id", name=op.f("uq_station_sync_state_station_id")),
    )
    with op.batch_alter_table("station_sync_state", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_station_sync_state_centre_id"), ["centre_id"],
                              unique=False)


def downgrade() -> None:
    op.drop_table("station_sync_state")
