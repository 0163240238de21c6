"""1:N search and N:N duplicate detection: our BLAS scan against face_recognition.face_distance.

Galleries of N random unit vectors (float32, 128-D; timing does not depend on what the
vectors mean). For each N: one 1:N search (top 5) with

- ours: ``Gallery.search`` — one sgemv over the C-contiguous matrix + an exact blocked top-k;
- baseline: ``face_recognition.face_distance`` + ``argmin``, as the library's examples do, on
  the same float32 matrix (and, for reference, on float64 rows, which is what dlib returns);
- faiss ``IndexFlatIP`` (exact inner product), when faiss is importable;
- int8 and float16 storage with exact float32 re-ranking of the 64 best candidates (the
  experiment that decides whether the library keeps a compact layout: only if it wins).

The memory-bandwidth bound is bytes scanned / copy bandwidth, measured here with a large
numpy copy (read + write bytes / time). Duplicates (all pairs within the calibrated
threshold) run blocked sgemm; the baseline calls face_distance row by row, timed on a sample
of rows and extrapolated.

    .venv/bin/python bench/matcher.py [--quick] [--reps 9]

Prints one line per figure, then one JSON line: metric, unit, ours, baseline, ratio, results.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from biometrics.config import OperatingPoint
from biometrics.matcher import BLOCK, Gallery, top_k
from biometrics.models import import_face_recognition

K = 5
RERANK = 64


def median_ms(fn: Callable[[], object], reps: int) -> float:
    fn()  # warm: page faults, BLAS thread start
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def copy_bandwidth() -> float:
    """Bytes moved per second (read + write) by numpy copying 512 MiB, median of 5."""
    src = np.ones(1 << 27, np.float32)
    dst = np.empty_like(src)
    ms = median_ms(lambda: np.copyto(dst, src), 5)
    return 2 * src.nbytes / (ms / 1000)


def unit_rows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.empty((n, 128), np.float32)
    for start in range(0, n, 1 << 16):  # in chunks: no 1 GB float64 temporary at N = 10^6
        block = rng.standard_normal((min(1 << 16, n - start), 128), dtype=np.float32)
        x[start:start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return x


class CompactIndex:
    """Compact rows (int8 with a per-row scale, or float16) scanned in L2-sized blocks widened
    to float32 for BLAS, then the best RERANK candidates re-scored exactly from float32 rows.
    numpy has no int8 or float16 BLAS: the widening is the price of the smaller scan."""

    def __init__(self, x: np.ndarray, dtype: type, block: int = 4096) -> None:
        self.x = x
        if dtype is np.int8:
            self.scale = (np.abs(x).max(axis=1) / 127.0).astype(np.float32)
            self.rows = np.round(x / self.scale[:, None]).astype(np.int8)
        else:
            self.scale = np.ones(len(x), np.float32)
            self.rows = x.astype(np.float16)
        self.block = block
        self.buf = np.empty((block, 128), np.float32)
        self.out = np.empty(len(x), np.float32)

    @property
    def nbytes(self) -> int:
        return int(self.rows.nbytes + self.scale.nbytes)

    def search(self, q: np.ndarray, k: int) -> np.ndarray:
        n = len(self.rows)
        for a in range(0, n, self.block):
            b = min(n, a + self.block)
            w = self.buf[: b - a]
            np.copyto(w, self.rows[a:b], casting="unsafe")
            np.dot(w, q, out=self.out[a:b])
        self.out *= self.scale
        cand = top_k(self.out, min(RERANK, n))
        exact = self.x[cand] @ q
        return cand[np.argsort(-exact, kind="stable")[:k]]


def bench_search(n: int, reps: int, fr: Any, bandwidth: float) -> dict[str, Any]:
    x = unit_rows(n, seed=n)
    queries = unit_rows(reps + 1, seed=1)
    gallery = Gallery([str(i) for i in range(n)], x)
    qi = iter(np.tile(queries, (3, 1)))
    ours = median_ms(lambda: gallery.search(next(qi), K), reps)
    base = median_ms(lambda: int(np.argmin(fr.face_distance(x, queries[0]))), max(3, reps // 3))
    base64 = None
    if n <= 100_000:  # float64 rows, as dlib returns them (1 GB at 10^6: skipped there)
        x64 = x.astype(np.float64)
        base64 = median_ms(lambda: int(np.argmin(fr.face_distance(x64, queries[0]))),
                           max(3, reps // 3))
    row: dict[str, Any] = {
        "n": n, "ours_ms": round(ours, 3), "baseline_ms": round(base, 3),
        "ratio": round(base / ours, 2),
        "baseline_float64_ms": round(base64, 3) if base64 is not None else None,
        "bytes_scanned": x.nbytes, "gallery_bytes": gallery.nbytes,
        "bound_ms": round(x.nbytes / bandwidth * 1000, 3),
    }
    row["ours_vs_bound"] = round(ours / row["bound_ms"], 2)
    # The answers must agree: same nearest neighbour as the baseline.
    nearest = int(np.argmin(fr.face_distance(x, queries[0])))
    assert gallery.search(queries[0], 1)[0].index == nearest

    exact = [h.index for h in gallery.search(queries[1], K)]
    for name, dtype in (("int8", np.int8), ("float16", np.float16)):
        compact = CompactIndex(x, dtype)
        assert list(compact.search(queries[1], K)) == exact, f"{name} lost a true neighbour"
        row[f"{name}_ms"] = round(median_ms(lambda c=compact: c.search(queries[2], K), reps), 3)
        row[f"{name}_bytes"] = compact.nbytes
        del compact

    try:
        import faiss  # type: ignore[import-not-found]
    except ImportError:
        row["faiss_ms"] = None
    else:
        index = faiss.IndexFlatIP(128)
        index.add(x)
        q2 = queries[:1].copy()
        row["faiss_ms"] = round(median_ms(lambda: index.search(q2, K), reps), 3)
    return row


def bench_duplicates(n: int, fr: Any, threshold: float, sample: int,
                     stripes: int | None = None) -> dict[str, Any]:
    """All pairs. With *stripes*, only that many evenly spread row stripes (of BLOCK rows,
    each against every later row) are scanned and the time is extrapolated to all stripes:
    at N = 10^6 the 5·10^11 pairs take tens of minutes even at BLAS speed."""
    x = unit_rows(n, seed=7 * n)
    gallery = Gallery([str(i) for i in range(n)], x)
    t0 = time.perf_counter()
    if stripes is None:
        found = gallery.duplicates(threshold)
        ours = time.perf_counter() - t0
    else:
        total = -(-n // BLOCK)
        picks = np.linspace(0, total - 1, stripes).round().astype(int)
        found = gallery.duplicates(threshold, rows=(0, 0))
        t0 = time.perf_counter()
        for s in picks:
            part = gallery.duplicates(threshold, rows=(s * BLOCK, (s + 1) * BLOCK))
            found.pairs.extend(part.pairs)
        ours = (time.perf_counter() - t0) / stripes * total
    # Baseline: each row against the rows after it; timed on evenly spread rows, extrapolated.
    rows = np.linspace(0, n - 2, sample).astype(int)
    t0 = time.perf_counter()
    for i in rows:
        d = fr.face_distance(x[i + 1:], x[i])
        np.flatnonzero(d <= threshold)
    base = (time.perf_counter() - t0) / sample * (n - 1)
    return {"n": n, "pairs": n * (n - 1) // 2, "ours_s": round(ours, 3),
            "ours_extrapolated": stripes is not None,
            "baseline_s_extrapolated": round(base, 3), "ratio": round(base / ours, 2),
            "found": len(found.pairs), "block_bytes": found.block_bytes,
            "gallery_bytes": gallery.nbytes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 10^4 and 10^5 only")
    parser.add_argument("--reps", type=int, default=9)
    args = parser.parse_args()
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    fr = import_face_recognition()
    try:
        from threadpoolctl import threadpool_info

        blas = [(i["internal_api"], i["num_threads"]) for i in threadpool_info()]
    except ImportError:
        blas = []
    bandwidth = copy_bandwidth()
    print(f"cores {os.cpu_count()}, BLAS {blas}, copy bandwidth {bandwidth / 1e9:.1f} GB/s "
          "(read + write)")
    results: list[dict[str, Any]] = []
    for n in sizes:
        row = bench_search(n, args.reps, fr, bandwidth)
        results.append({"figure": "search", **row})
        faiss_ms = f"{row['faiss_ms']:.2f} ms" if row["faiss_ms"] is not None else "n/a"
        print(f"search N={n:>9,}: ours {row['ours_ms']:8.2f} ms  baseline {row['baseline_ms']:8.2f}"
              f" ms  ratio {row['ratio']:6.1f}x  bound {row['bound_ms']:.2f} ms "
              f"(ours {row['ours_vs_bound']:.2f}x bound)  int8+rerank {row['int8_ms']:.2f} ms  "
              f"float16+rerank {row['float16_ms']:.2f} ms  faiss {faiss_ms}  "
              f"gallery {row['gallery_bytes'] / 2**20:.0f} MiB")
    threshold = OperatingPoint().threshold
    for n in sizes:
        stripes = 4 if n >= 1_000_000 else None
        row = bench_duplicates(n, fr, threshold, sample=40 if n >= 1_000_000 else 200,
                               stripes=stripes)
        results.append({"figure": "duplicates", **row})
        approx = "~" if stripes else ""
        print(f"duplicates N={n:>9,} ({row['pairs']:,} pairs, d ≤ {threshold:.4f}): ours "
              f"{approx}{row['ours_s']:.2f} s  baseline ~{row['baseline_s_extrapolated']:.1f} s  "
              f"ratio {row['ratio']:.1f}x  working memory {row['block_bytes'] / 2**20:.0f} MiB"
              + ("  (sampled row stripes, extrapolated)" if stripes else ""))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"peak memory {peak / 2**20:.0f} MiB")
    head = [r for r in results if r["figure"] == "search"][-1]
    print(json.dumps({
        "metric": f"search_top{K}_ms_at_N={head['n']}",
        "unit": "ms",
        "ours": head["ours_ms"],
        "baseline": head["baseline_ms"],
        "ratio": head["ratio"],
        "copy_bandwidth_gbs": round(bandwidth / 1e9, 2),
        "peak_rss_bytes": peak,
        "results": results,
    }))


if __name__ == "__main__":
    main()
