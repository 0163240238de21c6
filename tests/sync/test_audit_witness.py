"""Issue 11, item 1: the district is the witness that catches a log cut back or replaced.

Signatures cannot show that signed events were removed from the end of the log; the district's
copy of the head can (``audit verify --district``). The district also records the centre's
first audit key on its first sync and refuses a centre that later offers another one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from proctoring import audit
from proctoring.audit_keys import anchor_key
from proctoring.audit_witness import district_witness
from proctoring.models import SessionKind
from proctoring.sessions import create_session
from proctoring.store import Store
from proctoring.sync import local_centre, sync_once

from .builders import ACTOR
from .conftest import DistrictEnv
from .test_sync import _day


def _witness_check(store: Store, url: str) -> list[tuple[str, tuple[int, ...]]]:
    centre = local_centre(store).id
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            witness = district_witness(conn, centre)
    finally:
        engine.dispose()
    assert witness.public_key == anchor_key(store.keys, centre)
    with store.read() as tx:
        report = audit.verify(tx, store.keys, witnesses=[witness])
    assert report.chains[0].key_source == "district+station"
    return [(p.kind, p.seqs) for c in report.chains for p in c.problems]


def test_a_truncated_tail_is_caught_by_the_district(district: DistrictEnv,
                                                    centres: dict[str, Store]) -> None:
    hn = centres["HN01"]
    url = district.centre_urls["HN01"]
    _day(hn, "S1", range(1, 3))
    centre = local_centre(hn).id
    for i in range(2):
        create_session(hn, centre_id=centre, kind=SessionKind.ONLINE_EXAM, title=f"Ca {i}",
                       code=f"T{i}", starts_at=datetime(2026, 6, 1, i, tzinfo=UTC), actor=ACTOR)
    assert sync_once(hn, url).ok
    assert _witness_check(hn, url) == []
    with hn.read() as tx:
        last = audit.verify(tx, hn.keys).chains[0].last_seq
    # The insider cuts the last two events off (and their signatures) and moves the head back:
    # what is left is a perfectly signed, shorter log.
    with hn.engine.begin() as conn:
        keep = conn.execute(sa.text("SELECT hash FROM audit_event WHERE seq = :s"),
                            {"s": last - 2}).scalar_one()
        conn.execute(sa.text("DELETE FROM audit_checkpoint WHERE seq > :s"), {"s": last - 2})
        conn.execute(sa.text("DELETE FROM audit_event WHERE seq > :s"), {"s": last - 2})
        conn.execute(sa.text("UPDATE audit_head SET seq = :s, hash = :h"),
                     {"s": last - 2, "h": keep})
    with hn.read() as tx:
        assert audit.verify(tx, hn.keys).ok  # alone, the database cannot tell
    assert _witness_check(hn, url) == [("witness_behind", (last,))]


def test_the_district_refuses_a_centre_that_changed_its_key(district: DistrictEnv,
                                                           centres: dict[str, Store]) -> None:
    hn = centres["HN01"]
    url = district.centre_urls["HN01"]
    _day(hn, "S1", range(1, 2))
    assert sync_once(hn, url).ok
    centre = local_centre(hn).id
    engine = sa.create_engine(url)
    try:
        with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
            conn.execute(sa.text("SELECT examdesk_claim_centre(:i, 'x', 'HN01', :k)"),
                         {"i": centre, "k": "ab" * 32})
        assert getattr(caught.value.orig, "sqlstate", None) == "42501"
        with engine.connect() as conn:  # nor can the centre's login rewrite the record
            with pytest.raises(DBAPIError):
                with conn.begin():
                    conn.execute(sa.text("UPDATE district_member SET audit_public_key = :k"),
                                 {"k": "ab" * 32})
    finally:
        engine.dispose()
