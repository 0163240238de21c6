"""Set and measure the covered-lens rule (biometrics/lens.py) on real photos and covered frames.

Real frames: every photo of ../shared/faces (people, several, partial, reflection, ORL,
east-asian, the video's frames) fitted into a 1280×720 webcam frame as the file camera does,
each also as an empty chair (the photo's lower part, no face) — and each at full light, at a
third and at a sixth of it (a dim room), with sensor noise. Covered frames (seeded): black,
dark with heavy noise, flat grey, a blurred glow (a real photo blurred to a smear: a finger
right on the lens), a flat hand colour with a vignette.

The limits are set on the calibration half (people, several, partial, reflection, ORL s1–s20,
every other video frame; covered: seed 1) — the limit with the fewest errors there, in the
middle of the gap — and the error rates are measured on the other half (ORL s21–s40,
east-asian, the other video frames; covered: seed 2), which played no part in setting them.

The baseline is the obvious rule, "covered when the picture is dark" (mean grey below a limit
fitted on the same calibration half); both are scored on the same held-out frames.

    .venv/bin/python bench/lens_cover.py [--quick]

Prints one line per figure, then one JSON line: the held-out half total error rate (the mean of
the share of real frames called covered and the share of covered frames missed) of the shipped
rule and of the baseline.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from biometrics.images import fit_frame, load  # noqa: E402
from biometrics.lens import CoverRule, LensReading, read_lens  # noqa: E402
from reader.virtual import faces_dir  # noqa: E402

LIGHT = (1.0, 1 / 3, 1 / 6)  # full, dim, very dim
FRAME = (1280, 720)


_NOISE: list[np.ndarray] = []


def noisy(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Sensor noise (Gaussian, per channel) from a bank of unit fields: drawing 2.8 million
    numbers a frame would be most of the run."""
    if not _NOISE:
        bank = np.random.default_rng(0)
        _NOISE.extend(bank.standard_normal((FRAME[1], FRAME[0], 3), dtype=np.float32)
                      for _ in range(6))
    field = _NOISE[int(rng.integers(len(_NOISE)))]
    out = image.astype(np.float32) + sigma * field[:image.shape[0], :image.shape[1]]
    return np.clip(out, 0, 255).astype(np.uint8)


def photos(split: str, quick: bool) -> list[Path]:
    root = faces_dir()
    if split == "calibration":
        found = [*sorted((root / "people").rglob("*.jpg")), *sorted((root / "several").glob("*")),
                 *sorted((root / "partial").glob("*")), *sorted((root / "reflection").glob("*")),
                 *(p for s in range(1, 21) for p in sorted((root / "orl" / f"s{s}").glob("*")))]
    else:
        found = [*(p for s in range(21, 41) for p in sorted((root / "orl" / f"s{s}").glob("*"))),
                 *sorted((root / "east-asian").rglob("*.jpg"))]
    return found[::7] if quick else found


def video_frames(split: str, quick: bool) -> Iterator[np.ndarray]:
    import cv2

    capture = cv2.VideoCapture(str(faces_dir() / "video" / "short_hamilton_clip.mp4"))
    n = 0
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                return
            if n % 2 == (0 if split == "calibration" else 1) and (not quick or n % 14 < 2):
                yield np.ascontiguousarray(bgr[:, :, ::-1])
            n += 1
    finally:
        capture.release()


def real_frames(split: str, quick: bool, rng: np.random.Generator
                ) -> Iterator[tuple[str, np.ndarray]]:
    """(what, frame): each photo with its person and as an empty chair, at each light."""
    sources: list[np.ndarray] = []
    for path in photos(split, quick):
        try:
            sources.append(load(path))
        except Exception:  # a file that is no photo: not a frame
            continue
    sources += list(video_frames(split, quick))
    for image in sources:
        h = image.shape[0]
        chair = image[int(h * 0.62):]  # the lower part: clothes, a chair, no face
        for what, part in (("person", image), ("empty_chair", chair)):
            frame = fit_frame(part, FRAME).astype(np.float32)
            for light in LIGHT:
                sigma = 2.0 if light == 1.0 else 5.0  # a dark sensor is noisier
                yield (f"{what}@{light:.2f}",
                       noisy(np.clip(frame * light, 0, 255), sigma, rng))


