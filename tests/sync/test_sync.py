"""Two centres, their own SQLite databases, one district PostgreSQL: what reaches the district,
how often, and what comes back."""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from proctoring import audit
from proctoring.checkins import NewIncident, record_incident, record_override
from proctoring.crypto import KeyStore, Sealed
from proctoring.district import open_office
from proctoring.errors import EvidenceUnreadable
from proctoring.evidence import purge_evidence, read_evidence
from proctoring.models import (
    AuditEvent,
    Decision,
    EvidenceBlob,
    Incident,
    IncidentKind,
    IncidentStatus,
    Severity,
)
from proctoring.outbox import SYNCED, table
from proctoring.proxy_search import screen_district
from proctoring.review import IncidentQuery, decide, incident_file, list_incidents
from proctoring.store import Store
from proctoring.sync import SyncResult, SyncWorker, local_centre, sync_once, sync_status
from proctoring.sync_errors import ReviewNeedsNotes
from tests.proctoring.helpers import photo

from .builders import ACTOR, admit, open_centre, person, session_with_roster, unit
from .conftest import DistrictEnv


def _day(store: Store, session_code: str, people: range, seed: int = 0) -> list[uuid.UUID]:
    session, entries = session_with_roster(store, session_code, [person(i) for i in people])
    return [admit(store, session, e, person(i)[0], unit(seed + i)).checkin.id
            for i, e in zip(people, entries, strict=True)]


def assert_mirrored(env: DistrictEnv, store: Store) -> None:
    """The district holds exactly the centre's rows (same ids, same immutable content, blobs
    byte for byte) and exactly its audit chain (seq 1..N, no gaps, no repeats)."""
    centre_id = local_centre(store).id
    engine = env.admin()
    try:
        with store.engine.connect() as local, engine.connect() as central:
            for name in (*SYNCED, "audit_event", "audit_checkpoint"):
                t = table(name)
                owner = t.c.id if name == "centre" else t.c.centre_id
                query = sa.select(t).where(owner == centre_id).order_by(t.c.id)
                mine = [dict(r._mapping) for r in local.execute(query)]
                theirs = [dict(r._mapping) for r in central.execute(query)]
                assert [r["id"] for r in theirs] == [r["id"] for r in mine], name
                if name in ("evidence_blob", "audit_event", "checkin"):
                    assert theirs == mine, name
            seqs = central.execute(sa.select(table("audit_event").c.seq).where(
                table("audit_event").c.centre_id == centre_id)
                .order_by(table("audit_event").c.seq)).scalars().all()
            assert seqs == list(range(1, len(seqs) + 1))
    finally:
        engine.dispose()


def test_checkins_at_two_centres_reach_the_district_exactly_once(
        district: DistrictEnv, centres: dict[str, Store]) -> None:
    hn, hp = centres["HN01"], centres["HP02"]
    hn_ids = _day(hn, "S1", range(4))
    hp_ids = _day(hp, "S1", range(10, 13), seed=100)  # the same session code at another centre
    record_override(hp, hp_ids[0], decision=Decision.REJECT, reason="Ảnh không khớp",
                    operator_id=None, actor=ACTOR)
    # Every local event is pending: centre and session created, the check-ins, the override.
    assert sync_status(hn).pending == _local_events(hn) == 6
    assert sync_status(hp).pending == _local_events(hp) == 7

    first = {code: sync_once(store, district.centre_urls[code])
             for code, store in centres.items()}
    assert all(r.ok for r in first.values()), first
    assert first["HN01"].rows["checkin"] == 4 and first["HP02"].rows["checkin"] == 3
    assert first["HN01"].keys_sent == first["HP02"].keys_sent == 1
    again = {code: sync_once(store, district.centre_urls[code])
             for code, store in centres.items()}
    assert [(r.pushed_events, r.batches, r.keys_sent) for r in again.values()] == [(0, 0, 0)] * 2
    for store in centres.values():
        assert_mirrored(district, store)
        assert sync_status(store).pending == 0
    assert district.count("checkin") == 7
    assert district.count("incident", "kind = 'OVERRIDE'") == 1

    # The next day's check-ins: only they travel.
    later = _day(hn, "S2", range(20, 22), seed=200)
    assert sync_status(hn).pending == 3  # session.created + 2 check-ins
    third = sync_once(hn, district.centre_urls["HN01"])
    assert third.ok and third.pushed_events == 3 and third.rows["checkin"] == 2
    assert district.count("checkin") == 9
    assert_mirrored(district, hn)
    assert set(later) <= set(_central_ids(district, "checkin"))

    # The office's copy verifies: every centre's chain (with the key each centre had when it
    # first synced, recorded by the district), and its own (the office's key store).
    with district.office() as office, office.store.read() as tx:
        report = audit.verify(tx, office.store.keys)
    assert {c.centre_code: c.key_source for c in report.chains} == {
        "HN01": "district", "HP02": "district", "SGD-HN": "station"}
    assert report.ok, report.to_dict()
    assert {c.centre_code: c.events for c in report.chains} == {
        "HN01": _local_events(hn), "HP02": _local_events(hp), "SGD-HN": 2}
    assert set(hn_ids) <= set(_central_ids(district, "checkin"))


