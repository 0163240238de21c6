"""The exam room: seat agents' bindings, heartbeats and pauses (``seat_agent``) and invigilators'
acknowledgements of incidents (``incident_ack``). New tables only: existing rows are untouched.

Revision ID: 0009_seat18_seats
Revises: 0005 (the lead re-chains it after the session's other migrations)
Create Date: 2026-12-03 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from proctoring.types import UtcDateTime

revision = "0009_seat18_seats"
down_revision = "0007_stations17_stations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seat_agent",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("seat", sa.String(length=32), nullable=False),
        sa.Column("roster_entry_id", sa.Uuid(), nullable=True),
        sa.Column("checkin_id", sa.Uuid(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("bound_at", UtcDateTime(), nullable=True),
        sa.Column("heartbeat_at", UtcDateTime(), nullable=True),
        sa.Column("paused_until", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["centre_id"], ["centre.id"],
                                name=op.f("fk_seat_agent_centre_id_centre")),
        sa.ForeignKeyConstraint(["session_id"], ["exam_session.id"],
                                name=op.f("fk_seat_agent_session_id_exam_session")),
        sa.ForeignKeyConstraint(["roster_entry_id"], ["roster_entry.id"],
                                name=op.f("fk_seat_agent_roster_entry_id_roster_entry")),
        sa.ForeignKeyConstraint(["checkin_id"], ["checkin.id"],
                                name=op.f("fk_seat_agent_checkin_id_checkin")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seat_agent")),
        sa.UniqueConstraint("session_id", "seat", name=op.f("uq_seat_agent_session_id_seat")),
    )
    with op.batch_alter_table("seat_agent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_seat_agent_centre_id"), ["centre_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_seat_agent_session_id"), ["session_id"],
                              unique=False)
    op.create_table(
        "incident_ack",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("acked_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["centre_id"], ["centre.id"],
                                name=op.f("fk_incident_ack_centre_id_centre")),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"],
                                name=op.f("fk_incident_ack_incident_id_incident")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_ack")),
    )
    with op.batch_alter_table("incident_ack", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_ack_centre_id"), ["centre_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_incident_ack_incident_id"), ["incident_id"],
                              unique=False)


def downgrade() -> None:
    op.drop_table("incident_ack")
    op.drop_table("seat_agent")