def covered_frames(n: int, rng: np.random.Generator, glow_from: list[np.ndarray]
                   ) -> Iterator[tuple[str, np.ndarray]]:
    import cv2

    w, h = FRAME
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    radial = 1.0 - np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2)) / np.sqrt(2)
    for i in range(n):
        level = rng.uniform(0, 8)
        yield "black", noisy(np.full((h, w, 3), level, np.float32), rng.uniform(0.5, 3), rng)
        level = rng.uniform(5, 40)
        yield "dark_noisy", noisy(np.full((h, w, 3), level, np.float32), rng.uniform(3, 12), rng)
        level = rng.uniform(40, 220)
        tilt = rng.uniform(-6, 6) * (xx / w - 0.5)
        yield "flat_grey", noisy((level + tilt)[..., None].repeat(3, 2), rng.uniform(0.5, 4), rng)
        source = glow_from[i % len(glow_from)]
        small = cv2.resize(source, (32, 18), interpolation=cv2.INTER_AREA)
        # Blurred where it is small (a sixth of the width), then enlarged: the same smear as a
        # blur of the full frame, at a thousandth of the cost.
        smear = cv2.resize(cv2.GaussianBlur(small.astype(np.float32), (0, 0), sigmaX=32 / 6,
                                            borderType=cv2.BORDER_REFLECT),
                           (w, h), interpolation=cv2.INTER_LINEAR)
        yield "blurred_glow", noisy(smear.astype(np.float32) * rng.uniform(0.05, 0.5),
                                    rng.uniform(1, 6), rng)
        skin = np.array([rng.uniform(150, 230), rng.uniform(90, 160), rng.uniform(70, 130)],
                        np.float32) * rng.uniform(0.1, 0.9)
        glow = 1.0 + rng.uniform(0, 0.2) * radial
        yield "hand", noisy(skin[None, None, :] * glow[..., None], rng.uniform(1, 6), rng)


def measure(frames: Iterator[tuple[str, np.ndarray]]) -> list[tuple[str, LensReading]]:
    return [(what, read_lens(frame)) for what, frame in frames]


def best_cut(real: list[float], covered: list[float], balanced: bool = False) -> float:
    """The limit (covered below it) with the fewest errors on these values (a real frame called
    covered counts as much as a covered one missed; ``balanced``: the two rates count alike,
    whatever the number of frames of each); among equally good ones, the geometric middle of
    the gap."""
    values = sorted({round(v, 4) for v in real + covered})
    cuts = [float(np.sqrt(max(a, 1e-3) * max(b, 1e-3))) for a, b in itertools.pairwise(values)]
    w_real, w_covered = (len(covered), len(real)) if balanced else (1, 1)

    def errors(cut: float) -> int:
        return (w_real * sum(v < cut for v in real)
                + w_covered * sum(v >= cut for v in covered))

    best = min(errors(c) for c in cuts)
    tied = [c for c in cuts if errors(c) == best]
    return round(float(np.sqrt(tied[0] * tied[-1])), 2)


def fit(real: list[LensReading], covered: list[LensReading]) -> CoverRule:
    return CoverRule(max_edges=best_cut([r.edges for r in real], [r.edges for r in covered]))


@dataclass(frozen=True)
class DarkRule:
    """The baseline: covered when the picture is dark (mean grey below ``max_mean``), the
    obvious rule, fitted on the same calibration half as ours. A dim room and a grey or
    skin-coloured cover are what it gets wrong; the edges rule was made for them."""

    max_mean: float

    def covered(self, reading: LensReading) -> bool:
        return reading.mean < self.max_mean


def fit_dark(real: list[LensReading], covered: list[LensReading]) -> DarkRule:
    # Fitted on the balanced error (the headline's): by raw counts the covered frames, more
    # numerous, would push it to calling everything covered — a straw man.
    return DarkRule(max_mean=best_cut([r.mean for r in real], [r.mean for r in covered],
                                      balanced=True))


