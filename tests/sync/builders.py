"""Centres, rosters and check-ins for the district tests."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from proctoring.centres import ensure_centre
from proctoring.checkins import (
    CheckInInput,
    Reason,
    RecordedCheckIn,
    embedding_item,
    record_checkin,
)
from proctoring.crypto import KeyStore
from proctoring.evidence import EvidenceItem
from proctoring.models import Decision, EvidenceKind, ExamSession, RosterEntry, SessionKind
from proctoring.sessions import create_session
from proctoring.store import Store
from tests.proctoring.helpers import add_roster, photo

ACTOR = "test:centre"
CENTRES = {"HN01": "Trung tâm sát hạch Hà Nội 1", "HP02": "Trung tâm thi Hải Phòng 2"}
STARTS = datetime(2026, 6, 12, 0, 30, tzinfo=UTC)


def open_centre(folder: Path, code: str, name: str) -> Store:
    store = Store.open(f"sqlite:///{folder / 'examdesk.db'}",
                       keys=KeyStore(folder / "keys", use_keyring=False))
    ensure_centre(store, code, name, actor=ACTOR)
    return store


def person(n: int, province: str = "001") -> tuple[str, str, date, str]:
    """A valid 12-digit ID (male, born 1995) and a name."""
    return (f"{province}095{n:06d}", f"Thí sinh {n}", date(1995, 1, 1), "M")


def session_with_roster(store: Store, code: str, people: list[tuple[str, str, date, str]]
                        ) -> tuple[ExamSession, list[RosterEntry]]:
    centre = store_centre(store)
    session = create_session(store, centre_id=centre, kind=SessionKind.ONLINE_EXAM,
                             title=f"Thi {code}", starts_at=STARTS, code=code, actor=ACTOR)
    return session, add_roster(store, session, people)


def store_centre(store: Store) -> uuid.UUID:
    from proctoring.sync import local_centre

    return local_centre(store).id


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return v / np.linalg.norm(v)


def admit(store: Store, session: ExamSession, entry: RosterEntry, id_number: str,
          face: np.ndarray, *, decision: Decision = Decision.ADMIT,
          frame: bytes | None = None) -> RecordedCheckIn:
    """A check-in with a chip portrait, a live frame (real photos) and the live embedding."""
    evidence = [EvidenceItem(EvidenceKind.CHIP_PORTRAIT, photo(), "image/jpeg"),
                EvidenceItem(EvidenceKind.LIVE_FRAME, frame or photo("obama/obama2.jpg"),
                             "image/jpeg"),
                embedding_item(face)]
    item = CheckInInput(session_id=session.id, id_number=id_number, decision=decision,
                        reasons=[Reason("checkin.face_match")], consent=True,
                        started_at=datetime.now(UTC), roster_entry_id=entry.id,
                        trust_verdict="SUSPICIOUS", face_outcome="MATCH", face_distance=0.3,
                        liveness="PASSED", evidence=evidence)
    return record_checkin(store, item, actor=ACTOR)
