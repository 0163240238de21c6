"""How far the district confirmed each station's own chain (``station_sync_state``), so the
sync status counts the station events still waiting; and the centre PostgreSQL login each
station enrolled under (``station.db_role``, see proctoring/desk_roles.py). A new table and a
new nullable column: existing rows are untouched (stations enrolled before have no login bound
until ``bind_station`` gives them one).

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
    with op.batch_alter_table("station", schema=None) as batch_op:
        batch_op.add_column(sa.Column("db_role", sa.String(length=63), nullable=True))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN in place (SQLite ≥ 3.35): copying the table, batch mode's way,
    # would drop a table the station chains' foreign keys point at.
    with op.batch_alter_table("station", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("db_role")
    op.drop_table("station_sync_state")
