"""The process the crash test kills: records check-ins in a loop and prints each id once its
transaction has committed (that line is the acknowledgement).

    python -m tests.proctoring.crash_child DB_URL KEY_DIR SESSION_ID
    python -m tests.proctoring.crash_child --forks DB_URL KEY_DIR SESSION_ID

With ``--forks`` the modules are imported once and each writer is a fork of this process,
started per line read on stdin (a FIFO's path: the writer's stdout; its stderr goes to the
path + ".err"). The crash test kills ~50 writers per database: a fresh interpreter importing
SQLAlchemy and the storage code each time cost ~1 s of each round. Each line this process
prints: "pid <pid>" once the writer is started, then "exit <status>" once it is reaped.
"""

from __future__ import annotations

import os
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


def forks(url: str, key_dir: str, session_id: str) -> None:
    for line in sys.stdin:
        fifo = line.strip()
        pid = os.fork()
        if pid == 0:
            # The writer: nothing of this process's database state exists yet (main opens the
            # store), so the fork starts as clean as a new interpreter, without the imports.
            try:
                # The FIFO first: the test waits for it to open, whatever happens next.
                out = os.open(fifo, os.O_WRONLY)
                os.dup2(out, 1)
                err = os.open(fifo + ".err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.dup2(err, 2)
                sys.stdout = open(1, "w", closefd=False)
                sys.stderr = open(2, "w", closefd=False)
                main(url, key_dir, session_id)
            except BaseException:
                import traceback

                traceback.print_exc()
                sys.stderr.flush()
            finally:
                os._exit(1)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"exit {status}", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "--forks":
        forks(*sys.argv[2:5])
    else:
        main(*sys.argv[1:4])
