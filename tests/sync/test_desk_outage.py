"""Issue 17's outage acceptance: the centre's PostgreSQL crashes (``pg_ctl stop -m immediate``
on a private cluster) while a desk makes 20 check-ins; restarted, all 20 arrive once, in the
order they were made, and every chain verifies."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import col, select

from proctoring import audit
from proctoring.crypto import KeyStore
from proctoring.desk_outbox import DeskOutbox
from proctoring.models import CheckIn, Evidence, IncidentCheckIn
from proctoring.station_models import StationAuditEvent
from proctoring.stations import enrol
from proctoring.store import Store
from tests.proctoring.helpers import add_roster, centre_and_session
from tests.proctoring.outbox_helpers import item, people

from .pgcluster import PrivateCluster

N = 20


def test_twenty_checkins_through_a_centre_crash_arrive_once_in_order(
        cluster: PrivateCluster, tmp_path: Path) -> None:
    with cluster.scratch_database("desk_outage_") as name:
        keys = KeyStore(tmp_path / "desk-keys", use_keyring=False)
        store = Store.open(cluster.url(name), keys=keys)
        try:
            session = centre_and_session(store)
            entries = add_roster(store, session, people(N + 1))
            enrol(store, centre_id=session.centre_id, name="Bàn 1", stages="", actor="test")
            store.forget_keys()
            outbox = DeskOutbox.for_desk(keys, tmp_path / "desk-data")
            outbox.remember(store, session)
            numbers = [p[0] for p in people(N + 1)]
            first = outbox.record(store, item(session, entries[0], numbers[0], 0), actor="t")
            assert not first.queued  # the centre answers: stored there, nothing waits

            cluster.stop("immediate")
            made = []
            for i in range(1, N + 1):
                one = item(session, entries[i], numbers[i], i, incident=i % 5 == 0)
                kept = outbox.record(store, one, actor="test:outage")
                assert kept.queued and kept.waiting == i  # acknowledged: durable on the desk
                made.append(one.checkin_id)
            assert len(outbox) == N
            try:
                outbox.deliver(store)
            finally:
                cluster.start()

            done = outbox.deliver(store)
            assert (done.delivered, done.waiting, done.parked, done.reachable) == (N, 0, 0, True)
            assert outbox.deliver(store).delivered == 0  # nothing twice
            with store.read() as tx:
                ids = list(tx.exec(select(CheckIn.id)).all())
                chain = list(tx.exec(select(StationAuditEvent.subject_id)
                                     .where(StationAuditEvent.action == "checkin.recorded")
                                     .order_by(col(StationAuditEvent.seq))).all())
                evidence = tx.exec(select(Evidence.id).where(
                    col(Evidence.checkin_id).in_(made))).all()
                incidents = tx.exec(select(IncidentCheckIn.incident_id).where(
                    col(IncidentCheckIn.checkin_id).in_(made))).all()
                report = audit.verify(tx, keys)
            assert len(ids) == len(set(ids)) == N + 1
            assert set(made) <= set(ids)
            assert chain[1:] == made  # in the order they were made, after the online one
            assert len(evidence) == 3 * N and len(incidents) == N // 5
            assert report.ok, report.to_dict()
            assert len(report.chains) >= 2  # the centre's and the station's
        finally:
            store.close()


def test_a_checkin_the_centre_already_has_is_not_stored_again(
        cluster: PrivateCluster, tmp_path: Path) -> None:
    """A crash after the centre committed and before the outbox forgot it: the next delivery
    finds it stored and only removes it."""
    with cluster.scratch_database("desk_twice_") as name:
        keys = KeyStore(tmp_path / "desk-keys", use_keyring=False)
        store = Store.open(cluster.url(name), keys=keys)
        try:
            session = centre_and_session(store)
            entries = add_roster(store, session, people(2))
            outbox = DeskOutbox.for_desk(keys, tmp_path / "desk-data")
            one = item(session, entries[0], people(2)[0][0], 0)
            outbox.record(store, one, actor="t")
            outbox.push(one, actor="t")  # as if the delete after the commit never happened
            assert outbox.deliver(store).delivered == 1 and len(outbox) == 0
            with store.read() as tx:
                assert tx.exec(select(CheckIn.id)).all() == [one.checkin_id]
        finally:
            store.close()

