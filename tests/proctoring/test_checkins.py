"""Check-ins as the workflow will store them: one transaction, evidence sealed, overrides,
incidents, the duplicate-face gallery, attendance totals, and the retention purge."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlmodel import col, func, select

from proctoring import audit
from proctoring.checkins import (
    NewIncident,
    admitted_faces,
    attendance,
    incidents,
    record_incident,
    record_override,
    review_incident,
    roster_lookup,
)
from proctoring.errors import (
    ConsentRequired,
    EvidencePurged,
    InvalidInput,
    OverrideNeedsReason,
    SessionClosed,
)
from proctoring.evidence import EvidenceItem, purge_evidence, read_evidence
from proctoring.models import (
    AuditEvent,
    CheckIn,
    Decision,
    Evidence,
    EvidenceBlob,
    EvidenceKind,
    IncidentKind,
    IncidentStatus,
    SessionKind,
    Severity,
    Stage,
)
from proctoring.sessions import close_session
from proctoring.store import Store

from .helpers import ACTOR, PEOPLE, add_roster, centre_and_session, checkin, embedding, photo


def _count(store: Store, model: type) -> int:
    with store.read() as tx:
        return int(tx.exec(select(func.count()).select_from(model)).one())


def test_a_checkin_is_stored_with_its_evidence_and_audit_event(store: Store) -> None:
    session = centre_and_session(store)
    entries = add_roster(store, session)
    match = roster_lookup(store, session.id, "001 093 014 275")
    assert match is not None and match.entry.id == entries[0].id
    assert roster_lookup(store, session.id, "001093099999") is None
    done = checkin(store, session, match.entry, match.candidate.id_number)
    assert len(done.evidence_ids) == 3
    with store.read() as tx:
        stored = tx.get(CheckIn, done.checkin.id)
        assert stored is not None and stored.decision is Decision.ADMIT
        assert stored.reasons == [{"key": "checkin.face_match", "detail": "distance 0.31",
                                   "context": {}}]
        event = tx.exec(select(AuditEvent).where(AuditEvent.subject_id == stored.id)).one()
        assert event.action == "checkin.recorded"
        assert '"decision":"ADMIT"' in event.payload
        assert "001093014275" not in event.payload and "Nguyễn" not in event.payload
    kinds = {}
    with store.read() as tx:
        for ev in tx.exec(select(Evidence).where(Evidence.checkin_id == stored.id)):
            kinds[ev.kind] = ev
            assert ev.retain_until - ev.captured_at == timedelta(days=90)
    assert read_evidence(store, kinds[EvidenceKind.CHIP_PORTRAIT].id) == photo()


def test_the_roster_entry_must_be_the_card_holders(store: Store) -> None:
    session = centre_and_session(store)
    entries = add_roster(store, session)
    with pytest.raises(InvalidInput, match="another ID"):
        checkin(store, session, entries[1], PEOPLE[0][0])
    assert _count(store, CheckIn) == 0


def test_recording_the_same_checkin_id_twice_stores_it_once(store: Store) -> None:
    session = centre_and_session(store)
    entry = add_roster(store, session)[0]
    cid = uuid.uuid4()
    first = checkin(store, session, entry, PEOPLE[0][0], checkin_id=cid)
    again = checkin(store, session, entry, PEOPLE[0][0], checkin_id=cid)
    assert again.checkin.id == first.checkin.id
    assert set(again.evidence_ids) == set(first.evidence_ids)
    assert _count(store, CheckIn) == 1 and _count(store, Evidence) == 3


def test_biometrics_need_consent(store: Store) -> None:
    session = centre_and_session(store)
    entry = add_roster(store, session)[0]
    from proctoring.checkins import CheckInInput, record_checkin

    with pytest.raises(ConsentRequired):
        record_checkin(store, CheckInInput(
            session_id=session.id, id_number=PEOPLE[0][0], decision=Decision.REVIEW,
            reasons=[], consent=False, started_at=datetime.now(UTC), roster_entry_id=entry.id,
            evidence=[EvidenceItem(EvidenceKind.LIVE_FRAME, photo(), "image/jpeg")]),
            actor=ACTOR)
    # Without consent the check-in itself is kept (manual decision), with no biometrics.
    done = checkin(store, session, entry, PEOPLE[0][0], decision=Decision.REVIEW, consent=False)
    assert done.evidence_ids == () and _count(store, Evidence) == 0


def test_driving_tests_need_a_stage_the_session_has(store: Store) -> None:
    session = centre_and_session(store, SessionKind.DRIVING_TEST)
    entry = add_roster(store, session)[0]
    with pytest.raises(InvalidInput):
        checkin(store, session, entry, PEOPLE[0][0])
    checkin(store, session, entry, PEOPLE[0][0], stage=Stage.THEORY, seed=1)
    checkin(store, session, entry, PEOPLE[0][0], stage=Stage.YARD, seed=2)
    theory = admitted_faces(store, session.id, stage=Stage.THEORY)
    assert np.array_equal(theory.embeddings, embedding(1))
    both = admitted_faces(store, session.id, roster_entry_id=entry.id)
    assert both.embeddings.shape == (2, 128)
    assert attendance(store, session.id, stage=Stage.ROAD).totals.absent == len(PEOPLE)


def test_admitted_faces_is_the_duplicate_check_gallery(store: Store) -> None:
    session = centre_and_session(store)
    entries = add_roster(store, session)
    a = checkin(store, session, entries[0], PEOPLE[0][0], seed=10)
    checkin(store, session, entries[1], PEOPLE[1][0], seed=11, decision=Decision.REJECT)
    c = checkin(store, session, entries[2], PEOPLE[2][0], seed=12)
    faces = admitted_faces(store, session.id)
    assert faces.embeddings.dtype == np.float32 and faces.embeddings.flags.c_contiguous
    assert faces.checkin_ids == (a.checkin.id, c.checkin.id)
    assert np.array_equal(faces.embeddings, np.vstack([embedding(10), embedding(12)]))
    assert faces.roster_entry_ids == (entries[0].id, entries[2].id)


def test_a_proxy_incident_links_both_checkins(store: Store) -> None:
    session = centre_and_session(store)
    entries = add_roster(store, session)
    first = checkin(store, session, entries[0], PEOPLE[0][0], seed=5)
    from proctoring.checkins import CheckInInput, Reason, embedding_item, record_checkin

    second = record_checkin(store, CheckInInput(
        session_id=session.id, id_number=PEOPLE[1][0], decision=Decision.REJECT,
        reasons=[Reason("checkin.duplicate_face")], consent=True,
        started_at=datetime.now(UTC), roster_entry_id=entries[1].id,
        evidence=[embedding_item(embedding(5))],
        incidents=[NewIncident(IncidentKind.PROXY_SUSPECTED, Severity.CRITICAL,
                               "incident.proxy", {"distance": 0.0},
                               related_checkins=[first.checkin.id])]), actor=ACTOR)
    [(incident, linked)] = incidents(store, session_id=session.id)
    assert incident.id == second.incident_ids[0]
    assert set(linked) == {first.checkin.id, second.checkin.id}


def test_an_override_needs_a_reason_and_is_an_incident(store: Store) -> None:
    session = centre_and_session(store)
    entry = add_roster(store, session)[0]
    done = checkin(store, session, entry, PEOPLE[0][0], decision=Decision.REVIEW)
    for blank in ("", "   \n"):
        with pytest.raises(OverrideNeedsReason):
            record_override(store, done.checkin.id, decision=Decision.ADMIT, reason=blank,
                            operator_id=None, actor=ACTOR)
    with store.read() as tx:
        unchanged = tx.get(CheckIn, done.checkin.id)
        assert unchanged is not None and unchanged.decision is Decision.REVIEW
    reason = "Ảnh trên chip chụp năm 14 tuổi; đã đối chiếu giấy khai sinh."
    incident = record_override(store, done.checkin.id, decision=Decision.ADMIT, reason=reason,
                               operator_id=None, actor=ACTOR)
    assert incident.kind is IncidentKind.OVERRIDE and incident.status is IncidentStatus.OPEN
    with store.read() as tx:
        row = tx.get(CheckIn, done.checkin.id)
        assert row is not None
        assert (row.machine_decision, row.decision) == (Decision.REVIEW, Decision.ADMIT)
        assert row.override_reason and row.overridden_at is not None
        actions = tx.exec(select(AuditEvent.action).order_by(col(AuditEvent.seq))).all()
        assert actions[-2:] == ["checkin.overridden", "incident.opened"]
    assert attendance(store, session.id).totals.admitted == 1
    reviewed = review_incident(store, incident.id, status=IncidentStatus.CONFIRMED,
                               notes="Đúng người.", reviewer_id=None, actor=ACTOR)
    assert reviewed.status is IncidentStatus.CONFIRMED and reviewed.reviewed_at is not None


def test_attendance_for_the_roster_pdf(store: Store) -> None:
    session = centre_and_session(store)
    entries = add_roster(store, session)
    checkin(store, session, entries[0], PEOPLE[0][0], decision=Decision.REJECT)
    checkin(store, session, entries[0], PEOPLE[0][0], decision=Decision.ADMIT)  # retry wins
    checkin(store, session, entries[1], PEOPLE[1][0], decision=Decision.REVIEW)
    checkin(store, session, None, "001093099999", decision=Decision.REJECT, consent=False)
    att = attendance(store, session.id)
    assert [r.status for r in att.rows] == ["ADMIT", "REVIEW", "ABSENT", "ABSENT"]
    assert att.totals.to_dict() == {"admitted": 1, "rejected": 0, "review": 1, "absent": 2,
                                    "rostered": 4, "not_on_roster": 1}
    first = att.rows[0]
    assert first.portrait_id is not None and first.frame_id is not None
    assert read_evidence(store, first.frame_id) == photo("obama/obama2.jpg")


def test_a_closed_session_takes_no_more_checkins(store: Store) -> None:
    session = centre_and_session(store)
    entry = add_roster(store, session)[0]
    close_session(store, session.code, actor=ACTOR)
    with pytest.raises(SessionClosed):
        checkin(store, session, entry, PEOPLE[0][0])


def test_monitor_incidents_need_a_consenting_candidate(store: Store) -> None:
    session = centre_and_session(store)
    entry = add_roster(store, session)[0]
    frame = EvidenceItem(EvidenceKind.LIVE_FRAME, photo("obama/obama3.jpg"), "image/jpeg")
    absent = NewIncident(IncidentKind.FACE_ABSENT, Severity.HIGH, "incident.face_absent",
                         {"seconds": 42}, evidence=[frame], roster_entry_id=entry.id,
                         started_at=datetime.now(UTC) - timedelta(seconds=42),
                         ended_at=datetime.now(UTC))
    with pytest.raises(ConsentRequired):
        record_incident(store, session.id, absent, actor=ACTOR)
    checkin(store, session, entry, PEOPLE[0][0])
    incident = record_incident(store, session.id, absent, actor=ACTOR)
    assert incident.ended_at is not None


def test_purge_deletes_old_biometrics_and_says_so(store: Store) -> None:
    session = centre_and_session(store)
    entries = add_roster(store, session)
    old = checkin(store, session, entries[0], PEOPLE[0][0])
    held = checkin(store, session, entries[1], PEOPLE[1][0], decision=Decision.REVIEW)
    record_override(store, held.checkin.id, decision=Decision.ADMIT, reason="đã xác minh",
                    operator_id=None, actor=ACTOR)  # an OPEN incident holds its evidence
    later = store.now() + timedelta(days=91)
    store.clock = lambda: later
    fresh = checkin(store, session, entries[2], PEOPLE[2][0])
    result = purge_evidence(store, older_than=timedelta(days=90), actor=ACTOR)
    assert (result.purged, result.held) == (3, 3)
    assert result.by_kind == {"CHIP_PORTRAIT": 1, "LIVE_FRAME": 1, "LIVE_EMBEDDING": 1}
    with pytest.raises(EvidencePurged):
        read_evidence(store, old.evidence_ids[0])
    assert read_evidence(store, fresh.evidence_ids[0]) == photo()
    assert _count(store, EvidenceBlob) == 6 and _count(store, Evidence) == 9
    with store.read() as tx:
        purged = select(AuditEvent).where(AuditEvent.action == "evidence.purged")
        event = tx.exec(purged).one()
        assert '"count":3' in event.payload
        assert audit.verify(tx, store.keys).ok
    # Without --older-than: each item's own deadline; nothing else is due yet.
    assert purge_evidence(store, older_than=None, actor=ACTOR).purged == 0
    # Purged faces leave the duplicate-check gallery; the held one (overridden to ADMIT) stays.
    assert admitted_faces(store, session.id).checkin_ids == (held.checkin.id, fresh.checkin.id)
