"""A centre with several stations on one centre PostgreSQL, synced to the district once for the
whole centre (issue 17): every station's own chain and the stations' rows arrive (never a
private key, never a sealed data key), the district verifies each chain and names the station
of a break, and the sync is idempotent and resumable. The seat tables of the exam room
(issue 18) travel too. Each desk is its own Store with its own key folder, as two machines."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from examdesk.i18n import Catalog
from proctoring import audit
from proctoring.errors import ProctoringError
from proctoring.evidence import read_evidence
from proctoring.stations import approve, enrol, local_identity
from proctoring.store import Store
from proctoring.sync import BatchReport, sync_once, sync_status
from tests.desks import Desks

from .builders import ACTOR, CENTRES, admit, person, session_with_roster, unit
from .conftest import DistrictEnv
from .pgcluster import PrivateCluster


@pytest.fixture
def desks(cluster: PrivateCluster, tmp_path: Path) -> Iterator[Desks]:
    """The centre's own PostgreSQL (not the district's), shared by its desks."""
    with cluster.scratch_database("centre_") as name:
        with Desks(cluster.url(name), tmp_path) as d:
            yield d


def _centre_with_stations(desks: Desks) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """HN01 with desk a (its first desk) and desk b (approved by a), a session, and check-ins
    at both desks: the check-ins are on the stations' own chains, not the centre's."""
    from proctoring.centres import ensure_centre

    a = desks("a")
    centre_id = ensure_centre(a, "HN01", CENTRES["HN01"], actor=ACTOR).id
    session, entries = session_with_roster(a, "S1", [person(i) for i in range(4)])
    enrol(a, centre_id=centre_id, name="Phòng lý thuyết", stages="theory", actor=ACTOR)
    enrol(desks("b"), centre_id=centre_id, name="Sân 1", stages="yard", actor=ACTOR)
    approve(a, centre_id=centre_id, ref="Sân 1", actor=ACTOR)
    b = desks("b")
    checkins = [admit(a, session, entries[0], person(0)[0], unit(0)).checkin.id,
                admit(b, session, entries[1], person(1)[0], unit(1)).checkin.id,
                admit(b, session, entries[2], person(2)[0], unit(2)).checkin.id]
    return centre_id, checkins


def _district_verify(env: DistrictEnv, centre_id: uuid.UUID) -> list[audit.ChainReport]:
    """``audit verify`` on the district's own database (keys: what the district recorded for
    each centre), the chains of ``centre_id``: its own and its stations'."""
    engine = env.admin()
    try:
        with Session(engine) as tx:
            report = audit.verify(tx, None)
    finally:
        engine.dispose()
    return [c for c in report.chains if c.centre_id == centre_id]


def _rows(env: DistrictEnv, sql: str, **params: object) -> list[tuple[object, ...]]:
    engine = env.admin()
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def _local(store: Store, sql: str, **params: object) -> list[tuple[object, ...]]:
    with store.read() as tx:
        return [tuple(r) for r in tx.connection().execute(sa.text(sql), params)]


