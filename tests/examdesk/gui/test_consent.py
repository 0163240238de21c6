"""Consent to face matching at the desk (issue 13, Decree 13/2023): given, never presumed.

In the real window under Xvfb with the demo's right person (An's card, An at the camera): the
box starts unticked, the line beside it says what happens without consent, a check-in without
it runs no face matching and ends REVIEW for a manual identity check (stored with consent
false and no biometric evidence); F8 gives it for this candidate only.
"""

from __future__ import annotations

import pytest

from examdesk.demo import Scenario
from proctoring.models import CheckIn, Evidence, Role
from tests.examdesk.gui.conftest import Desk

AN_CAN = "014275"


def stored(desk: Desk) -> tuple[bool, int]:
    """The current verdict's check-in as stored: its consent and how much evidence it has."""
    from sqlmodel import col, select

    outcome = desk.checkin.current.outcome
    assert outcome is not None
    with desk.app.services.store.read() as tx:
        row = tx.get(CheckIn, outcome.checkin_id)
        assert row is not None
        evidence = tx.exec(select(Evidence).where(col(Evidence.checkin_id) == row.id)).all()
        return row.consent, len(evidence)


@pytest.mark.desk_state(role=Role.INVIGILATOR, screen="checkin", card=Scenario.RIGHT_PERSON)
def test_consent_is_asked_of_each_candidate_and_without_it_a_person_checks(desk: Desk) -> None:
    view = desk.checkin
    seen = view.snapshot()
    # Issue 13: the box was ticked before anyone was asked.
    assert not seen["consent"] and not view.consent.get()
    assert "Chưa đồng ý" in seen["consent_line"] and "bằng mắt" in seen["consent_line"]
    assert "F8" in str(view.consent.cget("text"))
    assert desk.fits(view.consent) and desk.fits(view.consent_label)

    # Without consent: no camera, no matching; REVIEW, a person compares the card photo.
    desk.type_into(view.key_entry, AN_CAN)
    desk.press("Return", view.key_entry)
    seen = desk.wait_decided()
    assert seen["decision"] == "REVIEW", seen
    assert "không đồng ý đối chiếu khuôn mặt" in seen["reasons"], seen["reasons"]
    assert "bằng mắt" in seen["reasons"]
    assert stored(desk) == (False, 0)  # recorded with the check-in; no biometric evidence
    desk.shot("40-no-consent-review")

    # The next candidate (the same card, for the test): F8, then the face is compared.
    desk.press("Escape")
    assert not view.snapshot()["consent"]
    desk.press("F8")
    seen = view.snapshot()
    assert seen["consent"] and view.consent.get() and "Đã đồng ý" in seen["consent_line"]
    desk.type_into(view.key_entry, AN_CAN)
    desk.press("Return", view.key_entry)
    seen = desk.wait_decided()
    assert seen["decision"] == "ADMIT", seen
    consent, evidence = stored(desk)
    assert consent and evidence > 0
    desk.shot("41-consent-admit")

    # Admitted: the desk is ready for the next candidate, who has not been asked yet.
    desk.press("Return", view.key_entry)
    seen = view.snapshot()
    assert seen["state"] == "idle" and not seen["consent"] and not view.consent.get()
    assert "Chưa đồng ý" in seen["consent_line"]
