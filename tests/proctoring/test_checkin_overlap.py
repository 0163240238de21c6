"""The overlapped check-in (issue 16): the camera, the liveness challenge and the live encodings
run while the card is read, the chip portrait is encoded in a second face process as soon as
DG2 arrives. Same inputs → the same decision, evidence and audit event as the check-in done one
step after the other; a cancel at any stage stores nothing and leaves no branch running.

Real parts: the virtual CCCD on the loopback reader, a file camera of real ORL photos, the real
store (SQLite and PostgreSQL), dlib in this process and in a child process; one check-in goes
through pcscd (hold /tmp/examdesk-pcscd.lock to run this file). Not timed."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from biometrics import Camera, Challenge, FaceEngine, FaceSettings, FileCamera, Frame
from biometrics.config import ORL_POINT
from biometrics.engine import Encoding, Face
from biometrics.remote import SEGMENT_PREFIX, ProcessFaceEngine
from examdesk.services.cards import CardSource, PcscCards
from examdesk.services.checkin import CheckInRequest, run_checkin
from examdesk.services.trust import TrustFiles
from examdesk.views.cards import LoopbackCards
from proctoring.checkin import CheckInCancelled, CheckInOutcome, CheckInService, Progress, Step
from proctoring.evidence import read_evidence
from proctoring.models import AuditEvent, CheckIn, Evidence, ExamSession, Incident, RosterEntry
from proctoring.store import Store
from reader.errors import CardRemoved
from reader.keys import Can
from reader.session import CardRead
from reader.transport import LoopbackTransport
from reader.trust.report import TrustReport
from reader.virtual import VirtualCccd, VpcdConnection, faces_dir, load_profile
from reader.virtual.pki import test_csca_pem
from reader.virtual.profile import Portrait
from tests.conftest import VPCD_PORT, wait_for_reader_state

from .helpers import add_roster, centre_and_session
from .test_checkin_service import PEOPLE

ORL = faces_dir() / "orl"
OWN_FACE = [ORL / "s27" / f"{n}.png" for n in (1, 5, 7, 2, 3, 4, 8)]
SETTINGS = FaceSettings().with_operating_point(ORL_POINT)  # ORL people: ORL's calibration


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    e = FaceEngine(SETTINGS)
    e.load()
    return e


@pytest.fixture(scope="module")
def portrait_engine() -> Iterator[ProcessFaceEngine]:
    e = ProcessFaceEngine(SETTINGS)
    e.load()
    yield e
    e.close()


def _card() -> VirtualCccd:
    profile = load_profile("nguyen-van-an")
    return VirtualCccd(dataclasses.replace(profile, portrait=Portrait("orl/s27/10.png",
                                                                      "jpeg2000")))


def _trust(tmp_path: Path) -> TrustFiles:
    folder = tmp_path / "trust"
    folder.mkdir(exist_ok=True)
    (folder / "csca.pem").write_bytes(test_csca_pem())
    return TrustFiles(folder, tmp_path / "policy.toml")


class _Listener:
    def __init__(self, on_progress: Callable[[Progress], None] | None = None,
                 on_reading: Callable[[str], None] | None = None) -> None:
        self.steps: list[Progress] = []
        self._on_progress = on_progress
        self._on_reading = on_reading
        self._lock = threading.Lock()

    def reading(self, file: str, done: int, total: int) -> None:
        if self._on_reading is not None:
            self._on_reading(file)

    def card_read(self, card: CardRead, trust: TrustReport) -> None:
        return None

    def progress(self, progress: Progress) -> None:
        with self._lock:
            self.steps.append(progress)
        if self._on_progress is not None:
            self._on_progress(progress)


class _Camera:
    """A file camera that says when it was opened and closed, and may act at a frame."""

    def __init__(self, at_read: Callable[[int], None] | None = None) -> None:
        self.inner = FileCamera(OWN_FACE, loop=True, frame_size=(1280, 720))
        self.reads = 0
        self.closed = False
        self._at_read = at_read

    def read(self, timeout: float = 2.0) -> Frame:
        self.reads += 1
        if self._at_read is not None:
            self._at_read(self.reads)
        return self.inner.read(timeout)

    def close(self) -> None:
        self.closed = True
        self.inner.close()


@dataclasses.dataclass
class _Run:
    store: Store
    session: ExamSession
    tmp_path: Path
    engine: FaceEngine
    portrait: FaceEngine
    cameras: list[_Camera] = dataclasses.field(default_factory=list)

    def checkin(self, *, overlap: bool, cancel: threading.Event | None = None,
                listener: _Listener | None = None, portrait: FaceEngine | None = None,
                at_read: Callable[[int], None] | None = None,
                challenge: Challenge | None = Challenge.BLINK, card: VirtualCccd | None = None,
                cards: CardSource | None = None) -> CheckInOutcome:
        """One check-in through ``run_checkin``, the card on the loopback reader unless
        *cards* (pcscd) holds it."""
        card = card or _card()
        if cards is None:
            loopback = LoopbackCards()
            loopback.put(card)
            cards = loopback
        # The same seed: a random challenge plan is the same one in both runs.
        service = CheckInService(self.store, self.engine, rng=random.Random(16),
                                 portrait_engine=portrait or self.portrait)

        def camera() -> Camera:
            cam = _Camera(at_read)
            self.cameras.append(cam)
            return cam

        ready = threading.Event()
        ready.set()
        request = CheckInRequest(self.session, (Can(card.access_data()["can"]),),
                                 consent=True, actor="t", challenge=challenge)
        return run_checkin(request, cards=cards, trust=_trust(self.tmp_path), service=service,
                           camera=camera, models_ready=ready, listener=listener or _Listener(),
                           cancel=cancel, overlap=overlap)


@pytest.fixture
def run(store: Store, tmp_path: Path, engine: FaceEngine,
        portrait_engine: ProcessFaceEngine) -> _Run:
    session = centre_and_session(store)
    add_roster(store, session, PEOPLE)
    return _Run(store, session, tmp_path, engine, portrait_engine)


def _fresh_session(run: _Run) -> None:
    """A second session with the same candidate on its roster: a second check-in in the same
    session would be a later attempt of someone admitted (REVIEW), another decision."""
    with run.store.read() as tx:
        candidate_id = tx.exec(select(RosterEntry.candidate_id)
                               .where(RosterEntry.session_id == run.session.id)).one()
    run.session = centre_and_session(run.store, code=f"S{uuid.uuid4().hex[:6]}")
    with run.store.write() as tx:
        tx.add(RosterEntry(centre_id=run.session.centre_id, session_id=run.session.id,
                           candidate_id=candidate_id, registration_number="001", seat="A01",
                           position=1))


def _stored(store: Store, checkin_id: uuid.UUID) -> dict[str, Any]:
    """What a check-in left in the store, without its ids and times."""
    with store.read() as tx:
        row = tx.get(CheckIn, checkin_id)
        assert row is not None
        evidence = {e.kind: read_evidence(store, e.id) for e in
                    tx.exec(select(Evidence).where(Evidence.checkin_id == checkin_id))}
        event = tx.exec(select(AuditEvent).where(AuditEvent.subject_id == checkin_id)
                        .where(AuditEvent.action == "checkin.recorded")).one()
        payload = json.loads(event.payload)
    for volatile in ("session_id", "roster_entry_id", "evidence", "rows"):
        payload.pop(volatile, None)
    return {"decision": row.decision, "reasons": row.reasons, "face": row.face_outcome,
            "distance": row.face_distance, "liveness": row.liveness,
            "trust": (row.trust_verdict, row.trust_findings), "evidence": evidence,
            "audit": payload, "actor": event.actor, "action": event.action}


def _nothing_stored(store: Store) -> None:
    with store.read() as tx:
        assert list(tx.exec(select(CheckIn)).all()) == []
        assert list(tx.exec(select(Evidence)).all()) == []
        assert list(tx.exec(select(Incident)).all()) == []
        assert [e for e in tx.exec(select(AuditEvent)).all()
                if e.action.startswith(("checkin.", "incident."))] == []


def _no_branch_left(run: _Run, children: int) -> None:
    names = {t.name for t in threading.enumerate()}
    assert not names & {"checkin-live", "checkin-portrait"}
    assert len(multiprocessing.active_children()) == children  # the portrait process only
    assert all(c.closed for c in run.cameras)


def test_overlapped_and_sequential_store_the_same_check_in(run: _Run) -> None:
    ours = run.checkin(overlap=True)
    assert ours.admitted, ours.reasons
    _fresh_session(run)
    theirs = run.checkin(overlap=False)
    assert ours.decision is theirs.decision and ours.reasons == theirs.reasons
    a, b = _stored(run.store, ours.checkin_id), _stored(run.store, theirs.checkin_id)
    assert sorted(a["evidence"]) == ["CHIP_EMBEDDING", "CHIP_PORTRAIT", "LIVE_EMBEDDING",
                                     "LIVE_FRAME"]
    assert a == b
    _no_branch_left(run, children=1)


def test_the_liveness_challenge_runs_while_the_card_is_read(run: _Run) -> None:
    """The overlap is real: the first liveness prompt comes before the card's last file."""
    order: list[str] = []
    lock = threading.Lock()

    def note(what: str) -> None:
        with lock:
            order.append(what)

    listener = _Listener(on_progress=lambda p: note(p.step.value),
                         on_reading=lambda f: note(f"read:{f}"))
    ours = run.checkin(overlap=True, listener=listener, challenge=Challenge.BLINK)
    assert ours.admitted, ours.reasons
    assert order.index("liveness") < max(i for i, w in enumerate(order) if w.startswith("read:"))


