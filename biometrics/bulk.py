"""Encode a labelled photo folder for calibration and evaluation, on every core.

dlib's encoder holds the GIL and uses one core, so threads do not help; each worker process
loads its own models (~1 s) and encodes a share of the photos. Descriptors come back through
the process pipe, in memory; nothing is written to disk unless the caller names a cache folder
(:mod:`biometrics.cache`), where each photo's results are kept for the next run.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .cache import DescriptorCache, Entry, file_sha256
from .config import FaceSettings
from .dataset import LabelledImages
from .engine import FaceEngine
from .errors import BiometricsError
from .images import load
from .models import ModelPaths
from .quality import QualityReport, measure

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
    widths: tuple[int, ...] = ()
    """Widths of every face found (largest area first): the desk's one-face rules need them."""
    quality: QualityReport | None = None
    """The largest face measured as a live frame is (the quality gate is checked later)."""


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
    widths: list[tuple[int, ...]] = field(default_factory=list)
    quality: list[QualityReport | None] = field(default_factory=list)
    cache_hits: int = 0


class _Worker:
    """What one worker process holds: its own engine and, if needed, the baseline."""

    def __init__(self, settings: FaceSettings, baseline: bool) -> None:
        self.engine = FaceEngine(settings)
        self.engine.load()
        self.default = None
        if baseline:
            from .baseline import DefaultPipeline

            self.default = DefaultPipeline()

    def run(self, index: int, path: Path, ours: bool = True, base: bool = True) -> _One:
        t0 = time.perf_counter()
        reference = probe = None
        detector = ""
        widths: tuple[int, ...] = ()
        quality = None
        if ours:
            try:
                image = load(path)
                faces = self.engine.detect(image, self.engine.settings.still)
                widths = tuple(f.width for f in faces)
                if faces:
                    face = faces[0]
                    enc = self.engine.encode(image, face,
                                             jitters=self.engine.settings.portrait_jitters)
                    reference, probe, detector = enc.averaged, enc.plain, face.detector
                    quality = measure(image, face, self.engine.landmarks(image, face))
            except BiometricsError:
                pass  # unreadable: a failure to acquire, counted by the caller
        t1 = time.perf_counter()
        raw = (self.default.encode_file(path)
               if self.default is not None and base else None)
        return _One(index, reference, probe, detector, t1 - t0, raw, time.perf_counter() - t1,
                    widths, quality)


_worker: _Worker | None = None  # one per worker process, set by its initializer


def _init(settings: FaceSettings, baseline: bool) -> None:
    global _worker
    _worker = _Worker(settings, baseline)


def _task(index: int, path: Path, ours: bool, base: bool) -> _One:
    assert _worker is not None
    return _worker.run(index, path, ours, base)


def encode_set(images: LabelledImages, settings: FaceSettings, *, baseline: bool = False,
               workers: int | None = None, progress: Progress | None = None,
               cache: Path | None = None) -> EncodedSet:
    """Encode every photo; with *cache*, reuse and store per-photo results there
    (see :mod:`biometrics.cache`)."""
    n = len(images)
    stores = _Stores.open(cache, settings, baseline) if cache is not None else None
    shas = [file_sha256(p) for p in images.paths] if stores is not None else []
    results: dict[int, _One] = {}
    todo: list[tuple[int, Path, bool, bool]] = []
    for i, path in enumerate(images.paths):
        hit = stores.get(i, shas[i]) if stores is not None else None
        if hit is not None and hit.complete:
            results[i] = hit.one
            continue
        ours = hit is None or hit.ours is None
        base = baseline and (hit is None or hit.base is None)
        if hit is not None:
            results[i] = hit.one
        todo.append((i, path, ours, base))
    hits = n - len(todo)
    if progress:
        progress(hits, n)
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    done = hits

    def finished(one: _One, ours: bool, base: bool) -> None:
        nonlocal done
        previous = results.get(one.index)
        results[one.index] = _merge(previous, one, ours, base)
        if stores is not None:
            stores.put(shas[one.index], one, ours, base)
        done += 1
        if progress:
            progress(done, n)

    if todo and workers == 1:
        worker = _Worker(settings, baseline and any(t[3] for t in todo))
        for i, path, ours, base in todo:
            finished(worker.run(i, path, ours, base), ours, base)
    elif todo:
        # spawn, not fork: the parent may hold threads (a GUI, a camera) that fork would copy
        # in a broken state.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init,
                                 initargs=(settings, baseline)) as pool:
            futures = {pool.submit(_task, *t): t for t in todo}
            for future in as_completed(futures):
                _, _, ours, base = futures[future]
                finished(future.result(), ours, base)
    ordered = [results[i] for i in range(n)]
    return _assemble(images, ordered, baseline, hits)


