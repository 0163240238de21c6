"""Rotating the centre's audit signing key (issue 11, items 1 and 4): ``keys rotate --key
signing`` writes the key change signed by the OLD key, records the new key in the same
transaction and puts it in place only after the commit, in an order that never leaves the
station without a usable key; a lost key is replaced by an audited, *unsigned* key change that
``audit verify`` reports every time. Real key files, real SQLite and PostgreSQL, no mocks: a
crash is a key store that stops at the step named."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlmodel import col, select

from proctoring import audit
from proctoring.audit import raw_public
from proctoring.crypto import KeyStore, signing_key_name, staged_key_name
from proctoring.errors import InvalidInput, KeyMissing
from proctoring.keyadmin import key_states, rotate_key
from proctoring.models import AuditCheckpoint, AuditEvent, KeyPurpose, KeyStatus
from proctoring.store import Store

from .helpers import centre_and_session


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing on the way catches it."""


class CrashingKeyStore(KeyStore):
    """A real file key store that dies when asked to store the key named ``crash_at``."""

    def __init__(self, folder: Path, crash_at: str) -> None:
        super().__init__(folder, use_keyring=False)
        self.crash_at = crash_at

    def put_raw(self, name: str, raw: bytes) -> str:
        if name == self.crash_at:
            raise Crash(name)
        return super().put_raw(name, raw)


def _public(keys: KeyStore, store: Store) -> str:
    centre = _centre_id(store)
    key = keys.existing_signing_key(centre)
    assert key is not None
    return raw_public(key.public_key())


def _centre_id(store: Store) -> uuid.UUID:
    with store.read() as tx:
        return tx.exec(select(audit.Centre.id)).one()


def _verify(store: Store, keys: KeyStore | None = None,
            key_files: tuple[str, ...] = ()) -> list[tuple[str, tuple[int, ...]]]:
    with store.read() as tx:
        report = audit.verify(tx, keys if keys is not None else store.keys, key_files=key_files)
    return [(p.kind, p.seqs) for c in report.chains for p in c.problems]


def _signing(store: Store) -> dict[KeyStatus, list[str]]:
    out: dict[KeyStatus, list[str]] = {}
    for s in key_states(store):
        if s.record.purpose is KeyPurpose.SIGNING:
            out.setdefault(s.record.status, []).append(f"{s.record.key_id}:{s.here}")
    return out


def _events(store: Store) -> list[AuditEvent]:
    with store.read() as tx:
        return list(tx.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all())


def _checkpoint(store: Store, seq: int) -> AuditCheckpoint:
    with store.read() as tx:
        return tx.exec(select(AuditCheckpoint).where(AuditCheckpoint.seq == seq)).one()


def test_a_signing_key_rotation_is_signed_by_the_old_key_and_verifies_across(
        store: Store, keys: KeyStore, tmp_path: Path) -> None:
    session = centre_and_session(store)
    old = _public(keys, store)
    with pytest.raises(InvalidInput):
        rotate_key(store, KeyPurpose.SIGNING, centre_id=session.centre_id, actor="t",
                   reason="x", lost=True)  # the key is right here: not a lost key
    change = rotate_key(store, KeyPurpose.SIGNING, centre_id=session.centre_id,
                        actor="admin:lan", reason="nhân viên giữ khoá nghỉ việc")
    new = _public(keys, store)
    assert new != old and change.old_kept
    rotation = _events(store)[-1]
    assert rotation.action == audit.ROTATION
    payload = json.loads(rotation.payload)
    assert (payload["old"], payload["new"]) == (old, new)
    assert payload["reason"] == "nhân viên giữ khoá nghỉ việc"
    assert _checkpoint(store, rotation.seq).public_key == old  # signed by the OLD key
    # Records: old retired (and kept), new current and in place; nothing left staged.
    assert _signing(store) == {KeyStatus.RETIRED: [f"{change.old_key_id}:yes"],
                               KeyStatus.CURRENT: [f"{change.key_id}:yes"]}
    assert keys.find_raw(staged_key_name(signing_key_name(session.centre_id))) is None
    # New events are signed by the new key, and verify on the station says ok across the change.
    centre_and_session(store, code="S2")
    assert _checkpoint(store, rotation.seq + 1).public_key == new
    assert _verify(store) == []
    # Elsewhere, with only the original key's public half (the file `audit key` printed).
    elsewhere = KeyStore(tmp_path / "auditor", use_keyring=False)
    assert _verify(store, elsewhere, (old,)) == []
    # With only the NEW key the events before the change are not the centre's as far as
    # that auditor can tell: said, not silently accepted.
    assert _verify(store, elsewhere, (new,))[0][0] == "checkpoint_untrusted"


def test_a_crash_after_the_commit_finishes_on_the_next_use(
        db_url: str, keys: KeyStore) -> None:
    """Died between the commit and putting the new key in place: the database records the new
    key, the key's usual place still holds the old one. The next event finds the staged key,
    which the record names, and signs with it; nothing is lost, nothing is made anew."""
    with Store.open(db_url, keys=keys) as store:
        session = centre_and_session(store)
        old = _public(keys, store)
    name = signing_key_name(session.centre_id)
    crashing = CrashingKeyStore(keys.folder, crash_at=name)
    with Store.open(db_url, keys=crashing) as store, pytest.raises(Crash):
        rotate_key(store, KeyPurpose.SIGNING, centre_id=session.centre_id, actor="t",
                   reason="định kỳ")
    assert _public(keys, store) == old  # the old key still in its place…
    assert keys.find_raw(staged_key_name(name)) is not None  # …the new one staged
    with Store.open(db_url, keys=KeyStore(keys.folder, use_keyring=False)) as store:
        assert _signing(store)[KeyStatus.CURRENT][0].endswith(":yes")  # status finishes it
        centre_and_session(store, code="S2")  # signs with the new key
        new = _public(keys, store)
        assert new != old and _checkpoint(store, _events(store)[-1].seq).public_key == new
        assert keys.find_raw(staged_key_name(name)) is None
        assert _verify(store) == []
        assert _verify(store, KeyStore(keys.folder / "x", use_keyring=False), (old,)) == []


