""""Camera covered" (issue 18): a hand, tape or a lens cap over the webcam is not an empty chair.

The frame itself tells them apart (biometrics/lens.py): real photos from ../shared/faces —
with the candidate, as an empty chair, in a dim room — keep their edges; covered frames (black,
dark and noisy, flat, a blurred glow, a hand colour) have none. Through the real store (SQLite
and PostgreSQL), file cameras and the face engine: the seat reaches "camera covered" with an
incident of its own kind and its frame, never "away from the seat", and watches again after.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlmodel import select

from biometrics.images import fit_frame, load
from biometrics.lens import CoverRule, lens_covered, read_lens
from examdesk.services.room import SYMBOLS, alert_state, room_view
from proctoring.evidence import read_evidence
from proctoring.models import Evidence, IncidentKind
from proctoring.seat import SeatState
from proctoring.store import Store
from reader.virtual import faces_dir

from .helpers import empty_chair, seat_incident_worded
from .test_seat_room import T0, Room, own

FRAME = (1280, 720)


def covered_frame(kind: str, seed: int = 0) -> np.ndarray:
    """What a covered webcam sends (seeded sensor noise on top)."""
    rng = np.random.default_rng(seed)
    w, h = FRAME
    base = {"black": (4, 4, 4), "dark": (20, 20, 20), "grey": (128, 128, 128),
            "hand": (70, 42, 34)}[kind]
    sigma = {"black": 2, "dark": 10, "grey": 3, "hand": 4}[kind]
    image = np.full((h, w, 3), base, np.float32)
    if kind == "hand":  # light through the fingers: brighter in the middle
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        image *= (1.15 - 0.15 * np.hypot(xx / w - 0.5, yy / h - 0.5) * 2)[..., None]
    image += rng.normal(0, sigma, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def dimmed(path: Path, light: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frame = fit_frame(load(path), FRAME).astype(np.float32) * light
    frame += rng.normal(0, 5, frame.shape).astype(np.float32)  # a dark sensor is noisy
    return np.clip(frame, 0, 255).astype(np.uint8)


def test_a_covered_lens_is_told_from_an_empty_chair_and_a_dim_room(tmp_path: Path) -> None:
    for kind in ("black", "dark", "grey", "hand"):
        assert lens_covered(covered_frame(kind)), (kind, read_lens(covered_frame(kind)))
    people = faces_dir() / "people"
    real = [own(1), ORL_S1, people / "obama" / "obama.jpg", people / "biden" / "biden.jpg",
            faces_dir() / "several" / "two_people.jpg"]
    for path in real:
        for light in (1.0, 1 / 3, 1 / 6):  # a dim room with someone in it: never covered
            assert not lens_covered(dimmed(path, light)), (path, light)
    chair = fit_frame(load(empty_chair(tmp_path)), FRAME)
    assert not lens_covered(chair)  # the empty chair is an empty chair, not a covered lens
    assert not lens_covered(dimmed(empty_chair(tmp_path), 1 / 3))
    # The rule is one number, set by bench/lens_cover.py; tiny frames do not break it.
    assert CoverRule().max_edges > 0
    assert read_lens(np.zeros((3, 3, 3), np.uint8)).edges == 0.0


ORL_S1 = faces_dir() / "orl" / "s1" / "1.png"


def covered_files(folder: Path, n: int) -> list[Path]:
    out = []
    for i in range(n):
        path = folder / f"covered-{i}.png"
        Image.fromarray(covered_frame("hand", seed=i)).save(path)
        out.append(path)
    return out


@pytest.fixture
def room(store: Store, engine, tmp_path: Path) -> Room:
    return Room(store, engine, tmp_path)


def test_a_covered_camera_is_its_own_state_and_incident_not_an_empty_chair(room: Room) -> None:
    frames = [own(1), own(2), *covered_files(room.folder, 6), own(3), own(4)]
    runner = room.runner(frames)
    runner.start()
    states = [runner.step().state for _ in frames]
    runner.stop()
    assert SeatState.CAMERA_COVERED in states and SeatState.ABSENT not in states
    assert states[-1] is SeatState.WATCHING  # uncovered: watched again
    (incident,) = room.incidents()
    assert incident.kind is IncidentKind.CAMERA_COVERED
    assert incident.message_key == "seat.camera_covered" and incident.details["seat"] == "A01"
    assert incident.ended_at is not None
    assert incident.ended_at - incident.started_at >= timedelta(seconds=6)
    with room.store.read() as tx:
        (evidence,) = tx.exec(select(Evidence).where(Evidence.incident_id == incident.id)).all()
    assert read_evidence(room.store, evidence.id)[:3] == b"\xff\xd8\xff"  # the dark frame
    # The room names it in symbol and words, and counts it among the seats to look at.
    view = room_view(room.store, "S1", now=T0 + timedelta(minutes=1, seconds=12))
    (alert,) = view.alerts
    assert alert_state(alert) == "camera_covered" and SYMBOLS["camera_covered"] == "◐"


def test_an_empty_chair_is_still_away_from_the_seat(room: Room) -> None:
    frames = [own(1), own(2)] + [empty_chair(room.folder)] * 4 + [own(3)]
    runner = room.runner(frames)
    runner.start()
    states = [runner.step().state for _ in frames]
    runner.stop()
    assert SeatState.ABSENT in states and SeatState.CAMERA_COVERED not in states
    assert [i.kind for i in room.incidents()] == [IncidentKind.FACE_ABSENT]


def test_camera_covered_has_words_in_both_languages_everywhere(room: Room,
                                                               tmp_path: Path) -> None:
    frames = [own(1), own(2), *covered_files(room.folder, 5), own(3)]
    runner = room.runner(frames)
    runner.start()
    for _ in frames:
        runner.step()
    runner.stop()
    text = seat_incident_worded(
        IncidentKind.CAMERA_COVERED, ("app.incident.CAMERA_COVERED", "seat.state.camera_covered",
                                      "seat.camera_covered"),
        room.store, date(2026, 12, 3), tmp_path)
    for lang, needed in (("vi", ("Camera bị che khi thi trực tuyến (1)",
                                 "Camera của máy thi bị che trong 0 phút")),
                         ("en", ("Camera covered during an online exam (1)",
                                 "The seat's camera was covered for 0 min"))):
        for words in needed:
            assert words in text[lang], (lang, words)
        assert "CAMERA_COVERED" not in text[lang] and "seat.camera_covered" not in text[lang]
