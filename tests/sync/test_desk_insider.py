"""The insider with a desk's database login (issue 17, the outside review): desk b's own
PostgreSQL password and raw SQL against the centre's database. Each test attacks one property
of :mod:`proctoring.desk_roles` and checks that PostgreSQL itself refuses it (SQLSTATE 42501),
then that the app's own path for the same job still works under the desk's login."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from sqlmodel import col, select

from proctoring import audit
from proctoring.checkins import record_override, review_incident
from proctoring.desk_roles import DESK_GROUP, TABLE_RIGHTS, apply_desk_roles, reapply_desk_roles
from proctoring.errors import DatabaseLoginRefused, DatabaseUnavailable
from proctoring.evidence import purge_evidence, read_evidence
from proctoring.models import (
    CheckIn,
    Decision,
    Evidence,
    EvidenceBlob,
    ExamSession,
    Incident,
    IncidentStatus,
    RosterEntry,
)
from proctoring.station_models import Station, StationAuditEvent
from proctoring.store import DEFAULT_RETENTION, Store

from .builders import ACTOR, admit, person, unit
from .conftest import DistrictEnv
from .desk_logins import Centre


@dataclass(frozen=True)
class Scene:
    """Desk a ("Phòng lý thuyết") and desk b ("Sân 1") of HN01, each with its own login; one
    check-in at each desk, one open incident (an override at desk a)."""

    centre_id: uuid.UUID
    station_b: uuid.UUID
    theirs: uuid.UUID  # desk a's check-in
    mine: uuid.UUID  # desk b's check-in
    incident: uuid.UUID  # OPEN, about desk a's check-in
    session: ExamSession
    spare: RosterEntry  # a candidate not checked in yet


@pytest.fixture
def scene(centre: Centre) -> Scene:
    desks = centre.two_desks(people=4)
    a, b, centre_id = desks.a, desks.b, desks.centre_id
    session, entries = desks.session, desks.entries
    theirs = admit(a, session, entries[0], person(0)[0], unit(0)).checkin.id
    mine = admit(b, session, entries[1], person(1)[0], unit(1)).checkin.id
    incident = record_override(a, theirs, decision=Decision.REVIEW, reason="ảnh không rõ",
                               operator_id=None, actor=ACTOR).id
    with a.read() as tx:
        station_b = tx.connection().execute(sa.text(
            "SELECT id FROM station WHERE name = 'Sân 1'")).scalar_one()
    return Scene(centre_id, station_b, theirs, mine, incident, session, entries[2])


@pytest.fixture
def raw_b(centre: Centre) -> Iterator[sa.Engine]:
    engine = centre.raw("b")
    yield engine
    engine.dispose()


def refused(engine: sa.Engine, write: Callable[[sa.Connection], object]) -> str:
    """Run ``write`` in one transaction as the desk; it must be refused for want of a right
    (at the statement or at commit). Returns the server's message."""
    with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
        write(conn)
    assert getattr(caught.value.orig, "sqlstate", None) == "42501", caught.value
    return str(caught.value.orig)


def sql(text: str, **params: object) -> Callable[[sa.Connection], object]:
    return lambda conn: conn.execute(sa.text(text), params)


def own_event(conn: sa.Connection, scene: Scene, subject: uuid.UUID,
              action: str = "checkin.overridden") -> None:
    """An event on desk b's own chain in this transaction (forged: no valid signature, which
    ``audit verify`` names — the point here is only what PostgreSQL lets through)."""
    head = conn.execute(sa.text("SELECT seq FROM station_audit_head WHERE station_id = :s"),
                        {"s": scene.station_b}).scalar_one()
    conn.execute(sa.text(
        "INSERT INTO station_audit_event (id, centre_id, station_id, seq, occurred_at, actor, "
        "action, subject_id, payload, prev_hash, hash) VALUES (:e, :c, :s, :q, now(), 'x', "
        ":a, :i, '{}', 'x', 'x')"), {"e": uuid.uuid4(), "c": scene.centre_id,
                                    "s": scene.station_b, "q": head + 1, "a": action,
                                    "i": subject})
    conn.execute(sa.text("UPDATE station_audit_head SET seq = :q WHERE station_id = :s"),
                 {"q": head + 1, "s": scene.station_b})


