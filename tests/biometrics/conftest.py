"""Face fixtures: the shared real photos, one loaded engine, encodings computed once.

Everything is computed in memory for the session; nothing is cached to the repository.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from biometrics import FaceEngine, FaceSettings
from biometrics.faces import Reference, enrol
from biometrics.images import RgbImage, fit_frame, load
from reader.virtual.faces import faces_dir


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
