"""The face engine in a child process: the same answers as in process, and a crash of the
child is a typed error followed by a fresh start, never a hung caller."""

from __future__ import annotations

import threading
import time

import numpy as np

from biometrics import FaceEngine
from biometrics.images import load
from biometrics.remote import FaceProcessError, ProcessFaceEngine
from reader.virtual import faces_dir


def test_the_face_process_answers_like_the_engine_and_survives_a_crash(
        engine: FaceEngine) -> None:
    photo = load(faces_dir() / "orl" / "s27" / "10.png")
    local = engine  # the session's, shipped settings: its models are not loaded a second time
    remote = ProcessFaceEngine()
    try:
        settings = local.settings
        faces = local.detect(photo, settings.still)
        assert remote.detect(photo, settings.still) == faces
        here = local.encode(photo, faces[0], jitters=2)
        there = remote.encode(photo, faces[0], jitters=2)  # the image the child already has
        assert np.allclose(here.averaged, there.averaged, atol=1e-6)
        assert np.allclose(local.landmarks(photo, faces[0]), remote.landmarks(photo, faces[0]))
        # The liveness check's identity samples: described in the child, never by loading
        # dlib in this process (where it holds the GIL and freezes the window).
        chip = remote.chip(photo, faces[0])
        assert np.allclose(remote.describe(chip), local.describe(chip), atol=1e-6)
        assert remote._models is None, "describe loaded dlib in the parent"
        remote._process.kill()  # died between two calls: a new child takes over
        remote._process.join(5)
        assert remote.detect(photo, settings.still) == faces
    finally:
        remote.close()


def test_a_face_process_dying_mid_call_is_an_error_then_a_fresh_start() -> None:
    remote = ProcessFaceEngine()
    failed: list[BaseException] = []

    def load() -> None:
        try:
            remote.load()
        except BaseException as exc:
            failed.append(exc)

    try:
        loading = threading.Thread(target=load)
        loading.start()
        deadline = time.monotonic() + 10
        while remote._process is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # spawning and loading the models takes ~1 s: kill it halfway
        remote._process.kill()
        loading.join(10)
        assert failed and isinstance(failed[0], FaceProcessError)
        assert not remote.loaded
        remote.load()
        assert remote.loaded
    finally:
        remote.close()