def test_a_crash_before_the_commit_leaves_the_old_key_in_force(
        db_url: str, keys: KeyStore) -> None:
    with Store.open(db_url, keys=keys) as store:
        session = centre_and_session(store)
        old = _public(keys, store)
        [record] = [r for r in key_states(store) if r.record.purpose is KeyPurpose.SIGNING]
    name = signing_key_name(session.centre_id)
    # Dies while keeping the old key's copy, inside the transaction: it rolls back.
    crashing = CrashingKeyStore(keys.folder, crash_at=f"{name}.{record.record.key_id}")
    with Store.open(db_url, keys=crashing) as store, pytest.raises(Crash):
        rotate_key(store, KeyPurpose.SIGNING, centre_id=session.centre_id, actor="t",
                   reason="định kỳ")
    with Store.open(db_url, keys=KeyStore(keys.folder, use_keyring=False)) as store:
        assert [e.action for e in _events(store)].count(audit.ROTATION) == 0
        centre_and_session(store, code="S2")  # the staged key is never used: no record names it
        assert _public(keys, store) == old
        assert _checkpoint(store, _events(store)[-1].seq).public_key == old
        assert _verify(store) == []
        # A later rotation works (and overwrites the stale staged key).
        rotate_key(store, KeyPurpose.SIGNING, centre_id=session.centre_id, actor="t",
                   reason="lần hai")
        centre_and_session(store, code="S3")
        assert _verify(store) == []


def test_a_lost_signing_key_is_an_unsigned_change_verify_always_reports(
        store: Store, keys: KeyStore, tmp_path: Path) -> None:
    session = centre_and_session(store)
    old = _public(keys, store)
    (keys.folder / f"{signing_key_name(session.centre_id)}.key").unlink()
    with pytest.raises(KeyMissing):  # never without saying so
        rotate_key(store, KeyPurpose.SIGNING, centre_id=session.centre_id, actor="t",
                   reason="mất")
    change = rotate_key(store, KeyPurpose.SIGNING, centre_id=session.centre_id,
                        actor="admin:lan", reason="ổ đĩa hỏng", lost=True)
    assert not change.old_kept
    replaced = _events(store)[-1]
    assert replaced.action == audit.REPLACEMENT
    centre_and_session(store, code="S2")
    assert _signing(store) == {KeyStatus.LOST: [f"{change.old_key_id}:no"],
                               KeyStatus.CURRENT: [f"{change.key_id}:yes"]}
    with store.read() as tx:
        [chain] = audit.verify(tx, store.keys).chains
    # A visible break, in words: where, who, why; no earlier event called tampered.
    assert [(p.kind, p.seqs) for p in chain.problems] == [("key_replaced", (replaced.seq,))]
    assert not chain.ok
    assert "admin: admin:lan" in chain.problems[0].detail
    assert "ổ đĩa hỏng" in chain.problems[0].detail
    # The same with only the original public key, on another machine.
    elsewhere = KeyStore(tmp_path / "auditor", use_keyring=False)
    assert _verify(store, elsewhere, (old,)) == [("key_replaced", (replaced.seq,))]


def test_a_forged_replacement_does_not_hide_a_rewrite(store: Store, keys: KeyStore) -> None:
    """An insider without the key appends a 'replacement' to a key of their own and signs
    new events with it: every such change is reported; it never verifies as ok."""
    import sqlalchemy as sa
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from proctoring.audit import canonical_json, checkpoint_message, event_hash

    centre_and_session(store)
    last = _events(store)[-1]
    intruder = Ed25519PrivateKey.generate()
    payload = canonical_json({"old": None, "new": raw_public(intruder.public_key()),
                              "reason": "bình thường"})
    at = last.occurred_at
    digest = event_hash(centre_id=last.centre_id, occurred_at=at, actor="admin",
                        action=audit.REPLACEMENT, subject_id=last.centre_id, payload=payload,
                        prev_hash=last.hash)
    sig = intruder.sign(checkpoint_message(last.centre_id, last.seq + 1, digest, at))
    t, cp, head = (m.__table__ for m in (AuditEvent, AuditCheckpoint, audit.AuditHead))  # type: ignore[union-attr]
    with store.engine.begin() as conn:
        conn.execute(sa.insert(t).values(id=uuid.uuid4(), centre_id=last.centre_id,
                                         seq=last.seq + 1, occurred_at=at, actor="admin",
                                         action=audit.REPLACEMENT, subject_id=last.centre_id,
                                         payload=payload, prev_hash=last.hash, hash=digest))
        conn.execute(sa.insert(cp).values(id=uuid.uuid4(), centre_id=last.centre_id,
                                          seq=last.seq + 1, hash=digest, signed_at=at,
                                          public_key=raw_public(intruder.public_key()),
                                          signature=sig.hex()))
        conn.execute(sa.update(head).values(seq=last.seq + 1, hash=digest))
    assert _verify(store) == [("key_replaced", (last.seq + 1,))]
