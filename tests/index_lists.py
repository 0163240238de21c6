"""What a face index's inverted lists hold, read through faiss (tests compare entries and their
order across fills, restarts and rebuilds)."""

from __future__ import annotations

import numpy as np

from proctoring.face_index import FaceIndex


def stored_lists(index: FaceIndex) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every list's ids and codes, in their stored order."""
    import faiss

    arrays = index._arrays()
    out = []
    for cell in range(index.params.nlist):
        size = int(arrays.list_size(cell))
        ids = np.empty(size, np.int64)
        codes = np.empty((size, int(arrays.code_size)), np.uint8)
        if size:
            faiss.memcpy(faiss.swig_ptr(ids), arrays.get_ids(cell), ids.nbytes)
            faiss.memcpy(faiss.swig_ptr(codes), arrays.get_codes(cell), codes.nbytes)
        out.append((ids, codes))
    return out
