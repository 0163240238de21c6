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

    .venv/bin/python bench/proxy_search.py [--quick] [--reps 3]

Prints one line per figure, then one JSON line: metric, unit, ours, baseline, ratio, results.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
import uuid
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
    ours, found = timed(lambda: screen_faces(x, x[:0], threshold), reps)
    assert {(p.new, p.other) for p in found} == planted
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
            "ratio": round(base / ours, 1), "found": len(found), "planted": len(planted)}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="10^3 new vs 10^5 stored, all-pairs at 2·10^4 (under a minute)")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
