"""Population calibration from the store (SQLite and PostgreSQL): refused on too little data,
kept with an audit event as the centre's operating point, used by the check-in, re-checked."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa
from sqlmodel import select

from biometrics.bounds import fmr_upper_bound
from biometrics.config import OperatingPoint
from biometrics.engine import FaceEngine
from biometrics.population import DriftCheckImpossible, TooFewPairs
from proctoring import audit
from proctoring.calibration_models import FaceCalibration
from proctoring.checkin import CheckInService
from proctoring.checkins import record_override, review_incident
from proctoring.face_population import (
    calibrate_centre,
    drift,
    point_in_force,
    population_scores,
)
from proctoring.models import (
    AuditEvent,
    Decision,
    Evidence,
    EvidenceKind,
    Incident,
    IncidentStatus,
)
from proctoring.store import Store

from .helpers import centre_and_session
from .population_data import ACTOR, population

TARGET = 1e-2  # 299 impostor pairs needed at 95 % with none false: tests stay small


def test_too_little_data_is_refused_and_nothing_is_kept(store: Store) -> None:
    session = centre_and_session(store)
    population(store, session, 10)  # 45 portrait pairs + 90 live-vs-portrait = 135 < 299
    with pytest.raises(TooFewPairs) as caught:
        calibrate_centre(store, session.centre_id, actor=ACTOR, target_fmr=TARGET)
    assert caught.value.context == {"kind": "impostor", "have": 135, "pairs": 135,
                                    "needed": 299, "target": TARGET}
    with store.read() as tx:
        assert tx.exec(select(FaceCalibration)).all() == []
    default = OperatingPoint()
    assert point_in_force(store, session.centre_id, default).origin == "settings"


def test_a_centre_calibration_is_kept_audited_and_used(store: Store) -> None:
    session = centre_and_session(store)
    population(store, session, 40)
    scores = population_scores(store, session.centre_id, target_fmr=TARGET)
    assert scores.identities == 40
    assert scores.tail.pairs == 40 * 39 // 2 + 40 * 39
    assert len(scores.genuine) == 40
    result, row = calibrate_centre(store, session.centre_id, actor=ACTOR, target_fmr=TARGET)
    assert row is not None
    assert result.fmr.upper <= TARGET
    assert result.fmr.upper == pytest.approx(fmr_upper_bound(result.fmr.errors, result.fmr.pairs))
    assert result.fnmr.pairs == 40
    with store.read() as tx:
        kept = tx.exec(select(FaceCalibration)).one()
        event = tx.exec(select(AuditEvent).where(AuditEvent.action == "face.calibrated")).one()
        assert audit.verify(tx, store.keys).ok
    assert (kept.threshold, kept.scope, kept.impostor_pairs) == (
        result.point.threshold, "centre", result.fmr.pairs)
    assert event.subject_id == kept.id and str(kept.id) in event.payload
    # Numbers only in the log and the table: no descriptor was written anywhere.
    assert "embedding" not in event.payload
    in_force = point_in_force(store, session.centre_id, OperatingPoint())
    assert in_force.origin == "centre" and in_force.point.threshold == result.point.threshold
    assert not in_force.point.source.startswith("default")
    # The desk's check-in service reads it for the next candidate.
    desk = CheckInService(store, FaceEngine())
    assert desk.operating_point(session).point == in_force.point
    check = drift(store, session.centre_id, actor=ACTOR)
    assert not check.drifted and check.fmr.pairs == result.fmr.pairs
    # Recorded for the office (the next sync pushes it), numbers only.
    with store.read() as tx:
        noted = tx.exec(select(AuditEvent).where(
            AuditEvent.action == "face.drift_checked")).one()
        assert audit.verify(tx, store.keys).ok
    assert '"drifted":false' in noted.payload.replace(" ", "")


def test_genuine_pairs_are_only_check_ins_no_review_contradicts(store: Store) -> None:
    session = centre_and_session(store)
    done = population(store, session, 35)
    # An override awaiting the office is not yet a confirmed genuine pair; one the office
    # confirmed as fraud never is; one it dismissed (the admission stands) is.
    open_one = record_override(store, done[0].checkin.id, decision=Decision.REVIEW,
                               reason="kiểm tra lại", operator_id=None, actor=ACTOR)
    record_override(store, done[0].checkin.id, decision=Decision.ADMIT, reason="đúng người",
                    operator_id=None, actor=ACTOR)
    fraud = record_override(store, done[1].checkin.id, decision=Decision.REVIEW,
                            reason="nghi thi hộ", operator_id=None, actor=ACTOR)
    record_override(store, done[1].checkin.id, decision=Decision.ADMIT, reason="cho vào",
                    operator_id=None, actor=ACTOR)
    review_incident(store, fraud.id, status=IncidentStatus.CONFIRMED, notes="thi hộ",
                    reviewer_id=None, actor=ACTOR)
    rejected = population(store, session, 1, seed=99, first=500, decision=Decision.REJECT)
    assert rejected
    scores = population_scores(store, session.centre_id, target_fmr=TARGET)
    # 35 admitted + 1 rejected: two unsettled (one still has an OPEN incident from the
    # first override, the other a CONFIRMED one), one refused.
    assert len(scores.genuine) == 33
    assert scores.identities == 36  # every chip portrait still makes impostor pairs
    with store.read() as tx:
        still_open = [i.id for i in tx.exec(select(Incident)).all()
                      if i.status is IncidentStatus.OPEN]
    assert open_one.id in still_open
    for incident_id in still_open:
        review_incident(store, incident_id, status=IncidentStatus.DISMISSED, notes="ổn",
                        reviewer_id=None, actor=ACTOR)
    again = population_scores(store, session.centre_id, target_fmr=TARGET)
    assert len(again.genuine) == 34  # dismissed: the admission stands; the fraud never counts
    assert np.all(np.diff(again.genuine) >= 0)


def test_drift_needs_a_calibration_first(store: Store) -> None:
    session = centre_and_session(store)
    with pytest.raises(DriftCheckImpossible):
        drift(store, session.centre_id)


def test_an_altered_descriptor_is_left_out_not_trusted_and_not_fatal(store: Store) -> None:
    session = centre_and_session(store)
    done = population(store, session, 35)
    # The insider flips a byte of one sealed live descriptor in the database.
    with store.read() as tx:
        target = tx.exec(select(Evidence).where(
            Evidence.checkin_id == done[0].checkin.id,
            Evidence.kind == EvidenceKind.LIVE_EMBEDDING)).one()
    with store.engine.begin() as conn:
        blob = conn.execute(sa.text("SELECT ciphertext FROM evidence_blob WHERE id = :id"),
                            {"id": target.id.hex if store.backend == "sqlite" else target.id}
                            ).scalar_one()
        changed = bytes([blob[0] ^ 1]) + bytes(blob[1:])
        conn.execute(sa.text("UPDATE evidence_blob SET ciphertext = :c WHERE id = :id"),
                     {"c": changed, "id": target.id.hex if store.backend == "sqlite"
                      else target.id})
    scores = population_scores(store, session.centre_id, target_fmr=TARGET)
    assert scores.unreadable == 1
    assert len(scores.genuine) == 34  # that check-in no longer makes a genuine pair
    assert scores.identities == 35  # its chip portrait still does impostor pairs


def test_drift_beyond_the_bound_opens_one_incident_for_the_office(store: Store) -> None:
    """Issue 14: a drifted population opens an incident (it stays OPEN until reviewed), not
    only an audit event and a warning; once per calibration while that incident is open."""
    session = centre_and_session(store)
    population(store, session, 40)
    calibrate_centre(store, session.centre_id, actor=ACTOR, target_fmr=TARGET)
    # The same 40 faces come back under 40 other ID numbers: impostor pairs at distance ~0.
    population(store, session, 40, first=1000)
    check = drift(store, session.centre_id, actor=ACTOR)
    assert check.drifted
    with store.read() as tx:
        opened = tx.exec(select(Incident).where(
            Incident.message_key == "incident.face_drift")).one()
        event = tx.exec(select(AuditEvent).where(AuditEvent.action == "incident.opened")
                        .where(AuditEvent.subject_id == opened.id)).one()
        assert audit.verify(tx, store.keys).ok
    assert opened.status is IncidentStatus.OPEN and opened.session_id == session.id
    assert opened.details["false_matches"] == check.fmr.errors
    assert opened.details["fmr_upper"] > TARGET
    assert event.centre_id == session.centre_id
    # Checked again: still drifted, but the open incident is not duplicated.
    assert drift(store, session.centre_id, actor=ACTOR).drifted
    with store.read() as tx:
        assert len(tx.exec(select(Incident).where(
            Incident.message_key == "incident.face_drift")).all()) == 1
    # Without an actor (a read-only look) nothing is recorded.
    review_incident(store, opened.id, status=IncidentStatus.DISMISSED, notes="đã xem",
                    reviewer_id=None, actor=ACTOR)
    drift(store, session.centre_id)
    with store.read() as tx:
        assert len(tx.exec(select(Incident).where(
            Incident.message_key == "incident.face_drift")).all()) == 1
