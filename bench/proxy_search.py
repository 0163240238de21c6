"""District proxy screen: a new day's check-ins against every stored face, and a full all-pairs
screen, against face_recognition.face_distance in a loop.

Random unit vectors (float32, 128-D) stand for descriptors: the time does not depend on what
they mean, and random 128-D vectors are never within the threshold of each other, so the few
pairs planted on purpose (noisy copies, new-vs-stored and new-vs-new) are exactly what must be
found — both sides are checked against them.

- **incremental** (what the office runs each day): ``proctoring.proxy_search.screen_faces``,
  m new rows against N stored ones: the matcher's blocked all-pairs scan restricted to the new
  rows' stripe (m·(N+m) products). Baseline: for each new face, ``face_distance`` against every
  later row (the same pairs), timed on a sample of new faces and extrapolated to m.
- **all-pairs** at N (a first screen, or a re-screen with a new threshold): the same function
  with nothing stored; baseline ``face_distance`` of each row against the rows after it, timed
  on evenly spread rows and extrapolated.
- for scale, what screening *everything* again every day would cost at N + m (extrapolated
  from the all-pairs figure, n² / 2 pairs), and the AES-GCM cost of decrypting a million stored
  embeddings (what a stateless screen pays to load them; measured on a sample).

- **the face index** (issue 16, :mod:`proctoring.face_index`) on realistic faces: a Gaussian
  fitted to the live encodings of ../shared/faces (``--sets``, encodings kept in ``--cache``),
  with proxy pairs planted from two real photos of one person. At 10^6 (10^5 with --quick): a
  day's screen, one 1:N query and all pairs at 10^5, index against exact, recall against the
  exact pairs of the same data, and the copy bandwidth that bounds an exact 1:N query.
- ``--province``: the 10^7 mode (``--stored``, ``--new``): the stored faces are written to a
  file in ``--workdir`` (5 GB at 10^7) and read in blocks; the index is trained and filled
  from it, screens the new faces (wall and CPU seconds), and is compared with the exact scan of
  the same run, streamed block by block over every row (``--exact-full``) or over 10^6 rows
  and extrapolated (the default, said in the output); recall of the planted pairs within the
  threshold (checked exactly, each one), recall of all exact pairs in the measured part, peak
  RSS (after the build, after the screen, and after the day's faces are added to the index as
  each screen does) and resident bytes per stage. The index is filled in two passes (every
  row's cells, each list sized once, then the rows): see ``FaceIndex.reserve``. Run it alone:
  it takes ~20 minutes on 2 cores.

    .venv/bin/python bench/proxy_search.py [--quick] [--reps 3] [--cache DIR]
    .venv/bin/python bench/proxy_search.py --province [--stored 10000000] [--new 10000]

Prints one line per figure, then one JSON line: metric, unit, ours, baseline, ratio, results.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from biometrics.models import import_face_recognition
from proctoring.crypto import DataKey
from proctoring.proxy_search import DEFAULT_THRESHOLD, screen_faces


def unit_rows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.empty((n, 128), np.float32)
    for start in range(0, n, 1 << 16):  # in chunks: no 1 GB float64 temporary at 10^6
        block = rng.standard_normal((min(1 << 16, n - start), 128), dtype=np.float32)
        x[start:start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return x


def near(v: np.ndarray, rng: np.random.Generator, noise: float = 0.01) -> np.ndarray:
    """The same face again: a small random step away, back on the unit sphere."""
    w = v + noise * rng.standard_normal(128).astype(np.float32)
    return (w / np.linalg.norm(w)).astype(np.float32)


def plant(new: np.ndarray, stored: np.ndarray, seed: int) -> set[tuple[int, int]]:
    """Copies of stored faces among the new ones, and a few new faces twice; returns the pairs
    as (new row, gallery row) with the gallery = [new; stored]."""
    rng = np.random.default_rng(seed)
    m, n = len(new), len(stored)
    pairs: set[tuple[int, int]] = set()
    rows = rng.choice(m, size=min(12, m // 2), replace=False)
    for k, i in enumerate(rows):
        if k % 3 == 2 or n == 0:  # new vs new: a later new row gets the same face
            j = int(rng.integers(i + 1, m)) if i + 1 < m else None
            if j is None or any(j in p or i in p for p in pairs):
                continue
            new[j] = near(new[i], rng)
            pairs.add((int(i), j))
        else:
            s = int(rng.integers(0, n))
            new[i] = near(stored[s], rng)
            pairs.add((int(i), m + s))
    return pairs


def timed(fn: Any, reps: int) -> tuple[float, Any]:
    """Median seconds over reps (one untimed warm-up when reps > 1), and the last result."""
    if reps > 1:
        fn()
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def baseline_rows(fr: Any, gallery: np.ndarray, rows: np.ndarray,
                  threshold: float) -> tuple[float, set[tuple[int, int]]]:
    """face_distance of each sampled row against every later gallery row: seconds per row."""
    found: set[tuple[int, int]] = set()
    t0 = time.perf_counter()
    for i in rows:
        d = fr.face_distance(gallery[i + 1:], gallery[i])
        found.update((int(i), int(i + 1 + j)) for j in np.flatnonzero(d <= threshold))
    return (time.perf_counter() - t0) / len(rows), found


def bench_incremental(m: int, n: int, reps: int, sample: int, fr: Any,
                      threshold: float) -> dict[str, Any]:
    stored = unit_rows(n, seed=1)
    new = unit_rows(m, seed=2)
    planted = plant(new, stored, seed=3)
    ours, found = timed(lambda: screen_faces(new, stored, threshold), reps)
    assert {(p.new, p.other) for p in found} == planted, "ours missed or invented a pair"
    gallery = np.concatenate([new, stored])
    planted_rows = sorted({i for i, _ in planted})
    spread = np.linspace(0, m - 1, sample).round().astype(int)
    rows = np.unique(np.concatenate([spread, planted_rows[:4]]))
    per_row, base_found = baseline_rows(fr, gallery, rows, threshold)
    assert base_found == {p for p in planted if p[0] in set(rows.tolist())}
    base = per_row * m
    return {"figure": "incremental", "new": m, "stored": n, "pairs_compared": m * n + m * (m - 1)
            // 2, "ours_s": round(ours, 3), "baseline_s_extrapolated": round(base, 1),
            "baseline_rows_timed": len(rows), "ratio": round(base / ours, 1),
            "found": len(found), "planted": len(planted), "threshold": threshold}


def bench_all_pairs(n: int, reps: int, sample: int, fr: Any, threshold: float) -> dict[str, Any]:
    x = unit_rows(n, seed=4)
    planted = plant(x, np.zeros((0, 128), np.float32), seed=5)
    cpu0 = cpu_seconds()
    ours, found = timed(lambda: screen_faces(x, x[:0], threshold), reps)
    ours_cpu = (cpu_seconds() - cpu0) / (reps + (reps > 1))
    assert {(p.new, p.other) for p in found} == planted
    floor = products_floor(x)
    rows = np.unique(np.concatenate([np.linspace(0, n - 2, sample).round().astype(int),
                                     sorted(i for i, _ in planted)[:4]]))
    # Rows near the top compare with more later rows: weigh by the rows after each.
    t0 = time.perf_counter()
    base_found: set[tuple[int, int]] = set()
    work = 0
    for i in rows:
        d = fr.face_distance(x[i + 1:], x[i])
        work += n - 1 - i
        base_found.update((int(i), int(i + 1 + j)) for j in np.flatnonzero(d <= threshold))
    per_pair = (time.perf_counter() - t0) / max(1, work)
    assert base_found == {p for p in planted if p[0] in set(rows.tolist())}
    pairs = n * (n - 1) // 2
    base = per_pair * pairs
    return {"figure": "all_pairs", "n": n, "pairs": pairs, "ours_s": round(ours, 3),
            "baseline_s_extrapolated": round(base, 1), "baseline_rows_timed": len(rows),
            "ratio": round(base / ours, 1), "found": len(found), "planted": len(planted),
            "ours_cpu_s": round(ours_cpu, 2), **floor}


def bench_all_pairs_workers(n: int, reps: int, threshold: float) -> dict[str, Any]:
    """The all-pairs screen at n (issue 16: < 10 s at 10^5) as the product runs it (one worker
    a core, each with a single-threaded BLAS) against the previous code of the same scan (one
    multi-threaded sgemm a block, ``workers=1``), alternated rep by rep in the same run so both
    see the same load; wall and CPU seconds of each rep, medians compared."""
    from biometrics.matcher import Gallery

    x = unit_rows(n, seed=4)
    planted = plant(x, np.zeros((0, 128), np.float32), seed=5)
    gallery = Gallery(list(map(str, range(n))), x)
    runs: dict[str, list[tuple[float, float]]] = {"ours": [], "previous": []}
    for _ in range(reps):
        for name, workers in (("ours", None), ("previous", 1)):
            cpu0, t0 = cpu_seconds(), time.perf_counter()
            found = gallery.duplicates(threshold, workers=workers)
            runs[name].append((time.perf_counter() - t0, cpu_seconds() - cpu0))
            assert {(p.a, p.b) for p in found.pairs} == planted, f"{name} missed a pair"
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
           for k, v in runs.items()}
    return {"figure": "all_pairs_workers", "n": n, "pairs": n * (n - 1) // 2, "reps": reps,
            "ours_s": round(med["ours"][0], 2), "ours_cpu_s": round(med["ours"][1], 2),
            "previous_s": round(med["previous"][0], 2),
            "previous_cpu_s": round(med["previous"][1], 2),
            "ratio": round(med["previous"][0] / med["ours"][0], 2),
            "cpu_ratio": round(med["previous"][1] / med["ours"][1], 2),
            "runs": {k: [[round(w, 2), round(c, 2)] for w, c in v] for k, v in runs.items()},
            "load_1min_after": os.getloadavg()[0], "found": len(planted)}


def products_floor(x: np.ndarray) -> dict[str, Any]:
    """What the all-pairs scan cannot go below with float32 BLAS (issue 16's "< 10 s at
    10^5"): the same blocked products with nothing done with them (no threshold, no max, no
    pairs), wall and CPU seconds, and the arithmetic rate they reach: the screen's own cost
    above it is the threshold scan (about a quarter, measured at 10^5). Measured besides: a
    sieve through the 32 principal directions (exact by the projection's contraction, a quarter
    of the depth, L2-sized blocks) was slower on 2 cores, 34.2 against 22.6 CPU seconds at
    10^5: the n²/2 products written and read bound the scan, not their depth."""
    from biometrics.matcher import BLOCK, _upper_blocks

    n = len(x)
    product = np.empty((BLOCK, BLOCK), np.float32)
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    for r0, c0, height, width in _upper_blocks(n, BLOCK, 0, n):
        np.matmul(x[r0:r0 + height], x[c0:c0 + width].T, out=product[:height, :width])
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    computed = sum(h * w for _, _, h, w in _upper_blocks(n, BLOCK, 0, n))
    return {"products_only_s": round(wall, 2), "products_only_cpu_s": round(cpu, 2),
            "products_computed": computed,
            "gflop_per_s": round(2 * 128 * computed / max(wall, 1e-9) / 1e9, 1)}


def bench_decrypt(sample: int) -> dict[str, Any]:
    """AES-GCM opening of stored embeddings (512 bytes each), per million."""
    key = DataKey(os.urandom(32))
    items = []
    for _ in range(sample):
        rid = uuid.uuid4()
        items.append((rid, key.seal(os.urandom(512), row_id=rid, kind="LIVE_EMBEDDING")))
    t0 = time.perf_counter()
    for rid, sealed in items:
        key.open(sealed, row_id=rid, kind="LIVE_EMBEDDING")
    per = (time.perf_counter() - t0) / sample
    return {"figure": "decrypt", "sample": sample, "s_per_million": round(per * 1e6, 2)}


# --- realistic embeddings and the face index (issue 16) -----------------------------------------


# east-asian/ (723 photos, the closest population to the people we check) may be added with
# --sets; its first encoding takes ~10 minutes on 2 idle cores.
FACE_SETS = ("people", "orl")


def real_faces(cache: Path, sets: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """Live-frame encodings (the ones the district stores) of ../shared/faces, with a label per
    photo (set/person); photos without a face are left out."""
    from biometrics.bulk import encode_set
    from biometrics.config import FaceSettings
    from biometrics.dataset import LabelledImages
    from reader.virtual import faces_dir

    rows, labels = [], []
    for name in sets:
        images = LabelledImages.scan(faces_dir() / name)
        enc = encode_set(images, FaceSettings(), workers=2, cache=cache)
        for i in np.flatnonzero(enc.found):
            rows.append(enc.probes[i])
            labels.append(f"{name}/{enc.labels[i]}")
    return np.ascontiguousarray(np.vstack(rows), np.float32), labels


class FaceModel:
    """A Gaussian fitted to real embeddings (mean and full covariance, by eigenvectors, with a
    little shrinkage toward the diagonal so that a small set gives no zero directions), sampled
    and put back on the unit sphere: synthetic faces with the spread and correlations of real
    dlib embeddings, each one a different person."""

    def __init__(self, real: np.ndarray, shrink: float = 0.05) -> None:
        x = real.astype(np.float64)
        self.mean = x.mean(axis=0)
        cov = np.cov(x, rowvar=False)
        cov = (1 - shrink) * cov + shrink * np.diag(np.diag(cov))
        values, vectors = np.linalg.eigh(cov)
        self.basis = (vectors * np.sqrt(np.clip(values, 0, None))).T.astype(np.float32)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal((n, 128), dtype=np.float32)
        x = z @ self.basis + self.mean.astype(np.float32)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def write_stored(path: Path, model: FaceModel, n: int, seed: int) -> None:
    """n synthetic faces as raw float32 rows in a file, made in blocks (bounded memory)."""
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        for start in range(0, n, 1 << 18):
            model.sample(min(1 << 18, n - start), rng).tofile(f)


def read_rows(path: Path, start: int, count: int) -> np.ndarray:
    return np.fromfile(path, np.float32, count * 128, offset=start * 512).reshape(-1, 128)


def rows_at(fd: int, labels: np.ndarray) -> np.ndarray:
    """Rows of the stored file by number, read with pread: a memory map would count every page
    it touched in the process's resident memory."""
    out = np.empty((len(labels), 128), np.float32)
    for k, label in enumerate(labels.tolist()):
        out[k] = np.frombuffer(os.pread(fd, 512, label * 512), np.float32)
    return out


