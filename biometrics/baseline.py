"""face_recognition's default pipeline, the baseline every figure is compared with.

Exactly the library's defaults: ``load_image_file`` (Pillow, RGB, no EXIF rotation),
``face_locations`` with the HOG detector upsampled once, ``face_encodings`` with the 5-point
landmarks and ``num_jitters=1``, raw (unnormalised) descriptors compared by Euclidean distance
against ``compare_faces``' tolerance 0.6. Only benchmarks and the evaluation import this.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import ModelsMissing
from .models import import_face_recognition

DEFAULT_TOLERANCE = 0.6


class DefaultPipeline:
    def __init__(self) -> None:
        try:
            self._fr: Any = import_face_recognition()
        except ImportError as exc:
            raise ModelsMissing("face_recognition (the baseline) is not installed: "
                                "pip install --no-deps face_recognition==1.3.0") from exc

    def locations(self, image: NDArray[np.uint8]) -> list[tuple[int, int, int, int]]:
        return list(self._fr.face_locations(image))

    def encode_file(self, path: str | Path) -> NDArray[np.float64] | None:
        """The raw descriptor of the largest face (the library returns one per face; a caller
        of the library with one person in mind takes the biggest), or None without a face."""
        image = self._fr.load_image_file(str(path))
        return self.encode(image)

    def encode(self, image: NDArray[np.uint8]) -> NDArray[np.float64] | None:
        locations = self.locations(image)
        if not locations:
            return None
        largest = max(locations, key=lambda loc: (loc[2] - loc[0]) * (loc[1] - loc[3]))
        return np.asarray(self._fr.face_encodings(image, [largest])[0], dtype=np.float64)
