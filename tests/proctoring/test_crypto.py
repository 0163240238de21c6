"""Keys and sealing: AES-GCM bound to row and kind, keys from the keyring or a 0600 file."""

from __future__ import annotations

import multiprocessing
import os
import stat
import uuid
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import null

from proctoring.crypto import DataKey, KeyStore, Sealed
from proctoring.errors import EvidenceUnreadable, KeyUnavailable

from .helpers import photo


def test_seal_and_open_a_real_portrait() -> None:
    key = DataKey(os.urandom(32))
    row = uuid.uuid4()
    sealed = key.seal(photo(), row_id=row, kind="CHIP_PORTRAIT")
    assert photo() not in sealed.ciphertext
    assert key.open(sealed, row_id=row, kind="CHIP_PORTRAIT") == photo()


def test_a_blob_moved_to_another_row_or_kind_does_not_open() -> None:
    key = DataKey(os.urandom(32))
    row = uuid.uuid4()
    sealed = key.seal(b"frame", row_id=row, kind="LIVE_FRAME")
    with pytest.raises(EvidenceUnreadable):
        key.open(sealed, row_id=uuid.uuid4(), kind="LIVE_FRAME")
    with pytest.raises(EvidenceUnreadable):
        key.open(sealed, row_id=row, kind="CHIP_PORTRAIT")
    flipped = Sealed(sealed.key_id, sealed.nonce,
                     bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:])
    with pytest.raises(EvidenceUnreadable):
        key.open(flipped, row_id=row, kind="LIVE_FRAME")
    with pytest.raises(EvidenceUnreadable, match="sealed with key"):
        DataKey(os.urandom(32)).open(sealed, row_id=row, kind="LIVE_FRAME")


def test_the_key_never_shows_in_repr() -> None:
    secret = os.urandom(32)
    assert secret.hex() not in repr(DataKey(secret))


def test_key_file_is_private_and_reused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys", use_keyring=False)
    first = store.data_key()
    path = tmp_path / "keys" / "data-key.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert KeyStore(tmp_path / "keys", use_keyring=False).data_key().key == first.key


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, use_keyring=False)
    store.data_key()
    (tmp_path / "data-key.key").chmod(0o644)
    with pytest.raises(KeyUnavailable, match="readable by other users"):
        KeyStore(tmp_path, use_keyring=False).data_key()


def _make_key(folder: str, out: multiprocessing.Queue[bytes]) -> None:
    out.put(KeyStore(Path(folder), use_keyring=False).data_key().key)


def test_processes_racing_to_create_the_key_agree(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")  # the parent's imports: no 1 s start per child
    queue: multiprocessing.Queue[bytes] = ctx.Queue()
    procs = [ctx.Process(target=_make_key, args=(str(tmp_path), queue)) for _ in range(4)]
    for p in procs:
        p.start()
    keys = {queue.get(timeout=30) for _ in procs}
    for p in procs:
        p.join(30)
    assert len(keys) == 1


class _MemoryKeyring(KeyringBackend):
    """A keyring backend (keyring's own plugin API) that keeps secrets in a dict."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.secrets.pop((service, username), None)


def test_keys_go_to_the_keyring_when_there_is_one(tmp_path: Path) -> None:
    previous = keyring.get_keyring()
    backend = _MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        store = KeyStore(tmp_path / "keys")
        key = store.data_key()
        centre = uuid.uuid4()
        signer = store.signing_key(centre)
        assert not (tmp_path / "keys").exists()  # nothing on disk
        assert len(backend.secrets) == 2
        assert KeyStore(tmp_path / "keys").data_key().key == key.key
        again = KeyStore(tmp_path / "keys").existing_signing_key(centre)
        assert again is not None and again.public_key() == signer.public_key()
        # Another installation (another folder) on the same account gets its own key.
        assert KeyStore(tmp_path / "other").data_key().key != key.key
    finally:
        keyring.set_keyring(previous)


def test_a_keyring_that_drops_secrets_falls_back_to_the_file(tmp_path: Path) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(null.Keyring())
    try:
        key = KeyStore(tmp_path).data_key()
        assert (tmp_path / "data-key.key").read_bytes() == key.key
    finally:
        keyring.set_keyring(previous)


URL = "postgresql://centre_hn01:Mật-khẩu@db.sgd.local/district"


def test_a_text_secret_is_saved_private_replaced_and_forgotten(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys", use_keyring=False)
    assert store.secret("district-url") is None
    where = store.save_secret("district-url", URL)
    path = tmp_path / "keys" / "district-url.secret"
    assert where == str(path) and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KeyStore(tmp_path / "keys", use_keyring=False).secret("district-url") == URL
    store.save_secret("district-url", URL + "2")
    assert store.secret("district-url") == URL + "2"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    path.chmod(0o644)
    with pytest.raises(KeyUnavailable, match="readable by other users"):
        store.secret("district-url")
    assert store.forget_secret("district-url") and not path.exists()
    assert not store.forget_secret("district-url")


def test_a_text_secret_goes_to_the_keyring_when_there_is_one(tmp_path: Path) -> None:
    previous = keyring.get_keyring()
    backend = _MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        store = KeyStore(tmp_path / "keys")
        assert store.save_secret("district-url", URL) == "keyring"
        assert not (tmp_path / "keys").exists()
        assert KeyStore(tmp_path / "keys").secret("district-url") == URL
        assert store.forget_secret("district-url") and backend.secrets == {}
    finally:
        keyring.set_keyring(previous)
