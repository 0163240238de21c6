"""The check-in protocol: what the desk decides for whole check-in attempts, not photo pairs.

A check-in compares one chip portrait (encoded with augmentation) with K live frames that passed
the quality gate, fused into one descriptor, and decides ADMIT (face MATCH), REVIEW (inside the
band, or no usable face: the invigilator looks) or REJECT (NO_MATCH). A labelled photo folder
stands in for check-ins:

* **genuine attempt**: each photo of a person with two or more photos is the chip portrait once;
  the person's other photos are the camera's frames;
* **impostor attempt**: each photo is the chip portrait against every other person *of the same
  group* (a proxy is chosen for resembling the candidate, so impostors come from the same
  population), whose photos are the frames.

Frames go through the desk's rules: one face (``the_face``), the quality gate, then the
``fuse_frames`` best by quality score are fused (``collect`` then ``compare``). The portrait
goes through ``enrol``'s rule (one face, a second one half as wide refuses it). When the
portrait or every frame fails, the attempt is a **failure to acquire**: the desk sends it to
REVIEW, and it is counted there, and separately.

face_recognition's default pipeline decides the same attempts (same portrait photo, the same
frame photos) the way a caller of the library would: the mean of ``face_distance`` over the
frames against ``compare_faces``' 0.6, admit or reject (the library has no review band); a
failure to acquire goes to REVIEW as for ours.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .baseline import DEFAULT_TOLERANCE
from .bounds import binomial_upper_bound
from .bulk import EncodedSet
from .config import FaceSettings, OperatingPoint
from .errors import BiometricsError
from .faces import the_face
from .quality import check, score

Fusion = Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]]
"""(frames (k, 128), quality scores (k,)) → one descriptor (128,)."""


def mean_fusion(frames: NDArray[np.float64], _quality: NDArray[np.float64]) -> NDArray[np.float64]:
    """The desk's fusion (``engine.fuse``): the normalised mean direction."""
    m = frames.mean(axis=0)
    return m / np.linalg.norm(m)


def quality_fusion(frames: NDArray[np.float64],
                   quality: NDArray[np.float64]) -> NDArray[np.float64]:
    """Frames weighted by their quality score (sharp, frontal, large count more)."""
    w = np.clip(quality, 1e-3, None)
    m = (frames * w[:, None]).sum(axis=0)
    return m / np.linalg.norm(m)


@dataclass(frozen=True, slots=True)
class Attempts:
    """The attempts of one group: which photo is the portrait, which photos are the frames."""

    group: str
    genuine: list[tuple[int, list[int]]]
    """(portrait photo, frame photos in the desk's order of preference)."""
    impostor_portraits: list[int]
    impostor_people: list[list[int]]
    """Per other person of the group: their frame photos (best first)."""
    impostor_owner: list[str]
    portrait_owner: list[str]


@dataclass(frozen=True, slots=True)
class Outcomes:
    """How attempts ended: counts of ADMIT / REVIEW / REJECT, and failures to acquire (inside
    REVIEW)."""

    attempts: int
    admit: int
    review: int
    reject: int
    fta: int

    def rates(self) -> dict[str, float | int | None]:
        n = self.attempts
        out: dict[str, float | int | None] = {"attempts": n}
        for name in ("admit", "review", "reject", "fta"):
            value = getattr(self, name)
            out[name] = round(value / n, 6) if n else None
        out["admit_upper95"] = (round(binomial_upper_bound(self.admit, n), 6) if n else None)
        return out

    @classmethod
    def of(cls, decisions: NDArray[np.int8], fta: NDArray[np.bool_]) -> Outcomes:
        return cls(len(decisions), int((decisions == ADMIT).sum()),
                   int((decisions == REVIEW).sum()), int((decisions == REJECT).sum()),
                   int(fta.sum()))


ADMIT, REVIEW, REJECT = 0, 1, 2


@dataclass(frozen=True, slots=True)
class GroupResult:
    group: str
    identities: int
    genuine: Outcomes
    impostor: Outcomes
    baseline_genuine: Outcomes
    baseline_impostor: Outcomes

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "identities": self.identities,
                "examdesk": {"genuine": self.genuine.rates(),
                             "impostor": self.impostor.rates()},
                "face_recognition_default": {"genuine": self.baseline_genuine.rates(),
                                             "impostor": self.baseline_impostor.rates()}}


