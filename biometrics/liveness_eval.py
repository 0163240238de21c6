"""How often the liveness check is fooled, and how often it refuses a live person.

Labelled presentations are built from the shared real photos (``../shared/faces``) and judged
by :func:`liveness.judge` with and without continuity, so one run gives today's rule (the
movement alone) beside the current one. Terms follow ISO/IEC 30107-3:

- APCER, per attack type: the share of attack presentations accepted as live;
- BPCER: the share of bona fide presentations refused. A bona fide presentation that does not
  show the movement asked for (an ORL person who never closes their eyes, asked to blink) is
  rightly refused by either rule; BPCER is therefore counted over those the movement-only rule
  accepts, i.e. it is the refusals continuity adds.

Bona fide: ORL sequences (ten shots of one person in one setting, in their order, played as a
camera) and windows of real video (``video/short_hamilton_clip.mp4``, frames 90–220, one
person turning and talking). Attacks: ``still`` (one photo, repeated), ``photo_sequence`` (a
folder of different photos of one person, played as a camera, as in issue 15),
``mixed_people`` (ORL shots of two people alternating, same framing), ``pan_zoom`` (one photo
panned, zoomed and tilted smoothly: SIMULATED, made here with affine warps). Images are
measured once each and shared between the sequences that use them.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .camera import IMAGE_SUFFIXES, STILL_FRAME
from .images import RgbImage, fit_frame, from_bgr, load
from .liveness import Challenge, FrameMeasurement, LivenessCheck, judge

BONA_FIDE = "bona_fide"
ATTACKS = ("still", "photo_sequence", "mixed_people", "pan_zoom")
SIMULATED = ("pan_zoom",)
VIDEO = "video/short_hamilton_clip.mp4"
VIDEO_SPAN = (90, 220)
VIDEO_FPS = 29.97  # one person, near-frontal, turning and talking (faces/README.md)


@dataclass(frozen=True, slots=True)
class Presentation:
    label: str
    """``bona_fide`` or one of :data:`ATTACKS`."""
    name: str
    frames: tuple[str, ...]
    """Keys of the images, in order (see :class:`Frames`)."""
    source: str = ""
    """Where the bona fide material comes from (``orl``, ``video``)."""
    fps: float | None = None
    """The real frame rate of the frames (video); None: photos, untimed."""


@dataclass
class Tally:
    total: int = 0
    accepted: int = 0
    accepted_before: int = 0
    """Accepted by the movement alone (today's rule before continuity)."""
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, passed: bool, passed_before: bool, reason: str) -> None:
        self.total += 1
        self.accepted += passed
        self.accepted_before += passed_before
        if not passed:
            self.reasons[reason] = self.reasons.get(reason, 0) + 1


@dataclass
class Report:
    attacks: dict[str, Tally] = field(default_factory=dict)
    bona_fide: dict[str, Tally] = field(default_factory=dict)
    bpcer_refused: int = 0
    """Bona fide presentations the movement-only rule accepts and continuity refuses."""
    bpcer_total: int = 0
    refused: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def rate(a: int, n: int) -> float | None:
            return round(a / n, 4) if n else None

        return {
            "apcer": {k: rate(t.accepted, t.total) for k, t in self.attacks.items()},
            "apcer_before": {k: rate(t.accepted_before, t.total)
                             for k, t in self.attacks.items()},
            "attacks": {k: {"total": t.total, "accepted": t.accepted,
                            "accepted_before": t.accepted_before, "reasons": t.reasons}
                        for k, t in self.attacks.items()},
            "bpcer": rate(self.bpcer_refused, self.bpcer_total),
            "bpcer_refused": self.bpcer_refused, "bpcer_total": self.bpcer_total,
            "bona_fide_pass": {k: {"total": t.total, "passed": t.accepted,
                                   "passed_before": t.accepted_before}
                               for k, t in self.bona_fide.items()},
            "simulated": list(SIMULATED),
        }


