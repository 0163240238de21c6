"""Several desks on one centre database: whole check-ins at once, against one desk alone.

Issue 17's acceptance run. Each desk is its own process with its own key store, enrolled as a
station of one centre (the first desk holds the data key and approves the others), and runs
WHOLE check-ins through the use case the desk and the CLI share
(``examdesk.services.checkin.run_checkin``): the virtual CCCD read (PACE, chip and active
authentication; in process, or through pcscd for desk 0 with ``--pcscd``), passive
authentication and the trust verdict, the roster lookup and any earlier admission on the
centre, the face work in the desk's own face processes (the chip portrait, a blink challenge,
live frames, the duplicate-face rules against the centre's admissions), and the check-in stored
with its sealed evidence and its event on the station's own signed chain.

Two figures per run, each against one desk alone in the same run:
- the whole check-in (what a candidate at the door waits for);
- the centre's share of it: the time inside the centre database (statements and commits, timed
  at the desk's driver), with the transactions and statements per check-in counted.
Besides: what the server's backends waited on (``Lock:*`` is desks queueing on a shared row),
that every check-in was stored once and every chain verifies.

Unpaced, every desk starts its next check-in the moment the last ends. On one machine the
simulated desks then share the cores that real desks would each have, so the whole time
measures CPU contention between the desks' face work, not the centre. Paced (``--pace P``,
default: chosen from the single desk's measured CPU per check-in, so the desks together keep
the cores below ``TARGET_LOAD``), each desk starts a check-in every P seconds, like a door where
people present their cards: the issue's "within 20 %" is judged on the paced medians.

Each check-in has its own session with one roster line: the blink challenge passes with one
set of face photos (ORL s27), and one face under many IDs in a session is, rightly, a proxy.

    .venv/bin/python bench/stations.py [--quick] [--desks 4] [--n 50] [--pace auto|S]
        [--pcscd] [--db URL] [--kill-seed K]

Without --db: a scratch database on the local PostgreSQL (tests/pgscratch.py), dropped at the
end; with --db sqlite:///FILE the same on SQLite. Prints a few lines, then one JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import multiprocessing
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.pgscratch import given_or_scratch  # noqa: E402

WHEN = datetime(2026, 12, 3, 0, 30, tzinfo=UTC)
TODAY = date(2026, 11, 28)  # the virtual cards' trust verdict is judged on this day
READER = "Virtual PCD 00 00"
FACE = "s27"  # ORL: portrait 10, live frames in an order whose eyes close and open (a blink)
FRAMES = (1, 5, 7, 2, 3, 4, 8)
# The desks' CPU demand kept below this share of the cores when the pace is chosen: a queue for
# the CPU grows steeply towards 100 % (a real desk has its own cores; these share two).
TARGET_LOAD = 0.6
# Blocks of candidates: each run checks in people no earlier run admitted.
UNPACED_ALONE, UNPACED_ALL, PACED_ALONE, PACED_ALL = range(4)


def _desk_keys(root: Path, desk: int) -> Any:
    from proctoring.crypto import KeyStore

    return KeyStore(root / f"desk-{desk}" / "keys", use_keyring=False)


def _id_number(block: int, desk: int, i: int) -> str:
    # Province 001, century/sex digit 0 (male, 1900s), year 90, then block, desk, serial.
    return f"001090{block}{desk}{i:04d}"


def checkin_id(session_id: str, desk: int, i: int) -> uuid.UUID:
    """Each check-in's id, chosen by the desk: a desk restarted after a SIGKILL makes the one
    it may have committed unacknowledged again, and the store returns the stored one."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"examdesk-bench/{session_id}/{desk}/{i}")


@dataclasses.dataclass(frozen=True)
class Planned:
    """One check-in a desk will make: the session and ID it is for, and its id."""

    session_id: str
    id_number: str
    checkin_id: str