def test_one_sync_carries_every_station_chain_and_the_district_verifies_each(
        district: DistrictEnv, desks: Desks) -> None:
    centre_id, checkins = _centre_with_stations(desks)
    a, b = desks("a"), desks("b")
    station_events = int(str(_local(a, "SELECT count(*) FROM station_audit_event")[0][0]))
    centre_events = int(str(_local(a, "SELECT seq FROM audit_head")[0][0]))
    assert station_events >= 5 and sync_status(a).pending == centre_events + station_events

    result = sync_once(a, district.centre_urls["HN01"])  # once for the whole centre
    assert result.ok, result.error
    assert result.pushed_events == centre_events + station_events
    assert sync_status(a).pending == 0 and sync_status(b).pending == 0
    # Every check-in, whichever desk signed it, with its evidence.
    there = {r[0] for r in _rows(district, "SELECT id FROM checkin WHERE centre_id = :c",
                                 c=centre_id)}
    assert there == set(checkins)
    assert _rows(district, "SELECT count(*) FROM evidence_blob WHERE centre_id = :c",
                 c=centre_id)[0][0] == 3 * len(checkins)
    # Each chain event for event, each head where the centre's is.
    for table in ("station_audit_event", "station_audit_checkpoint"):
        local = _local(a, f"SELECT id, station_id, seq, hash FROM {table} ORDER BY id")
        assert _rows(district, f"SELECT id, station_id, seq, hash FROM {table} "
                     "WHERE centre_id = :c ORDER BY id", c=centre_id) == local, table
    assert sorted(_rows(district, "SELECT station_id, seq, hash FROM station_audit_head")) == \
        sorted(_local(a, "SELECT station_id, seq, hash FROM station_audit_head"))
    # The stations: names, stages, states and public keys; never a private or data key.
    assert sorted(_rows(district, "SELECT name, stages, status, signing_public, box_public "
                        "FROM station")) == sorted(_local(
                            a, "SELECT name, stages, status, signing_public, box_public "
                            "FROM station"))
    assert _rows(district, "SELECT count(*) FROM station_data_key")[0][0] == 0
    dump = repr(_rows(district, "SELECT * FROM station")) + repr(_rows(
        district, "SELECT * FROM station_audit_event")) + repr(_rows(
            district, "SELECT * FROM station_audit_checkpoint"))
    for desk in ("a", "b"):
        identity = local_identity(desks.keys(desk), centre_id)
        assert identity is not None
        for private in (identity.signing.private_bytes_raw(), identity.box.private_bytes_raw()):
            assert private.hex() not in dump and repr(private) not in dump
    # The district verifies every chain: the centre's and each station's, by name, the
    # stations' keys vouched for by approvals on chains checked with the district's key.
    chains = _district_verify(district, centre_id)
    assert all(c.ok for c in chains), [c.to_dict() for c in chains if not c.ok]
    assert [c.key_source for c in chains if c.station_id is None] == ["district"]
    named = {c.station_name: c for c in chains if c.station_id is not None}
    assert set(named) == {"Phòng lý thuyết", "Sân 1"}
    assert named["Sân 1"].key_source == "approved" and named["Sân 1"].events >= 3

    # The office's list of centres counts every chain's events and the stations.
    from proctoring.district import members

    with district.office() as office:
        (hn01,) = [m for m in members(office) if m.code == "HN01"]
        # The office opens what either desk sealed (the centre's key, sealed to the office).
        for checkin_id in checkins:
            for evidence_id in _rows(district, "SELECT id FROM evidence WHERE checkin_id = :c "
                                     "AND kind = 'CHIP_PORTRAIT'", c=checkin_id):
                assert read_evidence(office.store, evidence_id[0]) == \
                    read_evidence(a, evidence_id[0])
    assert (hn01.events, hn01.stations) == (centre_events + station_events, 2)

    # Another station's desk holds no key of the centre's own chain: told where to sync.
    other = sync_once(b, district.centre_urls["HN01"])
    assert other.error is not None and other.error.key == "sync.needs_centre_key"
    text = Catalog.load().both(other.error.key, centre="HN01")
    assert "máy đầu tiên" in text and "first desk" in text

    # Idempotent: nothing new, nothing sent.
    again = sync_once(a, district.centre_urls["HN01"])
    assert again.ok and again.pushed_events == 0 and again.batches == 0

    # After `station rotate-data-key`, evidence a station seals with the new key reaches the
    # office readable: the new key goes to the district with the next sync.
    from proctoring.stations import rotate_data_key

    rotation = rotate_data_key(a, centre_id=centre_id, actor=ACTOR, reason="định kỳ")
    b.forget_keys()
    session_id = _local(a, "SELECT session_id FROM checkin LIMIT 1")[0][0]
    entry = _local(a, "SELECT id FROM roster_entry WHERE id NOT IN (SELECT roster_entry_id "
                   "FROM checkin) LIMIT 1")[0][0]
    from proctoring.models import ExamSession, RosterEntry

    with b.read() as tx:
        session, line = tx.get(ExamSession, session_id), tx.get(RosterEntry, entry)
    assert session is not None and line is not None
    later = admit(b, session, line, person(3)[0], unit(3))
    after = sync_once(a, district.centre_urls["HN01"])
    assert after.ok and after.keys_sent == 1
    with district.office() as office:
        assert read_evidence(office.store, later.evidence_ids[0]) == \
            read_evidence(b, later.evidence_ids[0])
    assert _rows(district, "SELECT key_id FROM evidence_blob WHERE id = :i",
                 i=later.evidence_ids[0]) == [(rotation.new_key_id,)]


def test_a_cut_sync_resumes_where_the_district_stands_and_sends_nothing_twice(
        district: DistrictEnv, desks: Desks) -> None:
    centre_id, _ = _centre_with_stations(desks)
    a = desks("a")

    class Cut(ProctoringError):
        key = "sync.error"

    seen: list[BatchReport] = []

    def cut_after_three(report: BatchReport) -> None:
        seen.append(report)
        if len(seen) == 3:
            raise Cut("the network went away")

    first = sync_once(a, district.centre_urls["HN01"], batch_events=2,
                      on_batch=cut_after_three)
    assert not first.ok and first.batches == 3
    assert sync_status(a).pending > 0
    resumed = sync_once(a, district.centre_urls["HN01"], batch_events=2)
    assert resumed.ok, resumed.error
    assert sync_status(a).pending == 0
    local = sorted(_local(a, "SELECT station_id, seq, hash FROM station_audit_event"))
    there = sorted(_rows(district, "SELECT station_id, seq, hash FROM station_audit_event "
                         "WHERE centre_id = :c", c=centre_id))
    assert there == local  # each event once, none missing
    assert all(c.ok for c in _district_verify(district, centre_id))


