"""Calibration on the people a centre checks: the operating point whose FMR *bound* meets it.

The data (gathered by ``proctoring.face_population`` from the store, in memory only):

- impostor pairs: the chip portraits of different ID numbers, each against each (one portrait
  per ID number), and each confirmed check-in's live capture against every other ID number's
  portrait (the comparison a proxy makes at the desk);
- genuine pairs: admitted check-ins whose review confirmed them, chip portrait against live.

A sample FMR of k in N is only an estimate. The threshold is chosen so that the one-sided
95 % Clopper–Pearson *upper bound* of the FMR meets the target (:mod:`.bounds`): the largest
threshold accepting at most k impostor pairs, k the most false matches whose bound is still at
or below the target. With too few pairs even k = 0 does not meet it, and the calibration is
refused with the number needed (about 3/target for none).

Impostor pairs grow with the square of the people (10 000 ID numbers: 50 million pairs), so
the distances are never all held: they are computed block by block and only the smallest few
are kept — all the threshold search needs (:func:`.operating_point.distances_needed`: the
review band's edge at min(10 × target, 1e-2) reads the most).

The operating point — threshold and REVIEW band — comes from
:func:`.operating_point.operating_point_for`, the rule the shipped default and a photo folder's
calibration use too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

# allowed_false_matches moved to .bounds (the operating point rule needs it); still importable
# from here.
from .bounds import TooFewPairs, fmr_upper_bound
from .bounds import allowed_false_matches as allowed_false_matches
from .config import OperatingPoint
from .errors import BiometricsError
from .operating_point import bound_threshold, distances_needed, operating_point_for

CONFIDENCE = 0.95
MIN_GENUINE_PAIRS = 30
"""Below this the FNMR bound says little (none missed in 30 still allows 10 %)."""
BLOCK = 2048


class TooFewImpostorPairs(TooFewPairs):
    """Not enough pairs of different ID numbers for the FMR bound to meet the target.
    ``context``: ``kind``, ``have``, ``needed``, ``target`` (and ``pairs`` as
    :class:`~.bounds.TooFewPairs` has it)."""

    key = "face.population.too_few_impostor_pairs"


class TooFewGenuinePairs(TooFewPairs):
    """Not enough confirmed check-ins to state the FNMR with a useful bound."""

    key = "face.population.too_few_genuine_pairs"


class DriftCheckImpossible(BiometricsError):
    """There is no population calibration yet to re-check."""

    key = "face.population.no_calibration"


@dataclass(frozen=True, slots=True)
class ImpostorTail:
    """How many impostor pairs there were, and the smallest of their distances (sorted)."""

    pairs: int
    smallest: NDArray[np.float64]
    complete: bool
    """True when every distance was kept (fewer pairs than the tail's size)."""

    def accepted_at(self, threshold: float) -> int:
        """Impostor pairs at or below *threshold* (exact while it is inside the kept tail)."""
        k = int(np.searchsorted(self.smallest, threshold, side="right"))
        if k == len(self.smallest) and not self.complete:
            raise ValueError("threshold beyond the kept tail")
        return k


def impostor_tail(references: NDArray[np.floating], reference_ids: Sequence[str],
                  probes: NDArray[np.floating] | None = None,
                  probe_ids: Sequence[str] | None = None, *, keep: int,
                  block: int = BLOCK) -> ImpostorTail:
    """Distances between unit descriptors of different IDs, streamed in blocks.

    Without *probes*: every pair i < j of *references* (portrait against portrait). With them:
    every reference against every probe of another ID (each ordered pair once)."""
    # float64 as the desk computes a distance (decision.distance): a threshold placed just
    # below an impostor pair's distance must refuse that pair there too.
    refs = np.ascontiguousarray(references, dtype=np.float64)
    rid = np.asarray(reference_ids)
    symmetric = probes is None
    prb = refs if probes is None else np.ascontiguousarray(probes, dtype=np.float64)
    pid = rid if probe_ids is None else np.asarray(probe_ids)
    kept = np.empty(0, np.float64)
    pairs = 0
    keep = max(1, keep)
    for r0 in range(0, len(refs), block):
        r = refs[r0:r0 + block]
        c_start = r0 if symmetric else 0
        for c0 in range(c_start, len(prb), block):
            dots = r @ prb[c0:c0 + block].T
            mask = rid[r0:r0 + block, None] != pid[None, c0:c0 + block]
            if symmetric and c0 == r0:
                mask &= np.triu(np.ones(dots.shape, bool), 1)
            values = dots[mask]
            pairs += len(values)
            d = np.sqrt(np.clip(2.0 - 2.0 * values, 0.0, None))
            kept = np.concatenate([kept, d])
            if len(kept) > keep:
                kept = np.partition(kept, keep - 1)[:keep]
    kept.sort()
    return ImpostorTail(pairs, kept, complete=pairs <= keep)


def merge_tails(a: ImpostorTail, b: ImpostorTail, keep: int) -> ImpostorTail:
    both = np.sort(np.concatenate([a.smallest, b.smallest]))
    complete = a.complete and b.complete and len(both) <= keep
    return ImpostorTail(a.pairs + b.pairs, both[:keep], complete)


def tail_size(pairs: int, target_fmr: float, confidence: float = CONFIDENCE) -> int:
    """How many of the smallest distances the operating point for *target_fmr* needs (and
    for any smaller target: the count only grows with it)."""
    return distances_needed(pairs, target_fmr, confidence)


@dataclass(frozen=True, slots=True)
class BoundedRate:
    errors: int
    pairs: int
    upper: float
    """One-sided upper confidence bound."""

    @property
    def rate(self) -> float:
        return self.errors / self.pairs if self.pairs else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {"errors": self.errors, "pairs": self.pairs, "rate": _round(self.rate),
                "upper_bound": _round(self.upper)}


TRADEOFF_TARGETS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)


