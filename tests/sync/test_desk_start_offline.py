"""A centre's desk started while the centre's PostgreSQL is down (issue 17): the desk opens
without it, finds the sessions it kept a roster copy of, keeps check-ins in its outbox, and
when the centre answers migrates it (if needed) and delivers. The centre is a private cluster
crashed with ``pg_ctl stop -m immediate`` before the desk starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from examdesk.services.outbox import (
    CentreNeeded,
    desk_sessions,
    desk_station,
    needs_centre,
    open_desk_store,
)
from proctoring import audit
from proctoring.crypto import KeyStore
from proctoring.desk_outbox import DeskOutbox
from proctoring.errors import DatabaseUnavailable
from proctoring.models import CheckIn
from proctoring.sessions import list_sessions
from proctoring.stations import enrol
from proctoring.store import HEAD_REVISION, Store, current_revision
from tests.proctoring.helpers import add_roster, centre_and_session
from tests.proctoring.outbox_helpers import item, people

from .pgcluster import PrivateCluster


def test_a_desk_started_during_an_outage_keeps_and_later_delivers(
        cluster: PrivateCluster, tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "desk-keys", use_keyring=False)
    folder = tmp_path / "desk-data"
    with cluster.scratch_database("desk_start_") as name:
        url = cluster.url(name)
        with Store.open(url, keys=keys) as store:  # the desk, while it was connected
            session = centre_and_session(store)
            entries = add_roster(store, session, people(3))
            enrol(store, centre_id=session.centre_id, name="Bàn 1", stages="", actor="test")
            kept = DeskOutbox.for_desk(keys, folder)
            kept.remember(store, session)
            kept.close()

        cluster.stop("immediate")
        try:
            store, online = open_desk_store(url, keys=keys)  # the old desk stopped here
            assert not online
            outbox = DeskOutbox.for_desk(keys, folder)
            assert desk_station(store) is None  # asked again when the centre answers
            infos, centre = desk_sessions(store, outbox)
            assert not centre and [(i.session.id, i.roster_count) for i in infos] == [
                (session.id, 3)]
            with pytest.raises(DatabaseUnavailable) as refused:
                list_sessions(store)
            said = needs_centre(refused.value, outbox)
            assert isinstance(said, CentreNeeded) and said.key == "offline17.needs_centre"
            assert needs_centre(refused.value, None) is refused.value  # a desk alone: as is
            made = []
            for i in range(2):
                one = item(session, entries[i], people(3)[i][0], i)
                assert outbox.record(store, one, actor="test:offline-start").waiting == i + 1
                made.append(one.checkin_id)
        finally:
            cluster.start()
        try:
            done = outbox.deliver(store)
            assert (done.delivered, done.waiting, done.reachable) == (2, 0, True)
            station = desk_station(store)
            assert station is not None and station.name == "Bàn 1"
            assert desk_sessions(store, outbox)[1]  # the centre's list again
            with store.read() as tx:
                ids = list(tx.exec(select(CheckIn.id)).all())
                report = audit.verify(tx, keys)
            assert sorted(ids) == sorted(made)
            assert report.ok, report.to_dict()
        finally:
            outbox.close()
            store.close()


def test_a_centre_not_yet_migrated_is_migrated_at_its_first_answer(
        cluster: PrivateCluster, tmp_path: Path) -> None:
    """A desk updated (new schema) and started during the outage: the migrations that Store.open
    would have run at start run on the first use that reaches the centre."""
    keys = KeyStore(tmp_path / "desk-keys", use_keyring=False)
    with cluster.scratch_database("desk_start_empty_") as name:
        url = cluster.url(name)
        cluster.stop("immediate")
        try:
            store, online = open_desk_store(url, keys=keys)
            assert not online
            with pytest.raises(DatabaseUnavailable):
                with store.read():
                    pass
        finally:
            cluster.start()
        try:
            assert current_revision(store.engine) is None  # nothing ran while it was away
            assert list_sessions(store) == []
            assert current_revision(store.engine) == HEAD_REVISION
        finally:
            store.close()


def test_a_desk_alone_still_needs_its_own_database(tmp_path: Path) -> None:
    """No outbox without a centre: a desk on SQLite whose file cannot be opened stops with the
    database's own message, as before."""
    bad = tmp_path / "a-folder.db"
    bad.mkdir()
    with pytest.raises(DatabaseUnavailable):
        open_desk_store(f"sqlite:///{bad}", keys=KeyStore(tmp_path / "k", use_keyring=False))
