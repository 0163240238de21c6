"""The database: engine, connection settings, migrations on open, and transactions.

SQLite by default (``data_dir()/examdesk.db``), PostgreSQL when ``EXAMDESK_DB_URL`` says so.
A :class:`Store` is an explicit object (no module-level engine): the CLI opens one per command,
the GUI one per window, tests one per database.

SQLite settings, and why:
- ``journal_mode=WAL``: readers (the GUI's roster view) never block the check-in writer;
- ``synchronous=FULL``: a committed check-in survives a power cut, not just a crash of the app;
- ``foreign_keys=ON``: SQLite leaves them off unless asked, per connection;
- ``busy_timeout``: a second process waits for the write lock instead of failing at once;
- write transactions start with ``BEGIN IMMEDIATE``: they take the write lock first, so two
  writers never both read the audit head and then deadlock upgrading their locks.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlmodel import Session, SQLModel

from examdesk.paths import data_dir

from . import (  # noqa: F401  (registers the tables)
    calibration_models,
    district_models,
    keyrecords,
    models,
    seat_models,
    station_models,
)
from .audit import AuditLog
from .crypto import DataKey, KeyStore
from .errors import DatabaseLoginRefused, DatabaseUnavailable
from .types import utcnow

DB_URL_ENV = "EXAMDESK_DB_URL"
DB_FILE = "examdesk.db"
BUSY_TIMEOUT_MS = 10_000
DEFAULT_RETENTION = timedelta(days=90)
MIGRATIONS = Path(__file__).with_name("migrations")
# The newest revision in migrations/versions (a test keeps the two equal): a database already
# there opens with one SELECT instead of loading Alembic, which every CLI command would pay.
HEAD_REVISION = "0014_seattap18_seat_consent"
# Before this revision events were signed every 100th only: see Store.open's seal.
_SIGNED_EVERY_EVENT = "0004"
_WRITE = "examdesk_write"
_STATION_KEY_CHECKED = "examdesk_station_key_checked"  # Session.info: the key checked in this tx


def database_url(url: str | None = None) -> URL:
    """The URL to use: the argument, else ``EXAMDESK_DB_URL``, else the SQLite file in
    ``data_dir()``. ``postgresql://`` URLs are given the psycopg 3 driver."""
    text = url or os.environ.get(DB_URL_ENV)
    if not text:
        return make_url(f"sqlite:///{data_dir() / DB_FILE}")
    try:
        parsed = make_url(text)
    except ArgumentError as exc:
        raise DatabaseUnavailable(f"not a database URL: {exc}", reason="url",
                                  env=DB_URL_ENV) from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseUnavailable(f"unsupported database {parsed.get_backend_name()!r}",
                                  reason="backend", backend=parsed.get_backend_name())
    return parsed


def create_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    return sa.create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})


