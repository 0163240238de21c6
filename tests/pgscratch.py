"""A scratch PostgreSQL database: created with a random name, dropped (even while in use) at the
end. Shared by the storage tests, the private-cluster sync tests and the benchmarks.

Why the drop retries: ``DROP DATABASE … WITH (FORCE)`` must terminate every other backend on the
database, and PostgreSQL 15 lets a role that is not superuser terminate only backends of roles it
is a member of. An autovacuum worker that happens to be on the fresh database belongs to no role,
so the drop fails with InsufficientPrivilege ("must be a member of the role whose process is being
terminated") although nothing of ours is connected. The worker finishes on its own within a
moment; trying again is the fix, not granting the test role pg_signal_backend.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

DROP_ATTEMPTS = 40
DROP_PAUSE_S = 0.5


def _quoted(admin: sa.Engine, name: str) -> str:
    return admin.dialect.identifier_preparer.quote_identifier(name)


def create_database(admin: sa.Engine, prefix: str) -> str:
    """A new empty database named ``prefix`` + random hex; returns its name."""
    name = f"{prefix}{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {_quoted(admin, name)}")
    return name


def drop_database(admin: sa.Engine, name: str, *, attempts: int = DROP_ATTEMPTS,
                  pause_s: float = DROP_PAUSE_S) -> None:
    """Drop ``name`` with FORCE, waiting out an autovacuum worker (see the module note)."""
    from psycopg import errors

    statement = f"DROP DATABASE IF EXISTS {_quoted(admin, name)} WITH (FORCE)"
    for attempt in range(attempts):
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(statement)
            return
        except sa.exc.ProgrammingError as exc:
            if (not isinstance(exc.orig, errors.InsufficientPrivilege)
                    or attempt == attempts - 1 or not _owns(admin, name)):
                raise
            time.sleep(pause_s)


def _owns(admin: sa.Engine, name: str) -> bool:
    """Whether our role owns ``name``: then a refused drop is a backend we may not terminate
    (worth waiting for), not a missing right (which waiting never fixes). Both errors share one
    SQLSTATE and the message text depends on the server's language."""
    with admin.connect() as conn:
        return bool(conn.execute(sa.text(
            "SELECT pg_has_role(datdba, 'USAGE') FROM pg_database WHERE datname = :name"),
            {"name": name}).scalar())


@contextmanager
def scratch_database(admin_url: str, prefix: str) -> Iterator[str]:
    """The URL of a fresh database on the server of ``admin_url`` (whose role may CREATE
    DATABASE), dropped when the block ends."""
    # No pool: a test may restart the server, which kills pooled connections.
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        name = create_database(admin, prefix)
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            drop_database(admin, name)
    finally:
        admin.dispose()


@contextmanager
def given_or_scratch(db: str | None, prefix: str) -> Iterator[str]:
    """``db`` itself when given (left as it is), else a scratch database on the local cluster
    that ``scripts/start-postgres`` makes sure of: the benchmarks' ``--db`` option."""
    if db:
        yield db
        return
    import subprocess
    from pathlib import Path

    start = Path(__file__).resolve().parents[1] / "scripts" / "start-postgres"
    proc = subprocess.run([str(start)], capture_output=True, text=True, check=True, timeout=120)
    with scratch_database(proc.stdout.strip().splitlines()[-1], prefix) as url:
        yield url
