"""The check-in's kept frames: downscaled only when asked for (or aged out of the newest
full ones), and the same downscaled picture as when each frame was downscaled on reading."""

from __future__ import annotations

import numpy as np

from biometrics import FileCamera
from proctoring.checkin import _downscale, _KeepFrames
from reader.virtual import faces_dir

SHOTS = [faces_dir() / "orl" / "s27" / f"{n}.png" for n in (1, 5, 7, 2, 3, 4, 8)]


def test_kept_frames_are_the_eagerly_downscaled_ones_within_the_same_window() -> None:
    reference = FileCamera(SHOTS, loop=True, frame_size=(1280, 720))
    kept = _KeepFrames(FileCamera(SHOTS, loop=True, frame_size=(1280, 720)), 640, keep=8,
                       full=3)
    eager = {}
    for _ in range(11):
        frame = reference.read()
        eager[frame.index] = _downscale(frame.image, 640)
        assert kept.read().index == frame.index
    # Frames 0-2 fell out of the window of 8; 3-7 were downscaled as they aged out of the
    # newest 3; 8-10 are still whole until asked for.
    assert [kept.frame(i) is None for i in range(3)] == [True] * 3
    assert kept.scale(0) is None
    for i in range(3, 11):
        small = kept.frame(i)
        assert small is not None and np.array_equal(small, eager[i])
        assert small.shape[1] == 640 and kept.scale(i) == 640 / 1280
        assert kept.frame(i) is small  # downscaled once
    kept.close()


def test_a_frame_already_small_is_kept_as_it_came() -> None:
    kept = _KeepFrames(FileCamera(SHOTS, loop=True, frame_size=(320, 240)), 640)
    frame = kept.read()
    assert kept.frame(frame.index) is frame.image and kept.scale(frame.index) == 1.0
