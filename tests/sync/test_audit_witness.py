"""Issue 11, item 1: the district is the witness that catches a log cut back or replaced.

Signatures cannot show that signed events were removed from the end of the log; the district's
copy of the head can (``audit verify --district``). The district also records the centre's
first audit key on its first sync and refuses a centre that later offers another one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select

from proctoring import audit
from proctoring.audit import raw_public
from proctoring.audit_keys import anchor_key
from proctoring.audit_witness import district_witness
from proctoring.crypto import KeyStore, signing_fingerprint, signing_key_name
from proctoring.keyadmin import rotate_key
from proctoring.models import (
    AuditEvent,
    KeyPurpose,
    SessionKind,
)
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


def _office_findings(district: DistrictEnv) -> list[tuple[str, str, tuple[int, ...]]]:
    """``audit verify`` on the district's database, for the centre HN01: the key is the
    district's record only."""
    with district.office() as office, office.store.read() as tx:
        report = audit.verify(tx, None)
    return [(c.centre_code, p.kind, p.seqs) for c in report.chains for p in c.problems
            if c.centre_code == "HN01"]


def test_a_centre_that_rotated_its_key_syncs_and_the_district_follows_the_signed_change(
        district: DistrictEnv, centres: dict[str, Store]) -> None:
    """Issue 11: the district recorded the centre's first key; the centre rotates (the change
    signed by that key) and keeps syncing; the district's copy verifies across the change with
    the recorded key alone, and events after it need the new key."""
    hn = centres["HN01"]
    url = district.centre_urls["HN01"]
    _day(hn, "S1", range(1, 2))
    assert sync_once(hn, url).ok
    centre = local_centre(hn).id
    first = anchor_key(hn.keys, centre)
    rotate_key(hn, KeyPurpose.SIGNING, centre_id=centre, actor=ACTOR, reason="định kỳ")
    _day(hn, "S2", range(2, 3))
    result = sync_once(hn, url)
    assert result.ok, result.error
    assert anchor_key(hn.keys, centre) == first  # what the centre shows the district
    assert _witness_check(hn, url) == []
    assert _office_findings(district) == []
    with hn.read() as tx:
        rotation = tx.exec(select(AuditEvent).where(AuditEvent.action == audit.ROTATION)).one()
    assert district.count("audit_event", f"action = '{audit.ROTATION}'") == 1
    assert district.count("audit_checkpoint",
                          f"seq = {rotation.seq} AND public_key = '{first}'") == 1
    # The key is then lost: its replacement is unsigned, and the district says so too.
    (hn.keys.folder / f"{signing_key_name(centre)}.key").unlink()
    rotate_key(hn, KeyPurpose.SIGNING, centre_id=centre, actor=ACTOR, reason="mất máy",
               lost=True)
    _day(hn, "S3", range(3, 4))
    assert sync_once(hn, url).ok
    with hn.read() as tx:
        replaced = tx.exec(select(AuditEvent)
                           .where(AuditEvent.action == audit.REPLACEMENT)).one()
    assert _office_findings(district) == [("HN01", "key_replaced", (replaced.seq,))]


def test_a_key_swapped_without_a_signed_rotation_is_refused_or_reported(
        district: DistrictEnv, centres: dict[str, Store], tmp_path: Path) -> None:
    """The insider puts a key of their own on the station (and its record, by SQL) instead of
    rotating: a station that then offers that key is refused by the district; events signed
    with it under the first key's name are reported by the district's verify."""
    hn = centres["HN01"]
    url = district.centre_urls["HN01"]
    _day(hn, "S1", range(1, 2))
    assert sync_once(hn, url).ok
    centre = local_centre(hn).id
    name = signing_key_name(centre)
    intruder = KeyStore(tmp_path / "intruder", use_keyring=False)
    raw = intruder.signing_key(centre).private_bytes_raw()
    hn.keys.put_raw(name, raw)
    fp = signing_fingerprint(intruder.signing_key(centre))
    with hn.engine.begin() as conn:
        conn.execute(sa.text("UPDATE key_record SET fingerprint = :f, key_id = :k, "
                             "public_key = :p WHERE name = :n"),
                     {"f": fp, "k": fp[:16], "n": name,
                      "p": raw_public(intruder.signing_key(centre).public_key())})
    _day(hn, "S2", range(2, 3))
    with hn.read() as tx:
        last = tx.exec(select(AuditEvent).order_by(col(AuditEvent.seq).desc())).first()
    assert last is not None
    # The station still offers its first key (its history says so): the events go up, and
    # the district's own verify finds them signed by a key the first one never handed over to.
    assert sync_once(hn, url).ok
    found = _office_findings(district)
    assert found and {k for _, k, _ in found} == {"checkpoint_invalid"}
    assert max(s for _, _, seqs in found for s in seqs) == last.seq
    # A station that offers the swapped key (its history gone) is refused outright.
    hn.keys.forget_secret(f"audit-public-{centre}")
    _day(hn, "S3", range(3, 4))
    refused = sync_once(hn, url)
    assert not refused.ok and refused.error is not None
    assert district.count("audit_event", f"seq > {last.seq}") == 0