def _setup(url: str, root: Path, desks: int, per_desk: int
           ) -> dict[tuple[int, int], list[Planned]]:
    """The centre, every desk enrolled, and per (block, desk) its planned check-ins: one
    session each with the candidate on its roster."""
    from proctoring.centres import ensure_centre
    from proctoring.models import Candidate, RosterEntry, SessionKind
    from proctoring.sessions import create_session
    from proctoring.stations import approve, enrol
    from proctoring.store import Store

    plans: dict[tuple[int, int], list[Planned]] = {}
    first = Store.open(url, keys=_desk_keys(root, 0))
    try:
        centre = ensure_centre(first, "HN01", "Trung tâm sát hạch", actor="bench")
        for block in range(4):
            for desk in range(1 if block in (UNPACED_ALONE, PACED_ALONE) else desks):
                planned = []
                for i in range(per_desk):
                    number = _id_number(block, desk, i)
                    session = create_session(first, centre_id=centre.id,
                                             kind=SessionKind.ONLINE_EXAM,
                                             title=f"Bench {number}", starts_at=WHEN,
                                             actor="bench")
                    with first.write() as tx:
                        cand = Candidate(centre_id=centre.id, id_number=number,
                                         full_name=f"Thí sinh {number}",
                                         date_of_birth=date(1990, 1, 1), sex="M")
                        tx.add(cand)
                        tx.flush()
                        tx.add(RosterEntry(centre_id=centre.id, session_id=session.id,
                                           candidate_id=cand.id, registration_number="00001",
                                           position=1))
                    planned.append(Planned(str(session.id), number,
                                           str(checkin_id(str(session.id), desk, i))))
                plans[block, desk] = planned
        enrol(first, centre_id=centre.id, name="Bàn 0", stages="", actor="bench")
        for desk in range(1, desks):
            other = Store.open(url, keys=_desk_keys(root, desk))
            try:
                enrol(other, centre_id=centre.id, name=f"Bàn {desk}", stages="", actor="bench")
            finally:
                other.close()
            approve(first, centre_id=centre.id, ref=f"Bàn {desk}", actor="bench")
        return plans
    finally:
        first.close()


class CentreMeter:
    """The time this desk spends inside the centre database, seen from its driver: each
    statement's execution, and each commit or rollback until the connection is back in the
    pool. Also counts transactions (pool checkouts) and statements."""

    def __init__(self, engine: sa.Engine) -> None:
        self.seconds = 0.0
        self.statements = 0
        self.transactions = 0
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)
        sa.event.listen(engine, "commit", self._ending)
        sa.event.listen(engine, "rollback", self._ending)
        sa.event.listen(engine.pool, "checkout", self._checkout)
        sa.event.listen(engine.pool, "checkin", self._checkin)
        self._ending_at: float | None = None

    def _before(self, conn: Any, *_args: Any) -> None:
        conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn: Any, *_args: Any) -> None:
        self.seconds += time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())
        self.statements += 1

    def _ending(self, _conn: Any) -> None:
        if self._ending_at is None:
            self._ending_at = time.perf_counter()

    def _checkout(self, *_args: Any) -> None:
        self.transactions += 1

    def _checkin(self, *_args: Any) -> None:
        if self._ending_at is not None:
            self.seconds += time.perf_counter() - self._ending_at
            self._ending_at = None

    def reading(self) -> tuple[float, int, int]:
        return self.seconds, self.transactions, self.statements


def _cpu_seconds() -> float:
    """CPU used so far by this process and its children that are still running (the desk's
    face processes): what one desk asks of the machine's cores."""
    tick = os.sysconf("SC_CLK_TCK")
    me = os.getpid()
    total = time.process_time()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == me:  # ppid
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


