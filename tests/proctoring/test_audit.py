"""The audit chain: intact, and every way of editing it directly in the database is named."""

from __future__ import annotations

import threading
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from proctoring import audit
from proctoring.audit import GENESIS, event_hash
from proctoring.centres import ensure_centre
from proctoring.models import AuditCheckpoint, AuditEvent, AuditHead, Centre, SessionKind
from proctoring.sessions import create_session
from proctoring.store import Store

from .helpers import ACTOR

EVENTS = 10  # centre.created + 9 sessions
T = AuditEvent.__table__  # type: ignore[attr-defined]


def _chain(store: Store, sessions: int = EVENTS - 1) -> Centre:
    centre = ensure_centre(store, "HN01", "Trung tâm Hà Nội", actor=ACTOR)
    for i in range(sessions):
        create_session(store, centre_id=centre.id, kind=SessionKind.ONLINE_EXAM,
                       title=f"Ca thi {i + 1}", code=f"C{i + 1}",
                       starts_at=datetime(2025, 6, 12, i, tzinfo=UTC), actor=ACTOR)
    return centre


def _problems(store: Store) -> list[tuple[str, tuple[int, ...]]]:
    with store.read() as tx:
        report = audit.verify(tx, store.keys)
    return [(p.kind, p.seqs) for c in report.chains for p in c.problems]


def _event(store: Store, seq: int) -> AuditEvent:
    with store.read() as tx:
        return tx.exec(select(AuditEvent).where(AuditEvent.seq == seq)).one()


def _sql(store: Store, *statements: sa.Executable | str) -> None:
    """Edit the tables the way an insider with a database client would: plain SQL."""
    with store.engine.begin() as conn:
        for s in statements:
            conn.execute(sa.text(s) if isinstance(s, str) else s)


def _rehash(e: AuditEvent, prev_hash: str) -> str:
    return event_hash(centre_id=e.centre_id, occurred_at=e.occurred_at, actor=e.actor,
                      action=e.action, subject_id=e.subject_id, payload=e.payload,
                      prev_hash=prev_hash)


def test_an_untouched_chain_verifies(store: Store) -> None:
    _chain(store)
    with store.read() as tx:
        report = audit.verify(tx, store.keys)
    assert report.ok
    [chain] = report.chains
    assert (chain.events, chain.last_seq) == (EVENTS, EVENTS)
    first = _event(store, 1)
    assert first.prev_hash == GENESIS and first.action == "centre.created"


def test_modified_event(store: Store) -> None:
    _chain(store)
    _sql(store, "UPDATE audit_event SET payload = replace(payload, 'Ca thi 4', 'Ca thi X') "
                "WHERE seq = 5")
    assert _problems(store) == [("modified", (5,))]


def test_modified_event_with_its_hash_recomputed(store: Store) -> None:
    _chain(store)
    e = _event(store, 5)
    e.actor = "cli:someone-else"
    _sql(store, sa.update(T).where(T.c.seq == 5).values(actor=e.actor,
                                                        hash=_rehash(e, e.prev_hash)))
    assert _problems(store) == [("modified", (5,))]


def test_deleted_event(store: Store) -> None:
    _chain(store)
    _sql(store, "DELETE FROM audit_event WHERE seq = 5")
    assert _problems(store) == [("deleted", (5,))]


def test_deleted_first_and_last_events(store: Store) -> None:
    _chain(store)
    _sql(store, "DELETE FROM audit_event WHERE seq = 1",
         f"DELETE FROM audit_event WHERE seq = {EVENTS}")
    assert _problems(store) == [("deleted", (1,)), ("deleted", (EVENTS,))]


def test_a_seq_far_ahead_is_named_without_listing_every_number(store: Store) -> None:
    """An insider (a desk may append to its own chain) renumbers an event to two billion:
    verify names the gap from its first numbers instead of allocating every one of them."""
    _chain(store)
    far = 2_000_000_000
    _sql(store, f"UPDATE audit_event SET seq = {far} WHERE seq = {EVENTS}")
    [(kind, seqs)] = _problems(store)
    assert kind == "deleted" and seqs == tuple(range(EVENTS, EVENTS + audit.GAP_LISTED))


def test_inserted_event_with_renumbering_and_a_valid_hash(store: Store) -> None:
    _chain(store)
    before = _event(store, 4)
    fake = AuditEvent(centre_id=before.centre_id, seq=5, occurred_at=before.occurred_at,
                      actor=ACTOR, action="session.closed", subject_id=uuid.uuid4(),
                      payload='{"code":"C1"}', prev_hash=before.hash, hash="")
    fake.hash = _rehash(fake, before.hash)
    _sql(store,
         "UPDATE audit_event SET seq = seq + 1000000 WHERE seq >= 5",
         "UPDATE audit_event SET seq = seq - 1000000 + 1 WHERE seq >= 1000000",
         sa.insert(T).values(**{c.name: getattr(fake, c.name) for c in T.columns}))
    assert _problems(store) == [("inserted", (5,))]


