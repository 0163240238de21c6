"""What the seat agent costs on an exam PC: CPU % of one core, RSS, per-check latency.

The agent runs as it does in `examdesk seat`: every 2 s a frame from a file camera (real ORL
photos of one person fitted into 1280×720 webcam frames, as a candidate sitting still), the
agent's decision, the local buffer and the heartbeat written to a real store (SQLite, synchronous
FULL). Each mode runs in its own process so its RSS is its own; CPU is the process's user +
system time over the wall time of the watching loop (model loading excluded, reported apart).

Ours: HOG on the reduced frame (live detection, faces ≥ 120 px) and the encoder only when the
face moved or every 3rd check. Baseline, the naive way: HOG on the full frame (faces ≥ 80 px,
no reduction) and the encoder on every check, everything else equal.

    .venv/bin/python bench/seat.py [--quick] [--seconds 120] [--interval 2]

Goal (issue 18): ≤ 15 % of one core at a 2 s interval, ≤ 300 MB RSS. Prints one line per
figure, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(mode: str, seconds: float, interval: float) -> dict[str, Any]:
    from biometrics import FaceEngine, FileCamera, enrol
    from biometrics.config import Detection
    from proctoring.centres import ensure_centre
    from proctoring.checkins import CheckInInput, Reason, embedding_item, record_checkin
    from proctoring.crypto import KeyStore
    from proctoring.models import Candidate, Decision, RosterEntry, SessionKind
    from proctoring.seat import ConsentAnswer, SeatAgent
    from proctoring.seat_buffer import SeatBuffer
    from proctoring.seat_run import SeatObserver, SeatRunner
    from proctoring.seat_store import seat_place
    from proctoring.sessions import create_session
    from proctoring.store import Store
    from reader.virtual import faces_dir

    folder = Path(tempfile.mkdtemp(prefix="bench-seat-"))
    load_start = time.perf_counter()
    # The seat never needs the 68-point landmarks; the naive baseline loads everything.
    engine = FaceEngine(landmarks_68=mode == "baseline")
    engine.load()
    if mode == "baseline":
        from dataclasses import replace

        engine.settings = replace(engine.settings, live=Detection(min_face_px=80, fallback=False))
    load_s = time.perf_counter() - load_start
    own = faces_dir() / "orl" / "s27"
    store = Store.open(f"sqlite:///{folder / 'examdesk.db'}",
                       keys=KeyStore(folder / "keys", use_keyring=False))
    centre = ensure_centre(store, "HN01", "Trung tâm", actor="bench")
    session = create_session(store, centre_id=centre.id, kind=SessionKind.ONLINE_EXAM,
                             title="Bench", starts_at=datetime.now(UTC), code="S1",
                             actor="bench")
    with store.write() as tx:
        cand = Candidate(centre_id=centre.id, id_number="001093014275",
                         full_name="Nguyễn Văn An", date_of_birth=datetime(1993, 5, 14).date(),
                         sex="M")
        tx.add(cand)
        tx.flush()
        entry = RosterEntry(centre_id=centre.id, session_id=session.id, candidate_id=cand.id,
                            registration_number="001", seat="A01", position=1)
        tx.add(entry)
    reference = enrol(engine, (own / "10.png").read_bytes()).embedding
    record_checkin(store, CheckInInput(
        session_id=session.id, id_number="001093014275", decision=Decision.ADMIT,
        reasons=[Reason("checkin.face_match")], consent=True, started_at=datetime.now(UTC),
        roster_entry_id=entry.id, evidence=[embedding_item(np.asarray(reference))]),
        actor="bench")
    camera = FileCamera([own / f"{n}.png" for n in range(1, 10)], loop=True,
                        frame_size=(1280, 720))
    observer = SeatObserver(engine, reencode_every=3 if mode == "ours" else 1, same_place=(
        0.6 if mode == "ours" else 2.0))
    runner = SeatRunner(agent=SeatAgent(engine.settings.operating_point),
                        observer=observer, camera=camera,
                        buffer=SeatBuffer(folder / "seat.db", store.data_key), store=store,
                        place=seat_place(store, "S1", "A01"), actor="bench",
                        clock=lambda: datetime.now(UTC),
                        # The simulated candidate said yes to the seat's consent text.
                        consent=lambda _admission: ConsentAnswer(True, "0" * 64, "vi"))
    runner.start()
    runner.step()  # binds; not counted
    latencies = []
    cpu0, wall0 = os.times(), time.perf_counter()
    checks = 0
    while time.perf_counter() - wall0 < seconds:
        began = time.perf_counter()
        result = runner.step()
        latencies.append((time.perf_counter() - began) * 1000)
        checks += 1
        time.sleep(max(0.0, interval - (time.perf_counter() - began)))
    cpu1, wall1 = os.times(), time.perf_counter()
    runner.stop()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return {"mode": mode, "checks": checks, "state": result.state.value,
            "cpu_percent": 100 * cpu / (wall1 - wall0),
            "rss_mb": rss_mb(), "peak_rss_mb": rss_mb("VmHWM"),
            "latency_ms_median": statistics.median(latencies),
            "latency_ms_p95": sorted(latencies)[int(0.95 * (len(latencies) - 1))],
            "encoded": observer.encoded, "load_s": load_s}


def run_child(mode: str, seconds: float, interval: float) -> dict[str, Any]:
    env = {**os.environ, "EXAMDESK_KEYRING": "0",
           "EXAMDESK_HOME": tempfile.mkdtemp(prefix="bench-seat-home-")}
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--seconds", str(seconds),
                          "--interval", str(interval)], capture_output=True, text=True,
                         env=env, cwd=REPO, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="15 s per mode (under a minute)")
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--child", choices=("ours", "baseline"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    seconds = 15.0 if args.quick else args.seconds
    if args.child:
        print(json.dumps(child(args.child, seconds, args.interval)))
        return
    load = os.getloadavg()
    ours = run_child("ours", seconds, args.interval)
    base = run_child("baseline", seconds, args.interval)
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} at start "
          f"(shared: figures vary with what else runs)")
    print(f"interval {args.interval} s, {seconds:.0f} s per mode; checks: ours {ours['checks']}, "
          f"baseline {base['checks']}; encoder ran on {ours['encoded']} / {base['encoded']} "
          "checks")
    rows = [("cpu_percent_one_core", "%", "cpu_percent"), ("rss", "MB", "rss_mb"),
            ("peak_rss", "MB", "peak_rss_mb"),
            ("check_latency_median", "ms", "latency_ms_median"),
            ("check_latency_p95", "ms", "latency_ms_p95")]
    results = []
    for metric, unit, key in rows:
        o, b = float(ours[key]), float(base[key])
        ratio = b / o if o else float("inf")
        print(f"{metric:24s} ours {o:8.1f} {unit:3s} baseline {b:8.1f} {unit:3s} "
              f"ratio {ratio:5.2f}")
        results.append({"metric": metric, "unit": unit, "ours": round(o, 2),
                        "baseline": round(b, 2), "ratio": round(ratio, 3)})
    goal = ours["cpu_percent"] <= 15 and ours["peak_rss_mb"] <= 300
    print(f"goal (≤ 15 % of one core, ≤ 300 MB): {'met' if goal else 'NOT met'}; "
          f"models load in {ours['load_s']:.1f} s")
    head = results[0]
    print(json.dumps({**head, "goal_met": goal, "interval_s": args.interval,
                      "seconds": seconds, "load_average": round(load[0], 2),
                      "results": results}))


if __name__ == "__main__":
    main()
