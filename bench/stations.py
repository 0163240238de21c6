"""Several desks on one centre database: storing check-ins concurrently, against one desk alone.

Groundwork for issue 17's acceptance run. Each desk is its own process with its own key store,
enrolled as a station of one centre (the first desk holds the data key and approves the
others). Each stores check-ins through the real storage path — the check-in row, its sealed
evidence (a real photo, a live frame, an embedding: AES-256-GCM under the data key sealed to
its station), its audit event on the station's own signed chain — into one session.
Not measured here (yet): the card read and the face work of a check-in, which run on each
desk's own CPU and do not touch the centre database; the SIGKILL and outage runs.

First one desk alone (the baseline of the same run), then every desk at once; then the check
that everything was stored once and every chain verifies.

    .venv/bin/python bench/stations.py [--quick] [--desks 4] [--n 50] [--db URL]

Without --db: a fresh database on the local PostgreSQL (scripts/start-postgres), dropped at the
end; with --db sqlite:///FILE the same on SQLite. Prints a few lines, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.pgscratch import given_or_scratch  # noqa: E402

WHEN = datetime(2026, 12, 3, 0, 30, tzinfo=UTC)


def _desk_keys(root: Path, desk: int) -> Any:
    from proctoring.crypto import KeyStore

    return KeyStore(root / f"desk-{desk}" / "keys", use_keyring=False)


def _id_number(desk: int, i: int) -> str:
    # Province 001, century/sex digit 0 (male, 1900s), year 90, then a serial per desk.
    return f"001090{desk:02d}{i:04d}"


def _setup(url: str, root: Path, desks: int, per_desk: int) -> uuid.UUID:
    """The centre, a session with a roster for every desk's candidates, every desk enrolled."""
    from proctoring.centres import ensure_centre
    from proctoring.models import Candidate, RosterEntry, SessionKind
    from proctoring.sessions import create_session
    from proctoring.stations import approve, enrol
    from proctoring.store import Store

    first = Store.open(url, keys=_desk_keys(root, 0))
    try:
        centre = ensure_centre(first, "HN01", "Trung tâm sát hạch", actor="bench")
        session = create_session(first, centre_id=centre.id, kind=SessionKind.ONLINE_EXAM,
                                  title="Bench", starts_at=WHEN, code="BENCH", actor="bench")
        with first.write() as tx:
            position = 0
            for desk in range(desks):
                for i in range(per_desk * 2):  # the baseline's and the concurrent run's
                    position += 1
                    cand = Candidate(centre_id=centre.id, id_number=_id_number(desk, i),
                                     full_name=f"Thí sinh {desk}-{i}",
                                     date_of_birth=date(1990, 1, 1), sex="M")
                    tx.add(cand)
                    tx.flush()
                    tx.add(RosterEntry(centre_id=centre.id, session_id=session.id,
                                       candidate_id=cand.id,
                                       registration_number=f"{position:05d}",
                                       position=position))
        enrol(first, centre_id=centre.id, name="Bàn 0", stages="", actor="bench")
        for desk in range(1, desks):
            other = Store.open(url, keys=_desk_keys(root, desk))
            try:
                enrol(other, centre_id=centre.id, name=f"Bàn {desk}", stages="", actor="bench")
            finally:
                other.close()
            approve(first, centre_id=centre.id, ref=f"Bàn {desk}", actor="bench")
        return session.id
    finally:
        first.close()


