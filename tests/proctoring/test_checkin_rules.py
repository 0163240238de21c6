"""Each of the centre's check-in rules, changed in a settings file, changes what the check-in
service decides (or, for the frame counts and the evidence width, what it does), on a real store,
a real card read and a file camera of real photos. The defaults' decisions are asserted next to
each change, so the test fails if a rule is not applied.

SQLite only: the rules decide before anything is stored, and the stored decision is the same
column the two-backend tests in test_checkin_service.py already cover."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from biometrics import Challenge, FaceEngine, OperatingPoint
from examdesk.settings import read_section, write_section
from proctoring.checkin import CheckInService
from proctoring.models import Decision
from proctoring.policy import SECTION as POLICY_SECTION
from proctoring.policy import CheckInRules
from proctoring.store import Store
from reader.trust.policy import Policy
from reader.trust.report import assess

from .helpers import add_roster, centre_and_session
from .test_checkin_service import (
    ORL,
    OTHER_FACE,
    OWN_FACE,
    PEOPLE,
    TODAY,
    camera,
    checkins,
    read,
)


@pytest.fixture(scope="module")
def backend() -> Iterator[None]:
    yield None  # SQLite (see the module's note)


@pytest.fixture(scope="module")
def engine(orl_engine: FaceEngine) -> FaceEngine:
    # These desks check ORL people (and people/ photos): a centre serving them runs on its own
    # calibration (issue 14), the ORL one. The shipped default is calibrated on East Asian
    # faces; on it ORL s27 measures 0.308 from his chip portrait and goes to REVIEW.
    return orl_engine  # loaded once for the session (conftest)



def rules_from_file(tmp_path: Path, **section: Any) -> CheckInRules:
    """The rules as the desk and the CLI load them: the settings file's "checkin" section."""
    path = tmp_path / "settings.json"
    write_section(POLICY_SECTION, section, path)
    return CheckInRules.from_dict(read_section(POLICY_SECTION, path))


def test_rule_suspicious_card_reject(store: Store, engine: FaceEngine, tmp_path: Path) -> None:
    session = centre_and_session(store)
    add_roster(store, session, PEOPLE)
    card, _ = read()
    trust = assess(card, None, Policy(), today=TODAY)  # no CSCA: SUSPICIOUS, REVIEW by default
    rules = rules_from_file(tmp_path, suspicious_card="REJECT")
    outcome = CheckInService(store, engine, rules=rules).check_in(
        session, card, trust, camera(OWN_FACE), consent=True, actor="t",
        challenge=Challenge.BLINK)
    assert outcome.decision is Decision.REJECT
    assert "verdict.no_csca" in [r.key for r in outcome.reasons]
    assert [c.decision for c in checkins(store)] == ["REJECT"]


def test_rule_expired_card_to_review(store: Store, engine: FaceEngine, tmp_path: Path) -> None:
    session = centre_and_session(store)
    add_roster(store, session, PEOPLE)
    # Issued inside the signer's validity: a genuine card whose only finding is its expiry
    # (the test above also makes it signed before its DS certificate, so it is FORGED too).
    card, trust = read(date_of_expiry=date(2026, 5, 14))
    assert trust.expired and [f.name for f in trust.verdict.reasons] == ["card.expired"]
    service = CheckInService(store, engine)
    outcome = service.check_in(session, card, trust, camera(OWN_FACE), consent=True, actor="t",
                               challenge=Challenge.BLINK)
    assert outcome.decision is Decision.REJECT
    assert [r.key for r in outcome.reasons] == ["checkin.card_expired"]
    service.rules = rules_from_file(tmp_path, reject_expired_card=False)
    outcome = service.check_in(session, card, trust, camera(OWN_FACE), consent=True, actor="t",
                               challenge=Challenge.BLINK)
    assert outcome.decision is Decision.REVIEW
    assert [r.key for r in outcome.reasons] == ["checkin.card_expired"]


def test_rule_liveness_off_and_liveness_failed(store: Store, engine: FaceEngine,
                                              tmp_path: Path) -> None:
    session = centre_and_session(store)
    add_roster(store, session, PEOPLE)
    card, trust = read()
    still = [ORL / "s27" / "2.png"]  # fails liveness: REVIEW by default (see above)
    off = rules_from_file(tmp_path, require_liveness=False, evidence_width=160)
    outcome = CheckInService(store, engine, rules=off).check_in(
        session, card, trust, camera(still), consent=True, actor="t", challenge=Challenge.BLINK)
    assert outcome.decision is Decision.ADMIT and outcome.liveness is None
    assert outcome.best_frame is not None and outcome.best_frame.shape[1] <= 160  # 640 default
    strict = rules_from_file(tmp_path, liveness_failed="REJECT", liveness_frames=10)
    outcome = CheckInService(store, engine, rules=strict).check_in(
        session, card, trust, camera(still), consent=True, actor="t", challenge=Challenge.BLINK)
    assert outcome.decision is Decision.REJECT
    assert outcome.liveness is not None and not outcome.liveness.passed
    assert len(outcome.liveness.measurements) == 10  # liveness_frames: 45 by default


def test_rule_face_no_match_and_capture_frames(store: Store, engine: FaceEngine,
                                               tmp_path: Path) -> None:
    session = centre_and_session(store)
    add_roster(store, session, PEOPLE)
    card, trust = read()
    service = CheckInService(store, engine, rules=rules_from_file(tmp_path,
                                                                  require_liveness=False))
    assert service.check_in(session, card, trust, camera(OTHER_FACE), consent=True,
                            actor="t").decision is Decision.REJECT
    service.rules = rules_from_file(tmp_path, require_liveness=False, face_no_match="review")
    outcome = service.check_in(session, card, trust, camera(OTHER_FACE), consent=True, actor="t")
    assert outcome.decision is Decision.REVIEW
    assert "checkin.face_mismatch" in [r.key for r in outcome.reasons]
    assert outcome.incident_ids  # the mismatch is still an incident for review
    # One frame cannot give the three live captures fused for the comparison.
    service.rules = rules_from_file(tmp_path, require_liveness=False, capture_frames=1)
    outcome = service.check_in(session, card, trust, camera(OWN_FACE), consent=True, actor="t")
    assert outcome.decision is Decision.REVIEW and outcome.face is None  # ADMIT with 90


def test_rule_face_review_reject(store: Store, engine: FaceEngine, tmp_path: Path) -> None:
    session = centre_and_session(store)
    add_roster(store, session, PEOPLE)
    card, trust = read()
    # A centre whose operating point puts every distance in the review band.
    wide = dataclasses.replace(engine.settings, operating_point=OperatingPoint(
        threshold=0.36, review_low=0.0, review_high=2.0))
    banded = FaceEngine(wide)
    banded.load()
    service = CheckInService(store, banded, rules=rules_from_file(tmp_path,
                                                                  require_liveness=False))
    outcome = service.check_in(session, card, trust, camera(OWN_FACE), consent=True, actor="t")
    assert outcome.decision is Decision.REVIEW
    assert "checkin.face_review" in [r.key for r in outcome.reasons]
    service.rules = rules_from_file(tmp_path, require_liveness=False, face_review="REJECT")
    outcome = service.check_in(session, card, trust, camera(OWN_FACE), consent=True, actor="t")
    assert outcome.decision is Decision.REJECT
    assert "checkin.face_review" in [r.key for r in outcome.reasons]
