"""Roster PDF: time and size for 50 / 500 / 2000 candidates, thumbnails against full pictures.

For each size N a session is stored through the proctoring services on a temporary SQLite
store (evidence encrypted at rest, as in production): every candidate has a chip portrait
(a real photo from ``shared/faces/people`` cropped to 3:4 and sized 480 × 640 like a DG2
portrait) and a live frame (a real photo at its own size, up to 1024 px). The photos are cropped
by a few pixels per candidate so no two candidates share picture bytes: reportlab stores
identical images once, which would flatter both sides.

- ours: ``reports.roster.roster_pdf`` — read the facts, decrypt, decode at reduced scale
  (JPEG draft / JPEG 2000 reduce), 96 × 128 thumbnails, lay out, embed the facts, add the
  signature field;
- baseline: the same roster with every picture embedded at full size (what you get by handing
  reportlab the stored JPEGs).

Both run in the same process on the same store; the median of the runs is quoted.

    .venv/bin/python bench/roster.py [--quick] [--reps 3]

Prints one line per figure, then one JSON line: metric, unit, ours, baseline, ratio, results.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image

from proctoring.centres import ensure_centre
from proctoring.checkins import CheckInInput, Reason, record_checkin
from proctoring.crypto import KeyStore
from proctoring.evidence import EvidenceItem
from proctoring.models import Candidate, Decision, EvidenceKind, RosterEntry, SessionKind
from proctoring.sessions import create_session
from proctoring.store import Store
from reader.virtual.faces import faces_dir
from reports.layout import catalog_words
from reports.roster import ROSTER_THUMB, roster_pdf

ACTOR = "bench:roster"
START = datetime(2025, 6, 12, 0, 30, tzinfo=UTC)
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi",
          "Đỗ", "Hồ", "Ngô", "Dương", "Lý"]
MIDDLE = ["Văn", "Thị", "Minh", "Ngọc", "Đức", "Thu", "Quốc", "Thanh", "Hữu", "Gia"]
GIVEN = ["An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hoa", "Hùng",
         "Hương", "Khánh", "Khôi", "Lan", "Linh", "Long", "Mai", "Nga", "Nhung", "Phúc",
         "Phương", "Quân", "Sơn", "Tâm", "Thảo", "Thắng", "Thủy", "Trang", "Tuấn", "Uyên",
         "Việt", "Xuân", "Yến"]


@cache
def sources() -> list[Image.Image]:
    """Every photo of shared/faces/people but the one showing two people, decoded once."""
    files = sorted(p for p in (faces_dir() / "people").glob("*/*.jpg") if p.name != "img67.jpg")
    images = []
    for f in files:
        with Image.open(f) as im:
            images.append(im.convert("RGB"))
    return images


def _jpeg(im: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality)
    return out.getvalue()


def pictures(i: int) -> tuple[bytes, bytes]:
    """(chip portrait, live frame) for candidate i, from real photos, unique bytes."""
    photos = sources()
    shift = 1 + i // len(photos)
    chip = photos[i % len(photos)]
    w, h = chip.size
    side = min(w * 4 // 3, h) - shift
    box_w = side * 3 // 4
    left, top = max(0, (w - box_w) // 2 - shift), max(0, (h - side) // 2)
    portrait = chip.crop((left, top, left + box_w, top + side)).resize((480, 640))
    live = photos[(i + 7) % len(photos)]
    frame = live.crop((shift, shift, live.width - shift, live.height - shift))
    return _jpeg(portrait, 85), _jpeg(frame, 88)


def populate(store: Store, n: int) -> str:
    # A centre per size: candidates are unique per centre and ID.
    centre = ensure_centre(store, f"HN{n}", "Trung tâm Khảo thí Hà Nội", actor=ACTOR)
    code = f"BENCH-{n}"
    session = create_session(store, centre_id=centre.id, kind=SessionKind.ONLINE_EXAM,
                             title=f"Tin học cơ bản — {n} thí sinh", starts_at=START,
                             code=code, actor=ACTOR)
    entries = []
    with store.write() as tx:
        for i in range(n):
            name = (f"{FAMILY[i % len(FAMILY)]} {MIDDLE[(i // 3) % len(MIDDLE)]} "
                    f"{GIVEN[(i * 7) % len(GIVEN)]}")
            dob = date(1980 + i % 25, 1 + i % 12, 1 + i % 28)
            g = (0 if dob.year < 2000 else 2) + i % 2
            cand = Candidate(centre_id=centre.id, id_number=f"001{g}{dob.year % 100:02d}"
                             f"{i:06d}", full_name=name, date_of_birth=dob,
                             sex="F" if i % 2 else "M")
            tx.add(cand)
            tx.flush()
            entry = RosterEntry(centre_id=centre.id, session_id=session.id,
                                candidate_id=cand.id, registration_number=f"TH{i + 1:05d}",
                                seat=f"P{1 + i // 30}-{i % 30 + 1:02d}", position=i + 1)
            tx.add(entry)
            entries.append((entry.id, cand.id_number))
    for i, (entry_id, number) in enumerate(entries):
        if i % 25 == 24:
            continue  # a few absent, as on any real roster
        chip, frame = pictures(i)
        at = START - timedelta(minutes=40) + timedelta(seconds=5 * i)
        record_checkin(store, CheckInInput(
            session_id=session.id, id_number=number, decision=Decision.ADMIT,
            # What the decision records for a matching face on a card whose issuer cannot be
            # confirmed without the national CSCA (every card at such a centre): one reason,
            # printed on its own line under the row (issue 13).
            reasons=[Reason("verdict.no_csca", "", {"finding": "passive.no_csca"})],
            consent=True, started_at=at,
            decided_at=at, roster_entry_id=entry_id, trust_verdict="SUSPICIOUS",
            face_outcome="match", face_distance=0.3 + (i % 10) / 100, liveness="passed",
            evidence=[EvidenceItem(EvidenceKind.CHIP_PORTRAIT, chip, "image/jpeg", at),
                      EvidenceItem(EvidenceKind.LIVE_FRAME, frame, "image/jpeg", at)],
            checkin_id=uuid.uuid4()), actor=ACTOR)
    return code


def measure(store: Store, code: str, *, full_size: bool, reps: int) -> dict[str, float]:
    words = catalog_words("vi")
    times, size, pages = [], 0, 0
    for _ in range(reps):
        t0 = time.perf_counter()
        made = roster_pdf(store, code, words, thumbs=None if full_size else ROSTER_THUMB)
        times.append(time.perf_counter() - t0)
        size, pages = len(made.data), made.pages
    return {"time_s": statistics.median(times), "size_mb": size / 1e6, "pages": pages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 and 500 candidates only")
    parser.add_argument("--reps", type=int, default=3, help="runs per figure (median)")
    args = parser.parse_args()
    sizes = [50, 500] if args.quick else [50, 500, 2000]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'bench.db'}",
                           keys=KeyStore(Path(tmp) / "keys", use_keyring=False))
        try:
            for n in sizes:
                t0 = time.perf_counter()
                code = populate(store, n)
                setup = time.perf_counter() - t0
                # The big rosters run once (a minute each at full size); --quick stays under
                # a minute by running 500 once too.
                reps = args.reps if n <= 50 or (n <= 500 and not args.quick) else 1
                ours = measure(store, code, full_size=False, reps=reps)
                base = measure(store, code, full_size=True, reps=reps)
                row = {"candidates": n, "ours_s": round(ours["time_s"], 3),
                       "baseline_s": round(base["time_s"], 3),
                       "ours_mb": round(ours["size_mb"], 2),
                       "baseline_mb": round(base["size_mb"], 2),
                       "pages": ours["pages"],
                       "time_ratio": round(base["time_s"] / ours["time_s"], 2),
                       "size_ratio": round(base["size_mb"] / ours["size_mb"], 2),
                       "runs": reps, "setup_s": round(setup, 1)}
                results.append(row)
                print(f"{n:>5} candidates, {ours['pages']:>4} pages: "
                      f"ours {ours['time_s']:.2f} s {ours['size_mb']:.2f} MB · "
                      f"full-size pictures {base['time_s']:.2f} s {base['size_mb']:.2f} MB · "
                      f"size ×{row['size_ratio']}, time ×{row['time_ratio']} "
                      f"(median of {reps}; data set up in {setup:.0f} s)", flush=True)
        finally:
            store.close()
    head = next(r for r in results if r["candidates"] == 500)
    print(json.dumps({"metric": "roster PDF size, 500 candidates", "unit": "MB",
                      "ours": head["ours_mb"], "baseline": head["baseline_mb"],
                      "ratio": head["size_ratio"], "results": results}, ensure_ascii=False))


if __name__ == "__main__":
    main()
