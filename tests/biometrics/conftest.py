"""Face fixtures: the shared real photos, one loaded engine, encodings computed once.

Everything is computed in memory for the session; nothing is cached to the repository.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from biometrics import FaceEngine, FaceSettings, LivenessCheck
from biometrics.camera import Frame
from biometrics.faces import Reference, enrol
from biometrics.images import RgbImage, fit_frame, load
from biometrics.liveness import FrameMeasurement
from reader.virtual.faces import faces_dir

Photo = Callable[[str], RgbImage]


@pytest.fixture(scope="session")
def faces() -> Path:
    return faces_dir()


@pytest.fixture(scope="session")
def photo(faces: Path) -> Callable[[str], RgbImage]:
    cache: dict[str, RgbImage] = {}

    def get(name: str) -> RgbImage:
        if name not in cache:
            cache[name] = load(faces / name)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def engine() -> FaceEngine:
    e = FaceEngine(FaceSettings())
    e.load()
    return e


@pytest.fixture(scope="session")
def reference(engine: FaceEngine, photo: Callable[[str], RgbImage]) -> Callable[[str], Reference]:
    """Chip-portrait encodings of shared photos, computed once per session."""
    cache: dict[str, Reference] = {}

    def get(name: str) -> Reference:
        if name not in cache:
            cache[name] = enrol(engine, photo(name))
        return cache[name]

    return get


def webcam_frame(image: RgbImage, size: tuple[int, int] = (1280, 720)) -> RgbImage:
    """A real photo as a webcam would deliver it (see ``biometrics.images.fit_frame``)."""
    return fit_frame(image, size)


@pytest.fixture(scope="module")
def live(engine: FaceEngine) -> LivenessCheck:
    """The desk's liveness check (live detection profile), one per test module."""
    return LivenessCheck(engine)


class TimedCamera:
    """Frames carrying the times a webcam grabbed them at (``Frame.timestamp``), looped: a
    buffer grabbed before the prompt, or a recording answering at once."""

    def __init__(self, frames: list[RgbImage], grabbed: list[float]) -> None:
        self.frames, self.grabbed, self.k = frames, grabbed, 0

    def read(self, timeout: float = 2.0) -> Frame:
        k = self.k
        self.k += 1
        return Frame(self.frames[k % len(self.frames)], k, self.grabbed[k % len(self.grabbed)])

    def close(self) -> None:
        pass


def measurement(i: int, t: float, ear: float = 0.3, yaw: float = 0.0) -> FrameMeasurement:
    """Frame ``i`` seen at ``t`` s: one well-placed face with these eyes (EAR) and yaw."""
    return FrameMeasurement(i, True, ear, yaw, 0.0, 0.0, (100.0, 100.0), 100, time=t)
