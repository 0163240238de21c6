"""What the chip portrait's test-time augmentation buys, and what a cheaper portrait would
change (issue 16: the 9 ResNet passes of a portrait are ~40 % of a check-in's CPU).

For every photo of the shared face sets (people/, orl/, east-asian/), the portrait encoding as
the desk computes it: still detection, the largest face, the aligned chip and its shipped
jitters (``biometrics.engine``), each described raw. Pairs as ``examdesk face evaluate``
scores them: photo i's portrait (plain + k jitters, averaged) against photo j's plain live
descriptor, every i < j. Reported per set and point (the shipped East Asian one and ORL's):

- how far the plain portrait's distance is from the 8-jitter one (|d_plain − d_8|), over all
  genuine and impostor pairs, with the pair counts;
- a cascade (describe the jitters only when the plain distance is within a margin M of a
  threshold): how many decisions would flip for each M, and the share of pairs that would
  still need the jitters;
- fewer jitters (0, 2, 4): the MATCH / REVIEW / NO_MATCH counts and the decisions that differ
  from 8 jitters, genuine and impostor, with FMR and FNMR at the point. Nothing is refitted:
  the shipped points were fitted with 8 jitters.

    .venv/bin/python bench/portrait_jitters.py [--quick] [--raw DIR] [--workers 2]

Measured 2026-12-04 (fast16; pairs genuine / impostor: people 163 / 2 840, orl 1 800 /
78 000, east-asian 131 / 258 709): |d_plain − d_8| at most 0.034 / 0.046 / 0.040 on genuine
pairs and 0.035 / 0.045 / 0.065 on impostor pairs (p99.9 0.032–0.042). A cascade flips no
decision only from a margin of 0.05 (0.04 still flips one east-asian impostor at the shipped
point), and then 85 % of east-asian and 42 % of ORL genuine pairs still need the jitters at
the shipped point: little saved on the people a desk admits. Fewer jitters at the shipped
point, east-asian: 4 → FNMR 43.5 % vs 42.0 %, FMR 0.089 % vs 0.090 %, 2 genuine and 318
impostor decisions changed; 2 → FNMR 46.6 %, 10 and 553 changed; ORL: 4 → FNMR 17.5 % vs
16.9 % (14 genuine changed). Every jitter count below 8 changes decisions: none shipped.

``--raw DIR`` keeps each set's raw descriptors there (``raw_<set>.npz``) and reuses them.
``--quick``: the people/ set only (78 photos, a minute or two). The JSON line: ResNet passes
per portrait for the cheapest jitter count that changes no decision on these pairs (ours)
against the shipped 9.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from biometrics import FaceEngine, FaceSettings
from biometrics.config import ORL_POINT, OperatingPoint
from biometrics.dataset import LabelledImages
from biometrics.engine import jittered_chips
from biometrics.errors import BiometricsError
from biometrics.images import load
from reader.virtual import faces_dir

SHIPPED_JITTERS = 8
COUNTS = (0, 2, 4, SHIPPED_JITTERS)
MARGINS = (0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08)
POINTS = {"shipped": OperatingPoint(), "orl": ORL_POINT}

_engine: FaceEngine | None = None  # one per worker process, set by its initializer


def _init() -> None:
    global _engine
    _engine = FaceEngine(FaceSettings())
    _engine.load()


def _raw(path: Path) -> NDArray[np.float64] | None:
    """(1 + 8, 128) raw descriptors of the photo's portrait chips, None without a face."""
    engine = _engine
    assert engine is not None
    try:
        image = load(path)
        faces = engine.detect(image, engine.settings.still)
        if not faces:
            return None
        chips = jittered_chips(engine.chip(image, faces[0]), SHIPPED_JITTERS)
        return np.asarray(engine.raw_descriptors(chips))
    except BiometricsError:
        return None


def describe_set(name: str, root: Path, workers: int, raw_dir: Path | None
                 ) -> tuple[NDArray[np.float64], NDArray[np.str_]]:
    cached = None if raw_dir is None else raw_dir / f"raw_{name}.npz"
    if cached is not None and cached.is_file():
        with np.load(cached, allow_pickle=False) as data:
            return np.array(data["raw"])[data["found"]], np.array(data["labels"])[data["found"]]
    images = LabelledImages.scan(root)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers, initializer=_init) as pool:
        found_raw = list(pool.map(_raw, images.paths, chunksize=4))
    found = np.array([r is not None for r in found_raw])
    raw = np.stack([r if r is not None else np.zeros((SHIPPED_JITTERS + 1, 128))
                    for r in found_raw])
    labels = np.array(images.labels)
    print(f"  {name}: {len(images)} photos described in {time.perf_counter() - t0:.0f} s",
          flush=True)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cached, raw=raw, found=found, labels=labels)
    return raw[found], labels[found]


