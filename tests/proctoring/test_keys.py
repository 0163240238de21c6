"""A key that has existed is never silently replaced (issue 11, item 4).

The keyring here is a real ``keyring`` backend registered with ``keyring.set_keyring`` (the
library's plugin API), which can be made to fail at each call examdesk makes: reading a key,
storing a new one, reading it back. Nothing of examdesk is mocked: the store, the database and
the key files are real.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked
from sqlmodel import col, select

from examdesk.i18n import Catalog
from proctoring import audit
from proctoring.crypto import KeyStore, signing_fingerprint
from proctoring.errors import (
    EvidenceUnreadable,
    InvalidInput,
    KeyMismatch,
    KeyMissing,
    KeyringUnavailable,
    KeyUnavailable,
)
from proctoring.evidence import read_evidence
from proctoring.keyadmin import backup_key, key_states, read_backup, recover_key, rotate_key
from proctoring.models import EvidenceBlob, KeyPurpose, KeyRecord, KeyStatus
from proctoring.store import Store

from .helpers import PEOPLE, add_roster, centre_and_session, checkin, photo


class FlakyKeyring(KeyringBackend):
    """A keyring that keeps secrets in memory and, when told, fails like a locked one."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[tuple[str, str], str] = {}
        self.fail: set[str] = set()  # "get", "set", "read-back"
        self.hide = False  # answer "no such entry" for everything (another collection)
        self._after_set = False

    def get_password(self, service: str, username: str) -> str | None:
        step = "read-back" if self._after_set else "get"
        self._after_set = False
        if step in self.fail:
            raise KeyringLocked(f"the collection is locked ({step})")
        return None if self.hide else self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        if "set" in self.fail:
            raise KeyringLocked("the collection is locked (set)")
        self.secrets[(service, username)] = password
        self._after_set = True

    def delete_password(self, service: str, username: str) -> None:
        self.secrets.pop((service, username), None)


@pytest.fixture
def ring() -> Iterator[FlakyKeyring]:
    previous = keyring.get_keyring()
    backend = FlakyKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


def _open(url: str, folder: Path, **kw: object) -> Store:
    return Store.open(url, keys=KeyStore(folder, **kw))  # type: ignore[arg-type]


def _records(store: Store) -> list[KeyRecord]:
    with store.read() as tx:
        return list(tx.exec(select(KeyRecord)).all())


def _data_records(store: Store) -> list[KeyRecord]:
    return [r for r in _records(store) if r.purpose is KeyPurpose.DATA]


def _says(exc: KeyUnavailable, *words: str) -> None:
    """The message a user sees, in both languages, names the cause and the way out."""
    text = Catalog.load().both(exc.key, detail=exc.detail, **exc.context)
    for word in words:
        assert word in text, text


def _key_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.key")) if folder.exists() else []


@pytest.mark.parametrize("step", ["get", "set", "read-back"])
def test_a_failing_keyring_never_leads_to_a_new_data_key(
        ring: FlakyKeyring, tmp_path: Path, step: str) -> None:
    url, folder = f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "keys"
    with _open(url, folder) as store:
        session = centre_and_session(store)
        entries = add_roster(store, session)
        first = checkin(store, session, entries[0], PEOPLE[0][0])
        # (Since every event is signed, the signing key is recorded too: only the data key's.)
        [record] = _data_records(store)
        assert record.purpose is KeyPurpose.DATA and record.status is KeyStatus.CURRENT
    secrets_before = dict(ring.secrets)
    assert any(account.startswith("data-key@") for _, account in secrets_before)

    # The keyring stops answering at one step. "get": it raises. "set"/"read-back": it says it
    # has no such entry (another collection is open) and then fails to store a new one.
    ring.fail = {step}
    ring.hide = step != "get"
    with _open(url, folder) as store:
        with pytest.raises(KeyUnavailable) as caught:
            checkin(store, session, entries[1], PEOPLE[1][0])
        with pytest.raises(KeyUnavailable):
            read_evidence(store, first.evidence_ids[0])
        assert _data_records(store) == [record]
    if step == "get":
        assert isinstance(caught.value, KeyringUnavailable)
        _says(caught.value, "KeyringLocked", "keyring", "Unlock the keyring")
    else:  # the database knows a key exists: no new one, whatever the keyring says
        assert isinstance(caught.value, KeyMissing)
        _says(caught.value, record.key_id, "examdesk keys recover", "No new key was made")
    assert ring.secrets == secrets_before
    assert _key_files(folder) == []

    # The keyring works again: what was sealed before opens, with the same key.
    ring.fail, ring.hide = set(), False
    with _open(url, folder) as store:
        assert read_evidence(store, first.evidence_ids[0]) == photo()
        assert store.data_key.fingerprint == record.fingerprint
        assert _data_records(store) == [record]


