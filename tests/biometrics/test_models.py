"""Models load without pkg_resources (setuptools ≥ 82 does not ship it), once, from any thread."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from biometrics import FaceEngine
from biometrics.models import ModelPaths, import_face_recognition

REPO = Path(__file__).resolve().parents[2]

_BLOCK = 'import sys; sys.modules["pkg_resources"] = None\n'


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _BLOCK + code], capture_output=True, text=True,
                          timeout=120, cwd=REPO)


def test_the_trap_is_real_without_pkg_resources() -> None:
    # The package as published cannot be imported when pkg_resources is missing ...
    result = _run("import face_recognition_models")
    assert result.returncode != 0
    assert "pkg_resources" in result.stderr


def test_a_face_encodes_without_pkg_resources(faces: Path) -> None:
    # ... yet our engine and the face_recognition baseline both work.
    code = f"""
import json, numpy as np
from biometrics import FaceEngine
from biometrics.faces import enrol
from biometrics.images import load
from biometrics.models import import_face_recognition
ref = enrol(FaceEngine(), load({str(faces / "people/obama/obama.jpg")!r}))
fr = import_face_recognition()
img = fr.load_image_file({str(faces / "people/obama/obama2.jpg")!r})
raw = fr.face_encodings(img)
print(json.dumps({{"norm": float(np.linalg.norm(ref.embedding)),
                  "dtype": str(ref.embedding.dtype), "baseline_faces": len(raw),
                  "pkg_resources": sys.modules["pkg_resources"] is None}}))
"""
    result = _run(code)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert abs(out["norm"] - 1.0) < 1e-5 and out["dtype"] == "float32"
    assert out["baseline_faces"] == 1
    assert out["pkg_resources"] is True


def test_model_files_are_found_without_running_the_package() -> None:
    paths = ModelPaths.locate()
    assert paths.encoder.name == "dlib_face_recognition_resnet_model_v1.dat"
    assert all(p.is_file() for p in (paths.landmarks_5, paths.landmarks_68, paths.encoder))


def test_models_load_lazily_once_and_from_any_thread() -> None:
    engine = FaceEngine()
    assert not engine.loaded
    results: list[object] = []
    start = threading.Barrier(3)

    def first_use() -> None:
        start.wait()
        results.append(engine._get())

    threads = [threading.Thread(target=first_use) for _ in range(2)]
    for t in threads:
        t.start()
    start.wait()
    future = engine.warm_up()
    for t in threads:
        t.join()
    future.result(timeout=60)
    assert engine.loaded
    assert results[0] is results[1] is engine._get()  # one set of models, loaded once


def test_models_are_found_after_the_baseline_stand_in_was_registered() -> None:
    """The stand-in module has no import spec; locating the models must not depend on it."""
    import_face_recognition()
    assert ModelPaths.locate().encoder.is_file()