@contextmanager
def _card_on_reader(card: Any, pcscd: bool) -> Iterator[Any]:
    """The card presented: in process, or to pcscd's virtual reader (the desk's PC/SC path)."""
    from examdesk.views.cards import LoopbackCards
    from reader.transport import PcscTransport
    from reader.virtual import VpcdConnection

    if not pcscd:
        cards = LoopbackCards()
        cards.put(card)
        yield cards
        return

    class Pcsc:
        def open(self, wait: float) -> Any:
            return PcscTransport.open(READER, wait=wait)

    _wait_present(False)
    link = VpcdConnection(card)
    link.start()
    try:
        _wait_present(True)
        yield Pcsc()
    finally:
        link.stop()


def _wait_present(present: bool) -> None:
    from reader.transport import PcscContext

    with PcscContext() as ctx:
        if not ctx.wait_presence(READER, present, 10):
            raise SystemExit("pcscd does not see the virtual card change")


def _desk(url: str, root: str, desk: int, plan: list[Planned], pace: float | None,
          offset: float, pcscd: bool, start: Any, out: Any) -> None:
    """One desk's process: its check-ins, each whole one timed; a row per check-in goes back
    through ``out``. Each stored check-in's id is appended to ``acks-<desk>`` (its
    acknowledgement) for --kill-seed."""
    from biometrics import Camera, Challenge, FaceSettings, FileCamera
    from biometrics.config import ORL_POINT
    from biometrics.remote import ProcessFaceEngine, portrait_engine
    from examdesk.services.checkin import CheckInRequest, run_checkin
    from proctoring.checkin import CheckInService
    from proctoring.models import ExamSession
    from proctoring.stations import this_station
    from proctoring.store import Store
    from reader.keys import Can
    from reader.trust.policy import Policy
    from reader.trust.report import assess
    from reader.trust.store import TrustStore
    from reader.virtual import VirtualCccd, faces_dir, load_profile
    from reader.virtual.pki import test_csca_pem
    from reader.virtual.profile import Portrait

    frames = [faces_dir() / "orl" / FACE / f"{n}.png" for n in FRAMES]
    base = load_profile("nguyen-van-an")
    base = dataclasses.replace(base, portrait=Portrait(f"orl/{FACE}/10.png", "jpeg2000"))
    trust_store = TrustStore.from_files({"csca.pem": test_csca_pem()})

    class Trust:
        def policy(self) -> Policy:
            return Policy()

        def assess(self, card: Any) -> Any:
            return assess(card, trust_store, Policy(), today=TODAY)

    def camera() -> Camera:
        return FileCamera(frames, loop=True, frame_size=(1280, 720))

    # ORL photos: the centre's calibration is ORL's, as in bench/checkin.py. Both engines in
    # face processes of their own, as the desk runs them (dlib holds the GIL).
    settings = FaceSettings().with_operating_point(ORL_POINT)
    engine = ProcessFaceEngine(settings)
    second = portrait_engine(settings)
    store = Store.open(url, keys=_desk_keys(Path(root), desk))
    acks = (Path(root) / f"acks-{desk}").open("a")
    try:
        engine.load()
        if second is not None:
            second.load()
        station = this_station(store)
        service = CheckInService(store, engine, desk=station.name if station else None,
                                 portrait_engine=second)
        meter = CentreMeter(store.engine)
        with store.read() as tx:  # the desk opened the session before the door opened
            sessions = {p.session_id: tx.get(ExamSession, uuid.UUID(p.session_id))
                        for p in plan}
        cards = [VirtualCccd(dataclasses.replace(base, holder=dataclasses.replace(
            base.holder, id_number=p.id_number, date_of_birth=date(1990, 1, 1), sex="Nam")))
            for p in plan]
        rows = []
        start.wait()
        began_all = time.monotonic() + offset
        for k, (p, card) in enumerate(zip(plan, cards, strict=True)):
            late = 0.0
            if pace is not None:
                due = began_all + k * pace
                late = max(0.0, time.monotonic() - due)
                time.sleep(max(0.0, due - time.monotonic()))
            session = sessions[p.session_id]
            assert session is not None
            request = CheckInRequest(session, (Can(card.access_data()["can"]),), consent=True,
                                     actor=f"bench:desk{desk}", challenge=Challenge.BLINK,
                                     checkin_id=uuid.UUID(p.checkin_id))
            with _card_on_reader(card, pcscd) as reader:
                centre0, tx0, st0 = meter.reading()
                cpu0, t0 = _cpu_seconds(), time.perf_counter()
                outcome = run_checkin(request, cards=reader, trust=Trust(),  # type: ignore[arg-type]
                                      service=service, camera=camera)
                whole = time.perf_counter() - t0
                cpu = _cpu_seconds() - cpu0
                centre1, tx1, st1 = meter.reading()
            acks.write(f"{outcome.checkin_id}\n")
            acks.flush()  # in the OS's hands: a SIGKILL of this process does not lose it
            rows.append({"whole": whole, "centre": centre1 - centre0, "cpu": cpu,
                         "tx": tx1 - tx0, "statements": st1 - st0, "late": late,
                         "decision": outcome.decision.value})
        out.put((desk, rows))
    finally:
        acks.close()
        store.close()
        for child in (engine, second):
            if child is not None:
                child.close()


