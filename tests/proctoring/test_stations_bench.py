"""bench/stations.py --quick through the real stack (issue 17's acceptance run, small): desk
processes on one scratch PostgreSQL, whole check-ins through the use case, paced and unpaced.
Asserts what the run must keep whatever the machine's speed — everything stored once, every
chain verifies, the figures present and counted — and never a time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.pgscratch import scratch_database
from tests.test_bench_contract import last_line_contract

REPO = Path(__file__).resolve().parents[2]


def test_the_quick_stations_bench_stores_every_checkin_once(postgres_admin_url: str) -> None:
    with scratch_database(postgres_admin_url, "examdesk_test_bench_") as url:
        # A fixed pace: the test is about what is stored and reported, not the chosen pace.
        proc = subprocess.run([sys.executable, str(REPO / "bench" / "stations.py"), "--quick",
                               "--pace", "1", "--db", url], capture_output=True, text=True,
                              timeout=900, check=False, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = last_line_contract(proc.stdout)
    assert result["mode"] == "paced" and result["pace_s"] == 1.0
    assert result["stored_once"] and result["stored"] == result["expected"] == 2 * 3 + 2 * 2 * 3
    assert result["chains_verify"] and result["acknowledged_lost"] == 0
    runs = result["results"]
    assert set(runs) == {"unpaced_single", "unpaced_concurrent", "paced_single",
                         "paced_concurrent"}
    for name, run in runs.items():
        assert run["checkins"] == (3 if name.endswith("single") else 6)
        assert run["decisions"] == {"ADMIT": run["checkins"]}
        # Counted at the desk's driver: a check-in reads and writes the centre.
        assert run["transactions_per_checkin"] >= 2 and run["statements_per_checkin"] >= 10
        assert run["centre_median_ms"] > 0
