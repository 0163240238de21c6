"""Fixtures for the storage tests: every test that takes ``store`` runs on SQLite and on
PostgreSQL.

SQLite: a new database file per test. PostgreSQL: ``scripts/start-postgres`` makes sure the
local cluster runs (CI: ``.ci/run`` → ``make test`` installs the ``postgresql`` package), a fresh
database with a random name is created per test module and dropped at its end, and the tables are
emptied before each test. ``EXAMDESK_TEST_PG_URL`` points the tests at another server instead.
The PostgreSQL half skips only when PostgreSQL cannot run here at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from biometrics import FaceEngine, FaceSettings
from biometrics.config import ORL_POINT
from proctoring.crypto import KeyStore
from proctoring.store import Store, metadata
from tests.pgscratch import scratch_database

from .helpers import isolate_home

REPO = Path(__file__).resolve().parents[2]
PG_URL_ENV = "EXAMDESK_TEST_PG_URL"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate_home(tmp_path, monkeypatch)


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """A URL for a role that may CREATE DATABASE."""
    pytest.importorskip("psycopg", reason="the PostgreSQL driver is not installed "
                        "(pip install -e '.[dev,postgres]'; make setup does it)")
    url = os.environ.get(PG_URL_ENV)
    if url:
        return url
    try:
        proc = subprocess.run([str(REPO / "scripts" / "start-postgres")], capture_output=True,
                              text=True, timeout=120, check=False)
    except OSError as exc:
        pytest.fail(f"scripts/start-postgres cannot run: {exc}")
    if proc.returncode == 2:
        pytest.skip("PostgreSQL is not installed on this machine "
                    "(make setup installs the postgresql apt package)")
    if proc.returncode == 3:
        pytest.skip("PostgreSQL is installed but this user cannot start or set it up "
                    "(run scripts/start-postgres as root once)")
    if proc.returncode != 0 or not proc.stdout.strip():
        pytest.fail(f"scripts/start-postgres failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for SQLite (each test gets its own file), else the URL of a database made for this
    test module (dropped after it)."""
    if request.param == "sqlite":
        yield None
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    with scratch_database(admin_url, "examdesk_test_") as url:
        yield url


@pytest.fixture
def db_url(backend: str | None, tmp_path: Path) -> str:
    """The URL of an empty, migrated database for this test."""
    if backend is None:
        return f"sqlite:///{tmp_path / 'examdesk.db'}"
    engine = sa.create_engine(backend)
    try:
        with engine.begin() as conn:
            has_schema = sa.inspect(conn).has_table("centre")
            if has_schema:
                # DELETE, children first: on tables this small it is much faster than TRUNCATE.
                for table in reversed(metadata().sorted_tables):
                    conn.execute(table.delete())
    finally:
        engine.dispose()
    return backend


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    return KeyStore(tmp_path / "keys", use_keyring=False)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database file at the newest schema, migrated once from nothing by
    ``Store.open``. On a new file ``Store.open`` only runs the migrations (no row, no key, no
    path goes in), so a copy of this file is what it would make, without the 0.1-0.4 s (by load) of
    alembic each SQLite test spent. The migrations from nothing still run here every session,
    and on each PostgreSQL test module's database."""
    folder = tmp_path_factory.mktemp("migrated")
    path = folder / "examdesk.db"
    Store.open(f"sqlite:///{path}", keys=KeyStore(folder / "keys", use_keyring=False)).close()
    # Closed: the WAL is checkpointed into the file and removed, so the file alone is whole.
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith("examdesk.db")) == [
        "examdesk.db"]
    return path


@pytest.fixture
def store(db_url: str, keys: KeyStore, backend: str | None,
          request: pytest.FixtureRequest) -> Iterator[Store]:
    target = Path(db_url.removeprefix("sqlite:///")) if backend is None else None
    if target is not None and not target.exists():
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), target)
    s = Store.open(db_url, keys=keys)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="session")
def engine() -> FaceEngine:
    """The face engine with its shipped settings, loaded once for the whole run: it keeps no
    state between calls but its models (14 modules loaded it again, ~1.5 s each). A module
    that needs another operating point defines its own."""
    e = FaceEngine()
    e.load()
    return e


@pytest.fixture(scope="session")
def orl_engine() -> FaceEngine:
    """The face engine on the ORL calibration (issue 14) for the modules whose desks check ORL
    people: one load for all of them, as ``engine`` is for the shipped settings."""
    e = FaceEngine(FaceSettings().with_operating_point(ORL_POINT))
    e.load()
    return e
