"""What a centre admin does on purpose with the keys: back one up, recover one from a backup,
rotate one (also when it is lost for good). Each is one transaction with an audit event in the
centre's chain; nothing here runs on its own.

A key displaced by any of these is kept, never deleted: a rotated data key stays under its key
id to open what it sealed, and a key found where another is recorded (made while the keyring
was not answering, before key records existed) is kept and recorded the same way.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func
from sqlmodel import Session, col, select

from examdesk.i18n import system_error

from .crypto import (
    DATA_KEY_NAME,
    DataKey,
    KeyStore,
    retired_data_key_name,
    signing_fingerprint,
    signing_key_name,
    staged_key_name,
)
from .errors import InvalidInput, KeyMismatch, KeyMissing, KeyUnavailable
from .keyrecords import add, current, raw_public_hex, records
from .models import (
    Evidence,
    EvidenceBlob,
    KeyPurpose,
    KeyRecord,
    KeyStatus,
)
from .store import Store

BACKUP_MAX = 4096  # a backup file holds 32 bytes (44 in base64): anything bigger is not one


@dataclass(frozen=True)
class KeyChange:
    """What an admin command did, for its output and its audit event."""

    action: str  # rotated | recovered | backed_up
    purpose: KeyPurpose
    centre_id: uuid.UUID
    key_id: str  # the key now in use (rotate), restored (recover) or written out (backup)
    old_key_id: str | None = None  # rotate: the key it replaced
    old_kept: bool = False  # rotate: the old key stays on this machine to open what it sealed
    displaced_key_id: str | None = None  # a key found in the way, kept and recorded
    unreadable: int = 0  # rotate --lost: evidence blobs only the lost key opened
    where: str = ""  # where the key went: "keyring", a file

    def to_dict(self) -> dict[str, object]:
        return {"action": self.action, "purpose": self.purpose.value,
                "centre_id": str(self.centre_id), "key_id": self.key_id,
                "old_key_id": self.old_key_id, "old_kept": self.old_kept,
                "displaced_key_id": self.displaced_key_id, "unreadable": self.unreadable,
                "where": self.where}


def key_name(purpose: KeyPurpose, centre_id: uuid.UUID) -> str:
    return DATA_KEY_NAME if purpose is KeyPurpose.DATA else signing_key_name(centre_id)


def fingerprint(purpose: KeyPurpose, raw: bytes) -> str:
    if purpose is KeyPurpose.DATA:
        return DataKey(raw).fingerprint
    return signing_fingerprint(Ed25519PrivateKey.from_private_bytes(raw))


def read_backup(path: Path) -> bytes:
    """A key from a backup file: 32 raw bytes, or their base64 (what :func:`backup_key`
    writes)."""
    try:
        if path.stat().st_size > BACKUP_MAX:
            raise InvalidInput(f"{path} is too big for a key backup", field="from")
        data = path.read_bytes()
    except OSError as exc:
        raise KeyUnavailable(system_error(exc), reason="os", path=str(path)) from exc
    if len(data) == 32:
        return data
    try:
        raw = base64.b64decode(data.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise InvalidInput(f"{path} holds no key (32 bytes, or their base64)", field="from")
    return raw


# --- backup -----------------------------------------------------------------------------------


def backup_key(store: Store, purpose: KeyPurpose, *, centre_id: uuid.UUID, out: Path,
               actor: str) -> KeyChange:
    """Write the current key to ``out`` (new file, mode 0600): what ``recover`` restores."""
    name = key_name(purpose, centre_id)
    with store.write() as tx:
        now = _current_record(tx, name)
        raw = _load(store.keys, purpose, centre_id, now.fingerprint)
        if out.exists():
            raise InvalidInput(f"{out} exists: a backup never overwrites a file", field="out")
        KeyStore._write_private(out, base64.b64encode(raw) + b"\n", replace=False)
        store.audit.append(tx, centre_id=centre_id, actor=actor, action="key.backed_up",
                           subject_id=now.id, payload={"purpose": purpose, "key_id": now.key_id},
                           at=store.now())
    return KeyChange("backed_up", purpose, centre_id, now.key_id, where=str(out))


# --- recover ----------------------------------------------------------------------------------


def recover_key(store: Store, purpose: KeyPurpose, raw: bytes, *, centre_id: uuid.UUID,
                actor: str) -> KeyChange:
    """Put a recorded key back on this machine from a backup. A different key found in its
    place is kept (under its id) and recorded as retired, never dropped."""
    name = key_name(purpose, centre_id)
    fp = fingerprint(purpose, raw)
    keys = store.keys
    try:
        with store.write() as tx:
            found = records(tx, name)
            match = next((r for r in found if r.fingerprint == fp), None)
            if match is None:
                now = current(found)
                raise KeyMismatch(f"{name}: the backup holds key {fp[:16]}, which this database "
                                  "never used", name=name, found=fp[:16],
                                  key_id=now.key_id if now else None, path="backup")
            displaced = None
            if match.status is KeyStatus.CURRENT:
                present = keys.find_raw(name)
                if present is not None and fingerprint(purpose, present) != fp:
                    displaced = _keep(tx, keys, purpose, centre_id, name, present)
                where = keys.put_raw(name, raw)
            else:
                archive = (retired_data_key_name(match.key_id) if purpose is KeyPurpose.DATA
                           else f"{name}.{match.key_id}")
                where = keys.put_raw(archive, raw)
                match.status, match.retired_at = KeyStatus.RETIRED, match.retired_at or store.now()
                tx.add(match)
            store.audit.append(tx, centre_id=centre_id, actor=actor, action="key.recovered",
                               subject_id=match.id,
                               payload={"purpose": purpose, "key_id": match.key_id,
                                        "status": match.status, "displaced_key_id": displaced},
                               at=store.now())
    finally:
        store.forget_keys()
    return KeyChange("recovered", purpose, centre_id, match.key_id, displaced_key_id=displaced,
                     where=where)


# --- rotate -----------------------------------------------------------------------------------


def rotate_key(store: Store, purpose: KeyPurpose, *, centre_id: uuid.UUID, actor: str,
               reason: str, lost: bool = False) -> KeyChange:
    """Make a new key and record it as current. The old one is retired and, for the data key,
    kept under its id to open what it sealed; with ``lost`` (the old key is gone for good) it
    is recorded as lost and what only it opens stays unreadable — the command says how much.
    The audit signing key: see :func:`_rotate_signing` (the old key signs the change)."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a rotation needs a written reason", field="reason")
    if purpose is KeyPurpose.SIGNING:
        return _rotate_signing(store, centre_id=centre_id, actor=actor, reason=reason, lost=lost)
    _refuse_with_stations(store)
    name = key_name(purpose, centre_id)
    keys = store.keys
    old_raw: bytes | None = None
    replaced = False
    try:
        with store.write() as tx:
            now, old_raw, displaced = _old_key(tx, keys, purpose, centre_id, name, lost=lost,
                                               why="is then kept to open what it sealed")
            at = store.now()
            unreadable = 0 if old_raw is not None else _sealed_only_by(tx, purpose, now.key_id)
            if old_raw is not None and purpose is KeyPurpose.DATA:
                _archive(keys, retired_data_key_name(now.key_id), old_raw)
            now.status = KeyStatus.RETIRED if old_raw is not None else KeyStatus.LOST
            now.retired_at = at
            tx.add(now)
            tx.flush()
            fresh = os.urandom(32)
            new = add(tx, name, purpose, fingerprint(purpose, fresh),
                      centre_id=_owner(purpose, centre_id), public_key=_public(purpose, fresh))
            where = keys.put_raw(name, fresh)
            replaced = True
            store.audit.append(tx, centre_id=centre_id, actor=actor, action="key.rotated",
                               subject_id=new.id,
                               payload={"purpose": purpose, "old_key_id": now.key_id,
                                        "new_key_id": new.key_id, "reason": reason,
                                        "old_status": now.status, "old_kept": old_raw is not None
                                        and purpose is KeyPurpose.DATA,
                                        "unreadable": unreadable,
                                        "displaced_key_id": displaced},
                               at=at)
    except BaseException:
        if replaced and old_raw is not None:
            keys.put_raw(name, old_raw)  # the records were rolled back: so is the key
        raise
    finally:
        store.forget_keys()
    return KeyChange("rotated", purpose, centre_id, new.key_id, old_key_id=now.key_id,
                     old_kept=old_raw is not None and purpose is KeyPurpose.DATA,
                     displaced_key_id=displaced, unreadable=unreadable, where=where)


