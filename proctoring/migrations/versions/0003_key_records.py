"""Key records: the fingerprint of every key a database depends on (the evidence data key, each
centre's audit signing key), so a key that existed is never silently replaced by a new one.

Existing databases start with no records: each key is recorded the first time it is used after
the upgrade (the one the machine holds then, i.e. the one that sealed and signed so far).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 14:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from proctoring.types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_record",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("retired_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["centre_id"], ["centre.id"],
                                name=op.f("fk_key_record_centre_id_centre")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_record")),
        sa.UniqueConstraint("name", "fingerprint", name=op.f("uq_key_record_name_fingerprint")),
    )
    with op.batch_alter_table("key_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_key_record_centre_id"), ["centre_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_key_record_name"), ["name"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("key_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_key_record_name"))
        batch_op.drop_index(batch_op.f("ix_key_record_centre_id"))
    op.drop_table("key_record")
