"""Stations (issue 17): several desks on one centre database.

``station`` (a desk's name, stages and public keys), ``station_data_key`` (the centre's data key
sealed to each station) and each station's own audit chain (``station_audit_event``, ``_head``,
``_checkpoint``). New tables only: every existing row, the centre's chain and its district sync
stay as they are, and a database without stations works exactly as before.

Revision ID: 0007_stations17_stations
Revises: 0005
Create Date: 2026-12-03 20:05:22.434661
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from proctoring.types import UtcDateTime

revision = "0007_stations17_stations"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "station",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("stages", sa.String(length=64), nullable=False),
        sa.Column("signing_public", sa.String(length=64), nullable=False),
        sa.Column("box_public", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("enrolled_by", sa.String(length=100), nullable=False),
        sa.Column("enrolled_at", UtcDateTime(), nullable=False),
        sa.Column("approved_by", sa.String(length=100), nullable=True),
        sa.Column("approved_at", UtcDateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(length=100), nullable=True),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_station_centre_id_centre")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station")),
        sa.UniqueConstraint("box_public", name=op.f("uq_station_box_public")),
        sa.UniqueConstraint("centre_id", "name", name=op.f("uq_station_centre_id_name")),
        sa.UniqueConstraint("signing_public", name=op.f("uq_station_signing_public")),
    )
    with op.batch_alter_table("station", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_station_centre_id"), ["centre_id"], unique=False)

    op.create_table(
        "station_audit_checkpoint",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", UtcDateTime(), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_station_audit_checkpoint_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["station.id"],
            name=op.f("fk_station_audit_checkpoint_station_id_station"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_audit_checkpoint")),
    )
    with op.batch_alter_table("station_audit_checkpoint", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_station_audit_checkpoint_centre_id"), ["centre_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_station_audit_checkpoint_station_id"), ["station_id"], unique=False
        )

    op.create_table(
        "station_audit_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_station_audit_event_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_station_audit_event_station_id_station")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_audit_event")),
        sa.UniqueConstraint(
            "station_id", "seq", name=op.f("uq_station_audit_event_station_id_seq")
        ),
    )
    with op.batch_alter_table("station_audit_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_station_audit_event_centre_id"), ["centre_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_station_audit_event_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "station_audit_head",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_station_audit_head_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_station_audit_head_station_id_station")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_audit_head")),
        sa.UniqueConstraint("station_id", name=op.f("uq_station_audit_head_station_id")),
    )
    with op.batch_alter_table("station_audit_head", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_station_audit_head_centre_id"), ["centre_id"], unique=False
        )

    op.create_table(
        "station_data_key",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("station_id", sa.Uuid(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_station_data_key_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_station_data_key_station_id_station")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_data_key")),
        sa.UniqueConstraint(
            "station_id", "key_id", name=op.f("uq_station_data_key_station_id_key_id")
        ),
    )
    with op.batch_alter_table("station_data_key", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_station_data_key_centre_id"), ["centre_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_station_data_key_station_id"), ["station_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("station_data_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_station_data_key_station_id"))
        batch_op.drop_index(batch_op.f("ix_station_data_key_centre_id"))

    op.drop_table("station_data_key")
    with op.batch_alter_table("station_audit_head", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_station_audit_head_centre_id"))

    op.drop_table("station_audit_head")
    with op.batch_alter_table("station_audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_station_audit_event_subject_id"))
        batch_op.drop_index(batch_op.f("ix_station_audit_event_centre_id"))

    op.drop_table("station_audit_event")
    with op.batch_alter_table("station_audit_checkpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_station_audit_checkpoint_station_id"))
        batch_op.drop_index(batch_op.f("ix_station_audit_checkpoint_centre_id"))

    op.drop_table("station_audit_checkpoint")
    with op.batch_alter_table("station", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_station_centre_id"))

    op.drop_table("station")