@dataclass(frozen=True, slots=True)
class CheckinReport:
    frames: int
    point: OperatingPoint
    groups: list[GroupResult]

    def to_dict(self) -> dict[str, Any]:
        return {"frames": self.frames, "threshold": self.point.threshold,
                "review_band": [self.point.review_low, self.point.review_high],
                "groups": [g.to_dict() for g in self.groups]}


# --- who can stand where -------------------------------------------------------------------------


def usable_portraits(encoded: EncodedSet) -> NDArray[np.bool_]:
    """Photos ``enrol`` would accept as a chip portrait."""
    ok = np.zeros(len(encoded.labels), bool)
    for i, widths in enumerate(encoded.widths):
        if not encoded.found[i] or not widths:
            continue
        try:
            _one_face(widths, max(1, widths[0] // 2))
        except BiometricsError:
            continue
        ok[i] = True
    return ok


def usable_frames(encoded: EncodedSet, settings: FaceSettings) -> NDArray[np.float64]:
    """Quality score of each photo as a live frame, or −1 where the desk would refuse it
    (no face, several faces, too small, the quality gate)."""
    out = np.full(len(encoded.labels), -1.0)
    limits = settings.quality
    for i, (widths, quality) in enumerate(zip(encoded.widths, encoded.quality, strict=True)):
        if not encoded.found[i] or quality is None:
            continue
        try:
            _one_face(widths, limits.min_face_px)
            check(quality, limits)
        except BiometricsError:
            continue
        out[i] = score(quality, limits)
    return out


def _one_face(widths: Sequence[int], min_face_px: int) -> None:
    from .engine import Face

    the_face([Face(0, 0, w, w, 0.0, "") for w in widths], min_face_px)


def build_attempts(encoded: EncodedSet, groups: Mapping[str, str],
                   frame_quality: NDArray[np.float64], frames: int) -> list[Attempts]:
    labels = encoded.labels
    photos: dict[str, list[int]] = collections.defaultdict(list)
    for i, label in enumerate(labels):
        photos[label].append(i)

    def best(indices: list[int]) -> list[int]:
        good = [i for i in indices if frame_quality[i] >= 0]
        return sorted(good, key=lambda i: -frame_quality[i])[:frames]

    members: dict[str, list[str]] = collections.defaultdict(list)
    for label in photos:
        members[groups.get(label, "")].append(label)
    out = []
    for group in sorted(members):
        people = sorted(members[group])
        genuine = [(i, best([j for j in photos[p] if j != i]))
                   for p in people if len(photos[p]) > 1 for i in photos[p]]
        portraits = [i for p in people for i in photos[p]]
        out.append(Attempts(group, genuine, portraits, [best(photos[p]) for p in people],
                            people, [labels[i] for i in portraits]))
    return out


# --- deciding ---------------------------------------------------------------------------------


def _decide_all(d: NDArray[np.float64], point: OperatingPoint) -> NDArray[np.int8]:
    """``decision.decide`` over an array (below the band MATCH, at or above it NO_MATCH)."""
    out = np.full(d.shape, REVIEW, np.int8)
    out[d < point.review_low] = ADMIT
    out[d >= point.review_high] = REJECT
    return out


def _fused(vectors: NDArray[np.float32], quality: NDArray[np.float64], idx: list[int],
           fusion: Fusion) -> NDArray[np.float64] | None:
    if not idx:
        return None
    return fusion(vectors[idx].astype(np.float64), quality[idx])


def genuine_distances(encoded: EncodedSet, attempts: Attempts, portraits_ok: NDArray[np.bool_],
                      frame_quality: NDArray[np.float64],
                      fusion: Fusion = mean_fusion) -> NDArray[np.float64]:
    """Distance of each genuine attempt; +inf for a failure to acquire."""
    out = np.full(len(attempts.genuine), np.inf)
    for k, (portrait, frames) in enumerate(attempts.genuine):
        probe = _fused(encoded.probes, frame_quality, frames, fusion)
        if probe is None or not portraits_ok[portrait]:
            continue
        cos = float(encoded.references[portrait].astype(np.float64) @ probe)
        out[k] = np.sqrt(max(0.0, 2.0 - 2.0 * cos))
    return out


def impostor_distances(encoded: EncodedSet, attempts: Attempts, portraits_ok: NDArray[np.bool_],
                       frame_quality: NDArray[np.float64],
                       fusion: Fusion = mean_fusion) -> NDArray[np.float64]:
    """Distances of every portrait against every other person of the group (flattened);
    +inf for a failure to acquire."""
    probes = [_fused(encoded.probes, frame_quality, f, fusion) for f in attempts.impostor_people]
    have = np.array([p is not None for p in probes])
    matrix = np.stack([p if p is not None else np.zeros(128) for p in probes])
    refs = encoded.references[attempts.impostor_portraits].astype(np.float64)
    d = np.sqrt(np.clip(2.0 - 2.0 * refs @ matrix.T, 0.0, None))
    d[~portraits_ok[attempts.impostor_portraits]] = np.inf
    d[:, ~have] = np.inf
    owner = np.asarray(attempts.portrait_owner)[:, None] == np.asarray(attempts.impostor_owner)
    return d[~owner]


def _baseline(encoded: EncodedSet, attempts: Attempts,
              k_frames: int) -> tuple[Outcomes, Outcomes]:
    assert encoded.baseline is not None and encoded.baseline_found is not None
    raw, found = encoded.baseline, encoded.baseline_found

    def frames_of(idx: list[int], pool: list[int]) -> list[int]:
        # The same frame photos as ours; where the desk found none usable, the first K of the
        # pool (a library caller has no quality gate).
        chosen = idx or pool
        return [j for j in chosen if found[j]]

    gen = np.full(len(attempts.genuine), np.inf)
    labels = encoded.labels
    by_label: dict[str, list[int]] = collections.defaultdict(list)
    for i, label in enumerate(labels):
        by_label[label].append(i)
    for k, (portrait, frames) in enumerate(attempts.genuine):
        pool = [j for j in by_label[labels[portrait]] if j != portrait][:k_frames]
        use = frames_of(frames, pool)
        if found[portrait] and use:
            gen[k] = float(np.linalg.norm(raw[use] - raw[portrait], axis=1).mean())
    portraits = attempts.impostor_portraits
    people = [frames_of(f, by_label[p][:k_frames])
              for f, p in zip(attempts.impostor_people, attempts.impostor_owner, strict=True)]
    sq = (raw * raw).sum(axis=1)
    imp = np.full((len(portraits), len(people)), np.inf)
    for col, use in enumerate(people):
        if not use:
            continue
        d2 = sq[portraits][:, None] + sq[use][None, :] - 2.0 * raw[portraits] @ raw[use].T
        imp[:, col] = np.sqrt(np.clip(d2, 0.0, None)).mean(axis=1)
    imp[~found[portraits]] = np.inf
    owner = np.asarray(attempts.portrait_owner)[:, None] == np.asarray(attempts.impostor_owner)
    return _binary(gen), _binary(imp[~owner])


def _binary(d: NDArray[np.float64]) -> Outcomes:
    fta = ~np.isfinite(d)
    decisions = np.where(fta, REVIEW, np.where(d <= DEFAULT_TOLERANCE, ADMIT, REJECT))
    return Outcomes.of(decisions.astype(np.int8), fta)


def outcomes(d: NDArray[np.float64], point: OperatingPoint) -> Outcomes:
    fta = ~np.isfinite(d)
    decisions = _decide_all(d, point)
    decisions[fta] = REVIEW  # no usable face: the invigilator decides
    return Outcomes.of(decisions, fta)


def checkin_protocol(encoded: EncodedSet, settings: FaceSettings,
                     groups: Mapping[str, str] | None = None,
                     point: OperatingPoint | None = None) -> CheckinReport:
    """ADMIT / REVIEW / REJECT rates of genuine and impostor check-ins, per group, for ours at
    *point* (default: the settings') and for face_recognition's defaults."""
    point = point or settings.operating_point
    portraits_ok = usable_portraits(encoded)
    frame_quality = usable_frames(encoded, settings)
    results = []
    for attempts in build_attempts(encoded, groups or {}, frame_quality, settings.fuse_frames):
        gen = genuine_distances(encoded, attempts, portraits_ok, frame_quality)
        imp = impostor_distances(encoded, attempts, portraits_ok, frame_quality)
        base_gen, base_imp = (_baseline(encoded, attempts, settings.fuse_frames)
                              if encoded.baseline is not None else (_EMPTY, _EMPTY))
        results.append(GroupResult(attempts.group, len(attempts.impostor_owner),
                                   outcomes(gen, point), outcomes(imp, point),
                                   base_gen, base_imp))
    return CheckinReport(settings.fuse_frames, point, results)


_EMPTY = Outcomes(0, 0, 0, 0, 0)
