"""Audit: the district records each centre's audit public key on its first sync.

``district_member.audit_public_key`` is written only by ``examdesk_claim_centre`` (SECURITY
DEFINER; centres have no UPDATE on the table), so ``audit verify`` on the district checks a
centre's signatures with the key the centre had when it joined, never with the key its
checkpoint rows name. Empty for centres that have not synced since this upgrade: their next
sync records it. Events and checkpoints need no schema change (every event is now signed; see
proctoring/audit.py for how the older, every-100th-signed events are verified).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 14:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("district_member", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audit_public_key", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("district_member", schema=None) as batch_op:
        batch_op.drop_column("audit_public_key")
