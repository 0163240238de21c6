"""`examdesk session|roster|audit|data`: what an operator types and sees, exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from examdesk.cli import app

from .conftest import REPO
from .test_roster import _csv, _rows


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("EXAMDESK_DB_URL", db_url)
    monkeypatch.setenv("EXAMDESK_CENTRE", "HN01")
    return CliRunner()


def _run(cli: CliRunner, *args: str) -> tuple[int, str, str]:
    result = cli.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_sessions_from_create_to_close(cli: CliRunner, tmp_path: Path) -> None:
    code, out, _ = _run(cli, "session", "create", "--kind", "driving", "--stages", "yard,theory",
                        "--title", "Sát hạch B2", "--starts", "12/06/2025 13:00", "--code", "B2",
                        "--json")
    assert code == 0
    created = json.loads(out)
    assert (created["kind"], created["stages"], created["starts_at"]) == (
        "DRIVING_TEST", ["theory", "yard"], "2025-06-12T06:00:00+00:00")
    code, _, err = _run(cli, "session", "create", "--title", "Lần hai", "--starts",
                        "13/06/2025 13:00", "--code", "B2")
    assert code == 2 and "Mã kỳ thi B2 đã được dùng" in err and "B2 is already used" in err
    code, out, _ = _run(cli, "roster", "import", str(_csv(tmp_path / "r.csv", _rows())),
                        "--session", created["id"][:8], "--lang", "en")
    assert code == 0 and "Imported 4 candidates into session B2" in out
    code, out, _ = _run(cli, "session", "show", "B2", "--json")
    shown = json.loads(out)
    assert shown["roster"] == 4
    assert shown["attendance_by_stage"]["yard"]["totals"]["absent"] == 4
    code, out, _ = _run(cli, "session", "show", "B2", "--lang", "vi")
    assert "Nguyễn Văn An" in out and "14/05/1993" in out and "[sa hình]" in out
    code, out, _ = _run(cli, "session", "list", "--lang", "en")
    assert code == 0 and "B2" in out and "Driving test (theory, yard)" in out
    code, out, _ = _run(cli, "roster", "export", "--session", "B2", "--out",
                        str(tmp_path / "out.xlsx"), "--json")
    assert code == 0 and json.loads(out)["rows"] == 4
    code, out, err = _run(cli, "roster", "export", "--session", "B2", "--out",
                          str(tmp_path / "out.xlsx" / "out.csv"), "--json")  # a file, not a folder
    assert (code, json.loads(out)["error"]["key"]) == (7, "io.output") and "out.csv" in err
    assert _run(cli, "session", "list", "--status", "maybe")[0] == 2
    # Closing asks first (issue 13): where nobody can be asked, --yes says it.
    assert _run(cli, "session", "close", "B2", "--yes")[0] == 0
    code, _, err = _run(cli, "session", "close", "B2", "--yes")
    assert code == 5 and "đã đóng" in err and "is closed" in err
    code, _, err = _run(cli, "session", "show", "nope")
    assert code == 4 and "No session “nope”" in err
    code, out, _ = _run(cli, "audit", "verify", "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["chains"][0]["events"] == 4


def test_bad_input_is_exit_2_with_one_line_per_problem(cli: CliRunner, tmp_path: Path) -> None:
    code, _, err = _run(cli, "session", "create", "--kind", "boat", "--title", "x",
                        "--starts", "2025-06-12 07:00")
    assert code == 2 and "boat" in err
    code, _, err = _run(cli, "session", "create", "--title", "x", "--starts", "mai")
    assert code == 2
    assert _run(cli, "session", "create", "--title", "Tin học", "--starts", "2025-06-12 07:00",
                "--code", "TH")[0] == 0
    rows = _rows()
    rows[1][4] = "001090012345"  # Phạm Thị Hồng is female: digit 4 must be odd
    rows[2][1] = ""
    code, out, err = _run(cli, "roster", "import", str(_csv(tmp_path / "r.csv", rows)),
                          "--session", "TH", "--json")
    assert code == 2
    lines = err.strip().splitlines()
    assert "Danh sách có 2 lỗi" in lines[0] and "nothing was imported" in lines[0]
    assert lines[1].strip().startswith("Dòng 3, cột Số định danh:")
    assert "Row 3, column id_number: ID “001090012345” does not match the sex" in lines[1]
    assert "Row 4, column full_name: is empty." in lines[2]
    rows_json = json.loads(out)["error"]["rows"]
    assert [(r["row"], r["column"], r["key"]) for r in rows_json] == [
        (3, "id_number", "roster.id_sex"), (4, "full_name", "roster.missing_value")]
    code, _, err = _run(cli, "data", "purge", "--older-than", "ba tháng")
    assert code == 2 and "90d" in err


def test_the_real_command_and_tampering(db_url: str, tmp_path: Path) -> None:
    """Through a real process, as an operator runs it; then an insider edits the log."""
    env = {**os.environ, "EXAMDESK_DB_URL": db_url, "EXAMDESK_CENTRE": "HN01",
           "EXAMDESK_LANG": "en"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "examdesk.cli", *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=60, check=False)

    created = run("session", "create", "--title", "Tin học", "--starts", "2025-06-12 07:00",
                  "--code", "TH")
    assert created.returncode == 0, created.stderr
    imported = run("roster", "import", str(_csv(tmp_path / "r.csv", _rows())), "--session", "TH")
    assert imported.returncode == 0 and "Imported 4" in imported.stdout
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq = 2"))
    engine.dispose()
    verified = run("audit", "verify")
    assert verified.returncode == 8
    assert "TAMPERING FOUND" in verified.stdout and "event(s) 2 were deleted" in verified.stdout
    purged = run("data", "purge", "--older-than", "90d", "--json")
    assert purged.returncode == 0 and json.loads(purged.stdout)["purged"] == 0


def test_audit_verify_with_a_key_file_on_another_machine(
        cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11: a machine without the centre's key cannot call the log intact on the word of
    the checkpoint rows; given the public key (``audit key``) it can."""
    assert _run(cli, "session", "create", "--title", "Toán", "--starts",
                "12/06/2025 07:30", "--code", "T1")[0] == 0
    code, out, _ = _run(cli, "audit", "key", "--json")
    [centre] = json.loads(out)
    assert code == 0 and len(centre["public_key"]) == 64
    key_file = tmp_path / "hn01.pub"
    key_file.write_text(centre["public_key"] + "\n")
    monkeypatch.setenv("EXAMDESK_HOME", str(tmp_path / "auditor"))  # no keys here
    code, out, _ = _run(cli, "audit", "verify", "--lang", "en")
    assert code == 8 and "no centre key from outside the database" in out
    code, out, _ = _run(cli, "audit", "verify", "--key", str(key_file), "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["chains"][0]["key_source"] == "file"
    (tmp_path / "bad.pub").write_text("not a key")
    code, _, err = _run(cli, "audit", "verify", "--key", str(tmp_path / "bad.pub"))
    assert code == 2 and "Ed25519" in err


def test_rotating_the_signing_key_through_the_cli(
        cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11: `keys rotate --key signing` — `audit verify` on the station and with the
    original key file both say ok across it; after a lost key (`--lost`) verify names the
    unsigned change in words and exits 8."""
    assert _run(cli, "session", "create", "--title", "Toán", "--starts",
                "12/06/2025 07:30", "--code", "T1")[0] == 0
    code, out, _ = _run(cli, "audit", "key", "--json")
    key_file = tmp_path / "hn01.pub"
    key_file.write_text(json.loads(out)[0]["public_key"] + "\n")
    code, out, err = _run(cli, "keys", "rotate", "--key", "signing", "--reason", "định kỳ",
                          "--lang", "en")
    assert code == 0 and "signed the change" in out, err
    assert _run(cli, "session", "create", "--title", "Văn", "--starts",
                "12/06/2025 09:30", "--code", "T2")[0] == 0
    code, out, _ = _run(cli, "audit", "verify", "--lang", "en")
    assert code == 0, out
    code, out, _ = _run(cli, "keys", "status", "--json")
    assert {(k["status"], k["here"]) for k in json.loads(out)["keys"]
            if k["purpose"] == "SIGNING"} == {("CURRENT", "yes"), ("RETIRED", "yes")}
    code, out, _ = _run(cli, "keys", "status", "--lang", "en")
    assert "replaced (it signed the change)" in out and "NOT on this machine" not in out
    home = Path(os.environ["EXAMDESK_HOME"])
    monkeypatch.setenv("EXAMDESK_HOME", str(tmp_path / "auditor"))  # no keys here
    code, out, _ = _run(cli, "audit", "verify", "--key", str(key_file), "--json")
    assert code == 0 and json.loads(out)["ok"], out
    monkeypatch.setenv("EXAMDESK_HOME", str(home))
    # The key is lost: refused without --lost, then an unsigned change that verify reports.
    for key in (home / "config" / "keys").glob("audit-*.key"):
        if key.name.count(".") == 1:  # the key in use (not a kept, retired one)
            key.unlink()
    code, _, err = _run(cli, "keys", "rotate", "--key", "signing", "--reason", "x")
    assert code == 3 and "Traceback" not in err
    code, out, _ = _run(cli, "keys", "rotate", "--key", "signing", "--reason", "ổ đĩa hỏng",
                        "--lost", "--lang", "vi")
    assert code == 0 and "đã mất" in out
    code, out, _ = _run(cli, "audit", "verify", "--lang", "en")
    assert code == 8
    assert "the signing key was replaced without the old key's signature at event" in out
    assert "ổ đĩa hỏng" in out and "modified" not in out and "does not verify" not in out
    assert "no event was found changed" in out and "TAMPERING" not in out