@dataclass(frozen=True, slots=True)
class TradeOff:
    """What one target FMR would mean for this population: None where there are too few pairs
    (``needed`` says how many impostor pairs it would take)."""

    target_fmr: float
    threshold: float | None
    genuine_review: float | None
    """Share of genuine candidates sent to the invigilator (inside the REVIEW band)."""
    genuine_refused: float | None
    """Share of genuine candidates at or above the band (NO_MATCH)."""
    impostor_admitted: float | None
    """Share of impostor pairs below the band (MATCH without a second look)."""
    fmr_upper: float | None
    needed: int | None = None
    impostor_pairs: int = 0
    """The pairs of different people behind the FMR figures."""
    genuine_pairs: int = 0
    """The confirmed check-ins behind the genuine shares (0: none yet, shares unknown)."""
    false_matches: int | None = None
    """Impostor pairs at or below the threshold (what the FMR bound is computed from)."""

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True)
class PopulationCalibration:
    point: OperatingPoint
    fmr: BoundedRate
    fnmr: BoundedRate
    confidence: float
    identities: int
    tradeoff: tuple[TradeOff, ...] = ()
    """Other targets this population could have: see :func:`tradeoff`."""
    left_out: int = 0
    """Stored descriptors that could not be used (unreadable or not descriptors)."""

    def to_dict(self) -> dict[str, Any]:
        return {"operating_point": self.point.to_dict(), "fmr": self.fmr.to_dict(),
                "fnmr": self.fnmr.to_dict(), "confidence": self.confidence,
                "identities": self.identities,
                "tradeoff": [t.to_dict() for t in self.tradeoff],
                "left_out": self.left_out}


def _bounded(errors: int, pairs: int, confidence: float) -> BoundedRate:
    return BoundedRate(errors, pairs, fmr_upper_bound(errors, pairs, confidence)
                       if pairs else 1.0)


def _refusal(tail: ImpostorTail, exc: TooFewPairs, target_fmr: float,
             confidence: float) -> TooFewImpostorPairs:
    needed = exc.context["needed"]
    return TooFewImpostorPairs(f"{tail.pairs} impostor pairs; {needed} needed for an FMR "
                               f"bound of {target_fmr:g} at {confidence:.0%}",
                               kind="impostor", have=tail.pairs, pairs=tail.pairs,
                               needed=needed, target=target_fmr)


def threshold_for_bound(tail: ImpostorTail, target_fmr: float,
                        confidence: float = CONFIDENCE) -> tuple[float, int]:
    """(threshold, false matches): the largest threshold whose FMR upper bound meets the
    target. Raises :class:`TooFewImpostorPairs` when no threshold can."""
    try:
        threshold = bound_threshold(tail.smallest, target_fmr, pairs=tail.pairs,
                                    confidence=confidence)
    except TooFewPairs as exc:
        raise _refusal(tail, exc, target_fmr, confidence) from exc
    return threshold, tail.accepted_at(threshold)