@pytest.mark.parametrize("step", ["get", "set", "read-back"])
def test_a_failing_keyring_never_leads_to_a_new_signing_key(
        ring: FlakyKeyring, tmp_path: Path, step: str) -> None:
    """The false "checkpoint_invalid" alarm: a checkpoint signed with a key made while the
    keyring failed. Now the write fails and says why; the chain verifies afterwards."""
    url, folder = f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "keys"
    with Store.open(url, keys=KeyStore(folder), checkpoint_every=1) as store:
        session = centre_and_session(store)
    before = dict(ring.secrets)
    ring.fail, ring.hide = {step}, step != "get"
    with Store.open(url, keys=KeyStore(folder), checkpoint_every=1) as store:
        with pytest.raises(KeyringUnavailable if step == "get" else KeyMissing):
            centre_and_session(store, code="S2")
        with store.read() as tx:
            assert tx.exec(select(audit.AuditEvent.id)).all() != []
    assert ring.secrets == before and _key_files(folder) == []
    ring.fail, ring.hide = set(), False
    with Store.open(url, keys=KeyStore(folder), checkpoint_every=1) as store:
        centre_and_session(store, code="S2")
        with store.read() as tx:
            report = audit.verify(tx, store.keys)
        # ("station": the audit merge's name for this machine's key store, was "local")
        assert report.ok and report.chains[0].key_source == "station"
    assert session is not None


@pytest.mark.parametrize("step", ["set", "read-back"])
def test_the_first_key_is_not_made_while_the_keyring_fails(
        ring: FlakyKeyring, tmp_path: Path, step: str) -> None:
    url, folder = f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "keys"
    ring.fail = {step}
    with _open(url, folder) as store:
        with pytest.raises(KeyringUnavailable) as caught:
            store.data_key  # noqa: B018
        assert caught.value.context["step"] == step
        assert _records(store) == []
    assert _key_files(folder) == []  # no file behind the keyring's back
    ring.fail = set()
    with _open(url, folder) as store:
        key = store.data_key
        [record] = _records(store)
        assert record.fingerprint == key.fingerprint and record.key_id == key.key_id
        assert key.key.hex() not in record.fingerprint  # a hash, never the key


def test_the_keyring_failing_while_its_file_has_the_key_is_no_problem(
        ring: FlakyKeyring, tmp_path: Path) -> None:
    """A key made in a file (no keyring back then) still opens when the keyring later fails."""
    url, folder = f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "keys"
    with _open(url, folder, use_keyring=False) as store:
        key = store.data_key
    ring.fail = {"get"}
    with _open(url, folder) as store:
        assert store.data_key.key == key.key


def test_a_lost_key_file_is_reported_not_replaced(store: Store, keys: KeyStore) -> None:
    session = centre_and_session(store)
    entry = add_roster(store, session)[0]
    first = checkin(store, session, entry, PEOPLE[0][0])
    path = keys.folder / "data-key.key"
    saved = path.read_bytes()
    path.unlink()
    store.forget_keys()
    with pytest.raises(KeyMissing) as caught:
        read_evidence(store, first.evidence_ids[0])
    _says(caught.value, str(keys.folder / "data-key.key"), "examdesk keys rotate --lost")
    assert not path.exists()
    # Another key in its place (another installation's) is refused as well.
    other = KeyStore(keys.folder.parent / "other", use_keyring=False).data_key()
    path.write_bytes(other.key)
    path.chmod(0o600)
    with pytest.raises(KeyMismatch) as mismatch:
        read_evidence(store, first.evidence_ids[0])
    assert mismatch.value.context["found"] == other.key_id
    _says(mismatch.value, other.key_id, "examdesk keys recover")
    path.write_bytes(saved)  # restored from the backup: everything opens again
    assert read_evidence(store, first.evidence_ids[0]) == photo()


