"""Per-stage cost of a live check-in frame, and live-preview frame rate: ours against the default.

Frames are real photos from the shared people/ folder, scaled to 720 px high and widened to
1280 px with their own border (what a 720p webcam gives when the candidate sits ~60–80 cm
away), and JPEG-encoded in memory as a webcam's MJPEG stream would be.

Stages (median ms per frame): decode (JPEG → RGB), detect, landmarks (68 points: quality and
liveness), encode (one ResNet pass on the aligned chip), quality (measure + checks).

Live preview runs face detection on every frame. Ours detects on the frame scaled so that a
120 px face fills the HOG window (80/120, i.e. 853×480); the baseline is face_recognition's
default, ``face_locations`` at full resolution with one upsampling. Full resolution without
upsampling is printed too, to show where the gain comes from.

    .venv/bin/python bench/face_pipeline.py [--quick] [--frames N] [--reps N]

Prints one line per figure, then one JSON line: metric, unit, ours, baseline, ratio, results.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from biometrics import FaceEngine, FaceSettings
from biometrics.config import Detection
from biometrics.errors import PoorImage
from biometrics.faces import the_face
from biometrics.images import decode, load
from biometrics.models import import_face_recognition
from biometrics.quality import check, measure

PHOTOS = ["obama/obama.jpg", "person02/img6.jpg", "person03/img47.jpg", "person04/img3.jpg",
          "person08/img35.jpg", "person09/img39.jpg", "person12/img20.jpg", "biden/biden2.jpg",
          "person05/img30.jpg", "person07/img61.jpg", "rose_leslie/img2.jpg", "person01/img42.jpg"]


def faces_dir() -> Path:
    import os

    env = os.environ.get("EXAMDESK_FACES_DIR")
    for p in ([Path(env)] if env else []) + [Path(__file__).resolve().parents[2] / "shared/faces",
                                             Path("/work/shared/faces")]:
        if p.is_dir():
            return p
    raise SystemExit("no shared/faces folder (set EXAMDESK_FACES_DIR)")


def webcam_frame(image: np.ndarray, size: tuple[int, int] = (1280, 720)) -> np.ndarray:
    w, h = size
    scale = h / image.shape[0]
    scaled = cv2.resize(image, (round(image.shape[1] * scale), h),
                        interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
    if scaled.shape[1] >= w:
        x0 = (scaled.shape[1] - w) // 2
        return np.ascontiguousarray(scaled[:, x0:x0 + w])
    pad = w - scaled.shape[1]
    return np.ascontiguousarray(
        cv2.copyMakeBorder(scaled, 0, 0, pad // 2, pad - pad // 2, cv2.BORDER_REPLICATE))


def jpeg(image: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, "JPEG", quality=90)
    return out.getvalue()


def timed(fn: Callable[[], Any], reps: int) -> tuple[float, Any]:
    result = fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 frames, 3 repetitions")
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--reps", type=int, default=None)
    args = parser.parse_args()
    n_frames = args.frames or (4 if args.quick else len(PHOTOS))
    reps = args.reps or (3 if args.quick else 7)

    root = faces_dir() / "people"
    frames = [webcam_frame(load(root / p)) for p in PHOTOS[:n_frames]]
    blobs = [jpeg(f) for f in frames]
    engine = FaceEngine(FaceSettings())
    t0 = time.perf_counter()
    engine.load()
    load_ms = (time.perf_counter() - t0) * 1000
    fr = import_face_recognition()
    full_u0 = Detection(min_face_px=80, fallback=False)

    stages: dict[str, list[float]] = {k: [] for k in (
        "decode", "detect", "landmarks", "encode", "quality",
        "baseline_decode", "baseline_detect", "baseline_landmarks", "baseline_encode",
        "detect_full_u0")}
    for blob in blobs:
        ms, image = timed(lambda b=blob: decode(b), reps)
        stages["decode"].append(ms)
        ms, faces = timed(lambda im=image: engine.detect(im, engine.settings.live), reps)
        stages["detect"].append(ms)
        face = the_face(faces, engine.settings.quality.min_face_px)
        ms, landmarks = timed(lambda im=image, f=face: engine.landmarks(im, f), reps)
        stages["landmarks"].append(ms)
        ms, _ = timed(lambda im=image, f=face: engine.encode(im, f), reps)
        stages["encode"].append(ms)

        def quality(im: np.ndarray = image, f: Any = face, lm: Any = landmarks) -> None:
            try:
                check(measure(im, f, lm), engine.settings.quality)
            except PoorImage:
                pass

        ms, _ = timed(quality, reps)
        stages["quality"].append(ms)
        ms, _ = timed(lambda im=image: engine.detect(im, full_u0), reps)
        stages["detect_full_u0"].append(ms)

        ms, bimage = timed(lambda b=blob: fr.load_image_file(io.BytesIO(b)), reps)
        stages["baseline_decode"].append(ms)
        ms, locations = timed(lambda im=bimage: fr.face_locations(im), reps)
        stages["baseline_detect"].append(ms)
        loc = max(locations, key=lambda c: (c[2] - c[0]) * (c[1] - c[3]))
        ms, _ = timed(lambda im=bimage, c=loc: fr.face_landmarks(im, [c]), reps)
        stages["baseline_landmarks"].append(ms)
        ms, _ = timed(lambda im=bimage, c=loc: fr.face_encodings(im, [c]), reps)
        stages["baseline_encode"].append(ms)

    med = {k: round(statistics.median(v), 2) for k, v in stages.items()}
    ours_frame = med["decode"] + med["detect"]
    base_frame = med["baseline_decode"] + med["baseline_detect"]
    ours_fps, base_fps = 1000 / ours_frame, 1000 / base_frame
    full_fps = 1000 / (med["decode"] + med["detect_full_u0"])
    print(f"{n_frames} frames 1280×720 from people/, {reps} reps each; "
          f"models load {load_ms:.0f} ms")
    for stage in ("decode", "detect", "landmarks", "encode", "quality"):
        base = med.get(f"baseline_{stage}")
        tail = f"   baseline {base:7.2f} ms  ratio {base / med[stage]:5.2f}x" if base else ""
        print(f"{stage:>10}: ours {med[stage]:7.2f} ms{tail}")
    check_in_ours = sum(med[s] for s in ("decode", "detect", "landmarks", "encode", "quality"))
    check_in_base = sum(med[f"baseline_{s}"] for s in ("decode", "detect", "landmarks", "encode"))
    print(f"one check-in frame: ours {check_in_ours:.1f} ms (incl. quality), baseline "
          f"{check_in_base:.1f} ms")
    print(f"live preview (decode + detect): ours {ours_fps:.1f} fps (detect on 853×480), "
          f"full-res no upsampling {full_fps:.1f} fps, baseline {base_fps:.1f} fps "
          f"(full-res, upsample 1); ratio {base_frame / ours_frame:.2f}x")
    results = [{"stage": k, "ms": v} for k, v in med.items()]
    results += [{"figure": "preview_fps", "ours": round(ours_fps, 2),
                 "baseline": round(base_fps, 2), "full_res_u0": round(full_fps, 2)},
                {"figure": "check_in_frame_ms", "ours": round(check_in_ours, 2),
                 "baseline": round(check_in_base, 2)},
                {"figure": "model_load_ms", "ours": round(load_ms, 1)}]
    print(json.dumps({"metric": "live_preview_frame_ms", "unit": "ms",
                      "ours": round(ours_frame, 2), "baseline": round(base_frame, 2),
                      "ratio": round(base_frame / ours_frame, 2), "results": results}))


if __name__ == "__main__":
    main()