def _unit(v: NDArray[np.float64]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = v / np.linalg.norm(v, axis=-1, keepdims=True)
    return out


def _band(d: NDArray[np.float64], p: OperatingPoint) -> NDArray[np.int_]:
    # biometrics.decision.decide: MATCH below review_low, NO_MATCH from review_high on.
    return np.where(d < p.review_low, 0, np.where(d >= p.review_high, 2, 1))


def analyse(raw: NDArray[np.float64], labels: NDArray[np.str_]) -> dict[str, Any]:
    probe = _unit(raw[:, 0])
    upper = np.triu_indices(len(labels), 1)
    same = (labels[:, None] == labels[None, :])[upper]
    dist = {}
    for k in COUNTS:
        # biometrics.engine.encoding_of: the mean of the raw descriptors, normalised.
        ref = _unit(raw[:, :k + 1].mean(axis=1))
        cos = np.clip(ref @ probe.T, -1.0, 1.0)
        dist[k] = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * cos))[upper]
    out: dict[str, Any] = {"photos": len(labels), "genuine_pairs": int(same.sum()),
                           "impostor_pairs": int((~same).sum())}
    gap = np.abs(dist[0] - dist[SHIPPED_JITTERS])
    for group, mask in (("genuine", same), ("impostor", ~same)):
        values = gap[mask]
        out[f"plain_vs_8_{group}"] = ({f"p{q * 100:g}": round(float(np.quantile(values, q)), 4)
                                      for q in (0.5, 0.99, 0.999)}
                                     | {"max": round(float(values.max()), 4)}
                                     if values.size else {})
    for point_name, point in POINTS.items():
        shipped = _band(dist[SHIPPED_JITTERS], point)
        plain = _band(dist[0], point)
        per: dict[str, Any] = {}
        for k in COUNTS:
            band = _band(dist[k], point)
            per[f"jitters_{k}"] = {
                "genuine_match_review_nomatch": [int((band[same] == b).sum()) for b in (0, 1, 2)],
                "impostor_match_review_nomatch": [int((band[~same] == b).sum())
                                                  for b in (0, 1, 2)],
                "fnmr": round(float((band[same] != 0).mean()), 4) if same.any() else None,
                "fmr": float((band[~same] == 0).mean()) if (~same).any() else None,
                "changed_vs_8_genuine": int((band[same] != shipped[same]).sum()),
                "changed_vs_8_impostor": int((band[~same] != shipped[~same]).sum()),
            }
        for margin in MARGINS:
            near = ((np.abs(dist[0] - point.review_low) <= margin)
                    | (np.abs(dist[0] - point.review_high) <= margin))
            flips = ~near & (plain != shipped)
            per[f"cascade_margin_{margin:g}"] = {
                "flips_genuine": int(flips[same].sum()),
                "flips_impostor": int(flips[~same].sum()),
                "need_jitters_genuine": round(float(near[same].mean()), 4) if same.any() else None,
                "need_jitters_impostor": (round(float(near[~same].mean()), 5)
                                          if (~same).any() else None)}
        out[point_name] = per
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="people/ only")
    parser.add_argument("--raw", type=Path, default=None, help="keep/reuse raw descriptors")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    names = ["people"] if args.quick else ["people", "orl", "east-asian"]
    results = {}
    for name in names:
        raw, labels = describe_set(name, faces_dir() / name, args.workers, args.raw)
        results[name] = analyse(raw, labels)
        print(json.dumps({name: results[name]}))
    # The cheapest jitter count that changes no decision at either point on any set's pairs.
    unchanged = [k for k in COUNTS
                 if all(r[p][f"jitters_{k}"]["changed_vs_8_genuine"] == 0
                        and r[p][f"jitters_{k}"]["changed_vs_8_impostor"] == 0
                        for r in results.values() for p in POINTS)]
    cheapest = min(unchanged)
    changed = {f"{k}": sum(r[p][f"jitters_{k}"][f"changed_vs_8_{g}"]
                           for r in results.values() for p in ("shipped",)
                           for g in ("genuine", "impostor")) for k in COUNTS}
    print(json.dumps({"metric": "portrait_resnet_passes_no_decision_change", "unit": "passes",
                      "ours": cheapest + 1, "baseline": SHIPPED_JITTERS + 1,
                      "ratio": round((SHIPPED_JITTERS + 1) / (cheapest + 1), 3),
                      "sets": names,
                      "pairs": {n: [r["genuine_pairs"], r["impostor_pairs"]]
                                for n, r in results.items()},
                      "decisions_changed_vs_8_at_shipped_point": changed}))


if __name__ == "__main__":
    main()
