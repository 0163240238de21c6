"""Initial schema: centres, users, sessions, rosters, check-ins, incidents, evidence, audit.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-28 02:33:27.046672
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from proctoring.types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "centre",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_centre")),
        sa.UniqueConstraint("code", name=op.f("uq_centre_code")),
    )
    op.create_table(
        "app_user",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_app_user_centre_id_centre")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_user_centre_id"), ["centre_id"], unique=False)

    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", UtcDateTime(), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_audit_checkpoint_centre_id_centre")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoint")),
    )
    with op.batch_alter_table("audit_checkpoint", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_checkpoint_centre_id"), ["centre_id"], unique=False
        )

    op.create_table(
        "audit_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_audit_event_centre_id_centre")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
        sa.UniqueConstraint("centre_id", "seq", name=op.f("uq_audit_event_centre_id_seq")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_audit_head_centre_id_centre")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
        sa.UniqueConstraint("centre_id", name=op.f("uq_audit_head_centre_id")),
    )
    op.create_table(
        "candidate",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("id_number", sa.String(length=12), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_candidate_centre_id_centre")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candidate")),
        sa.UniqueConstraint(
            "centre_id", "id_number", name=op.f("uq_candidate_centre_id_id_number")
        ),
    )
    with op.batch_alter_table("candidate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_candidate_centre_id"), ["centre_id"], unique=False)

    op.create_table(
        "exam_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("stages", sa.String(length=64), nullable=False),
        sa.Column("starts_at", UtcDateTime(), nullable=False),
        sa.Column("ends_at", UtcDateTime(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_exam_session_centre_id_centre")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_session")),
        sa.UniqueConstraint("centre_id", "code", name=op.f("uq_exam_session_centre_id_code")),
    )
    with op.batch_alter_table("exam_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exam_session_centre_id"), ["centre_id"], unique=False)

    op.create_table(
        "roster_entry",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("candidate_id", sa.Uuid(), nullable=False),
        sa.Column("registration_number", sa.String(length=32), nullable=False),
        sa.Column("seat", sa.String(length=32), nullable=True),
        sa.Column("vehicle", sa.String(length=32), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"], ["candidate.id"], name=op.f("fk_roster_entry_candidate_id_candidate")
        ),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_roster_entry_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["exam_session.id"],
            name=op.f("fk_roster_entry_session_id_exam_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_entry")),
        sa.UniqueConstraint(
            "session_id", "candidate_id", name=op.f("uq_roster_entry_session_id_candidate_id")
        ),
        sa.UniqueConstraint(
            "session_id",
            "registration_number",
            name=op.f("uq_roster_entry_session_id_registration_number"),
        ),
    )
    with op.batch_alter_table("roster_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_roster_entry_candidate_id"), ["candidate_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_roster_entry_centre_id"), ["centre_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_roster_entry_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "checkin",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("roster_entry_id", sa.Uuid(), nullable=True),
        sa.Column("id_number", sa.String(length=12), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=True),
        sa.Column("decision", sa.String(length=32), nullable=False),
        sa.Column("machine_decision", sa.String(length=32), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("trust_verdict", sa.String(length=16), nullable=True),
        sa.Column("trust_findings", sa.JSON(), nullable=False),
        sa.Column("face_outcome", sa.String(length=16), nullable=True),
        sa.Column("face_distance", sa.Float(), nullable=True),
        sa.Column("liveness", sa.String(length=16), nullable=True),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("operator_id", sa.Uuid(), nullable=True),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("decided_at", UtcDateTime(), nullable=False),
        sa.Column("overridden_at", UtcDateTime(), nullable=True),
        sa.Column("overridden_by_id", sa.Uuid(), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_checkin_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["app_user.id"], name=op.f("fk_checkin_operator_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["overridden_by_id"], ["app_user.id"], name=op.f("fk_checkin_overridden_by_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["roster_entry_id"],
            ["roster_entry.id"],
            name=op.f("fk_checkin_roster_entry_id_roster_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["exam_session.id"], name=op.f("fk_checkin_session_id_exam_session")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin")),
    )
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkin_centre_id"), ["centre_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_checkin_decision"), ["decision"], unique=False)
        batch_op.create_index(
            "ix_checkin_session_entry", ["session_id", "roster_entry_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_checkin_session_id"), ["session_id"], unique=False)

    op.create_table(
        "incident",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("roster_entry_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("message_key", sa.String(length=100), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("ended_at", UtcDateTime(), nullable=True),
        sa.Column("reported_by_id", sa.Uuid(), nullable=True),
        sa.Column("reviewed_by_id", sa.Uuid(), nullable=True),
        sa.Column("reviewed_at", UtcDateTime(), nullable=True),
        sa.Column("reviewer_notes", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_incident_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["reported_by_id"], ["app_user.id"], name=op.f("fk_incident_reported_by_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"], ["app_user.id"], name=op.f("fk_incident_reviewed_by_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["roster_entry_id"],
            ["roster_entry.id"],
            name=op.f("fk_incident_roster_entry_id_roster_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["exam_session.id"], name=op.f("fk_incident_session_id_exam_session")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_centre_id"), ["centre_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_incident_session_id"), ["session_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_incident_status"), ["status"], unique=False)

    op.create_table(
        "evidence",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("checkin_id", sa.Uuid(), nullable=True),
        sa.Column("incident_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("captured_at", UtcDateTime(), nullable=False),
        sa.Column("retain_until", UtcDateTime(), nullable=False),
        sa.Column("purged_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_evidence_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["checkin_id"], ["checkin.id"], name=op.f("fk_evidence_checkin_id_checkin")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_evidence_incident_id_incident")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["exam_session.id"], name=op.f("fk_evidence_session_id_exam_session")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_centre_id"), ["centre_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_evidence_checkin_id"), ["checkin_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_evidence_incident_id"), ["incident_id"], unique=False)
        batch_op.create_index(
            "ix_evidence_retain_until_purged", ["retain_until", "purged_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_evidence_session_id"), ["session_id"], unique=False)

    op.create_table(
        "incident_checkin",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("incident_id", sa.Uuid(), nullable=False),
        sa.Column("checkin_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_incident_checkin_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["checkin_id"], ["checkin.id"], name=op.f("fk_incident_checkin_checkin_id_checkin")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_incident_checkin_incident_id_incident")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_checkin")),
        sa.UniqueConstraint(
            "incident_id", "checkin_id", name=op.f("uq_incident_checkin_incident_id_checkin_id")
        ),
    )
    with op.batch_alter_table("incident_checkin", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_checkin_centre_id"), ["centre_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_incident_checkin_checkin_id"), ["checkin_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_incident_checkin_incident_id"), ["incident_id"], unique=False
        )

    op.create_table(
        "evidence_blob",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("centre_id", sa.Uuid(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.id"], name=op.f("fk_evidence_blob_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(["id"], ["evidence.id"], name=op.f("fk_evidence_blob_id_evidence")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_blob")),
    )
    with op.batch_alter_table("evidence_blob", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_blob_centre_id"), ["centre_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("evidence_blob", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_blob_centre_id"))

    op.drop_table("evidence_blob")
    with op.batch_alter_table("incident_checkin", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_checkin_incident_id"))
        batch_op.drop_index(batch_op.f("ix_incident_checkin_checkin_id"))
        batch_op.drop_index(batch_op.f("ix_incident_checkin_centre_id"))

    op.drop_table("incident_checkin")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_session_id"))
        batch_op.drop_index("ix_evidence_retain_until_purged")
        batch_op.drop_index(batch_op.f("ix_evidence_incident_id"))
        batch_op.drop_index(batch_op.f("ix_evidence_checkin_id"))
        batch_op.drop_index(batch_op.f("ix_evidence_centre_id"))

    op.drop_table("evidence")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_status"))
        batch_op.drop_index(batch_op.f("ix_incident_session_id"))
        batch_op.drop_index(batch_op.f("ix_incident_centre_id"))

    op.drop_table("incident")
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkin_session_id"))
        batch_op.drop_index("ix_checkin_session_entry")
        batch_op.drop_index(batch_op.f("ix_checkin_decision"))
        batch_op.drop_index(batch_op.f("ix_checkin_centre_id"))

    op.drop_table("checkin")
    with op.batch_alter_table("roster_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roster_entry_session_id"))
        batch_op.drop_index(batch_op.f("ix_roster_entry_centre_id"))
        batch_op.drop_index(batch_op.f("ix_roster_entry_candidate_id"))

    op.drop_table("roster_entry")
    with op.batch_alter_table("exam_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exam_session_centre_id"))

    op.drop_table("exam_session")
    with op.batch_alter_table("candidate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_candidate_centre_id"))

    op.drop_table("candidate")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_subject_id"))

    op.drop_table("audit_event")
    with op.batch_alter_table("audit_checkpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_checkpoint_centre_id"))

    op.drop_table("audit_checkpoint")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_user_centre_id"))

    op.drop_table("app_user")
    op.drop_table("centre")