def _acked(root: Path, desk: int) -> list[str]:
    path = root / f"acks-{desk}"
    if not path.exists():
        return []
    lines = path.read_text().split("\n")
    return [line for line in lines[:-1] if line]  # a torn last line was never acknowledged


@dataclasses.dataclass(frozen=True)
class Ran:
    rows: dict[int, list[dict[str, Any]]]
    waits: dict[str, int]
    killed: dict[str, int] | None


def _run(url: str, root: Path, plans: dict[tuple[int, int], list[Planned]], block: int,
         desks: int, pace: float | None, pcscd: bool,
         kill: random.Random | None = None) -> Ran:
    """The desks of ``block`` at once; with ``kill``, one of them is SIGKILLed at a random point
    and restarted to finish its check-ins (its rows are the restarted process's)."""
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(desks)
    out = ctx.Queue()
    # Paced desks start a pace apart over one period: doors are not synchronised.
    offsets = [0.0 if pace is None else d * pace / desks for d in range(desks)]
    procs = {d: ctx.Process(target=_desk, args=(url, str(root), d, plans[block, d], pace,
                                                offsets[d], pcscd and d == 0, start, out))
             for d in range(desks)}
    for p in procs.values():
        p.start()
    watch = _Waits(url)
    victim, killed, done = None, None, 0
    if kill is not None:
        n = len(plans[block, 0])
        victim, after = kill.choice(range(desks)), kill.randint(1, n - 1)
        before = len(_acked(root, victim))
        while len(_acked(root, victim)) < before + after and procs[victim].is_alive():
            time.sleep(0.005)
        time.sleep(kill.uniform(0.0, 0.5))
        os.kill(procs[victim].pid or 0, signal.SIGKILL)
        procs[victim].join()
        done = len(_acked(root, victim)) - before
        killed = {"desk": victim, "acknowledged_before_kill": done}
    rows = _collect(out, [p for d, p in procs.items() if d != victim])
    if victim is not None:  # the killed desk resumes where its acknowledgements stop
        gate = ctx.Barrier(1)
        again = ctx.Process(target=_desk, args=(
            url, str(root), victim, plans[block, victim][done:],
            pace, 0.0, pcscd and victim == 0, gate, out))
        again.start()
        rows.update(_collect(out, [again]))
        again.join()
        procs[victim] = again
    watch.stop()
    for p in procs.values():
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"a desk process failed (exit {p.exitcode})")
    return Ran(rows, dict(watch.counts), killed)


def _collect(out: Any, procs: list[Any]) -> dict[int, list[dict[str, Any]]]:
    """Each desk's rows; a desk that died first (its traceback is on stderr) stops the run
    instead of leaving the others' barrier or this queue waiting forever."""
    import queue

    rows: dict[int, list[dict[str, Any]]] = {}
    while len(rows) < len(procs):
        try:
            desk, got = out.get(timeout=1.0)
            rows[desk] = got
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in procs):
                for p in procs:
                    p.kill()
                raise SystemExit("a desk process failed") from None
    return rows