def _local_events(store: Store) -> int:
    with store.read() as tx:
        return len(tx.exec(select(AuditEvent)).all())


def _central_ids(env: DistrictEnv, name: str) -> list[uuid.UUID]:
    engine = env.admin()
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.select(table(name).c.id)).scalars())
    finally:
        engine.dispose()


def test_the_office_opens_every_centres_evidence_and_no_centre_opens_anothers(
        district: DistrictEnv, centres: dict[str, Store], tmp_path: Path) -> None:
    hn, hp = centres["HN01"], centres["HP02"]
    _day(hn, "S1", range(1))
    _day(hp, "S1", range(1))
    for code, store in centres.items():
        assert sync_once(store, district.centre_urls[code]).ok
    with district.office() as office:
        assert office.can_decrypt
        with office.store.read() as tx:
            blobs = list(tx.exec(select(EvidenceBlob)).all())
        assert len({b.key_id for b in blobs}) == 2  # one data key per centre
        for blob in blobs:
            assert read_evidence(office.store, blob.id)  # decrypts
        portraits = [read_evidence(office.store, b.id) for b in blobs]
        assert portraits.count(photo()) == 2
    # HN01's own key does not open HP02's blobs, even handed the ciphertext.
    hp_blob = next(b for b in blobs if b.centre_id == local_centre(hp).id)
    with pytest.raises(EvidenceUnreadable):
        hn.data_key.open(Sealed(hp_blob.key_id, hp_blob.nonce, hp_blob.ciphertext),
                         row_id=hp_blob.id, kind="CHIP_PORTRAIT")
    # Without the office's private key, nothing opens either (another machine's key store).
    stranger = KeyStore(tmp_path / "stranger" / "keys", use_keyring=False)
    with open_office(district.office_url, keys=stranger) as other:
        assert not other.can_decrypt
        with pytest.raises(EvidenceUnreadable):
            read_evidence(other.store, blobs[0].id)


