"""Where ``audit verify`` gets the centre's public key from: never from the rows it verifies.

Three sources, all outside the centre's database:

- this station's key store: the centre's signing key, and the history of the public keys this
  station has signed with (kept next to the keys, so a rotated key's predecessor still verifies
  the events it signed);
- a key file given on the command line (``--key FILE``: 64 hex digits or a PEM public key),
  e.g. the one ``examdesk audit key`` printed when the centre was set up;
- the district, which records a centre's first key when the centre first syncs
  (``district_member.audit_public_key``, written only by ``examdesk_claim_centre``): used when
  verifying the district's own database, and by ``audit verify --district`` on a centre.

A checkpoint's ``public_key`` column only says which of these keys it claims; a key no source
knows makes the checkpoint ``checkpoint_untrusted``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlmodel import Session, SQLModel

from .crypto import KeyStore
from .errors import AuditKeyInvalid, KeyUnavailable

_HISTORY = "audit-public-{centre_id}"
_MAX_KEY_FILE = 4096  # a PEM public key is ~113 bytes: anything much larger is not one


def _history_name(centre_id: uuid.UUID) -> str:
    return _HISTORY.format(centre_id=centre_id)


def key_history(keys: KeyStore, centre_id: uuid.UUID) -> list[str]:
    """The public keys (hex) this station has signed the centre's log with, oldest first."""
    try:
        text = keys.secret(_history_name(centre_id)) or ""
    except KeyUnavailable:
        return []
    return [k for k in text.split() if _is_hex_key(k)]


def remember_public_key(keys: KeyStore, centre_id: uuid.UUID, public: str) -> None:
    """Add ``public`` to the station's history of the centre's keys (no-op when known)."""
    known = key_history(keys, centre_id)
    if public not in known:
        keys.save_secret(_history_name(centre_id), " ".join([*known, public]))


def anchor_key(keys: KeyStore, centre_id: uuid.UUID) -> str | None:
    """The first key this station signed the centre's log with (what the district records)."""
    history = key_history(keys, centre_id)
    if history:
        return history[0]
    current = keys.existing_signing_key(centre_id)
    if current is None:
        return None
    from .audit import raw_public

    return raw_public(current.public_key())


def station_keys(keys: KeyStore, centre_id: uuid.UUID) -> list[str]:
    found = key_history(keys, centre_id)
    current = keys.existing_signing_key(centre_id)
    if current is not None:
        from .audit import raw_public

        found.append(raw_public(current.public_key()))
    return list(dict.fromkeys(found))


def read_key_file(path: Path) -> str:
    """An Ed25519 public key from a file: 64 hex digits (what ``audit key`` prints) or PEM."""
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_KEY_FILE + 1)
    except OSError as exc:
        raise AuditKeyInvalid(str(exc), path=str(path)) from exc
    if len(data) > _MAX_KEY_FILE:
        raise AuditKeyInvalid("too large for a public key", path=str(path))
    text = data.decode("ascii", "replace").strip()
    if _is_hex_key(text.lower()):
        return text.lower()
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise AuditKeyInvalid(f"not a public key: {exc}", path=str(path)) from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyInvalid("not an Ed25519 key", path=str(path))
    from .audit import raw_public

    return raw_public(key)


def district_key(tx: Session, centre_id: uuid.UUID) -> str | None:
    """The key the district recorded for this centre on its first sync (district database)."""
    member = SQLModel.metadata.tables["district_member"]
    found = tx.connection().execute(sa.select(member.c.audit_public_key)
                                    .where(member.c.centre_id == centre_id)).scalar()
    return str(found) if found else None


def trusted_keys(tx: Session, keys: KeyStore | None, centre_id: uuid.UUID,
                 key_files: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(public key hex, source) pairs for one centre, from outside the rows being verified."""
    found: list[tuple[str, str]] = [(k, "file") for k in key_files]
    if keys is not None:
        found += [(k, "station") for k in station_keys(keys, centre_id)]
    recorded = district_key(tx, centre_id)
    if recorded:
        found.append((recorded, "district"))
    return found


def _is_hex_key(text: str) -> bool:
    if len(text) != 64:
        return False
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True
