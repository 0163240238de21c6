"""Frames from a webcam (through OpenCV) and from files; unplugging and reconnecting."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from biometrics import CameraUnavailable, FileCamera, OpenCvCamera, open_camera
from biometrics.camera import STILL_FRAME

ORL = ["orl/s27/1.png", "orl/s27/5.png", "orl/s27/2.png", "orl/s26/7.png", "orl/s26/5.png"]


@pytest.fixture
def video(faces: Path, tmp_path: Path) -> Path:
    """An MJPEG video of real ORL photos, 4 frames each (frame k shows photo k // 4)."""
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (92, 112))
    assert writer.isOpened()
    for name in ORL:
        image = cv2.imread(str(faces / name))
        for _ in range(4):
            writer.write(image)
    writer.release()
    return path


@pytest.fixture
def folder(faces: Path, tmp_path: Path) -> Path:
    d = tmp_path / "frames"
    d.mkdir()
    for k, name in enumerate(ORL):
        (d / f"{k:03d}.png").symlink_to(faces / name)
    return d


def test_file_camera_plays_a_folder_in_order_then_ends(folder: Path, faces: Path) -> None:
    with FileCamera(folder) as camera:
        frames = list(camera.frames(len(ORL)))
        assert [f.index for f in frames] == list(range(len(ORL)))
        first = cv2.imread(str(faces / ORL[0]))[:, :, ::-1]
        assert np.array_equal(frames[0].image, first)  # RGB, as the rest of the package wants
        with pytest.raises(CameraUnavailable, match="end of"):
            camera.read()


def test_file_camera_loops_and_fails_where_asked(folder: Path, video: Path) -> None:
    with FileCamera(folder, loop=True) as camera:
        assert len(list(camera.frames(12))) == 12
    with FileCamera(video, loop=True, fail_at=30) as camera:
        frames = list(camera.frames(30))  # 20 frames in the file: looped once
        assert frames[-1].image.shape == (112, 92, 3)
        with pytest.raises(CameraUnavailable) as info:
            camera.read()
        assert info.value.key == "face.camera_unavailable"
        assert info.value.context["frame"] == 30


def test_file_camera_refuses_what_is_not_there(tmp_path: Path) -> None:
    with pytest.raises(CameraUnavailable):
        FileCamera(tmp_path / "none.avi")
    with pytest.raises(CameraUnavailable):
        FileCamera(tmp_path)  # an empty folder


def test_opencv_camera_reads_a_video_and_reopens_it_at_the_end(video: Path) -> None:
    # VideoCapture on a file behaves like a camera whose stream stops after 20 frames:
    # reads fail, the reader thread reopens the source, frames flow again.
    camera = OpenCvCamera(str(video), max_failures=2, reconnect_delay=0.01)
    try:
        seen = []
        deadline = time.monotonic() + 10
        while camera.reconnects < 1 and time.monotonic() < deadline:
            seen.append(camera.read(timeout=5).index)
        assert camera.reconnects >= 1
        assert seen == sorted(set(seen))  # each frame at most once, newest first, never older
        frame = camera.read(timeout=5)
        assert frame.image.shape == (112, 92, 3) and frame.index > seen[-1]
    finally:
        camera.close()


def test_opencv_camera_without_a_device_says_so() -> None:
    with pytest.raises(CameraUnavailable) as info:
        OpenCvCamera("/dev/no-such-camera-here")
    assert "cannot open camera" in info.value.detail


class UnpluggedCapture:
    """Stands in for cv2.VideoCapture at the system edge: a webcam that delivers *frames*
    real frames, then fails every read, as a USB camera does when its cable is pulled."""

    opened = 0

    def __init__(self, image: np.ndarray, frames: int) -> None:
        self.image = image
        self.left = frames
        UnpluggedCapture.opened += 1

    def isOpened(self) -> bool:
        return True

    def read(self) -> tuple[bool, Any]:
        time.sleep(0.002)
        if self.left <= 0:
            return False, None
        self.left -= 1
        return True, self.image

    def release(self) -> None:
        pass


def test_unplugged_camera_reconnects_then_gives_up_with_a_clear_error(faces: Path) -> None:
    image = cv2.imread(str(faces / ORL[0]))
    plugged = threading.Event()
    plugged.set()

    def factory(source: int | str) -> Any:
        if not plugged.is_set():
            class Gone(UnpluggedCapture):
                def isOpened(self) -> bool:
                    return False
            return Gone(image, 0)
        return UnpluggedCapture(image, 5)

    camera = OpenCvCamera(0, max_failures=3, reconnect_attempts=2, reconnect_delay=0.01,
                          capture_factory=factory)
    try:
        first = camera.read(timeout=2)
        assert first.image.shape == (112, 92, 3)
        deadline = time.monotonic() + 5
        while camera.reconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert camera.reconnects == 1  # the first "unplug" was survived
        plugged.clear()  # now the cable stays out
        with pytest.raises(CameraUnavailable) as info:
            for _ in range(100):
                camera.read(timeout=2)
        assert "could not be reopened" in info.value.detail
    finally:
        camera.close()


def test_newest_frame_only(faces: Path) -> None:
    image = cv2.imread(str(faces / ORL[0]))
    camera = OpenCvCamera(0, capture_factory=lambda source: UnpluggedCapture(image, 10_000))
    try:
        a = camera.read()
        time.sleep(0.1)  # the camera keeps producing while the caller is busy
        b = camera.read()
        assert b.index - a.index > 5  # frames queued meanwhile were dropped, not replayed
    finally:
        camera.close()


def test_open_camera_reads_a_setting_or_the_command_lines_list(folder: Path, video: Path) -> None:
    # One function for the desk's setting (joined by os.pathsep) and `--camera` (a list).
    stills = sorted(folder.iterdir())
    for spec in (os.pathsep.join(map(str, stills)), [str(p) for p in stills]):
        with open_camera(spec, fps=1000.0) as camera:
            assert isinstance(camera, FileCamera) and camera.loop
            assert camera.frame_size == STILL_FRAME
            assert len(list(camera.frames(len(ORL) + 2))) == len(ORL) + 2  # stills loop
    with open_camera(str(video)) as camera:  # a video plays once, at its own size
        assert isinstance(camera, FileCamera) and not camera.loop
        assert camera.read().image.shape == (112, 92, 3)
    with open_camera([str(folder)]) as camera:
        assert isinstance(camera, FileCamera) and camera.loop
