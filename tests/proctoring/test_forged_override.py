"""Overrides (issue 13, "overrides and dates"): admitting on a FORGED card is the centre admin's
decision, confirmed a second time, a HIGH incident with its mark in the audit log; a check-in
is named by its id or a unique prefix of it, as `session show` takes a session's."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from examdesk.services.override import override_checkin, resolve_checkin
from proctoring.checkins import CheckInInput, Reason, record_checkin
from proctoring.errors import (
    CheckInAmbiguous,
    CheckInNotFound,
    CheckInRefInvalid,
    ForgedOverrideNeedsAdmin,
    ForgedOverrideNotConfirmed,
)
from proctoring.models import AuditEvent, CheckIn, Decision, Incident, Role
from proctoring.store import Store

from .helpers import add_roster, centre_and_session, checkin

REASON = "Quản trị viên đối chiếu giấy khai sinh và hộ chiếu: đúng người"


def forged(store: Store, checkin_id: uuid.UUID | None = None) -> uuid.UUID:
    session = centre_and_session(store)
    (entry, *_) = add_roster(store, session)
    done = record_checkin(store, CheckInInput(
        session_id=session.id, id_number="001093014275", decision=Decision.REJECT,
        reasons=[Reason("verdict.passive_invalid")], consent=False,
        started_at=datetime.now(UTC), roster_entry_id=entry.id, trust_verdict="FORGED",
        trust_findings=["passive.invalid"],
        **({"checkin_id": checkin_id} if checkin_id else {})), actor="t")
    return done.checkin.id


def test_admitting_on_a_forged_card_needs_the_admin_and_a_second_yes(store: Store) -> None:
    target = forged(store)
    # Issue 13: this was accepted like any other override.
    with pytest.raises(ForgedOverrideNeedsAdmin) as refused:
        override_checkin(store, target, Decision.ADMIT, REASON, actor="t",
                         role=Role.INVIGILATOR, confirmed_forged=True)
    assert refused.value.context["role"] == "invigilator"
    with pytest.raises(ForgedOverrideNeedsAdmin):
        override_checkin(store, target, Decision.ADMIT, REASON, actor="t")  # nobody named
    with pytest.raises(ForgedOverrideNotConfirmed):
        override_checkin(store, target, Decision.ADMIT, REASON, actor="t",
                         role=Role.CENTRE_ADMIN)
    with store.read() as tx:
        row = tx.get(CheckIn, target)
        assert row is not None and row.decision == Decision.REJECT  # nothing changed
        assert tx.exec(select(Incident)).all() == []
    # An invigilator may still send it to REVIEW: only admitting is the admin's.
    done = override_checkin(store, target, Decision.REVIEW, "Chờ quản trị viên", actor="t",
                            role=Role.INVIGILATOR)
    assert done.decision is Decision.REVIEW
    done = override_checkin(store, target, Decision.ADMIT, REASON, actor="admin",
                            role=Role.CENTRE_ADMIN, confirmed_forged=True)
    with store.read() as tx:
        incident = tx.get(Incident, done.incident_id)
        assert incident is not None and incident.severity == "HIGH"
        assert incident.details["forged_card"] is True
        event = tx.exec(select(AuditEvent).where(AuditEvent.action == "checkin.overridden")
                        .order_by(AuditEvent.seq.desc())).first()
        assert event is not None
        payload = json.loads(event.payload)
        assert payload["forged_card"] is True and payload["role"] == "centre_admin"


def test_other_overrides_are_unchanged(store: Store) -> None:
    session = centre_and_session(store)
    (entry, *_) = add_roster(store, session)
    done = checkin(store, session, entry, "001093014275", decision=Decision.REVIEW).checkin
    result = override_checkin(store, done.id, Decision.ADMIT, "Đã đối chiếu giấy tờ", actor="t")
    assert result.decision is Decision.ADMIT


def test_a_check_in_is_named_by_a_unique_prefix(store: Store) -> None:
    first = forged(store, uuid.UUID("abcd1234-0000-4000-8000-000000000001"))
    with store.write() as tx:  # a second check-in whose id shares the first 8 digits
        row = tx.get(CheckIn, first)
        assert row is not None
        twin = CheckIn(**{**row.model_dump(), "id": uuid.UUID(
            "abcd1234-ffff-4000-8000-000000000002")})
        tx.add(twin)
    assert resolve_checkin(store, str(first)) == first
    assert resolve_checkin(store, "ABCD1234-0000-4000-8000-000000000001") == first
    assert resolve_checkin(store, "abcd12340000") == first  # without hyphens
    with pytest.raises(CheckInAmbiguous):
        resolve_checkin(store, "abcd1234")
    with pytest.raises(CheckInNotFound):
        resolve_checkin(store, "ffff")
    for bad in ("abc", "xyz12345", ""):
        with pytest.raises(CheckInRefInvalid):
            resolve_checkin(store, bad)
    done = override_checkin(store, "abcd1234-0", Decision.REVIEW,
                            "Chờ quản trị viên", actor="t")  # a prefix, as typed
    assert done.checkin_id == first
