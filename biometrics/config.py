"""Settings of face verification, passed in by the caller (no global state).

Defaults are the values measured on the shared real photos (see the report in the calibrate and
evaluate commands); a site can override any of them in the ``face`` section of its settings
file. Distances are Euclidean between L2-normalised descriptors (``sqrt(2 - 2·cos)``), so the
numbers are not comparable with face_recognition's raw-descriptor 0.6.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

# dlib's HOG frontal detector scans an 80×80 window: at its own resolution it finds faces of
# about that width and larger. To find smaller faces the image is upsampled, to skip the
# work for larger ones it is downscaled.
HOG_WINDOW_PX = 80


@dataclass(frozen=True, slots=True)
class Detection:
    """How to look for faces in one kind of image."""

    min_face_px: int
    """Smallest face width (source pixels) the detector must find; sets the working scale."""
    fallback: bool
    """Retry hard images: padded and upsampled (faces touching the border), then the CNN."""

    @property
    def scale(self) -> float:
        return HOG_WINDOW_PX / self.min_face_px


@dataclass(frozen=True, slots=True)
class Quality:
    """Limits a live capture must meet before it is compared (all measured on the face box)."""

    min_face_px: int = 64
    """Box width below which there are too few pixels for the 150 px aligned chip."""
    min_inside: float = 0.9
    """Fraction of the face box that must be inside the picture."""
    min_brightness: float = 60.0
    """Mean luma (0–255) of the face below which it is too dark."""
    max_brightness: float = 205.0
    max_clipped: float = 0.25
    """Fraction of face pixels at 250+ (burnt out) above which it is too bright."""
    min_sharpness: float = 40.0
    """Variance of the Laplacian of the face resized to 128 px wide. The shared photos measure
    80–1500; the same photos blurred by a Gaussian of 1/60 of the face width measure 3–25."""
    max_yaw_deg: float = 30.0
    max_pitch_deg: float = 30.0
    max_roll_deg: float = 30.0
    min_eye_aspect: float = 0.15
    """Mean eye aspect ratio (68-point landmarks) below which the eyes count as closed."""


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """The calibrated operating point: distance thresholds for MATCH / REVIEW / NO_MATCH.

    The defaults come from the shared East Asian faces (652 people, 723 photos, 260 871
    impostor pairs; issue 14), the closest public population to the people examdesk checks;
    ORL (Cambridge, 1992–94) let 6 % of East Asian impostor pairs through. ``threshold`` is the
    largest distance whose FMR has a 95 % upper confidence bound (Clopper–Pearson) of at most
    1e-3 on those pairs (234 false matches, FMR 0.090 %, bound 0.100 %); below it the desk
    admits (MATCH), because the target FMR is the rate of impostors admitted without a second
    look. ``review_high`` is the distance at FMR 1e-2: from there on, NO_MATCH. Each figure is
    rounded down to 4 decimals. Measured on the other half of the people after fitting on one
    half, this rule admits 0.08 % of impostor pairs (worst split 0.17 %) and 55 % of genuine
    ones, sends 29 % of genuine pairs to REVIEW and refuses 16 % (``bench/face_population.py``).
    A site's own calibration, saved in the settings file, replaces them.
    """

    threshold: float = 0.2711
    """Accept at or below this distance (the target false match rate on calibration data)."""
    review_low: float = 0.2711
    """Below this: MATCH without a second look."""
    review_high: float = 0.3128
    """At or above this: NO_MATCH. Between the two: REVIEW by the invigilator."""
    target_fmr: float = 1e-3
    source: str = ("default: East Asian faces (652 people, 723 photos), FMR 1e-3 "
                   "at the 95 % bound")
    """Where the numbers come from: "default" or the calibration data set and date."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


ORL_POINT = OperatingPoint(
    threshold=0.3594, review_low=0.3349, review_high=0.3979, target_fmr=1e-3,
    source="ORL (40 people, 400 photos), FMR 1e-3: the default before issue 14")
"""The point shipped until issue 14, calibrated on ORL (Cambridge, 1992–94): on East Asian
faces it lets about 6 % of impostor pairs through. Kept to show beside the new default."""


# --- AS-norm (biometrics.asnorm) ------------------------------------------------------------

TOP_FRACTION = 0.14
"""Look-alikes per side, as a share of the cohort (top 50 of the ~360 portraits of half the
East Asian people, which measured best). A share, not a fixed count: with a fixed top 50 the
normalised scores shrink as the cohort grows (the 50 nearest of 720 are nearer than the 50
nearest of 200), and the threshold fitted on 720 portraits (−2.52) would admit far more
impostors at a centre of 200 (whose own threshold measured −3.3). With the share, thresholds
fitted on 360 and 720 portraits measured −2.93 / −2.98 and −2.82."""
MIN_TOP = 10
MIN_COHORT = 300
"""Fewest cohort portraits (the candidate's own left out) for the desk to use AS-norm; below
it the threshold fitted on larger cohorts measured too loose (200 portraits: −3.3 needed),
and the desk decides on the raw distance."""


