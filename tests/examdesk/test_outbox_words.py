"""A desk under a centre outage, in words (issue 17): the header's badge, the command line's
lines, the offline rule — Vietnamese first, English, a symbol as well as a colour; and the
command line finds its session in the desk's copy while the centre does not answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from examdesk.i18n import Catalog
from examdesk.services.outbox import centre_or_outbox, session_for
from examdesk.views.outbox_badge import KEPT, OFFLINE, SENDING, OutboxState, describe_outbox
from examdesk.views.texts import Texts
from proctoring.crypto import KeyStore
from proctoring.desk_outbox import CentreOffline, DeskOutbox
from proctoring.store import Store
from tests.proctoring.helpers import add_roster, centre_and_session, isolate_home

AWAY = "postgresql://desk:pw@127.0.0.1:9/centre"


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate_home(tmp_path, monkeypatch)


def test_the_badge_says_offline_and_how_many_wait_in_words() -> None:
    t = Texts(Catalog.load(), "vi")
    shown = describe_outbox(t, OutboxState(waiting=3, parked=0, reachable=False))
    assert shown is not None and shown.look is OFFLINE and shown.look.symbol == "⚠"
    assert shown.short == "Mất kết nối trung tâm — 3 chờ gửi"
    assert "XEM XÉT" in shown.full and "vòng trước" in shown.full  # the offline rule, stated
    t.set_lang("en")
    shown = describe_outbox(t, OutboxState(3, 0, False))
    assert shown is not None and shown.short == "Centre unreachable — 3 waiting"
    assert "REVIEW" in shown.full
    sending = describe_outbox(t, OutboxState(2, 0, True))
    assert sending is not None and sending.look is SENDING and "2" in sending.short
    kept = describe_outbox(t, OutboxState(0, 1, True))
    assert kept is not None and kept.look is KEPT and "1" in kept.short
    assert describe_outbox(t, OutboxState(0, 0, True)) is None  # connected, nothing to say


def test_offline_the_command_line_finds_the_session_in_the_desks_copy(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys", use_keyring=False)
    with centre_or_outbox(AWAY, keys=keys, folder=tmp_path / "desk") as place:
        assert not place.online and place.outbox is not None
        with pytest.raises(CentreOffline):  # never opened while connected: no copy
            session_for(place, "S1")
    centre = Store.open(f"sqlite:///{tmp_path / 'centre.db'}", keys=keys)
    try:
        session = centre_and_session(centre)
        add_roster(centre, session)
        copy = DeskOutbox.for_desk(keys, tmp_path / "desk")
        copy.remember(centre, session)
        copy.close()
    finally:
        centre.close()
    with centre_or_outbox(AWAY, keys=keys, folder=tmp_path / "desk") as place:
        assert session_for(place, "S1").id == session.id
        assert session_for(place, str(session.id)[:8]).id == session.id


def test_a_desk_alone_on_its_sqlite_file_keeps_no_outbox(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys", use_keyring=False)
    with centre_or_outbox(f"sqlite:///{tmp_path / 'desk.db'}", keys=keys,
                          folder=tmp_path / "desk") as place:
        assert place.online and place.outbox is None
    assert not (tmp_path / "desk").exists()


def test_the_badges_probe_says_away_and_keeps_the_open_sessions_roster(tmp_path: Path) -> None:
    from examdesk.views.outbox_badge import probe
    from proctoring.store import create_engine, database_url

    keys = KeyStore(tmp_path / "keys", use_keyring=False)
    outbox = DeskOutbox.for_desk(keys, tmp_path / "desk")
    centre = Store.open(f"sqlite:///{tmp_path / 'centre.db'}", keys=keys)
    away = Store(create_engine(database_url(AWAY)), keys)
    try:
        session = centre_and_session(centre)
        add_roster(centre, session)
        assert probe(away, outbox, session) == OutboxState(0, 0, False)
        assert probe(centre, outbox, session) == OutboxState(0, 0, True)
        assert outbox.find_session("S1").id == session.id  # kept while the centre answered
    finally:
        away.close()
        centre.close()
        outbox.close()
