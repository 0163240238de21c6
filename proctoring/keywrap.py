"""Evidence keys for the education office: each centre's data key, sealed to the office.

Evidence travels to the district exactly as the centre stored it: the same AES-GCM ciphertext,
bound to its row id and kind. What the office needs is the key, so each centre seals its data
key to the office's X25519 public key with HPKE (RFC 9180, base mode: DHKEM(X25519,
HKDF-SHA256), HKDF-SHA256, AES-256-GCM), and the district database keeps only that sealed key.
The ``info`` string binds a sealed key to the district, the centre and the key id, so a sealed
key copied to another centre's row does not open.

Consequences, on purpose: the district database (or a dump of it) holds no usable key; a centre
cannot read another centre's evidence even with its blobs (it lacks that centre's data key);
the office's private key never leaves the office machine's key store.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .crypto import DataKey, Sealed
from .errors import EvidenceUnreadable, KeyUnavailable

SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_INFO = b"examdesk/district-key-wrap/v1\x00"


def public_hex(key: X25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def _info(district_code: str, centre_id: uuid.UUID, key_id: str) -> bytes:
    return _INFO + district_code.encode("utf-8") + b"\x00" + centre_id.bytes + key_id.encode()


def wrap_data_key(key: DataKey, box_public: str, *, district_code: str,
                  centre_id: uuid.UUID) -> bytes:
    """The centre's data key sealed to the office (``box_public``: 64 hex digits)."""
    try:
        public = X25519PublicKey.from_public_bytes(bytes.fromhex(box_public))
    except ValueError as exc:
        raise KeyUnavailable(f"the district's public key is not an X25519 key: {exc}",
                             reason="district_key") from None
    return SUITE.encrypt(key.key, public, info=_info(district_code, centre_id, key.key_id))


def unwrap_data_key(wrapped: bytes, box: X25519PrivateKey, *, district_code: str,
                    centre_id: uuid.UUID, key_id: str) -> DataKey:
    try:
        key = DataKey(SUITE.decrypt(wrapped, box, info=_info(district_code, centre_id, key_id)))
    except (InvalidTag, ValueError) as exc:
        raise KeyUnavailable(f"the sealed key of centre {centre_id} does not open: {exc!r}",
                             reason="sealed", centre=str(centre_id)) from None
    if key.key_id != key_id:  # the id is public and could be relabelled: check it
        raise KeyUnavailable(f"the sealed key of centre {centre_id} is not key {key_id}",
                             reason="sealed_other", centre=str(centre_id))
    return key


@dataclass(frozen=True, repr=False)
class DistrictDataKey(DataKey):
    """The office's data key: seals with its own key, opens any centre's blob with the centre's
    unwrapped key. ``loader`` returns every centre key the office can unwrap; it is asked again
    when a blob names a key not seen yet (a centre that joined since)."""

    loader: Callable[[], Mapping[str, DataKey]] | None = field(default=None, compare=False)
    _known: dict[str, DataKey] = field(default_factory=dict, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False)

    def open(self, sealed: Sealed, *, row_id: uuid.UUID, kind: str) -> bytes:
        if sealed.key_id == self.key_id:
            return super().open(sealed, row_id=row_id, kind=kind)
        with self._lock:
            key = self._known.get(sealed.key_id)
            if key is None and self.loader is not None:
                self._known.update(self.loader())
                key = self._known.get(sealed.key_id)
        if key is None:
            raise EvidenceUnreadable(f"key {sealed.key_id} was never sealed to the office",
                                     evidence=str(row_id))
        return key.open(sealed, row_id=row_id, kind=kind)