def one(centre: Centre, text: str, **params: object) -> object:
    with centre.desk("a").read() as tx:
        return tx.connection().execute(sa.text(text), params).scalar()


def test_every_table_of_the_schema_has_its_desk_rights_written_down() -> None:
    from sqlmodel import SQLModel

    import proctoring.store  # noqa: F401  (registers the tables)

    assert {t.name for t in SQLModel.metadata.sorted_tables} <= set(TABLE_RIGHTS)
    for name in ("checkin", "incident", "evidence", "incident_checkin",
                 "station_audit_event", "audit_event"):
        assert not TABLE_RIGHTS[name].delete, name


def test_a_desk_login_deletes_no_checkin_incident_or_evidence(
        centre: Centre, scene: Scene, raw_b: sa.Engine) -> None:
    for table in ("checkin", "incident", "evidence", "incident_checkin"):
        refused(raw_b, sql(f"DELETE FROM {table}"))
    refused(raw_b, sql("DELETE FROM checkin WHERE id = :i", i=scene.mine))  # not even its own
    refused(raw_b, sql("TRUNCATE checkin CASCADE"))
    assert one(centre, "SELECT count(*) FROM checkin") == 2
    assert one(centre, "SELECT count(*) FROM evidence WHERE purged_at IS NULL") == 6


def test_a_desk_login_updates_no_column_outside_the_list(
        centre: Centre, scene: Scene, raw_b: sa.Engine) -> None:
    attacks = [
        "UPDATE checkin SET machine_decision = 'ADMIT' WHERE id = :i",
        "UPDATE checkin SET id_number = '001099000001' WHERE id = :i",
        "UPDATE checkin SET reasons = '[]' WHERE id = :i",
        "UPDATE checkin SET face_distance = 0.01 WHERE id = :i",
        "UPDATE checkin SET session_id = session_id WHERE id = :i",
        "UPDATE incident SET kind = 'OVERRIDE', details = '{}' WHERE id = :n",
        "UPDATE incident SET started_at = now() WHERE id = :n",
        "UPDATE evidence SET retain_until = now() - interval '1 day' WHERE checkin_id = :i",
        "UPDATE evidence SET checkin_id = NULL WHERE checkin_id = :i",
        "UPDATE evidence_blob SET ciphertext = '\\x00'::bytea",
    ]
    for text in attacks:
        # Even with its own station's event about the row: the column is not the desk's.
        refused(raw_b, lambda c, t=text: (own_event(c, scene, scene.theirs),
                                          c.execute(sa.text(t), {"i": scene.theirs,
                                                                 "n": scene.incident})))
    assert one(centre, "SELECT machine_decision FROM checkin WHERE id = :i",
               i=scene.theirs) == "ADMIT"  # as recorded: it never was another


