"""Issue 11, item 2c: audit events bind the rows they record. An insider's raw UPDATE of a
check-in, an incident or an evidence reference, a row slipped in without an event, and a row
deleted from under its event are each named by ``audit verify`` (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel import select

from proctoring import audit
from proctoring.checkins import record_override
from proctoring.models import AuditEvent, CheckIn, Decision
from proctoring.store import Store

from .helpers import ACTOR, add_roster, centre_and_session, checkin
from .test_audit import _sql


def _found(store: Store) -> list[tuple[str, str]]:
    with store.read() as tx:
        report = audit.verify(tx, store.keys)
    return [(p.kind, p.detail) for c in report.chains for p in c.problems]


def _review(store: Store) -> CheckIn:
    session = centre_and_session(store)
    entries = add_roster(store, session)
    checkin(store, session, entries[0], "001093014275")
    return checkin(store, session, entries[1], "001190012345", decision=Decision.REVIEW,
                   seed=1).checkin


def _seq_of(store: Store, subject: uuid.UUID, action: str) -> int:
    with store.read() as tx:
        return tx.exec(select(AuditEvent.seq).where(AuditEvent.subject_id == subject,
                                                    AuditEvent.action == action)).one()


def test_untouched_rows_are_bound(store: Store) -> None:
    c = _review(store)
    record_override(store, c.id, decision=Decision.ADMIT, reason="Giấy tờ hợp lệ",
                    operator_id=None, actor=ACTOR)
    with store.read() as tx:
        report = audit.verify(tx, store.keys)
    assert report.ok, report.to_dict()
    assert report.chains[0].rows == {"bound": 3}  # two check-ins, the override's incident


def test_a_review_decision_changed_to_admit_in_sql(store: Store) -> None:
    c = _review(store)
    _sql(store, f"UPDATE checkin SET decision = 'ADMIT' WHERE id = '{_id(store, c.id)}'")
    seq = _seq_of(store, c.id, "checkin.recorded")
    with store.read() as tx:
        [problem] = audit.verify(tx, store.keys).chains[0].problems
    assert (problem.kind, problem.seqs) == ("row_modified", (seq,))
    assert str(c.id) in problem.detail


def test_an_evidence_reference_changed_in_sql(store: Store) -> None:
    c = _review(store)
    _sql(store, f"UPDATE evidence SET kind = 'LIVE_FRAME' WHERE checkin_id = '{_id(store, c.id)}'"
                " AND kind = 'CHIP_PORTRAIT'")
    assert [k for k, _ in _found(store)] == ["row_modified"]


def test_a_row_without_an_event(store: Store) -> None:
    c = _review(store)
    twin = uuid.uuid4()
    table = CheckIn.__table__  # type: ignore[attr-defined]
    with store.read() as tx:
        row = dict(tx.connection().execute(sa.select(table).where(table.c.id == c.id)).one()
                   ._mapping)
    _sql(store, sa.insert(table).values({**row, "id": twin, "decision": "ADMIT"}))
    assert _found(store) == [("row_unrecorded", f"checkin {twin} has no audit event")]


def test_a_row_deleted_from_under_its_event(store: Store) -> None:
    c = _review(store)
    cid = _id(store, c.id)
    _sql(store, f"DELETE FROM evidence_blob WHERE id IN (SELECT id FROM evidence "
                f"WHERE checkin_id = '{cid}')",
         f"DELETE FROM evidence WHERE checkin_id = '{cid}'",
         f"DELETE FROM checkin WHERE id = '{cid}'")
    seq = _seq_of(store, c.id, "checkin.recorded")
    with store.read() as tx:
        problems = audit.verify(tx, store.keys).chains[0].problems
    assert [(p.kind, p.seqs) for p in problems] == [("row_missing", (seq,))]


def _id(store: Store, value: uuid.UUID) -> str:
    """How the database spells a UUID in SQL (SQLite keeps 32 hex digits, no dashes)."""
    return value.hex if store.backend == "sqlite" else str(value)
