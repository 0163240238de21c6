"""The tables: centres, people, exam sessions, rosters, check-ins, incidents, evidence, audit.

Design rules, because the sync issue will ship rows between centres idempotently:
- every row has a UUID primary key made by the writer, never a database sequence;
- every row a centre owns carries ``centre_id``, and ``created_at``/``updated_at`` in UTC;
- biometric bytes never sit in these rows: :class:`Evidence` describes a blob, the encrypted bytes
  live in :class:`EvidenceBlob` (its own table, dropped on purge while the description stays);
- personal data only where the purpose needs it (Decree 13/2023/ND-CP): the candidate's ID,
  name, date of birth and sex to match the chip against the roster; no address, no ethnicity.

The enums are ``StrEnum``s stored as their value (plain VARCHAR, see :func:`~.types.enum_type`).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .types import UtcDateTime, enum_type, utcnow

# Naming convention: constraint names are stable on SQLite and PostgreSQL, so migrations that
# drop or alter a constraint can name it.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


class Role(StrEnum):
    INVIGILATOR = "invigilator"
    CENTRE_ADMIN = "centre_admin"
    EDUCATION_OFFICE = "education_office"  # reviews incidents; belongs to no centre


class SessionKind(StrEnum):
    ONLINE_EXAM = "ONLINE_EXAM"
    DRIVING_TEST = "DRIVING_TEST"


class Stage(StrEnum):
    """Stages of a driving test, in the order a candidate takes them."""

    THEORY = "theory"
    SIMULATION = "simulation"
    YARD = "yard"
    ROAD = "road"


class SessionStatus(StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class Decision(StrEnum):
    ADMIT = "ADMIT"
    REJECT = "REJECT"
    REVIEW = "REVIEW"


class RosterStatus(StrEnum):
    """A candidate's attendance state on the attendance list and the signed roster: ABSENT (no
    check-in), then the decision of an attempt — and once ADMIT, admitted it stays; a later
    attempt never replaces it (:mod:`.attendance` computes it). The same words as
    ``Decision`` for the three decisions, so the signed facts read as they always did."""

    ADMIT = "ADMIT"
    REJECT = "REJECT"
    REVIEW = "REVIEW"
    ABSENT = "ABSENT"

    @classmethod
    def of(cls, decision: Decision | None) -> RosterStatus:
        return cls.ABSENT if decision is None else cls(decision.value)


class IncidentKind(StrEnum):
    PROXY_SUSPECTED = "PROXY_SUSPECTED"  # an admitted face came back under another ID
    FACE_MISMATCH = "FACE_MISMATCH"  # a different face at a later stage / later in the exam
    FACE_ABSENT = "FACE_ABSENT"  # online exam: nobody in front of the webcam for too long
    SEVERAL_FACES = "SEVERAL_FACES"  # online exam: more than one person in view
    FORGED_CARD = "FORGED_CARD"
    NOT_ON_ROSTER = "NOT_ON_ROSTER"
    OVERRIDE = "OVERRIDE"  # an invigilator overrode a decision: always reviewed
    FACE_UNSCREENABLE = "FACE_UNSCREENABLE"  # a stored face the proxy screen could not read
    # A card presented for an ID already admitted (at this stage): who presented it?
    ALREADY_ADMITTED = "ALREADY_ADMITTED"
    CAMERA_LOST = "CAMERA_LOST"  # online exam: the seat's camera gave no picture for a while
    # Online exam: the seat's camera gives a picture, but of nothing (a hand, tape, a cap over
    # the lens): told from an empty chair by the frame itself (biometrics/lens.py).
    CAMERA_COVERED = "CAMERA_COVERED"
    # Online exam: the candidate withdrew consent to monitoring at the seat; nothing is watched
    # from then on, an invigilator must watch them in person.
    CONSENT_WITHDRAWN = "CONSENT_WITHDRAWN"
    OTHER = "OTHER"


class Severity(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class IncidentStatus(StrEnum):
    OPEN = "OPEN"
    CONFIRMED = "CONFIRMED"
    DISMISSED = "DISMISSED"


class EvidenceKind(StrEnum):
    """Everything here is biometric: it is stored only encrypted and is purged on retention."""

    CHIP_PORTRAIT = "CHIP_PORTRAIT"  # DG2 image bytes (JPEG / JPEG 2000)
    LIVE_FRAME = "LIVE_FRAME"  # a camera frame (JPEG) used for the decision or an incident
    CHIP_EMBEDDING = "CHIP_EMBEDDING"  # float32 (n, 128), little-endian, C order
    LIVE_EMBEDDING = "LIVE_EMBEDDING"


class KeyPurpose(StrEnum):
    DATA = "DATA"  # the AES key that seals biometric evidence
    SIGNING = "SIGNING"  # a centre's Ed25519 key for audit checkpoints


class KeyStatus(StrEnum):
    CURRENT = "CURRENT"  # in use: this machine must hold exactly this key
    RETIRED = "RETIRED"  # rotated out on purpose; kept (if it can be) to open what it sealed
    LOST = "LOST"  # an admin declared it gone: what only it opens stays unreadable


def _uuid_pk() -> Any:
    return Field(default_factory=uuid.uuid4, primary_key=True)


def _centre_fk() -> Any:
    return Field(foreign_key="centre.id", index=True)


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)


def _updated() -> Any:
    # onupdate: an ORM UPDATE moves it without every service remembering to.
    return Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False,
                 sa_column_kwargs={"onupdate": utcnow})


class Centre(SQLModel, table=True):
    """An exam or driving-test centre: the owner of almost every other row."""

    id: uuid.UUID = _uuid_pk()
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    created_at: datetime = _created()
    updated_at: datetime = _updated()


class User(SQLModel, table=True):
    """Someone who operates or reviews: invigilator, centre admin, education-office reviewer."""

    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL
    # Unique per centre: the district's database holds every centre's "gv01" (migration 0002).
    __table_args__ = (sa.UniqueConstraint("centre_id", "username"),)

    id: uuid.UUID = _uuid_pk()
    centre_id: uuid.UUID | None = Field(default=None, foreign_key="centre.id", index=True)
    username: str = Field(max_length=64)
    full_name: str = Field(max_length=200)
    role: Role = Field(sa_type=enum_type(Role))
    active: bool = True
    created_at: datetime = _created()
    updated_at: datetime = _updated()


class ExamSession(SQLModel, table=True):
    """One sitting: an online exam, or a driving test with the stages it includes."""

    __tablename__ = "exam_session"
    __table_args__ = (sa.UniqueConstraint("centre_id", "code"),)

    id: uuid.UUID = _uuid_pk()
    centre_id: uuid.UUID = _centre_fk()
    code: str = Field(max_length=64)  # what people type: "B2-2025-06-12-S"
    kind: SessionKind = Field(sa_type=enum_type(SessionKind))
    title: str = Field(max_length=200)
    # Comma-separated Stage values in order; empty for an online exam.
    stages: str = Field(default="", max_length=64)
    starts_at: datetime = Field(sa_type=UtcDateTime)
    ends_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    status: SessionStatus = Field(default=SessionStatus.OPEN, sa_type=enum_type(SessionStatus))
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_by: str = Field(max_length=100)  # audit actor
    created_at: datetime = _created()
    updated_at: datetime = _updated()

    @property
    def stage_list(self) -> tuple[Stage, ...]:
        return tuple(Stage(s) for s in self.stages.split(",") if s)


class Candidate(SQLModel, table=True):
    """A person who sits exams at the centre, keyed by the 12-digit ID on their chip card."""

    __table_args__ = (sa.UniqueConstraint("centre_id", "id_number"),)

    id: uuid.UUID = _uuid_pk()
    centre_id: uuid.UUID = _centre_fk()
    id_number: str = Field(max_length=12)
    full_name: str = Field(max_length=200)  # NFC
    date_of_birth: date
    sex: str = Field(max_length=1)  # "M" / "F", as in the MRZ
    created_at: datetime = _created()
    updated_at: datetime = _updated()


class RosterEntry(SQLModel, table=True):
    """A candidate on a session's roster, with where they sit or which vehicle they drive.

    The registration number (số báo danh) lives here, not on the candidate: the same person gets
    a new one for every exam.
    """

    __tablename__ = "roster_entry"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "candidate_id"),
        sa.UniqueConstraint("session_id", "registration_number"),
    )

    id: uuid.UUID = _uuid_pk()
    centre_id: uuid.UUID = _centre_fk()
    session_id: uuid.UUID = Field(foreign_key="exam_session.id", index=True)
    candidate_id: uuid.UUID = Field(foreign_key="candidate.id", index=True)
    registration_number: str = Field(max_length=32)
    seat: str | None = Field(default=None, max_length=32)
    vehicle: str | None = Field(default=None, max_length=32)
    position: int  # order in the imported file: the order of the printed roster
    created_at: datetime = _created()
    updated_at: datetime = _updated()


class CheckIn(SQLModel, table=True):
    """One check-in attempt and its decision. A candidate may have several (a retry after a
    rejection, one per driving-test stage, a card presented again after the admission); what
    they add up to is the attendance state of :mod:`.attendance` (per entry and stage).

    ``machine_decision`` is what the workflow decided and never changes; ``decision`` is the one
    in force, changed only by an override (written reason, incident, audit event).
    """

    __tablename__ = "checkin"
    __table_args__ = (sa.Index("ix_checkin_session_entry", "session_id", "roster_entry_id"),)

    id: uuid.UUID = _uuid_pk()
    centre_id: uuid.UUID = _centre_fk()
    session_id: uuid.UUID = Field(foreign_key="exam_session.id", index=True)
    # None when the card's holder is not on the roster: the refusal is kept all the same.
    roster_entry_id: uuid.UUID | None = Field(default=None, foreign_key="roster_entry.id")
    id_number: str = Field(max_length=12)  # as read from the chip
    stage: Stage | None = Field(default=None, sa_type=enum_type(Stage))
    decision: Decision = Field(sa_type=enum_type(Decision), index=True)
    machine_decision: Decision = Field(sa_type=enum_type(Decision))
    # [{"key": message key, "detail": str, "context": {...}}]: every reason, not just the worst.
    reasons: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    trust_verdict: str | None = Field(default=None, max_length=16)  # TRUSTED/SUSPICIOUS/FORGED
    trust_findings: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    face_outcome: str | None = Field(default=None, max_length=16)  # MATCH/NO_MATCH/REVIEW
    face_distance: float | None = None  # live vs chip portrait; smaller = more alike
    liveness: str | None = Field(default=None, max_length=16)  # PASSED/FAILED/NOT_RUN
    consent: bool  # the candidate agreed to face capture (Decree 13: per processing)
    operator_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    started_at: datetime = Field(sa_type=UtcDateTime)
    decided_at: datetime = Field(sa_type=UtcDateTime)
    overridden_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    overridden_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    override_reason: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _created()
    updated_at: datetime = _updated()


class Incident(SQLModel, table=True):
    """Something the education office should look at, with its review."""

    id: uuid.UUID = _uuid_pk()
    centre_id: uuid.UUID = _centre_fk()
    session_id: uuid.UUID = Field(foreign_key="exam_session.id", index=True)
    roster_entry_id: uuid.UUID | None = Field(default=None, foreign_key="roster_entry.id")
    kind: IncidentKind = Field(sa_type=enum_type(IncidentKind))
    severity: Severity = Field(sa_type=enum_type(Severity))
    status: IncidentStatus = Field(default=IncidentStatus.OPEN,
                                   sa_type=enum_type(IncidentStatus), index=True)
    message_key: str = Field(max_length=100)  # what happened, as a message key
    details: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    started_at: datetime = Field(sa_type=UtcDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # e.g. face absent
    reported_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    reviewed_by_id: uuid.UUID | None = Field(default=None, foreign_key="app_user.id")
    reviewed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    reviewer_notes: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _created()
    updated_at: datetime = _updated()


class IncidentCheckIn(SQLModel, table=True):
    """Links an incident to the check-ins it is about (a proxy: both IDs' check-ins)."""

    __tablename__ = "incident_checkin"
    __table_args__ = (sa.UniqueConstraint("incident_id", "checkin_id"),)

    id: uuid.UUID = _uuid_pk()
    centre_id: uuid.UUID = _centre_fk()
    incident_id: uuid.UUID = Field(foreign_key="incident.id", index=True)
    checkin_id: uuid.UUID = Field(foreign_key="checkin.id", index=True)
    created_at: datetime = _created()
    updated_at: datetime = _updated()


class Evidence(SQLModel, table=True):
    """What a biometric blob is and until when it may be kept; the bytes are in EvidenceBlob.

    After the retention purge the row stays with ``purged_at`` set, so a roster or a fraud
    review can say "deleted on retention" instead of pretending nothing was captured.
    """

    __table_args__ = (sa.Index("ix_evidence_retain_until_purged", "retain_until", "purged_at"),)

    id: uuid.UUID = _uuid_pk()
    centre_id: uuid.UUID = _centre_fk()
    session_id: uuid.UUID = Field(foreign_key="exam_session.id", index=True)
    checkin_id: uuid.UUID | None = Field(default=None, foreign_key="checkin.id", index=True)
    incident_id: uuid.UUID | None = Field(default=None, foreign_key="incident.id", index=True)
    kind: EvidenceKind = Field(sa_type=enum_type(EvidenceKind))
    media_type: str = Field(max_length=64)  # image/jpeg, image/jp2, application/x-float32
    size: int  # plaintext bytes
    captured_at: datetime = Field(sa_type=UtcDateTime)
    retain_until: datetime = Field(sa_type=UtcDateTime)
    purged_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = _created()
    updated_at: datetime = _updated()


class EvidenceBlob(SQLModel, table=True):
    """AES-GCM ciphertext of one evidence item; associated data binds it to id and kind."""

    __tablename__ = "evidence_blob"

    id: uuid.UUID = Field(foreign_key="evidence.id", primary_key=True)  # = the evidence id
    centre_id: uuid.UUID = _centre_fk()
    key_id: str = Field(max_length=16)  # which data key sealed it (see crypto.DataKey.key_id)
    nonce: bytes = Field(sa_type=sa.LargeBinary)
    ciphertext: bytes = Field(sa_type=sa.LargeBinary)
    created_at: datetime = _created()
    updated_at: datetime = _updated()


class AuditEvent(SQLModel, table=True):
    """One link of a centre's hash chain. Never updated, never deleted (see audit.py).

    ``hash`` covers every column except ``seq`` and ``id``: the order is carried by
    ``prev_hash``, so ``audit verify`` can tell a reordering from a modification.
    """

    __tablename__ = "audit_event"
    __table_args__ = (sa.UniqueConstraint("centre_id", "seq"),)

    id: uuid.UUID = _uuid_pk()
    centre_id: uuid.UUID = Field(foreign_key="centre.id")
    seq: int = Field(sa_type=sa.BigInteger)
    occurred_at: datetime = Field(sa_type=UtcDateTime)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=64)
    subject_id: uuid.UUID = Field(index=True)
    payload: str = Field(sa_type=sa.Text)  # canonical JSON: the exact text that was hashed
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """The end of a centre's chain. Appends lock this row (SELECT … FOR UPDATE on PostgreSQL,
    the write lock on SQLite), so concurrent writers never fork the chain."""

    __tablename__ = "audit_head"

    id: uuid.UUID = _uuid_pk()
    centre_id: uuid.UUID = Field(foreign_key="centre.id", unique=True)
    seq: int = Field(default=0, sa_type=sa.BigInteger)
    hash: str = Field(max_length=64)
    updated_at: datetime = _updated()


