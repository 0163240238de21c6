"""Keys and sealing: the data key that encrypts biometric evidence, the centre's audit signing key.

Both keys live outside the database, so a copy of the database file (or a PostgreSQL dump) holds
no readable portrait and cannot forge a signed audit checkpoint. They come from the OS keyring
when one works (``keyring``), else from owner-only files under ``config_dir()/keys``.

A key once made is never replaced behind anyone's back. The database records each key's
fingerprint (never the key: see :mod:`.keyrecords`), and the caller passes it here as
``recorded``: a recorded key that cannot be found, or a different key in its place, is an error
that says why, never a reason to make a new one. A keyring that fails (locked, its service
down) is not a keyring without the key: only "no such entry" may lead to a new key, and only
when the database records none. Replacing a key is an explicit, audited admin command
(``examdesk keys rotate`` / ``keys recover``); a rotated data key stays, under its key id, to
open the evidence it sealed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import stat
import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from examdesk.i18n import system_error
from examdesk.paths import config_dir

from .errors import (
    EvidenceUnreadable,
    KeyMismatch,
    KeyMissing,
    KeyringUnavailable,
    KeyUnavailable,
)

KEYRING_SERVICE = "examdesk"
DATA_KEY_NAME = "data-key"
BOX_KEY_NAME = "district-box-key"  # the education office's X25519 key (district sync)
NONCE_BYTES = 12  # the GCM standard nonce; random, so at most ~2^32 blobs per key (plenty)
_AD_PREFIX = b"examdesk/evidence/v1\x00"


def signing_key_name(centre_id: uuid.UUID) -> str:
    return f"audit-{centre_id}"


def staged_key_name(name: str) -> str:
    """Where a rotation puts the new key before its record commits (see
    :meth:`KeyStore.finish_staged`)."""
    return f"{name}.next"


def retired_data_key_name(key_id: str) -> str:
    """Where a rotated data key stays, to open what it sealed."""
    return f"{DATA_KEY_NAME}.{key_id}"


def public_fingerprint(raw_public: bytes) -> str:
    """What the database records of an Ed25519 or X25519 key: SHA-256 of its public half."""
    return hashlib.sha256(raw_public).hexdigest()


def signing_fingerprint(key: Ed25519PrivateKey) -> str:
    return public_fingerprint(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def box_fingerprint(key: X25519PrivateKey) -> str:
    return public_fingerprint(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


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
            raise KeyUnavailable(f"a data key has 32 bytes, got {len(self.key)}",
                                 reason="size", size=len(self.key))

    def __repr__(self) -> str:
        return f"DataKey(key_id={self.key_id!r})"

    @property
    def fingerprint(self) -> str:
        """What the database records of the key (a one-way hash, public)."""
        return hashlib.sha256(b"examdesk key id\x00" + self.key).hexdigest()

    @property
    def key_id(self) -> str:
        """A short public name for the key, stored next to each blob it sealed."""
        return self.fingerprint[:16]

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


@dataclass(frozen=True, repr=False)
class DataKeys(DataKey):
    """The current data key, which seals, plus rotated ones (by key id), which still open what
    they sealed."""

    older: Mapping[str, DataKey] = field(default_factory=dict, compare=False)

    def __repr__(self) -> str:
        return f"DataKeys(key_id={self.key_id!r}, older={sorted(self.older)!r})"

    def open(self, sealed: Sealed, *, row_id: uuid.UUID, kind: str) -> bytes:
        old = self.older.get(sealed.key_id)
        if sealed.key_id != self.key_id and old is not None:
            return old.open(sealed, row_id=row_id, kind=kind)
        return super().open(sealed, row_id=row_id, kind=kind)


class KeyStore:
    """Gets or creates named 32-byte secrets: in the OS keyring if it works, else in files.

    ``folder`` also names the keyring entries, so two installations (or test homes) on one
    account never share a key.
    """

    # Whether the database records this store's data key (see Store.data_key); the office's
    # store (district.OfficeKeyStore) seals nothing and shares its database between machines.
    records_data_key = True

    def __init__(self, folder: Path, *, use_keyring: bool = True) -> None:
        self.folder = folder
        self.use_keyring = use_keyring

    @classmethod
    def default(cls) -> KeyStore:
        """``config_dir()/keys``; ``EXAMDESK_KEYRING=0`` keeps keys in files only."""
        flag = os.environ.get("EXAMDESK_KEYRING", "1").strip().lower()
        return cls(config_dir() / "keys", use_keyring=flag not in ("0", "no", "off", "false"))

    # --- the keys ----------------------------------------------------------------------------
    # ``recorded``: the fingerprint the database holds for this key (None: it holds none). With
    # one, the key must be found and match; without one, a key is made when none exists.

    def data_key(self, *, recorded: str | None = None,
                 retired: Iterable[str] = ()) -> DataKey:
        """The data key; with ``retired`` key ids, a :class:`DataKeys` that also opens what the
        rotated keys sealed (those still on this machine; the others' evidence is unreadable)."""
        raw = self._load(DATA_KEY_NAME, recorded, _data_fingerprint, create=True)
        assert raw is not None
        current = DataKey(raw)
        older: dict[str, DataKey] = {}
        for key_id in retired:
            found = self._load(retired_data_key_name(key_id), None, _data_fingerprint,
                               create=False, tolerate_keyring=True)
            if found is not None and DataKey(found).key_id == key_id:
                older[key_id] = DataKey(found)
        return DataKeys(current.key, older=older) if older else current

    def signing_key(self, centre_id: uuid.UUID, *,
                    recorded: str | None = None) -> Ed25519PrivateKey:
        """The centre's Ed25519 key for audit checkpoints (made on first use)."""
        raw = self._load(signing_key_name(centre_id), recorded, _signing_fingerprint,
                         create=True)
        assert raw is not None
        return Ed25519PrivateKey.from_private_bytes(raw)

    def existing_signing_key(self, centre_id: uuid.UUID, *,
                             recorded: str | None = None) -> Ed25519PrivateKey | None:
        """The centre's key if this machine has it; verification never creates one. A keyring
        that fails raises (unless the key is in its file): "unknown" is not "absent"."""
        raw = self._load(signing_key_name(centre_id), recorded, _signing_fingerprint,
                         create=False)
        return None if raw is None else Ed25519PrivateKey.from_private_bytes(raw)

    def box_key(self, *, recorded: str | None = None) -> X25519PrivateKey:
        """The education office's X25519 key (made on first use, on the office's machine):
        centres wrap their data keys to its public half, so only the office opens them all."""
        raw = self._load(BOX_KEY_NAME, recorded, _box_fingerprint, create=True)
        assert raw is not None
        return X25519PrivateKey.from_private_bytes(raw)

    def new_key(self, name: str) -> bytes:
        """The key ``name``, made now when it does not exist (a station's key at enrolment):
        an existing one is returned, never replaced; with two makers at once, one key wins."""
        raw = self._load(name, None, lambda _raw: "", create=True)
        assert raw is not None
        return raw

    def where(self) -> str:
        """Where new keys go, for messages: "keyring" or the folder."""
        try:
            return "keyring" if self._keyring() is not None else str(self.folder)
        except KeyringUnavailable:
            return str(self.folder)

    # --- what admins do on purpose (examdesk keys rotate / recover) ------------------------

    def find_raw(self, name: str) -> bytes | None:
        """A named key's bytes if this machine has it (None: absent); a failing keyring raises
        unless the file has it."""
        return self._load(name, None, lambda raw: "", create=False)

    def put_raw(self, name: str, raw: bytes) -> str:
        """Store ``raw`` under ``name``, replacing what is there: only for the admin commands,
        which first keep any key they displace (see :mod:`.keyrecords`). Returns where."""
        if len(raw) != 32:
            raise KeyUnavailable(f"a key has 32 bytes, got {len(raw)}", reason="size",
                                 size=len(raw))
        text = base64.b64encode(raw).decode()
        path = self.folder / f"{name}.key"
        if self._keyring_put(name, text) == text:
            # A file under the same name stays (the keyring entry shadows it): a key is never
            # deleted here, and if the keyring later loses the entry, the file's key is checked
            # against the record like any other.
            return "keyring"
        self._write_private(path, raw, replace=True)
        return str(path)

    def finish_staged(self, name: str, recorded: str,
                      fingerprint: Callable[[bytes], str]) -> bytes | None:
        """Finish a rotation that committed but did not put its key in place.

        A rotation stages the new key under :func:`staged_key_name` *before* its transaction
        commits, and moves it to ``name`` only after. If the process dies in between, the
        database records the new key while ``name`` still holds the old one (kept elsewhere
        too): the staged key is then the recorded one — only a committed record can name it —
        and is put in place here. Returns it, or None when no staged key matches ``recorded``.
        A staged key that does not match (a rotation that never committed) is left alone."""
        try:
            staged, _ = self._find(staged_key_name(name))
        except KeyUnavailable:
            return None
        if staged is None or fingerprint(staged) != recorded:
            return None
        with contextlib.suppress(KeyUnavailable):  # in use either way; placed on a later run
            self.put_raw(name, staged)
            self.discard_copy(name, staged_key_name(name))
        return staged

    def discard_copy(self, name: str, copy: str) -> bool:
        """Delete the key ``copy`` only when it holds exactly the bytes ``name`` holds (a staged
        key once it is in place): never the only copy of a key. True when it was deleted."""
        kept = self.find_raw(name)
        if kept is None or self.find_raw(copy) != kept:
            return False
        backend = self._keyring()
        if backend is not None:
            with contextlib.suppress(Exception):
                backend.delete_password(KEYRING_SERVICE, self._account(copy))  # type: ignore[attr-defined]
        path = self._key_path(copy)
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise KeyUnavailable(system_error(exc), reason="os", path=str(path)) from exc
        return True

    # --- other secrets (a password, a URL with one) ----------------------------------------

    def secret(self, name: str) -> str | None:
        """A saved text secret, or None: from the keyring, else ``<name>.secret`` (0600)."""
        with contextlib.suppress(KeyringUnavailable):  # the file may still have it
            text = self._keyring_get(name)
            if text:
                return text
        data = self._read_private(self._secret_path(name))
        return (data.decode("utf-8").strip() or None) if data is not None else None

    def save_secret(self, name: str, text: str) -> str:
        """Save (or replace) a text secret; returns where: "keyring" or the file's path."""
        path = self._secret_path(name)
        try:
            kept = self._keyring_put(name, text)
        except KeyringUnavailable:
            kept = None  # a text secret may go to the file: nothing depends on where it was
        if kept == text:
            # A copy left in a file from before would win nothing but a stale read.
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return "keyring"
        self._write_private(path, text.encode("utf-8"), replace=True)
        return str(path)

    def forget_secret(self, name: str) -> bool:
        """Delete a text secret wherever it is; True when there was one."""
        found = False
        try:
            backend = self._keyring()
        except KeyringUnavailable:
            backend = None
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
            raise KeyUnavailable(system_error(exc), reason="os", path=str(path)) from exc
        return found

    def _secret_path(self, name: str) -> Path:
        return self.folder / f"{name}.secret"

    # --- storage ----------------------------------------------------------------------------

    def _account(self, name: str) -> str:
        return f"{name}@{self.folder.resolve()}"

    def _keyring(self) -> object | None:
        """The keyring backend, or None when this machine has none (or keys stay in files).
        Raises :class:`KeyringUnavailable` when asking for it fails."""
        if not self.use_keyring:
            return None
        try:
            import keyring
            from keyring.backends import fail

            backend = keyring.get_keyring()
        except Exception as exc:
            raise KeyringUnavailable(_why(exc), step="open") from exc
        # The fail backend (or a chainer with nothing in it) means "no keyring here".
        if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
            return None
        return backend

    def _keyring_get(self, name: str) -> str | None:
        """The entry's text, None when the keyring has no such entry (or there is no keyring);
        :class:`KeyringUnavailable` when it did not answer."""
        backend = self._keyring()
        if backend is None:
            return None
        try:
            text = backend.get_password(KEYRING_SERVICE, self._account(name))  # type: ignore[attr-defined]
        except Exception as exc:
            raise KeyringUnavailable(_why(exc), step="get") from exc
        return str(text) if text else None

    def _keyring_put(self, name: str, text: str) -> str | None:
        """Store in the keyring and read back (some backends accept and drop): what the keyring
        now holds, or None (no keyring, or one that keeps nothing: the file it is). A keyring
        that fails raises :class:`KeyringUnavailable`: the caller must not fall back to a file,
        the keyring may have taken the secret."""
        backend = self._keyring()
        if backend is None:
            return None
        account = self._account(name)
        try:
            backend.set_password(KEYRING_SERVICE, account, text)  # type: ignore[attr-defined]
        except Exception as exc:
            raise KeyringUnavailable(_why(exc), step="set") from exc
        try:
            stored = backend.get_password(KEYRING_SERVICE, account)  # type: ignore[attr-defined]
        except Exception as exc:
            raise KeyringUnavailable(_why(exc), step="read-back") from exc
        return str(stored) if stored else None

    def _key_path(self, name: str) -> Path:
        return self.folder / f"{name}.key"

    def _find(self, name: str) -> tuple[bytes | None, KeyringUnavailable | None]:
        """The key from the keyring, else its file; and the keyring's failure, if it failed."""
        failure = None
        try:
            text = self._keyring_get(name)
        except KeyringUnavailable as exc:
            failure, text = exc, None
        if text:
            try:
                raw = base64.b64decode(text, validate=True)
            except ValueError:
                raise KeyUnavailable(f"the keyring entry for {name} is not base64",
                                     reason="keyring_entry", path="keyring",
                                     name=name) from None
            if len(raw) != 32:
                raise KeyUnavailable(f"the keyring entry for {name} has {len(raw)} bytes, a "
                                     "key has 32", reason="keyring_entry", path="keyring",
                                     name=name)
            return raw, None
        return self._read_file(self._key_path(name)), failure

    def _load(self, name: str, recorded: str | None, fingerprint: Callable[[bytes], str], *,
              create: bool, tolerate_keyring: bool = False) -> bytes | None:
        """The key ``name``: checked against ``recorded``; made only when it is truly absent
        (the keyring answered "no such entry" and there is no file) and nothing is recorded."""
        found, failure = self._find(name)
        where = "keyring" if self._has_keyring_quietly() else str(self._key_path(name))
        if found is not None:
            if recorded is None or fingerprint(found) == recorded:
                return found
            staged = self.finish_staged(name, recorded, fingerprint)
            if staged is not None:
                return staged
            if failure is not None:  # the right key may well be the one the keyring holds
                raise self._failed(failure, name, recorded)
            raise KeyMismatch(f"{name}: this machine has key {fingerprint(found)[:16]}, the "
                              f"database records {recorded[:16]}", name=name,
                              key_id=recorded[:16], found=fingerprint(found)[:16], path=where)
        if failure is not None:
            if tolerate_keyring:
                return None
            raise self._failed(failure, name, recorded)
        if recorded is not None:
            staged = self.finish_staged(name, recorded, fingerprint)
            if staged is not None:
                return staged
            raise KeyMissing(f"{name}: key {recorded[:16]} is recorded but neither the keyring "
                             f"nor {self._key_path(name)} has it", name=name,
                             key_id=recorded[:16], path=where)
        if not create:
            return None
        fresh = os.urandom(32)
        stored = self._keyring_put(name, base64.b64encode(fresh).decode())
        if stored:
            raw = base64.b64decode(stored)
            if len(raw) != 32:
                raise KeyUnavailable(f"the keyring kept {len(raw)} bytes for {name}",
                                     reason="keyring_entry", path="keyring", name=name)
            return raw
        return self._create_file(self._key_path(name), fresh)

    @staticmethod
    def _failed(failure: KeyringUnavailable, name: str,
                recorded: str | None) -> KeyringUnavailable:
        return KeyringUnavailable(f"{name}: {failure.detail}", name=name,
                                  key_id=(recorded or "")[:16] or None,
                                  step=failure.context.get("step"))

    def _has_keyring_quietly(self) -> bool:
        try:
            return self._keyring() is not None
        except KeyringUnavailable:
            return True

    @staticmethod
    def _read_private(path: Path) -> bytes | None:
        """The file's bytes, None when absent; refused when others may read it."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise KeyUnavailable(system_error(exc), reason="os", path=str(path)) from exc
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            # Like ssh with a private key: readable by others means possibly copied.
            raise KeyUnavailable(f"{path} is readable by other users (chmod 600 it)",
                                 reason="readable_by_others", path=str(path))
        return path.read_bytes()

    @classmethod
    def _read_file(cls, path: Path) -> bytes | None:
        data = cls._read_private(path)
        if data is not None and len(data) != 32:
            raise KeyUnavailable(f"{path} has {len(data)} bytes, a key has 32",
                                 reason="file_size", path=str(path), size=len(data))
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
            raise KeyUnavailable(system_error(exc), reason="os", path=str(path)) from exc

    def _create_file(self, path: Path, secret: bytes) -> bytes:
        """Create ``path`` with ``secret`` unless another process got there first; the key
        that won."""
        self._write_private(path, secret, replace=False)
        data = self._read_file(path)
        assert data is not None
        return data


def _why(exc: BaseException) -> str:
    """A keyring error in one line: its type says most (KeyringLocked, a D-Bus error)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _data_fingerprint(raw: bytes) -> str:
    return DataKey(raw).fingerprint


def _signing_fingerprint(raw: bytes) -> str:
    return signing_fingerprint(Ed25519PrivateKey.from_private_bytes(raw))


def _box_fingerprint(raw: bytes) -> str:
    return box_fingerprint(X25519PrivateKey.from_private_bytes(raw))
