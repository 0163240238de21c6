"""The process the crash test kills: records check-ins in a loop and prints each id once its
transaction has committed (that line is the acknowledgement).

    python -m tests.proctoring.crash_child DB_URL KEY_DIR SESSION_ID
"""

from __future__ import annotations

import random
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import col, select

from proctoring.checkins import CheckInInput, Reason, embedding_item, record_checkin
from proctoring.crypto import KeyStore
from proctoring.evidence import EvidenceItem
from proctoring.models import Candidate, Decision, EvidenceKind, RosterEntry
from proctoring.store import Store

from .helpers import embedding, photos

EVIDENCE_PER_CHECKIN = 3


def main(url: str, key_dir: str, session_id: str) -> None:
    # Checkpoints every 7 events: some kills land while a checkpoint is being signed too.
    store = Store.open(url, keys=KeyStore(Path(key_dir), use_keyring=False), checkpoint_every=7)
    sid = uuid.UUID(session_id)
    with store.read() as tx:
        roster = tx.exec(select(RosterEntry, Candidate)
                         .join(Candidate, col(Candidate.id) == col(RosterEntry.candidate_id))
                         .where(RosterEntry.session_id == sid)).all()
    portraits = photos(4)
    rng = random.Random()
    while True:
        entry, candidate = rng.choice(roster)
        item = CheckInInput(
            session_id=sid, id_number=candidate.id_number,
            decision=rng.choice(list(Decision)), reasons=[Reason("checkin.face_match")],
            consent=True, started_at=datetime.now(UTC), roster_entry_id=entry.id,
            face_outcome="MATCH", face_distance=rng.random(), liveness="PASSED",
            evidence=[
                EvidenceItem(EvidenceKind.CHIP_PORTRAIT, rng.choice(portraits), "image/jpeg"),
                EvidenceItem(EvidenceKind.LIVE_FRAME, rng.choice(portraits), "image/jpeg"),
                embedding_item(embedding(rng.randrange(1000))),
            ])
        done = record_checkin(store, item, actor="test:crash")
        sys.stdout.write(f"{done.checkin.id}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main(*sys.argv[1:4])