class AuditCheckpoint(SQLModel, table=True):
    """An Ed25519 signature by the centre's key over (centre, seq, hash of event seq)."""

    __tablename__ = "audit_checkpoint"

    id: uuid.UUID = _uuid_pk()
    centre_id: uuid.UUID = _centre_fk()
    seq: int = Field(sa_type=sa.BigInteger)
    hash: str = Field(max_length=64)
    signed_at: datetime = Field(sa_type=UtcDateTime)
    public_key: str = Field(max_length=64)  # hex, raw 32 bytes
    signature: str = Field(max_length=128)  # hex, 64 bytes


class KeyRecord(SQLModel, table=True):
    """A key this database depends on, recorded when it is first used: its fingerprint (a
    one-way hash of the key, or of its public half), never the key. While a key is recorded
    as CURRENT, examdesk refuses to make another under that name (see :mod:`.keyrecords`)."""

    __tablename__ = "key_record"
    __table_args__ = (sa.UniqueConstraint("name", "fingerprint"),)

    id: uuid.UUID = _uuid_pk()
    name: str = Field(max_length=100, index=True)  # the key store's name ("data-key", …)
    purpose: KeyPurpose = Field(sa_type=enum_type(KeyPurpose))
    centre_id: uuid.UUID | None = Field(default=None, foreign_key="centre.id", index=True)
    fingerprint: str = Field(max_length=64)  # SHA-256, hex
    key_id: str = Field(max_length=16)  # fingerprint[:16]; for a data key, its blobs' key_id
    public_key: str | None = Field(default=None, max_length=64)  # signing keys: raw, hex
    status: KeyStatus = Field(default=KeyStatus.CURRENT, sa_type=enum_type(KeyStatus))
    retired_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = _created()
    updated_at: datetime = _updated()
