"""The desk decides on AS-norm against the centre's own chip portraits (issue 14): with the
shipped default point in force and enough portraits; the candidate's own earlier portraits are
never in his cohort; too few portraits, or a centre's own calibration, keep the raw distance."""

from __future__ import annotations

import dataclasses

import pytest

from biometrics import Challenge, FaceEngine, FaceSettings
from biometrics.asnorm import ASNORM_POINT, AsNormSettings
from biometrics.config import OperatingPoint
from biometrics.decision import decide
from proctoring.checkin import CheckInOutcome, CheckInService
from proctoring.face_population import chip_cohort
from proctoring.models import ExamSession
from proctoring.store import Store

from .helpers import add_roster, centre_and_session
from .population_data import population
from .test_checkin_service import OWN_FACE, PEOPLE, camera, read


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    # The shipped default raw point, AS-norm from 20 portraits (the shipped minimum is 300;
    # the synthetic cohort stands in for a centre's portraits).
    e = FaceEngine(dataclasses.replace(FaceSettings(), asnorm=AsNormSettings(min_cohort=20)))
    e.load()
    return e


def _check_in(store: Store, engine: FaceEngine, session: ExamSession) -> CheckInOutcome:
    card, trust = read()
    return CheckInService(store, engine).check_in(
        session, card, trust, camera(OWN_FACE), consent=True, actor="t",
        challenge=Challenge.BLINK)


def test_the_desk_decides_on_as_norm_against_the_centres_portraits(
        store: Store, engine: FaceEngine) -> None:
    session = centre_and_session(store)
    add_roster(store, session, PEOPLE)
    population(store, session, 25)
    outcome = _check_in(store, engine, session)
    face = outcome.face
    assert face is not None and face.method == "asnorm", face
    assert face.cohort == 25 and face.point == ASNORM_POINT and face.score is not None
    assert face.decision is decide(face.score, ASNORM_POINT)
    assert outcome.to_dict()["face"]["method"] == "asnorm"
    # Kept with the check-in: which score decided, against how many portraits.
    (said,) = [r for r in outcome.reasons if r.key == "checkin.face_asnorm"]
    assert said.context["cohort"] == 25
    assert said.context["likeness"] == round(-face.score, 3)

    # The candidate's own portrait is now stored: a second check-in leaves it out.
    assert len(chip_cohort(store, session.centre_id)) == 26
    again = _check_in(store, engine, session).face
    assert again is not None and again.method == "asnorm" and again.cohort == 25


def test_too_few_portraits_keep_the_raw_distance(store: Store, engine: FaceEngine) -> None:
    session = centre_and_session(store)
    add_roster(store, session, PEOPLE)
    population(store, session, 19)
    outcome = _check_in(store, engine, session)
    face = outcome.face
    assert face is not None and face.method == "distance" and face.cohort == 19
    assert face.point == OperatingPoint() and face.score is None
    assert not [r for r in outcome.reasons if r.key == "checkin.face_asnorm"]


def test_a_site_calibration_stays_in_force(store: Store) -> None:
    own = OperatingPoint(threshold=0.36, review_low=0.34, review_high=0.40,
                         source="people/: the site's own calibration")
    e = FaceEngine(FaceSettings(operating_point=own, asnorm=AsNormSettings(min_cohort=20)))
    session = centre_and_session(store)
    add_roster(store, session, PEOPLE)
    population(store, session, 25)
    face = _check_in(store, e, session).face
    assert face is not None and face.method == "distance" and face.point == own
