"""Face calibration: the operating points a centre was calibrated to on its own population or by
its district (``face_calibration``), and how far a centre has pulled the district's
(``sync_state.calibration_seq``).

Existing databases keep every row; they start with no calibration (the check-in uses the
shipped default, and says so) and a pull position of 0.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from proctoring.types import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "face_calibration",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("district_seq", sa.BigInteger(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("review_low", sa.Float(), nullable=False),
        sa.Column("review_high", sa.Float(), nullable=False),
        sa.Column("target_fmr", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("impostor_pairs", sa.BigInteger(), nullable=False),
        sa.Column("false_matches", sa.BigInteger(), nullable=False),
        sa.Column("fmr_upper", sa.Float(), nullable=False),
        sa.Column("genuine_pairs", sa.BigInteger(), nullable=False),
        sa.Column("false_non_matches", sa.BigInteger(), nullable=False),
        sa.Column("fnmr_upper", sa.Float(), nullable=False),
        sa.Column("identities", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("calibrated_by", sa.String(length=100), nullable=False),
        sa.Column("calibrated_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["centre_id"], ["centre.id"],
                                name=op.f("fk_face_calibration_centre_id_centre")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_calibration")),
        sa.UniqueConstraint("district_seq", name=op.f("uq_face_calibration_district_seq")),
    )
    with op.batch_alter_table("face_calibration", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_face_calibration_centre_id"), ["centre_id"],
                              unique=False)
    with op.batch_alter_table("sync_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("calibration_seq", sa.BigInteger(), nullable=False,
                                      server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("sync_state", schema=None) as batch_op:
        batch_op.drop_column("calibration_seq")
    with op.batch_alter_table("face_calibration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_face_calibration_centre_id"))
    op.drop_table("face_calibration")
