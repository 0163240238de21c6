""""Camera lost" end to end (issue 18): a webcam unplugged mid-exam is an incident of its own
kind, the agent retries the camera at every check and watches again when it is back; the
kind is named in words in both languages wherever an incident kind is shown."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from biometrics import FileCamera
from biometrics.errors import CameraUnavailable
from proctoring.models import IncidentKind
from proctoring.seat import SeatState
from proctoring.store import Store

from .helpers import seat_incident_worded
from .test_seat_room import Room, own


@pytest.fixture
def room(store: Store, engine, tmp_path: Path) -> Room:
    return Room(store, engine, tmp_path)


def unplugged_then_back(room: Room, *, down_for: int) -> tuple[list[SeatState], list[int]]:
    """The camera stops after two frames; the first ``down_for`` attempts to open it again
    fail (still unplugged), then a camera is there again."""
    tries: list[int] = []

    def reopen() -> FileCamera:
        tries.append(1)
        if len(tries) <= down_for:
            raise CameraUnavailable("no such device", source="/dev/video0")
        return FileCamera([own(n) for n in (3, 4, 5, 6)], frame_size=(1280, 720))

    runner = room.runner([own(1), own(2), own(3)], fail_at=2)
    runner._reopen = reopen  # what `examdesk seat` passes: open the same --camera again
    runner.start()
    states = [runner.step().state for _ in range(2 + down_for + 1 + 3)]
    runner.stop()
    return states, tries


def test_an_unplugged_camera_is_an_incident_retried_and_watched_again(room: Room) -> None:
    states, tries = unplugged_then_back(room, down_for=5)
    assert SeatState.CAMERA_LOST in states and states[-1] is SeatState.WATCHING
    assert len(tries) == 6  # once per check while it was gone, then it was back
    (incident,) = room.incidents()
    assert incident.kind is IncidentKind.CAMERA_LOST
    assert incident.message_key == "seat.camera_lost" and incident.details["seat"] == "A01"
    assert incident.ended_at is not None and incident.ended_at > incident.started_at


def test_camera_lost_has_words_in_both_languages_everywhere(room: Room,
                                                            tmp_path: Path) -> None:
    unplugged_then_back(room, down_for=4)
    text = seat_incident_worded(
        IncidentKind.CAMERA_LOST, ("app.incident.CAMERA_LOST", "seat.state.camera_lost",
                                   "seat.camera_lost"), room.store, date(2026, 12, 3), tmp_path)
    for lang, needed in (("vi", ("Mất tín hiệu camera khi thi trực tuyến (1)",
                                 "Camera của máy thi không gửi hình trong 0 phút")),
                         ("en", ("Camera lost during an online exam (1)",
                                 "The seat's camera sent no picture for 0 min"))):
        for words in needed:
            assert words in text[lang], (lang, words)
        assert "CAMERA_LOST" not in text[lang] and "seat.camera_lost" not in text[lang]
