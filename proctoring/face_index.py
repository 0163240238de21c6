"""An approximate index of stored faces for the proxy screen at province scale, and its file.

The exact screen (:func:`.proxy_search.screen_faces`) compares every new face with every stored
one: m·N products, and all N stored faces decrypted and held in RAM as float32 (5 GB at 10^7).
This index is faiss ``IndexIVFScalarQuantizer`` (IVF, float16 codes): the stored faces are
split into ``nlist`` cells around k-means centroids; a query visits the ``nprobe`` cells
nearest to it and compares itself with the faces stored there, kept as float16 (256 bytes a
face, 2.6 GB at 10^7). Every face the index returns within the threshold plus a margin is then
**re-ranked exactly** by the caller against its float32 row, so the index decides only which
rows are looked at, never whether a pair is reported. Measured and chosen in
``bench/proxy_search.py``: IVF over float32 rows does not fit 6 GB at 10^7 next to the rest;
8-bit codes learn each dimension's range from the faces present when the index is trained, so
a later face outside it is clipped (a real pair was missed that way in a test); PQ's coarser
distances need a wide margin and far more re-ranking; HNSW cannot remove a purged face and its
build takes hours at 10^7 on 2 cores.

What an approximate index can miss is a pair whose two faces fall in cells the query does not
visit: the benchmark measures that recall against the exact scan of the same run. Such pairs sit
near cell borders, so a stored face whose second-nearest centroid is nearly as close as its
nearest (``IndexParams.spill``) is stored in both cells: a query then finds it from either side
while visiting far fewer cells. The copy's label carries :data:`SPILL_BIT`; :meth:`FaceIndex.
candidates` strips it and keeps each (query, face) once, so the exact re-rank never sees a face
twice and callers never see the bit.

The file (:func:`save` / :func:`load`) holds quantised faces, which are biometric data like the
evidence they come from: it is encrypted and authenticated with AES-256-GCM in chunks, each
bound to the file's header, its position and whether it is the last (so a chunk cannot be
changed, moved, dropped or the file cut short without the tag failing), under a key derived
from the office's own data key. A file that fails any check raises :class:`IndexFileInvalid`;
the caller rebuilds from the database, which stays the source of truth.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from numpy.typing import NDArray

from .errors import ProctoringError

DIM = 128
MAGIC = b"EXDFACEIDX\x00\x01"
MAX_NLIST = 4096
TRAIN_PER_LIST = 39  # faiss's k-means wants at least this many points per centroid
CHUNK = 16 << 20  # plaintext bytes per sealed chunk: bounded memory, whatever the index size
_NONCE = 12
_MAX_HEADER = 1 << 16
SPILL = 0.05  # the product's IndexParams.spill (IndexParams.for_size says why)
ROOM = 16
"""A list sized at once (a fill, a load) gets 1/ROOM of its size (at least MIN_ROOM entries) as
spare room: the faces each later screen adds go there instead of doubling the list
(FaceIndex.reserve). At 10^7, ~0.25 GB; MIN_ROOM costs at most 35 MB at 4096 cells."""
MIN_ROOM = 32
SPILL_BIT = 1 << 62
"""Set in the label of a face's second copy (the one in its second-nearest cell). Caller labels
must stay below it (they are row numbers)."""


class IndexFileInvalid(ProctoringError):
    """The index file cannot be used (missing, altered, another district's, another format):
    the screen rebuilds the index from the database."""

    key = "district.index_invalid"


def _faiss() -> Any:
    # Imported on first use: a centre's desk never loads it.
    import faiss

    return faiss


@dataclass(frozen=True, slots=True)
class IndexParams:
    nlist: int
    nprobe: int
    margin: float  # added to the threshold for the approximate distances (quantiser error)
    gap: float | None = None
    """Adaptive visits (None: always ``nprobe`` cells): a query visits, of its ``nprobe``
    nearest cells, those whose squared centroid distance exceeds the nearest one's by at most
    this much — more cells where they crowd round the query (near a cell's edge, where pairs
    are missed), fewer where one cell clearly holds it (``bench/proxy_probes.py``)."""
    spill: float | None = None
    """Stored faces near a cell border are kept twice (None: once): a face whose squared
    distance to its second-nearest centroid is at most (1 + spill) times that to its nearest is
    also stored in the second cell. Costs memory (a copy is 264 bytes) and finds the pairs
    whose two faces fall in neighbouring cells without visiting more cells a query."""

    @classmethod
    def for_size(cls, n: int) -> IndexParams:
        """Cells ~ 4·sqrt(n) (a power of two, at most 4096, and enough points to train each);
        a query visits 3/256 of them (48 of 4096), at least 48; a stored face whose second
        centroid is within 5 % (squared) of its nearest is kept in both cells (53 % of faces).

        Measured at 10^7 on realistic faces (bench/proxy_search.py --province, README): without
        copies 64 cells a query missed one real proxy pair of 177 and 128 cells (twice the time)
        were needed; copies find the pairs whose two faces straddle a cell border, which is what
        the wide visits were for. bench/proxy_spill.py: with spill 0.05 every one of the 138
        new-vs-stored pairs is found from 32 cells on (48 leaves a margin; at 0.5 nearly every
        face is copied for nothing more: 99.9 % of them, 7.3 GiB peak against the 6 GB limit);
        with 1024 cells (2·10^5 faces) 16 or 32 cells missed one, 48 none.
        fp16 codes: the approximate distances are within 10^-4 of the exact ones, hence the
        small margin."""
        by_size = 1 << max(0, int(math.log2(max(1.0, 4 * math.sqrt(max(n, 1))))))
        nlist = max(1, min(MAX_NLIST, by_size, n // TRAIN_PER_LIST))
        return cls(nlist=nlist, nprobe=min(nlist, max(48, 3 * nlist // 256)), margin=0.002,
                   spill=SPILL if nlist > 1 else None)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where :meth:`FaceIndex.add` puts each row: its nearest cell, and its second-nearest
    cell when it is spilled there (-1: stored once). int16: at most 4096 cells."""

    first: NDArray[np.int16]
    second: NDArray[np.int16]

    def counts(self, nlist: int) -> NDArray[np.int64]:
        """Entries each list receives (copies included)."""
        return (np.bincount(self.first, minlength=nlist)
                + np.bincount(self.second[self.second >= 0], minlength=nlist)).astype(np.int64)


@dataclass(frozen=True, slots=True)
class Candidates:
    """For each query row, the stored labels within threshold + margin (approximate)."""

    queries: NDArray[np.int64]
    labels: NDArray[np.int64]
    approx: NDArray[np.float32]  # approximate distances


class FaceIndex:
    """IVF-SQ8 over unit 128-D rows with int64 labels chosen by the caller."""

    def __init__(self, index: Any, params: IndexParams, trained_on: int,
                 copies: int = 0) -> None:
        self.index = index
        self.params = params
        self.trained_on = trained_on  # rows when it was trained: far more later → retrain
        self.copies = copies  # spilled second copies among index.ntotal (not faces)

    @classmethod
    def train(cls, sample: NDArray[np.float32], params: IndexParams | None = None,
              *, seed: int = 16, total: int | None = None) -> FaceIndex:
        """Cells trained on ``sample`` (at most :meth:`training_rows` of it). ``total``: the
        sample is already ``training_rows(total)`` of a set of that many rows (a streamed
        rebuild decrypts only those): the cells, the sizes and ``trained_on`` are then those of
        a train on the whole set."""
        faiss = _faiss()
        rows = _rows(sample)
        n = len(rows) if total is None else total
        params = params or IndexParams.for_size(n)
        quantizer = faiss.IndexFlatL2(DIM)
        index = faiss.IndexIVFScalarQuantizer(quantizer, DIM, params.nlist,
                                               faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_L2)
        index.cp.seed = seed
        index.cp.niter = 10
        # k-means costs rows × nlist × iterations: 40 rows a cell (faiss asks for 39) is enough
        # to place the cells; which cells a pair falls in is what recall depends on, and the
        # benchmark measures that.
        if total is None:
            pick = cls.training_rows(len(rows), params, seed=seed)
            if pick is not None:
                rows = rows[pick]
        index.train(rows)
        index.nprobe = params.nprobe
        index.make_direct_map(False)
        return cls(index, params, n)

    @staticmethod
    def training_rows(n: int, params: IndexParams, *, seed: int = 16
                      ) -> NDArray[np.int64] | None:
        """The rows of a set of ``n`` that :meth:`train` trains on, ascending (None: all).
        They depend on ``n`` alone, so a rebuild that streams the set can decrypt just these
        and train exactly the cells a train on the whole set gives."""
        cap = max(params.nlist * TRAIN_PER_LIST + params.nlist, 10_000)
        if n <= cap:
            return None
        return np.sort(np.random.default_rng(seed).choice(n, cap, replace=False)).astype(np.int64)

    def __len__(self) -> int:
        """Faces indexed (a spilled face counts once)."""
        return int(self.index.ntotal) - self.copies

    def placement(self, rows: NDArray[np.float32]) -> Placement:
        """The cell (and, for a face near a border, the second cell) each row goes to: one
        coarse search, so that a large fill can size every list before adding (:meth:`reserve`)
        and then add without searching again."""
        x = _rows(rows)
        if self.params.spill is None or self.params.nlist < 2:
            _, cells = self.index.quantizer.search(x, 1)
            return Placement(cells[:, 0].astype(np.int16), np.full(len(x), -1, np.int16))
        dist, cells = self.index.quantizer.search(x, 2)
        near = dist[:, 1] <= (1.0 + self.params.spill) * dist[:, 0]
        return Placement(cells[:, 0].astype(np.int16),
                         np.where(near, cells[:, 1], -1).astype(np.int16))

    def reserve(self, counts: NDArray[np.int64]) -> None:
        """Room for ``counts[l]`` more entries in list ``l`` (and :data:`ROOM`'s spare room
        over that), allocated once.

        Left to themselves the lists grow by doubling (std::vector, one append per 64k-row
        block): at 10^7 (spill 0.05) the peak was 6.15·10^9 bytes for 4.04·10^9 of codes and
        labels; sized once, 4.81·10^9 (bench/proxy_search.py --province, README). A resize
        to the wanted size followed by one back to the current size keeps the capacity, so
        the appends that follow do not reallocate.
        libstdc++ grows a non-empty list to at least twice its size whatever is asked, so a list
        is only sized here when it at least doubles (a fill, an empty list): a small add to a
        large list uses the room left by the fill (a day's check-ins add ~4 entries a list at
        10^7; the room holds ~230)."""
        arrays = self._arrays()
        need = np.asarray(counts, np.int64).reshape(-1)
        if len(need) != self.params.nlist or (need < 0).any():
            raise ValueError(f"one count a list ({self.params.nlist}), none negative")
        for cell in np.flatnonzero(need).tolist():
            size = int(arrays.list_size(cell))
            if need[cell] >= size:
                arrays.resize(cell, _with_room(size + int(need[cell])))
                arrays.resize(cell, size)

    def make_room(self) -> None:
        """Give every list :data:`ROOM`'s spare room, as a fill leaves it (:meth:`reserve`).

        faiss reads a file's lists at their exact sizes, so the first add after a restart
        (each screen adds its faces: nearly every list gets a few) would double nearly every
        list at once — at 10^7, 4 GB more. The codes (256 of an entry's 264 bytes) are moved
        out a list at a time from the last, their vector freed, and written back into one
        allocated with the room; the ids cannot be freed from Python (faiss does not expose
        their vector), so they double once here (8 bytes an entry)."""
        faiss = _faiss()
        arrays = self._arrays()
        nlist, code_size = int(arrays.nlist), int(arrays.code_size)
        held: list[NDArray[np.uint8]] = []
        for cell in reversed(range(nlist)):
            codes = np.empty((int(arrays.list_size(cell)), code_size), np.uint8)
            if len(codes):
                faiss.memcpy(faiss.swig_ptr(codes), arrays.get_codes(cell), codes.nbytes)
            arrays.codes.resize(cell)  # frees this list's codes (the lists after it are gone)
            held.append(codes)
        arrays.codes.resize(nlist)
        held.reverse()
        for cell in range(nlist):
            codes, held[cell] = held[cell], np.empty((0, code_size), np.uint8)
            size = len(codes)
            ids = np.empty(size, np.int64)
            if size:
                faiss.memcpy(faiss.swig_ptr(ids), arrays.get_ids(cell), ids.nbytes)
            arrays.resize(cell, _with_room(size))
            arrays.resize(cell, size)
            if size:
                arrays.update_entries(cell, 0, size, faiss.swig_ptr(ids), faiss.swig_ptr(codes))

    def _arrays(self) -> Any:
        faiss = _faiss()
        return faiss.downcast_InvertedLists(faiss.extract_index_ivf(self.index).invlists)

    def add(self, rows: NDArray[np.float32], labels: NDArray[np.int64],
            placement: Placement | None = None) -> None:
        """Store ``rows`` under ``labels`` (each face in its cell, and a second copy in its
        second cell when near a border). ``placement`` is :meth:`placement` of these rows when
        the caller already has it (a two-pass fill)."""
        x = _rows(rows)
        ids = np.ascontiguousarray(labels, np.int64).reshape(-1)
        if not len(x):
            return
        if len(ids) != len(x) or ids.min() < 0 or ids.max() >= SPILL_BIT:
            raise ValueError(f"labels must be one per row in [0, 2^62): {len(ids)} for {len(x)}")
        where = placement if placement is not None else self.placement(x)
        if len(where.first) != len(x):
            raise ValueError(f"a placement of {len(where.first)} rows for {len(x)} rows")
        self.reserve(where.counts(self.params.nlist))
        faiss = _faiss()
        # add_core stores each entry in the cell we give it (add_with_ids would search the
        # nearest cell again and could not place the second copy).
        first = where.first.astype(np.int64)
        self.index.add_core(len(x), faiss.swig_ptr(x), faiss.swig_ptr(ids),
                            faiss.swig_ptr(first))
        near = where.second >= 0
        k = int(near.sum())
        if k:
            xs = np.ascontiguousarray(x[near])
            spilled = np.ascontiguousarray(ids[near] | SPILL_BIT)
            second = where.second[near].astype(np.int64)
            self.index.add_core(k, faiss.swig_ptr(xs), faiss.swig_ptr(spilled),
                                faiss.swig_ptr(second))
            self.copies += k

    def remove(self, labels: NDArray[np.int64]) -> int:
        """Remove these faces (and their spilled copies); returns the faces removed."""
        if not len(labels):
            return 0
        faiss = _faiss()
        ids = np.ascontiguousarray(labels, np.int64)
        sel = faiss.IDSelectorBatch(ids)
        removed = int(self.index.remove_ids(sel))
        if self.copies:
            copies = int(self.index.remove_ids(
                faiss.IDSelectorBatch(np.ascontiguousarray(ids | SPILL_BIT))))
            self.copies -= copies
        return removed

    def candidates(self, queries: NDArray[np.float32], threshold: float) -> Candidates:
        """Every stored row whose approximate distance to a query is within threshold +
        margin (faiss range search in squared L2; both cores through faiss's OpenMP)."""
        q = _rows(queries)
        if not len(q) or not len(self):
            empty = np.zeros(0, np.int64)
            return Candidates(empty, empty, np.zeros(0, np.float32))
        radius = (threshold + self.params.margin) ** 2
        if self.params.gap is None or self.params.nlist == 1:
            lims, dist, labels = self.index.range_search(q, radius)
        else:
            coarse, cells = self.index.quantizer.search(q, self.params.nprobe)
            cells[coarse - coarse[:, :1] > self.params.gap] = -1  # -1: not visited
            self.index.nprobe = cells.shape[1]  # faiss checks the lists' width against it
            lims, dist, labels = self.index.range_search_preassigned(q, radius, cells, coarse)
        queries_of = np.repeat(np.arange(len(q), dtype=np.int64), np.diff(lims.astype(np.int64)))
        labels = labels.astype(np.int64)
        approx = np.sqrt(np.maximum(dist, 0)).astype(np.float32)
        if self.copies:
            queries_of, labels, approx = _once(queries_of, labels, approx)
        return Candidates(queries_of, labels, approx)

    def header(self) -> dict[str, Any]:
        return {"nlist": self.params.nlist, "nprobe": self.params.nprobe, "gap": self.params.gap,
                "spill": self.params.spill, "margin": self.params.margin,
                "trained_on": self.trained_on, "ntotal": int(self.index.ntotal),
                "copies": self.copies}


def _with_room(entries: int) -> int:
    return entries + max(entries // ROOM, MIN_ROOM)


def _once(queries: NDArray[np.int64], labels: NDArray[np.int64], approx: NDArray[np.float32]
          ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]]:
    """Spilled copies back to their face's label, each (query, face) once (its nearer
    approximate distance): a query visiting both cells of a spilled face meets it twice."""
    spilled = (labels & SPILL_BIT) != 0
    if not spilled.any():
        return queries, labels, approx
    labels = labels & ~SPILL_BIT
    order = np.lexsort((approx, labels, queries))
    q, lab = queries[order], labels[order]
    first = np.ones(len(order), bool)
    first[1:] = (q[1:] != q[:-1]) | (lab[1:] != lab[:-1])
    keep = np.sort(order[first])  # back in the order faiss gave (by query)
    return queries[keep], labels[keep], approx[keep]


def exact_pairs(queries: NDArray[np.float32], found: Candidates,
                rows_of: Callable[[NDArray[np.int64]], NDArray[np.float32]],
                threshold: float) -> list[tuple[int, int, float]]:
    """Re-rank candidates exactly: (query row, label, float32 distance) within ``threshold``.
    ``rows_of(labels)`` gives the stored float32 rows of these labels (the database, or the
    benchmark's array)."""
    if not len(found.labels):
        return []
    unique, inverse = np.unique(found.labels, return_inverse=True)
    stored = _rows(rows_of(unique))
    q = _rows(queries)
    dots = np.einsum("ij,ij->i", q[found.queries], stored[inverse], dtype=np.float32)
    d = np.sqrt(np.clip(2.0 - 2.0 * dots.astype(np.float64), 0.0, None))
    keep = np.flatnonzero(d <= threshold)
    return [(int(found.queries[i]), int(found.labels[i]), float(d[i])) for i in keep]


def _rows(x: NDArray[np.floating]) -> NDArray[np.float32]:
    return np.ascontiguousarray(np.asarray(x, np.float32).reshape(-1, DIM))


# --- the file -----------------------------------------------------------------------------------


def file_key(secret: bytes, district_id: str) -> bytes:
    """The index file's key: derived from the office's own data key, for this purpose and this
    district only (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"examdesk face index v1\x00" + district_id.encode()).derive(secret)


def save(path: Path, index: FaceIndex, manifest: bytes, key: bytes,
         meta: dict[str, Any]) -> None:
    """Write ``manifest`` (the caller's label table) and the index, sealed, to ``path``
    atomically (a temporary file renamed over it: a crash leaves the old file or the new)."""
    faiss = _faiss()
    header = json.dumps({**meta, **index.header(), "manifest_bytes": len(manifest)},
                        sort_keys=True).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(MAGIC + struct.pack("<I", len(header)) + header)
        sink = _SealedWriter(f, key, MAGIC + header)
        sink.write(manifest)
        faiss.write_index(index.index, faiss.PyCallbackIOWriter(sink.write))
        sink.close()
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(path: Path, key: bytes) -> tuple[FaceIndex, bytes, dict[str, Any]]:
    """(index, manifest, header) from a file :func:`save` wrote with this key; anything else
    (missing, cut short, altered, another key) raises :class:`IndexFileInvalid`."""
    faiss = _faiss()
    try:
        f = open(path, "rb")  # closed below (with f:); errors become IndexFileInvalid
    except OSError as exc:
        raise IndexFileInvalid(f"{path}: {exc.strerror}", path=str(path)) from None
    with f:
        start = f.read(len(MAGIC) + 4)
        if len(start) != len(MAGIC) + 4 or not start.startswith(MAGIC):
            raise IndexFileInvalid(f"{path} is not an examdesk face index", path=str(path))
        (size,) = struct.unpack("<I", start[len(MAGIC):])
        if size > _MAX_HEADER:
            raise IndexFileInvalid(f"{path}: header of {size} bytes", path=str(path))
        header_bytes = f.read(size)
        try:
            header = json.loads(header_bytes)
            manifest_bytes = int(header["manifest_bytes"])
            gap, spill = header.get("gap"), header.get("spill")
            params = IndexParams(int(header["nlist"]), int(header["nprobe"]),
                                 float(header["margin"]), None if gap is None else float(gap),
                                 None if spill is None else float(spill))
            trained_on, ntotal = int(header["trained_on"]), int(header["ntotal"])
            copies = int(header.get("copies", 0))
            if not 0 <= copies <= ntotal:
                raise ValueError(f"{copies} copies of {ntotal} entries")
        except (ValueError, KeyError, TypeError) as exc:
            raise IndexFileInvalid(f"{path}: header unreadable ({exc})", path=str(path)) from None
        source = _SealedReader(f, key, MAGIC + header_bytes, str(path))
        manifest = source.read(manifest_bytes)
        if len(manifest) != manifest_bytes:
            raise IndexFileInvalid(f"{path}: cut short", path=str(path))
        try:
            raw = faiss.read_index(faiss.PyCallbackIOReader(source.read))
        except IndexFileInvalid:
            raise
        except RuntimeError as exc:  # faiss's own format checks (after the tags passed)
            raise IndexFileInvalid(f"{path}: {exc}", path=str(path)) from None
        source.finish()
    if not isinstance(raw, faiss.IndexIVFScalarQuantizer) or raw.d != DIM \
            or raw.ntotal != ntotal or raw.nlist != params.nlist:
        raise IndexFileInvalid(f"{path}: not the index its header describes", path=str(path))
    raw.nprobe = params.nprobe
    raw.make_direct_map(False)
    loaded = FaceIndex(raw, params, trained_on, copies)
    loaded.make_room()
    return loaded, manifest, header


class _SealedWriter:
    def __init__(self, f: IO[bytes], key: bytes, header: bytes) -> None:
        self._f, self._aead, self._header = f, AESGCM(key), header
        self._buf = io.BytesIO()
        self._n = 0

    def write(self, data: bytes) -> int:
        self._buf.write(data)
        if self._buf.tell() >= CHUNK:
            self._flush(last=False)
        return len(data)

    def _flush(self, last: bool) -> None:
        plain = self._buf.getvalue()
        self._buf = io.BytesIO()
        nonce = os.urandom(_NONCE)
        ct = self._aead.encrypt(nonce, plain, _aad(self._header, self._n, last))
        self._f.write(struct.pack("<Q", len(ct)) + nonce + ct)
        self._n += 1

    def close(self) -> None:
        self._flush(last=True)


class _SealedReader:
    def __init__(self, f: IO[bytes], key: bytes, header: bytes, name: str) -> None:
        self._f, self._aead, self._header, self._name = f, AESGCM(key), header, name
        self._buf = b""
        self._pos = 0
        self._n = 0
        self._last = False

    def _next(self) -> None:
        if self._last:
            raise IndexFileInvalid(f"{self._name}: data past its end", path=self._name)
        start = self._f.read(8 + _NONCE)
        if len(start) != 8 + _NONCE:
            raise IndexFileInvalid(f"{self._name}: cut short", path=self._name)
        (size,) = struct.unpack("<Q", start[:8])
        if size > CHUNK + 16 + (1 << 20):  # a faiss write may overshoot CHUNK by its own buffer
            raise IndexFileInvalid(f"{self._name}: chunk of {size} bytes", path=self._name)
        ct = self._f.read(size)
        for last in (False, True):
            try:
                plain = self._aead.decrypt(start[8:], ct, _aad(self._header, self._n, last))
            except InvalidTag:
                continue
            self._buf, self._pos, self._last = plain, 0, last
            self._n += 1
            return
        raise IndexFileInvalid(f"{self._name}: chunk {self._n} altered or from another key",
                               path=self._name)

    def read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            if self._pos >= len(self._buf):
                if self._last:
                    break
                self._next()
                continue
            take = self._buf[self._pos:self._pos + n - len(out)]
            self._pos += len(take)
            out += take
        return bytes(out)

    def finish(self) -> None:
        """Everything read: the last chunk was the one marked last, and nothing follows."""
        if self._pos < len(self._buf) or not self._last or self._f.read(1):
            raise IndexFileInvalid(f"{self._name}: not where it should end", path=self._name)


def _aad(header: bytes, n: int, last: bool) -> bytes:
    return header + struct.pack("<QB", n, 1 if last else 0)