def calibrate_population(tail: ImpostorTail, genuine: NDArray[np.float64], *,
                         target_fmr: float = 1e-3, confidence: float = CONFIDENCE,
                         identities: int = 0, source: str,
                         min_genuine: int = MIN_GENUINE_PAIRS) -> PopulationCalibration:
    """The operating point for *target_fmr* (upper bound) with its FMR and FNMR and bounds.

    Threshold and REVIEW band follow :func:`.operating_point.operating_point_for`, as the
    shipped default does: MATCH below the threshold, REVIEW up to the distance at the
    point-estimate FMR of min(10 × target, 1e-2), NO_MATCH from there."""
    if not 0.0 < target_fmr <= 0.1:
        raise ValueError(f"target FMR must be in (0, 0.1], not {target_fmr:g}")
    try:
        point = operating_point_for(tail.smallest, target_fmr, source=source,
                                    pairs=tail.pairs, confidence=confidence)
    except TooFewPairs as exc:
        raise _refusal(tail, exc, target_fmr, confidence) from exc
    gen = np.sort(np.asarray(genuine, dtype=np.float64))
    if len(gen) < min_genuine:
        raise TooFewGenuinePairs(f"{len(gen)} confirmed genuine pairs; {min_genuine} needed",
                                 kind="genuine", have=len(gen), pairs=len(gen),
                                 needed=min_genuine, target=target_fmr)
    false_matches = tail.accepted_at(point.threshold)
    misses = int(len(gen) - np.searchsorted(gen, point.threshold, side="right"))
    return PopulationCalibration(point, _bounded(false_matches, tail.pairs, confidence),
                                 _bounded(misses, len(gen), confidence), confidence, identities)


def tradeoff(tail: ImpostorTail, genuine: NDArray[np.float64],
             targets: Sequence[float] = TRADEOFF_TARGETS,
             confidence: float = CONFIDENCE) -> list[TradeOff]:
    """For each target FMR, the operating point's cost in words an admin can weigh: genuine
    candidates to review or refused, impostors admitted outright."""
    gen = np.sort(np.asarray(genuine, dtype=np.float64))
    n_gen = len(gen)
    rows = []
    for target in targets:
        try:
            result = calibrate_population(tail, gen, target_fmr=target, confidence=confidence,
                                          source="trade-off", min_genuine=0)
        except ValueError:  # beyond the kept tail: not shown rather than guessed
            rows.append(TradeOff(target, None, None, None, None, None,
                                 impostor_pairs=tail.pairs, genuine_pairs=n_gen))
            continue
        except TooFewPairs as exc:
            needed = exc.context.get("needed")
            rows.append(TradeOff(target, None, None, None, None, None,
                                 int(needed) if isinstance(needed, int) else None,
                                 impostor_pairs=tail.pairs, genuine_pairs=n_gen))
            continue
        p = result.point
        low = int(np.searchsorted(gen, p.review_low, side="left"))
        high = int(np.searchsorted(gen, p.review_high, side="left"))
        try:
            admitted = tail.accepted_at(float(np.nextafter(p.review_low, -np.inf)))
        except ValueError:
            admitted = len(tail.smallest)
        rows.append(TradeOff(target, p.threshold,
                             (high - low) / n_gen if n_gen else None,
                             (n_gen - high) / n_gen if n_gen else None,
                             admitted / tail.pairs, result.fmr.upper,
                             impostor_pairs=tail.pairs, genuine_pairs=n_gen,
                             false_matches=result.fmr.errors))
    return rows


@dataclass(frozen=True, slots=True)
class DriftCheck:
    """The operating point in force re-estimated on the data as it is now."""

    threshold: float
    target_fmr: float
    fmr: BoundedRate
    fnmr: BoundedRate
    calibrated_pairs: int

    @property
    def drifted(self) -> bool:
        """The FMR bound no longer meets the target: recalibrate."""
        return self.fmr.upper > self.target_fmr

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "target_fmr": self.target_fmr,
                "fmr": self.fmr.to_dict(), "fnmr": self.fnmr.to_dict(),
                "calibrated_pairs": self.calibrated_pairs, "drifted": self.drifted}


def drift_check(tail: ImpostorTail, genuine: NDArray[np.float64], threshold: float,
                target_fmr: float, *, calibrated_pairs: int = 0,
                confidence: float = CONFIDENCE) -> DriftCheck:
    """FMR and FNMR (with bounds) at *threshold* on today's pairs."""
    gen = np.sort(np.asarray(genuine, dtype=np.float64))
    try:
        accepted = tail.accepted_at(threshold)
    except ValueError:
        # More than the kept tail passes: far above the target; say at least that many.
        accepted = len(tail.smallest)
    misses = int(len(gen) - np.searchsorted(gen, threshold, side="right"))
    return DriftCheck(threshold, target_fmr,
                      _bounded(accepted, tail.pairs, confidence) if tail.pairs
                      else BoundedRate(0, 0, 1.0),
                      _bounded(misses, len(gen), confidence), calibrated_pairs)


def is_default(point: OperatingPoint) -> bool:
    """Whether *point* is the shipped default rather than a calibration of this site."""
    return point.source.startswith("default")


def _round(value: float) -> float | None:
    return round(value, 8) if math.isfinite(value) else None
