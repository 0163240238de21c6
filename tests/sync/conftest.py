"""Fixtures for the district tests: a private PostgreSQL cluster with a TCP proxy in front of it
(the centres connect through the proxy, so a test can cut them off), a fresh district database
per test, two centres with their own SQLite databases and keys, and the office's keys.

Skips only when PostgreSQL or its driver is not installed at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from proctoring.crypto import KeyStore
from proctoring.district import Office, add_centre, init_district, open_office
from proctoring.store import Store
from tests.proctoring.helpers import isolate_home, photo

from .builders import CENTRES, open_centre
from .desk_logins import Centre
from .pgcluster import PrivateCluster, private_cluster
from .tcpproxy import TcpProxy

OFFICE_ROLE = "office_sgd"
OFFICE_PASSWORD = "office-pass-1"
DISTRICT_CODE = "SGD-HN"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate_home(tmp_path, monkeypatch)


@pytest.fixture(scope="session")
def cluster() -> Iterator[PrivateCluster]:
    yield from private_cluster()


@pytest.fixture(scope="session")
def _proxy(cluster: PrivateCluster) -> Iterator[TcpProxy]:
    proxy = TcpProxy(cluster.port)
    yield proxy
    proxy.close()


@pytest.fixture
def proxy(_proxy: TcpProxy) -> Iterator[TcpProxy]:
    _proxy.hook = None
    yield _proxy
    _proxy.hook = None


@pytest.fixture(scope="session")
def office_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    """The education office's machine: its X25519 key and the signing key of its chain."""
    return KeyStore(tmp_path_factory.mktemp("office") / "keys", use_keyring=False)


@dataclass
class DistrictEnv:
    cluster: PrivateCluster
    proxy: TcpProxy
    database: str
    office_keys: KeyStore
    centre_urls: dict[str, str] = field(default_factory=dict)  # through the proxy
    centre_passwords: dict[str, str] = field(default_factory=dict)

    @property
    def admin_url(self) -> str:
        return self.cluster.url(self.database)

    @property
    def office_url(self) -> str:
        return self.cluster.url(self.database, OFFICE_ROLE, OFFICE_PASSWORD)

    def url_as(self, role: str, password: str, *, direct: bool = False) -> str:
        port = None if direct else self.proxy.port
        return self.cluster.url(self.database, role, password, port=port)

    def admin(self) -> sa.Engine:
        return sa.create_engine(self.admin_url, poolclass=NullPool)

    def office(self) -> Office:
        return open_office(self.office_url, keys=self.office_keys)

    def count(self, table: str, where: str = "true") -> int:
        engine = self.admin()
        try:
            with engine.connect() as conn:
                return int(conn.exec_driver_sql(
                    f"SELECT count(*) FROM {table} WHERE {where}").scalar_one())
        finally:
            engine.dispose()


@pytest.fixture
def district(cluster: PrivateCluster, proxy: TcpProxy,
             office_keys: KeyStore) -> Iterator[DistrictEnv]:
    """A new district database: initialised, with accounts for the centres in CENTRES."""
    with cluster.scratch_database("district_") as name:
        env = DistrictEnv(cluster, proxy, name, office_keys)
        try:
            init_district(env.admin_url, code=DISTRICT_CODE, name="Sở GD&ĐT Hà Nội",
                          keys=office_keys, actor="test:office", office_role=OFFICE_ROLE,
                          office_password=OFFICE_PASSWORD)
            for code in CENTRES:
                creds = add_centre(env.admin_url, code, password=f"pw-{code.lower()}")
                env.centre_urls[code] = env.url_as(creds.role, creds.password)
                env.centre_passwords[code] = creds.password
            yield env
        finally:
            proxy.hook = None


@pytest.fixture
def centre(cluster: PrivateCluster, tmp_path: Path) -> Iterator[Centre]:
    """A centre database whose desks a and b each log in as their own PostgreSQL role."""
    with cluster.scratch_database("centre_") as name:
        c = Centre(cluster, name, tmp_path)
        try:
            yield c
        finally:
            for s in c.open.values():
                s.close()


@pytest.fixture
def centres(tmp_path: Path) -> Iterator[dict[str, Store]]:
    """Each centre's own SQLite database and key store (so each has its own data key)."""
    stores = {code: open_centre(tmp_path / code, code, name) for code, name in CENTRES.items()}
    try:
        yield stores
    finally:
        for store in stores.values():
            store.close()


@pytest.fixture(scope="session")
def real_faces() -> dict[str, np.ndarray]:
    """dlib descriptors of real photos (never synthetic faces): four photos of one man, who
    plays the hired proxy, and other people. About 0.2 s per photo, once per session."""
    from biometrics.engine import FaceEngine
    from biometrics.faces import largest_face
    from biometrics.images import decode

    engine = FaceEngine()
    out = {}
    for name in ("obama/obama.jpg", "obama/obama2.jpg", "obama/obama3.jpg", "biden/biden.jpg",
                 "biden/biden2.jpg", "person01/img26.jpg", "person02/img1.jpg"):
        image = decode(photo(name))
        out[name] = engine.encode(image, largest_face(engine, image)).plain
    return out
