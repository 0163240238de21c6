"""Crash safety: SIGKILL a process at random points while it records check-ins; after a restart
every acknowledged check-in is there, none is half-written, and the audit chain verifies.

The writer is killed again and again until at least ``EXAMDESK_CRASH_CHECKINS`` check-ins
(default 200, the check-in issue's acceptance) have been acknowledged, on each database.
The kill points come from a seeded generator: the seed is printed (``pytest -s`` or a failure's
captured output shows it) and ``EXAMDESK_CRASH_SEED`` replays a run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from sqlmodel import select

from proctoring import audit
from proctoring.crypto import KeyStore
from proctoring.evidence import open_blob
from proctoring.models import AuditEvent, CheckIn, Evidence, EvidenceBlob
from proctoring.store import Store

from .conftest import REPO
from .crash_child import EVIDENCE_PER_CHECKIN
from .helpers import add_roster, centre_and_session

TARGET = int(os.environ.get("EXAMDESK_CRASH_CHECKINS", "200"))
MAX_ROUNDS = 200


def _seed() -> int:
    given = os.environ.get("EXAMDESK_CRASH_SEED")
    return int(given) if given else random.SystemRandom().randrange(2**32)


def _kill_at_random(url: str, key_dir: Path, session_id: uuid.UUID,
                    rng: random.Random) -> list[str]:
    """Start the writer, let it acknowledge at least one check-in, kill it at a random moment
    after that; return the ids it acknowledged."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.proctoring.crash_child", url, str(key_dir),
         str(session_id)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None
    first = child.stdout.readline()
    if not first:
        _, err = child.communicate(timeout=30)
        raise AssertionError(f"the writer died: {err.decode()}")
    time.sleep(rng.uniform(0.0, 0.4))
    child.send_signal(signal.SIGKILL)
    rest, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    lines = (first + rest).decode().split("\n")
    return [line for line in lines[:-1] if line]  # a torn last line was never acknowledged


def test_sigkill_at_random_points(db_url: str, keys: KeyStore, tmp_path: Path) -> None:
    seed = _seed()
    print(f"crash test seed: {seed} (EXAMDESK_CRASH_SEED={seed} replays it)")
    rng = random.Random(seed)
    store = Store.open(db_url, keys=keys)
    session = centre_and_session(store)
    add_roster(store, session)
    store.close()
    acknowledged: list[str] = []
    rounds = 0
    while len(acknowledged) < TARGET and rounds < MAX_ROUNDS:
        acknowledged += _kill_at_random(db_url, keys.folder, session.id, rng)
        rounds += 1
    assert acknowledged, "no check-in was ever acknowledged"

    store = Store.open(db_url, keys=keys)  # the restart
    try:
        with store.read() as tx:
            checkins = {str(c.id): c for c in tx.exec(select(CheckIn)).all()}
            evidence = list(tx.exec(select(Evidence)).all())
            blobs = {b.id: b for b in tx.exec(select(EvidenceBlob)).all()}
            events = Counter(str(e.subject_id) for e in tx.exec(
                select(AuditEvent).where(AuditEvent.action == "checkin.recorded")).all())
            report = audit.verify(tx, store.keys)
        missing = [i for i in acknowledged if i not in checkins]
        assert missing == [], f"{len(missing)} acknowledged check-ins lost"
        # At most one commit per kill can have beaten its acknowledgement to the pipe.
        assert len(acknowledged) <= len(checkins) <= len(acknowledged) + rounds
        per_checkin = Counter(str(e.checkin_id) for e in evidence)
        for cid in checkins:
            assert per_checkin[cid] == EVIDENCE_PER_CHECKIN, f"{cid}: evidence half-written"
            assert events[cid] == 1, f"{cid}: {events[cid]} audit events"
        assert set(events) == set(checkins)  # no event for a check-in that is not there
        for e in evidence:
            assert open_blob(store, e, blobs[e.id])  # every blob whole and decryptable
        assert report.ok, [p.to_dict() for c in report.chains for p in c.problems]
    finally:
        store.close()
    assert len(acknowledged) >= TARGET
    print(f"\ncrash test: {rounds} kills, {len(acknowledged)} acknowledged, "
          f"{len(checkins)} stored")
