"""Check-ins with stored descriptors for the population calibration tests.

The descriptors stand in for dlib's (as ``helpers.embedding`` does in the storage tests; no
face is synthesised): unit vectors in 16 of 128 dimensions, so impostor distances spread from
about 0.6 to 2 like real ones, and each person's live descriptor is their chip descriptor plus
a little noise (genuine distances 0.2–0.6).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np

from proctoring.checkins import (
    CheckInInput,
    Reason,
    RecordedCheckIn,
    embedding_item,
    record_checkin,
)
from proctoring.models import Decision, EvidenceKind, ExamSession
from proctoring.store import Store

ACTOR = "test:centre"


def descriptors(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    chip = np.zeros((n, 128), np.float64)
    chip[:, :16] = rng.standard_normal((n, 16))
    chip /= np.linalg.norm(chip, axis=1, keepdims=True)
    live = chip + rng.normal(0.0, 0.03, chip.shape)
    live /= np.linalg.norm(live, axis=1, keepdims=True)
    return chip.astype(np.float32), live.astype(np.float32)


def id_number(i: int, province: str = "001") -> str:
    return f"{province}095{i:06d}"


def population(store: Store, session: ExamSession, n: int, *, seed: int = 3, first: int = 0,
               province: str = "001",
               decision: Decision = Decision.ADMIT) -> list[RecordedCheckIn]:
    """n check-ins of n different people, each with its chip and live descriptors."""
    chip, live = descriptors(n, seed)
    out = []
    for i in range(n):
        item = CheckInInput(
            session_id=session.id, id_number=id_number(first + i, province), decision=decision,
            reasons=[Reason("checkin.face_match")], consent=True,
            started_at=datetime.now(UTC), face_outcome="MATCH", face_distance=0.3,
            liveness="PASSED", checkin_id=uuid.uuid4(),
            evidence=[embedding_item(chip[i], EvidenceKind.CHIP_EMBEDDING),
                      embedding_item(live[i], EvidenceKind.LIVE_EMBEDDING)])
        out.append(record_checkin(store, item, actor=ACTOR))
    return out
