"""`examdesk override` as an operator types it (issue 13): the check-in ID a check-in prints
(not only with --json), a unique prefix of it accepted, and admitting on a FORGED card only as
the centre admin with a second confirmation."""

from __future__ import annotations

import uuid

import pytest
from typer.testing import CliRunner

from examdesk.cli import app
from examdesk.commands.checkin import _banner
from proctoring.checkin import CheckInOutcome
from proctoring.checkins import Reason
from proctoring.models import CheckIn, Decision
from proctoring.store import Store

from .test_forged_override import REASON, forged


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("EXAMDESK_DB_URL", db_url)
    monkeypatch.setenv("EXAMDESK_CENTRE", "HN01")
    return CliRunner()


def test_override_takes_a_prefix_and_a_forged_card_needs_the_admin_twice(
        cli: CliRunner, db_url: str) -> None:
    with Store.open(db_url) as store:
        target = forged(store)
    prefix = str(target)[:8]
    base = ["override", prefix, "--decision", "ADMIT", "--reason", REASON]
    refused = cli.invoke(app, base)  # issue 13: a prefix was refused; then: accepted as any
    assert refused.exit_code == 6, refused.output
    assert "quản trị viên trung tâm" in refused.stderr and "centre admin" in refused.stderr
    unconfirmed = cli.invoke(app, [*base, "--role", "centre_admin"])
    assert unconfirmed.exit_code == 2 and "--confirm-forged" in unconfirmed.stderr
    done = cli.invoke(app, [*base, "--role", "centre_admin", "--confirm-forged", "--lang", "vi"])
    assert done.exit_code == 0, done.stderr
    assert str(target) in done.stdout and "CHO VÀO" in done.stdout.upper()
    with Store.open(db_url) as store, store.read() as tx:
        row = tx.get(CheckIn, target)
        assert row is not None and row.decision == Decision.ADMIT
    bad = cli.invoke(app, ["override", "xyz", "--decision", "REVIEW", "--reason", "x"])
    assert bad.exit_code == 2 and "xyz" in bad.stderr
    missing = cli.invoke(app, ["override", "ffffffff", "--decision", "REVIEW", "--reason", "x"])
    assert missing.exit_code == 4 and "lượt kiểm tra" in missing.stderr


def test_a_check_in_prints_its_id_without_json(capsys: pytest.CaptureFixture[str]) -> None:
    checkin_id = uuid.uuid4()
    outcome = CheckInOutcome(checkin_id, Decision.REVIEW, (Reason("checkin.no_consent"),),
                             None, None, None, None, (), None)  # type: ignore[arg-type]
    _banner(outcome, "vi")
    out = capsys.readouterr().out
    assert str(checkin_id) in out and "Mã lượt kiểm tra" in out
