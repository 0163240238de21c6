"""A seat agent's engine leaves the 68-point predictor (~100 MB) unloaded until it is asked
for landmarks; then they are the same as an eager engine's."""

from __future__ import annotations

import numpy as np

from biometrics import FaceEngine
from biometrics.images import load
from reader.virtual import faces_dir


def test_landmarks_load_on_first_use_and_agree() -> None:
    image = load(faces_dir() / "orl" / "s27" / "1.png")
    lazy = FaceEngine(landmarks_68=False)
    lazy.load()
    assert lazy._get().landmarks_68 is None  # not in memory after load()
    face = lazy.detect(image, lazy.settings.still)[0]
    eager = FaceEngine()
    assert np.array_equal(lazy.landmarks(image, face), eager.landmarks(image, face))
    assert lazy._get().landmarks_68 is not None
