"""A check-in's evidence goes to the centre in one multi-row INSERT for the rows and one for
the sealed blobs (issue 17: every statement is a round trip each desk of a centre pays), in
the order given, each blob still opening to its own bytes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from proctoring.errors import InvalidInput
from proctoring.evidence import EvidenceItem, add_evidence_all, read_evidence
from proctoring.models import EvidenceKind
from proctoring.store import Store

from .helpers import add_roster, centre_and_session, checkin, photo, statements_sent


def test_a_checkins_evidence_is_two_inserts_in_order_and_opens(store: Store) -> None:
    session = centre_and_session(store)
    entries = add_roster(store, session)
    with statements_sent(
            store, lambda s: s.lstrip().upper().startswith("INSERT INTO EVIDENCE")) as sent:
        done = checkin(store, session, entries[0], "001093014275", seed=3)
    inserts = [s.split("(")[0].strip() for s in sent]
    assert len(done.evidence_ids) == 3
    assert sorted(inserts) == ["INSERT INTO evidence", "INSERT INTO evidence_blob"], inserts
    assert read_evidence(store, done.evidence_ids[0]) == photo()  # the chip portrait first
    assert read_evidence(store, done.evidence_ids[1]) == photo("obama/obama2.jpg")


def test_one_empty_item_stores_none_of_them(store: Store) -> None:
    session = centre_and_session(store)
    items = [EvidenceItem(EvidenceKind.LIVE_FRAME, b"\xff\xd8frame", "image/jpeg"),
             EvidenceItem(EvidenceKind.LIVE_FRAME, b"", "image/jpeg")]
    with pytest.raises(InvalidInput) as caught, store.write() as tx:
        add_evidence_all(tx, store, items, centre_id=session.centre_id, session_id=session.id)
    assert caught.value.key  # a bilingual message key, not a bare ValueError
    with store.read() as tx:
        assert tx.connection().execute(sa.text("SELECT count(*) FROM evidence")).scalar() == 0
