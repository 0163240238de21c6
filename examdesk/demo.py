"""The demo: a whole exam desk without a reader, a webcam or any data of the user's.

- a folder of its own (``<data dir>/demo``, laid out like an ``EXAMDESK_HOME``), rebuilt on
  every start, with the project's test CSCA in its trust store (genuine virtual cards verify
  as TRUSTED), a centre, an exam session, a roster imported from a CSV like a centre's own,
  and a signing certificate for the roster PDF;
- virtual chip cards built in code from the shipped profiles, their portraits replaced by real
  ORL photos (JPEG 2000, as on a CCCD), so the person the file camera shows passes liveness
  (ORL s27 has an eyes-closed shot) and matches the chip;
- a "deck" that puts the next card on the reader: through pcscd's vpcd driver when pcscd runs
  with the "Virtual PCD 00 00" reader free, in this process (loopback) otherwise.

No Tk here: the app (and a test) drive it.
"""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from biometrics import Camera, FileCamera
from biometrics.config import ORL_POINT
from examdesk.keyed_error import KeyedError
from examdesk.settings import write_section
from proctoring.centres import ensure_centre
from proctoring.crypto import KeyStore
from proctoring.csvfile import csv_bytes
from proctoring.models import SessionKind
from proctoring.roster import import_roster
from proctoring.sessions import create_session
from proctoring.store import Store
from reader.trust.store import TrustStore
from reader.virtual import CardProfile, VirtualCccd, VpcdConnection, faces_dir, load_profile
from reader.virtual.pki import test_csca_pem
from reader.virtual.profile import Portrait
from reports.keys import create_centre_keys

MARKER = ".examdesk-demo"  # only a folder carrying this is ever wiped
VPCD_READER = "Virtual PCD 00 00"
VPCD_PORT = 35963
CENTRE_CODE = "DEMO"
CENTRE_NAME = "Trung tâm sát hạch mẫu (demo)"
SESSION_CODE = "DEMO-TOAN"
SESSION_TITLE = "Thi thử — Toán khối A"
SIGNER_PASSWORD = "demo-password"  # the demo certificate protects nothing real
FRAMES_PER_SECOND = 8.0  # the file camera's pace: a blink shows for ~1/8 s, like a real one
FRAME_SIZE = (1280, 720)

# On the demo roster, in this order (le-hoang-minh is deliberately not).
ROSTER_PROFILES = ("nguyen-van-an", "tran-thi-bich-ngoc", "pham-thi-hong", "vo-minh-tuan",
                   "do-thu-trang")


DEMO_DESK = "Cửa 1"


class Scenario(StrEnum):
    RIGHT_PERSON = "right-person"
    OTHER_FACE = "other-face"
    FORGED = "forged"
    CLONED = "cloned"
    NOT_ON_ROSTER = "not-on-roster"


@dataclass(frozen=True)
class DemoCard:
    scenario: Scenario
    profile: CardProfile
    photos: tuple[Path, ...]  # what the camera shows while this card is on the reader


def _orl(person: str, shots: tuple[int, ...]) -> tuple[Path, ...]:
    return tuple(faces_dir() / "orl" / person / f"{n}.png" for n in shots)


# s27: 5.png and 9.png are eyes-closed shots, each between open ones; 10.png is the chip's.
# Two blinks in the loop: the liveness check starts at whatever photo the looping camera shows
# and counts a photo seen again as a frozen picture, so with one closed shot a check that began
# on it (or just after it) could not see open → closed → open before the loop came round (2 of
# 7 starting photos failed; the demo and the desk tests then went to REVIEW about one time in
# twelve). With two, every starting photo passes (8 of 8, measured). The camera also adds a
# webcam's sensor noise: the desk's check-in reads the newest frame and skips what went by
# while it measured the last, and without noise a loop that came round before the reader saw
# a closed shot was a frozen picture (6 of 12 seeded busy readers failed; with noise 0 of 12).
S27_BLINK = (1, 5, 7, 2, 3, 4, 8, 9)


def _with_portrait(profile: CardProfile, photo: str, note: str) -> CardProfile:
    return dataclasses.replace(profile, portrait=Portrait(photo, "jpeg2000"),
                               description=f"demo: {note}")


