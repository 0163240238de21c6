"""A station desk checks its sealed data key (still the current one, the station still allowed
to write) once per transaction, not once per blob: a check-in seals three blobs or more, and
on a shared centre database every extra round trip is paid by every desk (bench/stations.py)."""

from __future__ import annotations

from proctoring.stations import enrol
from proctoring.store import Store

from .helpers import add_roster, centre_and_session, checkin, statements_sent


def test_one_station_key_check_per_checkin(store: Store) -> None:
    session = centre_and_session(store)
    entries = add_roster(store, session)
    enrol(store, centre_id=session.centre_id, name="Bàn 1", stages="", actor="test")
    store.forget_keys()
    checkin(store, session, entries[0], "001093014275", seed=1)  # the key is opened once

    def station_row(statement: str) -> bool:  # the desk's station row, looked up to check it
        return "FROM station \n" in statement or "FROM station WHERE" in statement

    with statements_sent(store, station_row) as seen:
        done = checkin(store, session, entries[1], "001190012345", seed=2)
    assert len(done.evidence_ids) == 3
    # Once for the data key, once for the audit event (each blob used to ask again).
    assert len(seen) <= 2, seen
