"""The seat agent's core: states and events from observations, exactly (no camera, no clock)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np

from biometrics import OperatingPoint
from proctoring.models import IncidentKind
from proctoring.monitor import Observation
from proctoring.seat import (
    Admission,
    Bound,
    ConsentAnswer,
    Heartbeat,
    IncidentClosed,
    IncidentOpened,
    SeatAgent,
    SeatState,
    StateChanged,
)

T0 = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
SAME, OTHER = 0.2, 0.9
YES = ConsentAnswer(True, "c" * 64, "vi")
ADMISSION = Admission(uuid.uuid4(), uuid.uuid4(), np.zeros((1, 128), np.float32))


def at(i: int) -> datetime:
    return T0 + timedelta(seconds=2 * i)


def bound_agent() -> SeatAgent:
    agent = SeatAgent(OperatingPoint())
    agent.admit(ADMISSION)
    agent.answer_consent(YES, at(0))
    agent.observe(Observation(at(0), 1, SAME))
    return agent


def test_waits_until_admitted_then_binds_on_a_face_match() -> None:
    agent = SeatAgent(OperatingPoint())
    assert agent.observe(Observation(at(0), 1, None))[0] == Heartbeat(at(0), SeatState.WAITING)
    assert agent.state is SeatState.WAITING
    agent.admit(ADMISSION)
    agent.answer_consent(YES, at(1))
    assert [e for e in agent.observe(Observation(at(1), 1, OTHER))
            if not isinstance(e, Heartbeat)] == []  # not the admitted face: no binding
    events = agent.observe(Observation(at(2), 1, SAME))
    assert isinstance(events[0], Bound) and events[0].binding.checkin_id == ADMISSION.checkin_id
    assert agent.state is SeatState.BOUND
    agent.observe(Observation(at(3), 1, SAME))
    assert agent.state is SeatState.WATCHING


def test_two_faces_at_binding_do_not_bind() -> None:
    agent = SeatAgent(OperatingPoint())
    agent.admit(ADMISSION)
    agent.answer_consent(YES, at(0))
    agent.observe(Observation(at(0), 2, None))
    assert agent.binding is None and agent.state is SeatState.WAITING


def test_a_swap_opens_a_different_person_incident_with_its_frame_and_closes_it() -> None:
    agent = bound_agent()
    frame = np.zeros((4, 4, 3), np.uint8)
    events = []
    for i, d in enumerate([SAME, OTHER, OTHER, OTHER, SAME], start=1):
        events += agent.observe(Observation(at(i), 1, d, frame if d == OTHER else None))
        if i == 3:
            assert agent.state is SeatState.DIFFERENT_PERSON
    opened = [e for e in events if isinstance(e, IncidentOpened)]
    closed = [e for e in events if isinstance(e, IncidentClosed)]
    assert [o.kind for o in opened] == [IncidentKind.FACE_MISMATCH]
    assert opened[0].frame is frame and opened[0].started_at == at(3)
    assert closed[0].incident_id == opened[0].incident_id and closed[0].ended_at == at(5)
    assert agent.state is SeatState.WATCHING


def test_absence_then_several_faces_each_show_as_a_state() -> None:
    agent = bound_agent()
    states = []
    for i in range(1, 8):
        agent.observe(Observation(at(i), 0, None))
        states.append(agent.state)
    assert states[-1] is SeatState.ABSENT and states[0] is SeatState.WATCHING
    for i in range(8, 12):
        agent.observe(Observation(at(i), 2, None))
    assert agent.state is SeatState.SEVERAL_FACES


def test_camera_lost_after_a_while_and_back() -> None:
    agent = bound_agent()
    events = agent.camera_failed(at(1)) + agent.camera_failed(at(2))
    assert agent.state is not SeatState.CAMERA_LOST  # 2 s: a hiccup
    events += agent.camera_failed(at(5))
    assert agent.state is SeatState.CAMERA_LOST
    opened = [e for e in events if isinstance(e, IncidentOpened)]
    assert len(opened) == 1 and opened[0].message_key == "seat.camera_lost"
    assert opened[0].started_at == at(1) and opened[0].frame is None
    events = agent.observe(Observation(at(6), 1, SAME))
    assert IncidentClosed(opened[0].incident_id, IncidentKind.CAMERA_LOST, at(6)) in events
    assert agent.state is SeatState.WATCHING


def test_a_pause_closes_what_is_open_ignores_absence_and_ends_on_time() -> None:
    agent = bound_agent()
    for i in range(1, 8):
        agent.observe(Observation(at(i), 0, None))
    events = agent.pause(at(8), until=at(8) + timedelta(minutes=5))
    assert any(isinstance(e, IncidentClosed) for e in events)
    assert agent.state is SeatState.PAUSED and not agent.watching
    for i in range(9, 300):
        assert not any(isinstance(e, IncidentOpened)
                       for e in agent.observe(Observation(at(i), 0, None)))
        if agent.state is not SeatState.PAUSED:
            break
    assert agent.state is not SeatState.PAUSED and at(i) == at(8) + timedelta(minutes=5)


def test_heartbeats_follow_the_clock_and_state_changes_are_events() -> None:
    agent = bound_agent()
    beats = [e for i in range(1, 5) for e in agent.tick(at(i))
             if isinstance(e, Heartbeat)]
    assert len(beats) == 4
    assert StateChanged(at(1), SeatState.WATCHING) in agent.observe(Observation(at(1), 1, SAME))


def test_restore_watches_again_without_a_new_match() -> None:
    first = bound_agent()
    binding = first.binding
    assert binding is not None
    again = SeatAgent(OperatingPoint())
    again.restore(binding, ADMISSION, at(10))
    assert again.state is SeatState.WATCHING and again.binding == binding
