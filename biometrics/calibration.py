"""Error rates from genuine/impostor distances, and the operating point chosen from them.

Conventions (ISO/IEC 19795-1): a pair is *accepted* when its distance is at or below the
threshold. FMR is the fraction of impostor pairs accepted, FNMR the fraction of genuine pairs
rejected. A pair where either picture yielded no face has distance +inf: it counts as a false
non-match when genuine (the candidate would not get in) and as a correct rejection when not
(so failures to acquire are inside FNMR, never hidden).

The review band of :func:`operating_point` (point estimates; ``fused_eval`` still compares
embedders with it). Calibrations — the shipped default, ``face calibrate FOLDER`` and
``--population`` — use :func:`.operating_point.operating_point_for` instead: threshold by the
FMR's 95 % upper bound, REVIEW from there to the distance at FMR min(10 × target, 1e-2).

The operating threshold is the distance at the target FMR (1e-3 by default).
Around it, distances whose automatic answer is least certain go to the invigilator: the band
runs from the threshold at FMR/10 (below it a false match is ten times rarer than we accept:
MATCH) to the threshold at FMR×10 (above it, fewer than 1 in 100 impostors still remain and
the same genuine candidates would mostly have matched: NO_MATCH). Estimating FMR/10 needs at
least 3/(FMR/10) impostor pairs (the rule of three); with fewer, the lower edge mirrors the
upper one around the threshold.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .config import OperatingPoint

Distances = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class PairScores:
    genuine: Distances
    impostor: Distances

    @property
    def counts(self) -> tuple[int, int]:
        return len(self.genuine), len(self.impostor)


def pair_scores(labels: list[str], references: NDArray[np.float32], probes: NDArray[np.float32],
                found: NDArray[np.bool_]) -> PairScores:
    """All pairs i < j: the reference descriptor of i against the probe descriptor of j.

    ``references`` and ``probes`` are (n, 128) unit rows (zeros where ``found`` is False).
    """
    n = len(labels)
    cos = references.astype(np.float64) @ probes.astype(np.float64).T
    d = np.sqrt(np.clip(2.0 - 2.0 * cos, 0.0, None))
    return _split(labels, d, found, n)


def pair_scores_raw(labels: list[str], descriptors: NDArray[np.float64],
                    found: NDArray[np.bool_]) -> PairScores:
    """Plain Euclidean distances between (unnormalised) descriptors, as face_recognition does."""
    x = descriptors.astype(np.float64)
    sq = (x * x).sum(axis=1)
    d = np.sqrt(np.clip(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0, None))
    return _split(labels, d, found, len(labels))


def split_pairs(labels: list[str], scores: NDArray[np.float64],
                found: NDArray[np.bool_]) -> PairScores:
    """Pairs i < j of an (n × n) score matrix (accept at or below), +inf where a face is
    missing, split into genuine and impostor."""
    return _split(labels, scores, found, len(labels))


def _split(labels: list[str], d: NDArray[np.float64], found: NDArray[np.bool_],
           n: int) -> PairScores:
    iu = np.triu_indices(n, 1)
    lab = np.asarray(labels)
    same = (lab[:, None] == lab[None, :])[iu]
    both = (found[:, None] & found[None, :])[iu]
    dist = np.where(both, d[iu], np.inf)
    return PairScores(genuine=np.sort(dist[same]), impostor=np.sort(dist[~same]))


def fmr_at(scores: PairScores, threshold: float) -> float:
    imp = scores.impostor
    return float(np.searchsorted(imp, threshold, side="right") / len(imp)) if len(imp) else math.nan


def fnmr_at(scores: PairScores, threshold: float) -> float:
    gen = scores.genuine
    if not len(gen):
        return math.nan
    return float(1.0 - np.searchsorted(gen, threshold, side="right") / len(gen))


def threshold_at_fmr(scores: PairScores, fmr: float) -> float:
    """The largest threshold whose FMR does not exceed *fmr* (just below the k+1-th smallest
    impostor distance, k = ⌊fmr·N⌋)."""
    imp = scores.impostor
    if not len(imp):
        raise ValueError("no impostor pairs")
    k = math.floor(fmr * len(imp) + 1e-9)
    if k >= len(imp) or not math.isfinite(imp[k]):
        return float(imp[np.isfinite(imp)].max()) if np.isfinite(imp).any() else 2.0
    return float(np.nextafter(imp[k], -np.inf))


def fnmr_at_fmr(scores: PairScores, fmr: float) -> tuple[float, float]:
    """(FNMR, threshold) at the threshold for *fmr*."""
    t = threshold_at_fmr(scores, fmr)
    return fnmr_at(scores, t), t


def equal_error_rate(scores: PairScores) -> tuple[float, float]:
    """(EER, threshold): where FNMR and FMR cross, the mean of the two at the closest point."""
    candidates = np.concatenate([scores.genuine, scores.impostor])
    candidates = np.unique(candidates[np.isfinite(candidates)])
    if not len(candidates):
        return math.nan, math.nan
    fnmr = 1.0 - np.searchsorted(scores.genuine, candidates, side="right") / len(scores.genuine)
    fmr = np.searchsorted(scores.impostor, candidates, side="right") / len(scores.impostor)
    k = int(np.argmin(np.abs(fnmr - fmr)))
    return float((fnmr[k] + fmr[k]) / 2.0), float(candidates[k])


def enough_impostors(scores: PairScores, fmr: float) -> bool:
    """Rule of three: at least 3/fmr impostor pairs to say anything about that FMR."""
    return len(scores.impostor) >= 3.0 / fmr


def operating_point(scores: PairScores, target_fmr: float, source: str) -> OperatingPoint:
    threshold = threshold_at_fmr(scores, target_fmr)
    high = max(threshold, threshold_at_fmr(scores, min(1.0, target_fmr * 10)))
    if enough_impostors(scores, target_fmr / 10):
        low = min(threshold, threshold_at_fmr(scores, target_fmr / 10))
    else:
        low = threshold - (high - threshold)
    # Not rounded: rounding up by even 1e-4 can step over the next impostor distance.
    return OperatingPoint(threshold=threshold, review_low=low, review_high=high,
                          target_fmr=target_fmr, source=source)


@dataclass(frozen=True, slots=True)
class ErrorRates:
    """What a pipeline does on a set of pairs."""

    threshold: float
    fnmr: float
    fmr: float
    eer: float
    eer_threshold: float
    fnmr_at_fmr_1e2: float
    threshold_at_fmr_1e2: float
    fnmr_at_fmr_1e3: float
    threshold_at_fmr_1e3: float

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if math.isfinite(v) else None) for k, v in asdict(self).items()}


def error_rates(scores: PairScores, threshold: float) -> ErrorRates:
    eer, eer_t = equal_error_rate(scores)
    f2, t2 = fnmr_at_fmr(scores, 1e-2)
    f3, t3 = fnmr_at_fmr(scores, 1e-3)
    return ErrorRates(threshold, fnmr_at(scores, threshold), fmr_at(scores, threshold), eer, eer_t,
                      f2, t2, f3, t3)


def review_rates(scores: PairScores, point: OperatingPoint) -> dict[str, float]:
    """How often each decision comes out, for genuine and for impostor pairs."""
    out: dict[str, float] = {}
    for name, d in (("genuine", scores.genuine), ("impostor", scores.impostor)):
        n = max(1, len(d))
        low = np.searchsorted(d, point.review_low, side="left")
        high = np.searchsorted(d, point.review_high, side="left")
        out[f"{name}_match"] = float(low / n)
        out[f"{name}_review"] = float((high - low) / n)
        out[f"{name}_no_match"] = float((len(d) - high) / n)
    return out
