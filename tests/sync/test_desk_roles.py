"""One login per desk on the centre's PostgreSQL (issue 17): the app works as before under each
desk's own login, and a desk — the insider, with its own database password and raw SQL — can
write only its own station's chain."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from proctoring import audit
from proctoring.station_errors import StationNotFound
from proctoring.stations import revoke

from .builders import ACTOR, admit, person, session_with_roster, unit
from .desk_logins import Centre


def test_a_desk_login_writes_only_its_own_stations_chain(centre: Centre) -> None:
    desks = centre.two_desks(people=3)
    a, b, centre_id = desks.a, desks.b, desks.centre_id
    session, entries = desks.session, desks.entries
    # The app works as before under each desk's own login.
    admit(a, session, entries[0], person(0)[0], unit(0))
    admit(b, session, entries[1], person(1)[0], unit(1))
    with a.read() as tx:
        ids = dict(tx.connection().execute(sa.text("SELECT name, id FROM station")).all())
        roles = dict(tx.connection().execute(sa.text("SELECT name, db_role FROM station")).all())
        head_a = tx.connection().execute(sa.text(
            "SELECT seq, hash FROM station_audit_head WHERE station_id = :s"),
            {"s": ids["Phòng lý thuyết"]}).one()
    assert roles == {"Phòng lý thuyết": centre.logins["a"].role, "Sân 1": centre.logins["b"].role}
    theirs, mine = ids["Phòng lý thuyết"], ids["Sân 1"]

    engine = centre.raw("b")  # desk b's password, raw SQL
    refused = [
        ("INSERT INTO station_audit_event (id, centre_id, station_id, seq, occurred_at, actor, "
         "action, subject_id, payload, prev_hash, hash) VALUES (:i, :c, :s, 999, now(), 'x', "
         "'x', :i, '{}', 'x', 'x')", {"i": uuid.uuid4(), "c": centre_id, "s": theirs}),
        ("INSERT INTO station_audit_head (id, centre_id, station_id, seq, hash, updated_at) "
         "VALUES (:i, :c, :s, 0, 'x', now())", {"i": uuid.uuid4(), "c": centre_id, "s": theirs}),
        ("INSERT INTO station_audit_checkpoint (id, centre_id, station_id, seq, hash, "
         "signed_at, public_key, signature) VALUES (:i, :c, :s, 1, 'x', now(), 'x', 'x')",
         {"i": uuid.uuid4(), "c": centre_id, "s": theirs}),
        ("UPDATE station_audit_event SET actor = 'x' WHERE station_id = :s", {"s": mine}),
        ("DELETE FROM station_audit_event WHERE station_id = :s", {"s": theirs}),
        ("DELETE FROM station_audit_checkpoint", {}),
        ("DELETE FROM station_audit_head", {}),
        ("UPDATE station SET db_role = current_user WHERE id = :s", {"s": theirs}),
        ("UPDATE station SET signing_public = repeat('0', 64) WHERE id = :s", {"s": theirs}),
        ("DELETE FROM station WHERE id = :s", {"s": theirs}),
        # The centre's own chain (the first desk's approval of itself is on it): append-only.
        ("DELETE FROM audit_event", {}),
        ("UPDATE audit_event SET actor = 'x'", {}),
        ("DELETE FROM audit_checkpoint", {}),
        ("UPDATE audit_checkpoint SET signature = 'x'", {}),
        ("DELETE FROM audit_head", {}),
        ("INSERT INTO station (id, centre_id, name, stages, signing_public, box_public, status, "
         "enrolled_by, enrolled_at, db_role, created_at, updated_at) VALUES (:i, :c, 'Giả', '', "
         "repeat('1', 64), repeat('2', 64), 'ACTIVE', 'x', now(), :r, now(), now())",
         {"i": uuid.uuid4(), "c": centre_id, "r": centre.logins["a"].role}),
    ]
    try:
        for sql, params in refused:
            with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
                conn.execute(sa.text(sql), params)
            assert getattr(caught.value.orig, "sqlstate", None) == "42501", sql
        with engine.begin() as conn:  # another station's head: not even found to update
            assert conn.execute(sa.text(
                "UPDATE station_audit_head SET seq = 0 WHERE station_id = :s"),
                {"s": theirs}).rowcount == 0
            # Its own head it may move (as its appends do): rolled back below.
            assert conn.execute(sa.text(
                "UPDATE station_audit_head SET seq = seq WHERE station_id = :s"),
                {"s": mine}).rowcount == 1
            # And it reads every chain, as audit verify and the sync need.
            assert conn.execute(sa.text(
                "SELECT count(*) FROM station_audit_event WHERE station_id = :s"),
                {"s": theirs}).scalar_one() >= 2
    finally:
        engine.dispose()
    with a.read() as tx:
        assert tuple(tx.connection().execute(sa.text(
            "SELECT seq, hash FROM station_audit_head WHERE station_id = :s"),
            {"s": theirs}).one()) == tuple(head_a)
        report = audit.verify(tx, a.keys)
    assert report.ok, [c.to_dict() for c in report.chains if not c.ok]

    # Revoked (a stolen laptop that kept its login): it can neither write its own chain any
    # more nor set its row back to active.
    revoke(a, centre_id=centre_id, ref="Sân 1", actor=ACTOR, reason="máy bị mất cắp")
    engine = centre.raw("b")
    try:
        with engine.begin() as conn:
            assert conn.execute(sa.text(
                "UPDATE station SET status = 'ACTIVE' WHERE id = :s"), {"s": mine}).rowcount == 0
            assert conn.execute(sa.text(
                "UPDATE station_audit_head SET seq = seq WHERE station_id = :s"),
                {"s": mine}).rowcount == 0
        with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO station_audit_event (id, centre_id, station_id, seq, occurred_at, "
                "actor, action, subject_id, payload, prev_hash, hash) VALUES (:i, :c, :s, 999, "
                "now(), 'x', 'x', :i, '{}', 'x', 'x')"),
                {"i": uuid.uuid4(), "c": centre_id, "s": mine})
        assert getattr(caught.value.orig, "sqlstate", None) == "42501"
    finally:
        engine.dispose()
    with a.read() as tx:
        assert tx.connection().execute(sa.text("SELECT status FROM station WHERE id = :s"),
                                       {"s": mine}).scalar_one() == "REVOKED"


def test_a_station_enrolled_under_the_owner_is_bound_to_its_desk_login(centre: Centre) -> None:
    from proctoring.desk_roles import bind_station

    centre_id, station = centre.enrol_under_owner(keys="b")
    engine = centre.raw("b")
    append = ("UPDATE station_audit_head SET seq = seq WHERE station_id = :s")
    try:
        with engine.begin() as conn:  # bound to the owner's login: not desk b's to write
            assert conn.execute(sa.text(append), {"s": station}).rowcount == 0
        with pytest.raises(StationNotFound):  # a name that is no station: nothing bound
            bind_station(centre.admin_url, "Cửa 9", centre.logins["b"].role)
        assert bind_station(centre.admin_url, "Cửa 1", centre.logins["b"].role) == "Cửa 1"
        with engine.begin() as conn:
            assert conn.execute(sa.text(append), {"s": station}).rowcount == 1
    finally:
        engine.dispose()
    from proctoring.stations import list_stations

    b = centre.desk("b")  # desk b writes as that station now, through the app
    session, entries = session_with_roster(b, "S1", [person(0)])
    admit(b, session, entries[0], person(0)[0], unit(0))
    assert [s.this_desk for s in list_stations(b, centre_id)] == [True]


def test_the_centre_admin_makes_a_desk_login_from_the_command_line(centre: Centre) -> None:
    import json

    from typer.testing import CliRunner

    from examdesk.cli import app

    centre.enrol_under_owner(keys="a")
    role = f"desk_cli_{secrets.token_hex(3)}"
    runner = CliRunner()
    done = runner.invoke(app, ["station", "db-login", role, "--admin-url", centre.admin_url,
                               "--station", "Cửa 1", "--lang", "vi"])
    assert done.exit_code == 0, done.output
    assert "EXAMDESK_DB_URL=" in done.output and "Cửa 1" in done.output
    assert "chỉ ghi được nhật ký của chính trạm mình" in done.output
    again = runner.invoke(app, ["station", "db-login", role, "--admin-url", centre.admin_url,
                                "--station", "Cửa 9", "--json"])
    assert again.exit_code != 0 and "station.not_found" in again.output
    made = runner.invoke(app, ["station", "db-login", role, "--admin-url", centre.admin_url,
                               "--json"])
    url = json.loads(made.output)["url"]
    engine = sa.create_engine(url, poolclass=NullPool)  # the printed address logs in
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT db_role FROM station")).scalar_one() == role
    finally:
        engine.dispose()


def _copy(conn: sa.Connection, table: str, old: uuid.UUID, new: uuid.UUID) -> None:
    """INSERT a copy of row ``old`` of ``table`` under the id ``new``, as raw SQL."""
    columns = [c for (c,) in conn.execute(sa.text(
        "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
        "ORDER BY ordinal_position"), {"t": table}).all()]
    picked = ", ".join(":new" if c == "id" else c for c in columns)
    conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {picked} "
                         f"FROM {table} WHERE id = :old"), {"new": new, "old": old})


_INCIDENT = ("INSERT INTO incident (id, centre_id, session_id, kind, severity, status, "
             "message_key, details, started_at, created_at, updated_at) VALUES (:i, :c, :s, "
             "'PROXY_SUSPECTED', 'HIGH', 'OPEN', 'x', '{}', now(), now(), now())")
_EVENT = ("INSERT INTO station_audit_event (id, centre_id, station_id, seq, occurred_at, "
          "actor, action, subject_id, payload, prev_hash, hash) VALUES (:e, :c, :s, :q, now(), "
          "'x', 'checkin.recorded', :i, '{}', 'x', 'x')")


def test_a_desk_login_inserts_only_rows_its_own_station_records(centre: Centre) -> None:
    """Check-ins, incidents and evidence: desk b's raw INSERT is refused at commit unless its
    own station's chain records the row in the same transaction (an event about it, which
    audit verify then checks); a row another station recorded is no cover; revoked, nothing."""
    from sqlmodel import select

    from proctoring.models import CheckIn, Evidence

    desks = centre.two_desks(people=3)
    a, b, centre_id = desks.a, desks.b, desks.centre_id
    session, entries = desks.session, desks.entries
    theirs = admit(a, session, entries[0], person(0)[0], unit(0))  # desk a's, signed on a's
    admit(b, session, entries[1], person(1)[0], unit(1))  # the app under b's login: as before
    with a.read() as tx:
        mine = tx.connection().execute(sa.text("SELECT id FROM station WHERE name = 'Sân 1'")
                                       ).scalar_one()
        evidence = tx.exec(select(Evidence.id).where(
            Evidence.checkin_id == theirs.checkin.id)).first()
    assert evidence is not None

    def refused(write: Callable[[sa.Connection], object]) -> None:
        with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
            write(conn)
        assert getattr(caught.value.orig, "sqlstate", None) == "42501"

    old = theirs.checkin.id
    engine = centre.raw("b")
    try:
        # A check-in, an incident, evidence for desk a's check-in: nothing of b's chain says so.
        refused(lambda c: _copy(c, "checkin", old, uuid.uuid4()))
        refused(lambda c: c.execute(sa.text(_INCIDENT), {"i": uuid.uuid4(), "c": centre_id,
                                                          "s": session.id}))
        refused(lambda c: _copy(c, "evidence", evidence, uuid.uuid4()))
        # Desk a's own event about the forged row is no cover for desk b (RLS keeps b off a's
        # chain anyway; here a's event for the copied row exists: its real check-in's).
        # With its own station's event about it, the row is b's, signed or forged on b's chain.
        stamped = uuid.uuid4()
        with engine.begin() as conn:
            _copy(conn, "checkin", old, stamped)
            head = conn.execute(sa.text("SELECT seq FROM station_audit_head "
                                        "WHERE station_id = :s"), {"s": mine}).scalar_one()
            conn.execute(sa.text(_EVENT), {"e": uuid.uuid4(), "c": centre_id, "s": mine,
                                           "q": head + 1, "i": stamped})
    finally:
        engine.dispose()
    with a.read() as tx:
        assert tx.get(CheckIn, stamped) is not None
        report = audit.verify(tx, a.keys)
    assert not report.ok  # the forged event breaks b's chain, and audit verify names it
    assert [c.station_name for c in report.chains if not c.ok] == ["Sân 1"]

    # Revoked: b's login inserts nothing more, even through the app's own path.
    revoke(a, centre_id=centre_id, ref="Sân 1", actor=ACTOR, reason="máy bị mất cắp")
    engine = centre.raw("b")
    try:
        refused(lambda c: _copy(c, "checkin", old, uuid.uuid4()))
    finally:
        engine.dispose()
    # The owner (the admin's login) is no desk: not checked.
    owner = sa.create_engine(centre.admin_url, poolclass=NullPool)
    try:
        with owner.begin() as conn:
            _copy(conn, "checkin", old, uuid.uuid4())
    finally:
        owner.dispose()