def test_inserted_event_at_the_end(store: Store) -> None:
    _chain(store)
    last = _event(store, EVENTS)
    _sql(store, sa.insert(T).values(
        id=uuid.uuid4(), centre_id=last.centre_id, seq=EVENTS + 1, occurred_at=last.occurred_at,
        actor=ACTOR, action="checkin.recorded", subject_id=uuid.uuid4(),
        payload='{"decision":"ADMIT"}', prev_hash="f" * 64, hash="e" * 64))
    assert _problems(store) == [("inserted", (EVENTS + 1,))]


def test_reordered_events(store: Store) -> None:
    _chain(store)
    _sql(store, "UPDATE audit_event SET seq = -5 WHERE seq = 5",
         "UPDATE audit_event SET seq = 5 WHERE seq = 6",
         "UPDATE audit_event SET seq = 6 WHERE seq = -5")
    assert _problems(store) == [("reordered", (5, 6))]


def test_a_rewritten_chain_is_caught_by_the_signed_checkpoint(store: Store) -> None:
    centre = _chain(store)
    with store.write() as tx:
        cp = store.audit.checkpoint(tx, centre.id, store.now())
    assert cp is not None and cp.seq == EVENTS
    # The insider edits event 3 and recomputes every hash after it, and the head: the chain
    # itself is consistent again, only the signature (whose key is not in the database) knows.
    with store.read() as tx:
        events = list(tx.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all())
    events[2].payload = events[2].payload.replace("Ca thi 2", "Ca thi Z")
    statements: list[sa.Executable | str] = []
    prev = events[1].hash
    for e in events[2:]:
        new = _rehash(e, prev)
        statements.append(sa.update(T).where(T.c.id == e.id)
                          .values(payload=e.payload, prev_hash=prev, hash=new))
        prev = new
    head = AuditHead.__table__  # type: ignore[attr-defined]
    statements.append(sa.update(head).values(hash=prev))
    _sql(store, *statements)
    # Every event is signed now: the rewrite is named from the first event it changed.
    assert _problems(store) == [("checkpoint_mismatch", tuple(range(3, EVENTS + 1)))]


def test_a_forged_checkpoint_signature(store: Store) -> None:
    centre = _chain(store)
    with store.write() as tx:
        store.audit.checkpoint(tx, centre.id, store.now())
    _sql(store, sa.update(AuditCheckpoint.__table__).values(  # type: ignore[attr-defined]
        signature="00" * 64))
    assert _problems(store) == [("checkpoint_invalid", tuple(range(1, EVENTS + 1)))]


def test_every_event_is_signed_in_its_own_transaction(store: Store) -> None:
    # Was: a checkpoint every 4th event. Since issue 11 every event is signed as it is
    # appended (no unsigned tail), whatever the legacy cadence setting says.
    store.audit = audit.AuditLog(store.keys, checkpoint_every=4)
    _chain(store)
    with store.read() as tx:
        seqs = tx.exec(select(AuditCheckpoint.seq).order_by(col(AuditCheckpoint.seq))).all()
        report = audit.verify(tx, store.keys)
    assert list(seqs) == list(range(1, EVENTS + 1))
    assert report.ok and report.chains[0].key_source == "station"


def test_the_event_and_the_change_commit_together(store: Store) -> None:
    centre = _chain(store, sessions=0)
    with pytest.raises(RuntimeError), store.write() as tx:
        store.audit.append(tx, centre_id=centre.id, actor=ACTOR, action="test.change",
                           subject_id=centre.id, payload={}, at=store.now())
        raise RuntimeError("the state change failed")
    with store.read() as tx:
        assert tx.exec(select(AuditHead)).one().seq == 1
        assert len(tx.exec(select(AuditEvent)).all()) == 1


def test_concurrent_writers_keep_one_linear_chain(store: Store) -> None:
    centre = _chain(store, sessions=0)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(8):
                create_session(store, centre_id=centre.id, kind=SessionKind.ONLINE_EXAM,
                               title="x", code=f"T{n}-{i}", starts_at=datetime.now(UTC),
                               actor=ACTOR)
        except BaseException as exc:  # report in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.read() as tx:
        seqs = tx.exec(select(AuditEvent.seq).order_by(col(AuditEvent.seq))).all()
        assert audit.verify(tx, store.keys).ok
    assert list(seqs) == list(range(1, 26))


def test_canonical_json_is_stable() -> None:
    hanoi = timezone(timedelta(hours=7))
    a = audit.canonical_json({"b": 1, "a": ["Nguyễn", None, 0.5],
                              "t": datetime(2025, 1, 1, tzinfo=UTC)})
    # Same values: keys in another order, the name decomposed (NFD), the time in Hanoi.
    b = audit.canonical_json({"t": datetime(2025, 1, 1, 7, tzinfo=hanoi),
                              "a": [unicodedata.normalize("NFD", "Nguyễn"), None, 0.5], "b": 1})
    assert a == b == '{"a":["Nguyễn",null,0.5],"b":1,"t":"2025-01-01T00:00:00.000000Z"}'
    with pytest.raises(TypeError):
        audit.canonical_json({"portrait": b"\xff\xd8"})
