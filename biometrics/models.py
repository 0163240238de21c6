"""Where dlib's model files are, and the ``face_recognition`` baseline without ``pkg_resources``.

The models ship in the ``face_recognition_models`` distribution, whose ``__init__`` runs
``from pkg_resources import resource_filename``. setuptools stopped shipping ``pkg_resources``
(82+), so importing that package fails on a current machine. We never execute it: the import
system can tell us where the package lives (``find_spec`` reads the directory, it does not run
``__init__``), and dlib loads the ``.dat`` files from plain paths.

``face_recognition`` itself (the baseline we compare against) imports ``face_recognition_models``
at import time; :func:`import_face_recognition` registers a small stand-in module with the four
``*_model_location()`` functions first, so the real ``__init__`` is never run.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import threading
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ModelsMissing

PACKAGE = "face_recognition_models"

_FILES = {
    "landmarks_68": "shape_predictor_68_face_landmarks.dat",
    "landmarks_5": "shape_predictor_5_face_landmarks.dat",
    "encoder": "dlib_face_recognition_resnet_model_v1.dat",
    "cnn_detector": "mmod_human_face_detector.dat",
}


@dataclass(frozen=True, slots=True)
class ModelPaths:
    """The four dlib model files."""

    landmarks_68: Path
    landmarks_5: Path
    encoder: Path
    cnn_detector: Path

    @classmethod
    def locate(cls, directory: Path | None = None) -> ModelPaths:
        """The files in *directory*, or in the installed ``face_recognition_models`` package."""
        folder = directory if directory is not None else _package_models_dir()
        paths = {name: folder / filename for name, filename in _FILES.items()}
        # The CNN detector is optional (a fallback for hard stills); the other three are not.
        missing = [str(p) for name, p in paths.items()
                   if name != "cnn_detector" and not p.is_file()]
        if missing:
            raise ModelsMissing(f"model files not found: {', '.join(missing)}", folder=str(folder))
        return cls(**paths)


def _package_models_dir() -> Path:
    # PathFinder looks on sys.path without executing the package (no pkg_resources import)
    # and without consulting sys.modules, where our stand-in may already sit with no spec.
    spec = importlib.machinery.PathFinder.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ModelsMissing(f"the {PACKAGE} package is not installed")
    return Path(locations[0]) / "models"


def _stand_in(paths: ModelPaths) -> types.ModuleType:
    module = types.ModuleType(PACKAGE, "Stand-in for face_recognition_models (no pkg_resources).")
    module.__dict__.update(
        pose_predictor_model_location=lambda: str(paths.landmarks_68),
        pose_predictor_five_point_model_location=lambda: str(paths.landmarks_5),
        face_recognition_model_location=lambda: str(paths.encoder),
        cnn_face_detector_model_location=lambda: str(paths.cnn_detector),
    )
    return module


_import_lock = threading.Lock()


def import_face_recognition(paths: ModelPaths | None = None) -> Any:
    """Import the ``face_recognition`` package (the baseline) without ``pkg_resources``.

    It loads all four dlib models at import (about 1 s): only the benchmark and the evaluation
    against the default pipeline need it, never a check-in.
    """
    with _import_lock:
        loaded = sys.modules.get("face_recognition")
        if loaded is not None:
            return loaded
        current = sys.modules.get(PACKAGE)
        if current is None or not hasattr(current, "face_recognition_model_location"):
            sys.modules[PACKAGE] = _stand_in(paths or ModelPaths.locate())
        return importlib.import_module("face_recognition")
