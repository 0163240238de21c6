"""Which cells a stored face should be kept in (issue 16, ``IndexParams.spill``): for each
spill setting, the share of stored faces copied to their second-nearest cell (memory: 264 bytes a
copy) and, for each number of cells a query visits, how many planted real proxy pairs the index
would find, without filling an index of 10^7.

The cells are trained exactly as ``bench/proxy_search.py --province`` trains them (same seed,
same synthetic faces from the fit to ../shared/faces, same planted pairs), so the figures apply
to its 10^7 run. A pair (new face q, stored face s) is found when s's nearest cell, or its
second when s is spilled, is among the cells q visits (the re-ranking is exact, and the fp16
distances are within 10^-4); pairs of two new faces are compared exactly and left out. It checks
itself against the 10^7 runs: 64 cells without spill missed one pair of 138, 32 cells with spill
0.5 none.

    .venv/bin/python bench/proxy_spill.py [--quick]

Prints one line per setting, then one JSON line: planted new-vs-stored pairs found by the
product's setting (ours) against the same visits without spill (baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import proxy_search as ps

from proctoring.face_index import FaceIndex, IndexParams
from proctoring.proxy_search import DEFAULT_THRESHOLD

SPILLS = (0.02, 0.05, 0.1, 0.2, 0.5)
VISITS = (16, 24, 32, 48, 64, 128)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^6 stored (1024-cell sizing "
                        "is not the province's: a smoke test of the method)")
    parser.add_argument("--stored", type=int, default=10_000_000)
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "examdesk-bench-faces")
    args = parser.parse_args()
    n, m, seed = (200_000 if args.quick else args.stored), 10_000, 16
    real, labels = ps.real_faces(args.cache, ps.FACE_SETS)
    model = ps.FaceModel(real)
    rng = np.random.default_rng(seed)  # the province run draws these first: same stream after
    ps.distance_quantiles(real, labels, rng)
    ps.distance_quantiles(model.sample(20_000, rng), None, rng)
    stream = np.random.default_rng(seed)
    first = model.sample(min(n, 1 << 18), stream)  # the stored file's first block
    more = model.sample(min(n, 1 << 18), stream)
    new = model.sample(m, np.random.default_rng(seed + 1))
    planted_rows, pairs = ps.plant_real(real, labels, new, n, seed + 2)
    for row, face in planted_rows.items():
        if row < len(first):
            first[row] = face
    params = IndexParams.for_size(n)
    index = FaceIndex.train(first[:params.nlist * 40], params)  # owns the quantizer: keep it
    quantizer = index.index.quantizer
    # Faces the cells were not trained on (rows past the first block): a training face sits
    # nearer its centroid than a later one, and 10^7 faces are nearly all later ones.
    d, _ = quantizer.search(more, 2)
    ratio = d[:, 1] / np.maximum(d[:, 0], 1e-12)  # a face on its centroid is never copied
    copies = {s: float(np.mean(ratio <= 1 + s)) for s in SPILLS}

    def row(g: int) -> np.ndarray:
        return new[g] if g < m else planted_rows[g - m]

    cross = [(a, b) for a, b in pairs
             if b >= m and np.linalg.norm(row(a) - row(b)) <= DEFAULT_THRESHOLD]
    queries = np.stack([new[a] for a, _ in cross])
    stored = np.stack([row(b) for _, b in cross])
    ds, cells = quantizer.search(stored, 2)
    spilled_ratio = ds[:, 1] / np.maximum(ds[:, 0], 1e-12)
    found: dict[int, dict[str, int]] = {}
    for visits in VISITS:
        _, probes = quantizer.search(queries, min(visits, params.nlist))
        first_hit = (probes == cells[:, :1]).any(axis=1)
        second_hit = (probes == cells[:, 1:2]).any(axis=1)
        found[visits] = {"none": int(first_hit.sum())} | {
            str(s): int((first_hit | (second_hit & (spilled_ratio <= 1 + s))).sum())
            for s in SPILLS}
    print(f"load {os.getloadavg()[0]:.1f}; {n:,} stored, {params.nlist} cells; "
          f"{len(cross)} planted new-vs-stored pairs within the threshold")
    print("spill: share of stored faces copied  " + "  ".join(
        f"{s}: {100 * c:.1f} %" for s, c in copies.items()))
    for visits, by_spill in found.items():
        print(f"{visits:4d} cells a query: found " + "  ".join(
            f"{k}: {v}" for k, v in by_spill.items()))
    product = IndexParams.for_size(n)
    visits, spill = product.nprobe, product.spill
    ours = found.get(visits, {}).get(str(spill)) if spill is not None else None
    baseline = found.get(visits, {}).get("none")
    print(json.dumps({"metric": f"planted_pairs_found_{n}_stored", "unit": "pairs",
                      "ours": ours, "baseline": baseline,
                      "ratio": round(ours / baseline, 4) if ours and baseline else None,
                      "of": len(cross), "product": {"nprobe": visits, "spill": spill},
                      "copies_share": copies, "found": found, "nlist": params.nlist}))


if __name__ == "__main__":
    main()
