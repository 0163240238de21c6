"""Admitting on a forged card at the desk (issue 13, "overrides"): an invigilator is refused
and told to ask the centre admin; the admin is warned in words and confirms by pressing again;
the roster screen and the signed roster then say it."""

from __future__ import annotations

import pytest
from sqlmodel import select

from proctoring.models import CheckIn, Incident, Role
from tests.examdesk.gui.conftest import Desk

REASON = "Đối chiếu giấy khai sinh và hộ chiếu: đúng người"


def forged_verdict_and_override_panel(desk: Desk) -> None:
    view = desk.checkin
    desk.press("Control-Key-3")  # demo: a forged card (portrait swapped after signing)
    seen = desk.wait_decided()
    assert seen["decision"] == "REJECT", seen
    desk.press("Control-o")
    assert view.override_panel.winfo_ismapped()
    desk.type_into(view.reason_entry, REASON)


def decision_stored(desk: Desk) -> str:
    outcome = desk.checkin.current.outcome
    with desk.app.services.store.read() as tx:
        row = tx.get(CheckIn, outcome.checkin_id)
        return str(row.decision)


@pytest.mark.desk_state(role=Role.INVIGILATOR, screen="checkin")
def test_an_invigilator_cannot_admit_on_a_forged_card(desk: Desk) -> None:
    view = desk.checkin
    forged_verdict_and_override_panel(desk)
    desk.press("Return")  # issue 13: accepted like any other override
    desk.wait_until(lambda: "quản trị viên" in view.override_message.cget("text"),
                    "the refusal")
    desk.shot("42-forged-override-refused")
    assert view.snapshot()["decision"] == "REJECT" and decision_stored(desk) == "REJECT"
    desk.press("Escape")  # the panel closes; the refusal stands
    assert not view.override_panel.winfo_ismapped()


@pytest.mark.desk_state(role=Role.CENTRE_ADMIN, screen="checkin")
def test_the_admin_admits_on_a_forged_card_after_a_second_confirmation(desk: Desk) -> None:
    view = desk.checkin
    forged_verdict_and_override_panel(desk)
    desk.press("Return")
    warning = str(view.override_message.cget("text"))
    assert "THẺ GIẢ MẠO" in warning and "lần nữa" in warning, warning
    assert view.override_panel.winfo_ismapped() and decision_stored(desk) == "REJECT"
    desk.shot("43-forged-override-confirm")
    desk.press("Return")  # the second confirmation
    desk.wait_until(lambda: not view.override_panel.winfo_ismapped(), "the override to save")
    assert view.snapshot()["decision"] == "ADMIT" and decision_stored(desk) == "ADMIT"
    with desk.app.services.store.read() as tx:
        incident = tx.exec(select(Incident).order_by(Incident.created_at.desc())).first()
        assert incident is not None and incident.severity == "HIGH"
        assert incident.details.get("forged_card") is True
