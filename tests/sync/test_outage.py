"""The district's PostgreSQL goes away in the middle of a sync: nothing lost, nothing doubled.

Two real failures, both on the private cluster (never the shared one):

- the server is stopped like a crash (``pg_ctl stop -m immediate``) while a batch's
  transaction is open and its evidence blobs are on the wire, then started again (WAL replay);
- the server commits a batch but the answer to COMMIT never reaches the centre (the proxy
  swallows it and cuts the connection): the centre cannot know whether the batch is in.

The proxy decides *when*: a hook armed from the sync's own progress callback, so the cut lands
in a chosen batch rather than at a random moment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from proctoring import audit
from proctoring.store import Store
from proctoring.sync import BatchReport, sync_once, sync_status

from .builders import admit, person, session_with_roster, unit
from .conftest import DistrictEnv
from .pgcluster import PrivateCluster
from .tcpproxy import Action
from .test_sync import _local_events, assert_mirrored


def _checkins(store: Store, code: str, n: int, start: int = 0) -> None:
    session, entries = session_with_roster(store, code, [person(start + i) for i in range(n)])
    for i, entry in enumerate(entries):
        admit(store, session, entry, person(start + i)[0], unit(start + i))


@pytest.fixture
def restarts(district: DistrictEnv) -> Iterator[PrivateCluster]:
    """The cluster, started again after the test whatever happened (other tests share it)."""
    yield district.cluster
    if not district.cluster.running():
        district.cluster.start()


class StopServerMidBatch:
    """Once armed: at the next large client chunk (a batch's evidence blobs, sent inside its
    open transaction) stop the server like a crash and drop the connection."""

    def __init__(self, cluster: PrivateCluster, min_bytes: int = 32 * 1024) -> None:
        self.cluster = cluster
        self.min_bytes = min_bytes
        self.armed = False
        self.fired = False

    def __call__(self, chunk: bytes) -> Action:
        if self.armed and not self.fired and len(chunk) >= self.min_bytes:
            self.fired = True
            self.cluster.stop("immediate")
            return Action.KILL
        return Action.PASS


def test_postgres_stopped_mid_sync_and_restarted(district: DistrictEnv,
                                                 centres: dict[str, Store],
                                                 restarts: PrivateCluster) -> None:
    hn, hp = centres["HN01"], centres["HP02"]
    _checkins(hn, "S1", 12)  # 14 events: centre, session, 12 check-ins with 3 blobs each
    _checkins(hp, "S1", 3, start=50)
    hook = StopServerMidBatch(restarts)
    district.proxy.hook = hook

    def arm(report: BatchReport) -> None:
        if report.last_seq >= 8:  # two batches of 4 are in: stop during the third
            hook.armed = True

    cut = sync_once(hn, district.centre_urls["HN01"], batch_events=4, on_batch=arm)
    assert hook.fired and not restarts.running()
    assert cut.error is not None and cut.error.key == "sync.central_unavailable"
    assert cut.batches == 2 and cut.pushed_events == 8
    status = sync_status(hn)
    assert status.pending == 6 and status.last_error is not None

    # The centre keeps working offline; syncing while the server is down fails fast and names it.
    _checkins(hn, "S2", 2, start=20)
    t0 = time.monotonic()
    down = sync_once(hn, district.centre_urls["HN01"])
    assert down.error and down.error.key == "sync.central_unavailable"
    assert time.monotonic() - t0 < 10
    assert sync_status(hn).pending == 6 + 3

    restarts.start()  # crash recovery: the two committed batches are there, the third is not
    assert "automatic recovery in progress" in restarts.log_tail()
    assert district.count("audit_event", "seq > 0 AND actor = 'test:centre'") == 8
    done = sync_once(hn, district.centre_urls["HN01"], batch_events=4)
    assert done.ok and done.pushed_events == 9  # from event 9 on: nothing re-sent
    assert sync_once(hp, district.centre_urls["HP02"]).ok
    for store in centres.values():
        assert_mirrored(district, store)
        assert sync_status(store).pending == 0
    assert district.count("checkin") == 12 + 2 + 3
    with district.office() as office, office.store.read() as tx:
        report = audit.verify(tx, office.store.keys)
    assert report.ok, [(c.centre_code, p.kind, p.seqs, p.detail) for c in report.chains
                       for p in c.problems]


class LoseCommitAnswer:
    """Once armed: let the next COMMIT through, swallow the server's answer, cut the line."""

    def __init__(self) -> None:
        self.armed = False
        self.fired = False

    def __call__(self, chunk: bytes) -> Action:
        if self.armed and not self.fired and b"COMMIT" in chunk:
            self.fired = True
            return Action.LOSE_REPLY
        return Action.PASS


def test_a_commit_whose_answer_is_lost_is_not_sent_twice(district: DistrictEnv,
                                                         centres: dict[str, Store]) -> None:
    hn = centres["HN01"]
    _checkins(hn, "S1", 10)  # 12 events
    hook = LoseCommitAnswer()
    district.proxy.hook = hook

    def arm(report: BatchReport) -> None:
        hook.armed = True  # after the first batch: the second batch's COMMIT gets lost

    doubt = sync_once(hn, district.centre_urls["HN01"], batch_events=5, on_batch=arm)
    assert hook.fired
    assert doubt.error and doubt.error.key == "sync.central_unavailable"
    assert doubt.batches == 1  # as far as the centre knows
    # …but the district committed the second batch.
    assert district.count("audit_event", "actor = 'test:centre'") == 10
    assert sync_status(hn).pending == 7  # it may say more than is missing, never less

    again = sync_once(hn, district.centre_urls["HN01"], batch_events=5)
    assert again.ok and again.pushed_events == 2  # only what the district lacked
    assert_mirrored(district, hn)
    assert district.count("audit_event", "actor = 'test:centre'") == _local_events(hn)


def test_two_syncs_of_one_centre_at_once(district: DistrictEnv,
                                         centres: dict[str, Store]) -> None:
    """The app's background sync and an operator's `examdesk sync` at the same moment."""
    hn = centres["HN01"]
    _checkins(hn, "S1", 10)
    results = []

    def run() -> None:
        results.append(sync_once(hn, district.centre_urls["HN01"], batch_events=2))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(r.ok for r in results), results
    assert sum(r.pushed_events for r in results) == _local_events(hn)
    assert_mirrored(district, hn)
