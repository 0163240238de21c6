"""Check-ins for the desk outbox tests: a roster of n people and one check-in input each."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from proctoring.checkins import CheckInInput, NewIncident, Reason, embedding_item
from proctoring.evidence import EvidenceItem
from proctoring.models import (
    Decision,
    EvidenceKind,
    ExamSession,
    IncidentKind,
    RosterEntry,
    Severity,
    Stage,
)

from .helpers import embedding, photo

T0 = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)


def people(n: int) -> list[tuple[str, str, date, str]]:
    # Province 001, century/sex digit 0 (male, 1900s), year 90, then a serial.
    return [(f"00109000{i:04d}", f"Thí sinh {i}", date(1990, 1, 1), "M") for i in range(n)]


def item(session: ExamSession, entry: RosterEntry, id_number: str, i: int, *,
         stage: Stage | None = None, incident: bool = False) -> CheckInInput:
    """The i-th check-in of a run: real photos, an embedding, one incident when asked."""
    return CheckInInput(
        session_id=session.id, id_number=id_number, decision=Decision.ADMIT,
        reasons=[Reason("checkin.face_match", "", {"distance": 0.3})], consent=True,
        started_at=T0 + timedelta(seconds=i),
        decided_at=T0 + timedelta(seconds=i, milliseconds=500),
        roster_entry_id=entry.id, stage=stage, trust_verdict="SUSPICIOUS",
        trust_findings=["passive.no_csca"], face_outcome="MATCH", face_distance=0.3,
        liveness="passed", desk="Bàn 1",
        evidence=[EvidenceItem(EvidenceKind.CHIP_PORTRAIT, photo(), "image/jpeg"),
                  EvidenceItem(EvidenceKind.LIVE_FRAME, photo("obama/obama2.jpg"), "image/jpeg"),
                  embedding_item(embedding(i))],
        incidents=[NewIncident(IncidentKind.FACE_MISMATCH, Severity.HIGH, "checkin.face_review",
                               {"distance": 0.5}, roster_entry_id=entry.id)] if incident else (),
        checkin_id=uuid.uuid4())
