"""The seat agent through real parts: the store (SQLite and PostgreSQL), file cameras playing
real photos from ../shared/faces, the local buffer on disk, the face engine."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from biometrics import FaceEngine, FileCamera, OperatingPoint, enrol
from proctoring.checkins import CheckInInput, Reason, embedding_item, record_checkin
from proctoring.evidence import EvidenceItem, read_evidence
from proctoring.models import (
    AuditEvent,
    Decision,
    Evidence,
    EvidenceKind,
    ExamSession,
    Incident,
    IncidentKind,
    RosterEntry,
)
from proctoring.monitor import MonitorRules
from proctoring.seat import ConsentAnswer, SeatAgent, SeatRules, SeatState
from proctoring.seat_buffer import SeatBuffer
from proctoring.seat_models import SeatAgentRow
from proctoring.seat_run import SeatObserver, SeatRunner
from proctoring.seat_store import acknowledge, room_status, seat_place
from proctoring.store import Store
from reader.virtual import faces_dir

from .helpers import ACTOR, add_roster, centre_and_session, empty_chair

ORL = faces_dir() / "orl"
T0 = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
# The candidate said yes to the seat's consent text (which the seat shows before any frame).
CONSENTS = ConsentAnswer(True, "c" * 64, "vi")
RULES = SeatRules(monitor=MonitorRules(absent_after=timedelta(seconds=4),
                                       several_after=timedelta(seconds=4)))


def own(n: int) -> Path:
    return ORL / "s27" / f"{n}.png"


class Room:
    """A session whose first roster line (seat A01) was admitted at the door with the real
    embedding of ORL subject 27."""

    def __init__(self, store: Store, engine: FaceEngine, folder: Path) -> None:
        self.store, self.engine, self.folder = store, engine, folder
        self.session: ExamSession = centre_and_session(store)
        self.entry: RosterEntry = add_roster(store, self.session)[0]
        reference = enrol(engine, own(10).read_bytes()).embedding
        self.checkin_id = record_checkin(store, CheckInInput(
            session_id=self.session.id, id_number="001093014275", decision=Decision.ADMIT,
            reasons=[Reason("checkin.face_match")], consent=True, started_at=T0,
            roster_entry_id=self.entry.id, face_outcome="MATCH", face_distance=0.3,
            evidence=[EvidenceItem(EvidenceKind.LIVE_FRAME, own(10).read_bytes(), "image/png"),
                      embedding_item(np.asarray(reference))]), actor=ACTOR).checkin.id
        self.place = seat_place(store, "S1", "A01")
        self.ticks = (T0 + timedelta(minutes=1, seconds=2 * i) for i in range(10_000))

    def runner(self, frames: list[Path], *, fail_at: int | None = None,
               store: Store | None = None) -> SeatRunner:
        camera = FileCamera(frames, frame_size=(1280, 720), fail_at=fail_at)
        return SeatRunner(agent=SeatAgent(self.engine.settings.operating_point, RULES),
                          observer=SeatObserver(self.engine), camera=camera,
                          buffer=SeatBuffer(self.folder / "seat-A01.db", self.store.data_key),
                          store=store or self.store, place=self.place, actor="seat:A01",
                          clock=lambda: next(self.ticks), consent=lambda _admission: CONSENTS)

    def incidents(self) -> list[Incident]:
        with self.store.read() as tx:
            return list(tx.exec(select(Incident).where(Incident.session_id == self.session.id)
                                .order_by(col(Incident.started_at))).all())


@pytest.fixture
def room(store: Store, engine: FaceEngine, tmp_path: Path) -> Room:
    return Room(store, engine, tmp_path)


def play(runner: SeatRunner, steps: int) -> list[SeatState]:
    runner.start()
    states = [runner.step().state for _ in range(steps)]
    runner.stop()
    return states


def test_a_normal_candidate_is_bound_and_watched_without_incidents(room: Room) -> None:
    states = play(room.runner([own(n) for n in (1, 2, 3, 4, 5)]), 5)
    assert states[0] is SeatState.BOUND and states[-1] is SeatState.WATCHING
    assert room.incidents() == []
    grid = room_status(room.store, "S1", now=T0 + timedelta(minutes=1, seconds=10))
    line = next(s for s in grid.seats if s.seat == "A01")
    assert (line.name, line.registration_number, line.state, line.silent) == (
        "Nguyễn Văn An", "001", SeatState.WATCHING, False)
    with room.store.read() as tx:
        events = [e.action for e in tx.exec(select(AuditEvent)).all()]
    assert "seat.bound" in events


def test_leaving_the_seat_and_a_second_person_are_incidents_with_times(room: Room) -> None:
    frames = ([own(1), own(2)] + [empty_chair(room.folder)] * 4 + [own(3)]
              + [faces_dir() / "several" / "two_people.jpg"] * 4 + [own(4)])
    states = play(room.runner(frames), len(frames))
    assert SeatState.ABSENT in states and SeatState.SEVERAL_FACES in states
    incidents = room.incidents()
    assert [i.kind for i in incidents] == [IncidentKind.FACE_ABSENT, IncidentKind.SEVERAL_FACES]
    absent = incidents[0]
    assert absent.ended_at is not None and absent.ended_at - absent.started_at >= timedelta(
        seconds=4)


def test_a_swapped_candidate_is_a_different_person_with_encrypted_evidence(room: Room) -> None:
    frames = [own(1), own(2), own(3)] + [ORL / "s12" / f"{n}.png" for n in (1, 2, 3, 4)]
    states = play(room.runner(frames), len(frames))
    assert states[-1] is SeatState.DIFFERENT_PERSON
    (incident,) = room.incidents()
    assert incident.kind is IncidentKind.FACE_MISMATCH and incident.ended_at is not None
    assert incident.details["seat"] == "A01"
    with room.store.read() as tx:
        (evidence,) = tx.exec(select(Evidence).where(Evidence.incident_id == incident.id)).all()
        raw = tx.connection().execute(sa.text(
            "SELECT ciphertext FROM evidence_blob WHERE id = :id"),
            {"id": evidence.id if room.store.backend == "postgresql" else evidence.id.hex}
        ).scalar()
    frame = read_evidence(room.store, evidence.id)
    assert frame[:3] == b"\xff\xd8\xff"  # a JPEG, opened with the data key
    assert raw is not None and bytes(raw)[:3] != b"\xff\xd8\xff"  # sealed at rest
    ack = acknowledge(room.store, str(incident.id)[:8], "  đã kiểm tra  CCCD ", actor="gv01")
    assert ack.note == "đã kiểm tra CCCD"


def test_an_agent_restarted_resumes_its_binding(room: Room) -> None:
    first = room.runner([own(1), own(2)])
    play(first, 2)
    first.buffer.close()
    # A new process: a new agent, the same buffer file. The first frame is someone else's face:
    # a new binding would wait for a match; the resumed one is watching and flags it.
    again = room.runner([ORL / "s12" / f"{n}.png" for n in (1, 2, 3)])
    again.start()
    assert again.agent.state is SeatState.WATCHING
    assert again.agent.binding == first.agent.binding
    for _ in range(3):
        again.step()
    assert again.agent.state is SeatState.DIFFERENT_PERSON
    with room.store.read() as tx:
        binds = tx.exec(select(AuditEvent).where(AuditEvent.action == "seat.bound")).all()
    assert len(binds) == 1


def test_a_camera_unplugged_is_an_incident(room: Room) -> None:
    runner = room.runner([own(n) for n in (1, 2, 3)], fail_at=2)
    states = play(runner, 8)
    assert states[-1] is SeatState.CAMERA_LOST
    (incident,) = room.incidents()
    assert incident.message_key == "seat.camera_lost"


def test_the_agent_goes_silent_in_the_room(room: Room) -> None:
    play(room.runner([own(1), own(2)]), 2)
    with room.store.read() as tx:
        beat = tx.exec(select(SeatAgentRow)).one().heartbeat_at
    assert beat is not None
    lines = room_status(room.store, "S1", now=beat + timedelta(seconds=11)).seats
    assert next(s for s in lines if s.seat == "A01").silent
    assert not next(s for s in lines if s.seat == "A02").silent  # no agent: waiting, not silent


# --- the store unreachable (PostgreSQL: connections refused, as when the server is down) -------


@pytest.fixture
def outage(backend: str | None, postgres_admin_url: str) -> Iterator[Callable[[bool], None]]:
    if backend is None:
        pytest.skip("the outage is a PostgreSQL server refusing connections; SQLite is a file")
    admin = sa.create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    name = sa.engine.make_url(backend).database

    def down(on: bool) -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(not on).lower()}')
            if on:
                conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})

    try:
        yield down
    finally:
        down(False)
        admin.dispose()


def test_incidents_raised_while_the_store_is_down_arrive_once_in_order(
        room: Room, outage: Callable[[bool], None]) -> None:
    down = outage
    empty, two = empty_chair(room.folder), faces_dir() / "several" / "two_people.jpg"
    # The outage: the store away for 60 s of the seat's clock (a check every 2 s)
    # while the seat raises four incidents, two of each kind.
    away = ([empty] * 4 + [own(3)] * 3 + [two] * 4 + [own(4)] * 4) * 2
    frames = [own(1), own(2), *away]
    assert len(away) * 2 == 60  # seconds of the seat's clock (its ticks are 2 s apart)
    runner = room.runner(frames)
    runner.start()
    runner.step()
    runner.step()  # bound and watching, delivered
    down(True)
    results = [runner.step() for _ in range(len(away))]
    results.append(runner.stop())
    assert not results[-1].store_reachable and results[-1].pending >= 8
    down(False)
    runner.store.engine.dispose()  # the pool's connections died with the outage
    assert runner.deliver() >= 8 and len(runner.buffer) == 0
    assert runner.deliver() == 0  # nothing twice
    incidents = room.incidents()
    assert [i.kind for i in incidents] == [IncidentKind.FACE_ABSENT,
                                           IncidentKind.SEVERAL_FACES] * 2
    assert (incidents[-1].started_at - incidents[0].started_at).total_seconds() >= 44
    assert all(i.ended_at is not None for i in incidents)
    with room.store.read() as tx:
        opened = tx.exec(select(AuditEvent).where(AuditEvent.action == "incident.opened")
                         .order_by(col(AuditEvent.seq))).all()
    assert [uuid.UUID(str(e.subject_id)) for e in opened] == [i.id for i in incidents]


def test_skipping_the_encoder_never_delays_a_swap(engine: FaceEngine) -> None:
    """ORL photos all put the face in the same place: the box alone would keep the cached
    distance of the admitted candidate for two more checks after someone else sat down."""
    reference = np.asarray(enrol(engine, own(10).read_bytes()).embedding)
    frames = [own(1), own(2), own(3)] + [ORL / "s12" / f"{n}.png" for n in (1, 2, 3)]

    def distances(observer: SeatObserver) -> list[float | None]:
        with FileCamera(frames, frame_size=(1280, 720)) as camera:
            return [observer.observe(camera.read().image, reference, T0).distance
                    for _ in frames]

    cached_observer = SeatObserver(engine)
    cached, naive = distances(cached_observer), distances(SeatObserver(engine, reencode_every=1))
    # Someone else's face is encoded the moment it appears, as the naive watch does.
    assert cached[3:] == naive[3:]
    assert all(d is not None and d > OperatingPoint().review_high for d in cached[3:])
    assert cached_observer.encoded < len(frames)  # the candidate's own frames were skipped


def test_a_pause_from_the_room_stops_watching_until_resumed(room: Room) -> None:
    from proctoring.seat_store import pause_seat

    runner = room.runner([own(1), own(2)] + [empty_chair(room.folder)] * 6 + [own(3)])
    runner.start()
    runner.step()
    runner.step()
    pause_seat(room.store, "S1", "A01", minutes=5, note="Đi vệ sinh", actor="gv01")
    states = [runner.step().state for _ in range(6)]  # the chair stays empty: allowed
    assert states == [SeatState.PAUSED] * 6 and room.incidents() == []
    pause_seat(room.store, "S1", "A01", minutes=None, note="", actor="gv01")
    assert runner.step().state is SeatState.WATCHING
    with room.store.read() as tx:
        actions = [e.action for e in tx.exec(select(AuditEvent)).all()]
    assert "seat.paused" in actions and "seat.resumed" in actions


def test_an_event_the_store_refuses_is_set_aside_and_the_rest_goes_on(room: Room) -> None:
    runner = room.runner([own(1), own(2)])
    stray = uuid.uuid4()  # the end of an incident the store never had
    runner.buffer.push({"type": "closed", "incident_id": str(stray),
                        "ended_at": T0.isoformat()})
    runner.start()
    assert runner.step().state is SeatState.BOUND
    assert len(runner.buffer) == 0 and runner.buffer.parked() == [(1, "proctoring.not_found")]
    with room.store.read() as tx:
        assert tx.exec(select(SeatAgentRow)).one().checkin_id == room.checkin_id
