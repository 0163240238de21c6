"""The desk's outbox on disk (issue 17): sealed at rest, tampering refused without losing the
check-ins behind it, a check-in the centre refuses for good kept aside, never dropped."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlmodel import select

from proctoring.crypto import KeyStore
from proctoring.desk_outbox import DeskOutbox
from proctoring.errors import EvidenceUnreadable
from proctoring.models import CheckIn
from proctoring.sessions import close_session
from proctoring.store import Store

from .helpers import add_roster, centre_and_session, photo
from .outbox_helpers import item, people


def _disk(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.glob("desk-outbox.db*"))


def test_nothing_personal_is_plaintext_on_the_desks_disk(store: Store, tmp_path: Path) -> None:
    session = centre_and_session(store)
    entries = add_roster(store, session, people(2))
    outbox = DeskOutbox.for_desk(store.keys, tmp_path / "desk")
    outbox.remember(store, session)
    number = people(2)[0][0]
    outbox.push(item(session, entries[0], number, 0), actor="t")
    outbox.close()
    disk = _disk(tmp_path / "desk")
    assert photo()[200:264] not in disk  # the chip portrait
    for secret in (number.encode(), "Thí sinh 0".encode(), people(2)[1][0].encode()):
        assert secret not in disk  # the ID number, the name, the roster copy


def test_a_tampered_checkin_is_kept_aside_and_the_rest_delivered(
        store: Store, tmp_path: Path) -> None:
    session = centre_and_session(store)
    entries = add_roster(store, session, people(3))
    outbox = DeskOutbox.for_desk(store.keys, tmp_path / "desk")
    numbers = [p[0] for p in people(3)]
    made = [item(session, entries[i], numbers[i], i) for i in range(3)]
    for one in made:
        outbox.push(one, actor="t")
    raw = sqlite3.connect(tmp_path / "desk" / "desk-outbox.db")
    with raw:  # an insider flips a byte of the second check-in's sealed payload
        raw.execute("UPDATE outbox SET ciphertext = substr(ciphertext, 1, 40) || x'00' || "
                    "substr(ciphertext, 42) WHERE seq = 2")
    raw.close()
    done = outbox.deliver(store)
    assert (done.delivered, done.parked, done.waiting) == (2, 1, 0)
    assert outbox.parked() == [(2, EvidenceUnreadable.key)]  # kept, not dropped
    with store.read() as tx:
        stored = set(tx.exec(select(CheckIn.id)).all())
    assert stored == {made[0].checkin_id, made[2].checkin_id}


def test_a_checkin_for_a_session_closed_meanwhile_is_parked_not_lost(
        store: Store, tmp_path: Path) -> None:
    session = centre_and_session(store)
    entries = add_roster(store, session, people(1))
    outbox = DeskOutbox.for_desk(KeyStore(tmp_path / "k", use_keyring=False), tmp_path / "d")
    outbox.push(item(session, entries[0], people(1)[0][0], 0), actor="t")
    close_session(store, session.code, actor="t")
    done = outbox.deliver(store)
    assert (done.delivered, done.parked, done.waiting, done.reachable) == (0, 1, 0, True)
    assert outbox.parked()[0][1] == "session.closed" or outbox.parked()[0][1].endswith("closed")
