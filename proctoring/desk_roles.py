"""One PostgreSQL login per desk on the centre's database (issue 17): a station writes only its
own audit chain, enforced by PostgreSQL itself.

With one shared login, a desk's database password lets it append to, or move the head of,
another station's chain: ``audit verify`` would catch a forged event by its signature, but a
stolen laptop could still wipe a colleague's unsynced tail or wedge its head. Here each desk
logs in as its own role, a member of the group ``examdesk_desk``:

- every table the app uses: SELECT, INSERT, UPDATE, DELETE, as with the shared login;
- ``station``: a desk inserts only a row bound to its own login (``db_role = current_user``,
  which ``enrol`` writes) and updates only the columns approval and revocation change — never
  a station's keys, centre or login — and never its own row once it is revoked;
- ``station_audit_event`` / ``station_audit_checkpoint``: read every chain (``audit verify``,
  the district sync), insert only into the chain of a station bound to its own login and not
  revoked; no update, no delete;
- ``station_audit_head``: the same, and move only its own head.

- the centre's own chain (``audit_event``, ``audit_checkpoint``, ``audit_head``): read and
  append, never update or delete an event or signature. It stays shared: the centre key's own
  events (the first desk's self-approval, key rotations) go there, written by whichever desk
  holds that key.
- ``checkin``, ``incident``, ``evidence``: a desk inserts only rows its own station's chain
  records — in the same transaction, an event of its station (bound to its login, not
  revoked) whose subject is the new check-in or incident (for evidence: the check-in or
  incident it belongs to). The app writes that event with every such row (``checkin.recorded``,
  ``incident.opened``), signed with the station's key; a constraint trigger checks it at commit
  (:data:`STAMPED_TABLES`). So a desk's raw INSERT is refused unless it also signs it onto its
  own chain, where ``audit verify`` checks the signature, and a revoked desk inserts nothing.
  Updates (an override, a review) and deletes (the purge) stay open to every desk login.

The database owner (the admin's login, which runs migrations) keeps every right: row-level
security does not apply to a table's owner.

Run as the owner: :func:`apply_desk_roles` (idempotent: again after an upgrade),
:func:`add_desk_login` per desk, :func:`bind_station` for a station enrolled under another
login (or before this existed).
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from sqlmodel import SQLModel

from .central import central_engine, central_errors, central_url, safe_url
from .district import Credentials, _login_role
from .errors import InvalidInput
from .station_errors import StationNotFound

DESK_GROUP = "examdesk_desk"
_CHAINS = ("station_audit_event", "station_audit_checkpoint", "station_audit_head")
_CENTRE_CHAIN = ("audit_event", "audit_checkpoint", "audit_head")
# What approving and revoking a station change (stations.py); never its keys or login.
_STATION_UPDATES = ("name", "stages", "status", "approved_by", "approved_at", "revoked_by",
                    "revoked_at", "revoke_reason", "updated_at")
# A station's chain is written only by its own login, and not once it is revoked (a stolen
# laptop keeps its login until the admin drops it).
_MINE = ("station_id IN (SELECT s.id FROM station s WHERE s.db_role = current_user "
         "AND s.status <> 'REVOKED')")
# A desk approves and revokes other stations; its own row it may change only while it is not
# revoked (the first desk approves itself at enrolment), so it never un-revokes itself.
_ROW = "db_role IS DISTINCT FROM current_user OR status <> 'REVOKED'"
_POLICIES = ("desk_read", "desk_insert", "desk_update")
# Rows a desk login inserts only with its own station's event about them (see the docstring).
STAMPED_TABLES = ("checkin", "incident", "evidence")
_STAMPED = "examdesk_desk_stamped"
_STAMPED_FUNCTION = f"""CREATE OR REPLACE FUNCTION {_STAMPED}() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE subjects uuid[];
BEGIN
    -- The database owner (the admin, the migrations) is no desk: not checked.
    IF NOT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                   JOIN pg_roles u ON u.oid = m.member
                   WHERE g.rolname = '{DESK_GROUP}' AND u.rolname = current_user) THEN
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'evidence' THEN
        subjects := ARRAY[NEW.checkin_id, NEW.incident_id];
    ELSE
        subjects := ARRAY[NEW.id];
    END IF;
    IF NOT EXISTS (SELECT 1 FROM station_audit_event e JOIN station s ON s.id = e.station_id
                   WHERE e.subject_id = ANY (subjects) AND s.db_role = current_user
                   AND s.status <> 'REVOKED') THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = 'a desk login inserts only ' || TG_TABLE_NAME
                      || ' rows its own station''s chain records';
    END IF;
    RETURN NULL;
