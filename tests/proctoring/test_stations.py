"""Stations (issue 17): several desks, each with its own key store, on one centre database —
enrolment, the data key sealed to each station, revocation and data-key rotation, and one audit
chain per station. Every test runs on SQLite and on PostgreSQL; each desk is its own Store with
its own key folder, as two machines would be."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlmodel import SQLModel

from examdesk.i18n import Catalog
from proctoring import audit
from proctoring.centres import ensure_centre
from proctoring.crypto import DATA_KEY_NAME, KeyStore, associated_data
from proctoring.evidence import read_evidence
from proctoring.keywrap import SUITE
from proctoring.models import SessionKind, Stage
from proctoring.sessions import create_session
from proctoring.station_errors import (
    StationKeysExist,
    StationPending,
    StationRevoked,
    StationSelf,
    StationStageUnknown,
)
from proctoring.stations import (
    approve,
    box_key_name,
    enrol,
    list_stations,
    local_identity,
    parse_stages,
    revoke,
    rotate_data_key,
    signing_key_name,
)
from proctoring.store import Store
from tests.desks import Desks
from tests.migrations import migrate, revision_and_drift

from .helpers import ACTOR, add_roster, centre_and_session, checkin

DESKS = ("a", "b", "c", "d")
WHEN = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)


@pytest.fixture
def desks(db_url: str, tmp_path: Path) -> Iterator[Desks]:
    with Desks(db_url, tmp_path) as d:
        yield d


def _centre(store: Store) -> uuid.UUID:
    return ensure_centre(store, "HN01", "Trung tâm Hà Nội", actor=ACTOR).id


def _two_stations(desks: Desks) -> tuple[uuid.UUID, object]:
    """Desk a (the centre's first desk, it holds the data key) and desk b (a new machine),
    both enrolled and active; a session with a roster and one check-in by desk a."""
    a = desks("a")
    session = centre_and_session(a)
    entries = add_roster(a, session)
    centre_id = session.centre_id
    first = enrol(a, centre_id=centre_id, name="Phòng lý thuyết", stages="theory", actor=ACTOR)
    assert first.status == "ACTIVE" and first.sealed_keys == 1
    second = enrol(desks("b"), centre_id=centre_id, name="Sân 1", stages="theory,track",
                   actor=ACTOR)
    assert second.status == "PENDING" and second.stages == ("theory", "yard")
    approve(a, centre_id=centre_id, ref="Sân 1", actor=ACTOR)
    return centre_id, (session, entries)


def test_stages_are_the_test_stages_with_the_ground_names() -> None:
    assert parse_stages("track, Theory ,theory") == (Stage.THEORY, Stage.YARD)
    assert parse_stages("") == ()
    with pytest.raises(StationStageUnknown) as caught:
        parse_stages("theory,parking")
    assert "parking" in Catalog.load().both(caught.value.key, **caught.value.context)


def test_enrol_makes_keys_in_the_desk_store_and_never_replaces_them(desks: Desks) -> None:
    a = desks("a")
    centre_id = _centre(a)
    enrol(a, centre_id=centre_id, name="Sân 1", stages="yard", actor=ACTOR)
    keys = desks.keys("a")
    before = (keys.find_raw(signing_key_name(centre_id)), keys.find_raw(box_key_name(centre_id)))
    assert all(k is not None and len(k) == 32 for k in before)
    with pytest.raises(StationKeysExist) as caught:
        enrol(a, centre_id=centre_id, name="Sân 2", stages="yard", actor=ACTOR)
    text = Catalog.load().both(caught.value.key, **caught.value.context)
    assert "không bao giờ thay khoá" in text and "never replaces" in text
    after = (keys.find_raw(signing_key_name(centre_id)), keys.find_raw(box_key_name(centre_id)))
    assert after == before
    # The database holds the public halves only.
    with a.read() as tx:
        raw = tx.connection().execute(sa.text("SELECT * FROM station")).mappings().all()
    text_rows = repr(raw)
    assert before[0].hex() not in text_rows and before[1].hex() not in text_rows
    listed = list_stations(a, centre_id)
    assert [(s.name, s.stages, s.status, s.this_desk) for s in listed] == [
        ("Sân 1", ("yard",), "ACTIVE", True)]


def test_a_new_desk_reads_the_evidence_once_approved_without_key_files(desks: Desks) -> None:
    a = desks("a")
    session = centre_and_session(a)
    entries = add_roster(a, session)
    before = checkin(a, session, entries[0], "001093014275")  # single-desk time
    enrol(a, centre_id=session.centre_id, name="Phòng lý thuyết", stages="theory",
          actor=ACTOR)
    b = desks("b")
    enrol(b, centre_id=session.centre_id, name="Sân 1", stages="yard", actor=ACTOR)
    assert desks.keys("b").find_raw(DATA_KEY_NAME) is None  # no key file was copied
    with pytest.raises(StationPending):
        read_evidence(b, before.evidence_ids[0])
    with pytest.raises(StationPending):  # nor may it write before approval
        create_session(b, centre_id=session.centre_id, kind=session.kind, title="x",
                       starts_at=session.starts_at, code="S2", actor=ACTOR)
    approve(a, centre_id=session.centre_id, ref="Sân 1", actor=ACTOR)
    b.forget_keys()
    assert read_evidence(b, before.evidence_ids[0]) == read_evidence(a, before.evidence_ids[0])
    # B writes evidence that A opens: one key, two desks.
    later = checkin(b, session, entries[1], "001190012345")
    assert read_evidence(a, later.evidence_ids[0]) == read_evidence(b, later.evidence_ids[0])
    assert desks.keys("b").find_raw(DATA_KEY_NAME) is None


def test_a_revoked_station_is_refused_and_locked_out_of_later_evidence(desks: Desks) -> None:
    centre_id, (session, entries) = _two_stations(desks)
    a, b = desks("a"), desks("b")
    old = checkin(b, session, entries[0], "001093014275")
    # What the thief can carry away: B's keys, and every data key sealed to B up to now.
    b_keys = local_identity(desks.keys("b"), centre_id)
    assert b_keys is not None
    with b.read() as tx:
        b_station = tx.connection().execute(sa.text(
            "SELECT id FROM station WHERE name = 'Sân 1'")).scalar()
        sealed_to_b = tx.connection().execute(sa.text(
            "SELECT key_id, sealed FROM station_data_key WHERE station_id = :s"),
            {"s": b_station}).all()
    stolen = {}
    for key_id, sealed in sealed_to_b:
        info = (b"examdesk/station-key-wrap/v1\x00" + centre_id.bytes
                + uuid.UUID(str(b_station)).bytes + key_id.encode())
        stolen[key_id] = SUITE.decrypt(bytes(sealed), b_keys.box, info=info)
    assert stolen

    with pytest.raises(StationSelf):
        revoke(b, centre_id=centre_id, ref="Sân 1", actor=ACTOR, reason="tự thu hồi")
    revoke(a, centre_id=centre_id, ref="Sân 1", actor=ACTOR, reason="máy bị mất cắp")
    with pytest.raises(StationRevoked) as caught:  # its next write, through the real service
        checkin(b, session, entries[1], "001190012345")
    text = Catalog.load().both(caught.value.key, **caught.value.context)
    assert "Sân 1 đã bị thu hồi" in text and "Station Sân 1 was revoked" in text
    with b.read() as tx:  # its sealed copies are gone from the database
        assert tx.connection().execute(sa.text(
            "SELECT count(*) FROM station_data_key WHERE station_id = :s"),
            {"s": b_station}).scalar() == 0

    rotation = rotate_data_key(a, centre_id=centre_id, actor=ACTOR, reason="máy bị mất cắp")
    assert rotation.stations == ("Phòng lý thuyết",)
    new = checkin(a, session, entries[1], "001190012345")
    with a.read() as tx:
        ev, blob = (SQLModel.metadata.tables[t] for t in ("evidence", "evidence_blob"))
        row = tx.connection().execute(
            sa.select(ev.c.id, ev.c.kind, blob.c.key_id, blob.c.nonce, blob.c.ciphertext)
            .join(blob, blob.c.id == ev.c.id).where(ev.c.id == new.evidence_ids[0])).one()
        sealed_rows = tx.connection().execute(sa.text(
            "SELECT station_id, key_id, sealed FROM station_data_key")).all()
    assert row.key_id == rotation.new_key_id and row.key_id not in stolen
    evidence_id = row.id
    ad = associated_data(evidence_id, str(row.kind))
    for raw in stolen.values():  # every data key B ever held
        with pytest.raises(InvalidTag):
            AESGCM(raw).decrypt(bytes(row.nonce), bytes(row.ciphertext), ad)
    for station_id, key_id, sealed in sealed_rows:  # every sealed copy, opened with B's key
        info = (b"examdesk/station-key-wrap/v1\x00" + centre_id.bytes
                + uuid.UUID(str(station_id)).bytes + key_id.encode())
        for as_b in (info, info.replace(uuid.UUID(str(station_id)).bytes,
                                        uuid.UUID(str(b_station)).bytes)):
            with pytest.raises((InvalidTag, ValueError)):
                SUITE.decrypt(bytes(sealed), b_keys.box, info=as_b)
    # The current station reads old and new evidence; a desk approved later reads both too.
    a.forget_keys()
    assert read_evidence(a, old.evidence_ids[0]) and read_evidence(a, new.evidence_ids[0])
    c = desks("c")
    enrol(c, centre_id=centre_id, name="Sân 2", stages="yard", actor=ACTOR)
    approve(a, centre_id=centre_id, ref="Sân 2", actor=ACTOR)
    assert read_evidence(c, old.evidence_ids[0]) == read_evidence(a, old.evidence_ids[0])
    assert read_evidence(c, new.evidence_ids[0]) == read_evidence(a, new.evidence_ids[0])
    with a.read() as tx:
        assert audit.verify(tx, a.keys).ok


def test_each_station_signs_its_own_chain_under_concurrent_writers(desks: Desks) -> None:
    a = desks("a")
    centre_id = _centre(a)
    enrol(a, centre_id=centre_id, name="Cửa 1", stages="", actor=ACTOR)
    for name in DESKS[1:]:
        enrol(desks(name), centre_id=centre_id, name=f"Cửa {name}", stages="", actor=ACTOR)
        approve(a, centre_id=centre_id, ref=f"Cửa {name}", actor=ACTOR)
    per_desk = 12
    failures: list[BaseException] = []
    start = threading.Barrier(len(DESKS))

    def work(name: str) -> None:
        store = desks.open[name]
        try:
            start.wait()
            for i in range(per_desk):
                create_session(store, centre_id=centre_id, kind=SessionKind.ONLINE_EXAM,
                               title=f"{name}{i}", starts_at=WHEN, code=f"{name}-{i}",
                               actor=ACTOR)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in DESKS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    with a.read() as tx:
        report = audit.verify(tx, a.keys)
        counts = dict(tx.connection().execute(sa.text(
            "SELECT s.name, count(*) FROM station_audit_event e JOIN station s "
            "ON s.id = e.station_id WHERE e.action = 'session.created' GROUP BY s.name")).all())
    assert report.ok, [c.to_dict() for c in report.chains if not c.ok]
    stations = {c.station_name: c for c in report.chains if c.station_id is not None}
    assert set(stations) == {"Cửa 1", "Cửa b", "Cửa c", "Cửa d"}
    assert counts == dict.fromkeys(stations, per_desk)
    # Desk a trusts the others' keys only through its own signed approvals.
    assert stations["Cửa b"].key_source == "approved"
    assert stations["Cửa 1"].key_source == "approved+station"


def test_a_broken_station_chain_is_named_and_the_others_stay_intact(desks: Desks) -> None:
    _, (session, entries) = _two_stations(desks)
    a, b = desks("a"), desks("b")
    checkin(b, session, entries[0], "001093014275")
    checkin(a, session, entries[1], "001190012345")
    checkin(b, session, entries[2], "079205000123")
    with b.write() as tx:  # the insider edits one of station b's events with raw SQL
        tx.connection().execute(sa.text(
            "UPDATE station_audit_event SET actor = 'someone else' WHERE seq = 2 AND "
            "station_id = (SELECT id FROM station WHERE name = 'Sân 1')"))
    with a.read() as tx:
        report = audit.verify(tx, a.keys)
    assert not report.ok
    bad = [c for c in report.chains if not c.ok]
    assert [(c.station_name, [p.kind for p in c.problems]) for c in bad] == [
        ("Sân 1", ["modified"])]
    assert bad[0].problems[0].seqs == (2,)


def test_the_single_desk_default_writes_the_centre_chain_as_before(store: Store) -> None:
    session = centre_and_session(store)
    entries = add_roster(store, session)
    checkin(store, session, entries[0], "001093014275")
    with store.read() as tx:
        report = audit.verify(tx, store.keys)
        stations = tx.connection().execute(sa.text(
            "SELECT count(*) FROM station_audit_event")).scalar()
    assert report.ok and stations == 0
    assert [c.station_id for c in report.chains] == [None]


def test_a_database_from_0005_upgrades_with_its_data_and_takes_stations(
        db_url: str, tmp_path: Path) -> None:
    from proctoring.store import HEAD_REVISION, create_engine, database_url

    keys = KeyStore(tmp_path / "desk-a" / "keys", use_keyring=False)
    engine = create_engine(database_url(db_url))
    with engine.connect() as conn:  # PostgreSQL's test database is at the head already
        at_head = sa.inspect(conn).has_table("station")
    migrate(engine, "0005", down=at_head)
    old = Store(engine, keys)  # the previous release's schema, filled by a single desk
    session = centre_and_session(old)
    entries = add_roster(old, session)
    before = checkin(old, session, entries[0], "001093014275")
    with old.read() as tx:
        counts = {t: tx.connection().execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
                  for t in ("checkin", "evidence_blob", "audit_event", "key_record")}
    old.close()

    store = Store.open(db_url, keys=keys)
    try:
        assert revision_and_drift(store.engine) == (HEAD_REVISION, [])
        with store.read() as tx:
            assert {t: tx.connection().execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
                    for t in counts} == counts
            assert audit.verify(tx, keys).ok
        assert read_evidence(store, before.evidence_ids[0])
        enrol(store, centre_id=session.centre_id, name="Phòng 1", stages="", actor=ACTOR)
        store.forget_keys()
        later = checkin(store, session, entries[1], "001190012345")
        assert read_evidence(store, later.evidence_ids[0])
        assert read_evidence(store, before.evidence_ids[0])
        with store.read() as tx:
            report = audit.verify(tx, keys)
        assert report.ok and [c.station_name for c in report.chains] == ["", "Phòng 1"]
    finally:
        store.close()


def test_0010_adds_the_station_login_and_sync_state_keeping_every_station_row(
        desks: Desks) -> None:
    """0010_sync17_station_sync (station.db_role, station_sync_state) down to 0009 and up
    again: stations, their chains and sealed keys stay, and every chain still verifies."""
    _, (session, entries) = _two_stations(desks)
    checkin(desks("b"), session, entries[0], "001093014275")
    tables = ("station", "station_data_key", "station_audit_event", "station_audit_head",
              "station_audit_checkpoint", "checkin", "evidence_blob")

    def counts() -> dict[str, int]:
        with desks("a").read() as tx:
            return {t: tx.connection().execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
                    for t in tables}

    before = counts()
    migrate(desks("a").engine, "0009_seat18_seats", down=True)
    with desks("a").engine.connect() as conn:
        assert "db_role" not in {c["name"] for c in sa.inspect(conn).get_columns("station")}
    migrate(desks("a").engine, "head")
    assert counts() == before
    with desks("a").read() as tx:
        assert tx.connection().execute(sa.text(
            "SELECT count(*) FROM station WHERE db_role IS NOT NULL")).scalar() == 0
        assert audit.verify(tx, desks("a").keys).ok
    checkin(desks("b"), session, entries[1], "001190012345")  # and the desks go on


def test_a_centre_with_stations_counts_their_events_as_waiting_for_the_district(
        desks: Desks) -> None:
    """The district sync now carries every station's chain (tests/sync/test_stations_sync.py):
    it no longer refuses a centre with stations, and the status counts their events too."""
    from proctoring.sync import sync_once, sync_status

    a = desks("a")
    centre_id = _centre(a)
    enrol(a, centre_id=centre_id, name="Cửa 1", stages="", actor=ACTOR)
    with a.read() as tx:
        centre_end = tx.connection().execute(sa.text("SELECT seq FROM audit_head")).scalar()
        station_end = tx.connection().execute(sa.text(
            "SELECT seq FROM station_audit_head")).scalar()
    assert station_end >= 1 and sync_status(a, centre_id).pending == centre_end + station_end
    result = sync_once(a, "postgresql://nobody@127.0.0.1:9/none", centre_id=centre_id)
    assert result.error is not None and result.error.key != "sync.stations_not_yet"
    assert result.pending == centre_end + station_end


def test_a_station_row_slipped_in_by_an_insider_gets_no_key_and_is_named(
        desks: Desks) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from proctoring.station_chain import append_station, start_station_chain
    from proctoring.station_models import Station, StationStatus

    centre_id, _ = _two_stations(desks)
    a = desks("a")
    signing, box = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
    with a.write() as tx:  # the insider's own station, ACTIVE, with a chain it signed itself
        fake = Station(centre_id=centre_id, name="Giả", signing_public=signing.public_key()
                       .public_bytes_raw().hex(), box_public=box.public_key()
                       .public_bytes_raw().hex(), status=StationStatus.ACTIVE,
                       enrolled_by="x", enrolled_at=WHEN)
        tx.add(fake)
        tx.flush()
        start_station_chain(tx, fake)
        append_station(tx, fake, signing, actor="x", action="station.approved",
                       subject_id=fake.id, at=WHEN,
                       payload={"signing_public": fake.signing_public})
    rotation = rotate_data_key(a, centre_id=centre_id, actor=ACTOR, reason="định kỳ")
    assert rotation.skipped == ("Giả",) and "Giả" not in rotation.stations
    with a.read() as tx:
        sealed = SQLModel.metadata.tables["station_data_key"]
        assert tx.connection().execute(sa.select(sa.func.count()).select_from(sealed)
                                       .where(sealed.c.station_id == fake.id)).scalar() == 0
        report = audit.verify(tx, a.keys)
    bad = [(c.station_name, [p.kind for p in c.problems]) for c in report.chains if not c.ok]
    assert bad == [("Giả", ["key_unknown"])]


def test_a_revoked_station_set_back_to_active_by_hand_is_reported(desks: Desks) -> None:
    centre_id, _ = _two_stations(desks)
    a, b = desks("a"), desks("b")
    revoke(a, centre_id=centre_id, ref="Sân 1", actor=ACTOR, reason="máy bị mất cắp")
    with a.write() as tx:
        tx.connection().execute(sa.text(
            "UPDATE station SET status = 'ACTIVE' WHERE name = 'Sân 1'"))
    create_session(b, centre_id=centre_id, kind=SessionKind.ONLINE_EXAM, title="x",
                   starts_at=WHEN, code="S9", actor=ACTOR)  # the thief writes again
    rotation = rotate_data_key(a, centre_id=centre_id, actor=ACTOR, reason="máy bị mất cắp")
    assert rotation.skipped == ("Sân 1",)
    with a.read() as tx:
        report = audit.verify(tx, a.keys)
    bad = {c.station_name: [p.kind for p in c.problems] for c in report.chains if not c.ok}
    assert bad == {"Sân 1": ["station_reinstated", "station_revoked_wrote"]}


def test_keys_rotate_refuses_the_data_key_of_a_centre_with_stations(desks: Desks) -> None:
    from proctoring.keyadmin import rotate_key
    from proctoring.models import KeyPurpose
    from proctoring.station_errors import StationsRotateData

    centre_id, (session, entries) = _two_stations(desks)
    a, b = desks("a"), desks("b")
    with pytest.raises(StationsRotateData) as caught:
        rotate_key(a, KeyPurpose.DATA, centre_id=centre_id, actor=ACTOR, reason="định kỳ")
    assert "station rotate-data-key" in Catalog.load().both(caught.value.key,
                                                             **caught.value.context)
    a.forget_keys()
    done = checkin(a, session, entries[0], "001093014275")  # every desk still works
    assert read_evidence(b, done.evidence_ids[0])


def test_another_desk_verifies_every_chain_once_given_the_centre_key(desks: Desks) -> None:
    from proctoring.audit_keys import anchor_key

    centre_id, _ = _two_stations(desks)
    a, b = desks("a"), desks("b")
    with b.read() as tx:
        alone = audit.verify(tx, b.keys)
    found = {c.station_name or "centre": (c.ok, c.key_source) for c in alone.chains}
    # Its own chain by its own key; nothing else is trusted from the database's word.
    assert found == {"centre": (False, "none"), "Phòng lý thuyết": (False, "none"),
                     "Sân 1": (True, "station")}
    centre_key = anchor_key(a.keys, centre_id)
    assert centre_key is not None
    with b.read() as tx:
        given = audit.verify(tx, b.keys, key_files=[centre_key])
    assert given.ok, [c.to_dict() for c in given.chains if not c.ok]
    assert {c.station_name: c.key_source for c in given.chains} == {
        "": "file", "Phòng lý thuyết": "approved", "Sân 1": "approved+station"}


def test_the_last_desk_holding_the_data_key_cannot_be_revoked(desks: Desks) -> None:
    from proctoring.station_errors import StationLastHolder

    centre_id, (session, entries) = _two_stations(desks)
    a = desks("a")
    revoke(a, centre_id=centre_id, ref="Sân 1", actor=ACTOR, reason="máy bị mất cắp")
    # A desk that is no station and holds no key: enrolled nowhere, it writes the centre's
    # chain with the centre key it was given (a copy of desk a's key folder without the data
    # key and the station keys stands for it).
    c_keys = desks.keys("c")
    for name in a.keys.folder.iterdir():
        if name.name.startswith("audit-"):
            c_keys.folder.mkdir(parents=True, exist_ok=True)
            (c_keys.folder / name.name).write_bytes(name.read_bytes())
            (c_keys.folder / name.name).chmod(0o600)
    c = desks("c")
    with pytest.raises(StationLastHolder) as caught:
        revoke(c, centre_id=centre_id, ref="Phòng lý thuyết", actor=ACTOR, reason="nhầm")
    assert "last desk" in Catalog.load().both(caught.value.key, **caught.value.context)
    a.forget_keys()
    assert read_evidence(a, checkin(a, session, entries[0], "001093014275").evidence_ids[0])


def test_an_approval_seals_only_to_the_keys_whose_fingerprint_the_admin_read(
        desks: Desks) -> None:
    """The station screen's approval (examdesk/services/stations.py): the admin types the
    fingerprint the new desk shows. An insider who swaps the row's keys for their own (raw SQL)
    after the desk enrolled gets nothing: the fingerprint is checked as the keys are sealed."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from examdesk.services.stations import approve_station, centre_stations
    from proctoring.station_errors import StationFingerprintMismatch

    a = desks("a")
    centre_id = _centre(a)
    enrol(a, centre_id=centre_id, name="Phòng lý thuyết", stages="theory", actor=ACTOR)
    new = enrol(desks("b"), centre_id=centre_id, name="Sân 1", stages="yard", actor=ACTOR)
    shown_on_new_desk = new.fingerprint
    insider = X25519PrivateKey.generate().public_key().public_bytes_raw().hex()
    table = SQLModel.metadata.tables["station"]
    with a.write() as tx:  # the insider's UPDATE, beside the application
        tx.connection().execute(sa.update(table).where(table.c.id == new.id)
                                .values(box_public=insider))
    with pytest.raises(StationFingerprintMismatch) as refused:
        approve_station(a, station_id=new.id, fingerprint_seen=shown_on_new_desk, actor=ACTOR)
    assert refused.value.context["seen"] == shown_on_new_desk
    for typed in ("", "0000-1111-2222-3333-4444"):
        with pytest.raises(StationFingerprintMismatch):
            approve_station(a, station_id=new.id, fingerprint_seen=typed, actor=ACTOR)
    (row,) = [s for s in centre_stations(a).stations if s.name == "Sân 1"]
    assert row.status == "PENDING" and row.sealed_keys == 0
    message = Catalog.load().text(refused.value.key, "vi", **refused.value.context)
    assert "KHÔNG được duyệt" in message and shown_on_new_desk in message

    # The genuine keys back: what the admin read, typed as people type it, approves.
    with a.write() as tx:
        tx.connection().execute(sa.update(table).where(table.c.id == new.id)
                                .values(box_public=new_box(desks, centre_id)))
    done = approve_station(a, station_id=new.id, actor=ACTOR,
                           fingerprint_seen=shown_on_new_desk.replace("-", " ").lower())
    assert done.status == "ACTIVE" and done.sealed_keys == 1


def new_box(desks: Desks, centre_id: uuid.UUID) -> str:
    identity = local_identity(desks.keys("b"), centre_id)
    assert identity is not None
    return identity.box_public
