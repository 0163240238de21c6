"""A session dated two days earlier, opened at the desk (issue 13, "dates"): check-ins are
allowed (a session past midnight, a late candidate) but the ready banner says both dates
before any card is read, so yesterday's session left open is not used by mistake."""

from __future__ import annotations

from datetime import timedelta

import pytest

from proctoring.models import Role, SessionKind
from proctoring.sessions import create_session, session_info
from tests.examdesk.gui.conftest import Desk


@pytest.mark.desk_state(role=Role.INVIGILATOR, screen="checkin")
def test_a_session_of_two_days_ago_is_said_on_the_ready_banner(desk: Desk) -> None:
    app, view = desk.app, desk.checkin
    demo = app.session
    assert "Lưu ý" not in view.snapshot()["banner"]  # the demo session is today's
    store = app.services.store
    two_days_ago = store.now() - timedelta(days=2)
    old = create_session(store, centre_id=demo.centre_id, kind=SessionKind.ONLINE_EXAM,
                         title="Toán — ca hôm kia", starts_at=two_days_ago, code="HOM-KIA",
                         actor="test")
    try:
        app.open_session(old)
        desk.pump(0.1)
        banner = view.snapshot()["banner"]
        # Issue 13: nothing was said.
        assert "HOM-KIA" in banner and "2 ngày sau" in banner, banner
        assert two_days_ago.astimezone(view_tz()).strftime("%d/%m/%Y") in banner
        assert desk.fits(view.banner)
        desk.shot("44-session-two-days-ago")
    finally:
        app.open_session(session_info(store, demo.code).session)
    desk.pump(0.1)
    assert "Lưu ý" not in view.snapshot()["banner"]


def view_tz():  # type: ignore[no-untyped-def]
    from examdesk.timezone import VIETNAM

    return VIETNAM
