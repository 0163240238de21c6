"""Migration 0002 (district sync) on the databases that exist: a centre's SQLite database made
by the 0001 release and full of check-ins, a district PostgreSQL database at 0001, and back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool
from sqlmodel import select

from proctoring import audit
from proctoring.centres import ensure_centre
from proctoring.crypto import KeyStore
from proctoring.district import add_centre, init_district
from proctoring.models import AuditEvent, CheckIn, Role, User
from proctoring.store import HEAD_REVISION, Store, create_engine, database_url
from proctoring.sync import local_centre, sync_once
from tests.migrations import migrate, revision_and_drift

from .builders import ACTOR, CENTRES, admit, person, session_with_roster, unit
from .conftest import DISTRICT_CODE, DistrictEnv
from .pgcluster import PrivateCluster


def _store_at_0001(url: str, keys: KeyStore) -> Store:
    """A database exactly as the 0001 release left it; the 0001 tables are all the check-in
    code below writes, so today's code fills it like the old release did."""
    engine = create_engine(database_url(url))
    migrate(engine, "0001")
    return _as_old_release(Store(engine, keys))


def _as_old_release(store: Store) -> Store:
    """Before 0003 the data key was taken from the key store without a record (there was no
    table for one). The old release's log: v1 event hashes, a checkpoint every 100th event
    only — none in these short chains (signing would record the key, and 0001/0002 have no
    table for that)."""
    store.data_key_in = lambda tx: store.keys.data_key()  # type: ignore[method-assign]
    store.audit = audit.AuditLog(store.keys, legacy=True, checkpoint_every=0)
    return store


