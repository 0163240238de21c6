"""`examdesk face calibrate --population` and `examdesk face drift`: what the operator sees."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from examdesk.cli import app
from proctoring.store import Store

from .helpers import centre_and_session
from .population_data import population


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("EXAMDESK_DB_URL", db_url)
    monkeypatch.setenv("EXAMDESK_CENTRE", "HN01")
    return CliRunner()


def test_calibrate_refuses_then_keeps_and_drift_reports(cli: CliRunner, db_url: str) -> None:
    with Store.open(db_url) as store:  # the CLI's own key store (the isolated home's)
        session = centre_and_session(store)
        population(store, session, 10)
    result = cli.invoke(app, ["face", "drift"])
    assert result.exit_code == 1 and "face calibrate --population" in result.stderr

    result = cli.invoke(app, ["face", "calibrate", "--population", "--far", "0.01"])
    assert result.exit_code == 1
    # Bilingual, with the number of pairs there are and the number needed.
    assert ("Chưa đủ dữ liệu để hiệu chỉnh: có 135 cặp ảnh của hai người khác nhau, cần ít "
            "nhất 299") in result.stderr
    assert ("Not enough data to calibrate: 135 pairs of two different people, at least 299 "
            "needed") in result.stderr

    with Store.open(db_url) as store:
        population(store, session, 30, first=100, seed=5)
    result = cli.invoke(app, ["face", "calibrate", "--population", "--far", "0.01", "--json"])
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["fmr"]["upper_bound"] <= 0.01 and out["fnmr"]["pairs"] == 40
    assert out["operating_point"]["source"].startswith("centre population: 40 ID numbers")
    # The trade-off an admin weighs: stricter targets need more pairs than 40 people give.
    table = {row["target_fmr"]: row for row in out["tradeoff"]}
    assert table[0.0001]["threshold"] is None and table[0.0001]["needed"] == 29956
    assert table[0.01]["threshold"] == out["operating_point"]["threshold"]
    assert 0.0 <= table[0.01]["genuine_review"] <= 1.0
    assert table[0.01]["fmr_upper"] <= 0.01
    shown = cli.invoke(app, ["face", "calibrate", "--population", "--far", "0.01",
                             "--no-save"])
    assert shown.exit_code == 0 and "needs 29956 pairs" in shown.stdout
    assert "genuine to REVIEW" in shown.stdout

    result = cli.invoke(app, ["face", "drift", "--json"])
    assert result.exit_code == 0, result.stderr
    check = json.loads(result.stdout)
    assert check["drifted"] is False
    assert check["threshold"] == out["operating_point"]["threshold"]
