"""A centre's desk started while the centre is down (issue 17), in a real window: the centre's
PostgreSQL (a private cluster) crashed with ``pg_ctl stop -m immediate`` before the app
starts. The desk starts anyway, says the centre is unreachable, lists the session it kept a
roster copy of, checks a candidate in through pcscd into its outbox, says in words that a roster
import needs the centre, and delivers the check-in once the centre is back."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from biometrics.config import ORL_POINT
from examdesk.demo import S27_BLINK
from examdesk.settings import write_section
from reader.trust.store import TrustStore
from reader.virtual import faces_dir
from reader.virtual.pki import test_csca_pem
from tests.examdesk.gui.conftest import Desk
from tests.examdesk.gui.xkeys import XKeyboard
from tests.proctoring.helpers import PEOPLE, add_roster, centre_and_session
from tests.sync.pgcluster import PrivateCluster, private_cluster

pytestmark = pytest.mark.pcsc

READER = "Virtual PCD 00 00"
BLINK = [faces_dir() / "orl" / "s27" / f"{n}.png" for n in S27_BLINK]


@pytest.fixture(scope="module")
def centre() -> Iterator[PrivateCluster]:
    yield from private_cluster()


def _prepare_desk(home: Path, url: str) -> None:
    """What the desk left behind while it was connected: the centre's session and roster, this
    desk enrolled as a station, its sealed copy of the roster; and its settings (reader,
    camera playing photos, the ORL calibration, one liveness challenge, the CSCA)."""
    from examdesk.views.context import Places
    from proctoring.desk_outbox import DeskOutbox
    from proctoring.stations import enrol
    from proctoring.store import Store

    places = Places.user()
    store = Store.open(url, keys=places.keys())
    try:
        session = centre_and_session(store)
        add_roster(store, session, PEOPLE[:2])
        enrol(store, centre_id=session.centre_id, name="Bàn 1", stages="", actor="test")
        outbox = DeskOutbox.for_desk(places.keys(), places.data)
        try:
            outbox.remember(store, session)
        finally:
            outbox.close()
    finally:
        store.close()
    csca = home / "csca.pem"
    csca.write_bytes(test_csca_pem())
    TrustStore.load(places.data / "trust").import_file(csca)
    write_section("face", {"operating_point": ORL_POINT.to_dict()})
    write_section("app", {"lang": "vi", "reader": READER,
                          "camera": os.pathsep.join(str(p) for p in BLINK)})
    write_section("checkin", {"liveness_challenges": 1})


def test_a_desk_started_during_an_outage_checks_in_and_delivers(
        centre: PrivateCluster, xvfb: str, keyboard: XKeyboard | None,
        insert_card: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory) -> None:
    from examdesk.app import AppOptions, ExamDeskApp
    from proctoring import audit
    from proctoring.models import CheckIn, Decision
    from proctoring.store import Store

    home = tmp_path_factory.mktemp("offline-start")
    with centre.scratch_database("desk_offline_start_") as name, \
            pytest.MonkeyPatch.context() as mp:
        url = centre.url(name)
        mp.setenv("EXAMDESK_HOME", str(home))
        mp.setenv("EXAMDESK_KEYRING", "0")
        mp.setenv("EXAMDESK_DB_URL", url)
        mp.delenv("EXAMDESK_CENTRE", raising=False)
        mp.setattr("examdesk.views.outbox_badge.EVERY_MS", 200)
        _prepare_desk(home, url)
        centre.stop("immediate")
        app: Any = None
        try:
            app = ExamDeskApp(AppOptions(demo=False, display=xvfb))
            desk = Desk(app, xvfb, keyboard)
            desk.wait_until(lambda: app.services is not None, "the services to start", 90)
            app.services.checkins.rng = random.Random(1)  # the blink first (test_station.py)
            badge = app.outbox_badge
            desk.wait_until(lambda: badge.winfo_ismapped(), "the outage badge", 30)
            assert badge.text == "⚠ Mất kết nối trung tâm — 0 chờ gửi"

            signin = app.views["signin"]
            signin.name_entry.delete(0, "end")
            desk.type_into(signin.name_entry, "Lê Văn Coi Thi")
            desk.press("Return")
            sessions = app.views["sessions"]
            assert app.current is sessions
            desk.wait_until(lambda: sessions.selected() is not None, "the kept session")
            kept = sessions.selected()
            assert kept.session.code == "S1" and kept.roster_count == 2
            assert "giữ danh sách khi còn kết nối" in app.status_text

            # What needs the centre says so, in words (never the driver's error).
            roster = home / "danh-sach.csv"
            roster.write_text("Số báo danh,Số CCCD,Họ và tên,Ngày sinh,Giới tính,Chỗ ngồi\n"
                              "SBD003,079196004518,Trần Thị Bích Ngọc,22/11/1996,Nữ,B08\n",
                              "utf-8")
            desk.type_into(sessions.file_entry, str(roster))
            desk.press("Return", sessions.file_entry._entry)
            desk.wait_until(lambda: "cần cơ sở dữ liệu trung tâm" in sessions.result.cget("text"),
                            "the import refused in words")
            assert "psycopg" not in sessions.result.cget("text")
            desk.shot("60-offline-start-sessions")

            sessions.table.tree.focus_set()  # back to the list (the import left it in the file)
            desk.pump(0.1)
            desk.press("Return", sessions.table.tree)
            assert app.current is desk.checkin, app.status_text and app.session.code == "S1"
            card = home / "an.toml"
            card.write_text('[card]\nbase = "nguyen-van-an"\n\n'
                            '[portrait]\nfile = "orl/s27/10.png"\nformat = "jpeg2000"\n',
                            "utf-8")
            inserted = insert_card(str(card))
            desk.press("F8")  # the candidate consents to face matching
            desk.type_into(desk.checkin.key_entry, inserted.access["can"])
            desk.press("Return")
            seen = desk.wait_decided()
            assert seen["decision"] == "ADMIT", seen
            assert "Nguyễn Văn An" in seen["banner"]
            desk.wait_until(lambda: badge.text == "⚠ Mất kết nối trung tâm — 1 chờ gửi",
                            "one check-in waiting")
            desk.shot("61-offline-start-admit")
            checkin_id = app.services.checkins.outbox.events()[0]["checkin_id"]
        finally:
            centre.start()
        try:
            # The centre is back: delivered, the badge gone, the station in the header.
            desk.wait_until(lambda: not badge.winfo_ismapped(), "the delivery", 60)
            desk.wait_until(lambda: "Bàn 1" in app.session_label.cget("text"),
                            "the station in the header", 30)
            assert len(app.services.checkins.outbox) == 0
        finally:
            app.close()
        from examdesk.views.context import Places

        with Store.open(url, keys=Places.user().keys()) as store, store.read() as tx:
            rows = tx.exec(select(CheckIn)).all()
            report = audit.verify(tx, store.keys)
        assert [(str(r.id), r.decision) for r in rows] == [(checkin_id, Decision.ADMIT)]
        assert report.ok, report.to_dict()