END $fn$"""


def desk_role_statements() -> list[str]:
    """The statements :func:`apply_desk_roles` runs (no "%": the driver would read a
    placeholder)."""
    out = [f"""DO $$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{DESK_GROUP}') THEN
            CREATE ROLE {DESK_GROUP} NOLOGIN;
        END IF; END $$""",
           "DO $$ BEGIN EXECUTE 'GRANT CONNECT ON DATABASE ' || quote_ident(current_database()) "
           f"|| ' TO {DESK_GROUP}'; END $$",
           f"GRANT USAGE ON SCHEMA public TO {DESK_GROUP}",
           f"GRANT SELECT ON alembic_version TO {DESK_GROUP}"]
    for t in SQLModel.metadata.sorted_tables:
        name = t.name
        out.append(f"REVOKE ALL ON {name} FROM {DESK_GROUP}")
        out += [f"DROP POLICY IF EXISTS {p} ON {name}" for p in _POLICIES]
        if name == "station":
            out += [f"GRANT SELECT, INSERT ON station TO {DESK_GROUP}",
                    f"GRANT UPDATE ({', '.join(_STATION_UPDATES)}) ON station TO {DESK_GROUP}",
                    "ALTER TABLE station ENABLE ROW LEVEL SECURITY",
                    f"CREATE POLICY desk_read ON station FOR SELECT TO {DESK_GROUP} USING (true)",
                    f"CREATE POLICY desk_insert ON station FOR INSERT TO {DESK_GROUP} "
                    "WITH CHECK (db_role = current_user)",
                    f"CREATE POLICY desk_update ON station FOR UPDATE TO {DESK_GROUP} "
                    f"USING ({_ROW}) WITH CHECK (true)"]
        elif name in _CHAINS:
            out += [f"GRANT SELECT, INSERT ON {name} TO {DESK_GROUP}",
                    f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY",
                    f"CREATE POLICY desk_read ON {name} FOR SELECT TO {DESK_GROUP} "
                    "USING (true)",
                    f"CREATE POLICY desk_insert ON {name} FOR INSERT TO {DESK_GROUP} "
                    f"WITH CHECK ({_MINE})"]
            if name == "station_audit_head":
                out += [f"GRANT UPDATE (seq, hash, updated_at) ON {name} TO {DESK_GROUP}",
                        f"CREATE POLICY desk_update ON {name} FOR UPDATE TO {DESK_GROUP} "
                        f"USING ({_MINE}) WITH CHECK ({_MINE})"]
        elif name in _CENTRE_CHAIN:
            # The centre's own chain is append-only for every desk: its head moves, its events
            # and signatures are never rewritten or removed (the app never does either).
            out.append(f"GRANT SELECT, INSERT ON {name} TO {DESK_GROUP}")
            if name == "audit_head":
                out.append(f"GRANT UPDATE (seq, hash, updated_at) ON {name} TO {DESK_GROUP}")
        else:
            out.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {DESK_GROUP}")
    out.append(_STAMPED_FUNCTION)
    for name in STAMPED_TABLES:
        # Checked at commit: the app inserts the row first and its chain's event after it.
        out += [f"DROP TRIGGER IF EXISTS {_STAMPED} ON {name}",
                f"CREATE CONSTRAINT TRIGGER {_STAMPED} AFTER INSERT ON {name} "
                f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {_STAMPED}()"]
    return out


def apply_desk_roles(admin_url: str) -> None:
    """Make the desk group and its rights on the centre database (run as its owner)."""
    url = central_url(admin_url)
    engine = central_engine(url)
    try:
        with central_errors(safe_url(url)), engine.begin() as conn:
            for statement in desk_role_statements():
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def add_desk_login(admin_url: str, role: str, *, password: str | None = None) -> Credentials:
    """A login for one desk (made, or given a new password), a member of the desk group."""
    url = central_url(admin_url)
    engine = central_engine(url)
    try:
        return _login_role(engine, url, role, password, DESK_GROUP)
    finally:
        engine.dispose()


def bind_station(admin_url: str, station: str, role: str) -> str:
    """Bind a station (its exact name or id) to the login of its desk — a station enrolled
    before the desk had its own login, or under the owner's: from then on only ``role``
    writes its chain. Returns the station's name."""
    url = central_url(admin_url)
    engine = central_engine(url)
    ref = " ".join(unicodedata.normalize("NFC", station).split())
    try:
        with central_errors(safe_url(url)), engine.begin() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"),
                                  {"r": role}).first()
            if exists is None:
                raise InvalidInput(f"no database login {role!r}", field="role")
            found = conn.execute(sa.text(
                "UPDATE station SET db_role = :r WHERE name = :s OR id::text = lower(:s) "
                "RETURNING name"), {"r": role, "s": ref}).scalars().all()
            if len(found) != 1:
                raise StationNotFound(f"no single station {ref!r}", ref=ref)
            return str(found[0])
    finally:
        engine.dispose()