ASNORM_POINT = OperatingPoint(
    threshold=-2.8288, review_low=-2.8288, review_high=-1.3279, target_fmr=1e-3,
    source="default AS-norm: East Asian faces (652 people, 723 photos; cohort: the other "
           "people), FMR 1e-3 at the 95 % bound")
"""The shipped AS-norm operating point, in negated normalised score (accept at or below),
fitted by :func:`.operating_point.operating_point_for` on the AS-normed impostor pairs of the
shared East Asian faces (cohort: one chip portrait of every other person, 650 portraits): 234
of 260 871 impostor pairs, FMR 0.090 % (bound 0.100 %), FNMR 24.2 % (32 of 132) against
42.4 % for the raw default on the same pairs; each figure rounded down to 4 decimals. Fitted
on half the people and measured on the other half (their own portraits as cohort, as a
centre's), AS-norm gave FMR 0.078 % (bound 0.092 %) and FNMR 28.0 % where the raw distance
gave 0.088 % and 43.2 % (``face evaluate``). Not measured on other populations with 300+
people (ORL and people/ are too small for a cohort)."""


@dataclass(frozen=True, slots=True)
class AsNormSettings:
    """The ``asnorm`` part of the ``face`` settings section: whether the desk decides on the
    AS-normed score (when the centre has enough chip portraits), and on which point."""

    enabled: bool = True
    top_fraction: float = TOP_FRACTION
    min_cohort: int = MIN_COHORT
    point: OperatingPoint = field(default_factory=lambda: ASNORM_POINT)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> AsNormSettings:
        """From a (possibly partial) settings section; a bad value raises ``ValueError``."""
        if not isinstance(data, dict) or not data:
            return cls()
        base = cls()
        point = base.point
        raw_point = data.get("point", data.get("operating_point"))
        if isinstance(raw_point, dict):
            known = {k: v for k, v in raw_point.items()
                     if k in OperatingPoint.__dataclass_fields__}
            point = OperatingPoint(**{**point.to_dict(), **known})
            for name in ("threshold", "review_low", "review_high"):
                if not math.isfinite(float(getattr(point, name))):
                    raise ValueError(f"asnorm.point.{name} must be finite")
            if not point.review_low <= point.threshold <= point.review_high:
                raise ValueError("asnorm.point: review_low ≤ threshold ≤ review_high")
        out = cls(enabled=bool(data.get("enabled", base.enabled)),
                  top_fraction=float(data.get("top_fraction", base.top_fraction)),
                  min_cohort=int(data.get("min_cohort", base.min_cohort)), point=point)
        if not 0.0 < out.top_fraction <= 1.0 or out.min_cohort < MIN_TOP:
            raise ValueError(f"asnorm: top_fraction must be in (0, 1] and min_cohort ≥ "
                             f"{MIN_TOP}")
        return out


@dataclass(frozen=True, slots=True)
class FaceSettings:
    still: Detection = field(default_factory=lambda: Detection(min_face_px=80, fallback=True))
    """Photos and chip portraits: full resolution, retried when nothing is found."""
    live: Detection = field(default_factory=lambda: Detection(min_face_px=120, fallback=False))
    """Camera frames: the candidate sits within about a metre, so 120 px in a 720p frame is
    the smallest face that matters; detection runs on a frame scaled by 80/120."""
    quality: Quality = field(default_factory=Quality)
    operating_point: OperatingPoint = field(default_factory=OperatingPoint)
    portrait_jitters: int = 8
    """Extra aligned crops (shifted, rotated, mirrored) averaged for the chip portrait."""
    fuse_frames: int = 3
    """Live frames whose descriptors are averaged for one check-in."""
    asnorm: AsNormSettings = field(default_factory=AsNormSettings)
    """AS-norm against the centre's chip portraits (``biometrics.asnorm``)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> FaceSettings:
        """Settings from a (possibly partial, possibly older) saved section; unknown keys are
        ignored so an old settings file never stops the application."""
        if not data:
            return cls()
        base = cls()
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            current = getattr(base, f.name)
            if isinstance(current, AsNormSettings):
                values[f.name] = AsNormSettings.from_dict(data[f.name])
            elif dataclasses.is_dataclass(current):
                values[f.name] = _merge(current, data[f.name])
            else:
                values[f.name] = type(current)(data[f.name])
        return dataclasses.replace(base, **values)

    def with_operating_point(self, point: OperatingPoint) -> FaceSettings:
        return dataclasses.replace(self, operating_point=point)


def _merge(current: Any, data: Any) -> Any:
    if not isinstance(data, dict):
        return current
    known = {f.name: f for f in dataclasses.fields(current)}
    changes = {k: type(getattr(current, k))(v) for k, v in data.items() if k in known}
    return dataclasses.replace(current, **changes)