def test_a_desk_login_changes_a_decision_only_with_its_own_event_of_the_same_transaction(
        centre: Centre, scene: Scene, raw_b: sa.Engine) -> None:
    flip = "UPDATE checkin SET decision = 'ADMIT', override_reason = NULL WHERE id = :i"
    close = "UPDATE incident SET status = 'DISMISSED' WHERE id = :n"
    # No event at all: refused at commit (the trigger is deferred).
    message = refused(raw_b, sql(flip, i=scene.theirs))
    assert "own station's event" in message
    refused(raw_b, sql(close, n=scene.incident))
    # An event about another row does not cover this one.
    refused(raw_b, lambda c: (own_event(c, scene, scene.mine),
                              c.execute(sa.text(flip), {"i": scene.theirs})))
    # An event of its own about this row from an earlier transaction does not either.
    with raw_b.begin() as conn:
        own_event(conn, scene, scene.theirs)
    refused(raw_b, sql(flip, i=scene.theirs))
    # Hostile: a temporary table shadowing the chain (pg_temp comes first in a default
    # search_path) is not what the check reads.
    def shadowed(conn: sa.Connection) -> None:
        conn.execute(sa.text("CREATE TEMP TABLE station_audit_event "
                             "AS SELECT * FROM public.station_audit_event"))
        conn.execute(sa.text("CREATE TEMP TABLE station AS SELECT * FROM public.station"))
        conn.execute(sa.text("UPDATE pg_temp.station_audit_event SET subject_id = :i"),
                     {"i": scene.theirs})
        conn.execute(sa.text(flip), {"i": scene.theirs})
    refused(raw_b, shadowed)
    assert one(centre, "SELECT decision FROM checkin WHERE id = :i", i=scene.theirs) == "REVIEW"
    assert one(centre, "SELECT status FROM incident WHERE id = :n", n=scene.incident) == "OPEN"

    # What is left on purpose: with its own event in the same transaction the change goes
    # through — attributable to station "Sân 1": its forged event breaks its own chain, and
    # the row no longer matches the digest desk a's signed override recorded.
    with raw_b.begin() as conn:
        own_event(conn, scene, scene.theirs)
        conn.execute(sa.text(flip), {"i": scene.theirs})
    with centre.desk("a").read() as tx:
        report = audit.verify(tx, centre.desk("a").keys)
    assert {c.station_name for c in report.chains if not c.ok} == {"Sân 1", "Phòng lý thuyết"}


def test_overrides_and_reviews_through_the_app_still_work_under_a_desk_login(
        centre: Centre, scene: Scene) -> None:
    b = centre.desk("b")
    # Desk b overrides a check-in desk a made: allowed, signed on b's own chain.
    record_override(b, scene.theirs, decision=Decision.ADMIT, reason="đã đối chiếu giấy tờ",
                    operator_id=None, actor=ACTOR)
    review_incident(b, scene.incident, status=IncidentStatus.DISMISSED, notes="ổn",
                    reviewer_id=None, actor=ACTOR)
    with b.read() as tx:
        assert tx.get(CheckIn, scene.theirs).decision is Decision.ADMIT  # type: ignore[union-attr]
        assert tx.get(Incident, scene.incident).status is IncidentStatus.DISMISSED  # type: ignore[union-attr]
        actions = set(tx.exec(select(StationAuditEvent.action).where(
            StationAuditEvent.station_id == scene.station_b)).all())
        report = audit.verify(tx, centre.desk("a").keys)  # a holds the centre's key
    assert {"checkin.overridden", "incident.reviewed"} <= actions
    assert report.ok, [(c.station_name, c.problems) for c in report.chains if not c.ok]


def _desk_store(centre: Centre, name: str, *, retention: timedelta = DEFAULT_RETENTION,
                ahead: timedelta = timedelta(0)) -> Store:
    return Store.open(centre.login_url(name), keys=centre.keys(name), retention=retention,
                      clock=lambda: datetime.now(UTC) + ahead)


def _evidence_of(centre: Centre, checkin: uuid.UUID) -> list[uuid.UUID]:
    with centre.desk("a").read() as tx:
        return list(tx.exec(select(Evidence.id).where(Evidence.checkin_id == checkin)).all())


