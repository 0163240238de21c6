"""Attendance is a state machine (issue 13): absent → admitted / refused / under review, and
admitted stays admitted — a later attempt is its own event, listed, never "the last row wins".

The pure rule (:func:`proctoring.attendance.attendance_of`) on check-ins made in memory, then
the one place everything reads it through (:func:`proctoring.checkins.attendance`, the CSV
export) on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import select

from proctoring.attendance import attendance_of
from proctoring.checkins import (
    CheckInInput,
    Reason,
    attendance,
    candidate_attendance,
    record_checkin,
    record_override,
)
from proctoring.models import AuditEvent, CheckIn, Decision, RosterStatus, SessionKind, Stage
from proctoring.roster import export_roster
from proctoring.store import Store

from .helpers import ACTOR, PEOPLE, add_roster, centre_and_session

T0 = datetime(2026, 11, 28, 0, 42, tzinfo=UTC)  # 07:42 in Vietnam


def _row(decision: Decision, minutes: int, *, overridden_to: Decision | None = None) -> CheckIn:
    at = T0 + timedelta(minutes=minutes)
    return CheckIn(id=uuid.uuid4(), centre_id=uuid.uuid4(), session_id=uuid.uuid4(),
                   id_number="001093014275", decision=overridden_to or decision,
                   machine_decision=decision, consent=True, started_at=at, decided_at=at,
                   created_at=at, overridden_at=at if overridden_to else None)


def test_admitted_stays_admitted_whatever_comes_later() -> None:
    admitted = _row(Decision.ADMIT, 0)
    forged = _row(Decision.REJECT, 3)
    review = _row(Decision.REVIEW, 5)
    # In any order given: the state is computed on the attempts' order, not the list's.
    state = attendance_of([review, forged, admitted])
    assert state.state is RosterStatus.ADMIT
    assert state.admission is admitted and state.deciding is admitted
    assert state.later == (forged, review) and state.earlier == ()


def test_a_retry_after_a_refusal_admits_and_the_refusal_stays_in_the_history() -> None:
    refused, admitted = _row(Decision.REJECT, 0), _row(Decision.ADMIT, 4)
    state = attendance_of([refused, admitted])
    assert state.state is RosterStatus.ADMIT and state.earlier == (refused,)
    # Before the retry, the latest refusal is the state; nothing: absent.
    assert attendance_of([_row(Decision.REVIEW, -2), refused]).state is RosterStatus.REJECT
    assert attendance_of([]).state is RosterStatus.ABSENT and attendance_of([]).deciding is None


def test_only_an_override_of_the_admission_takes_it_back() -> None:
    # The admitting check-in overridden to REJECT (with its reason): no longer admitted.
    revoked = _row(Decision.ADMIT, 0, overridden_to=Decision.REJECT)
    later = _row(Decision.REVIEW, 3)
    state = attendance_of([revoked, later])
    assert state.state is RosterStatus.REVIEW and state.deciding is later
    assert state.overridden
    # A later attempt overridden either way changes that attempt, never the admission.
    admitted = _row(Decision.ADMIT, 0)
    for to in (Decision.ADMIT, Decision.REJECT):
        second = _row(Decision.REVIEW if to is Decision.ADMIT else Decision.ADMIT, 3,
                      overridden_to=to)
        state = attendance_of([admitted, second])
        assert state.state is RosterStatus.ADMIT and state.admission is admitted
        assert state.later == (second,)


def _attempt(store: Store, session_id: uuid.UUID, entry_id: uuid.UUID | None, id_number: str,
             decision: Decision, desk: str | None = "Cửa 1",
             stage: Stage | None = None) -> uuid.UUID:
    done = record_checkin(store, CheckInInput(
        session_id=session_id, id_number=id_number, decision=decision,
        reasons=[Reason("checkin.face_match")], consent=False, started_at=datetime.now(UTC),
        roster_entry_id=entry_id, stage=stage, trust_verdict="TRUSTED", desk=desk),
        actor=ACTOR)
    return done.checkin.id


def test_a_second_attempt_does_not_replace_the_admission(store: Store, tmp_path: Path) -> None:
    session = centre_and_session(store)
    entries = add_roster(store, session)
    an = PEOPLE[0][0]
    first = _attempt(store, session.id, entries[0].id, an, Decision.ADMIT)
    second = _attempt(store, session.id, entries[0].id, an, Decision.REJECT, desk="Cửa 2")
    third = _attempt(store, session.id, entries[0].id, an, Decision.REVIEW, desk=None)

    att = attendance(store, session.id)
    row = att.rows[0]
    assert row.status is RosterStatus.ADMIT, "the last row wins: REVIEW replaced the admission"
    assert att.totals.admitted == 1 and att.totals.review == 0 and att.totals.rejected == 0
    assert row.checkin is not None and row.checkin.id == first
    assert [c.id for c in row.later] == [second, third]
    # Each attempt's desk, as its audit event recorded it (none for the third).
    assert [row.history.desk(c) for c in row.history.attempts] == ["Cửa 1", "Cửa 2", None]
    shown = row.to_dict()
    assert shown["status"] == "ADMIT" and shown["desk"] == "Cửa 1"
    assert [a["decision"] for a in shown["later_attempts"]] == ["REJECT", "REVIEW"]
    # The desk's "already admitted" reads the same rule.
    one = candidate_attendance(store, session.id, entries[0].id)
    assert one.admission is not None and one.admission.id == first

    # The CSV export: the state, the first admission's time and desk, then the other attempts
    # (English headers asked for; the Vietnamese default is checked below).
    out = tmp_path / "roster.csv"
    export_roster(store, session.code, out, lang="en")
    with out.open(encoding="utf-8-sig", newline="") as f:
        lines = list(csv.DictReader(f))
    # The status in words for people, its code in the column named for software (issue 13).
    assert lines[0]["Status"] == "Admitted" and lines[0]["Desk"] == "Cửa 1"
    assert lines[0]["Status code (for software)"] == "ADMIT"
    assert lines[0]["Attempts"] == "3"
    others = lines[0]["Other attempts"].split("; ")
    assert len(others) == 2 and others[0].endswith("REJECT Cửa 2")
    assert others[1].endswith("REVIEW")
    assert lines[1]["Status"] == "Absent" and lines[1]["Other attempts"] == ""
    assert lines[1]["Status code (for software)"] == "ABSENT"
    export_roster(store, session.code, out)
    with out.open(encoding="utf-8-sig", newline="") as f:
        vi = list(csv.DictReader(f))
    assert vi[0]["Bàn kiểm tra"] == "Cửa 1" and vi[0]["Số lượt kiểm tra"] == "3"
    assert vi[0]["Kết quả"] == "Được vào thi" and vi[1]["Kết quả"] == "Vắng mặt"
    assert vi[0]["Các lượt khác"].split("; ")[0].endswith("KHÔNG CHO VÀO Cửa 2")


def test_the_desk_is_in_the_audited_event(store: Store) -> None:
    session = centre_and_session(store)
    entries = add_roster(store, session)
    made = _attempt(store, session.id, entries[0].id, PEOPLE[0][0], Decision.ADMIT,
                    desk="  Cửa   1 ")
    with store.read() as tx:
        event = tx.exec(select(AuditEvent).where(AuditEvent.subject_id == made)).one()
    assert json.loads(event.payload)["desk"] == "Cửa 1"  # NFC, single spaces
    assert candidate_attendance(store, session.id, entries[0].id).desk(
        attendance(store, session.id).rows[0].checkin) == "Cửa 1"


def test_overriding_the_admission_takes_it_back_on_the_roster(store: Store) -> None:
    session = centre_and_session(store)
    entries = add_roster(store, session)
    an = PEOPLE[0][0]
    first = _attempt(store, session.id, entries[0].id, an, Decision.ADMIT)
    _attempt(store, session.id, entries[0].id, an, Decision.REJECT)
    assert attendance(store, session.id).rows[0].status is RosterStatus.ADMIT
    record_override(store, first, decision=Decision.REJECT,
                    reason="Người khác ngồi thay: đã lập biên bản", operator_id=None,
                    actor=ACTOR)
    row = attendance(store, session.id).rows[0]
    assert row.status is RosterStatus.REJECT and row.history.overridden


def test_each_driving_stage_has_its_own_state(store: Store) -> None:
    session = centre_and_session(store, SessionKind.DRIVING_TEST, code="D1")
    entries = add_roster(store, session)
    an = PEOPLE[0][0]
    _attempt(store, session.id, entries[0].id, an, Decision.ADMIT, stage=Stage.THEORY)
    _attempt(store, session.id, entries[0].id, an, Decision.REJECT, stage=Stage.THEORY)
    _attempt(store, session.id, entries[0].id, an, Decision.REVIEW, stage=Stage.YARD)
    assert attendance(store, session.id, stage=Stage.THEORY).rows[0].status == "ADMIT"
    assert attendance(store, session.id, stage=Stage.YARD).rows[0].status == "REVIEW"
    assert candidate_attendance(store, session.id, entries[0].id, Stage.YARD).admission is None