class _Waits:
    """What the desks' server backends wait on while they run, sampled every 10 ms from
    ``pg_stat_activity``: ``Lock:*`` would be desks queueing on a shared row (a chain head),
    ``LWLock:WAL*``/``IO:WAL*`` the commit's flush, ``CPU`` a backend running (or runnable)."""

    SAMPLE_S = 0.01

    def __init__(self, url: str) -> None:
        import threading

        self.counts: Counter[str] = Counter()
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
            while not self._stop.wait(self.SAMPLE_S):
                for (what,) in conn.execute(query):
                    self.counts[what] += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._engine.dispose()


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def _figures(ran: Ran) -> dict[str, Any]:
    rows = [r for desk in ran.rows.values() for r in desk]
    whole = [r["whole"] for r in rows]
    centre = [r["centre"] for r in rows]
    locks = sum(v for k, v in ran.waits.items() if k.startswith("Lock:"))
    return {
        "checkins": len(rows),
        "whole_median_s": round(statistics.median(whole), 3),
        "whole_p95_s": round(_p95(whole), 3),
        "centre_median_ms": round(statistics.median(centre) * 1000, 2),
        "centre_p95_ms": round(_p95(centre) * 1000, 2),
        "desk_cpu_median_s": round(statistics.median(r["cpu"] for r in rows), 3),
        "transactions_per_checkin": statistics.median(r["tx"] for r in rows),
        "statements_per_checkin": statistics.median(r["statements"] for r in rows),
        "late_median_s": round(statistics.median(r["late"] for r in rows), 3),
        "decisions": dict(Counter(r["decision"] for r in rows)),
        # Sampled every 10 ms: a backend seen waiting on a lock in k samples waited ~10k ms.
        "lock_wait_ms": round(locks * _Waits.SAMPLE_S * 1000),
        "server_waits": ran.waits,
    }