class _SlowPortrait(FaceEngine):
    """The portrait engine, telling when it is encoding (and letting a test act then)."""

    def __init__(self, inner: FaceEngine, during: Callable[[], None]) -> None:
        super().__init__(inner.settings)
        self.inner = inner
        self.during = during

    def detect(self, image: Any, detection: Any) -> list[Face]:
        return self.inner.detect(image, detection)

    def chip(self, image: Any, face: Face) -> Any:
        return self.inner.chip(image, face)

    def encode(self, image: Any, face: Face, *, jitters: int = 0) -> Encoding:
        self.during()
        return self.inner.encode(image, face, jitters=jitters)

    def raw_descriptors(self, chips: list[Any]) -> list[Any]:
        # The overlapped check-in describes the portrait's jittered chips one by one.
        self.during()
        return self.inner.raw_descriptors(chips)


class _Described(FaceEngine):
    """The portrait engine, noting when the portrait is done and how many chips of the live
    captures it described for the check-in afterwards."""

    def __init__(self, inner: FaceEngine) -> None:
        super().__init__(inner.settings)
        self.inner = inner
        self.portrait_done = threading.Event()
        self.described = 0
        self.raw = 0

    def detect(self, image: Any, detection: Any) -> list[Face]:
        return self.inner.detect(image, detection)

    def chip(self, image: Any, face: Face) -> Any:
        return self.inner.chip(image, face)

    def encode(self, image: Any, face: Face, *, jitters: int = 0) -> Encoding:
        try:
            return self.inner.encode(image, face, jitters=jitters)
        finally:
            self.portrait_done.set()

    def raw_descriptors(self, chips: list[Any]) -> list[Any]:
        # The overlapped check-in describes the portrait's chips one by one: the portrait is
        # done with its last (the live engine is busy in this test: it never helps).
        try:
            return self.inner.raw_descriptors(chips)
        finally:
            self.raw += len(chips)
            if self.raw > self.settings.portrait_jitters:
                self.portrait_done.set()

    def describe_many(self, chips: list[Any]) -> list[Any]:
        self.described += len(chips)
        return self.inner.describe_many(chips)