def test_a_desk_purges_only_expired_evidence_never_early_never_under_an_open_incident(
        centre: Centre, scene: Scene, raw_b: sa.Engine) -> None:
    # A desk whose clock runs a year ahead (or says so) purges nothing: the server's clock
    # decides, and the whole purge — rows, blobs, event — is rolled back.
    liar = _desk_store(centre, "b", ahead=timedelta(days=365))
    try:
        with pytest.raises(DBAPIError) as caught:
            purge_evidence(liar, older_than=None, actor=ACTOR)
        assert getattr(caught.value.orig, "sqlstate", None) == "42501"
    finally:
        liar.close()
    assert one(centre, "SELECT count(*) FROM evidence_blob") == 6
    # Raw: past retain_until by the desk's lights only, with its own purge event.
    for ev in _evidence_of(centre, scene.mine):
        refused(raw_b, lambda c, e=ev: (
            own_event(c, scene, scene.centre_id, "evidence.purged"),
            c.execute(sa.text("UPDATE evidence SET purged_at = now() WHERE id = :e"),
                      {"e": e})))
    # A blob deleted before its row is purged: refused at the statement.
    refused(raw_b, sql("DELETE FROM evidence_blob WHERE id = :e",
                       e=_evidence_of(centre, scene.mine)[0]))

    # Short retention at desk b: its next check-in's evidence expires at once.
    quick = _desk_store(centre, "b", retention=timedelta(0))
    try:
        expired = admit(quick, scene.session, scene.spare, person(2)[0], unit(2)).checkin.id
        # Desk a's check-in, 90 days on (the owner moves its date), with its incident still
        # OPEN: past retention, yet held.
        owner = sa.create_engine(centre.admin_url, poolclass=NullPool)
        try:
            with owner.begin() as conn:
                conn.execute(sa.text("UPDATE evidence SET retain_until = now() - "
                                     "interval '1 hour' WHERE checkin_id = :i"),
                             {"i": scene.theirs})
        finally:
            owner.dispose()
        held = _evidence_of(centre, scene.theirs)
        # Raw, under the open incident, even with the purge event: refused.
        refused(raw_b, lambda c: (
            own_event(c, scene, scene.centre_id, "evidence.purged"),
            c.execute(sa.text("UPDATE evidence SET purged_at = now() WHERE id = :e"),
                      {"e": held[0]})))
        # Raw, expired and not held, but without the event: refused.
        gone = _evidence_of(centre, expired)
        refused(raw_b, sql("UPDATE evidence SET purged_at = now() WHERE id = :e", e=gone[0]))

        # The app's purge under desk b's login: the expired evidence goes, the held stays.
        result = purge_evidence(quick, older_than=None, actor=ACTOR)
        assert (result.purged, result.held) == (3, 3)
    finally:
        quick.close()
    with centre.desk("a").read() as tx:
        purged = {e.id for e in tx.exec(select(Evidence).where(
            col(Evidence.purged_at).is_not(None))).all()}
        blobs = set(tx.exec(select(EvidenceBlob.id)).all())
        report = audit.verify(tx, centre.desk("a").keys)
        events = tx.exec(select(StationAuditEvent.action).where(
            StationAuditEvent.station_id == scene.station_b)).all()
    assert purged == set(gone) and not (purged & blobs) and set(held) <= blobs
    assert "evidence.purged" in events
    # Desk b's purge is signed on its chain; the only break is the test's own shortcut (the
    # owner moved a's evidence dates instead of waiting 90 days), which audit verify names.
    broken = {c.station_name: {p.kind for p in c.problems} for c in report.chains if not c.ok}
    assert broken == {"Phòng lý thuyết": {"row_modified"}}
    # A purged row is purged once: no un-purging, no moving the date.
    refused(raw_b, lambda c: (own_event(c, scene, scene.centre_id, "evidence.purged"),
                              c.execute(sa.text("UPDATE evidence SET purged_at = NULL "
                                                "WHERE id = :e"), {"e": gone[0]})))
    with pytest.raises(Exception, match="purged"):
        read_evidence(centre.desk("a"), gone[0])


def test_a_wrong_password_is_a_refused_login_not_an_outage(centre: Centre) -> None:
    from examdesk.services.outbox import open_desk_store

    login = centre.logins["b"]
    wrong = centre.login_url("b", password=login.password + "x")
    with pytest.raises(DatabaseLoginRefused) as caught:
        Store.open(wrong, keys=centre.keys("b"))
    assert not isinstance(caught.value, DatabaseUnavailable)
    assert caught.value.key == "proctoring.login_refused"
    # The desk app's start: a refused login is not "offline, keep checking in locally".
    with pytest.raises(DatabaseLoginRefused):
        open_desk_store(wrong, keys=centre.keys("b"))
    unknown = centre.cluster.url(centre.database, "desk_nobody", "x")
    with pytest.raises(DatabaseLoginRefused):
        Store.open(unknown, keys=centre.keys("b"))
    # A server that does not answer still is an outage.
    closed = centre.cluster.url(centre.database, login.role, login.password, port=1)
    with pytest.raises(DatabaseUnavailable):
        Store.open(closed, keys=centre.keys("b"))
    from examdesk.i18n import Catalog

    catalog = Catalog.load()
    for lang in ("vi", "en"):
        assert "?" not in catalog.text("proctoring.login_refused", lang, url="u", detail="d")
    assert "từ chối đăng nhập" in caught.value.text(catalog, "vi")


