"""Consent at the seat (issue 18; Decree 13/2023: given, never presumed): the seat shows its
consent text once it knows the candidate, reads no frame before a yes, records every answer
per candidate and session (audited), and tells the room when the candidate says no."""

from __future__ import annotations

import io
import uuid
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import select

from biometrics import FileCamera, OperatingPoint
from biometrics.camera import Frame
from examdesk.services.seat_consent import TerminalConsent, consent_text, parse_answer
from proctoring.errors import InvalidInput, NotFound
from proctoring.models import AuditEvent
from proctoring.monitor import Observation
from proctoring.seat import (
    Admission,
    ConsentAnswer,
    ConsentAnswered,
    SeatAgent,
    SeatState,
    StateChanged,
)
from proctoring.seat_models import SeatConsent
from proctoring.seat_store import record_consent, room_status, seat_place
from proctoring.store import Store

from .helpers import add_roster, centre_and_session
from .test_seat_room import T0, Room, own

YES = ConsentAnswer(True, "a" * 64, "vi")
NO = ConsentAnswer(False, "a" * 64, "vi")


class Counting(FileCamera):
    """A file camera that counts the frames anyone read from it."""

    reads = 0

    def read(self, timeout: float = 2.0) -> Frame:
        Counting.reads += 1
        return super().read(timeout)


class Answers:
    """The candidate at the seat: no answer until told."""

    def __init__(self) -> None:
        self.answer: ConsentAnswer | None = None
        self.asked: list[uuid.UUID] = []

    def __call__(self, admission: Admission) -> ConsentAnswer | None:
        self.asked.append(admission.roster_entry_id)
        return self.answer


@pytest.fixture
def room(store: Store, engine, tmp_path: Path) -> Room:
    return Room(store, engine, tmp_path)


def runner_with(room: Room, answers: Answers, frames: list[Path]):  # type: ignore[no-untyped-def]
    runner = room.runner(frames)
    runner.camera = Counting(frames, frame_size=(1280, 720))
    runner._consent = answers
    Counting.reads = 0
    return runner


def test_the_agent_reads_no_frame_and_binds_nobody_without_a_yes() -> None:
    admission = Admission(uuid.uuid4(), uuid.uuid4(), np.zeros((1, 128), np.float32))
    agent = SeatAgent(OperatingPoint())
    agent.admit(admission)
    assert agent.wants_consent and not agent.watching
    agent.observe(Observation(T0, 1, 0.1))  # a driver that looks anyway: still no binding
    assert agent.binding is None
    events = agent.answer_consent(NO, T0)
    assert events == [ConsentAnswered(T0, admission.roster_entry_id, NO),
                      StateChanged(T0, SeatState.NO_CONSENT)]
    assert not agent.watching and agent.state is SeatState.NO_CONSENT
    later = T0 + timedelta(minutes=1)
    assert agent.answer_consent(YES, later)[-1] == StateChanged(later, SeatState.WAITING)
    assert agent.watching
    agent.observe(Observation(later, 1, 0.1))
    assert agent.binding is not None


def test_no_answer_no_frame_refusal_recorded_and_shown_then_a_yes_binds(room: Room) -> None:
    answers = Answers()
    runner = runner_with(room, answers, [own(n) for n in (1, 2, 3, 4)])
    runner.start()
    for _ in range(3):
        assert runner.step().state is SeatState.WAITING
    assert Counting.reads == 0 and runner.agent.binding is None  # not presumed: nothing read
    assert answers.asked == [room.entry.id] * 3
    answers.answer = NO
    assert runner.step().state is SeatState.NO_CONSENT
    assert Counting.reads == 0
    line = next(s for s in room_status(room.store, "S1").seats if s.seat == "A01")
    assert line.state is SeatState.NO_CONSENT  # the invigilator sees it in the room
    answers.answer = YES  # the candidate changed their mind
    states = [runner.step().state for _ in range(2)]
    assert states == [SeatState.BOUND, SeatState.WATCHING] and Counting.reads == 2
    with room.store.read() as tx:
        (row,) = tx.exec(select(SeatConsent)).all()
        audited = tx.exec(select(AuditEvent).where(AuditEvent.action == "seat.consent")
                          .order_by(AuditEvent.seq)).all()
    assert (row.roster_entry_id, row.session_id, row.given) == (
        room.entry.id, room.session.id, True)
    assert [('"given":false' in e.payload, '"given":true' in e.payload) for e in audited] == [
        (True, False), (False, True)]


