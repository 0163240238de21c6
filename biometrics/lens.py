"""Is the camera's lens covered? Told from the frame itself, not from the faces in it.

An empty chair and a covered lens both show no face, but not the same picture: an empty chair
still shows a room (a chair back, a wall edge, a desk: shapes with edges), a hand, tape or a
lens cap over the lens shows almost nothing — a near-uniform frame, dark or flat, at most a
soft glow. So the frame is reduced to a small grey picture, each cell the mean of a 20×20 box
(sensor noise, strong in the dark, averages away; the room's edges stay), and the strongest
edges in it are measured: ``edges``, the 99th percentile of the absolute difference between
neighbouring cells (grey levels). A room has some sharp edge somewhere (a few cells are
enough); a covered lens has none. The lens is covered when ``edges`` is below
:attr:`CoverRule.max_edges`. Dimming the room divides ``edges`` by the dimming factor, but a
room lit enough for a webcam to show a face (auto-exposure helps) keeps it far above a covered
lens; only a near-black frame (a mean grey level of about 4 in 255) comes as low.

The limit was set from real photos (``../shared/faces``, at full light and dimmed to a third
and a sixth, each also as an empty chair: the photo's lower part) against synthetic covered
frames (black, dark with heavy noise, flat grey, a blurred glow, a flat hand colour), on one
half of the photos, and measured on the other: ``bench/lens_cover.py`` prints the error rates
(README, "An online-exam room"). ``mean`` and ``spread`` are kept for the evidence (details).

Pure numpy + Pillow, a few milliseconds a 1280×720 frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .images import RgbImage

# The reduced picture: 1280×720 → 64×36 (a 20×20 box per cell).
CELLS_ACROSS = 64


@dataclass(frozen=True)
class LensReading:
    mean: float  # mean grey level, 0..255
    spread: float  # standard deviation of the cells' grey levels
    edges: float  # 99th percentile of |difference| between neighbouring cells


@dataclass(frozen=True)
class CoverRule:
    """Covered: ``edges`` below ``max_edges`` (grey levels of the reduced picture). Set by
    ``bench/lens_cover.py`` on its calibration half (see the module's text)."""

    max_edges: float = 2.77

    def covered(self, reading: LensReading) -> bool:
        return reading.edges < self.max_edges


def read_lens(image: RgbImage) -> LensReading:
    """The frame's light and strongest edges on its reduced grey picture."""
    grey = np.asarray(Image.fromarray(np.ascontiguousarray(image)).convert("L"), np.float32)
    box = max(1, grey.shape[1] // CELLS_ACROSS)
    h, w = grey.shape[0] // box * box, grey.shape[1] // box * box
    if h == 0 or w == 0:
        return LensReading(0.0, 0.0, 0.0)
    cells = grey[:h, :w].reshape(h // box, box, w // box, box).mean(axis=(1, 3))
    steps = np.concatenate([np.abs(np.diff(cells, axis=1)).ravel(),
                            np.abs(np.diff(cells, axis=0)).ravel()])
    edges = float(np.percentile(steps, 99)) if steps.size else 0.0
    return LensReading(float(cells.mean()), float(cells.std()), edges)


def lens_covered(image: RgbImage, rule: CoverRule | None = None) -> bool:
    return (rule or CoverRule()).covered(read_lens(image))
