"""Issue 13 at the desk, the real window under Xvfb: attendance is a state machine. Nguyễn Văn
An is admitted (Ctrl+1, Enter); then his card is presented again with someone else at the
camera (Ctrl+2). The desk says "already admitted at <time> at desk Cửa 1" and records the
attempt on its own; the roster (F3) still shows him present, "Có mặt 1", with the later
attempt listed under his row. Its own module, so its own demo app and a fresh database: the
second attempt is this test's, not left by another module's test.

Screenshots (kept as artefacts in /tmp/examdesk-gui-shots/): ``att-01-already-admitted`` and
``att-02-roster-second-attempt``."""

from __future__ import annotations

import pytest

from examdesk.timezone import VIETNAM
from proctoring.checkins import attendance
from proctoring.models import Role
from tests.examdesk.gui.conftest import Desk

pytestmark = pytest.mark.pcsc


@pytest.mark.desk_state(role=Role.INVIGILATOR, screen="checkin", absent=True)
def test_a_second_card_for_an_admitted_candidate_leaves_him_admitted(desk: Desk) -> None:
    view = desk.checkin
    desk.press("Control-Key-1")  # An's card, An at the camera
    seen = desk.wait_decided()
    assert seen["decision"] == "ADMIT", seen
    desk.press("Return")  # admitted; the desk is ready for the next candidate
    assert view.snapshot()["state"] == "idle"
    services, session = desk.app.services, desk.app.session
    first = attendance(services.store, session.id).rows[0]
    assert first.candidate.full_name == "Nguyễn Văn An" and first.checkin is not None
    local = first.checkin.decided_at.astimezone(VIETNAM).strftime("%H:%M")

    desk.press("Control-Key-2")  # An's card again, someone else (ORL s12) at the camera
    again = desk.wait_decided()
    assert again["decision"] in ("REVIEW", "REJECT"), again
    assert f"Đã được cho vào lúc {local} tại bàn Cửa 1" in again["banner"], again["banner"]
    assert "Nguyễn Văn An" in again["banner"]
    assert f"đã được cho vào lúc {local} tại bàn Cửa 1" in again["reasons"], again["reasons"]
    for widget in (view.banner, view.reasons_label):
        assert desk.fits(widget), widget
    desk.shot("att-01-already-admitted")
    desk.press("Escape")

    desk.press("F3")
    roster = desk.app.views["roster"]
    assert desk.app.current is roster
    desk.wait_until(lambda: len(roster.table.rows()) == 5 and any(
        roster.history(r) for r in roster.table.tree.get_children()), "the roster's history")
    rows = {r[2]: r for r in roster.table.rows()}
    an = rows["Nguyễn Văn An"]
    assert "có mặt" in an[6] and "+1 lần sau" in an[6], an
    assert "từ chối" not in an[6] and "chờ xem xét" not in an[6], an
    assert local in an[7], an  # the time shown is the admission's
    totals = roster.totals.cget("text")
    assert "Có mặt 1 " in totals and "Từ chối 0" in totals and "Chờ xem xét 0" in totals, totals
    history = roster.history(str(first.entry.id))
    # Under his row: the first admission, then the later attempt, each with time and desk.
    assert len(history) == 2, history
    assert "lần cho vào" in history[0] and "bàn Cửa 1" in history[0], history
    assert local in history[0] and "✔ cho vào" in history[0], history
    assert "lần kiểm tra sau" in history[1] and "bàn Cửa 1" in history[1], history
    assert any(w in history[1] for w in ("cần kiểm tra", "không cho vào")), history
    desk.shot("att-02-roster-second-attempt")