def test_an_agent_restarted_before_binding_does_not_ask_again(room: Room) -> None:
    answers = Answers()
    answers.answer = YES
    first = runner_with(room, answers, [own(1)])
    first.start()
    first.step()  # answered and bound in the same check
    first.buffer.clear_binding()  # as if it had stopped between the answer and the binding
    first.buffer.close()
    again = Answers()  # nobody answers the new process: the recorded yes holds
    second = runner_with(room, again, [own(2), own(3)])
    second.start()
    assert second.step().state is SeatState.BOUND and again.asked == []


def test_a_consent_for_a_line_of_another_session_is_refused(room: Room) -> None:
    other = centre_and_session(room.store, code="S2")
    stranger = add_roster(room.store, other, [("079201000123", "Lê Thị Hoa",
                                              date(2001, 3, 2), "F")])[0]
    with pytest.raises(NotFound):
        record_consent(room.store, room.place, stranger.id, YES, T0, actor="seat:A01")
    with pytest.raises(InvalidInput):
        record_consent(room.store, room.place, room.entry.id,
                       ConsentAnswer(True, "not a digest", "vi"), T0, actor="seat:A01")
    assert seat_place(room.store, "S1", "A01") == room.place


def test_the_terminal_shows_the_text_in_both_languages_and_never_presumes() -> None:
    text = consent_text("A07", 2.0)
    out = io.StringIO()
    admission = Admission(uuid.uuid4(), uuid.uuid4(), np.zeros((1, 128), np.float32))
    silent = TerminalConsent(text, "vi", io.StringIO(""), out)  # no answer typed, ever
    assert silent(admission) is None and silent(admission) is None
    shown = out.getvalue()
    assert "ghế A07" in shown and "seat A07" in shown and "2 giây" in shown
    assert "Không ghi hình liên tục" in shown and "Nothing is recorded continuously" in shown
    assert [parse_answer(w) for w in ("c", " Có ", "y", "k", "không", "n", "ok", "")] == [
        True, True, True, False, False, False, None, None]
    assert len(text.sha256) == 64 and text.sha256 != consent_text("A08", 2.0).sha256


def test_a_database_at_0009_upgrades_with_its_seats_intact(db_url: str, tmp_path: Path) -> None:
    import sqlalchemy as sa

    from proctoring.crypto import KeyStore
    from proctoring.seat_models import SeatAgentRow
    from proctoring.store import HEAD_REVISION, create_engine, database_url
    from tests.migrations import migrate, revision_and_drift

    keys = KeyStore(tmp_path / "keys", use_keyring=False)
    Store.open(db_url, keys=keys).close()  # at the head (PostgreSQL's may be already)
    db = create_engine(database_url(db_url))
    migrate(db, "0009_seat18_seats", down=True)
    old = Store(db, keys)
    session = centre_and_session(old)
    with old.write() as tx:
        tx.add(SeatAgentRow(centre_id=session.centre_id, session_id=session.id, seat="A01",
                            state="watching"))
    old.close()
    store = Store.open(db_url, keys=keys)
    try:
        assert revision_and_drift(store.engine) == (HEAD_REVISION, [])
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT seat, state FROM seat_agent")).all() == [
                ("A01", "watching")]
            assert conn.execute(sa.text("SELECT count(*) FROM seat_consent")).scalar() == 0
    finally:
        store.close()
