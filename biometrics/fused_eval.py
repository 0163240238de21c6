"""Calibrate and evaluate dlib fused with the site's ONNX embedder, on a labelled photo folder.

The same protocol as :mod:`.evaluation` (every photo is a chip portrait, encoded with dlib's
augmentation, and a live frame, encoded plainly; pair i < j compares the portrait of i with the
frame of j), with the second embedder's descriptor of each photo beside dlib's. The people are
split in two halves (alternate identities in sorted order): the fusion's normalisation and the
operating point are fitted on the first half and measured on the second, so the numbers are
never those of the data that set them. dlib alone is calibrated and measured on the same halves,
so the two can be compared pair for pair.

Both points follow :func:`.operating_point.operating_point_for`, the rule of every other
calibration: the threshold whose FMR *95 % upper bound* on the fitting half meets the target
(with too few impostor pairs it refuses with :class:`~.bounds.TooFewPairs`, saying how many
are needed), REVIEW up to the point-estimate FMR min(10 × target, 1e-2). The held-out half's
figures come with their own bounds, from exact counts.

Not yet on the stored population: the store keeps dlib's descriptors of each check-in (chip
and live) but not the second model's; the fused score needs both sides' second-model
descriptors, so a population calibration of it would have to embed the stored chip portraits
and kept live frames again (their landmarks are not stored either).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .bounds import binomial_upper_bound, fmr_upper_bound
from .calibration import PairScores, pair_scores
from .config import FaceSettings, OperatingPoint
from .dataset import LabelledImages
from .engine import FaceEngine
from .errors import BiometricsError, DatasetError
from .faces import largest_face
from .images import load
from .onnx_embedder import EmbedderSpec, Fusion, OnnxEmbedder, fused_pair_scores
from .operating_point import operating_point_for

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class TwoEmbedders:
    labels: list[str]
    references: NDArray[np.float32]
    probes: NDArray[np.float32]
    second: NDArray[np.float32]
    found: NDArray[np.bool_]
    seconds_per_image: float


def encode_both(images: LabelledImages, settings: FaceSettings, spec: EmbedderSpec, *,
                engine: FaceEngine | None = None,
                progress: Progress | None = None) -> TwoEmbedders:
    """dlib's portrait and frame descriptors and the second embedder's, photo by photo (one
    process: the ONNX model is loaded once, from its pinned bytes)."""
    engine = engine or FaceEngine(settings)
    embedder = OnnxEmbedder(spec)
    n = len(images)
    refs = np.zeros((n, 128), np.float32)
    probes = np.zeros((n, 128), np.float32)
    second: list[NDArray[np.float32] | None] = [None] * n
    found = np.zeros(n, bool)
    started = time.perf_counter()
    for i, path in enumerate(images.paths):
        try:
            image = load(path)
            face = largest_face(engine, image)
            enc = engine.encode(image, face, jitters=settings.portrait_jitters)
            second[i] = embedder.embed(image, engine.landmarks(image, face))
            refs[i], probes[i], found[i] = enc.averaged, enc.plain, True
        except (BiometricsError, ValueError):
            pass  # a failure to acquire: a non-match in every pair it is in
        if progress:
            progress(i + 1, n)
    dim = next((len(v) for v in second if v is not None), 1)
    matrix = np.zeros((n, dim), np.float32)
    for i, v in enumerate(second):
        if v is not None:
            matrix[i] = v
    return TwoEmbedders(list(images.labels), refs, probes, matrix, found,
                        (time.perf_counter() - started) / max(1, n))


@dataclass(frozen=True, slots=True)
class Measured:
    name: str
    point: OperatingPoint
    fmr: float
    fmr_upper: float
    fnmr: float
    impostor_pairs: int
    genuine_pairs: int
    false_matches: int = 0
    false_non_matches: int = 0
    fnmr_upper: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "threshold": self.point.threshold,
                "review_band": [self.point.review_low, self.point.review_high],
                "fmr": self.fmr, "fmr_upper": self.fmr_upper, "fnmr": self.fnmr,
                "fnmr_upper": self.fnmr_upper, "false_matches": self.false_matches,
                "false_non_matches": self.false_non_matches,
                "impostor_pairs": self.impostor_pairs, "genuine_pairs": self.genuine_pairs}


@dataclass(frozen=True, slots=True)
class FusionReport:
    fusion: Fusion
    fused_point: OperatingPoint
    """Fitted on the first half: what a site saves with the fusion."""
    dlib: Measured
    fused: Measured
    """Both measured on the second half, at the points fitted on the first."""

    def to_dict(self) -> dict[str, Any]:
        return {"fusion": self.fusion.to_dict(), "operating_point": self.fused_point.to_dict(),
                "dlib": self.dlib.to_dict(), "fused": self.fused.to_dict()}


def _half(data: TwoEmbedders, which: int) -> tuple[list[str], NDArray[np.intp]]:
    people = sorted(set(data.labels))
    keep = set(people[which::2])
    idx = np.array([i for i, label in enumerate(data.labels) if label in keep], dtype=np.intp)
    return [data.labels[i] for i in idx], idx


def _measure(name: str, scores: PairScores, point: OperatingPoint) -> Measured:
    n, g = len(scores.impostor), len(scores.genuine)
    false_matches = int(np.searchsorted(scores.impostor, point.threshold, side="right"))
    misses = g - int(np.searchsorted(scores.genuine, point.threshold, side="right"))
    return Measured(name, point, false_matches / n if n else float("nan"),
                    fmr_upper_bound(false_matches, n) if n else 1.0,
                    misses / g if g else float("nan"), n, g, false_matches, misses,
                    binomial_upper_bound(misses, g) if g else 1.0)


def calibrate_fusion(data: TwoEmbedders, target_fmr: float = 1e-3, *,
                     weight: float = 0.5) -> FusionReport:
    """Fit on one half of the people, measure on the other (see the module's docstring)."""
    if len(set(data.labels)) < 4:
        raise DatasetError("need at least four people to fit on half and measure on the other",
                           identities=len(set(data.labels)))
    fit_labels, fit = _half(data, 0)
    test_labels, test = _half(data, 1)

    def scores(labels: list[str], idx: NDArray[np.intp]) -> tuple[PairScores, PairScores]:
        d = pair_scores(labels, data.references[idx], data.probes[idx], data.found[idx])
        s = pair_scores(labels, data.second[idx], data.second[idx], data.found[idx]) \
            if data.second.shape[1] else d
        return d, s

    fit_dlib, fit_second = scores(fit_labels, fit)
    finite = np.isfinite
    fusion = Fusion.fit(fit_dlib.impostor[finite(fit_dlib.impostor)],
                        fit_second.impostor[finite(fit_second.impostor)], weight)

    def fused(labels: list[str], idx: NDArray[np.intp]) -> PairScores:
        return fused_pair_scores(labels, (data.references[idx], data.probes[idx]),
                                 (data.second[idx], data.second[idx]), data.found[idx], fusion)

    dlib_point = operating_point_for(fit_dlib.impostor, target_fmr, source="dlib, first half")
    fused_point = operating_point_for(fused(fit_labels, fit).impostor, target_fmr,
                                      source="fused (dlib + ONNX), first half of the people")
    test_dlib, _ = scores(test_labels, test)
    return FusionReport(fusion, fused_point, _measure("dlib", test_dlib, dlib_point),
                        _measure("dlib + ONNX", fused(test_labels, test), fused_point))
