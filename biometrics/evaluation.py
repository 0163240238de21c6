"""Calibrate the operating point on a labelled folder; evaluate ours against the default pipeline.

Every photo is used twice: as a chip portrait (encoded with augmentation) and as a live frame
(encoded plainly). Pair (i, j), i < j, compares the portrait encoding of i with the live
encoding of j, as a check-in does. The baseline compares face_recognition's default descriptors
of the same two photos, so both pipelines are scored on exactly the same pairs.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .asnorm import as_norm_matrix
from .asnorm_eval import HeldOutReport, heldout_asnorm, one_per_person
from .baseline import DEFAULT_TOLERANCE
from .bounds import binomial_upper_bound
from .bulk import EncodedSet, Progress, encode_set
from .calibration import (
    ErrorRates,
    PairScores,
    enough_impostors,
    error_rates,
    pair_scores,
    pair_scores_raw,
    review_rates,
    split_pairs,
)
from .config import ORL_POINT, FaceSettings, OperatingPoint
from .dataset import LabelledImages
from .operating_point import operating_point_for, require_pairs
from .protocol import CheckinReport, checkin_protocol


@dataclass(frozen=True, slots=True)
class SetSummary:
    images: int
    identities: int
    faces_found: int
    detectors: dict[str, int]
    genuine_pairs: int
    impostor_pairs: int
    ms_per_image: float

    @classmethod
    def of(cls, images: LabelledImages, encoded: EncodedSet, scores: PairScores) -> SetSummary:
        counts = collections.Counter(d for d in encoded.detectors if d)
        return cls(len(images), images.identities, int(encoded.found.sum()), dict(counts),
                   *scores.counts, round(encoded.seconds_per_image * 1000, 1))


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    data: SetSummary
    point: OperatingPoint
    rates: ErrorRates
    review: dict[str, float]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": _asdict(self.data),
            "operating_point": self.point.to_dict(),
            "rates": self.rates.to_dict(),
            "review": {k: round(v, 6) for k, v in self.review.items()},
            "warnings": self.warnings,
        }


@dataclass(frozen=True, slots=True)
class PipelineRates:
    name: str
    faces_found: int
    ms_per_image: float
    rates: ErrorRates

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "faces_found": self.faces_found,
                "ms_per_image": self.ms_per_image, **self.rates.to_dict()}


@dataclass(frozen=True, slots=True)
class PointRates:
    """One operating point on these pairs, with the 95 % upper bounds of both error rates."""

    name: str
    point: OperatingPoint
    false_matches: int
    impostor_pairs: int
    false_non_matches: int
    genuine_pairs: int

    @property
    def fmr(self) -> float:
        return self.false_matches / self.impostor_pairs if self.impostor_pairs else math.nan

    @property
    def fmr_upper(self) -> float:
        return (binomial_upper_bound(self.false_matches, self.impostor_pairs)
                if self.impostor_pairs else math.nan)

    @property
    def fnmr(self) -> float:
        return self.false_non_matches / self.genuine_pairs if self.genuine_pairs else math.nan

    @property
    def fnmr_upper(self) -> float:
        return (binomial_upper_bound(self.false_non_matches, self.genuine_pairs)
                if self.genuine_pairs else math.nan)

    @classmethod
    def of(cls, name: str, point: OperatingPoint, scores: PairScores) -> PointRates:
        t = point.threshold
        fm = int(np.searchsorted(scores.impostor, t, side="right"))
        accepted = int(np.searchsorted(scores.genuine, t, side="right"))
        return cls(name, point, fm, len(scores.impostor), len(scores.genuine) - accepted,
                   len(scores.genuine))

    def to_dict(self) -> dict[str, Any]:
        def r(v: float) -> float | None:
            return round(v, 6) if math.isfinite(v) else None

        return {"name": self.name, "threshold": self.point.threshold,
                "review_band": [self.point.review_low, self.point.review_high],
                "source": self.point.source, "false_matches": self.false_matches,
                "impostor_pairs": self.impostor_pairs, "fmr": r(self.fmr),
                "fmr_upper95": r(self.fmr_upper), "false_non_matches": self.false_non_matches,
                "genuine_pairs": self.genuine_pairs, "fnmr": r(self.fnmr),
                "fnmr_upper95": r(self.fnmr_upper)}


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    data: SetSummary
    point: OperatingPoint
    ours: PipelineRates
    baseline: PipelineRates
    warnings: list[str] = field(default_factory=list)
    points: list[PointRates] = field(default_factory=list)
    """The configured point, the shipped default and the old ORL one, on these pairs."""
    checkin: CheckinReport | None = None
    cache_hits: int = 0
    asnorm: HeldOutReport | None = None
    """Raw distance and AS-norm fitted on one half of the people, measured on the other."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": _asdict(self.data),
            "operating_point": self.point.to_dict(),
            "ours": self.ours.to_dict(),
            "baseline": self.baseline.to_dict(),
            "points": [p.to_dict() for p in self.points],
            "checkin": self.checkin.to_dict() if self.checkin is not None else None,
            "cache_hits": self.cache_hits,
            "asnorm_heldout": self.asnorm.to_dict() if self.asnorm is not None else None,
            "warnings": self.warnings,
        }