def plant_real(real: np.ndarray, labels: list[str], new: np.ndarray, n_stored: int,
               seed: int) -> tuple[dict[int, np.ndarray], set[tuple[int, int]]]:
    """Proxy pairs from real photos of one person: two photos of a person, one among the new
    faces and one among the stored (every fourth pair: both new). Returns the stored rows to
    overwrite (row → face) and the pairs as (new row, gallery row), gallery = [new; stored]."""
    rng = np.random.default_rng(seed)
    m = len(new)
    by_person: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_person.setdefault(label, []).append(i)
    twos = []
    for photos in by_person.values():
        order = rng.permutation(photos)
        twos += [(int(order[k]), int(order[k + 1])) for k in range(0, len(order) - 1, 2)]
    twos = twos[:m // 3]
    new_rows = rng.choice(m, size=2 * len(twos), replace=False)
    stored_rows = rng.choice(n_stored, size=len(twos), replace=False)
    stored: dict[int, np.ndarray] = {}
    pairs: set[tuple[int, int]] = set()
    for k, (a, b) in enumerate(twos):
        i = int(new_rows[2 * k])
        new[i] = real[a]
        if k % 4 == 3:
            j = int(new_rows[2 * k + 1])
            new[j] = real[b]
            pairs.add((min(i, j), max(i, j)))
        else:
            s = int(stored_rows[k])
            stored[s] = real[b]
            pairs.add((i, m + s))
    return stored, pairs


def exact_streamed(new: np.ndarray, path: Path, n: int, threshold: float,
                   block: int = 1 << 20) -> tuple[float, set[tuple[int, int]]]:
    """The exact screen (``screen_faces``) of the new rows against the stored file, one block
    of stored rows at a time: every pair, in bounded memory."""
    m = len(new)
    found: set[tuple[int, int]] = set()
    t0 = time.perf_counter()
    for start in range(0, n, block):
        rows = read_rows(path, start, min(block, n - start))
        for p in screen_faces(new, rows, threshold):
            if p.other >= m:
                found.add((p.new, m + start + p.other - m))
            elif start == 0:
                found.add((p.new, p.other))
    return time.perf_counter() - t0, found


def distance_quantiles(x: np.ndarray, labels: list[str] | None, rng: np.random.Generator,
                       pairs: int = 200_000) -> dict[str, float]:
    a = rng.integers(0, len(x), pairs)
    b = rng.integers(0, len(x), pairs)
    keep = a != b
    if labels is not None:
        lab = np.asarray(labels)
        keep &= lab[a] != lab[b]
    d = np.linalg.norm(x[a[keep]] - x[b[keep]], axis=1)
    return {f"q{q}": round(float(np.quantile(d, q)), 4) for q in (1e-4, 1e-3, 1e-2, 0.5)}


def vm_rss() -> int:
    """Resident bytes now (the peak is ru_maxrss): what a stage leaves behind."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_seconds() -> float:
    """CPU time of this process, all threads (user + system): on a machine shared with other
    work the wall time of a stage says little; its CPU seconds / cores is what 2 idle cores
    would take."""
    t = os.times()
    return t.user + t.system


def copy_bandwidth() -> float:
    """Bytes a second numpy moves in a large copy (read + write): the memory bound's speed."""
    a = np.ones(1 << 26, np.float32)  # 256 MiB
    b = np.empty_like(a)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t0)
    return 2 * a.nbytes / best


