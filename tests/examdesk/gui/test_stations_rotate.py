"""The centre admin rotates the data key from the station screen (issue 17), by keys: F12,
Ctrl+K, a written reason, Enter. The confirmation says in words what happens (revoked stations
lose access to evidence stored from now on); the rotation is the command line's own call, on
the worker. A second desk of the centre (its own key store, the same database) was approved and
then revoked: after the rotation nothing sealed to it opens the new key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from proctoring.crypto import KeyStore
from proctoring.keyrecords import DATA_KEY_NAME, current, records
from proctoring.models import Role
from proctoring.station_models import Station, StationDataKey
from proctoring.stations import approve, enrol, revoke
from proctoring.store import Store
from proctoring.sync import local_centre
from tests.examdesk.gui.conftest import Desk, settle


@pytest.fixture
def revoked_desk(desk: Desk, tmp_path: Path) -> Iterator[Store]:
    """Another laptop of the centre, approved by this desk and then revoked (it was lost)."""
    services = desk.app.services
    store = Store.open(services.places.db_url,
                       keys=KeyStore(tmp_path / "desk-lost" / "keys", use_keyring=False))
    try:
        centre = local_centre(store)
        # This desk first (as the station screen's own test enrols it): it holds the data key.
        enrol(services.store, centre_id=centre.id, name="Phòng lý thuyết", stages="theory",
              actor="app:Giám thị demo")
        info = enrol(store, centre_id=centre.id, name="Sân 9", stages="yard", actor="cli:san9")
        approve(services.store, centre_id=centre.id, ref=str(info.id), actor="cli:admin",
                expect_fingerprint=info.fingerprint)
        revoke(services.store, centre_id=centre.id, ref=str(info.id), actor="cli:admin",
               reason="máy bị mất")
        yield store
    finally:
        store.close()


def current_key(store: Store) -> str:
    with store.read() as tx:
        now = current(records(tx, DATA_KEY_NAME))
        assert now is not None
        return now.key_id


@pytest.mark.desk_state(role=Role.CENTRE_ADMIN, screen="sessions")
def test_the_admin_rotates_the_data_key_from_the_station_screen(
        desk: Desk, revoked_desk: Store) -> None:
    app = desk.app
    store = app.services.store
    before = current_key(store)
    desk.press("F12")
    view = app.views["stations"]
    assert app.current is view
    settle(desk)
    tree = view.table.tree
    assert app.root.focus_get() is tree
    assert sorted(r[2] for r in view.rows) == ["✔ đang hoạt động", "✖ đã thu hồi"]

    # Ctrl+K: the question says what happens, in words, and names who gets the key and who not.
    desk.press("Control-k", tree)
    assert view.confirm.winfo_ismapped()
    question = view.question.cget("text")
    assert "trạm đã thu hồi không mở được dữ liệu lưu từ nay về sau" in question
    assert "Dữ liệu cũ vẫn đọc được" in question
    held = view.held.cget("text")
    assert "Khoá mới cho: Phòng lý thuyết." in held
    assert "Không trao cho (đã thu hồi): Sân 9" in held
    assert str(view.confirm_button.cget("state")) == "disabled"
    desk.press("Return", view.answer._entry)  # no reason: nothing happens
    settle(desk)
    assert current_key(store) == before and view.confirm.winfo_ismapped()
    desk.press("Escape", view.answer._entry)  # Esc cancels
    assert not view.confirm.winfo_ismapped() and app.root.focus_get() is tree
    assert current_key(store) == before

    desk.press("Control-k", tree)
    desk.type_into(view.answer, "Máy Sân 9 bị mất")
    desk.shot("33-stations-rotate-confirm")
    desk.press("Return", view.answer._entry)
    settle(desk)
    after = current_key(store)
    assert after != before
    assert "Đã thay khoá dữ liệu. Khoá mới chỉ trao cho: Phòng lý thuyết." in (
        view.message.cget("text"))
    assert not view.confirm.winfo_ismapped()
    # The new key was sealed to no revoked station (the CLI's tests try the revoked desk's
    # keys on evidence stored after the rotation: the same call).
    with store.read() as tx:
        sealed_to = set(tx.exec(select(StationDataKey.station_id)
                                .where(StationDataKey.key_id == after)).all())
        lost = tx.exec(select(Station.id).where(Station.name == "Sân 9")).one()
    assert lost not in sealed_to
    app.set_language("en")
    assert "Rotate the data key (Ctrl+K)" in view.rotate_button.cget("text")
    app.set_language("vi")
    desk.shot("34-stations-rotated")