def impostor_pair_count(labels: Sequence[str]) -> int:
    """Pairs of photos of two different people: every one is an impostor pair, found faces or
    not (a picture without a face is a rightly rejected pair)."""
    n = len(labels)
    same = sum(c * (c - 1) // 2 for c in collections.Counter(labels).values())
    return n * (n - 1) // 2 - same


def calibrate(images: LabelledImages, settings: FaceSettings, target_fmr: float = 1e-3, *,
              workers: int | None = None, progress: Progress | None = None,
              cache: Path | None = None) -> CalibrationReport:
    """The operating point of this folder by :func:`.operating_point.operating_point_for` (the
    rule of the shipped default and of the population calibration). Raises
    :class:`~.bounds.TooFewPairs` before any photo is encoded when the folder has too few
    impostor pairs to prove *target_fmr* at the 95 % bound."""
    require_pairs(impostor_pair_count(images.labels), target_fmr)
    encoded = encode_set(images, settings, workers=workers, progress=progress, cache=cache)
    scores = pair_scores(encoded.labels, encoded.references, encoded.probes, encoded.found)
    source = (f"{images.root.name}: {len(images)} photos, {images.identities} people, "
              f"{dt.date.today().isoformat()}")
    point = operating_point_for(scores.impostor, target_fmr, source=source)
    return CalibrationReport(SetSummary.of(images, encoded, scores), point,
                             error_rates(scores, point.threshold), review_rates(scores, point),
                             _sample_warnings(scores, target_fmr))


def named_points(settings: FaceSettings) -> list[tuple[str, OperatingPoint]]:
    """The points an evaluation shows: the configured one, the shipped default (if the
    configuration differs from it) and the old ORL-calibrated default."""
    out = [("configured", settings.operating_point)]
    if settings.operating_point != OperatingPoint():
        out.append(("shipped default", OperatingPoint()))
    if settings.operating_point != ORL_POINT:
        out.append(("ORL-calibrated (before issue 14)", ORL_POINT))
    return out


def evaluate(images: LabelledImages, settings: FaceSettings, *, workers: int | None = None,
             progress: Progress | None = None, cache: Path | None = None,
             groups: Mapping[str, str] | None = None,
             points: Sequence[tuple[str, OperatingPoint]] | None = None) -> EvaluationReport:
    encoded = encode_set(images, settings, baseline=True, workers=workers, progress=progress,
                         cache=cache)
    assert encoded.baseline is not None and encoded.baseline_found is not None
    ours = pair_scores(encoded.labels, encoded.references, encoded.probes, encoded.found)
    base = pair_scores_raw(encoded.labels, encoded.baseline, encoded.baseline_found)
    point = settings.operating_point
    return EvaluationReport(
        data=SetSummary.of(images, encoded, ours),
        point=point,
        ours=PipelineRates("examdesk", int(encoded.found.sum()),
                           round(encoded.seconds_per_image * 1000, 1),
                           error_rates(ours, point.threshold)),
        baseline=PipelineRates("face_recognition defaults", int(encoded.baseline_found.sum()),
                               round(encoded.baseline_seconds_per_image * 1000, 1),
                               error_rates(base, DEFAULT_TOLERANCE)),
        warnings=_sample_warnings(ours, 1e-3),
        points=[*(PointRates.of(name, p, ours) for name, p in (points or named_points(settings))),
                PointRates.of(_asnorm_name(encoded, settings), settings.asnorm.point,
                              asnorm_pairs(encoded, settings))],
        checkin=checkin_protocol(encoded, settings, groups),
        cache_hits=encoded.cache_hits,
        asnorm=heldout_asnorm(encoded, top=settings.asnorm.top_fraction),
    )


def _asnorm_name(encoded: EncodedSet, settings: FaceSettings) -> str:
    cohort = len(one_per_person(encoded, np.arange(len(encoded.labels))))
    if cohort - 1 < settings.asnorm.min_cohort:
        return (f"AS-norm, shipped default (cohort {cohort - 1} < {settings.asnorm.min_cohort}:"
                f" the desk would decide on the raw distance)")
    return f"AS-norm, shipped default (cohort: the {cohort - 1} other people here)"


def asnorm_pairs(encoded: EncodedSet, settings: FaceSettings) -> PairScores:
    """The AS-normed scores of the pairs ``face evaluate`` scores (portrait i, photo j, i < j),
    the cohort one portrait of every other person of the set (as a centre's: one per ID)."""
    labels = np.asarray(encoded.labels, dtype=object)
    pool = one_per_person(encoded, np.arange(len(labels)))
    scores = as_norm_matrix(encoded.references, labels, encoded.probes, labels,
                            encoded.references[pool], labels[pool], settings.asnorm.top_fraction)
    return split_pairs(encoded.labels, scores, encoded.found)


def _sample_warnings(scores: PairScores, fmr: float) -> list[str]:
    if enough_impostors(scores, fmr):
        return []
    return [f"only {len(scores.impostor)} impostor pairs: rates at FMR {fmr:g} rest on "
            f"fewer than 3 false matches and are rough"]


def _asdict(summary: SetSummary) -> dict[str, Any]:
    return dataclasses.asdict(summary)
