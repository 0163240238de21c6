"""SIMULATED presentation attacks, made from real photos, to measure the cues of
:mod:`pad_cues` (issue 15). Nothing here is a real re-capture: a photo is resampled through a
synthetic screen pixel grid, printed as a synthetic halftone, or set in a synthetic phone or
paper border, then "seen" by a synthetic camera (a small rotation, a non-integer scale, a
little blur and sensor noise). Every result that uses them must say SIMULATED.

What they cannot tell: a real screen's pixel pitch, refresh and anti-glare coating, a real
printer's screening and paper, a real lens's blur and a real sensor's demosaicking all
change how much of the pattern survives; a high-resolution screen held far enough from the
camera leaves no moiré at all. Error rates on these are an upper bound on what the cues can
do, not what they do at a desk.
"""

from __future__ import annotations

import cv2
import numpy as np

from .images import RgbImage

KINDS = ("screen", "print", "phone_border", "paper_border")
SIMULATED = "SIMULATED"


Affine = np.ndarray
"""2×3: where a point of the original photo lands in the simulated picture."""


LENS_BLUR = 0.2
"""The synthetic lens's blur (Gaussian sigma, in the camera's pixels) by default: sharp, so a
fine pattern aliases strongly. Real optics blur more; ``bench/pad_cues.py`` shows what the
cues do as it grows (at 1 px the pattern is mostly gone)."""


def _camera(image: np.ndarray, rng: np.random.Generator, scale: float,
            out_size: tuple[int, int], blur: float = LENS_BLUR) -> tuple[RgbImage, Affine]:
    """A camera looking at *image*: rotated a little, scaled by *scale* (point-sampled after
    a lens-like blur of *blur* camera pixels, so a fine pattern aliases as it does on a
    sensor), noise added."""
    h, w = image.shape[:2]
    angle = rng.uniform(-4.0, 4.0)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += (out_size[0] / 2 - w / 2, out_size[1] / 2 - h / 2)
    blurred = cv2.GaussianBlur(image.astype(np.float32), (0, 0), blur / max(scale, 1e-3))
    seen = np.asarray(cv2.warpAffine(blurred, m, out_size, flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REFLECT), np.float32)
    seen += rng.normal(0, 2.0, seen.shape).astype(np.float32)
    return np.clip(seen, 0, 255).astype(np.uint8), m


def _scaled(m: Affine, k: float) -> Affine:
    """*m* applied to a picture *k* times the photo's size: from the photo's coordinates."""
    out = m.copy()
    out[:, :2] *= k
    return out


def screen(image: RgbImage, rng: np.random.Generator,
           blur: float = LENS_BLUR) -> tuple[RgbImage, Affine]:
    """The photo on a screen: each pixel shown as three coloured sub-pixel stripes with a dark
    gap (the pixel grid), a glare spot on the glass, then seen by the camera."""
    h, w = image.shape[:2]
    k = 3
    big = np.repeat(np.repeat(image.astype(np.float32), k, 0), k, 1)
    cell = np.zeros((k, k, 3), np.float32)
    for c in range(3):
        cell[:, c, c] = 1.0
    cell[k - 1, :, :] *= 0.3  # the gap between pixel rows
    big *= np.tile(cell, (h, w, 1)) * 3.6  # a screen is bright: the stripes average back
    yy, xx = np.mgrid[0:big.shape[0], 0:big.shape[1]].astype(np.float32)
    cy, cx = rng.uniform(0.2, 0.8) * big.shape[0], rng.uniform(0.2, 0.8) * big.shape[1]
    r = rng.uniform(0.08, 0.2) * big.shape[1]
    big += rng.uniform(40, 90) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))[..., None]
    seen, m = _camera(np.clip(big, 0, 255), rng, rng.uniform(0.85, 1.15) / k, (w, h), blur)
    return seen, _scaled(m, k)


