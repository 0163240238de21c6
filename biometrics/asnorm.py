"""AS-norm (adaptive symmetric score normalisation) against a cohort of the same population.

A chip portrait that looks like many people of the population scores high against any
candidate, a look-alike proxy included. AS-norm measures how each side of a comparison scores
against its ``top`` most similar cohort members (its look-alikes) and expresses the comparison
in units of that spread:

    score = ½ · ((s − μ_ref) / σ_ref + (s − μ_probe) / σ_probe),   s = cos(ref, probe)

where μ, σ are the mean and spread of the side's ``top`` highest cosine similarities to the
cohort. At the desk the cohort is the centre's own chip portraits (one per ID number, from the
store); the candidate's own ID number is always left out of it — on both sides: a genuine
probe's look-alikes would otherwise include the candidate's own portrait and pull the genuine
score down. With fewer than ``min_cohort`` portraits left, the statistics of the look-alikes
are too thin (with top 50 of 60 it is nearly S-norm, which measured worse than the raw
distance), so the desk decides on the raw distance and says so.

The decision is on ``as_distance`` (the negated score: accept at or below, like every other
threshold in ``biometrics``), against an operating point calibrated on AS-normed impostor
scores by the same rule as the raw one (:func:`.operating_point.operating_point_for`).

Measured on held-out East Asian people (``face evaluate``, README "What the face check can and
cannot do"): see the numbers there; the shipped default is :data:`ASNORM_POINT`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .config import ASNORM_POINT as ASNORM_POINT
from .config import MIN_COHORT as MIN_COHORT
from .config import MIN_TOP, TOP_FRACTION
from .config import AsNormSettings as AsNormSettings
from .decision import Verification, decide
from .engine import fuse

Matrix = NDArray[np.float64]
Labels = Sequence[str] | NDArray[Any]
"""Person (ID number) of each row."""

def top_for(cohort_size: int, fraction: float = TOP_FRACTION) -> int:
    """How many look-alikes a side's statistics use in a cohort of *cohort_size*."""
    return max(MIN_TOP, round(fraction * cohort_size))

@dataclass(frozen=True)
class Cohort:
    """Unit descriptors of the population's chip portraits, one row per ID number."""

    ids: tuple[str, ...]
    vectors: Matrix

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or len(self.vectors) != len(self.ids):
            raise ValueError("a cohort needs one descriptor row per ID number")

    def __len__(self) -> int:
        return len(self.ids)

    def without(self, id_number: str) -> Matrix:
        """The cohort with every portrait of *id_number* left out."""
        keep = np.asarray(self.ids, dtype=object) != id_number
        return self.vectors[keep]


def _stats(sims: Matrix, top: int) -> tuple[float, float]:
    """Mean and spread of the *top* largest of *sims* (all of them if fewer)."""
    k = min(top, len(sims))
    best = -np.partition(-sims, k - 1)[:k] if k < len(sims) else sims
    return float(best.mean()), max(float(best.std()), 1e-6)


def normalise(similarity: float, ref_sims: Matrix, probe_sims: Matrix, top: int) -> float:
    """The AS-normed score of one comparison, given both sides' cosine similarities to the
    (already filtered) cohort."""
    mr, sr = _stats(ref_sims, top)
    mp, sp = _stats(probe_sims, top)
    return 0.5 * ((similarity - mr) / sr + (similarity - mp) / sp)


def as_norm_distance(reference: NDArray[np.floating], probe: NDArray[np.floating],
                     cohort: Cohort, candidate_id: str, *,
                     top_fraction: float = TOP_FRACTION,
                     min_cohort: int = MIN_COHORT) -> float | None:
    """The negated AS-norm score of chip portrait against (fused) live descriptor, the
    candidate's own ID number left out of the cohort; None when fewer than *min_cohort*
    portraits remain (the caller falls back to the raw distance)."""
    pool = np.asarray(cohort.without(candidate_id), np.float64)
    if len(pool) < max(min_cohort, 1):
        return None
    ref = np.asarray(reference, np.float64)
    prb = np.asarray(probe, np.float64)
    return -normalise(float(ref @ prb), pool @ ref, pool @ prb,
                      top_for(len(cohort), top_fraction))


