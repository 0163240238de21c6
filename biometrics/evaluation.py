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
from dataclasses import dataclass, field
from typing import Any

from .baseline import DEFAULT_TOLERANCE
from .bulk import EncodedSet, Progress, encode_set
from .calibration import (
    ErrorRates,
    PairScores,
    enough_impostors,
    error_rates,
    operating_point,
    pair_scores,
    pair_scores_raw,
    review_rates,
)
from .config import FaceSettings, OperatingPoint
from .dataset import LabelledImages


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
class EvaluationReport:
    data: SetSummary
    point: OperatingPoint
    ours: PipelineRates
    baseline: PipelineRates
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": _asdict(self.data),
            "operating_point": self.point.to_dict(),
            "ours": self.ours.to_dict(),
            "baseline": self.baseline.to_dict(),
            "warnings": self.warnings,
        }


def calibrate(images: LabelledImages, settings: FaceSettings, target_fmr: float = 1e-3, *,
              workers: int | None = None, progress: Progress | None = None) -> CalibrationReport:
    encoded = encode_set(images, settings, workers=workers, progress=progress)
    scores = pair_scores(encoded.labels, encoded.references, encoded.probes, encoded.found)
    source = (f"{images.root.name}: {len(images)} photos, {images.identities} people, "
              f"{dt.date.today().isoformat()}")
    point = operating_point(scores, target_fmr, source)
    warnings = _sample_warnings(scores, target_fmr)
    if not enough_impostors(scores, target_fmr / 10):
        warnings.append(f"too few impostor pairs for FMR {target_fmr / 10:g}: the lower edge "
                        "of the review band mirrors the upper one")
    return CalibrationReport(SetSummary.of(images, encoded, scores), point,
                             error_rates(scores, point.threshold), review_rates(scores, point),
                             warnings)


def evaluate(images: LabelledImages, settings: FaceSettings, *, workers: int | None = None,
             progress: Progress | None = None) -> EvaluationReport:
    encoded = encode_set(images, settings, baseline=True, workers=workers, progress=progress)
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
    )


def _sample_warnings(scores: PairScores, fmr: float) -> list[str]:
    if enough_impostors(scores, fmr):
        return []
    return [f"only {len(scores.impostor)} impostor pairs: rates at FMR {fmr:g} rest on "
            f"fewer than 3 false matches and are rough"]


def _asdict(summary: SetSummary) -> dict[str, Any]:
    return dataclasses.asdict(summary)
