"""The candidate withdraws consent at the seat during the exam (issue 18, Decree 13/2023: consent
can be withdrawn as easily as it was given). Through the real store (SQLite and PostgreSQL),
file cameras playing real photos, the local buffer and the face engine: the seat stops reading
frames at once, the new answer replaces the old one (audited), what was open closes, and the
room shows "⊘ no consent" with an alert for the invigilator, who must now watch by eye."""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import col, select

from biometrics import FileCamera
from biometrics.camera import Frame
from examdesk.services.room import alert_state, room_view
from examdesk.services.seat_consent import TerminalConsent, consent_text, parse_answer
from proctoring.models import AuditEvent, IncidentKind
from proctoring.seat import Admission, ConsentAnswer, SeatAgent, SeatState
from proctoring.seat_buffer import SeatBuffer
from proctoring.seat_models import SeatConsent
from proctoring.seat_run import SeatObserver, SeatRunner
from proctoring.store import Store

from .helpers import empty_chair
from .test_seat_room import RULES, T0, Room, own


@pytest.fixture
def room(store: Store, engine, tmp_path: Path) -> Room:
    return Room(store, engine, tmp_path)


class Candidate:
    """The candidate at the strip or the terminal: their current answer (what the seat's
    consent source returns) and a withdrawal once they withdraw (its withdrawal source)."""

    def __init__(self, answer: bool | None = True) -> None:
        self.answer = answer
        self._withdrew = False

    def __call__(self, _admission: Admission) -> ConsentAnswer | None:
        return None if self.answer is None else ConsentAnswer(self.answer, "c" * 64, "vi")

    def withdraw(self) -> None:
        self.answer, self._withdrew = False, True

    def withdrawn(self) -> ConsentAnswer | None:
        pressed, self._withdrew = self._withdrew, False
        return ConsentAnswer(False, "c" * 64, "vi") if pressed else None


class Counting(FileCamera):
    """A file camera that counts the frames read from it."""

    reads = 0

    def read(self, timeout: float = 2.0) -> Frame:
        self.reads += 1
        return super().read(timeout)


def seat(room: Room, frames: list[Path], candidate: Candidate) -> tuple[SeatRunner, Counting]:
    camera = Counting(frames, frame_size=(1280, 720))
    runner = SeatRunner(agent=SeatAgent(room.engine.settings.operating_point, RULES),
                        observer=SeatObserver(room.engine), camera=camera,
                        buffer=SeatBuffer(room.folder / "seat-A01.db", room.store.data_key),
                        store=room.store, place=room.place, actor="seat:A01",
                        clock=lambda: next(room.ticks), consent=candidate,
                        withdrawals=candidate.withdrawn)
    return runner, camera


def test_withdrawing_consent_stops_the_frames_and_the_room_shows_no_consent(room: Room) -> None:
    candidate = Candidate()
    frames = [own(1), own(2), *[empty_chair(room.folder)] * 4, *[own(3)] * 6]
    runner, camera = seat(room, frames, candidate)
    runner.start()
    states = [runner.step().state for _ in range(5)]  # bound, watching, the chair empty…
    assert states[0] is SeatState.BOUND and states[-1] is SeatState.ABSENT
    reads = camera.reads
    candidate.withdraw()  # the strip's button, or "rút" typed at the terminal
    after = [runner.step().state for _ in range(4)]
    runner.stop()
    assert after == [SeatState.NO_CONSENT] * 4
    assert camera.reads == reads  # not one frame read from the moment it was withdrawn
    assert runner.agent.binding is None and runner.buffer.load_binding() is None
    assert len(runner.buffer) == 0  # everything delivered

    with room.store.read() as tx:
        (row,) = tx.exec(select(SeatConsent)).all()
        answers = ['"given":true' in e.payload for e in tx.exec(
            select(AuditEvent).where(AuditEvent.action == "seat.consent")
            .order_by(col(AuditEvent.seq))).all()]
    assert row.given is False and row.roster_entry_id == room.entry.id
    assert row.answered_at == T0 + timedelta(minutes=1, seconds=10)  # the withdrawal's check
    assert answers == [True, False]  # both answers stay in the audit chain
    absent, withdrawal = room.incidents()
    assert absent.kind is IncidentKind.FACE_ABSENT and absent.ended_at == row.answered_at
    assert withdrawal.kind is IncidentKind.CONSENT_WITHDRAWN
    assert withdrawal.roster_entry_id == room.entry.id
    assert withdrawal.message_key == "seat.consent_withdrawn"

    view = room_view(room.store, "S1", now=T0 + timedelta(minutes=1, seconds=20))
    tile = view.seat("A01")
    assert tile is not None and tile.shown == "no_consent"
    alert = next(a for a in view.alerts if a.kind is IncidentKind.CONSENT_WITHDRAWN)
    assert alert_state(alert) == "no_consent" and alert.frames == 0 and not alert.acknowledged


