"""Issue 17: SIGKILL a desk at random (seeded) points while it checks in — sometimes with the
centre answering, sometimes not (its check-ins then wait in its outbox). Afterwards no
acknowledged check-in is lost or stored twice, they reach the station's chain in the order they
were made, every chain verifies, and the killed desk resumes (delivers what waited).

``EXAMDESK_DESK_KILLS`` sets the number of kills (default 4; scripts/desk-kill-run runs many);
``EXAMDESK_CRASH_SEED`` replays a run (the seed is printed).
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

from sqlmodel import col, select

from proctoring import audit
from proctoring.crypto import KeyStore
from proctoring.desk_outbox import DeskOutbox
from proctoring.models import CheckIn, Evidence
from proctoring.station_models import StationAuditEvent
from proctoring.stations import enrol
from proctoring.store import Store

from .conftest import REPO
from .helpers import add_roster, centre_and_session
from .outbox_helpers import people

KILLS = int(os.environ.get("EXAMDESK_DESK_KILLS", "4"))


def _seed() -> int:
    given = os.environ.get("EXAMDESK_CRASH_SEED")
    return int(given) if given else random.SystemRandom().randrange(2**32)


def _run_and_kill(args: list[str], rng: random.Random) -> tuple[list[str], int | None]:
    """Start the desk, wait for its first acknowledgement, kill it a random moment later;
    the ids it acknowledged, and how many it delivered on resuming (online only)."""
    child = subprocess.Popen([sys.executable, "-m", "tests.proctoring.desk_kill_child", *args],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None
    lines: list[bytes] = []
    while True:  # the first check-in acknowledged (after the resume line, if any)
        line = child.stdout.readline()
        if not line:
            _, err = child.communicate(timeout=30)
            raise AssertionError(f"the desk died: {err.decode()}")
        lines.append(line)
        if not line.startswith(b"resumed"):
            break
    time.sleep(rng.uniform(0.0, 0.3))
    child.send_signal(signal.SIGKILL)
    rest, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    text = (b"".join(lines) + rest).decode().split("\n")[:-1]  # a torn last line: not acked
    resumed = next((int(t.split()[1]) for t in text if t.startswith("resumed")), None)
    return [t for t in text if t and not t.startswith("resumed")], resumed


def test_a_desk_killed_at_random_points_loses_nothing_and_resumes(
        db_url: str, keys: KeyStore, tmp_path: Path) -> None:
    seed = _seed()
    print(f"desk kill seed: {seed} (EXAMDESK_CRASH_SEED={seed} replays it)")
    rng = random.Random(seed)
    store = Store.open(db_url, keys=keys)
    session = centre_and_session(store)
    add_roster(store, session, people(12))
    enrol(store, centre_id=session.centre_id, name="Bàn 1", stages="", actor="test")
    store.close()
    outbox_dir = tmp_path / "desk-data"
    acknowledged: list[str] = []
    modes = ["away", "online"] + [rng.choice(["away", "online"]) for _ in range(KILLS - 2)]
    resumed = []
    for mode in modes:
        acked, delivered = _run_and_kill(
            [db_url, str(keys.folder), str(outbox_dir), str(session.id), mode], rng)
        acknowledged += acked
        if delivered is not None:
            resumed.append(delivered)
    assert any(resumed), "no killed desk ever delivered what waited"

    store = Store.open(db_url, keys=keys)  # the last restart: deliver, then look
    outbox = DeskOutbox.for_desk(keys, outbox_dir)
    try:
        outbox.deliver(store)
        assert len(outbox) == 0 and outbox.parked() == []
        with store.read() as tx:
            checkins = {str(c) for c in tx.exec(select(CheckIn.id)).all()}
            chain = [str(s) for s in tx.exec(
                select(StationAuditEvent.subject_id)
                .where(StationAuditEvent.action == "checkin.recorded")
                .order_by(col(StationAuditEvent.seq))).all()]
            evidence = Counter(str(e) for e in tx.exec(select(Evidence.checkin_id)).all())
            report = audit.verify(tx, keys)
    finally:
        outbox.close()
        store.close()
    lost = [i for i in acknowledged if i not in checkins]
    assert lost == [], f"{len(lost)} acknowledged check-ins lost"
    assert len(chain) == len(set(chain)) == len(checkins)  # each once on the chain
    acked = set(acknowledged)
    assert [c for c in chain if c in acked] == acknowledged  # in the order they were made
    assert all(evidence[c] == 3 for c in checkins)  # none half-written
    assert report.ok, [p.to_dict() for c in report.chains for p in c.problems]
    assert all(uuid.UUID(i) for i in acknowledged)
    print(f"\ndesk kill: {len(modes)} kills, {len(acknowledged)} acknowledged, "
          f"{len(checkins)} stored, resumed deliveries {resumed}")
