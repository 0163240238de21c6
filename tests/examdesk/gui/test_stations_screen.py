"""The centre admin's station screen (issue 17), driven by keys: F12, arrows, Enter, Delete,
Esc. This demo desk enrols itself; a second desk (its own key folder, the same database, as a
second laptop would be) enrols and waits; the admin approves it only after typing the
fingerprint the new desk shows, then revokes it with a reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from proctoring.crypto import KeyStore
from proctoring.models import Role, Stage
from proctoring.station_models import Station, StationStatus
from proctoring.stations import StationInfo, enrol
from proctoring.store import Store
from proctoring.sync import local_centre
from tests.examdesk.gui.conftest import Desk, settle


@pytest.fixture
def second_desk(desk: Desk, tmp_path: Path) -> Iterator[Store]:
    """Another laptop of the centre: the same database, its own (empty) key store."""
    services = desk.app.services
    store = Store.open(services.places.db_url,
                       keys=KeyStore(tmp_path / "desk-b" / "keys", use_keyring=False))
    try:
        yield store
    finally:
        store.close()


def status_in_db(store: Store, name: str) -> StationStatus:
    with store.read() as tx:
        from sqlmodel import select

        return tx.exec(select(Station.status).where(Station.name == name)).one()


@pytest.mark.desk_state(role=Role.INVIGILATOR, screen="checkin")
def test_an_invigilator_has_no_station_screen(desk: Desk) -> None:
    app = desk.app
    assert not app._nav_buttons["stations"].winfo_ismapped()
    desk.press("F12")
    assert app.current is desk.checkin
    assert "quản trị viên" in app.status_text


@pytest.mark.desk_state(role=Role.CENTRE_ADMIN, screen="sessions")
def test_the_admin_enrols_approves_after_comparing_and_revokes(desk: Desk,
                                                               second_desk: Store) -> None:
    app = desk.app
    assert app._nav_buttons["stations"].winfo_ismapped()
    desk.press("F12")
    view = app.views["stations"]
    assert app.current is view
    settle(desk)
    assert view.rows == [] and "chưa có trạm" in view.message.cget("text")

    # This desk becomes the station "Phòng lý thuyết" for the theory test: Enter in the name.
    desk.type_into(view.name_entry, "Phòng lý thuyết")
    view._stage_boxes[Stage.THEORY].invoke()  # what Space on the focused box does
    desk.press("Return", view.name_entry._entry)
    settle(desk)
    (row,) = view.rows
    assert row[0].startswith("Phòng lý thuyết") and "máy này" in row[0]
    assert row[1] == "lý thuyết" and row[2] == "✔ đang hoạt động"
    assert row[3].startswith("Giám thị demo · ")
    assert "Phòng lý thuyết" in app.session_label.cget("text")  # the header says so at once
    assert str(view.name_entry.cget("state")) == "disabled"  # one enrolment per desk

    # The second laptop enrols (as `examdesk station enrol` there would) and waits.
    centre = local_centre(second_desk)
    pending: StationInfo = enrol(second_desk, centre_id=centre.id, name="Sân 1",
                                 stages="yard", actor="cli:sanmot")
    assert pending.status == "PENDING"
    app.show("sessions")
    settle(desk)  # the session list's own load focuses its list when done
    desk.press("F12")
    settle(desk)
    assert [r[0] for r in view.rows] == ["Phòng lý thuyết  (máy này)", "Sân 1"]
    assert view.rows[1][2] == "◐ chờ duyệt" and view.rows[1][4] == pending.fingerprint
    tree = view.table.tree
    assert app.root.focus_get() is tree
    desk.press("Down", tree)
    assert view.selected() is not None and view.selected().name == "Sân 1"

    # Enter: the approval asks for the fingerprint shown on the new desk; a wrong one is
    # shown beside the centre's, and Enter then approves nothing.
    desk.press("Return", tree)
    assert view.confirm.winfo_ismapped()
    assert pending.fingerprint in view.held.cget("text")
    wrong = "0000-1111-2222-3333-4444"
    desk.type_into(view.answer, wrong)
    said = view.match.cget("text")
    assert "KHÔNG khớp" in said and pending.fingerprint in said and wrong in said
    assert str(view.confirm_button.cget("state")) == "disabled"
    desk.press("Return", view.answer._entry)
    settle(desk)
    assert status_in_db(second_desk, "Sân 1") is StationStatus.PENDING
    # Esc cancels; nothing changes.
    desk.press("Escape", view.answer._entry)
    assert not view.confirm.winfo_ismapped()
    assert app.root.focus_get() is tree

    # The right one, as people type it (lower case, no dashes): both shown, then approved.
    desk.press("Return", tree)
    desk.type_into(view.answer, pending.fingerprint.replace("-", "").lower())
    assert "✔ Khớp" in view.match.cget("text")
    desk.shot("30-stations-approve-compare")
    desk.press("Return", view.answer._entry)
    settle(desk)
    assert status_in_db(second_desk, "Sân 1") is StationStatus.ACTIVE
    assert "Đã duyệt trạm “Sân 1”" in view.message.cget("text")
    assert view.rows[1][2] == "✔ đang hoạt động"

    # Delete: the revocation, which needs a written reason.
    tree.focus_set()
    view.table.select(str(pending.id))
    desk.press("Delete", tree)
    assert view.confirm.winfo_ismapped() and "Thu hồi trạm “Sân 1”" in view.question.cget("text")
    desk.press("Return", view.answer._entry)  # no reason: nothing happens
    settle(desk)
    assert status_in_db(second_desk, "Sân 1") is StationStatus.ACTIVE
    desk.type_into(view.answer, "Máy bị mất")
    desk.press("Return", view.answer._entry)
    settle(desk)
    assert status_in_db(second_desk, "Sân 1") is StationStatus.REVOKED
    assert view.rows[1][2] == "✖ đã thu hồi"
    assert "Thu hồi bởi Giám thị demo" in view.detail.cget("text")  # the row in full
    desk.shot("31-stations-revoked")

    # Its own station cannot be revoked from here; the words in English on a switch.
    view.table.select(next(str(s.id) for s in view._found.stations if s.this_desk))
    desk.press("Delete", tree)
    assert not view.confirm.winfo_ismapped()
    assert "không thể tự thu hồi" in view.message.cget("text")
    app.set_language("en")
    assert view.rows[1][2] == "✖ revoked" and view.heading.cget("text").startswith("Stations of")
    desk.shot("32-stations-english")
    app.set_language("vi")
