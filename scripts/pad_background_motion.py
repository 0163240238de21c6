"""Does the region around the face move with it? A measurement for issue 15's fourth
presentation-attack cue ("a face that does not move relative to the background"), not a
detector: it decides whether one is worth building.

A photo held up and moved carries its own background: the ring around the face (one face size
on each side) moves exactly with the face. A live head in front of a still room should move
alone. Farneback optical flow (OpenCV) between frames 4 apart, on 320-px-wide greys; the score
is |median flow in the ring| / |median flow in the face|.

Bona fide: the shared real clip (``video/short_hamilton_clip.mp4``, frames 90-220). Attack:
SIMULATED, a shared photo pasted over a synthetic still room and shifted 12 px between frames.

    .venv/bin/python scripts/pad_background_motion.py     # ~20 s

Finding (2026-12-03): on the real clip the ring moves with the face (ratio >= 0.7) in 9 of 21
frame pairs - shoulders, hair and the camera follow the head - so this cue would refuse the
real person as often as not; the SIMULATED held photo scores 1.0 in every pair. Not built.
"""

from __future__ import annotations

import json

import cv2
import numpy as np

from biometrics import FaceEngine, FaceSettings
from biometrics.images import RgbImage, from_bgr, load
from reader.virtual.faces import faces_dir


def ring_over_face(a: np.ndarray, b: np.ndarray, box: tuple[int, int, int, int]) -> float:
    s = 320 / a.shape[1]
    ga = cv2.resize(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), None, fx=s, fy=s)
    gb = cv2.resize(cv2.cvtColor(b, cv2.COLOR_RGB2GRAY), None, fx=s, fy=s)
    flow = np.asarray(cv2.calcOpticalFlowFarneback(
        ga, gb, None, 0.5, 3, 15, 3, 5, 1.2, 0))  # type: ignore[call-overload]
    left, top, right, bottom = (int(v * s) for v in box)
    w, h = right - left, bottom - top
    height, width = ga.shape
    face = np.zeros((height, width), bool)
    face[max(0, top):bottom, max(0, left):right] = True
    outer = np.zeros((height, width), bool)
    outer[max(0, top - h):min(height, bottom + h), max(0, left - w):min(width, right + w)] = True
    moved_face = float(np.linalg.norm(np.median(flow[face], 0)))
    moved_ring = float(np.linalg.norm(np.median(flow[outer & ~face], 0)))
    return moved_ring / max(moved_face, 1e-3)


def main() -> None:
    engine = FaceEngine(FaceSettings())
    engine.load()
    root = faces_dir()
    capture = cv2.VideoCapture(str(root / "video/short_hamilton_clip.mp4"))
    frames: dict[int, RgbImage] = {}
    for i in range(222):
        ok, bgr = capture.read()
        if ok and i >= 90:
            frames[i] = from_bgr(np.asarray(bgr))
    capture.release()
    bona = []
    for i in range(90, 216, 6):
        faces = engine.detect(frames[i], engine.settings.still)
        if faces:
            f = faces[0]
            bona.append(ring_over_face(frames[i], frames[i + 4], (f.left, f.top, f.right,
                                                                  f.bottom)))
    rng = np.random.default_rng(1)
    held = []
    for name in ("people/obama/obama.jpg", "east-asian/ahn-heeyeon/ahn-heeyeon-1.jpg"):
        photo = load(root / name)
        photo = np.asarray(cv2.resize(photo, (400, int(400 * photo.shape[0] / photo.shape[1]))),
                           np.uint8)
        blocks = rng.integers(40, 200, (6, 8, 3)).astype(np.uint8)
        room = cv2.GaussianBlur(cv2.resize(blocks, (1280, 720),
                                           interpolation=cv2.INTER_NEAREST), (0, 0), 30)
        f = engine.detect(photo, engine.settings.still)[0]
        for k in range(4):
            shots = []
            for dx in (10 * k, 10 * k + 12):
                scene = room.copy()
                scene[100:100 + photo.shape[0], 300 + dx:300 + dx + photo.shape[1]] = photo
                shots.append(scene)
            x0 = 300 + 10 * k
            held.append(ring_over_face(shots[0], shots[1], (f.left + x0, f.top + 100,
                                                            f.right + x0, f.bottom + 100)))
    with_face = sum(r >= 0.7 for r in bona)
    print(f"real clip: ring moves with the face (>= 0.7) in {with_face}/{len(bona)} pairs; "
          f"SIMULATED held photo: {sum(r >= 0.7 for r in held)}/{len(held)}")
    print(json.dumps({"bona_fide_pairs": len(bona), "bona_fide_ring_moves": int(with_face),
                      "simulated_held_pairs": len(held),
                      "simulated_held_ring_moves": int(sum(r >= 0.7 for r in held)),
                      "label": "SIMULATED attack, real bona fide clip"}))


if __name__ == "__main__":
    main()
