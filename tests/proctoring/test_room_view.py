"""The room's read model (examdesk/services/room.py), shared by the desk's room screen and
`examdesk room status`: seats in words, a silent agent, alerts worst first, the pictures an
alert opens, acknowledging, and ending the exam — on SQLite and PostgreSQL, with what the seat
agents really write (proctoring/seat_store.py) and real photos as evidence."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from examdesk.services.room import (
    SILENT_AFTER,
    RoomEnded,
    acknowledge_alert,
    alert_pictures,
    alert_state,
    end_exam,
    room_view,
)
from proctoring.models import AuditEvent, IncidentKind, Severity
from proctoring.seat import Binding, SeatState
from proctoring.seat_store import (
    read_pause,
    record_binding,
    record_closed,
    record_heartbeat,
    record_opened,
    seat_place,
)
from proctoring.store import Store

from .helpers import ACTOR, add_roster, centre_and_session, checkin, photo

T0 = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)


class Seats:
    """Four seats admitted at the door; what their agents deliver is written as they would."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.session = centre_and_session(store)
        self.entries = add_roster(store, self.session)
        self.checkins = {e.seat: checkin(store, self.session, e, number, seed=n,
                                         portrait=photo("obama/obama.jpg")).checkin.id
                         for n, (e, number) in enumerate(zip(self.entries, (
                             "001093014275", "001190012345", "079205000123", "048301001122"),
                             strict=True))}
        self.entry = {e.seat: e for e in self.entries}

    def bind(self, seat: str, at: datetime) -> None:
        place = seat_place(self.store, "S1", seat)
        record_binding(self.store, place, Binding(self.entry[seat].id, self.checkins[seat], at,
                                                  0.3), actor=f"seat:{seat}")
        record_heartbeat(self.store, place, SeatState.WATCHING, at)

    def beat(self, seat: str, state: SeatState, at: datetime) -> None:
        record_heartbeat(self.store, seat_place(self.store, "S1", seat), state, at)

    def incident(self, seat: str, kind: IncidentKind, severity: Severity, at: datetime,
                 frame: bytes | None = None, key: str = "monitor.different_person"
                 ) -> uuid.UUID:
        incident_id = uuid.uuid4()
        record_opened(self.store, seat_place(self.store, "S1", seat), incident_id=incident_id,
                      kind=kind, severity=severity, message_key=key, started_at=at,
                      details={}, roster_entry_id=self.entry[seat].id,
                      checkin_id=self.checkins[seat], frame_jpeg=frame, actor=f"seat:{seat}")
        return incident_id


@pytest.fixture
def seats(store: Store) -> Seats:
    return Seats(store)


def test_each_seat_in_words_and_a_stopped_agent_is_silent(seats: Seats) -> None:
    seats.bind("A01", T0)
    seats.bind("A02", T0)
    seats.beat("A02", SeatState.DIFFERENT_PERSON, T0 + timedelta(seconds=4))
    seats.bind("A03", T0)
    now = T0 + timedelta(seconds=4)
    room = room_view(seats.store, "S1", now=now)
    shown = {s.seat: s.shown for s in room.seats}
    assert shown == {"A01": "watching", "A02": "different_person", "A03": "watching",
                     "A04": "no_agent"}
    a01 = room.seat("A01")
    assert a01 is not None and (a01.name, a01.registration_number) == ("Nguyễn Văn An", "001")
    # A01 and A03 stop reporting at T0 (killed); A02 goes on: only the stopped ones go silent,
    # three missed heartbeats after their last (not the 10 s the CLI used to wait).
    seats.beat("A02", SeatState.DIFFERENT_PERSON, T0 + SILENT_AFTER)
    later = room_view(seats.store, "S1", now=T0 + SILENT_AFTER + timedelta(seconds=1))
    assert [s.seat for s in later.seats if s.shown == "silent"] == ["A01", "A03"]
    silent = later.seat("A01")
    assert silent is not None and silent.agent_state is SeatState.WATCHING and silent.attention
    assert SILENT_AFTER + timedelta(seconds=2) + timedelta(seconds=1) <= timedelta(seconds=10)


def test_alerts_unseen_first_worst_first_newest_first_and_ack_is_audited(seats: Seats) -> None:
    for seat in ("A01", "A02", "A03"):
        seats.bind(seat, T0)
    absent = seats.incident("A01", IncidentKind.FACE_ABSENT, Severity.MEDIUM,
                            T0 + timedelta(seconds=30), key="monitor.face_absent")
    swap = seats.incident("A02", IncidentKind.FACE_MISMATCH, Severity.CRITICAL,
                          T0 + timedelta(seconds=10), frame=photo("obama/obama2.jpg"))
    camera = seats.incident("A03", IncidentKind.OTHER, Severity.HIGH,
                            T0 + timedelta(seconds=20), key="seat.camera_lost")
    later_absent = seats.incident("A03", IncidentKind.FACE_ABSENT, Severity.MEDIUM,
                                  T0 + timedelta(seconds=40), key="monitor.face_absent")
    record_closed(seats.store, seat_place(seats.store, "S1", "A01"), absent,
                  T0 + timedelta(seconds=50), actor="seat:A01")
    room = room_view(seats.store, "S1", now=T0 + timedelta(minutes=1))
    assert [a.incident_id for a in room.alerts] == [swap, camera, later_absent, absent]
    assert [alert_state(a) for a in room.alerts] == [
        "different_person", "camera_lost", "absent", "absent"]
    assert room.alerts[0].name == "Phạm Thị Hồng" and room.alerts[0].frames == 1
    assert room.waiting_alerts == 4
    assert {s.seat: s.open_alerts for s in room.seats} == {"A01": 0, "A02": 1, "A03": 2,
                                                             "A04": 0}

    acknowledge_alert(seats.store, swap, "  Đã mời thí sinh lên bàn   giám thị ", actor="gv01")
    room = room_view(seats.store, "S1", now=T0 + timedelta(minutes=1))
    assert room.alerts[-1].incident_id == swap  # seen: below what nobody has seen yet
    assert room.alerts[-1].ack_note == "Đã mời thí sinh lên bàn giám thị"
    assert room.alerts[-1].ack_by == "gv01" and room.waiting_alerts == 3
    with seats.store.read() as tx:
        acks = tx.exec(select(AuditEvent).where(
            AuditEvent.action == "incident.acknowledged")).all()
    assert [a.subject_id for a in acks] == [swap]


