"""Search many enrolled faces at once: 1:N search, 1:1 verify, N:N duplicate detection.

Descriptors are stored as the conventions say: float32, L2-normalised, (n, 128), C-contiguous.
For unit vectors the Euclidean distance is a function of the dot product,
``d = sqrt(2 − 2·a·b)``, and it is monotone: the nearest neighbours by distance are those with
the largest dot products. So every scan is a matrix product (BLAS sgemv / sgemm, memory-bound
for one query) and distances are computed only for the few rows that are returned. Thresholds
stay in distance units (what calibration produces) and are turned into dot products once.

int8 storage (a quarter of the bytes, with exact float32 re-ranking) was measured in
``bench/matcher.py`` and is not used: numpy has no int8 BLAS, and widening int8 blocks to
float32 costs more than the memory traffic it saves (see the benchmark's output).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

DIM = 128
UNIT_TOLERANCE = 1e-3

# Row blocks for 1:N with many queries and for N:N: a 2048 × 2048 float32 product is 16 MiB,
# which stays in this class of machine's L3 cache while BLAS computes the next one.
BLOCK = 2048


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    index: int
    distance: float


@dataclass(frozen=True, slots=True)
class DuplicatePair:
    a: int
    b: int
    distance: float


@dataclass(frozen=True, slots=True)
class Duplicates:
    pairs: list[DuplicatePair]
    """Every pair i < j at or below the threshold, sorted by distance."""
    block_bytes: int
    """Working memory of the scan beyond the gallery itself (a product block and a mask for
    each of its workers)."""


def dot_threshold(distance: float) -> float:
    """The dot product that corresponds to a distance between unit vectors."""
    return 1.0 - distance * distance / 2.0


def to_distance(dots: NDArray[np.floating]) -> NDArray[np.float64]:
    return np.sqrt(np.clip(2.0 - 2.0 * np.asarray(dots, dtype=np.float64), 0.0, None))


def as_embeddings(
        vectors: NDArray[np.floating] | Sequence[NDArray[np.floating]]) -> NDArray[np.float32]:
    """Check and convert to (n, 128) float32 C-contiguous unit rows (ValueError otherwise)."""
    x = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(-1, DIM))
    if len(x):
        norms = np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float64))
        if not np.all(np.abs(norms - 1.0) <= UNIT_TOLERANCE):
            worst = float(norms[np.argmax(np.abs(norms - 1.0))])
            raise ValueError(f"embeddings must be L2-normalised (found a norm of {worst:.4f}); "
                             "use biometrics.engine.unit()")
    return x


class Gallery:
    """Enrolled descriptors with their ids."""

    def __init__(self, ids: Sequence[str] = (),
                 embeddings: NDArray[np.floating] | None = None) -> None:
        x = as_embeddings(embeddings if embeddings is not None else np.zeros((0, DIM)))
        if len(ids) != len(x):
            raise ValueError(f"{len(ids)} ids for {len(x)} embeddings")
        self._ids = list(ids)
        self._x = x
        self._index = {name: i for i, name in enumerate(self._ids)}
        if len(self._index) != len(self._ids):
            raise ValueError("ids must be unique")

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> list[str]:
        return list(self._ids)

    @property
    def embeddings(self) -> NDArray[np.float32]:
        """The stored matrix (read-only view)."""
        view = self._x.view()
        view.flags.writeable = False
        return view

    @property
    def nbytes(self) -> int:
        """Memory held by the descriptors (ids not counted)."""
        return int(self._x.nbytes)

    def add(self, ids: Sequence[str], embeddings: NDArray[np.floating]) -> None:
        x = as_embeddings(embeddings)
        if len(ids) != len(x):
            raise ValueError(f"{len(ids)} ids for {len(x)} embeddings")
        clash = [i for i in ids if i in self._index]
        if clash or len(set(ids)) != len(ids):
            raise ValueError(f"ids already enrolled or repeated: {clash[:3]}")
        start = len(self._ids)
        self._x = np.ascontiguousarray(np.concatenate([self._x, x]))
        self._ids.extend(ids)
        self._index.update({name: start + k for k, name in enumerate(ids)})

    def vector(self, id_: str) -> NDArray[np.float32]:
        return self._x[self._index[id_]]

    # --- 1:1 ---------------------------------------------------------------------------------

    def verify(self, a: str | NDArray[np.floating], b: str | NDArray[np.floating]) -> float:
        """Distance between two enrolled ids or descriptors."""
        va = self.vector(a) if isinstance(a, str) else as_embeddings(a)[0]
        vb = self.vector(b) if isinstance(b, str) else as_embeddings(b)[0]
        return float(to_distance(np.dot(va.astype(np.float64), vb.astype(np.float64))))

    # --- 1:N ---------------------------------------------------------------------------------

    def search(self, query: NDArray[np.floating], k: int = 5) -> list[Hit]:
        """The *k* nearest enrolled faces to one descriptor, nearest first."""
        return self.search_many(as_embeddings(query)[:1], k)[0]

    def search_many(self, queries: NDArray[np.floating], k: int = 5) -> list[list[Hit]]:
        q = as_embeddings(queries)
        n = len(self._x)
        k = min(k, n)
        if k <= 0:
            return [[] for _ in range(len(q))]
        if len(q) == 1:
            # One sgemv over the whole matrix: the scan reads each byte once, at memory speed.
            dots = self._x @ q[0]
            return [self._top(dots, k)]
        results: list[list[Hit]] = []
        for start in range(0, len(q), BLOCK):
            block = q[start:start + BLOCK]
            best_dots, best_idx = _blocked_topk(self._x, block, k)
            results.extend(self._hits(best_idx[r], best_dots[r]) for r in range(len(block)))
        return results

    def _top(self, dots: NDArray[np.float32], k: int) -> list[Hit]:
        idx = top_k(dots, k)
        return self._hits(idx, dots[idx])

    def _hits(self, idx: NDArray[np.intp], dots: NDArray[np.float32]) -> list[Hit]:
        dist = to_distance(dots)
        return [Hit(self._ids[int(i)], int(i), float(d)) for i, d in zip(idx, dist, strict=True)]

    # --- N:N ---------------------------------------------------------------------------------

    def duplicates(self, threshold: float, *, block: int = BLOCK,
                   rows: tuple[int, int] | None = None,
                   workers: int | None = None) -> Duplicates:
        """All pairs of enrolled faces within *threshold* (distance): the same person enrolled
        twice under two ids, or two ids sharing one face (a proxy registering twice).

        ``rows=(start, stop)`` limits the scan to pairs (i, j) with start ≤ i < stop (and
        i < j), to split a large gallery's scan between processes or over time.

        ``workers`` scans (default: one a core) take blocks from one queue, each with a
        single-threaded BLAS. One multi-threaded sgemm a block instead leaves a core idle while
        the threshold check (single-threaded numpy) runs, and its threads meet at a barrier at
        every block, which on a machine shared with other work waits for the slowest core:
        measured at 10^5 (bench/proxy_search.py), a third less CPU and wall time."""
        c = np.float32(dot_threshold(threshold))
        n = len(self._x)
        start, stop = rows if rows is not None else (0, n)
        blocks = list(_upper_blocks(n, block, max(0, start), min(n, stop)))
        k = max(1, min(workers if workers is not None else os.cpu_count() or 1, len(blocks)))
        queue = iter(blocks)
        lock = threading.Lock()

        def take() -> tuple[int, int, int, int] | None:
            with lock:
                return next(queue, None)

        if k == 1:  # one block or one worker: BLAS may use every core on it
            parts = [_scan_blocks(self._x, take, c, block)]
        else:
            # Process-wide while the scan runs (threadpoolctl has no per-thread limit); the
            # workers are the parallelism meanwhile.
            with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(k) as pool:
                parts = list(pool.map(lambda _: _scan_blocks(self._x, take, c, block),
                                      range(k)))
        working = k * block * block * (4 + 1)  # each worker's product block and mask
        found = [p for part in parts for p in part]
        if not found:
            return Duplicates([], working)
        a = np.concatenate([f[0] for f in found])
        b = np.concatenate([f[1] for f in found])
        d = to_distance(np.concatenate([f[2] for f in found]))
        order = np.lexsort((b, a, d))  # the blocks finish in any order: sort fully
        pairs = [DuplicatePair(int(a[o]), int(b[o]), float(d[o])) for o in order]
        return Duplicates(pairs, working)


def _scan_blocks(x: NDArray[np.float32],
                 take: Callable[[], tuple[int, int, int, int] | None], c: np.float32,
                 block: int) -> list[tuple[NDArray[np.intp], NDArray[np.intp],
                                           NDArray[np.float32]]]:
    """Pairs at or above dot product ``c`` in the blocks ``take`` hands out, until it gives
    None: (rows, columns, dot products) per block that holds any."""
    product = np.empty((block, block), np.float32)
    mask = np.empty((block, block), bool)
    out = []
    while (item := take()) is not None:
        r0, c0, height, width = item
        g = product[:height, :width]
        np.matmul(x[r0:r0 + height], x[c0:c0 + width].T, out=g)
        diagonal = c0 < r0 + height
        if not diagonal and g.max() < c:
            # Nearly every block of a real gallery holds no pair: one max-reduction
            # (0.3 ms) instead of a mask and a nonzero scan (7 ms for 2048 × 2048).
            continue
        m = mask[:height, :width]
        np.greater_equal(g, c, out=m)
        if diagonal:  # keep i < j: no self-pairs, no pair twice
            m &= np.arange(c0, c0 + width)[None, :] > np.arange(r0, r0 + height)[:, None]
        ii, jj = np.nonzero(m)
        if len(ii):
            out.append((ii + r0, jj + c0, g[ii, jj].copy()))
    return out


def top_k(values: NDArray[np.float32], k: int, width: int = 1024) -> NDArray[np.intp]:
    """Indices of the *k* largest values, largest first; exact, and ~10× faster than one
    argpartition over a million values.

    View the values as rows of *width*; a row holding one of the k largest values has a
    row maximum at least as large as the k-th largest value, and at most k rows can, so the
    k rows with the largest maxima (plus any tied with the last of them) hold all the winners.
    The row maxima are one vectorised pass; the selection then looks at k × width values.
    """
    n = len(values)
    if n <= 4 * width or k * 4 > n // width:
        idx = np.argpartition(values, n - k)[n - k:]
        return idx[np.argsort(-values[idx], kind="stable")]
    rows = n // width
    body = values[: rows * width].reshape(rows, width)
    maxima = body.max(axis=1)
    cut = np.partition(maxima, rows - k)[rows - k]
    chosen = np.flatnonzero(maxima >= cut)
    candidates = (chosen[:, None] * width + np.arange(width)).ravel()
    tail = np.arange(rows * width, n)  # the last partial row, always examined
    candidates = np.concatenate([candidates, tail])
    sub = values[candidates]
    pick = np.argpartition(sub, len(sub) - k)[len(sub) - k:]
    idx = candidates[pick]
    return idx[np.argsort(-values[idx], kind="stable")]


def _upper_blocks(n: int, block: int, start: int,
                  stop: int) -> Iterator[tuple[int, int, int, int]]:
    """(row0, col0, height, width) of the blocks that hold pairs i < j, for rows start..stop."""
    for r0 in range(start, stop, block):
        height = min(block, stop - r0)
        for c0 in range(r0, n, block):
            yield r0, c0, height, min(block, n - c0)


def _blocked_topk(x: NDArray[np.float32], q: NDArray[np.float32],
                  k: int) -> tuple[NDArray[np.float32], NDArray[np.intp]]:
    """Top-k dot products of each query, over row blocks of x (one sgemm per block, then an
    exact top-k per query and block, merged at the end)."""
    m = len(q)
    # Keep each (m, rows) product near 16 MiB, inside the L3 cache.
    rows_per_block = max(k, (4 << 20) // max(1, m))
    cand_idx: list[list[NDArray[np.intp]]] = [[] for _ in range(m)]
    cand_dots: list[list[NDArray[np.float32]]] = [[] for _ in range(m)]
    for start in range(0, len(x), rows_per_block):
        g = q @ x[start:start + rows_per_block].T  # (m, rows)
        kk = min(k, g.shape[1])
        for r in range(m):
            idx = top_k(g[r], kk)
            cand_idx[r].append(idx + start)
            cand_dots[r].append(g[r, idx])
    best_dots = np.empty((m, k), np.float32)
    best_idx = np.empty((m, k), np.intp)
    for r in range(m):
        dots = np.concatenate(cand_dots[r])
        idx = np.concatenate(cand_idx[r])
        order = np.argsort(-dots, kind="stable")[:k]
        best_dots[r], best_idx[r] = dots[order], idx[order]
    return best_dots, best_idx
