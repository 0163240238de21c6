"""Demo only: the next demo card onto the reader and its holder in front of the camera, then
the check-in started as the invigilator would start it (the candidate's consent, F8; the CAN
typed, Enter).

It drives the check-in screen through its public methods (``hold``, ``release``,
``enter_key``, ``ask_challenge``): the production screen has no demo branches. The app makes
one only with ``--demo`` (Ctrl+1…5 and the demo buttons).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from biometrics import Challenge
from examdesk.demo import Presented, Scenario, demo_camera

if TYPE_CHECKING:
    from .checkin import CheckInView


class DemoPresenter:
    def __init__(self, app: Any, view: CheckInView) -> None:
        self.app = app
        self.view = view
        # The demo camera plays photos: ORL s27 can blink, nobody in them turns their head.
        view.ask_challenge(Challenge.BLINK)

    def present(self, scenario: Scenario) -> None:
        """The next card onto the reader (a running check-in is cancelled first), its holder
        (or someone else) at the camera, the CAN typed in, the check-in started."""
        services = self.app.services
        if services is None or services.deck is None:
            return
        deck = services.deck
        token = self.view.hold("app.demo.presenting")
        self.app.run_job(lambda: deck.present(scenario),
                         done=lambda p: self._presented(token, p),
                         failed=lambda e: self._failed(token, e))

    def _presented(self, token: int, presented: Presented) -> None:
        services = self.app.services
        if services is None or not self.view.holding(token):  # Esc meanwhile: the card stays
            return
        photos = presented.card.photos
        services.hub.switch(lambda: demo_camera(photos))
        self.view.release(token)
        self.view.give_consent()  # the demo's candidate agrees (F8), as asked of each one
        self.view.enter_key(presented.can)

    def _failed(self, token: int, exc: BaseException) -> None:
        self.view.release(token)
        self.app.report_error(exc)
