"""The exam room's tables reach the district (issue 18): the education office's review shows an
incident a seat agent raised with the same evidence the room saw — the frame, the chip portrait
and the admitted face of the door check-in — with the seat, its last report and the
invigilator's acknowledgement. Through the real store functions a seat agent calls."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from proctoring.models import IncidentKind, Severity
from proctoring.seat import MESSAGE, Binding, SeatState
from proctoring.seat_store import (
    acknowledge,
    pause_seat,
    record_binding,
    record_closed,
    record_heartbeat,
    record_opened,
    seat_place,
)
from proctoring.store import Store
from proctoring.sync import local_centre, sync_once
from tests.proctoring.helpers import photo

from .builders import admit, person, session_with_roster, unit
from .conftest import DistrictEnv

T0 = datetime(2026, 6, 12, 1, 0, tzinfo=UTC)


def _a_room_incident(store: Store) -> tuple[uuid.UUID, uuid.UUID, bytes]:
    """Seat A01 of an online exam: bound to its door check-in, a different person in view
    (an incident with a frame, ended later), the invigilator's acknowledgement, a pause."""
    session, entries = session_with_roster(store, "T1", [person(0), person(1)])
    door = admit(store, session, entries[0], person(0)[0], unit(0)).checkin
    place = seat_place(store, "T1", "A01")
    record_binding(store, place, Binding(entries[0].id, door.id, T0, 0.31), actor="seat:A01")
    record_heartbeat(store, place, SeatState.WATCHING, T0 + timedelta(seconds=2))
    frame = photo("biden/biden.jpg")
    incident_id = uuid.uuid4()
    assert record_opened(store, place, incident_id=incident_id,
                         kind=IncidentKind.FACE_MISMATCH, severity=Severity.HIGH,
                         message_key=MESSAGE[IncidentKind.FACE_MISMATCH],
                         started_at=T0 + timedelta(seconds=30), details={"distance": 0.72},
                         roster_entry_id=entries[0].id, checkin_id=door.id, frame_jpeg=frame,
                         actor="seat:A01")
    record_heartbeat(store, place, SeatState.DIFFERENT_PERSON, T0 + timedelta(seconds=32))
    record_closed(store, place, incident_id, T0 + timedelta(seconds=40), actor="seat:A01")
    acknowledge(store, str(incident_id), "đã kiểm tra CCCD, đúng người", actor="gv01")
    pause_seat(store, "T1", "A01", minutes=5, note="đi vệ sinh", actor="gv01")
    return incident_id, door.id, frame


def test_the_office_reviews_a_seat_incident_with_the_rooms_evidence(
        district: DistrictEnv, centres: dict[str, Store]) -> None:
    from proctoring.district_room import room_incidents
    from proctoring.review import incident_file

    store = centres["HN01"]
    incident_id, door_id, frame = _a_room_incident(store)
    result = sync_once(store, district.centre_urls["HN01"])
    assert result.ok, result.error
    centre_id = local_centre(store).id
    # The seat's row and the acknowledgement arrived with the incident.
    assert district.count("seat_agent", f"centre_id = '{centre_id}' AND seat = 'A01' AND "
                          "paused_until IS NOT NULL AND bound_at IS NOT NULL") == 1
    assert district.count("incident_ack", f"incident_id = '{incident_id}'") == 1

    with district.office() as office:
        (item,) = room_incidents(office, centre_code="HN01", session_code="T1")
        assert (item.incident_id, item.seat, item.kind, item.session_code) == (
            incident_id, "A01", "FACE_MISMATCH", "T1")
        assert item.ended_at == T0 + timedelta(seconds=40)
        assert item.checkin_ids == (door_id,) and len(item.frame_ids) == 1
        assert [(a.actor, a.note) for a in item.acks] == [("gv01", "đã kiểm tra CCCD, đúng người")]
        assert item.seat_state is not None and item.full_name == person(0)[1]
        assert room_incidents(office, centre_code="HP02") == []
        # The same evidence: the frame the seat kept, beside the door's chip portrait and face.
        case = incident_file(office, str(incident_id))
        assert [f.data for f in case.frames] == [frame]
        (side,) = case.sides
        assert side.portrait is not None and side.portrait.state == "ok"
        assert side.portrait.data == photo()
        assert side.frame is not None and side.frame.state == "ok"

    # Idempotent: a second sync sends nothing and changes nothing.
    again = sync_once(store, district.centre_urls["HN01"])
    assert again.ok and again.pushed_events == 0
    # What the room wrote stays as written: the centre cannot edit an acknowledgement it sent.
    engine = sa.create_engine(district.url_as("centre_hn01", district.centre_passwords["HN01"],
                                              direct=True), poolclass=NullPool)
    try:
        for sql in ("UPDATE incident_ack SET note = 'x'", "DELETE FROM incident_ack",
                    "DELETE FROM seat_agent", "UPDATE seat_agent SET seat = 'B99'"):
            with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
                conn.execute(sa.text(sql))
            assert getattr(caught.value.orig, "sqlstate", None) == "42501", sql
    finally:
        engine.dispose()