def _old_key(tx: Session, keys: KeyStore, purpose: KeyPurpose, centre_id: uuid.UUID,
             name: str, *, lost: bool, why: str) -> tuple[KeyRecord, bytes | None, str | None]:
    """What a rotation replaces: the current record, the old key's bytes (None when ``lost``)
    and the id of a different key found in its place (kept, never deleted: it may have sealed
    or signed something). A key in use but never recorded (before 0003) is recorded first."""
    now = current(records(tx, name))
    old_raw: bytes | None = None
    displaced = None
    try:
        old_raw = _load(keys, purpose, centre_id, now.fingerprint if now else None)
    except KeyMissing:
        if now is None:
            raise InvalidInput(f"{name}: no key to rotate yet (it is made on first use)",
                               field="key") from None
        if not lost:
            raise
    except KeyMismatch:
        if not lost:
            raise
        present = keys.find_raw(name)
        assert present is not None
        displaced = _keep(tx, keys, purpose, centre_id, name, present)
    if old_raw is not None and lost:
        raise InvalidInput(f"the key is on this machine: rotate without --lost (the old key "
                           f"{why})", field="lost")
    if old_raw is not None and now is None:
        now = add(tx, name, purpose, fingerprint(purpose, old_raw),
                  centre_id=_owner(purpose, centre_id), public_key=_public(purpose, old_raw))
    assert now is not None
    return now, old_raw, displaced