def test_an_unlisted_table_gets_nothing_and_an_upgrade_reapplies_the_rights(
        centre: Centre, raw_b: sa.Engine) -> None:
    owner = sa.create_engine(centre.admin_url, poolclass=NullPool)
    try:
        with owner.begin() as conn:  # a table added by hand, opened to the desks by mistake
            conn.execute(sa.text("CREATE TABLE notes (id int)"))
            conn.execute(sa.text(f"GRANT ALL ON notes TO {DESK_GROUP}"))
            # and a right lost on a listed table (an old release's grants)
            conn.execute(sa.text(f"REVOKE ALL ON checkin FROM {DESK_GROUP}"))
        with raw_b.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM notes")).scalar() == 0
        refused(raw_b, sql("SELECT count(*) FROM checkin"))
        with raw_b.begin() as conn:  # a desk's own login never reapplies anything
            assert reapply_desk_roles(conn) is False
        with owner.begin() as conn:
            assert reapply_desk_roles(conn) is True
    finally:
        owner.dispose()
    refused(raw_b, sql("SELECT count(*) FROM notes"))
    with raw_b.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM checkin")).scalar() == 0
    apply_desk_roles(centre.admin_url)  # idempotent
    with raw_b.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM checkin")).scalar() == 0


def test_the_centre_sync_runs_under_a_desk_login_and_applies_the_office_review(
        district: DistrictEnv, centre: Centre, scene: Scene) -> None:
    """The district sync, run by desk a (the one holding the centre's key) on its own login:
    pushes every station's rows, and the office's decision comes back as an update of the
    incident together with a's own event."""
    from proctoring.review import decide
    from proctoring.sync import sync_once

    a = centre.desk("a")
    first = sync_once(a, district.centre_urls["HN01"])
    assert first.ok, first.error
    with district.office() as office:
        decide(office, str(scene.incident), status=IncidentStatus.CONFIRMED,
               notes="Đã xác minh: thi hộ", actor="office:reviewer")
    back = sync_once(a, district.centre_urls["HN01"])
    assert back.ok and back.reviews_applied == 1, back.error
    with a.read() as tx:
        assert tx.get(Incident, scene.incident).status is IncidentStatus.CONFIRMED  # type: ignore[union-attr]
        assert tx.exec(select(Station.name).join(
            StationAuditEvent, col(StationAuditEvent.station_id) == col(Station.id)).where(
            StationAuditEvent.action == "incident.review_received")).all() == ["Phòng lý thuyết"]
        report = audit.verify(tx, centre.desk("a").keys)
    assert report.ok, [(c.station_name, c.problems) for c in report.chains if not c.ok]


def test_another_database_on_the_same_server_gets_no_desk_rights(centre: Centre) -> None:
    """The desk group is the cluster's: a district's (or a second centre's) database migrated
    on the same server after it exists must not get the desk triggers (the district's centre
    logins would be refused as if they were desks)."""
    with centre.cluster.scratch_database("other_") as name:
        Store.open(centre.cluster.url(name), keys=centre.keys("admin")).close()
        engine = sa.create_engine(centre.cluster.url(name), poolclass=NullPool)
        try:
            with engine.begin() as conn:
                assert conn.execute(sa.text(
                    "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'examdesk_desk%'")
                ).scalar() == 0
                assert reapply_desk_roles(conn) is False
        finally:
            engine.dispose()
    with centre.desk("a").read() as tx:  # the centre's own database has them
        assert tx.connection().execute(sa.text(
            "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'examdesk_desk%'")).scalar() == 8


