"""A desk on a centre's PostgreSQL, in a real window, while the centre crashes and returns
(issue 17): the header says "Mất kết nối trung tâm — 0 chờ gửi" with its symbol, the status
line states the offline rule, and the badge goes away when the centre answers again. The
centre is a private cluster (``pg_ctl stop -m immediate``), never the shared server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.examdesk.gui.conftest import Desk
from tests.sync.pgcluster import PrivateCluster, private_cluster


@pytest.fixture(scope="module")
def centre() -> Iterator[PrivateCluster]:
    yield from private_cluster()


def test_the_header_says_the_centre_is_away_and_back(
        centre: PrivateCluster, xvfb: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    from examdesk.app import AppOptions, ExamDeskApp

    home = tmp_path_factory.mktemp("outbox-desk")
    with centre.scratch_database("desk_badge_") as name, pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXAMDESK_HOME", str(home))
        mp.setenv("EXAMDESK_KEYRING", "0")
        mp.setenv("EXAMDESK_DB_URL", centre.url(name))
        mp.delenv("EXAMDESK_CENTRE", raising=False)
        mp.setattr("examdesk.views.outbox_badge.EVERY_MS", 200)
        app = ExamDeskApp(AppOptions(demo=False, display=xvfb))
        try:
            desk = Desk(app, xvfb)
            desk.wait_until(lambda: app.services is not None, "the services to start", 90)
            assert app.services is not None and app.services.checkins.outbox is not None
            badge = app.outbox_badge
            desk.pump(0.6)
            assert not badge.winfo_ismapped()  # the centre answers, nothing waits: no badge
            centre.stop("immediate")
            try:
                desk.wait_until(lambda: badge.winfo_ismapped(), "the outage badge", 30)
                assert badge.text == "⚠ Mất kết nối trung tâm — 0 chờ gửi"
                assert "XEM XÉT" in app.status_text  # the offline rule, on screen
            finally:
                centre.start()
            desk.wait_until(lambda: not badge.winfo_ismapped(), "the badge to go", 30)
        finally:
            app.close()
