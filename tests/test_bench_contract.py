"""The benchmarks' contract (../shared/conventions.md, Performance): every bench/*.py takes
``--quick``, ``make bench`` runs each of them, and a run ends with ONE JSON line — metric, unit,
ours, baseline, ratio, none of them null — as the last line of stdout, whatever it printed
before. The cheap benchmarks run here at their smallest; nothing is timed: a slow machine
changes the figures, not the contract."""

from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHES = sorted((REPO / "bench").glob("*.py"))
KEYS = ("metric", "unit", "ours", "baseline", "ratio")

# The cheap ones at their smallest (seconds to tens of seconds each); the others need minutes
# of face encodings (face_population: two minutes from a cold cache on a busy machine), a
# camera's worth of frames or the PC/SC stack, and stay with `make bench`. "{tmp}": the test's
# own folder. bench/stations.py's line is checked by tests/proctoring/test_stations_bench.py,
# which runs it once anyway (four runs of desks loading their face models: a minute or more).
CHEAP = {
    "fuzz_chip": ["--quick", "--inputs", "30"],
    "lens_cover": ["--quick", "--covered", "3"],
    "liveness_stills": ["--quick"],  # 40 folders of real photos, seconds
    "double_checkin": ["--quick", "--rounds", "2", "--gallery", "3"],  # a scratch PostgreSQL
}


def last_line_contract(stdout: str) -> dict[str, Any]:
    """The last line of ``stdout`` as the contract's JSON object; fails the test otherwise."""
    lines = stdout.rstrip("\n").splitlines()
    assert lines, "no output"
    figures = json.loads(lines[-1])
    assert isinstance(figures, dict), lines[-1][:200]
    for key in KEYS:
        assert figures.get(key) is not None, f"{key} missing or null in {lines[-1][:200]}"
    assert isinstance(figures["metric"], str) and isinstance(figures["unit"], str)
    for key in ("ours", "baseline", "ratio"):
        value = figures[key]
        assert isinstance(value, int | float) and math.isfinite(value), (key, value)
    return figures


def quick_option(path: Path) -> bool:
    """Does the script declare ``--quick`` (an ``add_argument("--quick", …)`` call)?"""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add_argument" and node.args
                and isinstance(node.args[0], ast.Constant) and node.args[0].value == "--quick"):
            return True
    return False


def test_every_bench_takes_quick() -> None:
    assert BENCHES
    assert [p.name for p in BENCHES if not quick_option(p)] == []


def test_make_bench_runs_every_bench_quick() -> None:
    plan = subprocess.run(["make", "-n", "bench"], cwd=REPO, capture_output=True, text=True,
                          check=True, timeout=60).stdout
    assert [p.name for p in BENCHES if f"bench/{p.name}" not in plan] == []
    assert "--quick" in plan


@pytest.mark.parametrize("name", sorted(CHEAP))
def test_cheap_bench_ends_with_the_json_line(name: str, tmp_path: Path) -> None:
    args = [a.format(tmp=tmp_path) for a in CHEAP[name]]
    proc = subprocess.run([sys.executable, str(REPO / "bench" / f"{name}.py"), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    figures = last_line_contract(proc.stdout)
    assert figures["ratio"] > 0


@pytest.mark.parametrize("stdout", [
    "",
    "figures\n",
    '{"metric": "m", "unit": "s", "ours": 1, "baseline": 2, "ratio": 2}\nafterwards\n',
    '{"metric": "m", "unit": "s", "ours": 1, "baseline": null, "ratio": null}\n',
    '{"metric": "m", "unit": "s", "ours": 1, "baseline": 2}\n',
    '{"metric": "m", "unit": "s", "ours": 0, "baseline": 2, "ratio": NaN}\n',
    '[1, 2]\n',
])
def test_the_check_refuses_a_broken_last_line(stdout: str) -> None:
    with pytest.raises((AssertionError, ValueError)):
        last_line_contract(stdout)


def test_the_check_takes_a_good_last_line_after_other_output() -> None:
    out = 'ours 1.0 s, baseline 2.0 s\n{"metric": "m", "unit": "s", "ours": 1.0, ' \
          '"baseline": 2.0, "ratio": 2.0, "results": []}\n'
    assert last_line_contract(out)["ratio"] == 2.0