def test_an_alert_opens_its_frame_beside_the_chip_portrait_and_the_admitted_face(
        seats: Seats) -> None:
    seats.bind("A02", T0)
    frame = photo("obama/obama2.jpg")
    swap = seats.incident("A02", IncidentKind.FACE_MISMATCH, Severity.CRITICAL, T0, frame=frame)
    pictures = alert_pictures(seats.store, swap)
    assert pictures.frames == (frame,)
    assert pictures.chip_portrait == photo("obama/obama.jpg")  # read at the door (DG2)
    assert pictures.admitted_face == photo("obama/obama2.jpg")  # the door's live frame
    lost = seats.incident("A02", IncidentKind.OTHER, Severity.HIGH, T0, key="seat.camera_lost")
    assert alert_pictures(seats.store, lost).frames == ()  # nothing kept: no frame came


def test_ending_the_exam_pauses_every_seat_once_and_is_audited(seats: Seats) -> None:
    seats.bind("A01", T0)
    seats.bind("A02", T0)
    seats.incident("A02", IncidentKind.FACE_ABSENT, Severity.MEDIUM, T0,
                   key="monitor.face_absent")
    ended = end_exam(seats.store, "S1", actor="gv01")
    room = room_view(seats.store, "S1", now=ended + timedelta(seconds=1))
    assert room.ended_at == ended and {s.shown for s in room.seats} == {"ended"}
    until = read_pause(seats.store, seat_place(seats.store, "S1", "A01"))
    assert until is not None and until > ended + timedelta(hours=1)  # the agents stop watching
    with pytest.raises(RoomEnded) as raised:
        end_exam(seats.store, "S1", actor="gv01")
    assert raised.value.key == "room.already_ended"
    with seats.store.read() as tx:
        (event,) = tx.exec(select(AuditEvent).where(AuditEvent.action == "room.ended")).all()
    payload = json.loads(event.payload) if isinstance(event.payload, str) else event.payload
    assert event.actor == "gv01" and payload["seats"] == ["A01", "A02"]
    assert len(payload["open_incidents"]) == 1
    assert ACTOR  # the door's actor wrote the rest


def test_a_scheduled_end_passing_ends_nothing(seats: Seats) -> None:
    """An exam that started late runs over its scheduled end: the seats are still watched and
    shown as they are; only the invigilator's end (audited) ends the room."""
    from proctoring.models import ExamSession

    seats.bind("A01", T0)
    with seats.store.write() as tx:
        session = tx.get(ExamSession, seats.session.id)
        assert session is not None
        session.ends_at = T0 - timedelta(minutes=1)
        tx.add(session)
    room = room_view(seats.store, "S1", now=T0 + timedelta(seconds=1))
    assert room.ended_at is None and room.seat("A01").shown == "watching"  # type: ignore[union-attr]
    end_exam(seats.store, "S1", actor="gv01")  # not refused as "ended already"
    assert room_view(seats.store, "S1").ended_at is not None


def test_room_status_in_a_terminal_says_silent_from_the_same_read_model(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`examdesk room status` and the desk's room screen share one read model: an agent whose
    last heartbeat is 8 s old is silent in both (the CLI waited 10 s before)."""
    from typer.testing import CliRunner

    from examdesk.cli import app
    from proctoring.crypto import KeyStore

    monkeypatch.setenv("EXAMDESK_DB_URL", db_url)
    monkeypatch.setenv("EXAMDESK_CENTRE", "HN01")
    store = Store.open(db_url, keys=KeyStore.default())
    try:
        seats = Seats(store)
        now = datetime.now(UTC)
        seats.bind("A01", now - timedelta(seconds=8))
        seats.bind("A02", now)
    finally:
        store.close()
    result = CliRunner().invoke(app, ["room", "status", "--session", "S1", "--json"])
    assert result.exit_code == 0, result.stderr
    lines = {s["seat"]: s for s in json.loads(result.stdout)["seats"]}
    assert lines["A01"]["silent"] and lines["A01"]["shown"] == "silent"
    assert lines["A01"]["vi"] == "? Máy thi không phản hồi (● Đang giám sát)"
    assert lines["A02"]["en"] == "● Monitoring" and lines["A04"]["en"] == "· No seat agent"
