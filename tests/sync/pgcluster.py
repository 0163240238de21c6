"""A private PostgreSQL cluster for the sync tests, which stop and restart it.

The shared cluster (``scripts/start-postgres``) serves every other test and must never be
stopped, and our tests also create login roles (cluster-wide objects). So the sync tests
``initdb`` their own cluster into a temporary folder, on a free port, with password
(SCRAM) authentication over TCP so a centre's credentials are really checked. ``initdb``
refuses to run as root: as root the cluster belongs to the ``postgres`` OS user (``runuser``).

``fsync=off`` keeps it fast. It does not weaken the outage tests: they kill the *server*
(``pg_ctl stop -m immediate``, which is a crash for PostgreSQL: no shutdown checkpoint, WAL
replay on restart), and the operating system keeps every write the server made; fsync only
matters when the machine itself loses power. ``synchronous_commit`` stays on: a commit is
acknowledged only once its WAL is written.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from tests.pgscratch import create_database, drop_database

SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "super-secret-test"


def find_bindir() -> Path | None:
    """``EXAMDESK_PG_BINDIR``, else the newest /usr/lib/postgresql/*/bin with initdb."""
    given = os.environ.get("EXAMDESK_PG_BINDIR")
    if given:
        return Path(given) if (Path(given) / "initdb").exists() else None
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    if found:
        return found[-1].parent
    which = shutil.which("initdb")
    return Path(which).parent if which else None


def private_cluster() -> Iterator[PrivateCluster]:
    """The body of a fixture: a fresh private cluster, destroyed after its tests (skipped
    where PostgreSQL is not installed, failed where it cannot start)."""
    import pytest

    pytest.importorskip("psycopg", reason="the PostgreSQL driver is not installed "
                        "(pip install -e '.[dev,postgres]'; make setup does it)")
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (make setup installs the postgresql package)")
    try:
        made = PrivateCluster.create(bindir)
    except RuntimeError as exc:
        pytest.fail(f"cannot start a private PostgreSQL cluster: {exc}")
    try:
        yield made
    finally:
        made.destroy()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PrivateCluster:
    bindir: Path
    folder: Path
    port: int
    run_as: str | None  # OS user running the server (None: ourselves)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres", user: str = SUPERUSER,
            password: str = SUPERUSER_PASSWORD, port: int | None = None) -> str:
        return (f"postgresql+psycopg://{user}:{password}@127.0.0.1:{port or self.port}/"
                f"{database}?sslmode=disable")

    @contextlib.contextmanager
    def scratch_database(self, prefix: str) -> Iterator[str]:
        """A new empty database named ``prefix`` + random hex, dropped (even while in use)
        at the end."""
        # No pool: a test may restart the server, which kills pooled connections.
        admin = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            name = create_database(admin, prefix)
            try:
                yield name
            finally:
                drop_database(admin, name)
        finally:
            admin.dispose()

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=False)

    @classmethod
    def create(cls, bindir: Path) -> PrivateCluster:
        run_as = None
        if os.getuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError as exc:
                raise RuntimeError("running as root without a postgres OS user") from exc
            run_as = "postgres"
        folder = Path(tempfile.mkdtemp(prefix="examdesk-pg-"))
        cluster = cls(bindir, folder, free_port(), run_as)
        pwfile = folder / "pw"
        pwfile.write_text(SUPERUSER_PASSWORD + "\n")
        if run_as:
            entry = pwd.getpwnam(run_as)
            for path in (folder, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        done = cluster._run("initdb", "-D", str(cluster.data), "-U", SUPERUSER, "-E", "UTF8",
                            "--locale=C.UTF-8", "--auth-local=trust",
                            "--auth-host=scram-sha-256", f"--pwfile={pwfile}", "-N")
        if done.returncode != 0:
            shutil.rmtree(folder, ignore_errors=True)
            raise RuntimeError(f"initdb failed: {done.stderr.strip()}")
        cluster.start()
        return cluster

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                   "-c unix_socket_directories='' -c fsync=off -c full_page_writes=off "
                   "-c max_connections=60")
        done = self._run("pg_ctl", "-D", str(self.data), "-o", options,
                         "-l", str(self.folder / "server.log"), "-w", "-t", "30", "start")
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.strip()} "
                               f"{self.log_tail()}")
        self.wait_ready()

    def stop(self, mode: str = "fast") -> None:
        """``immediate``: the server processes exit at once, like a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def running(self) -> bool:
        return self._run("pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)
                         ).returncode == 0

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._run("pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)
                         ).returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"the private cluster is not ready: {self.log_tail()}")

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.folder / "server.log").read_text()[-8000:]
        return ""

    def destroy(self) -> None:
        self.stop("immediate")
        if self.folder.name.startswith("examdesk-pg-"):  # only ever the folder mkdtemp made
            shutil.rmtree(self.folder, ignore_errors=True)