def bench_index_scale(n: int, m: int, all_n: int, model: FaceModel, real: np.ndarray,
                      labels: list[str], threshold: float, seed: int = 26) -> dict[str, Any]:
    """At 10^6 (and all pairs at 10^5), realistic faces: the index against the exact scan —
    a day's screen, one 1:N query, and all pairs — with recall against the exact pairs."""
    from biometrics.matcher import Gallery
    from proctoring.face_index import FaceIndex, exact_pairs

    stored = model.sample(n, np.random.default_rng(seed))
    new = model.sample(m, np.random.default_rng(seed + 1))
    for row, face in plant_real(real, labels, new, n, seed + 2)[0].items():
        stored[row] = face
    exact_s, exact = timed(lambda: {(p.new, p.other) for p in screen_faces(new, stored,
                                                                           threshold)}, 1)
    t0 = time.perf_counter()
    index = FaceIndex.train(stored)
    index.add(stored, np.arange(n, dtype=np.int64))
    build_s = time.perf_counter() - t0

    def screen() -> set[tuple[int, int]]:
        found = {(p.new, p.other) for p in screen_faces(new, new[:0], threshold)}
        hits = exact_pairs(new, index.candidates(new, threshold), lambda ls: stored[ls],
                           threshold)
        return found | {(q, m + label) for q, label, _ in hits}

    ours_s, ours = timed(screen, 1)
    gallery = Gallery([str(i) for i in range(n)], stored)
    one_exact, one_index = [], []
    for i in range(100):
        q = new[i:i + 1]
        t0 = time.perf_counter()
        gallery.search(q[0], k=5)
        one_exact.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        exact_pairs(q, index.candidates(q, threshold), lambda ls: stored[ls], threshold)
        one_index.append(time.perf_counter() - t0)
    bandwidth = copy_bandwidth()
    del gallery

    x = stored[:all_n].copy()
    all_exact_s, all_exact = timed(
        lambda: {(p.new, p.other) for p in screen_faces(x, x[:0], threshold)}, 1)

    def all_pairs_index() -> set[tuple[int, int]]:
        idx = FaceIndex.train(x)
        idx.add(x, np.arange(all_n, dtype=np.int64))
        hits = exact_pairs(x, idx.candidates(x, threshold), lambda ls: x[ls], threshold)
        return {(q, label) for q, label, _ in hits if q < label}

    all_index_s, all_index = timed(all_pairs_index, 1)
    return {"figure": "index_at_scale", "stored": n, "new": m, "all_pairs_n": all_n,
            "nlist": index.params.nlist, "nprobe": index.params.nprobe,
            "screen_exact_s": round(exact_s, 2), "screen_index_s": round(ours_s, 2),
            "index_build_s": round(build_s, 1),
            "screen_recall": round(len(ours & exact) / max(1, len(exact)), 4),
            "screen_exact_pairs": len(exact),
            "one_query_exact_ms": round(1e3 * statistics.median(one_exact), 2),
            "one_query_index_ms": round(1e3 * statistics.median(one_index), 3),
            "copy_bandwidth_gb_s": round(bandwidth / 1e9, 1),
            "one_query_exact_bound_ms": round(1e3 * stored.nbytes / bandwidth, 2),
            "all_pairs_exact_s": round(all_exact_s, 2),
            "all_pairs_index_s": round(all_index_s, 2),
            "all_pairs_recall": round(len(all_index & all_exact) / max(1, len(all_exact)), 4),
            "all_pairs_exact_pairs": len(all_exact)}


