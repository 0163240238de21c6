"""The exam room's alerts reach the invigilator on any screen (issue 18): while the desk shows
the check-in screen (checking in a late candidate at the door), a seat's agent raises "a
different person" — the header says so within a few polls, in words with its symbol, on every
screen; the status line says once which seat and what; F11 opens the room on that alert; the
acknowledgement there (with its note) clears the header. The real window under Xvfb, the
seat's incident written by the agent's own store calls (proctoring.seat_store)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tests.examdesk.gui.conftest import Desk, settle
from tests.examdesk.gui.test_room import admit_at_the_door, faces_dir_orl


@pytest.mark.desk_state(screen="checkin")
def test_a_seats_incident_reaches_the_header_on_the_checkin_screen_and_f11_opens_it(
        desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    from proctoring.models import IncidentKind, Severity
    from proctoring.seat import Binding, SeatState
    from proctoring.seat_store import (
        record_binding,
        record_heartbeat,
        record_opened,
        seat_place,
    )

    monkeypatch.setattr("examdesk.views.room_alerts.EVERY_MS", 300)
    app = desk.app
    badge, checkin = app.room_alerts, app.views["checkin"]
    store, session = app.services.store, app.session
    # The demo session has seats: the header says there is nothing to see to, yet.
    desk.wait_until(lambda: badge.winfo_ismapped(), "the room badge", 20)
    assert badge.text == "✔ Phòng thi: không có cảnh báo chưa xử lý — F11"
    assert desk.fits(badge)

    # Seat A03's agent binds its candidate, then sees someone else (a CRITICAL incident).
    entry, checkin_id = admit_at_the_door(store, session, "A03")
    place = seat_place(store, session.code, "A03")
    now = datetime.now(UTC)
    record_binding(store, place, Binding(entry.id, checkin_id, now, 0.3), actor="seat:A03")
    record_heartbeat(store, place, SeatState.DIFFERENT_PERSON, now)
    incident_id = uuid.uuid4()
    record_opened(store, place, incident_id=incident_id, kind=IncidentKind.FACE_MISMATCH,
                  severity=Severity.CRITICAL, message_key="monitor.different_person",
                  started_at=now, details={}, roster_entry_id=entry.id, checkin_id=checkin_id,
                  frame_jpeg=(faces_dir_orl() / "s12" / "1.png").read_bytes(),
                  actor="seat:A03")

    desk.wait_until(lambda: badge.text.startswith("‼"), "the alert in the header", 20)
    assert app.current is checkin  # nobody left the door's screen
    assert badge.text == "‼ 1 cảnh báo phòng thi chưa xử lý — F11"
    assert desk.fits(badge)
    desk.pump(0.2)
    label = app.session_label  # the session's code and title are not cut off for the badge
    assert label.winfo_width() >= label.winfo_reqwidth(), (label.winfo_width(),
                                                            label.winfo_reqwidth())
    notice = app.status_text
    assert notice.startswith("✖ Cảnh báo phòng thi — ghế A03: Người khác đang ngồi thi")
    assert "F11" in notice
    desk.shot("room-alerts-1-checkin-header")

    # Once: the status line moves on and the same alert is not announced again.
    app.set_status("app.status.ready")
    desk.pump(1.0)
    assert "A03" not in app.status_text
    # On every screen, in both languages.
    desk.press("F3")
    assert app.current is app.views["roster"] and badge.winfo_ismapped()
    app.set_language("en")
    desk.pump(0.1)
    assert badge.text == "‼ 1 room alert not acknowledged — F11"
    app.set_language("vi")

    # F11: the room, on that alert, its seat chosen.
    desk.press("F11")
    room = app.views["room"]
    assert app.current is room
    desk.wait_until(lambda: room.alerts.selected() == str(incident_id),
                    "the room opened on the alert", 20)
    assert room.chosen_seat == "A03" and "A03" in room.snapshot()["detail"]
    assert room.focus_get() is room.alerts.tree
    desk.press("Return", room.alerts.tree)  # to the note
    room.note.insert(0, "Đã kiểm tra lại CCCD tại chỗ")
    desk.press("Return", room.note._entry)
    desk.wait_until(lambda: badge.text.startswith("✔"), "the header cleared", 20)
    assert badge.text == "✔ Phòng thi: không có cảnh báo chưa xử lý — F11"
    settle(desk)
    app.show("checkin")
    desk.pump(1.0)
    assert badge.text.startswith("✔")  # acknowledged stays acknowledged on the other screens
