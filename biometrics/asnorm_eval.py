"""Raw distance against AS-norm on people the threshold was not fitted on, in one run.

The people of a folder are split in two halves (seeded; every photo of a person on the same
side). For each direction (fit on one half, measure on the other, then the other way round):

- raw: the operating point of the fitting half's raw impostor distances
  (:func:`.operating_point.operating_point_for`: FMR 95 % bound ≤ target), applied to the held-
  out half's raw distances;
- AS-norm: the same rule on the fitting half's AS-normed scores (cohort: the fitting half's
  chip portraits, both persons of a pair left out), applied to the held-out half's AS-normed
  scores against the *held-out half's own* portraits as cohort — as at the desk, whose cohort
  is the centre's own roster, not the people the threshold came from.

Every pair of the same half is measured exactly once over the two directions, so the pooled
counts (false matches of impostor pairs, false non-matches of genuine pairs) are counts of
distinct pairs and their Clopper–Pearson bounds mean what they say. Pairs are chip portrait i
against live photo j, i < j, as ``face evaluate`` scores them; a missing face is a rejected
pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .asnorm import MIN_COHORT, TOP_FRACTION, as_norm_matrix
from .bounds import TooFewPairs, binomial_upper_bound
from .bulk import EncodedSet
from .operating_point import operating_point_for

Matrix = NDArray[np.float64]


def person_halves(labels: list[str], seed: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    rng = np.random.default_rng(seed)
    people = sorted(set(labels))
    chosen = set(rng.permutation(people)[: len(people) // 2].tolist())
    side = np.array([label in chosen for label in labels])
    return np.flatnonzero(side), np.flatnonzero(~side)


def _pairs(scores: Matrix, labels: NDArray[Any], found: NDArray[np.bool_]
           ) -> tuple[Matrix, Matrix]:
    iu = np.triu_indices(len(labels), 1)
    same = (labels[:, None] == labels[None, :])[iu]
    both = (found[:, None] & found[None, :])[iu]
    d = np.where(both, scores[iu], np.inf)
    return np.sort(d[same]), np.sort(d[~same])


def raw_scores(enc: EncodedSet, idx: NDArray[np.intp], _cohort: NDArray[np.intp],
               _top: float) -> Matrix:
    cos = (enc.references[idx].astype(np.float64) @ enc.probes[idx].astype(np.float64).T)
    return np.sqrt(np.clip(2.0 - 2.0 * cos, 0.0, None))


def one_per_person(enc: EncodedSet, idx: NDArray[np.intp]) -> NDArray[np.intp]:
    """The first found photo of each person among *idx*: a centre's cohort holds one chip
    portrait per ID number, not ten photos of some people (which would fill a look-alike list
    with one person's photos)."""
    seen: set[str] = set()
    out = []
    for i in idx:
        if enc.found[i] and enc.labels[i] not in seen:
            seen.add(enc.labels[i])
            out.append(i)
    return np.asarray(out, dtype=np.intp)


def asnorm_scores(enc: EncodedSet, idx: NDArray[np.intp], cohort: NDArray[np.intp],
                  top: float) -> Matrix:
    lab = np.asarray(enc.labels, dtype=object)
    pool = one_per_person(enc, cohort)
    return as_norm_matrix(enc.references[idx], lab[idx], enc.probes[idx], lab[idx],
                          enc.references[pool], lab[pool], top)


@dataclass(frozen=True, slots=True)
class HeldOutRates:
    method: str
    thresholds: tuple[float, float]
    """The threshold fitted on each half (in the method's units)."""
    false_matches: int
    impostor_pairs: int
    false_non_matches: int
    genuine_pairs: int
    genuine_review: int
    """Genuine pairs inside the REVIEW band (neither admitted outright nor refused)."""
    smallest_cohort: int

    def to_dict(self) -> dict[str, Any]:
        def r(v: float) -> float | None:
            return round(v, 6) if math.isfinite(v) else None

        fmr = self.false_matches / self.impostor_pairs if self.impostor_pairs else math.nan
        fnmr = (self.false_non_matches / self.genuine_pairs if self.genuine_pairs
                else math.nan)
        return {"method": self.method, "thresholds": [round(t, 4) for t in self.thresholds],
                "false_matches": self.false_matches, "impostor_pairs": self.impostor_pairs,
                "fmr": r(fmr), "fmr_upper95": r(_bound(self.false_matches,
                                                        self.impostor_pairs)),
                "false_non_matches": self.false_non_matches,
                "genuine_pairs": self.genuine_pairs, "fnmr": r(fnmr),
                "fnmr_upper95": r(_bound(self.false_non_matches, self.genuine_pairs)),
                "genuine_review": self.genuine_review, "smallest_cohort": self.smallest_cohort}


def _bound(errors: int, trials: int) -> float:
    return binomial_upper_bound(errors, trials) if trials else math.nan


@dataclass(frozen=True, slots=True)
class HeldOutReport:
    seed: int
    target_fmr: float
    top_fraction: float
    rows: tuple[HeldOutRates, ...]
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "target_fmr": self.target_fmr, "top_fraction": self.top_fraction,
                "min_cohort": MIN_COHORT, "rows": [r.to_dict() for r in self.rows],
                "note": self.note}


def heldout_asnorm(enc: EncodedSet, *, target_fmr: float = 1e-3, seed: int = 14,
                   top: float = TOP_FRACTION) -> HeldOutReport | None:
    """Raw and AS-norm, each fitted on one half of the people and measured on the other (module
    docstring). None when a half has too few impostor pairs to fit the target."""
    halves = person_halves(enc.labels, seed)
    if min(len(h) for h in halves) < 2:
        return None
    lab = np.asarray(enc.labels, dtype=object)
    rows = []
    for name, method in (("raw distance", raw_scores), ("AS-norm", asnorm_scores)):
        fm = imp = fnm = gen = review = 0
        thresholds = []
        smallest = len(lab)
        for fit, test in ((halves[0], halves[1]), (halves[1], halves[0])):
            _, fit_imp = _pairs(method(enc, fit, fit, top), lab[fit], enc.found[fit])
            try:
                point = operating_point_for(fit_imp, target_fmr, source="fitting half")
            except TooFewPairs:
                return None
            test_gen, test_imp = _pairs(method(enc, test, test, top), lab[test],
                                        enc.found[test])
            thresholds.append(point.threshold)
            smallest = min(smallest, len(one_per_person(enc, test)),
                           len(one_per_person(enc, fit)))
            fm += int(np.searchsorted(test_imp, point.threshold, side="right"))
            imp += len(test_imp)
            accepted = int(np.searchsorted(test_gen, point.threshold, side="right"))
            fnm += len(test_gen) - accepted
            gen += len(test_gen)
            review += int(np.searchsorted(test_gen, point.review_high, side="left")
                          - np.searchsorted(test_gen, point.review_low, side="left"))
        rows.append(HeldOutRates(name, (thresholds[0], thresholds[1]), fm, imp, fnm, gen,
                                 review, smallest))
    note = (f"a half holds {smallest} portraits, fewer than the desk's minimum cohort "
            f"({MIN_COHORT}): the desk would decide on the raw distance"
            if smallest < MIN_COHORT else "")
    return HeldOutReport(seed, target_fmr, top, tuple(rows), note)