def _rotate_signing(store: Store, *, centre_id: uuid.UUID, actor: str, reason: str,
                    lost: bool) -> KeyChange:
    """The centre's audit signing key: a rotation the old key signs (``audit.key_rotated``,
    :meth:`.audit.AuditLog.record_rotation`), or with ``lost`` a replacement it cannot sign
    (``audit.key_replaced``), which ``audit verify`` reports every time.

    Why this order never leaves the station without a usable key (the database names the key
    in force; ``name`` is where the key store looks for it):

    1. the new key is staged under ``<name>.next`` and read back. A crash here: the database
       still records the old key, ``name`` still holds it; the staged key is never used (no
       record names it) and the next rotation overwrites it.
    2. one transaction: the old key kept under ``<name>.<key id>`` (a copy: ``name`` keeps it
       too), the key change event, the old record retired (or lost), the new one current. A
       crash or rollback here is case 1.
    3. after the commit, the staged key is put under ``name`` and the staged copy removed. A
       crash before that: the database records the new key, ``name`` holds the old one, and
       the first use of the key finds the staged one matching the record and puts it in place
       (:meth:`.crypto.KeyStore.finish_staged`); the old key is still kept in step 2's copy.
    """
    name = signing_key_name(centre_id)
    keys = store.keys
    staged = staged_key_name(name)
    fresh = os.urandom(32)
    fresh_key = Ed25519PrivateKey.from_private_bytes(fresh)
    new_fp = signing_fingerprint(fresh_key)
    displaced = None
    try:
        with store.write() as tx:
            now, old_raw, displaced = _old_key(tx, keys, KeyPurpose.SIGNING, centre_id, name,
                                               lost=lost, why="then signs the change")
            _archive(keys, staged, fresh)  # step 1 (inside the block: after the checks)
            at = store.now()
            details = {"purpose": KeyPurpose.SIGNING, "old_key_id": now.key_id,
                       "new_key_id": new_fp[:16], "reason": reason,
                       "displaced_key_id": displaced}
            new_public = raw_public_hex(fresh_key)
            if old_raw is not None:
                _archive(keys, f"{name}.{now.key_id}", old_raw)
                store.audit.record_rotation(tx, centre_id=centre_id, new_public=new_public,
                                            actor=actor, at=at, details=details)
            else:
                store.audit.record_replacement(tx, centre_id=centre_id, new_key=fresh_key,
                                               old_public=now.public_key, actor=actor, at=at,
                                               details=details)
            now.status = KeyStatus.RETIRED if old_raw is not None else KeyStatus.LOST
            now.retired_at = at
            tx.add(now)
            tx.flush()
            new = add(tx, name, KeyPurpose.SIGNING, new_fp, centre_id=centre_id,
                      public_key=new_public)
        # Step 3: committed, so the staged key is the recorded one.
        try:
            where = keys.put_raw(name, fresh)
            if keys.find_raw(name) != fresh:
                raise KeyUnavailable("the new key does not read back", reason="read_back",
                                     path=keys.where())
        except KeyUnavailable as exc:
            raise KeyUnavailable(f"{name}: the key change is recorded, but the new key could "
                                 f"not be put in place ({exc.detail or exc}); it stays staged as "
                                 f"{staged} and is put in place on its first use",
                                 reason="staged", path=keys.where(), name=name,
                                 staged=str(staged)) from exc
        with contextlib.suppress(KeyUnavailable):  # a leftover copy of the current key only
            keys.discard_copy(name, staged)
    finally:
        store.forget_keys()
    return KeyChange("rotated", KeyPurpose.SIGNING, centre_id, new.key_id,
                     old_key_id=now.key_id, old_kept=old_raw is not None,
                     displaced_key_id=displaced, where=where)


def _refuse_with_stations(store: Store) -> None:
    """With stations (issue 17) the data key lives sealed to each of them: a new key put in
    this desk's store alone would reach none. ``examdesk station rotate-data-key`` seals it."""
    from .station_errors import StationsRotateData
    from .station_models import Station

    with store.read() as tx:
        found = tx.exec(select(Station.name)).first()
    if found is not None:
        raise StationsRotateData("the centre has stations: rotate with `station rotate-data-key`",
                                 station=found)


