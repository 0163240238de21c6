"""The check-in's face comparison with the site's second model fused in (see
:mod:`.onnx_embedder`).

Active only once the site has installed the model (pinned hash) *and* fitted the fusion with
``examdesk face fuse … --save``, which stores the normalisation and the fused operating point
(in fused-score units) in the ``face_embedder`` section. Until then the check-in decides on
dlib's distance alone, as before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .config import OperatingPoint
from .decision import Verification, decide, distance
from .engine import unit
from .onnx_embedder import EmbedderSettingsInvalid, EmbedderSpec, Fusion, OnnxEmbedder


@dataclass(frozen=True)
class SecondModel:
    embedder: OnnxEmbedder
    fusion: Fusion
    point: OperatingPoint
    """Thresholds on the fused score, fitted by ``face fuse``."""

    @classmethod
    def from_settings(cls, section: dict[str, Any] | None) -> SecondModel | None:
        """The fused check the ``face_embedder`` section describes, or None (no model, or not
        yet fitted). A model whose hash is not the pinned one raises
        :class:`~.onnx_embedder.EmbedderHashMismatch`: the desk stops with that message rather
        than checking candidates with something other than what the site verified."""
        spec = EmbedderSpec.from_dict(section)
        if spec is None or spec.fusion is None or not section or not section.get(
                "operating_point"):
            return None
        known = {f.name for f in dataclasses.fields(OperatingPoint)}
        try:
            point = OperatingPoint(**{k: v for k, v in section["operating_point"].items()
                                      if k in known})
            float(point.threshold)
        except (TypeError, ValueError, AttributeError) as exc:
            raise EmbedderSettingsInvalid(f"operating_point: {exc}",
                                          field="operating_point") from exc
        return cls(OnnxEmbedder(spec), spec.fusion, point)

    def verify(self, dlib_distance: float, chip: NDArray[np.float32],
               live: Sequence[NDArray[np.float32]]) -> Verification:
        """The decision on the fused score: dlib's distance with the second model's distance
        between the chip portrait and the (fused) live captures."""
        if not live:
            raise ValueError("no live capture for the second model")
        probe = live[0] if len(live) == 1 else unit(np.mean(np.asarray(live, np.float64),
                                                            axis=0))
        score = float(self.fusion.score(dlib_distance, distance(chip, probe)))
        return Verification(decide(score, self.point), score, score <= self.point.threshold,
                            self.point, len(live), score=score, method="fused")
