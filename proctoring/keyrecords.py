"""What the database knows of the keys it depends on: one :class:`~.models.KeyRecord` per key,
written in the transaction that first uses it (the first sealed blob, the first checkpoint).

The key store (:mod:`.crypto`) is given the recorded fingerprint and refuses to make a new key
while one is recorded: a keyring that is locked, a key file that was lost or is unreadable, a
different key in its place — each is an error that says what to do, never a silent new key
that would orphan the evidence or the signed checkpoints made with the old one. Only the admin
commands of :mod:`.keyadmin` change a record.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from .crypto import DATA_KEY_NAME, DataKey, KeyStore, signing_fingerprint, signing_key_name
from .errors import KeyMismatch, KeyMissing
from .models import KeyPurpose, KeyRecord, KeyStatus


def records(tx: Session, name: str) -> list[KeyRecord]:
    return list(tx.exec(select(KeyRecord).where(KeyRecord.name == name)
                        .order_by(col(KeyRecord.created_at))).all())


def current(found: list[KeyRecord]) -> KeyRecord | None:
    return next((r for r in reversed(found) if r.status is KeyStatus.CURRENT), None)


@dataclass(frozen=True)
class DataKeyFacts:
    recorded: str | None  # the current key's fingerprint; None: no key recorded yet
    retired: tuple[str, ...]  # key ids of rotated keys that may still be on this machine


def data_key_facts(tx: Session) -> DataKeyFacts:
    found = records(tx, DATA_KEY_NAME)
    now = _current_or_refuse(found, DATA_KEY_NAME)
    return DataKeyFacts(now.fingerprint if now else None,
                        tuple(r.key_id for r in found if r.status is KeyStatus.RETIRED))


def data_key(tx: Session, keys: KeyStore) -> DataKey:
    """The data key, checked against the record; recorded now if this is its first use."""
    facts = data_key_facts(tx)
    key = keys.data_key(recorded=facts.recorded, retired=facts.retired)
    if facts.recorded is None:
        _first_use(tx, DATA_KEY_NAME, KeyPurpose.DATA, key.fingerprint)
    return key


def signing_key(tx: Session, keys: KeyStore, centre_id: uuid.UUID) -> Ed25519PrivateKey:
    """The centre's audit signing key, checked against the record; recorded on first use."""
    name = signing_key_name(centre_id)
    now = _current_or_refuse(records(tx, name), name)
    key = keys.signing_key(centre_id, recorded=now.fingerprint if now else None)
    if now is None:
        _first_use(tx, name, KeyPurpose.SIGNING, signing_fingerprint(key), centre_id=centre_id,
                   public_key=raw_public_hex(key))
    return key


def raw_public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def add(tx: Session, name: str, purpose: KeyPurpose, fingerprint: str, *,
        centre_id: uuid.UUID | None = None, public_key: str | None = None,
        status: KeyStatus = KeyStatus.CURRENT) -> KeyRecord:
    row = KeyRecord(name=name, purpose=purpose, centre_id=centre_id, fingerprint=fingerprint,
                    key_id=fingerprint[:16], public_key=public_key, status=status)
    tx.add(row)
    tx.flush()
    return row


def _first_use(tx: Session, name: str, purpose: KeyPurpose, fingerprint: str, *,
               centre_id: uuid.UUID | None = None, public_key: str | None = None) -> None:
    """Record a key on its first use. Another process may record it at the same moment (the
    key store makes one key either way: see KeyStore._create_file): then it must be this one."""
    try:
        with tx.begin_nested():
            add(tx, name, purpose, fingerprint, centre_id=centre_id, public_key=public_key)
    except IntegrityError:
        now = current(records(tx, name))
        if now is None or now.fingerprint != fingerprint:
            raise KeyMismatch(f"{name}: recorded meanwhile as another key",
                              name=name, key_id=now.key_id if now else None,
                              found=fingerprint[:16]) from None


def _current_or_refuse(found: list[KeyRecord], name: str) -> KeyRecord | None:
    now = current(found)
    if now is None and found:
        # Keys were recorded and none is current (edited by hand?): making one now would be
        # exactly the silent replacement this module exists to prevent.
        last = found[-1]
        raise KeyMissing(f"{name}: no key is recorded as current (the last, {last.key_id}, is "
                         f"{last.status.value})", name=name, key_id=last.key_id)
    return now
