"""Issue 15: the face compared with the chip is the face that did the liveness challenge.

A live accomplice blinks for the challenge, then the chip holder's face is compared (another
person sat down in the same place, or their photo held up): before the hand-over check this
was ADMITted (liveness passed, face matched). Real card read, real store, real file camera.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from biometrics import Challenge, FaceEngine
from biometrics import handover as H
from proctoring.checkin import CheckInOutcome, CheckInService
from proctoring.models import CheckIn, Decision
from proctoring.store import Store

from .helpers import add_roster, centre_and_session
from .test_checkin_service import ORL, OWN_FACE, PEOPLE, camera, engine, read

__all__ = ["engine"]  # the module-scoped fixture, shared

# s26 blinks (6 is a closed-eye shot); s27, whose portrait is on the chip, is compared.
ACCOMPLICE_BLINKS = [ORL / "s26" / f"{n}.png" for n in (1, 6, 2)]
CHIP_HOLDER = [ORL / "s27" / f"{n}.png" for n in (1, 2, 3, 4, 7, 8)]


def _check_in(store: Store, engine: FaceEngine, frames: list[Path],
              portrait: str) -> CheckInOutcome:
    session = centre_and_session(store)
    add_roster(store, session, PEOPLE)
    card, trust = read(portrait=portrait)
    return CheckInService(store, engine).check_in(
        session, card, trust, camera(frames), consent=True, actor="t",
        challenge=Challenge.BLINK)


def test_an_accomplice_does_the_challenge_and_the_chip_holder_is_compared(
        store: Store, engine: FaceEngine) -> None:
    outcome = _check_in(store, engine, ACCOMPLICE_BLINKS + CHIP_HOLDER, "orl/s27/10.png")
    assert outcome.face is not None and outcome.face.decision.value == "match"  # s27 is s27
    assert outcome.decision is Decision.REVIEW, outcome.reasons
    assert outcome.liveness is not None and not outcome.liveness.passed
    assert outcome.liveness.reason == H.OTHER_PERSON
    assert H.OTHER_PERSON in [r.key for r in outcome.reasons]
    with store.read() as tx:
        assert [c.liveness for c in tx.exec(select(CheckIn)).all()] == ["failed"]


def test_an_accomplice_does_the_challenge_and_a_photo_is_compared(
        store: Store, engine: FaceEngine) -> None:
    outcome = _check_in(store, engine, ACCOMPLICE_BLINKS + CHIP_HOLDER[1:2] * 8,
                        "orl/s27/10.png")
    assert outcome.decision is Decision.REVIEW, outcome.reasons
    assert outcome.liveness is not None and outcome.liveness.reason == H.BROKEN


def test_one_person_throughout_is_still_admitted(store: Store, engine: FaceEngine) -> None:
    outcome = _check_in(store, engine, OWN_FACE, "orl/s27/10.png")
    assert outcome.decision is Decision.ADMIT, outcome.reasons
    assert outcome.liveness is not None and outcome.liveness.passed
    assert outcome.liveness.details["handover_breaks"] == 0
