"""`examdesk district|sync|review`: what the office and a centre type, what they see."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from examdesk.cli import app
from proctoring.checkins import record_override
from proctoring.crypto import KeyStore
from proctoring.models import Decision
from proctoring.store import Store
from tests.proctoring.helpers import add_roster
from tests.reports.conftest import pdftotext

from .builders import ACTOR, admit, person, unit
from .pgcluster import PrivateCluster, free_port


@pytest.fixture
def blank_database(cluster: PrivateCluster) -> Iterator[str]:
    with cluster.scratch_database("cli_") as name:
        yield cluster.url(name)


class Machine:
    """One computer: its EXAMDESK_HOME (keys), its local database."""

    def __init__(self, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.home = home
        self.monkeypatch = monkeypatch
        self.db = f"sqlite:///{home / 'examdesk.db'}"

    def run(self, *args: str, central: str | None = None) -> tuple[int, str, str]:
        self.monkeypatch.setenv("EXAMDESK_HOME", str(self.home))
        self.monkeypatch.setenv("EXAMDESK_DB_URL", self.db)
        if central:
            self.monkeypatch.setenv("EXAMDESK_CENTRAL_URL", central)
        else:
            self.monkeypatch.delenv("EXAMDESK_CENTRAL_URL", raising=False)
        result = CliRunner().invoke(app, list(args))
        return result.exit_code, result.stdout, result.stderr

    def run_process(self, *args: str, central: str | None = None) -> tuple[int, str, str]:
        """The installed console script in its own process (as the operator types it)."""
        script = Path(sys.executable).with_name("examdesk")
        argv = [str(script)] if script.exists() else [sys.executable, "-m", "examdesk.cli"]
        env = {**os.environ, "EXAMDESK_HOME": str(self.home), "EXAMDESK_DB_URL": self.db}
        env.pop("EXAMDESK_CENTRAL_URL", None)
        if central:
            env["EXAMDESK_CENTRAL_URL"] = central
        done = subprocess.run([*argv, *args], env=env, capture_output=True, text=True,
                              timeout=120, check=False)
        return done.returncode, done.stdout, done.stderr

    def store(self) -> Store:
        return Store.open(self.db, keys=KeyStore(self.home / "config" / "keys",
                                                 use_keyring=False))


def test_the_district_from_the_command_line(blank_database: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    office, centre = Machine(tmp_path / "office", monkeypatch), Machine(tmp_path / "hn01",
                                                                         monkeypatch)
    secret = tmp_path / "pw"
    secret.write_text("Mat-khau-so-2026\n")
    code, out, err = office.run("district", "init", "--admin-url", blank_database, "--code",
                                "SGD-HN", "--name", "Sở GD&ĐT Hà Nội", "--office-role",
                                "office_cli", "--password-file", str(secret), "--json")
    assert code == 0, err
    setup = json.loads(out)
    office_url = setup["office"]["url"]
    assert "Mat-khau-so-2026" in office_url and len(setup["box_public_key"]) == 64
    code, out, _ = office.run("district", "add-centre", "HN01", "--admin-url", blank_database,
                              "--json")
    centre_url = json.loads(out)["url"]
    code, out, _ = office.run("district", "add-centre", "HN01", "--admin-url", blank_database,
                              "--lang", "en")
    assert code == 0 and "EXAMDESK_CENTRAL_URL=" in out  # a new password, printed once

    # The centre: a session and two check-ins, one overridden.
    code, _, err = centre.run("session", "create", "--title", "Sát hạch", "--starts",
                              "12/06/2026 07:30", "--code", "S1", "--centre", "HN01")
    assert code == 0, err
    store = centre.store()
    try:
        from proctoring.sessions import find_session

        with store.read() as tx:
            session = find_session(tx, "S1")
        entries = add_roster(store, session, [person(1), person(2)])
        first = admit(store, session, entries[0], person(1)[0], unit(1)).checkin
        admit(store, session, entries[1], person(2)[0], unit(2))
        record_override(store, first.id, decision=Decision.REJECT, reason="Không khớp",
                        operator_id=None, actor=ACTOR)
    finally:
        store.close()
    code, out, err = centre.run("sync", "--json")
    assert code == 2 and json.loads(out)["error"]["key"] == "sync.not_configured"
    code, out, err = centre.run("sync", "--register-as", "HN01", "--json", central=centre_url)
    assert code == 6, out  # the first password was replaced by add-centre's second run
    assert json.loads(out)["error"]["key"] == "sync.access_refused"
    centre_url = json.loads(office.run("district", "add-centre", "HN01", "--admin-url",
                                       blank_database, "--json")[1])["url"]
    # A mistyped address is not kept; the accepted one is, as a secret (0600), not in settings.
    wrong = sa.make_url(centre_url).set(password="typo").render_as_string(hide_password=False)
    code, _, err = centre.run("sync", "--central", wrong, "--save")
    assert code == 6 and "chưa được lưu" in err and "was not saved" in err
    code, out, err = centre.run("sync", "--json", "--central", centre_url, "--save")
    assert code == 0, err
    done = json.loads(out)
    assert done["ok"] and done["rows"]["checkin"] == 2 and done["pending"] == 0
    saved = Path(done["saved"])  # EXAMDESK_KEYRING=0 here: the file, not the keyring
    assert saved.parent == centre.home / "config" / "keys"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    password = sa.make_url(centre_url).password
    assert password and password not in "".join(
        p.read_text("utf-8") for p in (centre.home / "config").glob("*.json"))
    code, out, _ = centre.run("sync", "--status", "--lang", "en")  # no address given
    assert code == 0 and "waiting to be sent: 0 event(s)" in out
    assert "District address: postgresql+psycopg://centre_hn01:***@" in out

    # The office: centres, screen, review, report.
    code, out, _ = office.run("district", "centres", "--json", central=office_url)
    assert [(m["code"], m["events"]) for m in json.loads(out)] == [("HN01", 6)]
    code, out, _ = office.run("district", "screen", "--json", central=office_url)
    assert code == 0 and json.loads(out)["screened"] == 1  # the other was rejected
    assert json.loads(out)["index"] is None  # no `district reindex` yet: the exact scan
    code, out, err = office.run("district", "reindex", "--json", central=office_url)
    assert code == 0, err
    made = json.loads(out)
    assert made["indexed"] == 1 and Path(made["path"]).is_relative_to(office.home)
    code, out, err = office.run("district", "screen", "--json", central=office_url)
    assert code == 0 and json.loads(out)["index"]["indexed"] == 1, err
    code, out, _ = office.run("review", "list", "--centre", "HN01", "--status", "open",
                              "--json", central=office_url)
    listed = json.loads(out)
    assert [r["kind"] for r in listed] == ["OVERRIDE"]
    incident = listed[0]["id"]
    code, _, err = office.run("review", "decide", incident[:8], "--confirm", "--notes", " ",
                              central=office_url)
    assert code == 2 and "needs written notes" in err
    code, out, _ = office.run("review", "decide", incident[:8], "--confirm", "--notes",
                              "Người khác thi thay", "--lang", "en", central=office_url)
    assert code == 0 and "CONFIRMED" in out
    pictures = tmp_path / "evidence"
    code, out, err = office.run("review", "show", incident[:8], "--out", str(pictures),
                                "--json", central=office_url)
    assert code == 0, err
    shown = json.loads(out)
    assert shown["sides"][0]["portrait"]["state"] == "ok" and len(shown["written"]) == 2
    assert all(stat.S_IMODE(Path(p).stat().st_mode) == 0o600 for p in shown["written"])
    report = tmp_path / "district.csv"
    code, out, err = office.run("review", "report", "--from", "01/01/2020", "--to",
                                "31/12/2099", "--out", str(report), "--json",
                                central=office_url)
    assert code == 0, err
    assert json.loads(out)["findings"] >= 1 and "HN01" in report.read_text("utf-8")
    pdf = tmp_path / "district.pdf"
    code, out, err = office.run("review", "report", "--from", "01/01/2020", "--to",
                                "31/12/2099", "--out", str(pdf), central=office_url)
    assert code == 0, err
    text = pdftotext(pdf)
    assert "HN01" in text and "Người khác thi thay" in text

    # The decision reaches the centre, through the saved address.
    code, out, err = centre.run_process("sync", "--json")
    assert code == 0 and json.loads(out)["reviews_applied"] == 1, err
    closed = sa.make_url(centre_url).set(port=free_port()).render_as_string(hide_password=False)
    code, _, err = centre.run_process("sync", central=closed)  # the variable beats the saved
    assert code == 3 and "Không kết nối được" in err and "Cannot reach" in err
    code, out, _ = centre.run("sync", "--forget", "--lang", "en")
    assert code == 0 and "deleted" in out and not saved.exists()
    code, out, _ = centre.run("sync", "--json")
    assert code == 2 and json.loads(out)["error"]["key"] == "sync.not_configured"