def test_a_centre_database_from_0001_upgrades_keeps_its_data_and_syncs(
        district: DistrictEnv, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    keys = KeyStore(tmp_path / "keys", use_keyring=False)
    old = _store_at_0001(url, keys)
    try:
        ensure_centre(old, "HN01", CENTRES["HN01"], actor=ACTOR)
        session, entries = session_with_roster(old, "S1", [person(1), person(2)])
        for i, entry in enumerate(entries):
            admit(old, session, entry, person(i + 1)[0], unit(i))
        with old.read() as tx:
            events = len(tx.exec(select(AuditEvent)).all())
        assert revision_and_drift(old.engine)[0] == "0001"
    finally:
        old.close()

    store = Store.open(url, keys=keys)  # what the new release does on start
    try:
        revision, drift = revision_and_drift(store.engine)
        assert (revision, drift) == (HEAD_REVISION, [])
        with store.read() as tx:
            assert len(tx.exec(select(CheckIn)).all()) == 2
            assert len(tx.exec(select(AuditEvent)).all()) == events
            report = audit.verify(tx, keys)
        # The old events are a verified legacy prefix: opening the upgraded database signed
        # its unsigned tail (the old release signed every 100th event only).
        assert report.ok, report.to_dict()
        assert report.chains[0].legacy_events == events
        # Usernames are unique per centre now (the district holds every centre's "gv01").
        centre = local_centre(store).id
        with store.write() as tx:
            tx.add(User(centre_id=centre, username="gv01", full_name="A",
                        role=Role.INVIGILATOR))
        with pytest.raises(IntegrityError), store.write() as tx:
            tx.add(User(centre_id=centre, username="gv01", full_name="B",
                        role=Role.INVIGILATOR))
        # Everything recorded before the upgrade reaches the district.
        first = sync_once(store, district.centre_urls["HN01"])
        assert first.ok and first.pushed_events == events and first.rows["checkin"] == 2
        assert district.count("checkin", f"centre_id = '{centre}'") == 2
    finally:
        store.close()


def test_0002_downgrades_and_upgrades_again_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine(database_url(f"sqlite:///{tmp_path / 'x.db'}"))
    try:
        migrate(engine, "head")
        migrate(engine, "0001", down=True)
        revision, _ = revision_and_drift(engine)
        assert revision == "0001"
        assert "sync_state" not in sa.inspect(engine).get_table_names()
        migrate(engine, "head")
        assert revision_and_drift(engine) == (HEAD_REVISION, [])
    finally:
        engine.dispose()


@pytest.fixture
def blank_pg(cluster: PrivateCluster) -> Iterator[str]:
    with cluster.scratch_database("mig_") as name:
        yield cluster.url(name)


def test_a_postgres_database_at_0001_becomes_a_district(blank_pg: str,
                                                        office_keys: KeyStore) -> None:
    """A district that ran the 0001 release as a shared store: init_district upgrades it, and
    the result is the same schema, with row-level security, as a fresh district's."""
    old = _store_at_0001(blank_pg, office_keys)
    try:
        ensure_centre(old, "HN01", CENTRES["HN01"], actor=ACTOR)
    finally:
        old.close()
    init_district(blank_pg, code=DISTRICT_CODE, name="Sở", keys=office_keys, actor="t:office")
    creds = add_centre(blank_pg, "HP02", password="pw-mig")
    engine = sa.create_engine(blank_pg, poolclass=NullPool)
    try:
        assert revision_and_drift(engine) == (HEAD_REVISION, [])
        with engine.connect() as conn:
            unsecured = conn.execute(sa.text(
                "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname <> "
                "'alembic_version' AND relnamespace = 'public'::regnamespace AND NOT "
                "relrowsecurity")).scalars().all()
            assert unsecured == []
            assert conn.execute(sa.text("SELECT count(*) FROM centre")).scalar_one() == 2
        centre = sa.create_engine(creds.url, poolclass=NullPool)
        with centre.connect() as conn:  # the old row is not the new centre's to see
            assert conn.execute(sa.text("SELECT count(*) FROM centre")).scalar_one() == 0
        centre.dispose()
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_centre_database_at_0002_upgrades_and_records_the_keys_it_already_uses(
        tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    """0003 adds key records. A database sealed and signed before has none: the keys this
    machine holds are recorded the first time they are used, and from then on no other key
    takes their place."""
    from proctoring.crypto import DATA_KEY_NAME, signing_fingerprint
    from proctoring.errors import KeyMissing
    from proctoring.evidence import read_evidence
    from proctoring.models import KeyPurpose, KeyRecord

    url = (f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite"
           else request.getfixturevalue("blank_pg"))
    keys = KeyStore(tmp_path / "keys", use_keyring=False)
    engine = create_engine(database_url(url))
    migrate(engine, "0002")
    old = _as_old_release(Store(engine, keys))
    try:
        centre = ensure_centre(old, "HN01", CENTRES["HN01"], actor=ACTOR)
        signer = keys.signing_key(centre.id)  # as the old release made it
        session, entries = session_with_roster(old, "S1", [person(1)])
        done = admit(old, session, entries[0], person(1)[0], unit(1))
        assert revision_and_drift(old.engine)[0] == "0002"
    finally:
        old.close()
    sealed_with = keys.data_key()

    store = Store.open(url, keys=keys, checkpoint_every=1)  # what the new release does
    try:
        assert revision_and_drift(store.engine) == (HEAD_REVISION, [])
        assert read_evidence(store, done.evidence_ids[0])  # the old key, now recorded
        with store.read() as tx:
            assert audit.verify(tx, keys).ok
        session2, entries2 = session_with_roster(store, "S2", [person(2)])
        admit(store, session2, entries2[0], person(2)[0], unit(2))  # signs a checkpoint
        with store.read() as tx:
            rows = {r.purpose: r for r in tx.exec(select(KeyRecord)).all()}
            assert audit.verify(tx, keys).ok
        assert set(rows) == {KeyPurpose.DATA, KeyPurpose.SIGNING}
        assert rows[KeyPurpose.DATA].fingerprint == sealed_with.fingerprint
        assert rows[KeyPurpose.SIGNING].fingerprint == signing_fingerprint(signer)
    finally:
        store.close()
    (tmp_path / "keys" / f"{DATA_KEY_NAME}.key").unlink()
    with Store.open(url, keys=keys) as again, pytest.raises(KeyMissing):
        read_evidence(again, done.evidence_ids[0])


def test_0003_downgrades_and_upgrades_again_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine(database_url(f"sqlite:///{tmp_path / 'x.db'}"))
    try:
        migrate(engine, "head")
        migrate(engine, "0002", down=True)
        assert revision_and_drift(engine)[0] == "0002"
        assert "key_record" not in sa.inspect(engine).get_table_names()
        migrate(engine, "head")
        assert revision_and_drift(engine) == (HEAD_REVISION, [])
    finally:
        engine.dispose()


def test_a_postgres_district_at_0002_upgrades_to_key_records(blank_pg: str,
                                                            office_keys: KeyStore) -> None:
    """A district set up by the 0002 release: init_district upgrades it; the new table has
    row-level security like every other (centres cannot read it, the office records its own
    keys there)."""
    engine = create_engine(database_url(blank_pg))
    migrate(engine, "0002")
    engine.dispose()
    init_district(blank_pg, code=DISTRICT_CODE, name="Sở", keys=office_keys, actor="t:office")
    creds = add_centre(blank_pg, "HP02", password="pw-mig3")
    admin = sa.create_engine(blank_pg, poolclass=NullPool)
    try:
        assert revision_and_drift(admin) == (HEAD_REVISION, [])
        with admin.connect() as conn:
            assert conn.execute(sa.text("SELECT relrowsecurity FROM pg_class WHERE relname = "
                                        "'key_record'")).scalar_one()
        centre = sa.create_engine(creds.url, poolclass=NullPool)
        with pytest.raises(sa.exc.DBAPIError), centre.connect() as conn:
            conn.execute(sa.text("SELECT * FROM key_record"))
        centre.dispose()
    finally:
        admin.dispose()
