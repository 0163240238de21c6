"""District sync: the office, centre accounts, wrapped keys, review notices, proxy screen, sync
state; usernames unique per centre instead of everywhere (the district holds every centre's).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 04:15:02.288031
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from proctoring.types import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _stamps() -> list[sa.Column[object]]:
    return [sa.Column("created_at", UtcDateTime(), nullable=False),
            sa.Column("updated_at", UtcDateTime(), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "district",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("box_public_key", sa.String(length=64), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(["centre_id"], ["centre.id"],
                                name=op.f("fk_district_centre_id_centre")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_district")),
        sa.UniqueConstraint("centre_id", name=op.f("uq_district_centre_id")),
        sa.UniqueConstraint("code", name=op.f("uq_district_code")),
    )
    op.create_table(
        "district_member",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("role_name", sa.String(length=63), nullable=False),
        sa.Column("centre_code", sa.String(length=32), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(["centre_id"], ["centre.id"],
                                name=op.f("fk_district_member_centre_id_centre")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_district_member")),
        sa.UniqueConstraint("centre_code", name=op.f("uq_district_member_centre_code")),
        sa.UniqueConstraint("centre_id", name=op.f("uq_district_member_centre_id")),
        sa.UniqueConstraint("role_name", name=op.f("uq_district_member_role_name")),
    )
    op.create_table(
        "centre_key",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("box_public_key", sa.String(length=64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(["centre_id"], ["centre.id"],
                                name=op.f("fk_centre_key_centre_id_centre")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_centre_key")),
        sa.UniqueConstraint("centre_id", "key_id", "box_public_key",
                            name=op.f("uq_centre_key_centre_id_key_id_box_public_key")),
    )
    with op.batch_alter_table("centre_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_centre_key_centre_id"), ["centre_id"], unique=False)

    op.create_table(
        "review_notice",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("reviewer_notes", sa.Text(), nullable=True),
        sa.Column("reviewer", sa.String(length=100), nullable=False),
        sa.Column("reviewed_at", UtcDateTime(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(["centre_id"], ["centre.id"],
                                name=op.f("fk_review_notice_centre_id_centre")),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"],
                                name=op.f("fk_review_notice_incident_id_incident")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_notice")),
        sa.UniqueConstraint("seq", name=op.f("uq_review_notice_seq")),
    )
    with op.batch_alter_table("review_notice", schema=None) as batch_op:
        batch_op.create_index("ix_review_notice_centre_id_seq", ["centre_id", "seq"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_review_notice_incident_id"), ["incident_id"],
                              unique=False)

    op.create_table(
        "proxy_screen",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("faces", sa.Integer(), nullable=False),
        sa.Column("screened_at", UtcDateTime(), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(["centre_id"], ["centre.id"],
                                name=op.f("fk_proxy_screen_centre_id_centre")),
        sa.ForeignKeyConstraint(["id"], ["checkin.id"], name=op.f("fk_proxy_screen_id_checkin")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proxy_screen")),
    )
    with op.batch_alter_table("proxy_screen", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proxy_screen_centre_id"), ["centre_id"],
                              unique=False)

    op.create_table(
        "sync_state",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("central", sa.String(length=500), nullable=True),
        sa.Column("district_code", sa.String(length=32), nullable=True),
        sa.Column("box_public_key", sa.String(length=64), nullable=True),
        sa.Column("pushed_seq", sa.BigInteger(), nullable=False),
        sa.Column("notice_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("last_success_at", UtcDateTime(), nullable=True),
        sa.Column("last_error_key", sa.String(length=100), nullable=True),
        sa.Column("last_error_detail", sa.Text(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(["centre_id"], ["centre.id"],
                                name=op.f("fk_sync_state_centre_id_centre")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_state")),
        sa.UniqueConstraint("centre_id", name=op.f("uq_sync_state_centre_id")),
    )

    # Two centres may both have a user "gv01": unique per centre (SQLite rebuilds the table).
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_app_user_username"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_app_user_centre_id_username"),
                                          ["centre_id", "username"])


def downgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_app_user_centre_id_username"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_app_user_username"), ["username"])
    op.drop_table("sync_state")
    with op.batch_alter_table("proxy_screen", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proxy_screen_centre_id"))
    op.drop_table("proxy_screen")
    with op.batch_alter_table("review_notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_notice_incident_id"))
        batch_op.drop_index("ix_review_notice_centre_id_seq")
    op.drop_table("review_notice")
    with op.batch_alter_table("centre_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_centre_key_centre_id"))
    op.drop_table("centre_key")
    op.drop_table("district_member")
    op.drop_table("district")
