"""Presentation-attack cues measured on one camera frame and its face box (issue 15).

Each cue is a score, bigger meaning "more like a re-capture", computed with numpy/OpenCV on
the frames the check already has (no model downloads):

- ``spectral_peaks``: a screen's pixel grid or a print's halftone dots, seen by a camera,
  leave a periodic pattern (moiré) in the face: sharp peaks in its spectrum above the smooth
  fall-off of a natural image. Score: how far the strongest mid/high-frequency peak stands
  above the spectrum's radial average (log-magnitude units).
- ``specular``: the glare of a screen's glass or glossy paper: the share of the face that is
  near-white and colourless.
- ``border``: the edge of a phone or a sheet held up: long straight edges around the face,
  on how many of its four sides (0–4).

Their error rates are measured by ``bench/pad_cues.py`` on SIMULATED attacks
(:mod:`pad_sim`); a cue only counts towards a decision where its BPCER on bona fide photos
is measured low (see the README and the bench's output).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .images import RgbImage

Box = tuple[int, int, int, int]
CUES = ("spectral_peaks", "specular", "border")


@dataclass(frozen=True, slots=True)
class CueScores:
    spectral_peaks: float
    specular: float
    border: float

    def to_dict(self) -> dict[str, float]:
        return {"spectral_peaks": round(self.spectral_peaks, 4),
                "specular": round(self.specular, 4), "border": self.border}


def _crop(grey: np.ndarray, box: Box) -> np.ndarray:
    h, w = grey.shape[:2]
    left, top, right, bottom = max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3])
    return grey[top:max(top + 1, bottom), left:max(left + 1, right)]


def spectral_peaks(grey_face: np.ndarray) -> float:
    """Peak height above the radial mean of the log spectrum, in the band from 0.15 to 0.5
    of the sampling rate (below it: the face's own shape; a periodic grid lives above)."""
    if min(grey_face.shape[:2]) < 32:
        return 0.0
    f = grey_face.astype(np.float32)
    f -= f.mean()
    window = np.outer(np.hanning(f.shape[0]), np.hanning(f.shape[1])).astype(np.float32)
    spectrum = np.log1p(np.abs(np.fft.fftshift(np.fft.fft2(f * window))))
    h, w = spectrum.shape
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot((yy - h / 2) / h, (xx - w / 2) / w)
    bins = np.minimum((r * 100).astype(int), 70)
    mean = np.bincount(bins.ravel(), spectrum.ravel()) / np.maximum(
        np.bincount(bins.ravel()), 1)
    residual = spectrum - mean[bins]
    band = (r >= 0.15) & (r <= 0.5)
    return float(residual[band].max()) if band.any() else 0.0


def specular(rgb_face: RgbImage) -> float:
    """Share of the face that is near-white and colourless (glare), in [0, 1]."""
    hsv = cv2.cvtColor(rgb_face, cv2.COLOR_RGB2HSV)
    glare = (hsv[..., 2] >= 245) & (hsv[..., 1] <= 40)
    return float(glare.mean()) if glare.size else 0.0


def border(grey: np.ndarray, box: Box) -> float:
    """On how many sides of the face (0–4) a long straight edge runs, within two face widths:
    a phone's or a sheet's edge around the face, parallel to the face box's sides."""
    fw, fh = box[2] - box[0], box[3] - box[1]
    if fw <= 0 or fh <= 0:
        return 0.0
    edges = cv2.Canny(cv2.GaussianBlur(grey, (5, 5), 1.2), 40, 120)
    lines = cv2.HoughLinesP(edges, 1, np.pi / 180, threshold=40,
                            minLineLength=int(0.8 * min(fw, fh)), maxLineGap=4)
    sides = set()
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    for x1, y1, x2, y2 in ([] if lines is None else lines.reshape(-1, 4).tolist()):
        angle = math.degrees(math.atan2(y2 - y1, x2 - x1)) % 180
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        if angle < 12 or angle > 168:  # horizontal: above or below the face
            if min(x1, x2) <= cx <= max(x1, x2) and abs(my - cy) <= 2 * fh \
                    and abs(my - cy) >= fh / 2:
                sides.add("top" if my < cy else "bottom")
        elif 78 < angle < 102:  # vertical: left or right of it
            if min(y1, y2) <= cy <= max(y1, y2) and abs(mx - cx) <= 2 * fw \
                    and abs(mx - cx) >= fw / 2:
                sides.add("left" if mx < cx else "right")
    return float(len(sides))


def measure(image: RgbImage, box: Box) -> CueScores:
    """Every cue on one frame and the face box the detector found in it."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    left, top, right, bottom = max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3])
    face = image[top:max(top + 1, bottom), left:max(left + 1, right)]
    return CueScores(spectral_peaks(_crop(grey, box)), specular(face), border(grey, box))



@dataclass(frozen=True, slots=True)
class CueLimits:
    spectral_peaks: float = 2.6
    """Above every bona fide photo and real video frame ``bench/pad_cues.py`` measured (their
    95th-percentile threshold is ~2.1). Not used by the check-in: see the README for why."""