def checkin_id(session_id: str, desk: int, i: int) -> uuid.UUID:
    """Each check-in's id, chosen by the desk: a desk restarted after a SIGKILL makes the one
    it may have committed unacknowledged again, and the store returns the stored one."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"examdesk-bench/{session_id}/{desk}/{i}")


def _desk(url: str, root: str, desk: int, session_id: str, first: int, n: int,
          start: Any, out: Any) -> None:
    """One desk's process: n check-ins, each timed; the times go back through ``out``. Each
    stored check-in's id is appended to ``acks-<desk>`` (its acknowledgement) for --kill."""
    from sqlmodel import select

    from proctoring.checkins import CheckInInput, Reason, record_checkin
    from proctoring.evidence import EvidenceItem
    from proctoring.models import Candidate, Decision, EvidenceKind, RosterEntry
    from proctoring.store import Store
    from reader.virtual.faces import faces_dir

    photo = (faces_dir() / "people" / "obama" / "obama.jpg").read_bytes()
    frame = (faces_dir() / "people" / "obama" / "obama2.jpg").read_bytes()
    store = Store.open(url, keys=_desk_keys(Path(root), desk))
    try:
        with store.read() as tx:  # the roster lookup is the check-in's, not what is timed
            entries = dict(tx.exec(select(Candidate.id_number, RosterEntry.id).join(
                RosterEntry, RosterEntry.candidate_id == Candidate.id).where(
                RosterEntry.session_id == uuid.UUID(session_id))).all())
        rng = np.random.default_rng(desk)
        times, cpu = [], []
        acks = (Path(root) / f"acks-{desk}").open("a")
        start.wait()
        for i in range(first, first + n):
            number = _id_number(desk, i)
            vec = rng.standard_normal((1, 128)).astype(np.float32)
            vec /= np.linalg.norm(vec)
            item = CheckInInput(
                session_id=uuid.UUID(session_id), id_number=number, decision=Decision.ADMIT,
                reasons=[Reason("checkin.face_match", "bench")], consent=True,
                started_at=datetime.now(UTC), roster_entry_id=entries[number],
                trust_verdict="SUSPICIOUS", face_outcome="MATCH", face_distance=0.3,
                liveness="PASSED", evidence=[
                    EvidenceItem(EvidenceKind.CHIP_PORTRAIT, photo, "image/jpeg"),
                    EvidenceItem(EvidenceKind.LIVE_FRAME, frame, "image/jpeg"),
                    EvidenceItem(EvidenceKind.LIVE_EMBEDDING, vec.tobytes(),
                                 "application/x-float32")],
                checkin_id=checkin_id(session_id, desk, i))
            began, began_cpu = time.perf_counter(), time.process_time()
            record_checkin(store, item, actor=f"bench:desk{desk}")
            times.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
            acks.write(f"{item.checkin_id}\n")
            acks.flush()  # in the OS's hands: a SIGKILL of this process does not lose it
        out.put((desk, (times, cpu)))
    finally:
        store.close()


def _acked(root: Path, desk: int) -> list[str]:
    path = root / f"acks-{desk}"
    if not path.exists():
        return []
    lines = path.read_text().split("\n")
    return [line for line in lines[:-1] if line]  # a torn last line was never acknowledged


def _run(url: str, root: Path, session_id: uuid.UUID, desks: list[int], first: int,
         n: int, kill: random.Random | None = None
         ) -> dict[int, tuple[list[float], list[float]]]:
    """The desks at once; with ``kill``, one of them is SIGKILLed at a random point and
    restarted to finish its check-ins (its times are the restarted process's)."""
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(len(desks))
    out = ctx.Queue()
    procs = {d: ctx.Process(target=_desk, args=(url, str(root), d, str(session_id), first, n,
                                                start, out)) for d in desks}
    for p in procs.values():
        p.start()
    watch = _Waits(url)
    victim = None
    if kill is not None:
        victim, after = kill.choice(desks), kill.randint(1, n - 1)
        before = len(_acked(root, victim))
        while len(_acked(root, victim)) < before + after and procs[victim].is_alive():
            time.sleep(0.005)
        time.sleep(kill.uniform(0.0, 0.03))
        os.kill(procs[victim].pid or 0, signal.SIGKILL)
        procs[victim].join()
        done = len(_acked(root, victim)) - before
        _run.killed = {"desk": victim, "acknowledged_before_kill": done}  # type: ignore
    results = dict(out.get(timeout=1800) for _ in range(len(desks) - (victim is not None)))
    if victim is not None:  # the killed desk resumes where its acknowledgements stop
        gate = ctx.Barrier(1)  # held here until the child has it (a temporary is unlinked)
        again = ctx.Process(target=_desk, args=(
            url, str(root), victim, str(session_id), first + done, n - done, gate, out))
        again.start()
        results.update([out.get(timeout=1800)])
        again.join()
        procs[victim] = again
    watch.stop()
    _run.waits = watch.counts  # type: ignore[attr-defined]
    for p in procs.values():
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"a desk process failed (exit {p.exitcode})")
    return results