def _merge(previous: _One | None, new: _One, ours: bool, base: bool) -> _One:
    if previous is None:
        return new
    mine = new if ours else previous
    theirs = new if base else previous
    return _One(new.index, mine.reference, mine.probe, mine.detector, mine.seconds,
                theirs.baseline, theirs.baseline_seconds, mine.widths, mine.quality)


# --- the cache ------------------------------------------------------------------------------

PIPELINE_VERSION = 1
"""Bump when the encoding code changes what it computes (detection, alignment, jitters,
quality measurements): old cache entries then stop matching."""


def _model_hashes() -> dict[str, str]:
    paths = ModelPaths.locate()
    return {name: file_sha256(p) for name, p in dataclasses.asdict(paths).items()
            if Path(p).is_file()}


@dataclass(frozen=True, slots=True)
class _Hit:
    one: _One
    ours: bool | None
    base: bool | None
    complete: bool


@dataclass(frozen=True, slots=True)
class _Stores:
    ours: DescriptorCache
    base: DescriptorCache | None

    @classmethod
    def open(cls, directory: Path, settings: FaceSettings, baseline: bool) -> _Stores:
        models = _model_hashes()
        ours = DescriptorCache(directory, {
            "pipeline": "examdesk-dlib", "version": PIPELINE_VERSION,
            "still": dataclasses.asdict(settings.still),
            "portrait_jitters": settings.portrait_jitters, "models": models})
        base = DescriptorCache(directory, {
            "pipeline": "face_recognition-defaults", "version": 1,
            "face_recognition": "1.3.0", "models": models}) if baseline else None
        return cls(ours, base)

    def get(self, index: int, sha: str) -> _Hit | None:
        a = self.ours.get(sha)
        b = self.base.get(sha) if self.base is not None else None
        if a is None and b is None:
            return None
        reference = probe = None
        widths: tuple[int, ...] = ()
        quality = None
        detector, seconds = "", 0.0
        if a is not None:
            if "reference" in a.arrays:
                reference = a.arrays["reference"].astype(np.float32)
                probe = a.arrays["probe"].astype(np.float32)
            widths = tuple(int(w) for w in a.arrays.get("widths", np.zeros(0)))
            q = a.meta.get("quality")
            quality = QualityReport(**q) if isinstance(q, dict) else None
            detector, seconds = str(a.meta.get("detector", "")), float(a.meta.get("seconds", 0))
        raw = None
        base_seconds = 0.0
        if b is not None:
            raw = b.arrays["raw"].astype(np.float64) if "raw" in b.arrays else None
            base_seconds = float(b.meta.get("seconds", 0))
        one = _One(index, reference, probe, detector, seconds, raw, base_seconds, widths,
                   quality)
        return _Hit(one, True if a is not None else None, True if b is not None else None,
                    a is not None and (self.base is None or b is not None))

    def put(self, sha: str, one: _One, ours: bool, base: bool) -> None:
        if ours:
            arrays: dict[str, NDArray[np.generic]] = {"widths": np.asarray(one.widths, np.int32)}
            if one.reference is not None and one.probe is not None:
                arrays["reference"] = np.asarray(one.reference, np.float32)
                arrays["probe"] = np.asarray(one.probe, np.float32)
            quality = (None if one.quality is None
                       else {k: float(v) if k != "face_px" else int(v)
                             for k, v in dataclasses.asdict(one.quality).items()})
            self.ours.put(sha, Entry(arrays, {"detector": one.detector, "seconds": one.seconds,
                                              "quality": quality}))
        if base and self.base is not None:
            raw = {} if one.baseline is None else {"raw": np.asarray(one.baseline, np.float64)}
            self.base.put(sha, Entry(raw, {"seconds": one.baseline_seconds}))


def _assemble(images: LabelledImages, results: list[_One], baseline: bool,
              hits: int = 0) -> EncodedSet:
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
        widths=[r.widths for r in results],
        quality=[r.quality for r in results],
        cache_hits=hits,
    )