def test_consent_given_again_binds_afresh_by_a_face_match(room: Room) -> None:
    candidate = Candidate()
    runner, _ = seat(room, [own(n) for n in range(1, 9)], candidate)
    runner.start()
    runner.step()
    runner.step()
    candidate.withdraw()
    assert [runner.step().state for _ in range(2)] == [SeatState.NO_CONSENT] * 2
    candidate.answer = True  # and yes again: a new binding by a face match
    assert [runner.step().state for _ in range(2)] == [SeatState.BOUND, SeatState.WATCHING]
    with room.store.read() as tx:
        binds = tx.exec(select(AuditEvent).where(AuditEvent.action == "seat.bound")).all()
        given = tx.exec(select(SeatConsent.given)).one()
    assert len(binds) == 2 and given is True


def test_a_restart_after_withdrawing_does_not_watch_again(room: Room) -> None:
    candidate = Candidate()
    runner, _ = seat(room, [own(1), own(2)], candidate)
    runner.start()
    runner.step()
    candidate.withdraw()
    assert runner.step().state is SeatState.NO_CONSENT
    runner.buffer.close()
    # A new process, the same buffer file: the store says no; the candidate is asked again
    # and, until they answer, nothing is read.
    again, camera = seat(room, [own(3), own(4)], Candidate(answer=None))
    again.start()
    assert [again.step().state for _ in range(2)] == [SeatState.NO_CONSENT] * 2
    assert camera.reads == 0


def test_a_withdrawal_not_yet_delivered_still_counts_after_a_restart(room: Room) -> None:
    """The store was out of reach when the candidate withdrew, and the agent restarted before
    delivering it: the store still says yes, the seat's own buffer says no — no wins."""
    runner, _ = seat(room, [own(1), own(2)], Candidate())
    runner.start()
    runner.step()
    runner.step()
    runner.buffer.clear_binding()  # what a withdrawal does on the exam computer at once…
    runner.buffer.push({"type": "consent", "at": (T0 + timedelta(minutes=2)).isoformat(),
                        "roster_entry_id": str(room.entry.id), "given": False,
                        "text_sha256": "c" * 64, "lang": "vi"})  # …and its answer, waiting
    runner.buffer.close()
    again, camera = seat(room, [own(3), own(4)], Candidate(answer=None))
    again.start()
    assert [again.step().state for _ in range(2)] == [SeatState.NO_CONSENT] * 2
    assert camera.reads == 0
    with room.store.read() as tx:
        assert tx.exec(select(SeatConsent.given)).one() is False  # delivered now


def test_the_terminal_takes_a_withdrawal_typed_while_the_seat_runs() -> None:
    assert parse_answer("rút") is False and parse_answer(" Withdraw ") is False
    assert parse_answer("rút lại") is False
    read_fd, write_fd = os.pipe()
    lines, typing = os.fdopen(read_fd, "r", encoding="utf-8"), os.fdopen(write_fd, "w",
                                                                         encoding="utf-8")
    out = io.StringIO()
    text = consent_text("A01", 2.0)
    terminal = TerminalConsent(text, "vi", lines, out)
    admission = Admission(uuid.uuid4(), uuid.uuid4(), np.zeros((1, 128), np.float32))

    def until(get: Callable[[], ConsentAnswer | None]) -> ConsentAnswer:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            got = get()
            if got is not None:
                return got
            time.sleep(0.01)
        raise AssertionError(out.getvalue())

    assert terminal(admission) is None and terminal.withdrawn() is None
    typing.write("có\n")
    typing.flush()
    assert until(lambda: terminal(admission)).given
    assert "rút" in out.getvalue()  # told how to withdraw
    typing.write("rút\n")
    typing.flush()
    withdrawn = until(terminal.withdrawn)
    assert withdrawn.given is False and withdrawn.text_sha256 == text.sha256
    assert terminal.withdrawn() is None  # once
    answer = terminal(admission)
    assert answer is not None and answer.given is False  # the last answer is the withdrawal
    typing.close()
