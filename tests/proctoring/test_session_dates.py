"""Session dates (issue 13, "overrides and dates"): a start is a date and a time, within the
years exams by chip card can have; closing asks, and a closed session reopens only with a
reason, in the audit log; a check-in on another day than its session's is said."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from examdesk.cli import app
from examdesk.commands.checkin import _warn_other_day
from proctoring.centres import ensure_centre
from proctoring.errors import (
    MomentNeedsTime,
    SessionClosed,
    SessionNotClosed,
    SessionReopenNeedsReason,
    SessionStartImplausible,
)
from proctoring.models import AuditEvent, SessionKind, SessionStatus
from proctoring.session_dates import checkin_day
from proctoring.sessions import (
    close_session,
    create_session,
    parse_moment,
    reopen_session,
    require_open,
)
from proctoring.store import Store

from .helpers import ACTOR, centre_and_session


@pytest.mark.parametrize("typed", ["2026-12-01", "01/12/2026", "20261201"])
def test_a_date_without_a_time_is_refused_not_midnight(typed: str) -> None:
    with pytest.raises(MomentNeedsTime) as refused:  # issue 13: silently 00:00
        parse_moment(typed, "starts")
    assert refused.value.context == {"field": "starts", "value": typed}
    assert parse_moment(typed.replace("20261201", "2026-12-01") + " 07:30", "starts") == \
        datetime(2026, 12, 1, 0, 30, tzinfo=UTC)


def test_a_start_no_exam_can_have_is_refused(store: Store) -> None:
    centre = ensure_centre(store, "HN01", "Trung tâm Hà Nội", actor=ACTOR)
    now = store.now()
    for wrong in (datetime(1926, 12, 1, 0, 30, tzinfo=UTC), now + timedelta(days=3 * 365)):
        with pytest.raises(SessionStartImplausible):  # issue 13: 1926 was accepted
            create_session(store, centre_id=centre.id, kind=SessionKind.ONLINE_EXAM,
                           title="Toán", starts_at=wrong, actor=ACTOR)
    create_session(store, centre_id=centre.id, kind=SessionKind.ONLINE_EXAM, title="Toán",
                   starts_at=now + timedelta(days=30), actor=ACTOR)


def test_a_closed_session_reopens_only_with_a_reason_in_the_audit_log(store: Store) -> None:
    session = centre_and_session(store)
    with pytest.raises(SessionNotClosed):
        reopen_session(store, session.code, reason="x", actor=ACTOR)
    close_session(store, session.code, actor=ACTOR)
    with pytest.raises(SessionReopenNeedsReason):
        reopen_session(store, session.code, reason="   ", actor=ACTOR)
    opened = reopen_session(store, session.code, reason="Thí sinh SBD007 đến muộn có giấy",
                            actor=ACTOR)
    assert opened.status is SessionStatus.OPEN and opened.closed_at is None
    require_open(opened)
    with store.read() as tx:
        event = tx.exec(select(AuditEvent).where(AuditEvent.action == "session.reopened")).one()
    payload = json.loads(event.payload)
    assert payload["reason"] == "Thí sinh SBD007 đến muộn có giấy" and payload["closed_at"]
    close_session(store, session.code, actor=ACTOR)
    with store.read() as tx, pytest.raises(SessionClosed):
        from proctoring.sessions import find_session
        require_open(find_session(tx, session.code))


def test_a_check_in_on_another_day_is_said(store: Store,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    session = centre_and_session(store)  # 12/06/2025 07:30 in Hanoi
    assert checkin_day(session, datetime(2025, 6, 12, 16, 59, tzinfo=UTC)) is None  # 23:59
    later = checkin_day(session, datetime(2025, 6, 14, 1, 0, tzinfo=UTC))
    assert later is not None and later.days == 2
    _warn_other_day(session, datetime(2025, 6, 14, 1, 0, tzinfo=UTC), "vi")
    err = capsys.readouterr().err
    assert "12/06/2025" in err and "14/06/2025" in err and "2 ngày sau" in err
    _warn_other_day(session, datetime(2025, 6, 12, 3, 0, tzinfo=UTC), "vi")
    assert capsys.readouterr().err == ""


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("EXAMDESK_DB_URL", db_url)
    monkeypatch.setenv("EXAMDESK_CENTRE", "HN01")
    return CliRunner()


def test_the_commands(cli: CliRunner) -> None:
    no_time = cli.invoke(app, ["session", "create", "--title", "Toán", "--starts", "2026-12-01"])
    assert no_time.exit_code == 2 and "thiếu giờ" in no_time.stderr
    old = cli.invoke(app, ["session", "create", "--title", "Toán", "--starts",
                           "1926-12-01 07:30"])
    assert old.exit_code == 2 and "năm" in old.stderr
    made = cli.invoke(app, ["session", "create", "--title", "Toán", "--starts",
                            "2025-06-12 07:30", "--code", "T1"])
    assert made.exit_code == 0, made.stderr
    unasked = cli.invoke(app, ["session", "close", "T1"])  # issue 13: closed at once
    assert unasked.exit_code == 2 and "--yes" in unasked.stderr
    declined = cli.invoke(app, ["session", "close", "T1"], input="n\n")
    assert declined.exit_code == 2  # CliRunner's stdin is no terminal: never asked
    assert cli.invoke(app, ["session", "close", "T1", "--yes"]).exit_code == 0
    no_reason = cli.invoke(app, ["session", "reopen", "T1", "--reason", " "])
    assert no_reason.exit_code == 2 and "lý do" in no_reason.stderr
    reopened = cli.invoke(app, ["session", "reopen", "T1", "--reason", "Quên một thí sinh"])
    assert reopened.exit_code == 0 and "T1" in reopened.stdout
    assert json.loads(cli.invoke(app, ["session", "show", "T1", "--json"]).stdout)[
        "status"] == "OPEN"
    assert cli.invoke(app, ["audit", "verify", "--json"]).exit_code == 0