def test_review_decisions_flow_back_to_the_centre(district: DistrictEnv,
                                                  centres: dict[str, Store]) -> None:
    hn, hp = centres["HN01"], centres["HP02"]
    ids = _day(hn, "S1", range(2))
    override = record_override(hn, ids[0], decision=Decision.REJECT, reason="Người khác",
                               operator_id=None, actor=ACTOR)
    session = next(iter(_sessions(hn)))
    absent = record_incident(hn, session, NewIncident(
        IncidentKind.FACE_ABSENT, Severity.MEDIUM, "incident.face_absent",
        started_at=datetime(2026, 6, 12, 1, 0, tzinfo=UTC)), actor=ACTOR)
    _day(hp, "S1", range(5, 6))
    for code, store in centres.items():
        assert sync_once(store, district.centre_urls[code]).ok

    with district.office() as office:
        listed = list_incidents(office, IncidentQuery(centre="HN01"))
        assert {r.incident.id for r in listed} == {override.id, absent.id}
        assert list_incidents(office, IncidentQuery(centre="HP02")) == []
        assert [r.incident.id for r in list_incidents(
            office, IncidentQuery(kind=IncidentKind.OVERRIDE, status=IncidentStatus.OPEN))] == [
            override.id]
        with pytest.raises(ReviewNeedsNotes):
            decide(office, str(override.id), status=IncidentStatus.CONFIRMED, notes="  ",
                   actor="office:reviewer")
        decide(office, str(override.id)[:8], status=IncidentStatus.CONFIRMED,
               notes="Đã xác minh: thi hộ", actor="office:reviewer")
        decide(office, str(absent.id), status=IncidentStatus.DISMISSED,
               notes="Mất điện 2 phút", actor="office:reviewer")
        decide(office, str(override.id), status=IncidentStatus.DISMISSED,
               notes="Xem lại: đúng người", actor="office:lead")
        # Each decision is an event of the office's own chain: who, what, from which status.
        with office.store.read() as tx:
            reviewed = tx.exec(select(AuditEvent).where(
                AuditEvent.centre_id == office.centre_id,
                AuditEvent.action == "incident.reviewed").order_by(AuditEvent.seq)).all()
        assert [(e.actor, e.subject_id, json.loads(e.payload)["to"]) for e in reviewed] == [
            ("office:reviewer", override.id, "CONFIRMED"),
            ("office:reviewer", absent.id, "DISMISSED"),
            ("office:lead", override.id, "DISMISSED")]

    back = sync_once(hn, district.centre_urls["HN01"])
    assert back.ok and back.reviews_applied == 3
    assert sync_once(hp, district.centre_urls["HP02"]).reviews_applied == 0
    with hn.read() as tx:
        local = {i.id: i for i in tx.exec(select(Incident)).all()}
        received = tx.exec(select(AuditEvent).where(
            AuditEvent.action == "incident.review_received")).all()
        assert audit.verify(tx, hn.keys).ok
    assert (local[override.id].status, local[override.id].reviewer_notes) == (
        IncidentStatus.DISMISSED, "Xem lại: đúng người")  # the later decision wins
    assert (local[absent.id].status, local[absent.id].reviewer_notes) == (
        IncidentStatus.DISMISSED, "Mất điện 2 phút")
    assert len(received) == 3
    # Applying is exactly once too, and the centre's receipt events reach the district.
    again = sync_once(hn, district.centre_urls["HN01"])
    assert again.ok and again.reviews_applied == 0 and again.pushed_events == 0
    assert_mirrored(district, hn)
    # The office's decision stays the district's: the centre's upsert does not touch it.
    with district.office() as office:
        rows = {r.incident.id: r.incident for r in list_incidents(office)}
        assert rows[override.id].reviewer_notes == "Xem lại: đúng người"
        assert rows[override.id].status is IncidentStatus.DISMISSED


def _sessions(store: Store) -> list[uuid.UUID]:
    from proctoring.models import ExamSession

    with store.read() as tx:
        return [s.id for s in tx.exec(select(ExamSession)).all()]


def test_status_for_the_app_and_failures_it_names(district: DistrictEnv,
                                                  centres: dict[str, Store]) -> None:
    hn = centres["HN01"]
    _day(hn, "S1", range(2))
    before = sync_status(hn)
    assert (before.pending, before.last_success_at, before.last_error) == (4, None, None)

    wrong = district.url_as("centre_hn01", "not-the-password")
    refused = sync_once(hn, wrong)
    assert not refused.ok and refused.error and refused.error.key == "sync.access_refused"
    down = sync_once(hn, district.cluster.url(district.database, "centre_hn01", "x",
                                              port=_closed_port()))
    assert down.error and down.error.key == "sync.central_unavailable"
    status = sync_status(hn)
    assert status.last_error and status.last_error.key == "sync.central_unavailable"
    assert status.pending == 4 and status.last_attempt_at is not None
    # HP02's account cannot sync HN01's database (the account belongs to another code).
    other = sync_once(hn, district.centre_urls["HP02"])
    assert other.error and other.error.key == "sync.access_refused"
    assert "for centre HP02, not HN01" in other.error.detail

    results: list[SyncResult] = []
    done = threading.Event()

    def finished(result: SyncResult) -> None:
        results.append(result)
        done.set()

    worker = SyncWorker(hn, district.centre_urls["HN01"], interval=3600, on_result=finished)
    worker.start()
    assert done.wait(30)
    worker.stop()
    assert results[0].ok
    status = worker.status()
    assert (status.pending, status.last_error, status.running) == (0, None, False)
    assert status.last_success_at is not None and status.district_code == "SGD-HN"


def _closed_port() -> int:
    from .pgcluster import free_port

    return free_port()