def _sqlite_engine(url: URL) -> Engine:
    path = url.database
    if path and path != ":memory:":
        file = Path(path)
        # Personal data: the folder and the file are the operator's alone. SQLite gives the
        # -wal and -shm files the database file's mode.
        file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not file.exists():
            os.close(os.open(file, os.O_CREAT | os.O_WRONLY, 0o600))
    # isolation_level=None: the sqlite3 module's own transaction guessing is off, we emit
    # BEGIN ourselves (SQLAlchemy's documented recipe for pysqlite).
    engine = sa.create_engine(url, connect_args={"isolation_level": None,
                                                 "timeout": BUSY_TIMEOUT_MS / 1000,
                                                 "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # Purged evidence is overwritten on disk, not just unlinked from the b-tree.
        cur.execute("PRAGMA secure_delete=ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        try:
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        except DBAPIError:
            return None  # a new database: no version table yet


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision shipped in ``proctoring/migrations``."""
    if current_revision(engine) == HEAD_REVISION:
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.execution_options(**{_WRITE: True}).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Store:
    """One database plus the keys that go with it.

    ``write()`` and ``read()`` give an SQLModel session inside a transaction that commits when
    the block ends and rolls back on an exception. Objects stay usable after the block
    (``expire_on_commit=False``) as plain values.
    """

    def __init__(self, engine: Engine, keys: KeyStore, *,
                 retention: timedelta = DEFAULT_RETENTION, checkpoint_every: int = 100,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.keys = keys
        self.retention = retention
        self.clock = clock
        self.audit = AuditLog(keys, checkpoint_every)
        self._writer = engine.execution_options(**{_WRITE: True})
        # A read sees one snapshot from its first statement to its last (audit verify reads the
        # events, the head and the checkpoints separately): REPEATABLE READ on PostgreSQL; on
        # SQLite a WAL read transaction already is a snapshot.
        self._reader = (engine.execution_options(isolation_level="REPEATABLE READ")
                        if engine.url.get_backend_name() == "postgresql" else engine)
        self._data_key: DataKey | None = None
        # Whether the data key came sealed to this desk's station (issue 17, stations.py):
        # then every write checks it is still the current key and the station may write.
        self._station_key = False
        self._lock = threading.Lock()
        # Not yet migrated (open_later): the first read or write migrates first.
        self._behind = False
        self._schema_lock = threading.Lock()

    @classmethod
    def open(cls, url: str | None = None, *, keys: KeyStore | None = None,
             retention: timedelta = DEFAULT_RETENTION, checkpoint_every: int = 100,
             clock: Callable[[], datetime] = utcnow) -> Store:
        """Open (creating if needed) the database and migrate it to the current schema."""
        store = cls.open_later(url, keys=keys, retention=retention,
                               checkpoint_every=checkpoint_every, clock=clock)
        try:
            store.catch_up()
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def open_later(cls, url: str | None = None, *, keys: KeyStore | None = None,
                   retention: timedelta = DEFAULT_RETENTION, checkpoint_every: int = 100,
                   clock: Callable[[], datetime] = utcnow) -> Store:
        """The store without touching the database: a desk started while the centre's server
        is down (issue 17). Each use raises :class:`DatabaseUnavailable` until the server
        answers; the first use that reaches it migrates it first, as :meth:`open` would."""
        store = cls(create_engine(database_url(url)), keys or KeyStore.default(),
                    retention=retention, checkpoint_every=checkpoint_every, clock=clock)
        store._behind = True
        return store

    def catch_up(self) -> None:
        """Migrate the database to the current schema, once (a no-op after that)."""
        if not self._behind:
            return
        with self._schema_lock:
            if not self._behind:
                return
            try:
                before = current_revision(self.engine)
                migrate(self.engine)
                if before != HEAD_REVISION and self.backend == "postgresql":
                    self._reapply_desk_roles()
            except OperationalError as exc:
                raise unreachable(exc, self.url) from exc
            self._behind = False
            if before is not None and before < _SIGNED_EVERY_EVENT:
                # An older release left up to 99 unsigned events after its last checkpoint:
                # sign the heads whose keys this station holds now, so that from the upgrade
                # on every event is covered (audit.py: the legacy prefix).
                with self.write() as tx:
                    self.audit.seal_legacy(tx, self.now())

    def _reapply_desk_roles(self) -> None:
        """The owner upgraded the centre's schema: the desk logins' rights follow it (a new
        table gets none until listed; changed triggers are replaced). A desk's own login
        never migrates (it may not create tables), so this runs as the owner or not at all."""
        from .desk_roles import reapply_desk_roles

        with self.engine.begin() as conn:
            reapply_desk_roles(conn)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def backend(self) -> str:
        """"sqlite" or "postgresql"."""
        return self.engine.url.get_backend_name()

    @property
    def url(self) -> str:
        """The URL without its password, for messages."""
        return _safe(self.engine.url)

    @property
    def data_key(self) -> DataKey:
        """Loaded (or created) on first use: stores that never see evidence never touch it.
        Checked against the fingerprint the database records (:mod:`.keyrecords`); inside a
        write transaction use :meth:`data_key_in`."""
        with self._lock:
            if self._data_key is None and not self.keys.records_data_key:
                self._data_key = self.keys.data_key()
            if self._data_key is None:
                with self.read() as tx:
                    sealed = _station_data_keys(tx, self.keys)
                if sealed is not None:
                    self._data_key, self._station_key = sealed, True
                    return sealed
                with self.read() as tx:
                    facts = keyrecords.data_key_facts(tx)
                if facts.recorded is not None:
                    self._data_key = self.keys.data_key(recorded=facts.recorded,
                                                        retired=facts.retired)
                else:  # first use: make or adopt the key and record it, in one transaction
                    with self.write() as tx:
                        self._data_key = keyrecords.data_key(tx, self.keys)
            return self._data_key

    def data_key_in(self, tx: Session) -> DataKey:
        """The data key, recorded (if this is its first use) in the caller's transaction: the
        first sealed blob and the key's record commit together."""
        with self._lock:
            if self._data_key is None or self._station_key:
                # A station's key is checked (still current, the station may write) once per
                # transaction, not once per blob: a check-in seals three or more, and each
                # check cost three queries and two key-file reads (bench/stations.py).
                checked = tx.info.get(_STATION_KEY_CHECKED)
                if isinstance(checked, DataKey) and checked is self._data_key:
                    return checked
                sealed = (_station_data_keys(tx, self.keys, self._data_key)
                          if self.keys.records_data_key else None)
                if sealed is not None:
                    self._data_key, self._station_key = sealed, True
                    tx.info[_STATION_KEY_CHECKED] = sealed
                    return sealed
            if self._data_key is None:
                self._data_key = (keyrecords.data_key(tx, self.keys)
                                  if self.keys.records_data_key else self.keys.data_key())
            return self._data_key

    def forget_keys(self) -> None:
        """Drop the cached data key (after an admin rotated or recovered it) and this desk's
        station keys (after an enrolment)."""
        with self._lock:
            self._data_key = None
            self._station_key = False
            self.audit.forget_station()

    def now(self) -> datetime:
        return self.clock()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: everything in the block commits together, or nothing does."""
        self.catch_up()
        try:
            with Session(self._writer, expire_on_commit=False) as session, session.begin():
                yield session
        except OperationalError as exc:
            raise unreachable(exc, self.url) from exc

    @contextmanager
    def read(self) -> Iterator[Session]:
        self.catch_up()
        try:
            with Session(self._reader, expire_on_commit=False) as session, session.begin():
                yield session
        except OperationalError as exc:
            raise unreachable(exc, self.url) from exc


def _station_data_keys(tx: Session, keys: KeyStore,
                       cached: DataKey | None = None) -> DataKey | None:
    """The data keys sealed to this desk's station, None when the desk is no station here."""
    from .stations import station_data_keys

    return station_data_keys(tx, keys, cached)


# libpq reports a refused login without its SQLSTATE: match the server's text too (English;
# a server speaking another language still gives the SQLSTATE on an established connection).
_LOGIN_REFUSED = re.compile(r"password authentication failed|authentication failed for user|"
                            r"no pg_hba\.conf entry|role \"[^\"]*\" does not exist")


def unreachable(exc: OperationalError, url: str) -> DatabaseUnavailable | DatabaseLoginRefused:
    """The driver's refusal as the error a desk acts on. A wrong password or an unknown login
    (SQLSTATE 28P01 / 28000) is :class:`DatabaseLoginRefused`: not an outage, so a desk does not
    quietly keep check-ins in its offline outbox waiting for a server that will never let it
    in; everything else (server down, network gone) is :class:`DatabaseUnavailable`."""
    state = getattr(exc.orig, "sqlstate", None) or ""
    detail = str(exc.orig).strip()
    if state in ("28P01", "28000") or _LOGIN_REFUSED.search(detail):
        return DatabaseLoginRefused(detail.splitlines()[0] if detail else "login refused",
                                    url=url)
    return DatabaseUnavailable(detail, url=url)


def _safe(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def metadata() -> sa.MetaData:
    """The tables the migrations must produce (tests compare the two)."""
    return SQLModel.metadata