def pair_stats(x: NDArray[np.floating], x_labels: Labels,
               cohort: NDArray[np.floating], cohort_labels: Labels,
               other_labels: Labels, top: int) -> tuple[Matrix, Matrix]:
    """For each row i of *x* and each column j (a person, ``other_labels[j]``): mean and
    spread of row i's *top* most similar cohort members, leaving out the cohort portraits of
    both persons of the pair (``x_labels[i]`` and ``other_labels[j]``). Shape (len(x),
    len(other_labels)). Both are left out when fitting a threshold: a proxy at the desk is not
    normally in the roster, and leaving his portrait in would flatter the impostor scores."""
    xs = np.atleast_2d(np.asarray(x, np.float64))
    pool = np.atleast_2d(np.asarray(cohort, np.float64))
    plab = np.asarray(cohort_labels, dtype=object)
    xlab = np.asarray(x_labels, dtype=object)
    olab = np.asarray(other_labels, dtype=object)
    sims = xs @ pool.T
    sims[xlab[:, None] == plab[None, :]] = -np.inf
    mean = np.empty((len(xs), len(olab)))
    std = np.empty_like(mean)
    for i in range(len(xs)):
        row = sims[i]
        order = np.argsort(-row, kind="stable")
        vals, labs = row[order], plab[order]
        finite = np.isfinite(vals)
        vals, labs = vals[finite], labs[finite]
        if not len(vals):
            raise ValueError("a row has no cohort member left")
        head = vals[:top]
        mean[i, :] = head.mean()
        std[i, :] = max(float(head.std()), 1e-6)
        for label in set(labs[:top]):
            rest = vals[labs != label][:top]
            cols = olab == label
            if not cols.any():
                continue
            if not len(rest):
                raise ValueError("a row has no cohort member left")
            mean[i, cols] = rest.mean()
            std[i, cols] = max(float(rest.std()), 1e-6)
    return mean, std


def as_norm_matrix(refs: NDArray[np.floating], ref_labels: Labels,
                   probes: NDArray[np.floating], probe_labels: Labels,
                   cohort: NDArray[np.floating], cohort_labels: Labels,
                   top_fraction: float = TOP_FRACTION) -> Matrix:
    """Negated AS-norm scores of every (reference, probe) pair, both persons of each pair left
    out of the cohort (see :func:`pair_stats`); the look-alikes counted as at the desk
    (:func:`top_for` the whole cohort's size)."""
    top = top_for(len(cohort_labels), top_fraction)
    r = np.asarray(refs, np.float64)
    p = np.asarray(probes, np.float64)
    s = r @ p.T
    mr, sr = pair_stats(r, ref_labels, cohort, cohort_labels, probe_labels, top)
    mp, sp = pair_stats(p, probe_labels, cohort, cohort_labels, ref_labels, top)
    return -0.5 * ((s - mr) / sr + (s - mp.T) / sp.T)


def verify_as_norm(raw: Verification, reference: NDArray[np.floating],
                   probes: Sequence[NDArray[np.floating]], cohort: Cohort, candidate_id: str,
                   settings: AsNormSettings) -> Verification:
    """The desk's decision: on the AS-normed score against *settings*' point when the cohort,
    without the candidate's own ID number, holds at least ``min_cohort`` portraits; else
    *raw* (the raw distance against the raw point in force), with the cohort's size recorded
    so the evidence says why AS-norm did not decide."""
    if not settings.enabled:
        return raw
    left = len(cohort.without(candidate_id))
    if not probes or left < settings.min_cohort:
        return dataclasses.replace(raw, cohort=left)
    probe = probes[0] if len(probes) == 1 else fuse(list(probes))
    score = as_norm_distance(reference, probe, cohort, candidate_id,
                             top_fraction=settings.top_fraction,
                             min_cohort=settings.min_cohort)
    if score is None or not math.isfinite(score):
        return dataclasses.replace(raw, cohort=left)
    point = settings.point
    return Verification(decide(score, point), raw.distance, score <= point.threshold, point,
                        raw.frames, score=score, method="asnorm", cohort=left)