def test_a_restored_or_replaced_local_database_is_refused(district: DistrictEnv,
                                                          centres: dict[str, Store],
                                                          tmp_path: Path) -> None:
    hn = centres["HN01"]
    _day(hn, "S1", range(1))
    assert sync_once(hn, district.centre_urls["HN01"]).ok
    db = Path(str(hn.engine.url.database))
    hn.close()
    shutil.copy(db, tmp_path / "backup.db")
    hn = open_centre(db.parent, "HN01", "x")
    _day(hn, "S2", range(3, 4))
    assert sync_once(hn, district.centre_urls["HN01"]).ok
    sent = district.count("audit_event")
    hn.close()
    # The centre restores yesterday's backup and carries on: its chain forks.
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    shutil.copy(tmp_path / "backup.db", db)
    hn = open_centre(db.parent, "HN01", "x")
    try:
        _day(hn, "S3", range(5, 7))
        forked = sync_once(hn, district.centre_urls["HN01"])
        assert forked.error and forked.error.key == "sync.chain_diverged"
        assert district.count("audit_event") == sent  # nothing was sent
    finally:
        hn.close()
        centres["HN01"] = open_centre(tmp_path / "unused", "HN01", "x")


def test_the_office_key_is_pinned(district: DistrictEnv, centres: dict[str, Store]) -> None:
    hn = centres["HN01"]
    _day(hn, "S1", range(1))
    wrong = sync_once(hn, district.centre_urls["HN01"], district_key="ab" * 32)
    assert wrong.error and wrong.error.key == "sync.district_key_changed"
    assert district.count("centre_key") == 0 and district.count("checkin") == 0
    assert sync_once(hn, district.centre_urls["HN01"]).ok  # trusts the key it sees first
    engine = district.admin()
    with engine.begin() as conn:  # someone with database access swaps the office key
        conn.exec_driver_sql(f"UPDATE district SET box_public_key = '{'cd' * 32}'")
    engine.dispose()
    _day(hn, "S2", range(2, 3))
    swapped = sync_once(hn, district.centre_urls["HN01"])
    assert swapped.error and swapped.error.key == "sync.district_key_changed"
    assert district.count("centre_key") == 1 and district.count("checkin") == 1


def test_retention_purges_reach_the_district_unless_an_open_case_holds_the_evidence(
        district: DistrictEnv, centres: dict[str, Store]) -> None:
    hn, hp = centres["HN01"], centres["HP02"]
    face = unit(42)
    session, entries = session_with_roster(hn, "S1", [person(1), person(2)])
    held = admit(hn, session, entries[0], person(1)[0], face).checkin
    admit(hn, session, entries[1], person(2)[0], unit(43))
    other, entries = session_with_roster(hp, "S1", [person(3)])
    admit(hp, other, entries[0], person(3)[0], face)  # the same face, another ID: a proxy
    for code, store in centres.items():
        assert sync_once(store, district.centre_urls[code]).ok
    with district.office() as office:
        case = screen_district(office, actor="office:screen").incidents[0]
    hn_id = local_centre(hn).id
    assert district.count("evidence_blob", f"centre_id = '{hn_id}'") == 6

    result = purge_evidence(hn, older_than=timedelta(0), actor=ACTOR)
    assert result.purged == 6  # the centre does not know the office's case
    with hn.write() as tx:  # a checkpoint signed after the fact travels too
        assert hn.audit.checkpoint(tx, hn_id, hn.now()) is not None
    done = sync_once(hn, district.centre_urls["HN01"])
    # The purge event's own signature and the one signed after it (every event is signed).
    assert done.ok and done.checkpoints_sent == 2
    assert district.count("evidence", f"centre_id = '{hn_id}' AND purged_at IS NULL") == 0
    # The other check-in's pictures are gone from the district; the case's are held.
    with district.office() as office:
        with office.store.read() as tx:
            kept = {b.id for b in tx.exec(select(EvidenceBlob).where(
                EvidenceBlob.centre_id == hn_id)).all()}
            assert audit.verify(tx, office.store.keys).ok  # with HN01's signed checkpoint
        assert len(kept) == 3
        dossier = incident_file(office, str(case))
        mine = next(s for s in dossier.sides if s.checkin.id == held.id)
        assert mine.portrait and mine.portrait.state == "held" and mine.portrait.data == photo()
        decide(office, str(case), status=IncidentStatus.DISMISSED, notes="Sinh đôi",
               actor="office:reviewer")
    assert district.count("evidence_blob", f"centre_id = '{hn_id}'") == 0  # released