def test_the_signing_key_is_recorded_and_a_lost_one_not_replaced(
        store: Store, keys: KeyStore) -> None:
    """A new signing key would make every later checkpoint fail verification (a false
    "checkpoint_invalid" alarm): the append fails instead, and nothing is written."""
    store.audit = audit.AuditLog(keys, checkpoint_every=1)
    session = centre_and_session(store)
    [record] = [r for r in _records(store) if r.purpose is KeyPurpose.SIGNING]
    assert record.centre_id == session.centre_id and record.public_key is not None
    path = keys.folder / f"audit-{session.centre_id}.key"
    saved = path.read_bytes()
    path.unlink()
    with store.read() as tx:
        events = tx.exec(select(audit.AuditEvent)).all()
    with pytest.raises(KeyMissing):
        add_roster(store, session)  # (writes no audit event) …
        centre_and_session(store, code="S2")  # … this one does, and is signed
    with store.read() as tx:
        assert tx.exec(select(audit.AuditEvent)).all() == events
    assert not path.exists()
    path.write_bytes(saved)  # restored from the backup
    path.chmod(0o600)
    centre_and_session(store, code="S2")
    with store.read() as tx:
        assert audit.verify(tx, keys).ok


def test_a_keyring_that_fails_makes_verification_say_so(ring: FlakyKeyring,
                                                        tmp_path: Path) -> None:
    """Verifying never creates a key, and "the keyring did not answer" is not "no key here"."""
    folder = tmp_path / "keys"
    centre = uuid.uuid4()
    KeyStore(folder).signing_key(centre)
    ring.fail = {"get"}
    with pytest.raises(KeyringUnavailable):
        KeyStore(folder).existing_signing_key(centre)
    assert KeyStore(folder, use_keyring=False).existing_signing_key(centre) is None
    assert _key_files(folder) == []


# --- the admin's explicit paths: rotate, recover, backup -----------------------------------------


def _events(store: Store, action: str) -> list[dict[str, object]]:
    with store.read() as tx:
        rows = tx.exec(select(audit.AuditEvent).where(audit.AuditEvent.action == action)).all()
    return [json.loads(r.payload) for r in rows]


def _by_status(store: Store, purpose: KeyPurpose) -> dict[KeyStatus, list[str]]:
    out: dict[KeyStatus, list[str]] = {}
    for r in _records(store):
        if r.purpose is purpose:
            out.setdefault(r.status, []).append(r.key_id)
    return out


def test_rotating_the_data_key_keeps_what_the_old_key_sealed_readable(
        store: Store, keys: KeyStore) -> None:
    session = centre_and_session(store)
    entries = add_roster(store, session)
    first = checkin(store, session, entries[0], PEOPLE[0][0])
    old = store.data_key
    with pytest.raises(InvalidInput):
        rotate_key(store, KeyPurpose.DATA, centre_id=session.centre_id, actor="t", reason=" ")
    change = rotate_key(store, KeyPurpose.DATA, centre_id=session.centre_id, actor="t:admin",
                        reason="thay khoá định kỳ")
    assert change.old_key_id == old.key_id and change.old_kept and change.key_id != old.key_id
    assert _by_status(store, KeyPurpose.DATA) == {KeyStatus.RETIRED: [old.key_id],
                                                  KeyStatus.CURRENT: [change.key_id]}
    [event] = _events(store, "key.rotated")
    assert event["old_key_id"] == old.key_id and event["new_key_id"] == change.key_id
    assert event["reason"] == "thay khoá định kỳ" and event["old_kept"] is True
    # A fresh store (another run of the app): old evidence opens, new evidence uses the new key.
    with Store.open(store.url if store.backend == "sqlite" else _url(store), keys=keys) as again:
        assert read_evidence(again, first.evidence_ids[0]) == photo()
        second = checkin(again, session, entries[1], PEOPLE[1][0])
        with again.read() as tx:
            blob = tx.get(EvidenceBlob, second.evidence_ids[0])
        assert blob is not None and blob.key_id == change.key_id
        with again.read() as tx:
            assert audit.verify(tx, keys).ok
    assert (keys.folder / f"data-key.{old.key_id}.key").stat().st_mode & 0o077 == 0


