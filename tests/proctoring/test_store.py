"""The database itself: migrations, connection settings, types, transactions."""

from __future__ import annotations

import os
import stat
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from proctoring.crypto import KeyStore
from proctoring.errors import DatabaseUnavailable
from proctoring.models import Centre, ExamSession, SessionKind
from proctoring.store import HEAD_REVISION, MIGRATIONS, Store, database_url
from tests.migrations import revision_and_drift

from .helpers import centre_and_session


def test_migrations_produce_exactly_the_models(store: Store) -> None:
    assert revision_and_drift(store.engine) == (HEAD_REVISION, [])


def test_the_head_revision_constant_is_the_newest_migration() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_current_head() == HEAD_REVISION


def test_reopening_a_current_database_changes_nothing(store: Store, db_url: str,
                                                      keys: KeyStore) -> None:
    centre_and_session(store)
    again = Store.open(db_url, keys=keys)
    try:
        with again.read() as tx:
            assert tx.exec(select(ExamSession)).one().code == "S1"
    finally:
        again.close()


def test_times_come_back_aware_utc_and_naive_ones_are_refused(store: Store) -> None:
    hanoi = timezone(timedelta(hours=7))
    session = centre_and_session(store)
    with store.write() as tx:
        row = tx.get(ExamSession, session.id)
        assert row is not None
        row.ends_at = datetime(2025, 6, 12, 11, 0, 0, 123456, tzinfo=hanoi)
        tx.add(row)
    with store.read() as tx:
        row = tx.get(ExamSession, session.id)
        assert row is not None and row.ends_at is not None
        assert row.ends_at.tzinfo is not None and row.ends_at.utcoffset() == timedelta(0)
        assert row.ends_at == datetime(2025, 6, 12, 4, 0, 0, 123456, tzinfo=UTC)
        assert row.created_at.tzinfo is not None
    with pytest.raises(sa.exc.StatementError, match="naive"), store.write() as tx:
        row = tx.get(ExamSession, session.id)
        assert row is not None
        row.ends_at = datetime(2025, 6, 12, 11, 0)
        tx.add(row)


def test_a_failed_transaction_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.write() as tx:
        tx.add(Centre(code="X", name="X"))
        tx.flush()
        raise RuntimeError("crash before commit")
    with store.read() as tx:
        assert tx.exec(select(Centre)).all() == []


def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(sa.exc.IntegrityError), store.write() as tx:
        tx.add(ExamSession(centre_id=uuid.uuid4(), code="X", kind=SessionKind.ONLINE_EXAM,
                           title="x", starts_at=datetime.now(UTC), created_by="t"))


def test_sqlite_settings_and_file_mode(tmp_path: Path) -> None:
    db = tmp_path / "data" / "examdesk.db"
    s = Store.open(f"sqlite:///{db}", keys=KeyStore(tmp_path / "k", use_keyring=False))
    try:
        with s.engine.connect() as conn:
            pragma = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                      for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")}
        assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "synchronous": 2,
                          "busy_timeout": 10_000}
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    finally:
        s.close()


def test_default_database_is_in_the_data_dir(_isolated_home: Path) -> None:
    assert database_url().database == str(_isolated_home / "data" / "examdesk.db")


def test_postgres_urls_get_psycopg3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXAMDESK_DB_URL", "postgresql://u:p@db.example/exams")
    assert database_url().drivername == "postgresql+psycopg"
    assert database_url("postgres://u@h/d").drivername == "postgresql+psycopg"
    with pytest.raises(DatabaseUnavailable):
        database_url("mysql://u@h/d")


def test_an_unreachable_server_is_a_typed_error(tmp_path: Path) -> None:
    # Port 9 on localhost: nothing listens (discard service), the connection is refused.
    with pytest.raises(DatabaseUnavailable) as err:
        Store.open("postgresql://nobody:secret@127.0.0.1:9/none",
                   keys=KeyStore(tmp_path, use_keyring=False))
    assert "secret" not in str(err.value.context)


def test_data_dir_is_created_private(_isolated_home: Path) -> None:
    s = Store.open(keys=KeyStore(_isolated_home / "k", use_keyring=False))
    s.close()
    db = _isolated_home / "data" / "examdesk.db"
    assert db.exists() and stat.S_IMODE(os.stat(db).st_mode) == 0o600
