"""Camera frames reach the face process through shared memory: the same numbers as through
the pipe, and the segment never outlives its engine (closed, crashed, failed or dropped)."""

from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from biometrics import FaceSettings
from biometrics.images import fit_frame, load
from biometrics.remote import SEGMENT_PREFIX, FaceProcessError, ProcessFaceEngine
from reader.virtual import faces_dir

SHM = Path("/dev/shm")
pytestmark = pytest.mark.skipif(not SHM.is_dir(), reason="no /dev/shm (not Linux)")
FRAMES = [fit_frame(load(faces_dir() / "orl" / "s27" / f"{n}.png"), (1280, 720))
          for n in (1, 5, 7)]


def ours() -> list[str]:
    """This process's segments left in /dev/shm."""
    mine = f"{SEGMENT_PREFIX}-{os.getpid()}-"
    return sorted(p.name for p in SHM.iterdir() if p.name.startswith(mine))


def test_shared_frames_give_the_pipe_numbers_bit_for_bit_and_go_with_close() -> None:
    settings = FaceSettings()
    shared, piped = ProcessFaceEngine(settings), ProcessFaceEngine(settings,
                                                                    shared_memory=False)
    try:
        for frame in FRAMES:
            faces = shared.detect(frame, settings.live)
            assert faces and faces == piped.detect(frame, settings.live)
            assert shared.segment is not None and ours() == [shared.segment]
            assert np.array_equal(shared.landmarks(frame, faces[0]),
                                  piped.landmarks(frame, faces[0]))
            assert np.array_equal(shared.chip(frame, faces[0]), piped.chip(frame, faces[0]))
            a = shared.encode(frame, faces[0], jitters=1)
            b = piped.encode(frame, faces[0], jitters=1)
            assert np.array_equal(a.plain, b.plain) and np.array_equal(a.averaged, b.averaged)
        # A larger picture gets a larger segment; the smaller one is gone at once.
        first = shared.segment
        big = fit_frame(FRAMES[0], (1920, 1080))
        assert shared.detect(big, settings.live) == piped.detect(big, settings.live)
        assert shared.segment != first and ours() == [shared.segment]
        assert piped.segment is None
    finally:
        shared.close()
        piped.close()
    assert ours() == []


def test_a_face_process_dying_mid_call_frees_its_segment() -> None:
    remote = ProcessFaceEngine()
    failed: list[BaseException] = []
    remote.load()
    faces = remote.detect(FRAMES[0], remote.settings.live)
    assert len(ours()) == 1

    def encode() -> None:
        try:
            for _ in range(50):  # long enough to be killed in the middle of one
                remote.encode(FRAMES[1], faces[0], jitters=13)
        except BaseException as exc:
            failed.append(exc)

    try:
        worker = threading.Thread(target=encode)
        worker.start()
        time.sleep(0.3)
        remote._process.kill()
        worker.join(30)
        assert failed and isinstance(failed[0], FaceProcessError)
        assert ours() == [], "the dead child's segment was left behind"
        # A fresh child, a fresh segment, the same answer.
        assert remote.detect(FRAMES[0], remote.settings.live) == faces
        assert len(ours()) == 1
    finally:
        remote.close()
    assert ours() == []


def test_an_error_in_the_child_keeps_the_engine_and_close_still_frees() -> None:
    remote = ProcessFaceEngine()
    try:
        faces = remote.detect(FRAMES[0], remote.settings.live)
        with pytest.raises(Exception):  # noqa: B017 - dlib's own error type, sent back
            remote.landmarks(FRAMES[0].astype(np.float64), faces[0])
        assert len(ours()) == 1
        assert remote.detect(FRAMES[0], remote.settings.live) == faces
    finally:
        remote.close()
    assert ours() == []


def test_an_engine_dropped_without_close_frees_its_segment() -> None:
    remote = ProcessFaceEngine()
    remote.detect(FRAMES[0], remote.settings.live)
    process = remote._process
    assert len(ours()) == 1
    del remote
    gc.collect()
    assert ours() == []
    process.join(10)  # its pipe closed with the engine: the child ended on its own
    assert not process.is_alive()