def halftone(image: RgbImage, rng: np.random.Generator,
             blur: float = LENS_BLUR) -> tuple[RgbImage, Affine]:
    """The photo printed: cyan, magenta and yellow dots on screens turned 15°, 75° and 0°,
    dot area following the ink needed, on slightly off-white paper, then seen by the camera."""
    h, w = image.shape[:2]
    k = 2
    big = cv2.resize(image, (w * k, h * k), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    yy, xx = np.mgrid[0:h * k, 0:w * k].astype(np.float32)
    pitch = rng.uniform(3.0, 5.0)
    paper = np.array([250, 246, 236], np.float32)
    out = np.empty_like(big)
    for c, angle in enumerate((15.0, 75.0, 0.0)):
        a = np.deg2rad(angle)
        u = (xx * np.cos(a) + yy * np.sin(a)) / pitch
        v = (-xx * np.sin(a) + yy * np.cos(a)) / pitch
        d = np.hypot(u - np.floor(u) - 0.5, v - np.floor(v) - 0.5)
        ink = 1.0 - big[..., c] / 255.0
        on = d < np.sqrt(ink / np.pi)
        out[..., c] = np.where(on, 25.0, paper[c])
    seen, m = _camera(out, rng, rng.uniform(0.85, 1.15) / k, (w, h), blur)
    return seen, _scaled(m, k)


def bordered(image: RgbImage, rng: np.random.Generator,
             kind: str) -> tuple[RgbImage, Affine]:
    """The photo held up in front of the camera, smaller than the frame: in a phone's black
    bezel, or on paper with a white margin, against a room (blurred blocks of colour)."""
    h, w = image.shape[:2]
    blocks = rng.integers(40, 200, (6, 8, 3)).astype(np.uint8)
    room = cv2.GaussianBlur(cv2.resize(blocks, (w, h), interpolation=cv2.INTER_NEAREST),
                            (0, 0), w / 40)
    s = rng.uniform(0.55, 0.7)
    pw, ph = int(w * s), int(h * s)
    photo = cv2.resize(image, (pw, ph), interpolation=cv2.INTER_AREA)
    edge = max(3, int(0.06 * pw))
    colour = (15, 15, 18) if kind == "phone_border" else (245, 243, 235)
    framed = cv2.copyMakeBorder(photo, edge, edge, edge, edge, cv2.BORDER_CONSTANT,
                                value=colour)
    fh, fw = framed.shape[:2]
    x0 = int(rng.uniform(0.1, 0.9) * (w - fw))
    y0 = int(rng.uniform(0.1, 0.9) * (h - fh))
    out = room.astype(np.float32)
    out[y0:y0 + fh, x0:x0 + fw] = framed
    out += rng.normal(0, 2.0, out.shape)
    m = np.array([[pw / w, 0, x0 + edge], [0, ph / h, y0 + edge]], np.float64)
    return np.clip(out, 0, 255).astype(np.uint8), m


def simulate(image: RgbImage, kind: str, seed: int,
             blur: float = LENS_BLUR) -> tuple[RgbImage, Affine]:
    """One SIMULATED attack of *kind* (:data:`KINDS`) made from *image*, reproducibly, and
    where the photo's points land in it (to carry a face box found in the photo over)."""
    rng = np.random.default_rng(seed)
    if kind == "screen":
        return screen(image, rng, blur)
    if kind == "print":
        return halftone(image, rng, blur)
    if kind in ("phone_border", "paper_border"):
        return bordered(image, rng, kind)
    raise ValueError(f"unknown attack {kind!r}")


def carry(box: tuple[int, int, int, int], m: Affine) -> tuple[int, int, int, int]:
    """The box around *box*'s corners moved by *m*."""
    corners = np.array([[box[0], box[1], 1], [box[2], box[1], 1], [box[0], box[3], 1],
                        [box[2], box[3], 1]], np.float64) @ m.T
    return (int(corners[:, 0].min()), int(corners[:, 1].min()), int(corners[:, 0].max()),
            int(corners[:, 1].max()))