def test_a_desk_login_cannot_lock_another_station_out_of_the_evidence(
        centre: Centre, scene: Scene, raw_b: sa.Engine) -> None:
    """Another station's sealed data keys: not rewritten, not removed while it is active; the
    app's revocation (by desk a, of desk b) still removes the revoked station's keys."""
    from proctoring.stations import revoke

    with centre.desk("a").read() as tx:
        station_a = tx.connection().execute(sa.text(
            "SELECT id FROM station WHERE name = 'Phòng lý thuyết'")).scalar_one()
    refused(raw_b, sql("DELETE FROM station_data_key WHERE station_id = :s", s=station_a))
    refused(raw_b, sql("UPDATE station_data_key SET sealed = '\\x00'::bytea "
                       "WHERE station_id = :s", s=station_a))
    assert one(centre, "SELECT count(*) FROM station_data_key WHERE station_id = :s",
               s=station_a) == 1
    read_evidence(centre.desk("a"), _evidence_of(centre, scene.mine)[0])  # a still reads
    revoke(centre.desk("a"), centre_id=scene.centre_id, ref="Sân 1", actor=ACTOR,
           reason="máy bị mất cắp")
    assert one(centre, "SELECT count(*) FROM station_data_key WHERE station_id = :s",
               s=scene.station_b) == 0


def test_a_refused_login_keeps_nothing_in_the_outbox_and_parks_nothing(
        centre: Centre, scene: Scene, tmp_path: Path) -> None:
    """A desk whose password was changed is not "offline": the check-in is refused at once
    (not queued for a centre that will never take it), and check-ins already waiting stay
    waiting — none is parked as if it were bad — until the login is fixed."""
    from proctoring.desk_outbox import DeskOutbox
    from tests.proctoring.outbox_helpers import item

    wrong = Store.open_later(centre.login_url("b", password="wrong"), keys=centre.keys("b"))
    outbox = DeskOutbox.for_desk(centre.keys("b"), tmp_path / "desk")
    try:
        checkin = item(scene.session, scene.spare, person(2)[0], 0)
        with pytest.raises(DatabaseLoginRefused):
            outbox.record(wrong, checkin, actor=ACTOR)
        assert len(outbox) == 0
        outbox.push(checkin, actor=ACTOR)  # kept earlier, while the centre was really down
        with pytest.raises(DatabaseLoginRefused):
            outbox.deliver(wrong)
        assert (len(outbox), outbox.parked()) == (1, [])
        done = outbox.deliver(centre.desk("b"))  # the right login: delivered, once
        assert (done.delivered, done.waiting) == (1, 0)
    finally:
        outbox.close()
        wrong.close()
    assert one(centre, "SELECT count(*) FROM checkin WHERE id = :i", i=checkin.checkin_id) == 1


def test_the_owners_upgrade_gives_a_new_table_its_desk_rights(centre: Centre) -> None:
    """A centre at the previous schema with desk logins; the owner's Store.open migrates it
    and the table the upgrade adds (seat_consent) has the desk rights at once."""
    from alembic import command
    from alembic.config import Config

    from proctoring.store import _WRITE, MIGRATIONS

    with centre.cluster.scratch_database("old_") as name:
        owner = sa.create_engine(centre.cluster.url(name), poolclass=NullPool)
        desk = sa.create_engine(centre.login_url("b", database=name), poolclass=NullPool)
        try:
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            with owner.execution_options(**{_WRITE: True}).begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "0010_sync17_station_sync")
            apply_desk_roles(centre.cluster.url(name))  # the old release's db-login
            Store.open(centre.cluster.url(name), keys=centre.keys("admin")).close()
            with desk.connect() as conn:
                assert conn.execute(sa.text("SELECT count(*) FROM seat_consent")).scalar() == 0
        finally:
            owner.dispose()
            desk.dispose()
