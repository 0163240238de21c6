"""Adapting dlib's scores to a population: cohort score normalisation and whitening.

Both are learned from a *cohort*: descriptors of people of the same population who are not the
people being compared (a centre has its roster's chip portraits; an evaluation uses the other
half of a person split). Neither needs labels.

* Cohort normalisation (Z-, S- and AS-norm): a portrait that looks like many people of the
  population scores high against every candidate; normalising a comparison by how that
  portrait (and that probe) scores against the cohort takes this out. AS-norm uses only the
  ``top`` most similar cohort members (the look-alikes, which are what matters for a proxy).
* Whitening: dlib's descriptors of one population crowd into a few directions (what these
  people share); centring on the population mean and equalising the variance of every direction
  spreads them out, so the distance weighs what tells them apart. The covariance is shrunk
  towards a multiple of the identity (a few hundred faces do not pin down 128 × 128 numbers).

Scores here are similarities (higher = more alike); :func:`as_distance` turns one into a
distance for the threshold code, which accepts at or below.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Matrix = NDArray[np.float64]


def _rows(x: NDArray[np.floating]) -> Matrix:
    return np.atleast_2d(np.asarray(x, dtype=np.float64))


@dataclass(frozen=True, slots=True)
class Whitening:
    mean: Matrix
    """(128,) the cohort mean."""
    matrix: Matrix
    """(128, 128) symmetric: (C + λI)^(-1/2)."""

    @classmethod
    def fit(cls, cohort: NDArray[np.floating], shrinkage: float = 0.1) -> Whitening:
        """Learn from unlabelled descriptors; *shrinkage* λ is a fraction of the mean variance
        added to every direction."""
        x = _rows(cohort)
        if len(x) < 2:
            raise ValueError("whitening needs at least two cohort descriptors")
        mean = x.mean(axis=0)
        c = np.cov(x - mean, rowvar=False)
        values, vectors = np.linalg.eigh(c)
        values = np.clip(values, 0.0, None) + shrinkage * float(np.trace(c)) / len(c)
        return cls(mean, (vectors / np.sqrt(values)) @ vectors.T)

    def apply(self, x: NDArray[np.floating]) -> Matrix:
        """Whitened, L2-normalised rows."""
        y = (_rows(x) - self.mean) @ self.matrix
        return y / np.linalg.norm(y, axis=1, keepdims=True)


@dataclass(frozen=True, slots=True)
class CohortStats:
    mean: Matrix
    std: Matrix


def cohort_stats(x: NDArray[np.floating], cohort: NDArray[np.floating], *,
                 exclude: NDArray[np.bool_] | None = None,
                 top: int | None = None) -> CohortStats:
    """Mean and spread of each row of *x*'s cosine similarity to the cohort (unit rows).

    ``exclude[i, j]`` leaves cohort member j out for row i (the same person); ``top`` keeps
    only each row's most similar cohort members (AS-norm).
    """
    s = _rows(x) @ _rows(cohort).T
    if exclude is not None:
        s = np.where(exclude, np.nan, s)
    if top is not None and top < s.shape[1]:
        filled = np.where(np.isnan(s), -np.inf, s)
        part = -np.partition(-filled, top - 1, axis=1)[:, :top]
        s = np.where(np.isinf(part), np.nan, part)
    mean = np.nanmean(s, axis=1)
    std = np.nanstd(s, axis=1)
    return CohortStats(mean, np.maximum(std, 1e-6))


def s_norm(similarity: Matrix, refs: CohortStats, probes: CohortStats | None) -> Matrix:
    """Symmetric normalisation of a (refs × probes) similarity matrix; Z-norm (portrait side
    only) when *probes* is None."""
    z = (similarity - refs.mean[:, None]) / refs.std[:, None]
    if probes is None:
        return z
    t = (similarity - probes.mean[None, :]) / probes.std[None, :]
    return (z + t) / 2.0


def as_distance(similarity: Matrix) -> Matrix:
    """A similarity as a decreasing score, for code that accepts at or below a threshold."""
    return -similarity
