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


class Writers:
    """Starts the writers the test kills: ``crash_child --forks``, which imports once and forks
    each writer (a process of its own, killed as before, without an interpreter start and the
    imports in every round)."""

    def __init__(self, url: str, key_dir: Path, session_id: uuid.UUID, folder: Path) -> None:
        self.folder = folder
        self.rounds = 0
        self.forks = subprocess.Popen(
            [sys.executable, "-m", "tests.proctoring.crash_child", "--forks", url, str(key_dir),
             str(session_id)], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)

    def _said(self, word: str) -> int:
        assert self.forks.stdout is not None
        line = self.forks.stdout.readline()
        if not line.startswith(word + " "):
            _, err = self.forks.communicate(timeout=30)
            raise AssertionError(f"the writers' parent said {line!r}: {err}")
        return int(line.split()[1])

    def kill_at_random(self, rng: random.Random) -> list[str]:
        """Start a writer, let it acknowledge at least one check-in, kill it at a random moment
        after that; return the ids it acknowledged."""
        assert self.forks.stdin is not None
        self.rounds += 1
        fifo = self.folder / f"writer-{self.rounds}"
        os.mkfifo(fifo)
        self.forks.stdin.write(f"{fifo}\n")
        self.forks.stdin.flush()
        pid = self._said("pid")
        with open(fifo, "rb") as acks:  # the writer's stdout
            first = acks.readline()
            if not first:
                self._said("exit")
                err = Path(f"{fifo}.err").read_text(errors="replace")
                raise AssertionError(f"the writer died: {err}")
            time.sleep(rng.uniform(0.0, 0.4))
            os.kill(pid, signal.SIGKILL)
            rest = acks.read()
        status = self._said("exit")
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
        lines = (first + rest).decode().split("\n")
        return [line for line in lines[:-1] if line]  # a torn last line was never acknowledged

    def close(self) -> None:
        assert self.forks.stdin is not None
        self.forks.stdin.close()
        try:
            self.forks.wait(timeout=30)
        except subprocess.TimeoutExpired:  # still reaping a writer a failure left running
            self.forks.kill()
            self.forks.wait()


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
    writers = Writers(db_url, keys.folder, session.id, tmp_path)
    try:
        while len(acknowledged) < TARGET and rounds < MAX_ROUNDS:
            acknowledged += writers.kill_at_random(rng)
            rounds += 1
    finally:
        writers.close()
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
