"""Encode a labelled photo folder for calibration and evaluation, on every core.

dlib's encoder holds the GIL and uses one core, so threads do not help; each worker process
loads its own models (~1 s) and encodes a share of the photos. Descriptors come back through
the process pipe, in memory: nothing is written to disk.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .config import FaceSettings
from .dataset import LabelledImages
from .engine import FaceEngine
from .errors import BiometricsError
from .faces import largest_face
from .images import load

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class _One:
    index: int
    reference: NDArray[np.float32] | None
    probe: NDArray[np.float32] | None
    detector: str
    seconds: float
    baseline: NDArray[np.float64] | None
    baseline_seconds: float


@dataclass(frozen=True, slots=True)
class EncodedSet:
    labels: list[str]
    references: NDArray[np.float32]
    """(n, 128) unit rows: the chip-portrait encoding (with augmentation); zeros if no face."""
    probes: NDArray[np.float32]
    """(n, 128) unit rows: the live-frame encoding (plain); zeros if no face."""
    found: NDArray[np.bool_]
    detectors: list[str]
    seconds_per_image: float
    baseline: NDArray[np.float64] | None = None
    """(n, 128) raw descriptors from face_recognition's defaults, if asked for."""
    baseline_found: NDArray[np.bool_] | None = None
    baseline_seconds_per_image: float = 0.0


class _Worker:
    """What one worker process holds: its own engine and, if needed, the baseline."""

    def __init__(self, settings: FaceSettings, baseline: bool) -> None:
        self.engine = FaceEngine(settings)
        self.engine.load()
        self.default = None
        if baseline:
            from .baseline import DefaultPipeline

            self.default = DefaultPipeline()

    def run(self, index: int, path: Path) -> _One:
        t0 = time.perf_counter()
        reference = probe = None
        detector = ""
        try:
            image = load(path)
            face = largest_face(self.engine, image)
            enc = self.engine.encode(image, face, jitters=self.engine.settings.portrait_jitters)
            reference, probe, detector = enc.averaged, enc.plain, face.detector
        except BiometricsError:
            pass  # no face / unreadable: a failure to acquire, counted by the caller
        t1 = time.perf_counter()
        raw = self.default.encode_file(path) if self.default is not None else None
        return _One(index, reference, probe, detector, t1 - t0, raw, time.perf_counter() - t1)


_worker: _Worker | None = None  # one per worker process, set by its initializer


def _init(settings: FaceSettings, baseline: bool) -> None:
    global _worker
    _worker = _Worker(settings, baseline)


def _task(index: int, path: Path) -> _One:
    assert _worker is not None
    return _worker.run(index, path)


def encode_set(images: LabelledImages, settings: FaceSettings, *, baseline: bool = False,
               workers: int | None = None, progress: Progress | None = None) -> EncodedSet:
    n = len(images)
    workers = max(1, min(workers or os.cpu_count() or 1, n))
    results: list[_One] = []
    if workers == 1:
        worker = _Worker(settings, baseline)
        for i, path in enumerate(images.paths):
            results.append(worker.run(i, path))
            if progress:
                progress(len(results), n)
    else:
        # spawn, not fork: the parent may hold threads (a GUI, a camera) that fork would copy
        # in a broken state.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init,
                                 initargs=(settings, baseline)) as pool:
            futures = [pool.submit(_task, i, p) for i, p in enumerate(images.paths)]
            for future in as_completed(futures):
                results.append(future.result())
                if progress:
                    progress(len(results), n)
    results.sort(key=lambda r: r.index)
    return _assemble(images, results, baseline)


def _assemble(images: LabelledImages, results: list[_One], baseline: bool) -> EncodedSet:
    n = len(results)
    refs = np.zeros((n, 128), np.float32)
    probes = np.zeros((n, 128), np.float32)
    found = np.zeros(n, bool)
    for r in results:
        if r.reference is not None and r.probe is not None:
            refs[r.index], probes[r.index], found[r.index] = r.reference, r.probe, True
    base = base_found = None
    if baseline:
        base = np.zeros((n, 128), np.float64)
        base_found = np.zeros(n, bool)
        for r in results:
            if r.baseline is not None:
                base[r.index], base_found[r.index] = r.baseline, True
    return EncodedSet(
        labels=list(images.labels),
        references=refs,
        probes=probes,
        found=found,
        detectors=[r.detector for r in results],
        seconds_per_image=sum(r.seconds for r in results) / max(1, n),
        baseline=base,
        baseline_found=base_found,
        baseline_seconds_per_image=sum(r.baseline_seconds for r in results) / max(1, n),
    )