class _Waits:
    """What the desks' server backends wait on while they run, sampled every 10 ms from
    ``pg_stat_activity``: ``Lock:*`` would be desks queueing on a shared row (a chain head),
    ``LWLock:WAL*``/``IO:WAL*`` the commit's flush, ``CPU`` a backend running (or runnable)."""

    def __init__(self, url: str) -> None:
        import collections
        import threading

        self.counts: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._thread: Any = None
        if make_url(url).get_backend_name() != "postgresql":
            return
        self._engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        query = sa.text("SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') "
                        "FROM pg_stat_activity WHERE datname = current_database() "
                        "AND state = 'active' AND pid <> pg_backend_pid()")
        with self._engine.connect() as conn:
            while not self._stop.wait(0.01):
                for (what,) in conn.execute(query):
                    self.counts[what] += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 desks × 10 check-ins")
    parser.add_argument("--desks", type=int, default=4)
    parser.add_argument("--n", type=int, default=50, help="check-ins per desk")
    parser.add_argument("--db", help="database URL (default: a fresh local PostgreSQL one)")
    parser.add_argument("--kill-seed", type=int, default=None,
                        help="SIGKILL one desk at a random point (this seed) of the concurrent "
                        "run and restart it: no acknowledged check-in lost, chains verify")
    args = parser.parse_args(argv)
    desks, n = (2, 10) if args.quick else (args.desks, args.n)
    with given_or_scratch(args.db, "examdesk_bench_") as url:
        with tempfile.TemporaryDirectory(prefix="examdesk-bench-stations-") as tmp:
            root = Path(tmp)
            session_id = _setup(url, root, desks, n)
            load_before = os.getloadavg()
            alone, alone_cpu = _run(url, root, session_id, [0], 0, n)[0]
            waits_alone = dict(_run.waits)  # type: ignore[attr-defined]
            ran = _run(url, root, session_id, list(range(desks)), n, n,
                       None if args.kill_seed is None else random.Random(args.kill_seed))
            waits_together = dict(_run.waits)  # type: ignore[attr-defined]
            load_after = os.getloadavg()
            together = {d: t for d, (t, _c) in ran.items()}
            together_cpu = [c for _t, cs in ran.values() for c in cs]
            from proctoring import audit
            from proctoring.store import Store

            checker = Store.open(url, keys=_desk_keys(root, 0))
            try:
                with checker.read() as tx:
                    stored = tx.connection().execute(sa.text(
                        "SELECT count(*), count(DISTINCT id_number) FROM checkin")).one()
                    report = audit.verify(tx, checker.keys)
                    ids = {str(i) for (i,) in tx.connection().execute(
                        sa.text("SELECT id FROM checkin"))}
                acked = [a for d in range(desks) for a in _acked(root, d)]
                lost = [a for a in acked if a not in ids]
            finally:
                checker.close()
    every = [t for times in together.values() for t in times]
    single, multi = statistics.median(alone), statistics.median(every)
    expected = n + desks * n
    result = {
        "bench": "stations", "backend": make_url(url).get_backend_name(), "desks": desks,
        "checkins_per_desk": n, "single_desk_median_ms": round(single * 1000, 2),
        "concurrent_median_ms": round(multi * 1000, 2),
        "ratio": round(multi / single, 3), "within_20_percent": multi <= single * 1.2,
        "stored": int(stored[0]), "expected": expected,
        "stored_once": int(stored[0]) == expected == int(stored[1]),
        "chains": len(report.chains), "chains_verify": report.ok,
        # The desk's own CPU per check-in (client side: SQLAlchemy, sealing, signing): when it
        # grows with the desks, the machine's cores are the limit, not the database's locks.
        "single_desk_cpu_median_ms": round(statistics.median(alone_cpu) * 1000, 2),
        "concurrent_cpu_median_ms": round(statistics.median(together_cpu) * 1000, 2),
        "server_waits_single": waits_alone, "server_waits_concurrent": waits_together,
        "killed": getattr(_run, "killed", None) if args.kill_seed is not None else None,
        "kill_seed": args.kill_seed, "acknowledged": len(acked), "acknowledged_lost": len(lost),
        "cpus": os.cpu_count(), "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "note": "storage path only (row, sealed evidence, signed station event); "
                "card and face work not included",
    }
    print(f"one desk alone: median {result['single_desk_median_ms']} ms per check-in")
    print(f"{desks} desks at once: median {result['concurrent_median_ms']} ms "
          f"(× {result['ratio']})")
    print(f"desk CPU per check-in: {result['single_desk_cpu_median_ms']} ms alone, "
          f"{result['concurrent_median_ms'] and result['concurrent_cpu_median_ms']} ms together; "
          f"{result['cpus']} CPUs, load {result['load_before']} → {result['load_after']}")
    print(f"server backends waiting on (10 ms samples): {waits_together}")
    print(f"stored {result['stored']} of {expected}; {result['chains']} chains, "
          f"{'all verify' if report.ok else 'NOT ALL VERIFY'}")
    if args.kill_seed is not None:
        print(f"killed desk {result['killed']}, restarted: {len(lost)} of {len(acked)} "
              "acknowledged check-ins lost")
    # The contract's last line: ours = the desks at once, baseline = one desk alone, ratio =
    # baseline / ours (1.0: no slowdown); the slowdown (concurrent / alone) stays as before.
    print(json.dumps({"metric": "checkin_store_median_ms_concurrent", "unit": "ms",
                      "ours": result["concurrent_median_ms"],
                      "baseline": result["single_desk_median_ms"],
                      **{k: v for k, v in result.items() if k != "ratio"},
                      "ratio": round(single / multi, 3), "slowdown": result["ratio"]},
                     ensure_ascii=False))
    return 0 if result["stored_once"] and report.ok and not lost else 1


if __name__ == "__main__":
    sys.exit(main())
