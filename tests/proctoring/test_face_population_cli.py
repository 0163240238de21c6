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

    result = cli.invoke(app, ["face", "drift", "--json"])
    assert result.exit_code == 0, result.stderr
    check = json.loads(result.stdout)
    assert check["drifted"] is False
    assert check["threshold"] == out["operating_point"]["threshold"]