def demo_cards() -> dict[Scenario, DemoCard]:
    """The five cards of the demo control, built from the shipped profiles."""
    an = _with_portrait(load_profile("nguyen-van-an"), "orl/s27/10.png",
                        "Nguyễn Văn An, ORL s27 on the chip")
    forged = _with_portrait(load_profile("attack-portrait-swapped"), "orl/s27/10.png",
                            "An's card, another photo put in DG2 after signing")
    cloned = _with_portrait(load_profile("attack-clone"), "orl/s27/10.png",
                            "a copy of An's chip data in a chip without his keys")
    stranger = _with_portrait(load_profile("le-hoang-minh"), "orl/s5/10.png",
                              "Lê Hoàng Minh, genuine, not on this roster")
    people = faces_dir() / "people"
    return {
        Scenario.RIGHT_PERSON: DemoCard(Scenario.RIGHT_PERSON, an, _orl("s27", S27_BLINK)),
        Scenario.OTHER_FACE: DemoCard(Scenario.OTHER_FACE, an, _orl("s12", (1, 2, 3, 4, 5, 6))),
        # The impostor whose photo was swapped into the chip sits at the desk.
        Scenario.FORGED: DemoCard(Scenario.FORGED, forged,
                                  tuple(sorted((people / "obama").glob("obama[0-9].jpg")))),
        Scenario.CLONED: DemoCard(Scenario.CLONED, cloned, _orl("s12", (1, 2, 3, 4, 5, 6))),
        Scenario.NOT_ON_ROSTER: DemoCard(Scenario.NOT_ON_ROSTER, stranger,
                                         _orl("s5", (1, 2, 3, 4, 5, 6))),
    }


def demo_camera(photos: tuple[Path, ...]) -> Camera:
    return FileCamera(list(photos), loop=True, fps=FRAMES_PER_SECOND, frame_size=FRAME_SIZE,
                      sensor_noise=True)


# --- the demo's own data folder ---------------------------------------------------------------


class DemoFolderTaken(KeyedError):
    """The demo folder exists, holds files and was not made by the demo: never wiped
    (context: ``path``)."""

    key = "app.demo_folder_taken"


@dataclass(frozen=True)
class DemoHome:
    root: Path
    config: Path
    data: Path
    db_url: str
    session_code: str
    signer_p12: Path
    signer_password: str

    def keys(self) -> KeyStore:
        # Files only: the OS keyring is the user's, and holds the user's real data key.
        return KeyStore(self.config / "keys", use_keyring=False)


def prepare_demo_home(root: Path, *, actor: str) -> DemoHome:
    """A fresh demo folder: trust store, database with centre, session and roster, and a
    roster-signing certificate. Whatever an earlier demo left there is deleted first."""
    if root.exists() and any(root.iterdir()):
        if not (root / MARKER).exists():
            raise DemoFolderTaken(f"{root} exists and was not made by the demo", path=str(root))
        shutil.rmtree(root)
    config, data = root / "config", root / "data"
    for folder in (config, data):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    (root / MARKER).write_text("made by `examdesk app --demo`; deleted when it starts again\n")

    # The demo's candidates are ORL people (Cambridge, 1992–94, 92×112 grey photos blown up to
    # webcam frames): the demo centre runs on an operating point calibrated on that
    # population, as issue 14 says a centre should. The shipped default is calibrated on East
    # Asian faces; on it the right person's frames measure 0.308 from his chip portrait and go
    # to REVIEW, which is the default doing its job on a population it was not set for.
    write_section("face", {"operating_point": dataclasses.replace(
        ORL_POINT, source="demo centre: calibrated on its own people (ORL), FMR 1e-3").to_dict()},
        config / "settings.json")

    # The demo station's name: what "already admitted at 07:42 at desk Cửa 1" says.
    write_section("app", {"desk": DEMO_DESK}, config / "settings.json")

    csca = root / "test-csca.pem"
    csca.write_bytes(test_csca_pem())
    TrustStore.load(data / "trust").import_file(csca)

    home = DemoHome(root, config, data, f"sqlite:///{data / 'examdesk.db'}", SESSION_CODE,
                    config / "keys" / "pdf" / "demo.p12", SIGNER_PASSWORD)
    store = Store.open(home.db_url, keys=home.keys())
    try:
        centre = ensure_centre(store, CENTRE_CODE, CENTRE_NAME, actor=actor)
        create_session(store, centre_id=centre.id, kind=SessionKind.ONLINE_EXAM,
                       title=SESSION_TITLE, starts_at=datetime.now(UTC), code=SESSION_CODE,
                       actor=actor)
        roster = root / "roster.csv"
        write_roster_csv(roster)
        import_roster(store, SESSION_CODE, roster, actor=actor)
    finally:
        store.close()
    create_centre_keys(centre_code=CENTRE_CODE, centre_name=CENTRE_NAME,
                       password=SIGNER_PASSWORD.encode(), folder=home.signer_p12.parent)
    return home


