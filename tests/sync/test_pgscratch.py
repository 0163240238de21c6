"""The scratch databases the tests and benchmarks make (tests/pgscratch.py) are dropped even when
a backend our role may not terminate is still on them for a moment — the autovacuum worker that
broke CI once ("must be a member of the role whose process is being terminated"). A second login
stands in for the worker: it holds a connection, then lets go."""

from __future__ import annotations

import secrets
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from tests.pgscratch import create_database, drop_database

from .pgcluster import PrivateCluster


def test_a_drop_waits_out_a_backend_it_may_not_terminate(cluster: PrivateCluster) -> None:
    suffix = secrets.token_hex(3)
    owner, other = f"scratch_owner_{suffix}", f"scratch_other_{suffix}"
    root = sa.create_engine(cluster.url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with root.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {owner} LOGIN CREATEDB PASSWORD 'pw-owner'")
        conn.exec_driver_sql(f"CREATE ROLE {other} LOGIN PASSWORD 'pw-other'")
    admin = sa.create_engine(cluster.url(user=owner, password="pw-owner"),
                             isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = create_database(admin, "scratch_")
    stranger = sa.create_engine(cluster.url(name, other, "pw-other"), poolclass=NullPool)
    held = stranger.connect()
    try:
        # Without waiting, the drop is refused as in the CI run.
        with pytest.raises(sa.exc.ProgrammingError, match="must be a member of the role"):
            drop_database(admin, name, attempts=1)
        letting_go = threading.Timer(1.0, held.close)
        letting_go.start()
        drop_database(admin, name, pause_s=0.2)
        letting_go.join()
        with root.connect() as conn:
            assert conn.exec_driver_sql(
                "SELECT count(*) FROM pg_database WHERE datname = %s", (name,)).scalar() == 0
    finally:
        held.close()
        stranger.dispose()
        admin.dispose()
        with root.connect() as conn:
            drop_database(root, name)
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {owner}")
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {other}")
        root.dispose()


def test_a_drop_does_not_retry_other_errors(cluster: PrivateCluster) -> None:
    """Only the refusal to terminate is waited out: a name that is not a database's is dropped
    at once (IF EXISTS), and a role that may not drop gets its error on the first try."""
    suffix = secrets.token_hex(3)
    weak = f"scratch_weak_{suffix}"
    root = sa.create_engine(cluster.url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with root.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {weak} LOGIN PASSWORD 'pw-weak'")
    name = create_database(root, "scratch_")
    weak_engine = sa.create_engine(cluster.url(user=weak, password="pw-weak"),
                                   isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        drop_database(root, f"{name}_never_made")
        with pytest.raises(sa.exc.ProgrammingError, match="must be owner"):
            drop_database(weak_engine, name, pause_s=30)  # a retry would take minutes
    finally:
        weak_engine.dispose()
        drop_database(root, name)
        with root.connect() as conn:
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {weak}")
        root.dispose()