def rates(rule: CoverRule | DarkRule, real: list[tuple[str, LensReading]],
          covered: list[tuple[str, LensReading]]) -> dict[str, object]:
    false_covered: dict[str, list[int]] = {}
    for what, r in real:
        tally = false_covered.setdefault(what, [0, 0])
        tally[0] += rule.covered(r)
        tally[1] += 1
    missed: dict[str, list[int]] = {}
    for what, r in covered:
        tally = missed.setdefault(what, [0, 0])
        tally[0] += not rule.covered(r)
        tally[1] += 1
    fc = sum(v[0] for v in false_covered.values())
    nr = sum(v[1] for v in false_covered.values())
    mc = sum(v[0] for v in missed.values())
    nc = sum(v[1] for v in missed.values())
    return {"real_frames": nr, "real_called_covered": fc, "false_covered_rate": fc / nr,
            "covered_frames": nc, "covered_missed": mc, "missed_rate": mc / nc,
            "by_real": {k: v for k, v in sorted(false_covered.items())},
            "by_covered": {k: v for k, v in sorted(missed.items())},
            "closest_real": {a: round(min(getattr(r, a) for _, r in real), 3)
                             for a in ("spread", "edges")},
            "widest_covered": {a: round(max(getattr(r, a) for _, r in covered), 3)
                               for a in ("spread", "edges")}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a seventh of the photos")
    parser.add_argument("--covered", type=int, default=200, help="frames of each covered kind")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(18)
    glow_sources = [load(p) for p in photos("calibration", True)[:20]]
    cal_real = measure(real_frames("calibration", args.quick, rng))
    cal_cov = measure(covered_frames(args.covered, np.random.default_rng(1), glow_sources))
    rule = fit([r for _, r in cal_real], [r for _, r in cal_cov])
    held_sources = [load(p) for p in photos("evaluation", True)[:20]]
    ev_real = measure(real_frames("evaluation", args.quick, rng))
    ev_cov = measure(covered_frames(args.covered, np.random.default_rng(2), held_sources))
    shipped = CoverRule()
    dark = fit_dark([r for _, r in cal_real], [r for _, r in cal_cov])
    out: dict[str, Any] = {
        "fitted": {"max_edges": rule.max_edges}, "shipped": {"max_edges": shipped.max_edges},
        "baseline_dark": {"max_mean": dark.max_mean},
        "calibration": rates(rule, cal_real, cal_cov),
        "evaluation_fitted": rates(rule, ev_real, ev_cov),
        "evaluation_shipped": rates(shipped, ev_real, ev_cov),
        "evaluation_baseline_dark": rates(dark, ev_real, ev_cov)}
    for name in ("calibration", "evaluation_fitted", "evaluation_shipped",
                 "evaluation_baseline_dark"):
        r = out[name]
        print(f"{name}: {r['real_called_covered']}/{r['real_frames']} real frames called "
              f"covered, {r['covered_missed']}/{r['covered_frames']} covered frames missed; "
              f"closest real {r['closest_real']}, widest covered {r['widest_covered']}")

    def error_rate(r: dict[str, Any]) -> tuple[float, float]:
        """Half total error (the two rates' mean: the class sizes do not weigh in) and the
        smallest non-zero value it can take on these frames."""
        least = 1 / (2 * max(r["real_frames"], r["covered_frames"]))
        return (r["false_covered_rate"] + r["missed_rate"]) / 2, least

    ours, least = error_rate(out["evaluation_shipped"])
    base, _ = error_rate(out["evaluation_baseline_dark"])
    # No error on the held-out frames is "under the least non-zero value", not zero.
    print(json.dumps({"metric": "lens_cover_heldout_half_total_error", "unit": "share",
                      "ours": round(ours, 6), "baseline": round(base, 6),
                      "ratio": round(base / max(ours, least), 2),
                      "baseline_name": f"dark picture: mean grey < {dark.max_mean}",
                      "quick": args.quick, "results": out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