def _url(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def test_a_lost_data_key_is_rotated_only_on_purpose_and_says_what_is_lost(
        store: Store, keys: KeyStore) -> None:
    session = centre_and_session(store)
    entries = add_roster(store, session)
    first = checkin(store, session, entries[0], PEOPLE[0][0])
    old = store.data_key
    (keys.folder / "data-key.key").unlink()
    store.forget_keys()
    with pytest.raises(KeyMissing):
        rotate_key(store, KeyPurpose.DATA, centre_id=session.centre_id, actor="t", reason="mất")
    change = rotate_key(store, KeyPurpose.DATA, centre_id=session.centre_id, actor="t",
                        reason="ổ đĩa hỏng, không có bản sao lưu", lost=True)
    assert not change.old_kept and change.unreadable == len(first.evidence_ids)
    assert _by_status(store, KeyPurpose.DATA) == {KeyStatus.LOST: [old.key_id],
                                                  KeyStatus.CURRENT: [change.key_id]}
    with pytest.raises(EvidenceUnreadable):
        read_evidence(store, first.evidence_ids[0])
    second = checkin(store, session, entries[1], PEOPLE[1][0])
    assert read_evidence(store, second.evidence_ids[0]) == photo()
    with pytest.raises(InvalidInput, match="without --lost"):  # the new key is right here
        rotate_key(store, KeyPurpose.DATA, centre_id=session.centre_id, actor="t", reason="x",
                   lost=True)


def test_recover_restores_the_key_and_keeps_the_one_in_its_place(
        store: Store, keys: KeyStore, tmp_path: Path) -> None:
    session = centre_and_session(store)
    entries = add_roster(store, session)
    first = checkin(store, session, entries[0], PEOPLE[0][0])
    right = store.data_key
    backup = tmp_path / "backup" / "data-key.b64"
    done = backup_key(store, KeyPurpose.DATA, centre_id=session.centre_id, out=backup, actor="t")
    assert done.key_id == right.key_id and backup.stat().st_mode & 0o077 == 0
    with pytest.raises(InvalidInput):  # never overwrites
        backup_key(store, KeyPurpose.DATA, centre_id=session.centre_id, out=backup, actor="t")
    # The old failure: another key was made in the right one's place.
    wrong = KeyStore(tmp_path / "elsewhere", use_keyring=False).data_key()
    (keys.folder / "data-key.key").write_bytes(wrong.key)
    store.forget_keys()
    with pytest.raises(KeyMismatch):
        read_evidence(store, first.evidence_ids[0])
    with pytest.raises(KeyMismatch):  # a key this database never used
        recover_key(store, KeyPurpose.DATA, wrong.key, centre_id=session.centre_id, actor="t")
    change = recover_key(store, KeyPurpose.DATA, read_backup(backup),
                         centre_id=session.centre_id, actor="t:admin")
    assert change.key_id == right.key_id and change.displaced_key_id == wrong.key_id
    assert read_evidence(store, first.evidence_ids[0]) == photo()
    states = {(s.record.key_id, s.record.status): s.here for s in key_states(store)
              if s.record.purpose is KeyPurpose.DATA}
    assert states == {(right.key_id, KeyStatus.CURRENT): "yes",
                      (wrong.key_id, KeyStatus.RETIRED): "yes"}
    [event] = _events(store, "key.recovered")
    assert event["key_id"] == right.key_id and event["displaced_key_id"] == wrong.key_id
    assert len(_events(store, "key.backed_up")) == 1


def test_rotating_the_signing_key_is_a_change_the_old_key_signs(
        store: Store, keys: KeyStore) -> None:
    """(Was: "signs the old end first", when the change event itself was signed by the new key
    and verify then called everything after it checkpoint_invalid. Now the old key signs the
    change event itself: see test_signing_rotation.py.)"""
    session = centre_and_session(store)
    [old] = [r for r in _records(store) if r.purpose is KeyPurpose.SIGNING]
    change = rotate_key(store, KeyPurpose.SIGNING, centre_id=session.centre_id, actor="t",
                        reason="nhân viên giữ khoá nghỉ việc")
    with store.read() as tx:
        checkpoints = tx.exec(select(audit.AuditCheckpoint)).all()
        head = tx.exec(select(audit.AuditHead)).one()
    # The old key signed the chain up to and including the rotation.
    assert {c.public_key for c in checkpoints} == {old.public_key}
    assert max(c.seq for c in checkpoints) == head.seq
    signing = _by_status(store, KeyPurpose.SIGNING)
    assert signing == {KeyStatus.RETIRED: [old.key_id], KeyStatus.CURRENT: [change.key_id]}
    new = keys.existing_signing_key(session.centre_id)
    assert new is not None and signing_fingerprint(new).startswith(change.key_id)
    centre_and_session(store, code="S2")  # the next event: signed with the new key
    with store.read() as tx:
        last = tx.exec(select(audit.AuditCheckpoint)
                       .order_by(col(audit.AuditCheckpoint.seq).desc())).first()
        assert audit.verify(tx, keys).ok
    assert last is not None and last.public_key == audit.raw_public(new.public_key())


def test_the_keys_commands(cli_env: Path, tmp_path: Path) -> None:
    """`examdesk keys status | backup | rotate | recover`, as an admin types them."""
    from typer.testing import CliRunner

    from examdesk.cli import app

    with Store.open() as store:  # the CLI's own database and key store
        session = centre_and_session(store)
        first = checkin(store, session, add_roster(store, session)[0], PEOPLE[0][0])
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, ["keys", *args])
        return result.exit_code, result.stdout, result.stderr

    code, out, _ = run("status", "--lang", "en")
    assert code == 0 and "evidence encryption key" in out and "on this machine" in out
    code, out, _ = run("backup", "--key", "data", "--out", str(tmp_path / "b"), "--json")
    assert code == 0 and json.loads(out)["action"] == "backed_up"
    code, out, _ = run("rotate", "--key", "data", "--reason", "định kỳ", "--lang", "vi")
    assert code == 0 and "Khoá cũ" in out and "vẫn được giữ" in out
    key_file = cli_env / "config" / "keys" / "data-key.key"
    key_file.unlink()
    code, out, _ = run("status", "--json")
    assert code == 0 and {(k["status"], k["here"]) for k in json.loads(out)["keys"]
                          if k["purpose"] == "DATA"} == {("CURRENT", "no"), ("RETIRED", "yes")}
    code, out, err = run("rotate", "--key", "data", "--reason", "x")
    assert code == 3 and "examdesk keys recover" in err and "Traceback" not in err
    code, out, _ = run("rotate", "--key", "data", "--reason", "mất máy", "--lost", "--json")
    assert code == 0 and json.loads(out)["unreadable"] == 0  # old evidence: the first key's
    code, out, err = run("recover", "--key", "data", "--from", str(tmp_path / "b"), "--json")
    assert code == 0 and json.loads(out)["action"] == "recovered"
    with Store.open() as store:
        assert read_evidence(store, first.evidence_ids[0]) == photo()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from examdesk.paths import config_dir

    monkeypatch.setenv("EXAMDESK_CENTRE", "HN01")
    return config_dir().parent


def test_every_keys_message_reads_in_both_languages() -> None:
    catalog = Catalog.load()
    used = [f"keys.purpose.{p.value.lower()}" for p in KeyPurpose]
    used += [f"keys.state.{s.value.lower()}" for s in KeyStatus]
    used += [f"keys.here.{h}" for h in ("yes", "no", "other", "unreachable")]
    used += [f"keys.{k}" for k in ("none", "status_line", "backed_up", "recovered", "rotated",
                                    "old_kept", "old_lost", "old_signing", "signing_lost",
                                    "state.retired_signing",
                                    "displaced")]
    missing = [k for k in used if not all(catalog.messages.get(k, {}).get(lang)
                                          for lang in ("vi", "en"))]
    assert missing == []
