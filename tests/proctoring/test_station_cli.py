"""`examdesk station …` and `audit verify` with stations: what a centre admin types and sees,
with two desks (two homes, so two key stores) on one database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from examdesk.cli import app


@pytest.fixture
def run(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("EXAMDESK_DB_URL", db_url)
    monkeypatch.setenv("EXAMDESK_CENTRE", "HN01")
    cli = CliRunner()

    def invoke(desk: str, *args: str) -> tuple[int, str, str]:
        monkeypatch.setenv("EXAMDESK_HOME", str(tmp_path / f"home-{desk}"))
        result = cli.invoke(app, list(args))
        return result.exit_code, result.stdout, result.stderr

    return invoke


def test_enrol_approve_list_revoke_rotate_and_verify(run) -> None:  # type: ignore[no-untyped-def]
    code, _, _ = run("a", "session", "create", "--title", "Sát hạch", "--starts",
                     "12/06/2026 07:30", "--code", "B2")
    assert code == 0
    code, out, _ = run("a", "station", "enrol", "--name", "Phòng lý thuyết", "--stages",
                       "theory", "--lang", "vi")
    assert code == 0 and "Phòng lý thuyết" in out and "đang hoạt động" in out
    code, out, _ = run("b", "station", "enrol", "--name", "Sân 1", "--stages", "theory,track",
                       "--json")
    assert code == 0
    b = json.loads(out)
    assert (b["status"], b["stages"]) == ("PENDING", ["theory", "yard"])
    code, _, err = run("b", "station", "enrol", "--name", "Sân 9")
    assert code == 3 and "never replaces existing keys" in err and "không bao giờ" in err
    code, _, err = run("b", "session", "create", "--title", "x", "--starts",
                       "12/06/2026 07:30", "--code", "B3")
    assert code == 8 and "chưa được duyệt" in err and "not approved yet" in err
    code, _, err = run("a", "station", "approve", "Sân 1", "--fingerprint",
                       "0000-1111-2222-3333-4444")
    assert code != 0 and "không khớp" in err and "does not match" in err
    code, out, _ = run("a", "station", "approve", "Sân 1", "--lang", "en",
                       "--fingerprint", b["fingerprint"].lower())
    assert code == 0 and b["fingerprint"] in out
    code, out, _ = run("b", "station", "list", "--json")
    listed = {s["name"]: s for s in json.loads(out)["stations"]}
    assert listed["Sân 1"]["this_desk"] and listed["Sân 1"]["status"] == "ACTIVE"
    code, _, _ = run("b", "session", "create", "--title", "y", "--starts",
                     "12/06/2026 07:30", "--code", "B4")
    assert code == 0
    code, out, _ = run("a", "audit", "verify", "--lang", "en")
    assert code == 0, out
    assert "Station Sân 1 (centre HN01)" in out and "the log is intact" in out
    code, _, _ = run("a", "station", "revoke", "Sân 1", "--reason", "máy bị mất")
    assert code == 0
    code, _, err = run("b", "session", "create", "--title", "z", "--starts",
                       "12/06/2026 07:30", "--code", "B5")
    assert code == 8 and "đã bị thu hồi" in err and "was revoked" in err
    code, out, _ = run("a", "station", "rotate-data-key", "--reason", "máy bị mất", "--json")
    assert code == 0 and json.loads(out)["stations"] == ["Phòng lý thuyết"]
    code, out, _ = run("a", "audit", "verify", "--json")
    assert code == 0 and json.loads(out)["ok"]