def _choose_pace(cpu_per_checkin: float, desks: int) -> float:
    """The shortest half second at which ``desks`` desks, each using ``cpu_per_checkin`` of CPU
    per check-in, keep this machine's cores at ``TARGET_LOAD``."""
    cores = os.cpu_count() or 1
    return math.ceil(desks * cpu_per_checkin / (cores * TARGET_LOAD) * 2) / 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 desks × 3 check-ins")
    parser.add_argument("--desks", type=int, default=4)
    parser.add_argument("--n", type=int, default=50, help="check-ins per desk")
    parser.add_argument("--pace", default="auto",
                        help="seconds between a desk's check-ins in the paced runs: 'auto' "
                        "(from the single desk's CPU), a number, or 'off' (unpaced only)")
    parser.add_argument("--pcscd", action="store_true",
                        help="desk 0 reads its cards through pcscd (the virtual reader)")
    parser.add_argument("--db", help="database URL (default: a fresh local PostgreSQL one)")
    parser.add_argument("--kill-seed", type=int, default=None,
                        help="SIGKILL one desk at a random point (this seed) of the unpaced "
                        "concurrent run and restart it: no acknowledged check-in lost")
    args = parser.parse_args(argv)
    desks, n = (2, 3) if args.quick else (args.desks, args.n)
    cores = os.cpu_count() or 1
    began = time.monotonic()
    with given_or_scratch(args.db, "examdesk_bench_") as url:
        with tempfile.TemporaryDirectory(prefix="examdesk-bench-stations-") as tmp:
            root = Path(tmp)
            plans = _setup(url, root, desks, n)
            load_before = os.getloadavg()
            runs: dict[str, dict[str, Any]] = {}
            alone = _run(url, root, plans, UNPACED_ALONE, 1, None, args.pcscd)
            runs["unpaced_single"] = _figures(alone)
            together = _run(url, root, plans, UNPACED_ALL, desks, None, args.pcscd,
                            None if args.kill_seed is None else random.Random(args.kill_seed))
            runs["unpaced_concurrent"] = _figures(together)
            cpu = runs["unpaced_single"]["desk_cpu_median_s"]
            pace = None if args.pace == "off" else (
                _choose_pace(cpu, desks) if args.pace == "auto" else float(args.pace))
            if pace is not None:
                runs["paced_single"] = _figures(
                    _run(url, root, plans, PACED_ALONE, 1, pace, args.pcscd))
                runs["paced_concurrent"] = _figures(
                    _run(url, root, plans, PACED_ALL, desks, pace, args.pcscd))
            load_after = os.getloadavg()
            expected = (n + desks * n) * (2 if pace is not None else 1)
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
    mode = "paced" if pace is not None else "unpaced"
    single, multi = runs[f"{mode}_single"], runs[f"{mode}_concurrent"]
    demand = None if pace is None else desks * cpu / pace
    result = {
        "metric": f"{mode} median whole check-in, {desks} desks at once vs one desk alone",
        "unit": "s", "mode": mode,
        "ours": multi["whole_median_s"], "baseline": single["whole_median_s"],
        "ratio": round(single["whole_median_s"] / multi["whole_median_s"], 3),
        "slowdown": round(multi["whole_median_s"] / single["whole_median_s"], 3),
        "within_20_percent": multi["whole_median_s"] <= single["whole_median_s"] * 1.2,
        "pace_s": pace, "pace_cpu_demand_cores": None if demand is None else round(demand, 2),
        "backend": make_url(url).get_backend_name(), "desks": desks, "checkins_per_desk": n,
        "pcscd_desk": 0 if args.pcscd else None,
        "stored": int(stored[0]), "expected": expected,
        "stored_once": int(stored[0]) == expected == int(stored[1]),
        "chains": len(report.chains), "chains_verify": report.ok,
        "killed": together.killed, "kill_seed": args.kill_seed,
        "acknowledged": len(acked), "acknowledged_lost": len(lost),
        "elapsed_s": round(time.monotonic() - began, 1),
        "cpus": cores, "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "results": runs,
    }
    for name, f in runs.items():
        print(f"{name:>18}: whole median {f['whole_median_s']} s (p95 {f['whole_p95_s']}), "
              f"centre {f['centre_median_ms']} ms (p95 {f['centre_p95_ms']}), desk CPU "
              f"{f['desk_cpu_median_s']} s, {f['transactions_per_checkin']} tx / "
              f"{f['statements_per_checkin']} statements, lock waits ~{f['lock_wait_ms']} ms, "
              f"{f['decisions']}")
    if pace is not None:
        print(f"pace {pace} s: {desks} desks × {cpu} s CPU per check-in / {pace} s = "
              f"{demand:.2f} of {cores} cores ({'within' if demand <= cores else 'OVER'} the "
              f"machine; target {TARGET_LOAD:.0%})")
    for m in ("unpaced", "paced"):
        if f"{m}_single" in runs:
            a, b = runs[f"{m}_single"], runs[f"{m}_concurrent"]
            print(f"{m}: one desk {a['whole_median_s']} s → {desks} desks "
                  f"{b['whole_median_s']} s (× {b['whole_median_s'] / a['whole_median_s']:.2f});"
                  f" centre {a['centre_median_ms']} → {b['centre_median_ms']} ms")
    print(f"stored {result['stored']} of {expected}; {result['chains']} chains, "
          f"{'all verify' if report.ok else 'NOT ALL VERIFY'}; load {result['load_before']} → "
          f"{result['load_after']}")
    if args.kill_seed is not None:
        print(f"killed {together.killed}, restarted: {len(lost)} of {len(acked)} "
              "acknowledged check-ins lost")
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result["stored_once"] and report.ok and not lost else 1


if __name__ == "__main__":
    sys.exit(main())
