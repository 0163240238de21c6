"""Access control in PostgreSQL itself: a centre's login sees and changes only its own rows;
the office reads everything and writes only what reviewing needs. Each check connects with
the real credentials and tries."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

from proctoring.checkins import record_override
from proctoring.models import Decision
from proctoring.store import Store
from proctoring.sync import local_centre, sync_once

from .builders import ACTOR, admit, person, session_with_roster, unit
from .conftest import OFFICE_PASSWORD, OFFICE_ROLE, DistrictEnv

# Tables holding centre rows, and the column that says whose.
OWNED = {t.name: ("id" if t.name == "centre" else "centre_id")
         for t in SQLModel.metadata.sorted_tables
         if ("centre_id" in t.c or t.name == "centre")
         and t.name not in ("district", "district_member")}  # (checked on their own)
OFFICE_ONLY = ("proxy_screen", "sync_state", "station_sync_state", "key_record")


@pytest.fixture
def synced(district: DistrictEnv, centres: dict[str, Store]) -> dict[str, uuid.UUID]:
    """Both centres with a session, two check-ins and an override each, synced."""
    ids = {}
    for n, (code, store) in enumerate(centres.items()):
        session, entries = session_with_roster(store, "S1", [person(10 * n + i) for i in (0, 1)])
        checkins = [admit(store, session, e, person(10 * n + i)[0], unit(10 * n + i)).checkin
                    for i, e in enumerate(entries)]
        record_override(store, checkins[0].id, decision=Decision.REJECT, reason="kiểm tra",
                        operator_id=None, actor=ACTOR)
        _station_and_seat(store, session, entries[0], checkins[0])
        assert sync_once(store, district.centre_urls[code]).ok
        ids[code] = local_centre(store).id
    return ids


def _station_and_seat(store: Store, session: Any, entry: Any, checkin: Any) -> None:
    """The desk enrolled as the centre's station (issue 17: its own chain from then on), and a
    seat of the exam room (issue 18) bound, with an acknowledged incident: rows in every table
    a centre ships."""
    from proctoring.seat import Binding
    from proctoring.seat_store import acknowledge, record_binding, seat_place
    from proctoring.stations import enrol

    enrol(store, centre_id=session.centre_id, name="Phòng 1", stages="", actor=ACTOR)
    place = seat_place(store, session.code, entry.seat or "A01")
    record_binding(store, place, Binding(entry.id, checkin.id, datetime.now(UTC), 0.3),
                   actor="seat:A01")
    with store.read() as tx:
        incident = tx.connection().execute(sa.text("SELECT id FROM incident")).scalar_one()
    acknowledge(store, str(incident), "đã xem", actor=ACTOR)


def _engine(env: DistrictEnv, role: str, password: str) -> sa.Engine:
    return sa.create_engine(env.url_as(role, password, direct=True), poolclass=NullPool)


@pytest.fixture
def as_hn01(district: DistrictEnv) -> Iterator[sa.Engine]:
    engine = _engine(district, "centre_hn01", district.centre_passwords["HN01"])
    yield engine
    engine.dispose()


def _refused(engine: sa.Engine, sql: str, **params: object) -> str:
    """Run ``sql``; it must fail with a permission or row-level security error."""
    with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
        conn.execute(sa.text(sql), params)
    state = getattr(caught.value.orig, "sqlstate", None)
    assert state == "42501", caught.value
    return str(caught.value.orig)


def test_a_centre_sees_only_its_own_rows(district: DistrictEnv, synced: dict[str, uuid.UUID],
                                         as_hn01: sa.Engine) -> None:
    mine, theirs = synced["HN01"], synced["HP02"]
    admin = district.admin()
    with as_hn01.connect() as conn, admin.connect() as root:
        for name, column in OWNED.items():
            if name in OFFICE_ONLY:
                continue
            total = root.execute(sa.text(f"SELECT count(*) FROM {name} WHERE {column} = :c"),
                                 {"c": theirs}).scalar_one()
            seen = conn.execute(sa.text(f"SELECT count(*) FROM {name} WHERE {column} = :c"),
                                {"c": theirs}).scalar_one()
            assert seen == 0, f"{name}: HN01 sees {seen} of HP02's {total} rows"
            own = root.execute(sa.text(f"SELECT count(*) FROM {name} WHERE {column} = :c"),
                               {"c": mine}).scalar_one()
            everything = conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one()
            assert everything == own, name
        assert root.execute(sa.text("SELECT count(*) FROM checkin WHERE centre_id = :c"),
                            {"c": theirs}).scalar_one() == 2
        for shipped in ("station", "station_audit_event", "station_audit_head",
                        "station_audit_checkpoint", "seat_agent", "incident_ack"):
            assert root.execute(sa.text(f"SELECT count(*) FROM {shipped} WHERE centre_id = :c"),
                                {"c": theirs}).scalar_one() >= 1, shipped  # there, unseen
        # Its own account row only; the office's key (public) is readable.
        assert conn.execute(sa.text("SELECT role_name FROM district_member")).scalars().all() \
            == ["centre_hn01"]
        assert conn.execute(sa.text("SELECT count(*) FROM district")).scalar_one() == 1
    admin.dispose()
    for table in OFFICE_ONLY:
        _refused(as_hn01, f"SELECT * FROM {table}")
    # A role switch does not widen the view: the group role itself maps to no centre.
    with as_hn01.connect() as conn:
        conn.exec_driver_sql("SET ROLE examdesk_centre")
        assert conn.execute(sa.text("SELECT count(*) FROM checkin")).scalar_one() == 0


def test_a_centre_cannot_change_another_centres_rows_or_its_own_history(
        district: DistrictEnv, synced: dict[str, uuid.UUID], as_hn01: sa.Engine) -> None:
    theirs = synced["HP02"]
    admin = district.admin()
    with admin.connect() as root:
        victim = root.execute(sa.text("SELECT id, session_id FROM checkin WHERE centre_id = :c "
                                      "LIMIT 1"), {"c": theirs}).one()
        own = root.execute(sa.text("SELECT id FROM checkin WHERE centre_id = :c LIMIT 1"),
                           {"c": synced["HN01"]}).scalar_one()
        own_incident = root.execute(sa.text("SELECT id FROM incident WHERE centre_id = :c"),
                                    {"c": synced["HN01"]}).scalar_one()
    with as_hn01.begin() as conn:  # invisible rows cannot be updated: 0 rows
        assert conn.execute(sa.text("UPDATE checkin SET decision = 'ADMIT' WHERE id = :i"),
                            {"i": victim.id}).rowcount == 0
        # Blobs go only through the retention function: only its own, only purged ones.
        blobs = list(conn.execute(sa.text("SELECT id FROM evidence_blob")).scalars())
        assert conn.execute(sa.text("SELECT examdesk_purge_blobs(:ids)"),
                            {"ids": blobs}).scalar_one() == 0
    _refused(as_hn01, "DELETE FROM evidence_blob")
    # Writing a row in another centre's name: refused by the policy's WITH CHECK.
    message = _refused(as_hn01, "INSERT INTO incident_checkin (id, centre_id, incident_id, "
                       "checkin_id, created_at, updated_at) VALUES (:i, :c, :inc, :ck, now(), "
                       "now())", i=uuid.uuid4(), c=theirs, inc=own_incident, ck=victim.id)
    assert "row-level security" in message
    # Moving one's own row to another centre: refused too.
    _refused(as_hn01, "UPDATE checkin SET centre_id = :c WHERE id = :i", i=own, c=theirs)
    # History is fixed: no deleting or rewriting audit events, no changing what the machine
    # decided, no deciding one's own incident.
    _refused(as_hn01, "DELETE FROM audit_event")
    _refused(as_hn01, "UPDATE audit_event SET payload = '{}'")
    _refused(as_hn01, "UPDATE checkin SET machine_decision = 'ADMIT' WHERE id = :i", i=own)
    _refused(as_hn01, "UPDATE incident SET status = 'DISMISSED'")
    _refused(as_hn01, "INSERT INTO review_notice (id, centre_id, seq, incident_id, status, "
             "reviewer, reviewed_at, created_at, updated_at) VALUES (:i, :c, 999, :inc, "
             "'DISMISSED', 'me', now(), now(), now())", i=uuid.uuid4(), c=synced["HN01"],
             inc=own_incident)
    # Nor registering as another centre, nor another installation as itself.
    _refused(as_hn01, "SELECT examdesk_claim_centre(:i, 'x', 'HP02', NULL)", i=uuid.uuid4())
    _refused(as_hn01, "SELECT examdesk_claim_centre(:i, 'x', 'HN01', NULL)", i=uuid.uuid4())
    admin.dispose()


def test_the_office_reads_everything_and_writes_only_reviews(
        district: DistrictEnv, synced: dict[str, uuid.UUID]) -> None:
    office = _engine(district, OFFICE_ROLE, OFFICE_PASSWORD)
    try:
        with office.connect() as conn:
            assert conn.execute(sa.text("SELECT count(DISTINCT centre_id) FROM checkin")
                                ).scalar_one() == 2
            assert conn.execute(sa.text("SELECT count(*) FROM evidence_blob")).scalar_one() == 12
        # Not a centre's data, not a centre's chain.
        _refused(office, "UPDATE checkin SET decision = 'ADMIT'")
        _refused(office, "DELETE FROM evidence")
        _refused(office, "INSERT INTO audit_event (id, centre_id, seq, occurred_at, actor, "
                 "action, subject_id, payload, prev_hash, hash) VALUES (:i, :c, 99, now(), "
                 "'x', 'x', :i, '{}', 'x', 'x')", i=uuid.uuid4(), c=synced["HN01"])
        with office.begin() as conn:
            assert conn.execute(sa.text("UPDATE audit_head SET seq = 0 WHERE centre_id = :c"),
                                {"c": synced["HN01"]}).rowcount == 0
            assert conn.execute(sa.text(
                "UPDATE incident SET status = 'CONFIRMED', reviewer_notes = 'ok' "
                "WHERE centre_id = :c"), {"c": synced["HP02"]}).rowcount == 1
    finally:
        office.dispose()


def test_a_centre_password_opens_only_that_centre(district: DistrictEnv,
                                                  synced: dict[str, uuid.UUID]) -> None:
    with pytest.raises(DBAPIError):
        _engine(district, "centre_hn01", district.centre_passwords["HP02"]).connect()


def test_every_table_has_row_level_security(district: DistrictEnv) -> None:
    engine = district.admin()
    with engine.connect() as conn:
        flags: dict[str, bool] = dict(conn.execute(sa.text(
            "SELECT relname, relrowsecurity FROM pg_class WHERE relkind = 'r' AND "
            "relnamespace = 'public'::regnamespace AND relname <> 'alembic_version'")).all())
    engine.dispose()
    assert set(flags) == set(SQLModel.metadata.tables)
    assert [name for name, on in flags.items() if not on] == []


def _ids_of(root: sa.Connection, centre: uuid.UUID) -> dict[str, uuid.UUID]:
    """One row of each linked table of ``centre``, read as the database owner."""
    one = {name: root.execute(sa.text(f"SELECT id FROM {name} WHERE centre_id = :c "
                                      "ORDER BY id LIMIT 1"), {"c": centre}).scalar_one()
           for name in ("exam_session", "checkin", "incident", "evidence", "roster_entry",
                        "candidate", "station")}
    # An evidence row whose blob the centre already sent: the blob's primary key is taken.
    one["evidence_blob"] = root.execute(sa.text(
        "SELECT id FROM evidence_blob WHERE centre_id = :c ORDER BY id LIMIT 1"),
        {"c": centre}).scalar_one()
    return one


@pytest.mark.parametrize("me", ["HN01", "HP02"])
def test_a_centre_cannot_link_its_rows_to_another_centres_rows(
        district: DistrictEnv, synced: dict[str, uuid.UUID], me: str) -> None:
    """Foreign keys are checked without row-level security: each link's far end must be the
    writer's own row too (issue 11, item 6). Raw SQL under each centre's own login."""
    other = next(c for c in synced if c != me)
    admin = district.admin()
    with admin.connect() as root:
        mine, theirs = _ids_of(root, synced[me]), _ids_of(root, synced[other])
    admin.dispose()
    engine = _engine(district, f"centre_{me.lower()}", district.centre_passwords[me])
    c = synced[me]
    link = ("INSERT INTO incident_checkin (id, centre_id, incident_id, checkin_id, created_at, "
            "updated_at) VALUES (:i, :c, :inc, :ck, now(), now())")
    evidence = ("INSERT INTO evidence (id, centre_id, session_id, checkin_id, incident_id, kind, "
                "media_type, size, captured_at, retain_until, created_at, updated_at) VALUES "
                "(:i, :c, :s, :ck, :inc, 'LIVE_FRAME', 'image/jpeg', 1, now(), now(), now(), "
                "now())")
    blob = ("INSERT INTO evidence_blob (id, centre_id, key_id, nonce, ciphertext, created_at, "
            "updated_at) VALUES (:i, :c, 'k', '\\x00', '\\x00', now(), now())")
    try:
        # Its own incident, the other centre's check-in: the link the review named.
        _refused(engine, link, i=uuid.uuid4(), c=c, inc=mine["incident"], ck=theirs["checkin"])
        _refused(engine, link, i=uuid.uuid4(), c=c, inc=theirs["incident"], ck=mine["checkin"])
        # Evidence filed under the other centre's check-in, incident or session.
        _refused(engine, evidence, i=uuid.uuid4(), c=c, s=mine["exam_session"],
                 ck=theirs["checkin"], inc=None)
        _refused(engine, evidence, i=uuid.uuid4(), c=c, s=mine["exam_session"], ck=None,
                 inc=theirs["incident"])
        _refused(engine, evidence, i=uuid.uuid4(), c=c, s=theirs["exam_session"],
                 ck=mine["checkin"], inc=None)
        # A blob for the other centre's evidence row (whose own blob is there: no primary-key
        # conflict shows through, the policy refuses first, as for an id nobody has).
        taken = _refused(engine, blob, i=theirs["evidence_blob"], c=c)
        free = _refused(engine, blob, i=uuid.uuid4(), c=c)
        assert "row-level security" in taken and "row-level security" in free
        # A roster line for the other centre's candidate.
        _refused(engine, "INSERT INTO roster_entry (id, centre_id, session_id, candidate_id, "
                 "registration_number, created_at, updated_at) VALUES (:i, :c, :s, :cand, "
                 "'X1', now(), now())", i=uuid.uuid4(), c=c, s=mine["exam_session"],
                 cand=theirs["candidate"])
        # A station chain event on the other centre's station; a seat of the other centre's
        # session; an acknowledgement of the other centre's incident (issues 17, 18).
        _refused(engine, "INSERT INTO station_audit_event (id, centre_id, station_id, seq, "
                 "occurred_at, actor, action, subject_id, payload, prev_hash, hash) VALUES "
                 "(:i, :c, :s, 99, now(), 'x', 'x', :i, '{}', 'x', 'x')", i=uuid.uuid4(), c=c,
                 s=theirs["station"])
        _refused(engine, "INSERT INTO seat_agent (id, centre_id, session_id, seat, state, "
                 "created_at, updated_at) VALUES (:i, :c, :s, 'Z9', 'WAITING', now(), now())",
                 i=uuid.uuid4(), c=c, s=theirs["exam_session"])
        _refused(engine, "INSERT INTO incident_ack (id, centre_id, incident_id, note, actor, "
                 "acked_at, created_at, updated_at) VALUES (:i, :c, :inc, 'x', 'x', now(), "
                 "now(), now())", i=uuid.uuid4(), c=c, inc=theirs["incident"])
        # One's own check-in moved under the other centre's session (an UPDATE re-checks).
        _refused(engine, "UPDATE checkin SET session_id = :s WHERE id = :ck",
                 s=theirs["exam_session"], ck=mine["checkin"])
        # The same links within its own centre still go in (rolled back afterwards).
        with engine.connect() as conn, conn.begin() as tx:
            conn.execute(sa.text(evidence), {"i": uuid.uuid4(), "c": c,
                                             "s": mine["exam_session"], "ck": mine["checkin"],
                                             "inc": mine["incident"]})
            free_checkin = conn.execute(sa.text(
                "SELECT id FROM checkin WHERE id NOT IN (SELECT checkin_id FROM "
                "incident_checkin WHERE incident_id = :inc) LIMIT 1"),
                {"inc": mine["incident"]}).scalar_one()
            conn.execute(sa.text(link), {"i": uuid.uuid4(), "c": c, "inc": mine["incident"],
                                         "ck": free_checkin})
            tx.rollback()
    finally:
        engine.dispose()
    # Nothing of the other centre's is held or shown through a link of ours.
    assert district.count("incident_checkin", f"checkin_id = '{theirs['checkin']}' AND "
                          f"centre_id = '{c}'") == 0
    assert district.count("evidence", f"checkin_id = '{theirs['checkin']}' AND "
                          f"centre_id = '{c}'") == 0


def test_the_office_links_proxy_cases_across_centres_but_nothing_else(
        district: DistrictEnv, synced: dict[str, uuid.UUID]) -> None:
    """The office's own proxy incident may link any centre's check-in (that is its job); its
    review notices and screen marks must name the centre the row really belongs to."""
    admin = district.admin()
    with admin.connect() as root:
        hn, hp = _ids_of(root, synced["HN01"]), _ids_of(root, synced["HP02"])
    admin.dispose()
    office = _engine(district, OFFICE_ROLE, OFFICE_PASSWORD)
    try:
        _refused(office, "INSERT INTO review_notice (id, centre_id, seq, incident_id, status, "
                 "reviewer, reviewed_at, created_at, updated_at) VALUES (:i, :c, 999, :inc, "
                 "'DISMISSED', 'me', now(), now(), now())", i=uuid.uuid4(), c=synced["HN01"],
                 inc=hp["incident"])
        _refused(office, "INSERT INTO proxy_screen (id, centre_id, faces, screened_at, "
                 "created_at, updated_at) VALUES (:ck, :c, 1, now(), now(), now())",
                 ck=hp["checkin"], c=synced["HN01"])
        # A link row of the office's must hang off an incident of the office's.
        _refused(office, "INSERT INTO incident_checkin (id, centre_id, incident_id, checkin_id, "
                 "created_at, updated_at) VALUES (:i, (SELECT examdesk_office_centre_id()), "
                 ":inc, :ck, now(), now())", i=uuid.uuid4(), inc=hn["incident"],
                 ck=hp["checkin"])
    finally:
        office.dispose()
