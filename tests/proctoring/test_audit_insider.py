"""Issue 11, item 1: an insider with a database client rewrites the audit log the ways the
outside review did, and ``audit verify`` names each exactly — on SQLite and PostgreSQL, raw SQL.

Every event is signed as it is appended, with a key that is not in the database, and the key
that checks the signatures comes from outside the rows (this station's key store, a key file,
the district's record), never from the checkpoint rows themselves."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import col, select

from proctoring import audit
from proctoring.audit import GENESIS, checkpoint_message, event_hash, raw_public
from proctoring.audit_keys import key_history, read_key_file
from proctoring.crypto import KeyStore
from proctoring.errors import AuditKeyInvalid
from proctoring.models import AuditCheckpoint, AuditEvent, AuditHead, Centre
from proctoring.store import Store

from .test_audit import EVENTS, _chain, _sql

T = AuditEvent.__table__  # type: ignore[attr-defined]
CP = AuditCheckpoint.__table__  # type: ignore[attr-defined]
HEAD = AuditHead.__table__  # type: ignore[attr-defined]


def _found(store: Store, keys: KeyStore | None = None,
           key_files: tuple[str, ...] = ()) -> list[tuple[str, tuple[int, ...]]]:
    with store.read() as tx:
        report = audit.verify(tx, keys if keys is not None else store.keys, key_files=key_files)
    return [(p.kind, p.seqs) for c in report.chains for p in c.problems]


def _events(store: Store) -> list[AuditEvent]:
    with store.read() as tx:
        return list(tx.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all())


def _rechain(store: Store, events: list[AuditEvent], *, edit: int | None = None,
             drop: range = range(0), renumber: bool = False,
             extra: list[sa.Executable | str] | None = None) -> list[AuditEvent]:
    """What an insider does: change or delete events, recompute every hash after them and
    the head, so the chain itself is consistent again. Returns the events as rewritten."""
    kept = [e for e in events if e.seq not in drop]
    statements: list[sa.Executable | str] = [sa.delete(T).where(T.c.seq.in_(list(drop)))]
    prev = GENESIS
    out = []
    for i, e in enumerate(kept, 1):
        payload = e.payload.replace("Ca thi", "Ca thi GIẢ") if e.seq == edit else e.payload
        seq = i if renumber else e.seq
        new = event_hash(centre_id=e.centre_id, occurred_at=e.occurred_at, actor=e.actor,
                         action=e.action, subject_id=e.subject_id, payload=payload,
                         prev_hash=prev)
        statements.append(sa.update(T).where(T.c.id == e.id)
                          .values(seq=seq + 1_000_000, payload=payload, prev_hash=prev, hash=new))
        out.append(AuditEvent(**{**e.model_dump(), "seq": seq, "payload": payload,
                                 "prev_hash": prev, "hash": new}))
        prev = new
    statements.append(sa.update(T).where(T.c.seq > 1_000_000).values(seq=T.c.seq - 1_000_000))
    statements.append(sa.update(HEAD).values(seq=out[-1].seq, hash=prev))
    _sql(store, *statements, *(extra or []))
    return out


def test_edit_rechain_and_delete_every_checkpoint(store: Store) -> None:
    _chain(store)
    _rechain(store, _events(store), edit=5, extra=["DELETE FROM audit_checkpoint"])
    assert _found(store) == [("checkpoint_missing", tuple(range(1, EVENTS + 1)))]


def test_edit_rechain_and_delete_the_checkpoints_from_there(store: Store) -> None:
    _chain(store)
    _rechain(store, _events(store), edit=5, extra=["DELETE FROM audit_checkpoint WHERE seq >= 5"])
    assert _found(store) == [("checkpoint_stale", tuple(range(5, EVENTS + 1)))]


def test_edit_rechain_and_delete_one_checkpoint_in_the_middle(store: Store) -> None:
    _chain(store)
    _sql(store, "DELETE FROM audit_checkpoint WHERE seq = 4")
    assert _found(store) == [("checkpoint_gap", (4,))]


def test_delete_a_range_and_rechain_renumbered(store: Store) -> None:
    _chain(store)
    _rechain(store, _events(store), drop=range(4, 8), renumber=True,
             extra=["DELETE FROM audit_checkpoint WHERE seq >= 4"])
    # Events 8–10 became 4–6, re-linked: nothing in the chain shows the hole, but what follows
    # it is no longer what the centre signed.
    assert _found(store) == [("checkpoint_stale", (4, 5, 6))]


def test_delete_a_range_and_rechain_keeping_the_numbers(store: Store) -> None:
    _chain(store)
    _rechain(store, _events(store), drop=range(4, 8),
             extra=["DELETE FROM audit_checkpoint WHERE seq >= 4"])
    assert _found(store) == [("deleted", (4, 5, 6, 7)), ("checkpoint_stale", (8, 9, 10))]


def test_delete_a_range_and_rechain_keeping_the_signatures(store: Store) -> None:
    _chain(store)
    _rechain(store, _events(store), drop=range(4, 8), renumber=True)
    found = _found(store)
    assert found[0] == ("checkpoint_mismatch", (4, 5, 6))
    assert ("deleted", (7, 8, 9, 10)) in found


def test_wipe_the_log(store: Store) -> None:
    _chain(store)
    _sql(store, "DELETE FROM audit_checkpoint", "DELETE FROM audit_event",
         sa.update(HEAD).values(seq=0, hash=GENESIS))
    assert _found(store) == [("log_wiped", ())]


def test_edit_after_the_last_checkpoint_is_impossible(store: Store) -> None:
    """Before: up to 99 events after the last checkpoint carried no signature. Now the head
    itself is signed: editing it (and re-hashing, and moving the head) is named."""
    _chain(store)
    _rechain(store, _events(store), edit=EVENTS)
    assert _found(store) == [("checkpoint_mismatch", (EVENTS,))]
    _sql(store, f"DELETE FROM audit_checkpoint WHERE seq = {EVENTS}")
    assert _found(store) == [("checkpoint_stale", (EVENTS,))]


def _resign(store: Store, events: list[AuditEvent], key: Ed25519PrivateKey) -> None:
    with store.read() as tx:
        cps = list(tx.exec(select(AuditCheckpoint)).all())
    by_seq = {e.seq: e for e in events}
    statements = []
    for cp in cps:
        digest = by_seq[cp.seq].hash
        sig = key.sign(checkpoint_message(cp.centre_id, cp.seq, digest, cp.signed_at))
        statements.append(sa.update(CP).where(CP.c.id == cp.id).values(
            hash=digest, public_key=raw_public(key.public_key()), signature=sig.hex()))
    _sql(store, *statements)


def test_resign_with_a_foreign_key(store: Store, tmp_path: Path) -> None:
    centre = _chain(store)
    true_key = raw_public(store.keys.signing_key(centre.id).public_key())
    rewritten = _rechain(store, _events(store), edit=5)
    _resign(store, rewritten, Ed25519PrivateKey.generate())
    everything = tuple(range(1, EVENTS + 1))
    # On the station (its key store), and anywhere with the centre's public key in a file.
    assert _found(store) == [("checkpoint_untrusted", everything)]
    key_file = tmp_path / "hn01.pub"
    key_file.write_text(true_key + "\n")
    elsewhere = KeyStore(tmp_path / "other-machine", use_keyring=False)
    assert _found(store, elsewhere, (read_key_file(key_file),)) == [
        ("checkpoint_untrusted", everything)]
    # A machine with no key from outside the database cannot call the log intact (before:
    # it trusted the key stored in the first checkpoint, which the insider chose).
    assert _found(store, elsewhere) == [("key_unknown", ())]


def test_a_key_file_that_is_not_one(tmp_path: Path) -> None:
    bad = tmp_path / "key.pem"
    bad.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    with pytest.raises(AuditKeyInvalid):
        read_key_file(bad)
    (tmp_path / "big").write_bytes(b"0" * 100_000)
    with pytest.raises(AuditKeyInvalid):
        read_key_file(tmp_path / "big")


def _rotate(store: Store, centre: Centre) -> Ed25519PrivateKey:
    """A key change as ``examdesk keys rotate --key signing`` does it: the event signed by the
    old key, the new key recorded, then put in place after the commit. (Was: the event by
    hand and the key file written straight, which the key records now refuse as a key that
    is not the recorded one.)"""
    from proctoring.keyadmin import rotate_key
    from proctoring.models import KeyPurpose

    rotate_key(store, KeyPurpose.SIGNING, centre_id=centre.id, actor="test:rotate",
               reason="định kỳ")
    new = store.keys.existing_signing_key(centre.id)
    assert new is not None
    return new


def test_a_signed_key_rotation_verifies_and_later_events_need_the_new_key(
        store: Store, tmp_path: Path) -> None:
    centre = _chain(store)
    old = raw_public(store.keys.signing_key(centre.id).public_key())
    new = _rotate(store, centre)
    store.audit = audit.AuditLog(store.keys)  # a fresh writer, as after a restart
    _chain_more(store, centre)
    assert _found(store) == []
    assert key_history(store.keys, centre.id) == [old, raw_public(new.public_key())]
    # With only the first key (what the district recorded), the rotation is followed.
    elsewhere = KeyStore(tmp_path / "other", use_keyring=False)
    assert _found(store, elsewhere, (old,)) == []
    # An event after the rotation signed with the OLD key: refused.
    with store.read() as tx:
        last = tx.exec(select(AuditCheckpoint).order_by(col(AuditCheckpoint.seq).desc())).first()
    assert last is not None
    old_private = Ed25519PrivateKey.generate()  # stands for a key that is not in force
    sig = old_private.sign(checkpoint_message(centre.id, last.seq, last.hash, last.signed_at))
    _sql(store, sa.update(CP).where(CP.c.id == last.id).values(
        public_key=raw_public(old_private.public_key()), signature=sig.hex()))
    assert _found(store, elsewhere, (old,)) == [("checkpoint_invalid", (last.seq,))]


def test_a_rotation_not_signed_by_the_key_in_force_is_not_followed(store: Store) -> None:
    centre = _chain(store)
    intruder = Ed25519PrivateKey.generate()
    # The insider appends a "rotation" to their own key and signs it with that key.
    events = _events(store)
    last = events[-1]
    payload = audit.canonical_json({"old": "ab" * 32, "new": raw_public(intruder.public_key())})
    at = last.occurred_at
    digest = event_hash(centre_id=centre.id, occurred_at=at, actor="x", action=audit.ROTATION,
                        subject_id=centre.id, payload=payload, prev_hash=last.hash)
    sig = intruder.sign(checkpoint_message(centre.id, last.seq + 1, digest, at))
    _sql(store, sa.insert(T).values(id=uuid.uuid4(), centre_id=centre.id, seq=last.seq + 1,
                                    occurred_at=at, actor="x", action=audit.ROTATION,
                                    subject_id=centre.id, payload=payload,
                                    prev_hash=last.hash, hash=digest),
         sa.insert(CP).values(id=uuid.uuid4(), centre_id=centre.id, seq=last.seq + 1,
                              hash=digest, signed_at=at,
                              public_key=raw_public(intruder.public_key()),
                              signature=sig.hex()),
         sa.update(HEAD).values(seq=last.seq + 1, hash=digest))
    assert _found(store) == [("checkpoint_invalid", (last.seq + 1,))]


def _chain_more(store: Store, centre: Centre, n: int = 3) -> None:
    from datetime import UTC

    from proctoring.models import SessionKind
    from proctoring.sessions import create_session

    for i in range(n):
        create_session(store, centre_id=centre.id, kind=SessionKind.ONLINE_EXAM,
                       title=f"Sau đổi khoá {i}", code=f"R{i}",
                       starts_at=datetime(2025, 7, 1, i, tzinfo=UTC), actor="test:pytest")


def test_truncate_the_tail_is_caught_by_a_witness(store: Store) -> None:
    """Cutting signed events off the end leaves a consistent, signed, shorter log: alone the
    database cannot tell (README: what each witness protects against). A head seen outside the
    database (the district's copy, the one a signed roster carries) can."""
    from proctoring.audit_witness import Witness

    centre = _chain(store)
    seen = _events(store)[-1]
    _sql(store, f"DELETE FROM audit_checkpoint WHERE seq > {EVENTS - 3}",
         f"DELETE FROM audit_event WHERE seq > {EVENTS - 3}",
         sa.update(HEAD).values(seq=EVENTS - 3, hash=_events(store)[EVENTS - 4].hash))
    assert _found(store) == []
    with store.read() as tx:
        report = audit.verify(tx, store.keys, witnesses=[
            Witness(centre.id, seen.seq, seen.hash, "roster")])
    assert [(p.kind, p.seqs) for p in report.chains[0].problems] == [
        ("witness_behind", (EVENTS,))]