class Frames:
    """Images by key, made on demand: ``<relative path>`` (a photo fitted into a webcam
    frame, as the file camera plays it), ``<path>@pan<k>/<n>`` (frame k of n of a simulated
    pan/zoom of that photo) or ``video@<frame>``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._video: dict[int, RgbImage] = {}

    def image(self, key: str) -> RgbImage:
        if key.startswith("video@"):
            return self._video_frame(int(key.split("@")[1]))
        if "@pan" in key:
            path, spec = key.split("@pan")
            k, n = (int(v) for v in spec.split("/"))
            return pan_zoom(fit_frame(load(self.root / path), STILL_FRAME), k, n,
                            seed=sum(path.encode()))
        return fit_frame(load(self.root / key), STILL_FRAME)

    def _video_frame(self, index: int) -> RgbImage:
        if index not in self._video:
            capture = cv2.VideoCapture(str(self.root / VIDEO))
            try:
                capture.set(cv2.CAP_PROP_POS_FRAMES, VIDEO_SPAN[0])
                for i in range(VIDEO_SPAN[0], VIDEO_SPAN[1] + 1):
                    ok, bgr = capture.read()
                    if not ok:
                        break
                    self._video[i] = fit_frame(from_bgr(np.asarray(bgr)), STILL_FRAME)
            finally:
                capture.release()
        return self._video[index]


def pan_zoom(image: RgbImage, k: int, n: int, *, seed: int = 0) -> RgbImage:
    """Frame *k* of *n* of one photo moved smoothly in front of a camera (SIMULATED): a drift
    of up to a tenth of the frame, a zoom of up to 12 % and a tilt of up to 6°, each along a
    smooth path, and a little sensor noise so no two frames are equal."""
    rng = np.random.default_rng(seed)
    dx, dy = rng.uniform(-0.1, 0.1, 2) * image.shape[1]
    zoom, tilt = rng.uniform(-0.12, 0.12), rng.uniform(-6, 6)
    f = math.sin(math.pi * k / max(1, n - 1))  # out and back, like a hand would
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), tilt * f, 1 + zoom * f)
    m[:, 2] += (dx * f, dy * f)
    moved = cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    noise = np.random.default_rng(seed + k).normal(0, 2.0, moved.shape)
    return np.clip(moved + noise, 0, 255).astype(np.uint8)


def _folders(parent: Path) -> list[Path]:
    return sorted(p for p in parent.iterdir() if p.is_dir()) if parent.is_dir() else []


def _photos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def presentations(root: Path, *, quick: bool = False, seed: int = 15,
                  length: int = 10) -> list[Presentation]:
    """The labelled set; ``quick`` takes a seeded subset (a few of each kind)."""
    rng = random.Random(seed)

    def rel(path: Path) -> str:
        return path.relative_to(root).as_posix()

    orl = sorted(_folders(root / "orl"), key=lambda p: int(p.name[1:]))
    folders = [p for p in _folders(root / "people") if len(_photos(p)) >= 2]
    folders += [p for p in _folders(root / "east-asian") if len(_photos(p)) >= 2]
    singles = sorted(q for p in _folders(root / "people") for q in _photos(p))
    if quick:
        orl, folders = rng.sample(orl, min(6, len(orl))), rng.sample(folders, min(6, len(folders)))
        singles = rng.sample(singles, min(6, len(singles)))
    out: list[Presentation] = []
    for person in orl:
        shots = sorted(_photos(person), key=lambda p: int(p.stem))
        out.append(Presentation(BONA_FIDE, f"orl/{person.name}", tuple(rel(p) for p in shots),
                                "orl"))
    if not (root / VIDEO).is_file():
        windows = range(0)
    else:
        windows = range(VIDEO_SPAN[0], VIDEO_SPAN[1] - 2 * length + 2,
                        2 * length if quick else length)
    for start in (list(windows)[:2] if quick else windows):
        # Every other frame: 15 fps, what the check measures on a 30 fps webcam.
        out.append(Presentation(BONA_FIDE, f"video@{start}",
                                tuple(f"video@{start + 2 * i}" for i in range(length)), "video",
                                fps=VIDEO_FPS / 2))
    for photo in singles:
        out.append(Presentation("still", rel(photo), (rel(photo),) * length))
    for folder in folders:
        stills = [rel(p) for p in _photos(folder)]
        played = tuple(stills[i % len(stills)] for i in range(length))  # looped, as played
        out.append(Presentation("photo_sequence", rel(folder), played))
    pairs = [tuple(rng.sample(orl, 2)) for _ in range(len(orl))] if len(orl) >= 2 else []
    for a, b in pairs[:6] if quick else pairs:
        ones = [rel(p) for p in sorted(_photos(a), key=lambda p: int(p.stem))]
        others = [rel(p) for p in sorted(_photos(b), key=lambda p: int(p.stem))]
        mixed = tuple(ones[i] if i % 2 == 0 else others[i] for i in range(length))
        out.append(Presentation("mixed_people", f"{a.name}+{b.name}", mixed))
    for photo in singles:
        out.append(Presentation("pan_zoom", rel(photo),
                                tuple(f"{rel(photo)}@pan{k}/{length}" for k in range(length))))
    return out


def evaluate(check: LivenessCheck, root: Path, items: list[Presentation],
             progress: Callable[[int, int], None] | None = None) -> Report:
    frames = Frames(root)
    measured: dict[str, FrameMeasurement] = {}
    report = Report()
    for n, item in enumerate(items):
        if progress is not None:
            progress(n, len(items))
        ms = []
        for i, key in enumerate(item.frames):
            if key not in measured:
                measured[key] = check.measure(frames.image(key), 0)
            ms.append(dataclasses.replace(measured[key], index=i,
                                          time=i / item.fps if item.fps else math.nan))
        for challenge in Challenge:
            before = judge(challenge, ms, check.limits, continuity_on=False)
            verdict = judge(challenge, ms, check.limits)
            if verdict.passed:
                verdict = check.confirm(verdict)
            group = (report.bona_fide.setdefault(item.source, Tally())
                     if item.label == BONA_FIDE else report.attacks.setdefault(item.label, Tally()))
            group.add(verdict.passed, before.passed, verdict.reason)
            if item.label == BONA_FIDE and before.passed:
                report.bpcer_total += 1
                if not verdict.passed:
                    report.bpcer_refused += 1
                    report.refused.append(f"{item.name} {challenge.value}: {verdict.reason}")
    return report


def table(report: Report) -> Iterator[str]:
    """The report as lines for the terminal."""
    yield f"{'attack type':<16}{'n':>6}{'accepted':>10}{'APCER':>9}{'before':>9}"
    for kind, t in report.attacks.items():
        note = "  (simulated)" if kind in SIMULATED else ""
        yield (f"{kind:<16}{t.total:>6}{t.accepted:>10}{t.accepted / t.total:>9.1%}"
               f"{t.accepted_before / t.total:>9.1%}{note}")
    for source, t in report.bona_fide.items():
        yield (f"bona fide {source:<6}{t.total:>6} passed {t.accepted} "
               f"(movement alone: {t.accepted_before})")
    b = report.bpcer_refused / report.bpcer_total if report.bpcer_total else math.nan
    yield (f"BPCER {b:.1%}: {report.bpcer_refused} of {report.bpcer_total} bona fide "
           f"presentations that show the movement are refused by continuity")