# --- status -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyState:
    record: KeyRecord
    here: str  # "yes" | "no" | "other" (another key in its place) | "unreachable"
    detail: str = ""

    def to_dict(self) -> dict[str, object]:
        r = self.record
        return {"purpose": r.purpose.value, "centre_id": str(r.centre_id) if r.centre_id else None,
                "key_id": r.key_id, "status": r.status.value, "here": self.here,
                "created_at": r.created_at.isoformat(),
                "retired_at": r.retired_at.isoformat() if r.retired_at else None,
                "detail": self.detail}


def key_states(store: Store) -> list[KeyState]:
    """Every recorded key and whether this machine holds it (never makes one)."""
    with store.read() as tx:
        rows = list(tx.exec(select(KeyRecord).order_by(col(KeyRecord.name),
                                                       col(KeyRecord.created_at))).all())
    out = []
    for r in rows:
        if r.status is KeyStatus.CURRENT:
            name = r.name
            with contextlib.suppress(KeyUnavailable):
                # A rotation that committed and stopped before putting its key in place is
                # finished here as on the key's next use: then "on this machine" is true.
                store.keys.finish_staged(name, r.fingerprint, partial(fingerprint, r.purpose))
        elif r.purpose is KeyPurpose.DATA:
            name = retired_data_key_name(r.key_id)
        else:
            name = f"{r.name}.{r.key_id}"
        try:
            raw = store.keys.find_raw(name)
        except KeyUnavailable as exc:
            out.append(KeyState(r, "unreachable", exc.detail))
            continue
        if raw is None:
            out.append(KeyState(r, "no"))
        else:
            same = fingerprint(r.purpose, raw) == r.fingerprint
            out.append(KeyState(r, "yes" if same else "other"))
    return out


# --- helpers ----------------------------------------------------------------------------------


def _current_record(tx: Session, name: str) -> KeyRecord:
    now = current(records(tx, name))
    if now is None:
        raise InvalidInput(f"{name}: no key recorded yet (it is made on first use)", field="key")
    return now


def _load(keys: KeyStore, purpose: KeyPurpose, centre_id: uuid.UUID, recorded: str | None, *,
          create: bool = False) -> bytes:
    """The key's bytes, checked against ``recorded``; raises if absent (never makes one)."""
    raw: bytes | None
    if purpose is KeyPurpose.DATA:
        # With a record the key store refuses to make one; without, only look.
        raw = (keys.data_key(recorded=recorded).key if recorded is not None
               else keys.find_raw(DATA_KEY_NAME))
    else:
        key = keys.existing_signing_key(centre_id, recorded=recorded)
        raw = key.private_bytes_raw() if key is not None else None
    if raw is None:
        raise KeyMissing(f"{key_name(purpose, centre_id)}: not on this machine",
                         name=key_name(purpose, centre_id), path=str(keys.folder))
    return raw


def _owner(purpose: KeyPurpose, centre_id: uuid.UUID) -> uuid.UUID | None:
    return centre_id if purpose is KeyPurpose.SIGNING else None


def _public(purpose: KeyPurpose, raw: bytes) -> str | None:
    if purpose is KeyPurpose.DATA:
        return None
    return raw_public_hex(Ed25519PrivateKey.from_private_bytes(raw))


def _archive(keys: KeyStore, name: str, raw: bytes) -> None:
    """Keep ``raw`` under ``name`` and read it back before anything depends on it."""
    keys.put_raw(name, raw)
    if keys.find_raw(name) != raw:
        raise KeyUnavailable(f"{name}: the kept copy does not read back", reason="read_back",
                             path=keys.where())


def _keep(tx: Session, keys: KeyStore, purpose: KeyPurpose, centre_id: uuid.UUID, name: str,
          present: bytes) -> str:
    """A key found where another is recorded: keep it under its id, record it as retired."""
    fp = fingerprint(purpose, present)
    archive = (retired_data_key_name(fp[:16]) if purpose is KeyPurpose.DATA
               else f"{name}.{fp[:16]}")
    _archive(keys, archive, present)
    known = next((r for r in records(tx, name) if r.fingerprint == fp), None)
    if known is None:
        add(tx, name, purpose, fp, centre_id=_owner(purpose, centre_id),
            public_key=_public(purpose, present), status=KeyStatus.RETIRED)
    return fp[:16]


def _sealed_only_by(tx: Session, purpose: KeyPurpose, key_id: str) -> int:
    """Evidence blobs (not purged) that only this data key opens."""
    if purpose is not KeyPurpose.DATA:
        return 0
    return int(tx.exec(select(func.count()).select_from(EvidenceBlob)
                       .join(Evidence, col(Evidence.id) == col(EvidenceBlob.id))
                       .where(EvidenceBlob.key_id == key_id)
                       .where(col(Evidence.purged_at).is_(None))).one())