def bench_province(n: int, m: int, cache: Path, workdir: Path, threshold: float,
                   sets: tuple[str, ...], exact_full: bool, nprobe: int | None = None,
                   gap: float | None = None, spill: float | None = None,
                   seed: int = 16) -> dict[str, Any]:
    """A day's m check-ins against n stored faces (synthetic from real embeddings, real proxy
    pairs planted): the face index (build, screen, recall, memory) against the exact scan."""
    from proctoring.face_index import FaceIndex, IndexParams, exact_pairs

    real, labels = real_faces(cache, sets)
    model = FaceModel(real)
    rng = np.random.default_rng(seed)
    realism = {"real_impostor": distance_quantiles(real, labels, rng),
               "synthetic": distance_quantiles(model.sample(20_000, rng), None, rng)}
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"stored-{n}.f32"
    t0 = time.perf_counter()
    write_stored(path, model, n, seed)
    new = model.sample(m, np.random.default_rng(seed + 1))
    stored_planted, planted = plant_real(real, labels, new, n, seed + 2)
    mm = np.memmap(path, np.float32, "r+", shape=(n, 128))
    for row, face in stored_planted.items():
        mm[row] = face
    mm.flush()
    del mm
    make_s = time.perf_counter() - t0
    print(f"made {n:,} stored faces in {make_s:.0f} s", file=sys.stderr, flush=True)

    # The index: trained on a sample (the first rows: the synthetic rows are independent),
    # then filled block by block from the file, as the district's faces would be.
    params = IndexParams.for_size(n)
    if nprobe or gap is not None or spill is not None:
        params = IndexParams(params.nlist, nprobe or params.nprobe, params.margin, gap, spill)
    t0 = time.perf_counter()
    index = FaceIndex.train(read_rows(path, 0, min(n, params.nlist * 40)), params)
    train_s = time.perf_counter() - t0
    # Two passes, as a fill of the lists should be: every row's cells first (4 bytes a row),
    # each list sized once for all of them, then the rows added where the first pass put them
    # (FaceIndex.reserve: without it the lists' doubling left ~1.5 GB of slack at 10^7).
    block = 1 << 18
    places = [index.placement(read_rows(path, start, min(block, n - start)))
              for start in range(0, n, block)]
    index.reserve(sum(p.counts(params.nlist) for p in places))
    rss_reserved = vm_rss()
    for start in range(0, n, block):
        rows = read_rows(path, start, min(block, n - start))
        index.add(rows, np.arange(start, start + len(rows), dtype=np.int64),
                  places[start // block])
    del places
    build_s = time.perf_counter() - t0
    rss_built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    rss_now_built = vm_rss()
    entries = int(index.index.ntotal)  # faces + copies, before the day's faces join
    print(f"index built in {build_s:.0f} s (trained in {train_s:.0f} s)", file=sys.stderr,
          flush=True)

    fd = os.open(path, os.O_RDONLY)
    stored_rows = (lambda labels: rows_at(fd, labels))  # noqa: E731 - the re-ranker's rows

    def screen() -> tuple[set[tuple[int, int]], int]:
        found = {(p.new, p.other) for p in screen_faces(new, new[:0], threshold)}
        cands = index.candidates(new, threshold)
        for q, label, _ in exact_pairs(new, cands, stored_rows,
                                       threshold):
            found.add((q, m + label))
        return found, len(cands.labels)

    if params.gap is None:
        cells_mean = float(params.nprobe)
    else:
        coarse, _ = index.index.quantizer.search(new, params.nprobe)
        cells_mean = round(float((coarse - coarse[:, :1] <= params.gap).sum(axis=1).mean()), 1)
    cpu0 = cpu_seconds()
    ours_s, (ours_found, candidates) = timed(screen, 1)
    ours_cpu = cpu_seconds() - cpu0
    print(f"screened in {ours_s:.1f} s", file=sys.stderr, flush=True)
    # One query at a time (1:N): the latency of a single range search + re-ranking.
    one = []
    for i in range(min(200, m)):
        t1 = time.perf_counter()
        c = index.candidates(new[i:i + 1], threshold)
        exact_pairs(new[i:i + 1], c, stored_rows, threshold)
        one.append(time.perf_counter() - t1)
    rss_index = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    # What each screen then does in the product: its new faces join the index (they fit in
    # the room the fill left; a list that doubled here would show in the peak).
    index.add(new, np.arange(n, n + m, dtype=np.int64))
    rss_added = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    # The exact scan of the same run: all n when asked (streamed from the file in blocks of
    # 2^20 rows: the in-memory scan would hold 2 × 4n·128 bytes), else a measured part.
    part = n if exact_full else min(n, 1_000_000)
    cpu0 = cpu_seconds()
    base_s, truth = exact_streamed(new, path, part, threshold)
    base_cpu = (cpu_seconds() - cpu0) * n / part
    base_total = base_s * n / part
    # A planted pair counts when its two faces are within the threshold (checked exactly
    # here, for every planted pair, wherever its stored row is).
    def gallery_row(g: int) -> np.ndarray:
        return new[g] if g < m else rows_at(fd, np.array([g - m]))[0]

    planted_true = {p for p in planted
                    if np.linalg.norm(gallery_row(p[0]) - gallery_row(p[1])) <= threshold}
    assert planted_true <= truth | {p for p in planted if p[1] >= m + part}
    ours_part = {p for p in ours_found if p[1] < m + part}
    found_planted = len(planted_true & ours_found)
    recall_planted = found_planted / max(1, len(planted_true))
    recall_all = len(ours_part & truth) / max(1, len(truth))
    os.close(fd)
    path.unlink()
    return {"figure": "province", "stored": n, "new": m, "threshold": threshold,
            "index": {"kind": "IVF-SQfp16 + exact re-ranking", "nlist": params.nlist,
                      "nprobe": params.nprobe, "margin": params.margin, "gap": params.gap,
                      "spill": params.spill, "spilled_copies": index.copies,
                      "cells_visited_mean": cells_mean,
                      "bytes": entries * 264},
            "make_data_s": round(make_s, 1), "train_s": round(train_s, 1),
            "build_s": round(build_s, 1), "ours_s": round(ours_s, 2),
            "ours_cpu_s": round(ours_cpu, 1), "baseline_cpu_s": round(base_cpu, 1),
            "candidates": candidates, "query_ms_median": round(1e3 * statistics.median(one), 2),
            "query_ms_p95": round(1e3 * float(np.quantile(one, 0.95)), 2),
            "baseline_s": round(base_total, 1), "baseline_measured_rows": part,
            "baseline_extrapolated": part < n, "ratio": round(base_total / ours_s, 1),
            "planted": len(planted), "planted_within_threshold": len(planted_true),
            "planted_found": found_planted, "recall_planted": round(recall_planted, 4),
            "exact_pairs_measured": len(truth), "recall_exact_pairs_measured": round(recall_all, 4),
            "rss_bytes_lists_reserved": rss_reserved, "rss_bytes_built": rss_now_built,
            "codes_and_labels_bytes": entries * 264,
            "peak_rss_bytes_after_build": rss_built, "peak_rss_bytes_after_screen": rss_index,
            "peak_rss_bytes": rss_added,
            "realism": realism, "real_faces": len(real)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="10^3 new vs 10^5 stored, all-pairs at 2·10^4 (under a minute)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--province", action="store_true",
                        help="the 10^7 mode: --new check-ins vs --stored faces through the index")
    parser.add_argument("--stored", type=int, default=10_000_000)
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--exact-full", action="store_true",
                        help="run the exact scan over all stored rows (else 10^6, extrapolated)")
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "examdesk-bench-faces",
                        help="encodings of ../shared/faces (the first run fills it: minutes)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()),
                        help="where the stored faces' file goes (4·128 bytes a face)")
    parser.add_argument("--sets", help=f"photo sets to fit on (default {','.join(FACE_SETS)}; "
                        "people with --quick: its first encoding takes a minute, not ten)")
    parser.add_argument("--nprobe", type=int, help="cells a query visits (default: the "
                        "product's IndexParams.for_size)")
    parser.add_argument("--spill", type=float, help="store a face also in its second-nearest "
                        "cell when that centroid's squared distance is within (1 + SPILL) of "
                        "the nearest's (IndexParams.spill)")
    parser.add_argument("--gap", type=float, help="adaptive visits: of the --nprobe nearest "
                        "cells, those within this squared-distance gap of the nearest "
                        "(bench/proxy_probes.py)")
    parser.add_argument("--all-pairs", type=int, metavar="N",
                        help="only the all-pairs screen at N (issue 16: < 10 s at 10^5), "
                        "ours against the previous code of the same scan, --reps times each")
    args = parser.parse_args()
    if args.all_pairs:
        n = 20_000 if args.quick else args.all_pairs
        r = bench_all_pairs_workers(n, args.reps, DEFAULT_THRESHOLD)
        print(f"load {os.getloadavg()}; all pairs at {n:,}: ours {r['ours_s']} s "
              f"({r['ours_cpu_s']} CPU s), previous code {r['previous_s']} s "
              f"({r['previous_cpu_s']} CPU s), medians of {r['reps']}: ratio {r['ratio']}x "
              f"(CPU {r['cpu_ratio']}x); runs {r['runs']}")
        print(json.dumps({"metric": f"all_pairs_{n}_s", "unit": "s", "ours": r["ours_s"],
                          "baseline": r["previous_s"], "ratio": r["ratio"], "results": [r]}))
        return
    args.sets = args.sets or ("people" if args.quick and not args.province else
                              ",".join(FACE_SETS))
    if args.province:
        province(args)
        return
    m, n, all_n = (1_000, 100_000, 20_000) if args.quick else (10_000, 1_000_000, 100_000)
    threshold = DEFAULT_THRESHOLD
    fr = import_face_recognition()
    try:
        from threadpoolctl import threadpool_info

        blas = [(i["internal_api"], i["num_threads"]) for i in threadpool_info()]
    except ImportError:
        blas = []
    print(f"cores {os.cpu_count()}, BLAS {blas}, threshold {threshold}")
    results: list[dict[str, Any]] = []

    inc = bench_incremental(m, n, args.reps, 6 if args.quick else 8, fr, threshold)
    results.append(inc)
    print(f"incremental: {m:,} new vs {n:,} stored: ours {inc['ours_s']:.2f} s (median of "
          f"{args.reps})  baseline ~{inc['baseline_s_extrapolated']:.0f} s (face_distance, "
          f"{inc['baseline_rows_timed']} rows timed)  ratio {inc['ratio']:.0f}x  "
          f"pairs {inc['found']}/{inc['planted']} planted")

    full = bench_all_pairs(all_n, 1 if not args.quick else args.reps,
                           100 if args.quick else 200, fr, threshold)
    results.append(full)
    print(f"all-pairs: {all_n:,} faces ({full['pairs']:,} pairs): ours {full['ours_s']:.2f} s  "
          f"baseline ~{full['baseline_s_extrapolated']:.0f} s  ratio {full['ratio']:.0f}x  "
          f"pairs {full['found']}/{full['planted']} planted")
    print(f"  floor: the same float32 products with nothing done with them take "
          f"{full['products_only_s']:.2f} s ({full['products_only_cpu_s']:.1f} CPU s, "
          f"{full['gflop_per_s']:.0f} GFLOP/s); the whole scan {full['ours_s']:.2f} s "
          f"({full['ours_cpu_s']:.1f} CPU s): / 2 cores = "
          f"{full['ours_cpu_s'] / 2:.1f} s of idle cores against the 10 s goal")

    total = n + m
    everything = full["ours_s"] * (total * (total - 1) / 2) / full["pairs"]
    results.append({"figure": "rescreen_everything_extrapolated", "n": total,
                    "ours_s": round(everything, 1),
                    "incremental_s": inc["ours_s"],
                    "ratio": round(everything / inc["ours_s"], 1)})
    print(f"all-pairs again at {total:,} every day instead (extrapolated): ~{everything:.0f} s, "
          f"{everything / inc['ours_s']:.0f}x the incremental screen")

    dec = bench_decrypt(20_000)
    results.append(dec)
    print(f"loading stored embeddings: AES-GCM opening {dec['s_per_million']:.1f} s per million "
          f"(sample {dec['sample']:,}; plus the database transfer)")
    real, labels = real_faces(args.cache, tuple(x for x in args.sets.split(",") if x))
    scale = bench_index_scale(n, m, all_n, FaceModel(real), real, labels, threshold)
    results.append(scale)
    print(f"realistic faces (a Gaussian fitted to {len(real)} real encodings, real proxy pairs "
          f"planted): {m:,} vs {n:,}: exact {scale['screen_exact_s']} s, index "
          f"{scale['screen_index_s']} s (+ {scale['index_build_s']} s to build; nlist "
          f"{scale['nlist']}, nprobe {scale['nprobe']}), recall {scale['screen_recall']:.2%} "
          f"of {scale['screen_exact_pairs']} exact pairs")
    print(f"1:N one query at {n:,}: exact {scale['one_query_exact_ms']} ms (memory bound "
          f"{scale['one_query_exact_bound_ms']} ms at {scale['copy_bandwidth_gb_s']} GB/s), "
          f"index {scale['one_query_index_ms']} ms")
    print(f"all pairs at {all_n:,}: exact {scale['all_pairs_exact_s']} s, index (build + search) "
          f"{scale['all_pairs_index_s']} s, recall {scale['all_pairs_recall']:.2%} of "
          f"{scale['all_pairs_exact_pairs']} exact pairs")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"peak memory {peak / 2**20:.0f} MiB")
    print(json.dumps({
        "metric": f"screen_{m}_new_vs_{n}_stored_s",
        "unit": "s",
        "ours": inc["ours_s"],
        "baseline": inc["baseline_s_extrapolated"],
        "ratio": inc["ratio"],
        "peak_rss_bytes": peak,
        "results": results,
    }))


