"""Keys and sealing: the data key that encrypts biometric evidence, the centre's audit signing key.

Both keys live outside the database, so a copy of the database file (or a PostgreSQL dump) holds
no readable portrait and cannot forge a signed audit checkpoint. They come from the OS keyring
when one works (``keyring``), else from owner-only files under ``config_dir()/keys``. A key once
made is never replaced: losing it makes the evidence unreadable, which the retention rules would
have done anyway, but silently making a new one would hide that.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import stat
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import EvidenceUnreadable, KeyUnavailable

KEYRING_SERVICE = "examdesk"
DATA_KEY_NAME = "data-key"
BOX_KEY_NAME = "district-box-key"  # the education office's X25519 key (district sync)
NONCE_BYTES = 12  # the GCM standard nonce; random, so at most ~2^32 blobs per key (plenty)
_AD_PREFIX = b"examdesk/evidence/v1\x00"


def associated_data(row_id: uuid.UUID, kind: str) -> bytes:
    """What a blob is bound to: moving ciphertext to another row or kind fails to decrypt."""
    return _AD_PREFIX + row_id.bytes + b"\x00" + kind.encode("ascii")


@dataclass(frozen=True)
class Sealed:
    key_id: str
    nonce: bytes
    ciphertext: bytes  # includes the 16-byte GCM tag


@dataclass(frozen=True, repr=False)
class DataKey:
    """AES-256-GCM key for evidence blobs. ``repr`` hides the key from logs and tracebacks."""

    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise KeyUnavailable(f"a data key has 32 bytes, got {len(self.key)}")

    def __repr__(self) -> str:
        return f"DataKey(key_id={self.key_id!r})"

    @property
    def key_id(self) -> str:
        """A short public name for the key, stored next to each blob it sealed."""
        return hashlib.sha256(b"examdesk key id\x00" + self.key).hexdigest()[:16]

    def seal(self, plaintext: bytes, *, row_id: uuid.UUID, kind: str) -> Sealed:
        nonce = os.urandom(NONCE_BYTES)
        ct = AESGCM(self.key).encrypt(nonce, plaintext, associated_data(row_id, kind))
        return Sealed(self.key_id, nonce, ct)

    def open(self, sealed: Sealed, *, row_id: uuid.UUID, kind: str) -> bytes:
        if sealed.key_id != self.key_id:
            raise EvidenceUnreadable(
                f"sealed with key {sealed.key_id}, this installation has {self.key_id}",
                evidence=str(row_id))
        try:
            return AESGCM(self.key).decrypt(sealed.nonce, sealed.ciphertext,
                                            associated_data(row_id, kind))
        except InvalidTag:
            raise EvidenceUnreadable("authentication tag mismatch: blob or row changed",
                                     evidence=str(row_id)) from None


class KeyStore:
    """Gets or creates named 32-byte secrets: in the OS keyring if it works, else in files.

    ``folder`` also names the keyring entries, so two installations (or test homes) on one
    account never share a key.
    """

    def __init__(self, folder: Path, *, use_keyring: bool = True) -> None:
        self.folder = folder
        self.use_keyring = use_keyring

    @classmethod
    def default(cls) -> KeyStore:
        """``config_dir()/keys``; ``EXAMDESK_KEYRING=0`` keeps keys in files only."""
        from examdesk.paths import config_dir

        flag = os.environ.get("EXAMDESK_KEYRING", "1").strip().lower()
        return cls(config_dir() / "keys", use_keyring=flag not in ("0", "no", "off", "false"))

    # --- the two keys ---------------------------------------------------------------------

    def data_key(self) -> DataKey:
        return DataKey(self._get_or_create(DATA_KEY_NAME))

    def signing_key(self, centre_id: uuid.UUID) -> Ed25519PrivateKey:
        """The centre's Ed25519 key for audit checkpoints (made on first use)."""
        raw = self._get_or_create(f"audit-{centre_id}")
        return Ed25519PrivateKey.from_private_bytes(raw)

    def existing_signing_key(self, centre_id: uuid.UUID) -> Ed25519PrivateKey | None:
        """The centre's key if this machine has it; verification never creates one."""
        raw = self._get(f"audit-{centre_id}")
        return None if raw is None else Ed25519PrivateKey.from_private_bytes(raw)

    def box_key(self) -> X25519PrivateKey:
        """The education office's X25519 key (made on first use, on the office's machine):
        centres wrap their data keys to its public half, so only the office opens them all."""
        return X25519PrivateKey.from_private_bytes(self._get_or_create(BOX_KEY_NAME))

    def where(self) -> str:
        """Where new keys go, for messages: "keyring" or the folder."""
        return "keyring" if self._keyring() is not None else str(self.folder)

    # --- other secrets (a password, a URL with one) ----------------------------------------

    def secret(self, name: str) -> str | None:
        """A saved text secret, or None: from the keyring, else ``<name>.secret`` (0600)."""
        text = self._keyring_get(name)
        if text:
            return text
        data = self._read_private(self._secret_path(name))
        return (data.decode("utf-8").strip() or None) if data is not None else None

    def save_secret(self, name: str, text: str) -> str:
        """Save (or replace) a text secret; returns where: "keyring" or the file's path."""
        path = self._secret_path(name)
        if self._keyring_put(name, text) == text:
            # A copy left in a file from before would win nothing but a stale read.
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return "keyring"
        self._write_private(path, text.encode("utf-8"), replace=True)
        return str(path)

    def forget_secret(self, name: str) -> bool:
        """Delete a text secret wherever it is; True when there was one."""
        found = False
        backend = self._keyring()
        if backend is not None:
            try:
                backend.delete_password(KEYRING_SERVICE, self._account(name))  # type: ignore[attr-defined]
                found = True
            except Exception:
                pass
        path = self._secret_path(name)
        try:
            path.unlink()
            found = True
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise KeyUnavailable(str(exc), path=str(path)) from exc
        return found

    def _secret_path(self, name: str) -> Path:
        return self.folder / f"{name}.secret"

    # --- storage ----------------------------------------------------------------------------

    def _account(self, name: str) -> str:
        return f"{name}@{self.folder.resolve()}"

    def _keyring(self) -> object | None:
        if not self.use_keyring:
            return None
        try:
            import keyring
            from keyring.backends import fail

            backend = keyring.get_keyring()
            # The fail backend (or a chainer with nothing in it) means "no keyring here".
            if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
                return None
            return backend
        except Exception:  # any keyring/D-Bus trouble means: use the file
            return None

    def _keyring_get(self, name: str) -> str | None:
        backend = self._keyring()
        if backend is None:
            return None
        try:
            text = backend.get_password(KEYRING_SERVICE, self._account(name))  # type: ignore[attr-defined]
        except Exception:
            return None
        return str(text) if text else None

    def _keyring_put(self, name: str, text: str) -> str | None:
        """Store in the keyring and read back (some backends accept and drop, or need an
        unlock prompt): what the keyring now holds, or None."""
        backend = self._keyring()
        if backend is None:
            return None
        account = self._account(name)
        try:
            backend.set_password(KEYRING_SERVICE, account, text)  # type: ignore[attr-defined]
            stored = backend.get_password(KEYRING_SERVICE, account)  # type: ignore[attr-defined]
        except Exception:
            return None
        return str(stored) if stored else None

    def _get(self, name: str) -> bytes | None:
        text = self._keyring_get(name)
        if text:
            return base64.b64decode(text)
        return self._read_file(self.folder / f"{name}.key")

    def _get_or_create(self, name: str) -> bytes:
        found = self._get(name)
        if found is not None:
            return found
        fresh = os.urandom(32)
        stored = self._keyring_put(name, base64.b64encode(fresh).decode())
        if stored:
            return base64.b64decode(stored)
        return self._create_file(self.folder / f"{name}.key", fresh)

    @staticmethod
    def _read_private(path: Path) -> bytes | None:
        """The file's bytes, None when absent; refused when others may read it."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise KeyUnavailable(str(exc), path=str(path)) from exc
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            # Like ssh with a private key: readable by others means possibly copied.
            raise KeyUnavailable(f"{path} is readable by other users (chmod 600 it)",
                                 path=str(path))
        return path.read_bytes()

    @classmethod
    def _read_file(cls, path: Path) -> bytes | None:
        data = cls._read_private(path)
        if data is not None and len(data) != 32:
            raise KeyUnavailable(f"{path} has {len(data)} bytes, a key has 32", path=str(path))
        return data

    @staticmethod
    def _write_private(path: Path, data: bytes, *, replace: bool) -> None:
        """Write ``path`` (0600) atomically through a temporary file: renamed over an old one
        (``replace``), else hard-linked into place only if nobody got there first — so nobody
        ever reads a half-written secret."""
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")  # mode 0600
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                if replace:
                    os.replace(tmp, path)
                else:
                    with contextlib.suppress(FileExistsError):
                        os.link(tmp, path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise KeyUnavailable(str(exc), path=str(path)) from exc

    def _create_file(self, path: Path, secret: bytes) -> bytes:
        """Create ``path`` with ``secret`` unless another process got there first; the key
        that won."""
        self._write_private(path, secret, replace=False)
        data = self._read_file(path)
        assert data is not None
        return data