def test_once_the_portrait_is_done_its_process_describes_live_captures_too(run: _Run) -> None:
    """Issue 16: the chip portrait's process, idle once the portrait is encoded, takes part of
    the live captures' batch; the check-in stored is the same as the one done step by step."""
    portrait = _Described(run.portrait)
    # From the fourth frame on (the capture after the blink), wait for the portrait: the
    # split is then certain, whatever the machine's speed.
    ours = run.checkin(overlap=True, portrait=portrait,
                       at_read=lambda n: portrait.portrait_done.wait(60) if n > 3 else None)
    assert ours.admitted, ours.reasons
    assert portrait.portrait_done.is_set() and portrait.described >= 1
    _fresh_session(run)
    theirs = run.checkin(overlap=False)
    assert _stored(run.store, ours.checkin_id) == _stored(run.store, theirs.checkin_id)
    _no_branch_left(run, children=1)


def _live_branch_ended() -> None:
    """Until the check-in's live branch has ended (it ends by itself once its captures are
    described; this is not a timing)."""
    while any(t.name == "checkin-live" for t in threading.enumerate()):
        threading.Event().wait(0.01)


def test_once_the_live_branch_ends_its_engine_helps_with_the_portrait(
        run: _Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 16, the radio case: the camera's work is done before DG2 has arrived, so the
    portrait's jittered chips are described on both face processes; the check-in stored is
    the one done step by step (the same descriptors, averaged in the same order)."""
    helped: list[int] = []
    inner = run.engine.raw_descriptors

    def counting(chips: list[Any]) -> list[Any]:
        helped.append(len(chips))
        return inner(chips)

    monkeypatch.setattr(run.engine, "raw_descriptors", counting)
    # The card read holds at DG2 until the live branch has ended (a slow radio).
    listener = _Listener(on_reading=lambda f: _live_branch_ended() if f == "DG2" else None)
    ours = run.checkin(overlap=True, listener=listener)
    assert ours.admitted, ours.reasons
    assert sum(helped) >= 1, "the live engine took none of the portrait's chips"
    _fresh_session(run)
    theirs = run.checkin(overlap=False)
    assert _stored(run.store, ours.checkin_id) == _stored(run.store, theirs.checkin_id)
    _no_branch_left(run, children=1)


def _cancel_at(run: _Run, stage: str) -> None:
    cancel = threading.Event()
    listener = _Listener()
    portrait: FaceEngine | None = None
    at_read: Callable[[int], None] | None = None
    if stage == "card read":
        listener = _Listener(on_reading=lambda f: cancel.set() if f == "DG2" else None)
    elif stage == "portrait":
        portrait = _SlowPortrait(run.portrait, cancel.set)
    elif stage == "live capture":
        at_read = lambda n: cancel.set() if n == 3 else None  # noqa: E731
    else:  # before storage: the last step before the transaction
        listener = _Listener(on_progress=lambda p: cancel.set()
                             if p.step is Step.DUPLICATES else None)
    with pytest.raises(CheckInCancelled):
        run.checkin(overlap=True, cancel=cancel, listener=listener, portrait=portrait,
                    at_read=at_read)
    assert cancel.is_set()


@pytest.mark.parametrize("stage", ["card read", "portrait", "live capture", "before storage"])
def test_a_cancel_stores_nothing_and_stops_every_branch(run: _Run, stage: str) -> None:
    _cancel_at(run, stage)
    _nothing_stored(run.store)
    _no_branch_left(run, children=1)
    # The desk goes on: the next check-in at the same desk is whole.
    assert run.checkin(overlap=True).admitted


@pytest.fixture
def on_reader(pcscd: str) -> Iterator[tuple[VirtualCccd, PcscCards]]:
    """The virtual CCCD on pcscd's vpcd reader (hold /tmp/examdesk-pcscd.lock to run this)."""
    assert wait_for_reader_state(present=False), f"another card occupies {pcscd!r}"
    card = _card()
    link = VpcdConnection(card, port=VPCD_PORT)
    link.start()
    try:
        assert wait_for_reader_state(present=True), "pcscd did not see the virtual card"
        yield card, PcscCards(pcscd)
    finally:
        link.stop()
        wait_for_reader_state(present=False)


def test_through_pcscd_the_overlapped_check_in_stores_the_same(
        run: _Run, on_reader: tuple[VirtualCccd, PcscCards]) -> None:
    card, cards = on_reader
    ours = run.checkin(overlap=True, card=card, cards=cards)
    assert ours.admitted, ours.reasons
    _fresh_session(run)
    theirs = run.checkin(overlap=False, card=card, cards=cards)
    assert _stored(run.store, ours.checkin_id) == _stored(run.store, theirs.checkin_id)
    _no_branch_left(run, children=1)


class _PulledAt:
    """The reader's connection to a card that leaves the reader at its *n*-th exchange, as
    pcscd says it (``CardRemoved``)."""

    def __init__(self, card: VirtualCccd, n: int) -> None:
        self._inner = LoopbackTransport(card)
        self._left = n
        self.name, self.atr = self._inner.name, self._inner.atr

    def transmit(self, apdu: bytes) -> bytes:
        self._left -= 1
        if self._left <= 0:
            raise CardRemoved("the card left the reader")
        return self._inner.transmit(apdu)

    def close(self) -> None:
        self._inner.close()


class _PulledCards:
    def __init__(self, card: VirtualCccd, n: int) -> None:
        self._card, self._n = card, n

    def open(self, wait: float) -> _PulledAt:
        return _PulledAt(self._card, self._n)


def test_a_card_pulled_during_the_read_stops_every_branch(run: _Run) -> None:
    card = _card()
    files: list[str] = []
    listener = _Listener(on_reading=files.append)
    # Pulled at the 25th exchange, after DG2 (its portrait is being encoded), while DG13 is
    # read, the camera branch running.
    with pytest.raises(CardRemoved):
        run.checkin(overlap=True, card=card, cards=_PulledCards(card, 25),  # type: ignore[arg-type]
                    listener=listener)
    assert files[-1] == "DG13" and "DG2" in files, " ".join(files)
    _nothing_stored(run.store)
    _no_branch_left(run, children=1)


def _segments() -> list[str]:
    """This process's shared-memory frame segments (/dev/shm, Linux)."""
    mine = f"{SEGMENT_PREFIX}-{os.getpid()}-"
    shm = Path("/dev/shm")
    return sorted(p.name for p in shm.iterdir() if p.name.startswith(mine))


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="no /dev/shm (not Linux)")
def test_live_frames_through_shared_memory_store_the_same_and_cancel_leaks_nothing(
        run: _Run) -> None:
    """The desk's set-up (the live frames in a face process too, sent through shared memory)
    stores what the in-process sequential check-in stores; a cancel at each stage leaves one
    segment per face process at most, and none once the processes are closed."""
    live = ProcessFaceEngine(SETTINGS)
    try:
        local = run.engine
        run.engine = live
        ours = run.checkin(overlap=True)
        assert ours.admitted, ours.reasons
        assert live.segment is not None and _segments() == [live.segment]
        run.engine = local
        _fresh_session(run)
        theirs = run.checkin(overlap=False)
        assert _stored(run.store, ours.checkin_id) == _stored(run.store, theirs.checkin_id)
        run.engine = live
        for stage in ("card read", "portrait", "live capture", "before storage"):
            _fresh_session(run)
            _cancel_at(run, stage)
            assert len(_segments()) <= 2
    finally:
        live.close()
    portrait = run.portrait
    assert isinstance(portrait, ProcessFaceEngine)
    assert _segments() == ([] if portrait.segment is None else [portrait.segment])
    portrait.close()  # the module's portrait process: the next call starts a new one
    assert _segments() == []
