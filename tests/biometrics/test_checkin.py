"""A check-in from a camera: frames are read until enough pass the quality gate, the
invigilator is told why the others were refused, and the fused descriptor is decided on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from biometrics import (
    BiometricsError,
    CameraUnavailable,
    FaceEngine,
    FaceOutcome,
    FileCamera,
    SeveralFaces,
    TooDark,
    compare,
)
from biometrics.faces import Reference, capture, collect
from biometrics.images import RgbImage

from .conftest import webcam_frame

Photo = Callable[[str], RgbImage]


def write_frames(folder: Path, frames: list[RgbImage]) -> Path:
    folder.mkdir()
    for k, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{k:03d}.png"), np.ascontiguousarray(frame[:, :, ::-1]))
    return folder


def test_check_in_skips_bad_frames_and_fuses_good_ones(engine: FaceEngine, photo: Photo,
                                                       reference: Callable[[str], Reference],
                                                       tmp_path: Path) -> None:
    good = [webcam_frame(photo(f"people/person02/{n}")) for n in ("img6.jpg", "img7.jpg",
                                                                  "img2.jpg")]
    crowd = webcam_frame(photo("several/two_people.jpg"))
    dark = (good[0] * 0.25).astype(np.uint8)
    blurred = cv2.GaussianBlur(good[2], (0, 0), 1.2)  # passes the gate, but is the worst
    folder = write_frames(tmp_path / "frames", [crowd, good[0], dark, blurred, good[1], good[2]])
    problems: list[BiometricsError] = []
    with FileCamera(folder) as camera:
        probes = collect(engine, camera, 3, candidates=4, on_problem=problems.append)
    assert [type(p) for p in problems] == [SeveralFaces, TooDark]
    # The blurred frame passed the gate but ranked last of the four: it was left out.
    blurred_sharpness = capture(engine, blurred).quality.sharpness
    assert blurred_sharpness < min(p.quality.sharpness for p in probes)
    result = compare(reference("people/person02/img1.jpg").embedding,
                     [p.embedding for p in probes], engine.settings.operating_point)
    assert result.frames == 3 and result.decision is FaceOutcome.MATCH


def test_check_in_gives_the_reason_when_no_frame_is_usable(engine: FaceEngine, photo: Photo,
                                                           tmp_path: Path) -> None:
    dark = (webcam_frame(photo("people/person02/img6.jpg")) * 0.25).astype(np.uint8)
    with FileCamera(write_frames(tmp_path / "dark", [dark]), loop=True) as camera:
        with pytest.raises(TooDark):
            collect(engine, camera, 3, max_frames=4)


def test_camera_unplugged_during_check_in(engine: FaceEngine, photo: Photo,
                                          tmp_path: Path) -> None:
    frame = webcam_frame(photo("people/person02/img6.jpg"))
    with FileCamera(write_frames(tmp_path / "f", [frame]), loop=True, fail_at=2) as camera:
        with pytest.raises(CameraUnavailable):
            collect(engine, camera, 3)