def test_an_insider_editing_a_synced_station_event_on_the_district_is_named(
        district: DistrictEnv, desks: Desks) -> None:
    centre_id, _ = _centre_with_stations(desks)
    assert sync_once(desks("a"), district.centre_urls["HN01"]).ok
    # The centre's own login may not rewrite or remove what it sent.
    centre = sa.create_engine(district.url_as("centre_hn01", district.centre_passwords["HN01"],
                                              direct=True), poolclass=NullPool)
    try:
        for sql in ("UPDATE station_audit_event SET actor = 'x'",
                    "DELETE FROM station_audit_event", "DELETE FROM station",
                    "UPDATE station SET signing_public = repeat('0', 64)",
                    "UPDATE station_audit_checkpoint SET signature = 'x'",
                    "SELECT * FROM station_sync_state"):
            with pytest.raises(DBAPIError) as caught, centre.begin() as conn:
                conn.execute(sa.text(sql))
            assert getattr(caught.value.orig, "sqlstate", None) == "42501", sql
    finally:
        centre.dispose()
    # The database owner (an insider at the office) edits one event of Sân 1 with raw SQL.
    engine = district.admin()
    with engine.begin() as conn:
        conn.execute(sa.text(
            "UPDATE station_audit_event SET actor = 'someone else' WHERE seq = 2 AND "
            "station_id = (SELECT id FROM station WHERE name = 'Sân 1')"))
    engine.dispose()
    chains = _district_verify(district, centre_id)
    bad = [(c.station_name, [p.kind for p in c.problems]) for c in chains if not c.ok]
    assert bad == [("Sân 1", ["modified"])]
    assert [c.problems[0].seqs for c in chains if not c.ok] == [(2,)]
    assert len(chains) == 3  # the centre's chain and the other station's stay intact


def test_two_syncs_of_the_centre_at_once_send_each_station_event_once(
        district: DistrictEnv, desks: Desks) -> None:
    """Two processes of the centre syncing at the same moment (the app's worker and a manual
    `examdesk sync`): the district's head rows decide, nothing is applied twice."""
    import threading

    centre_id, _ = _centre_with_stations(desks)
    second = Store.open(desks.url, keys=desks.keys("a"))
    results = []
    start = threading.Barrier(2)

    def run(store: Store) -> None:
        start.wait()
        results.append(sync_once(store, district.centre_urls["HN01"], batch_events=1))

    try:
        threads = [threading.Thread(target=run, args=(s,)) for s in (desks("a"), second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        second.close()
    assert [r.error for r in results] == [None, None]
    total = int(str(_local(desks("a"), "SELECT count(*) FROM station_audit_event")[0][0]))
    assert sum(r.pushed_events for r in results) >= total
    local = sorted(_local(desks("a"), "SELECT station_id, seq, hash FROM station_audit_event"))
    assert sorted(_rows(district, "SELECT station_id, seq, hash FROM station_audit_event "
                        "WHERE centre_id = :c", c=centre_id)) == local
    assert all(c.ok for c in _district_verify(district, centre_id))


def test_a_station_chain_cut_back_after_the_sync_stops_the_next_one_and_is_named(
        district: DistrictEnv, desks: Desks) -> None:
    """The district's head of each station chain is a witness outside the centre database: an
    insider at the centre who deletes a station's last events (and moves its head back) is
    caught by the next sync, which names the station and sends nothing more of it."""
    _centre_with_stations(desks)
    a = desks("a")
    assert sync_once(a, district.centre_urls["HN01"]).ok
    with a.write() as tx:
        conn = tx.connection()
        station = conn.execute(sa.text("SELECT id FROM station WHERE name = 'Sân 1'")).scalar()
        end = conn.execute(sa.text("SELECT seq FROM station_audit_head WHERE station_id = :s"),
                           {"s": station}).scalar_one()
        prev = conn.execute(sa.text("SELECT prev_hash FROM station_audit_event WHERE "
                                    "station_id = :s AND seq = :q"),
                            {"s": station, "q": end}).scalar_one()
        for table in ("station_audit_checkpoint", "station_audit_event"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE station_id = :s AND seq = :q"),
                         {"s": station, "q": end})
        conn.execute(sa.text("UPDATE station_audit_head SET seq = :q, hash = :h "
                             "WHERE station_id = :s"), {"s": station, "q": end - 1, "h": prev})
    result = sync_once(a, district.centre_urls["HN01"])
    assert result.error is not None and result.error.key == "sync.station_chain_diverged"
    text = Catalog.load().both(result.error.key, station="Sân 1", district_seq=end,
                               local_seq=end - 1)
    assert "trạm Sân 1" in text and "station Sân 1" in text
    assert "Sân 1" in result.error.detail
    # The district still holds the whole chain: what the insider removed is not lost there.
    assert _rows(district, "SELECT seq FROM station_audit_head WHERE station_id = :s",
                 s=station) == [(end,)]
