#!/usr/bin/env python3
"""A simulated exam room: seat agents with file cameras playing real faces from ../shared/faces
on a timeline, against a real store — for the room screen's acceptance run (tests/examdesk/gui/
test_room.py runs it compressed) and for a faithful run by hand.

    room_sim.py setup --db URL --keys DIR --session ROOM8
        a session with eight candidates (ORL people s1..s8) admitted at the door, each with
        the chip portrait, the door's frame and face descriptor, seats A01..A08
    room_sim.py run --db URL --keys DIR --session ROOM8 --seats A01,A02 [--faithful]
        the agents of those seats, in threads of this one process, until the timeline ends;
        one JSON line per scene shown and per state change (wall-clock times, for measuring)

The room (seat: what its camera plays after the candidate sat down for EVENT_AT seconds):
    A01 the candidate throughout                A05 the camera covered (a hand over it)
    A02 leaves for 15 s (an empty chair), back  A06 the camera unplugged
    A03 a second person joins (two faces)       A07 the agent is killed (the caller SIGKILLs it)
    A04 someone else sits down (ORL s40)        A08 steps out (the invigilator paused the seat)

Compressed (the default): a check every second, absence after 3 s, several faces after 1.5 s,
camera lost or covered after 2 s, a heartbeat every second. ``--faithful``: the agent's
defaults (2 s, 10 s, 4 s, 6 s, 6 s, 2 s) and a longer timeline. A05 must reach "camera
covered", never "away from the seat": the frame of a hand over the lens is told from an empty
chair (biometrics/lens.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image
from sqlmodel import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from biometrics import FaceEngine, FaceSettings, enrol  # noqa: E402
from biometrics.camera import Frame  # noqa: E402
from biometrics.config import ORL_POINT  # noqa: E402
from biometrics.errors import CameraUnavailable  # noqa: E402
from biometrics.images import fit_frame, load  # noqa: E402
from examdesk.services.seat_consent import consent_text  # noqa: E402
from proctoring.checkins import CheckInInput, Reason, embedding_item, record_checkin  # noqa: E402
from proctoring.crypto import KeyStore  # noqa: E402
from proctoring.evidence import EvidenceItem  # noqa: E402
from proctoring.models import (  # noqa: E402
    Candidate,
    Decision,
    EvidenceKind,
    RosterEntry,
    SessionKind,
)
from proctoring.monitor import MonitorRules  # noqa: E402
from proctoring.seat import SeatAgent, SeatRules, StateChanged  # noqa: E402
from proctoring.seat_buffer import SeatBuffer  # noqa: E402
from proctoring.seat_run import SeatObserver, SeatRunner, StepResult, run  # noqa: E402
from proctoring.seat_store import seat_place  # noqa: E402
from proctoring.sessions import create_session, find_session  # noqa: E402
from proctoring.store import Store  # noqa: E402
from reader.virtual import faces_dir  # noqa: E402

ORL = faces_dir() / "orl"
FRAME = (1280, 720)
SEATS = tuple(f"A{n:02d}" for n in range(1, 9))
PEOPLE = {  # seat: (ORL subject, name, 12-digit ID)
    "A01": ("s1", "Nguyễn Văn An", "001093014275"),
    "A02": ("s2", "Trần Thị Bích Ngọc", "001190012345"),
    "A03": ("s3", "Phạm Thị Hồng", "079205000123"),
    "A04": ("s4", "Võ Minh Tuấn", "048301001122"),
    "A05": ("s5", "Đỗ Thu Trang", "001301004567"),
    "A06": ("s6", "Lê Hoàng Minh", "001094007890"),
    "A07": ("s7", "Hoàng Văn Nam", "001096003456"),
    "A08": ("s8", "Bùi Thị Lan", "001302009876"),
}
SWAP = "s40"


@dataclass(frozen=True)
class Pace:
    interval: float
    rules: SeatRules
    event_at: float  # seconds after the start: the scene changes
    away: float  # how long A02 is away
    total: float  # the agents stop


COMPRESSED = Pace(1.0, SeatRules(monitor=MonitorRules(
    interval=timedelta(seconds=1), absent_after=timedelta(seconds=3),
    several_after=timedelta(seconds=1.5)), heartbeat_every=timedelta(seconds=1),
    camera_lost_after=timedelta(seconds=2), camera_covered_after=timedelta(seconds=2)),
    event_at=10.0, away=15.0, total=34.0)
FAITHFUL = Pace(2.0, SeatRules(), event_at=30.0, away=15.0, total=90.0)


def own(subject: str) -> list[Path]:
    return [ORL / subject / f"{n}.png" for n in range(1, 10)]


# --- cameras ---------------------------------------------------------------------------------


class TimelineCamera:
    """Plays scenes by the wall clock: each scene is (start in seconds, what) where what is a
    list of real photos (cycled), "covered" (a hand over the lens: dark, skin-coloured, a
    little light through the fingers in the middle) or
    "unplugged" (the device is gone: CameraUnavailable)."""

    def __init__(self, scenes: list[tuple[float, object]], t0: float,
                 on_scene: object = None) -> None:
        self.scenes = sorted(scenes, key=lambda s: s[0])
        self.t0 = t0
        self.index = 0
        self.on_scene = on_scene
        self._seen: set[int] = set()
        self._cache: dict[Path, np.ndarray] = {}
        self._rng = np.random.default_rng(len(scenes))

    def _scene(self) -> tuple[int, object]:
        elapsed = time.time() - self.t0
        current = 0
        for i, (start, _) in enumerate(self.scenes):
            if elapsed >= start:
                current = i
        return current, self.scenes[current][1]

    def read(self, timeout: float = 2.0) -> Frame:
        number, what = self._scene()
        if number not in self._seen:
            self._seen.add(number)
            if callable(self.on_scene):
                self.on_scene(number)
        self.index += 1
        if what == "unplugged":
            raise CameraUnavailable("unplugged (simulated)", source="timeline")
        if what == "covered":
            image = self._hand()
        else:
            assert isinstance(what, list)
            path = what[self.index % len(what)]
            if path not in self._cache:
                self._cache[path] = fit_frame(load(path), FRAME)
            image = self._cache[path].copy()
        noise = self._rng.integers(-2, 3, image.shape, dtype=np.int16)
        image = np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        return Frame(image, self.index, time.monotonic())

    def close(self) -> None:
        pass

    def _hand(self) -> np.ndarray:
        w, h = FRAME
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        glow = 1.15 - 0.15 * np.hypot(xx / w - 0.5, yy / h - 0.5) * 2
        hand = np.array([46, 28, 22], np.float32)[None, None, :] * glow[..., None]
        return hand.astype(np.uint8)


def empty_chair(folder: Path) -> Path:
    """The lower part of a real photo (a suit and a tie): nobody in the chair."""
    out = folder / "empty-chair.png"
    if not out.exists():
        photo = Image.open(faces_dir() / "people" / "obama" / "obama.jpg").convert("RGB")
        w, h = photo.size
        photo.crop((0, int(h * 0.62), w, h)).save(out)
    return out


def scenes(seat: str, pace: Pace, folder: Path) -> list[tuple[float, object]]:
    subject = PEOPLE[seat][0]
    mine: object = own(subject)
    at = pace.event_at
    chair: object = [empty_chair(folder)]
    two: object = [faces_dir() / "several" / "two_people.jpg"]
    other: object = own(SWAP)
    timeline: dict[str, list[tuple[float, object]]] = {
        "A01": [(0, mine)],
        "A02": [(0, mine), (at, chair), (at + pace.away, mine)],
        "A03": [(0, mine), (at, two)],
        "A04": [(0, mine), (at, other)],
        "A05": [(0, mine), (at, "covered")],
        "A06": [(0, mine), (at, "unplugged")],
        "A07": [(0, mine)],
        "A08": [(0, mine), (at, chair)],
    }
    return timeline[seat]


# --- the door ---------------------------------------------------------------------------------


def engine() -> FaceEngine:
    e = FaceEngine(FaceSettings(operating_point=ORL_POINT), landmarks_68=False)
    e.load()
    return e


def setup(store: Store, code: str, face: FaceEngine) -> None:
    """The session, its roster and every candidate admitted at the door (their chip portrait,
    the door's frame and the face descriptor the seat compares against)."""
    from proctoring.centres import ensure_centre

    centre = ensure_centre(store, "DEMO", "Trung tâm sát hạch mẫu (demo)", actor="sim:room")
    session = create_session(store, centre_id=centre.id, kind=SessionKind.ONLINE_EXAM,
                             title="Phòng thi mô phỏng (8 chỗ)",
                             starts_at=datetime.now(UTC), code=code, actor="sim:room")
    entries = {}
    with store.write() as tx:
        for n, seat in enumerate(SEATS, 1):
            subject, name, number = PEOPLE[seat]
            cand = tx.exec(select(Candidate)
                           .where(Candidate.centre_id == centre.id)
                           .where(Candidate.id_number == number)).first()
            if cand is None:
                cand = Candidate(centre_id=centre.id, id_number=number, full_name=name,
                                 date_of_birth=datetime(2005, 1, n).date(), sex="M")
                tx.add(cand)
                tx.flush()
            entry = RosterEntry(centre_id=centre.id, session_id=session.id,
                                candidate_id=cand.id, registration_number=f"SBD{n:03d}",
                                seat=seat, position=n)
            tx.add(entry)
            tx.flush()
            entries[seat] = entry.id
    for seat in SEATS:
        subject = PEOPLE[seat][0]
        portrait = (ORL / subject / "10.png").read_bytes()
        door = (ORL / subject / "9.png").read_bytes()
        reference = enrol(face, portrait).embedding
        record_checkin(store, CheckInInput(
            session_id=session.id, id_number=PEOPLE[seat][2], decision=Decision.ADMIT,
            reasons=[Reason("checkin.face_match")], consent=True,
            started_at=datetime.now(UTC), roster_entry_id=entries[seat],
            face_outcome="MATCH", face_distance=0.3,
            evidence=[EvidenceItem(EvidenceKind.CHIP_PORTRAIT, portrait, "image/png"),
                      EvidenceItem(EvidenceKind.LIVE_FRAME, door, "image/png"),
                      embedding_item(np.asarray(reference))]), actor="sim:door")


# --- the seats ---------------------------------------------------------------------------------


def say(lock: threading.Lock, **line: object) -> None:
    with lock:
        print(json.dumps(line, ensure_ascii=False), flush=True)


def run_seats(store: Store, code: str, seats: list[str], pace: Pace, folder: Path,
              face: FaceEngine, t0: float) -> None:
    lock = threading.Lock()
    stop = threading.Event()
    threads = []
    last: dict[str, str] = {}  # each seat's state as last said
    for seat in seats:
        place = seat_place(store, code, seat)
        camera = TimelineCamera(scenes(seat, pace, folder), t0,
                                on_scene=lambda n, s=seat: say(lock, seat=s, scene=n,
                                                               at=time.time()))
        runner = SeatRunner(
            agent=SeatAgent(face.settings.operating_point, pace.rules),
            observer=SeatObserver(face), camera=camera,
            buffer=SeatBuffer(folder / f"seat-{seat}.db", store.data_key), store=store,
            place=place, actor=f"seat:{seat}", clock=lambda: datetime.now(UTC),
            # The simulated candidates said yes to the seat's own consent text.
            consent=lambda _admission, s=seat: consent_text(s, pace.interval).answer(True, "vi"))

        def on_step(result: StepResult, s: str = seat) -> None:
            said = False
            for event in result.events:
                if isinstance(event, StateChanged):
                    said = True
                    say(lock, seat=s, state=event.state.value, at=event.at.timestamp(),
                        stored=time.time(), pending=result.pending)
            if not said and last.get(s) != result.state.value:
                # A pause from the room changes the state outside the step's own events:
                # its time is when the step ended (an upper bound on the change).
                say(lock, seat=s, state=result.state.value, at=time.time(),
                    stored=time.time(), pending=result.pending)
            last[s] = result.state.value

        thread = threading.Thread(
            target=run, args=(runner,),
            kwargs={"interval": pace.interval, "stop": stop.is_set, "on_step": on_step,
                    "sleep": stop.wait}, name=f"seat-{seat}", daemon=True)
        threads.append(thread)
    for thread in threads:
        thread.start()
    stop.wait(max(0.0, t0 + pace.total - time.time()))
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    say(lock, done=True, at=time.time())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("setup", "run"))
    parser.add_argument("--db", required=True)
    parser.add_argument("--keys", required=True, type=Path)
    parser.add_argument("--session", default="ROOM8")
    parser.add_argument("--seats", default=",".join(SEATS))
    parser.add_argument("--folder", type=Path, default=Path("/tmp/examdesk-room-sim"))
    parser.add_argument("--start", type=float, default=None,
                        help="the timeline's zero (epoch seconds; default: now)")
    parser.add_argument("--faithful", action="store_true")
    args = parser.parse_args(argv)
    store = Store.open(args.db, keys=KeyStore(args.keys, use_keyring=False))
    face = engine()
    try:
        if args.what == "setup":
            setup(store, args.session, face)
            with store.read() as tx:
                print(json.dumps({"session": str(find_session(tx, args.session).id)}),
                      flush=True)
            return 0
        args.folder.mkdir(parents=True, exist_ok=True)
        pace = FAITHFUL if args.faithful else COMPRESSED
        seats = [s.strip() for s in args.seats.split(",") if s.strip()]
        say(threading.Lock(), ready=True, at=time.time())
        run_seats(store, args.session, seats, pace, args.folder, face,
                  args.start if args.start is not None else time.time())
        return 0
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
