"""A centre database on the private cluster where each desk logs in as its own PostgreSQL role
(issue 17), for the tests of :mod:`proctoring.desk_roles` (the ``centre`` fixture of
tests/sync/conftest.py)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from proctoring.centres import ensure_centre
from proctoring.crypto import KeyStore
from proctoring.models import ExamSession, RosterEntry
from proctoring.stations import approve, enrol
from proctoring.store import Store

from .builders import ACTOR, CENTRES, person, session_with_roster
from .pgcluster import PrivateCluster


@dataclass(frozen=True)
class TwoDesks:
    """Desk a ("Phòng lý thuyết") and desk b ("Sân 1") of HN01, each enrolled under its own
    login, b approved by a; session S1 with its roster."""

    a: Store
    b: Store
    centre_id: uuid.UUID
    session: ExamSession
    entries: list[RosterEntry]


class Centre:
    def __init__(self, cluster: PrivateCluster, database: str, root: Path) -> None:
        from proctoring.desk_roles import add_desk_login, apply_desk_roles

        self.cluster, self.database, self.root = cluster, database, root
        self.admin_url = cluster.url(database)
        Store.open(self.admin_url, keys=self.keys("admin")).close()  # the owner migrates
        apply_desk_roles(self.admin_url)
        suffix = secrets.token_hex(3)  # login roles are the cluster's, not the database's
        self.logins = {d: add_desk_login(self.admin_url, f"desk_{d}_{suffix}",
                                         password=f"pw-{d}-{suffix}") for d in ("a", "b")}
        self.open: dict[str, Store] = {}

    def keys(self, name: str) -> KeyStore:
        return KeyStore(self.root / f"desk-{name}" / "keys", use_keyring=False)

    def login_url(self, name: str, *, database: str | None = None,
                  password: str | None = None) -> str:
        """Desk ``name``'s address: its own login (``password`` to try another one), on this
        centre's database or on ``database`` of the same cluster."""
        login = self.logins[name]
        return self.cluster.url(database or self.database, login.role,
                                login.password if password is None else password)

    def desk(self, name: str) -> Store:
        if name not in self.open:
            self.open[name] = Store.open(self.login_url(name), keys=self.keys(name))
        return self.open[name]

    def raw(self, name: str) -> sa.Engine:
        return sa.create_engine(self.login_url(name), poolclass=NullPool)

    def two_desks(self, people: int) -> TwoDesks:
        """The scene most desk-login tests start from, with ``people`` candidates on S1."""
        a = self.desk("a")
        centre_id = ensure_centre(a, "HN01", CENTRES["HN01"], actor=ACTOR).id
        session, entries = session_with_roster(a, "S1", [person(i) for i in range(people)])
        enrol(a, centre_id=centre_id, name="Phòng lý thuyết", stages="theory", actor=ACTOR)
        b = self.desk("b")
        enrol(b, centre_id=centre_id, name="Sân 1", stages="yard", actor=ACTOR)
        approve(a, centre_id=centre_id, ref="Sân 1", actor=ACTOR)
        return TwoDesks(a, b, centre_id, session, entries)

    def enrol_under_owner(self, keys: str) -> tuple[uuid.UUID, uuid.UUID]:
        """HN01 and its one station "Cửa 1", enrolled under the owner's login (as before desks
        had logins of their own) with desk ``keys``'s key folder: (centre id, station id)."""
        owner = Store.open(self.admin_url, keys=self.keys(keys))
        try:
            centre_id = ensure_centre(owner, "HN01", CENTRES["HN01"], actor=ACTOR).id
            enrol(owner, centre_id=centre_id, name="Cửa 1", stages="", actor=ACTOR)
            with owner.read() as tx:
                station = tx.connection().execute(sa.text("SELECT id FROM station")).scalar_one()
        finally:
            owner.close()
        return centre_id, station