def write_roster_csv(path: Path) -> None:
    """The roster as a centre would export it from its registration system."""
    rows = []
    for n, name in enumerate(ROSTER_PROFILES, 1):
        h = load_profile(name).holder
        rows.append([f"SBD{n:03d}", h.id_number, h.full_name,
                     h.date_of_birth.strftime("%d/%m/%Y"), h.sex, f"A{n:02d}"])
    path.write_bytes(csv_bytes(
        ["Số báo danh", "Số CCCD", "Họ và tên", "Ngày sinh", "Giới tính", "Chỗ ngồi"], rows))


# --- putting cards on the reader ----------------------------------------------------------


@dataclass(frozen=True)
class Presented:
    card: DemoCard
    can: str  # what the invigilator would type from the card's front
    via: str  # "vpcd" or "loopback"


class LoopbackSlot(Protocol):
    """Where the in-process card goes (the app's loopback card source)."""

    def put(self, card: VirtualCccd | None) -> None: ...


def vpcd_reader_free() -> bool:
    """pcscd runs with the vpcd driver and no other card sits in its first slot."""
    try:
        from reader.transport import list_readers

        states = {s.reader: s for s in list_readers()}
    except Exception:  # no pcscd, no pyscard, no reader: the demo runs in-process
        return False
    state = states.get(VPCD_READER)
    return state is not None and not state.present


def _reader_present(name: str) -> bool | None:
    try:
        from reader.transport import list_readers

        for s in list_readers():
            if s.reader == name:
                return s.present
    except Exception:
        return None
    return None


class DemoDeck:
    """Presents the demo cards one at a time, through vpcd or in process."""

    def __init__(self, loopback: LoopbackSlot | None, *, use_vpcd: bool) -> None:
        self.cards = demo_cards()
        self.use_vpcd = use_vpcd
        self._loopback = loopback
        self._link: VpcdConnection | None = None
        self._lock = threading.Lock()

    @property
    def via(self) -> str:
        return "vpcd" if self.use_vpcd else "loopback"

    def present(self, scenario: Scenario) -> Presented:
        """Take the card on the reader away and put this scenario's card there (a fresh chip,
        so no state of an earlier read carries over). Blocks up to a few seconds: call it
        from a worker thread."""
        card = self.cards[scenario]
        chip = VirtualCccd(card.profile)
        with self._lock:
            if self.use_vpcd:
                self._swap_vpcd(chip)
            elif self._loopback is not None:
                self._loopback.put(chip)
        return Presented(card, card.profile.holder.can, self.via)

    def _swap_vpcd(self, chip: VirtualCccd) -> None:
        if self._link is not None:
            self._link.stop()
            self._link = None
            _wait_reader(present=False)
        link = VpcdConnection(chip, port=VPCD_PORT)
        link.start()
        self._link = link
        _wait_reader(present=True)

    def close(self) -> None:
        with self._lock:
            if self._link is not None:
                self._link.stop()
                self._link = None
                _wait_reader(present=False, timeout=3.0)


def _wait_reader(present: bool, timeout: float = 5.0) -> None:
    """pcscd notices an inserted or removed vpcd card after a short poll; wait for it so the
    next read talks to the card just presented."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _reader_present(VPCD_READER) is present:
            return
        time.sleep(0.05)