def province(args: argparse.Namespace) -> None:
    sets = tuple(x for x in args.sets.split(",") if x)
    r = bench_province(args.stored, args.new, args.cache, args.workdir, DEFAULT_THRESHOLD,
                       sets, args.exact_full, args.nprobe, args.gap, args.spill)
    gb = 2**30
    print(f"cores {os.cpu_count()}; {r['real_faces']} real faces ({','.join(sets)}); "
          f"distance quantiles real impostor {r['realism']['real_impostor']}, "
          f"synthetic {r['realism']['synthetic']}")
    print(f"index {r['index']['kind']} nlist {r['index']['nlist']} nprobe "
          f"{r['index']['nprobe']} gap {r['index']['gap']} spill {r['index']['spill']} "
          f"({r['index']['spilled_copies']:,} copies) ({r['index']['cells_visited_mean']} "
          f"cells a query on average): train {r['train_s']} s, build {r['build_s']} s for "
          f"{r['stored']:,} faces (data made in {r['make_data_s']} s)")
    part = (f" (extrapolated from {r['baseline_measured_rows']:,} rows)"
            if r["baseline_extrapolated"] else " (every row, streamed in blocks)")
    print(f"{r['new']:,} new vs {r['stored']:,} stored: ours {r['ours_s']} s "
          f"({r['candidates']:,} candidates re-ranked), exact scan "
          f"{'~' if r['baseline_extrapolated'] else ''}{r['baseline_s']} s{part}, "
          f"ratio {r['ratio']}x; CPU time ours {r['ours_cpu_s']} s, exact "
          f"{r['baseline_cpu_s']} s (cores {os.cpu_count()})")
    print(f"planted proxy pairs (real photos): {r['planted_found']}/"
          f"{r['planted_within_threshold']} within the threshold found (recall "
          f"{100 * r['recall_planted']:.2f} %; {r['planted']} planted); exact pairs in the "
          f"measured part {r['exact_pairs_measured']}, recall "
          f"{100 * r['recall_exact_pairs_measured']:.2f} %")
    print(f"1:N one query: median {r['query_ms_median']} ms, p95 {r['query_ms_p95']} ms; "
          f"peak memory {r['peak_rss_bytes'] / gb:.2f} GiB = {r['peak_rss_bytes'] / 1e9:.2f}·10^9 "
          f"bytes (built {r['peak_rss_bytes_after_build'] / 1e9:.2f}, screened "
          f"{r['peak_rss_bytes_after_screen'] / 1e9:.2f}, the day's faces added; codes and "
          f"labels {r['codes_and_labels_bytes'] / 1e9:.2f}, resident when built "
          f"{r['rss_bytes_built'] / 1e9:.2f})")
    print(json.dumps({"metric": f"province_{r['new']}_new_vs_{r['stored']}_stored_s", "unit": "s",
                      "ours": r["ours_s"], "baseline": r["baseline_s"], "ratio": r["ratio"],
                      "peak_rss_bytes": r["peak_rss_bytes"], "results": [r]}))


if __name__ == "__main__":
    main()
