"""One PostgreSQL login per desk on the centre's database (issue 17): what a desk's login may
do is decided by PostgreSQL itself, so a desk — the insider, with its own database password and
raw SQL — cannot rewrite or delete other desks' check-ins, incidents or evidence.

Each desk logs in as its own role, a member of the group ``examdesk_desk``. The group's rights
are one table, :data:`TABLE_RIGHTS`: per table, SELECT / INSERT / UPDATE (of which columns) /
DELETE; a table it does not list gets nothing. On top of the grants:

- ``station``: a desk inserts only a row bound to its own login (``db_role = current_user``,
  which ``enrol`` writes) and updates only the columns approval and revocation change — never
  a station's keys, centre or login — and never its own row once it is revoked;
- ``station_audit_event`` / ``station_audit_checkpoint`` / ``station_audit_head``: read every
  chain (``audit verify``, the district sync), append only to the chain of a station bound to
  its own login and not revoked, move only its own head; no update, no delete;
- the centre's own chain (``audit_event``, ``audit_checkpoint``, ``audit_head``): read and
  append, never rewrite or remove an event or a signature;
- ``checkin``, ``incident``, ``evidence``: no DELETE. A row is inserted, and a check-in or an
  incident updated (only the columns of :data:`STAMPED_UPDATES`: an override, a review, an
  incident's end), only together with an event of the desk's own station about that row,
  inserted in the same transaction (the event's ``xmin`` is the transaction's id) — checked at
  commit by DEFERRABLE INITIALLY DEFERRED constraint triggers (``examdesk_desk_stamped``,
  ``examdesk_desk_restamped``), because the app writes the row first and its event after it.
  The event is signed with the station's key, so ``audit verify`` checks it; a revoked station
  writes nothing;
- the retention purge: a desk sets ``evidence.purged_at`` (nothing else of the row) only once
  ``retain_until`` has passed (:data:`PURGE_SKEW` of clock skew between desk and server), never
  while an OPEN incident is about the evidence, and only with an ``evidence.purged`` event of
  its own station in the same transaction; ``evidence_blob`` rows are deleted only after their
  evidence row is purged (``examdesk_desk_blob_purged``);
- ``station_data_key``: a desk seals keys to stations; it never rewrites one, and removes them
  only once their station is revoked (``examdesk_desk_key_removed``).

The database owner (the admin's login, which runs migrations) and superusers keep every right:
row-level security does not apply to a table's owner and the triggers let them through.

Run as the owner: :func:`apply_desk_roles` (idempotent), :func:`add_desk_login` per desk (it
applies the rights first), :func:`bind_station` for a station enrolled under another login (or
before this existed). :func:`reapply_desk_roles` runs on every upgrade the owner migrates
(``Store.catch_up``), so a new table gets the rights its entry lists at once (none without
one: a test keeps every table of the schema listed) and changed trigger bodies replace the old.

Table, column, role and group names go into the statements through psycopg's
``sql.Identifier``/``sql.Literal`` quoting, never string formatting; the trigger bodies are
fixed text made only of this module's constants. They run on the raw psycopg connection, so a
"%" is never read as a placeholder.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

import sqlalchemy as sa
from sqlmodel import SQLModel

from .central import central_engine, central_errors, central_url, safe_url
from .district import Credentials, _login_role
from .errors import InvalidInput
from .station_errors import StationNotFound

if TYPE_CHECKING:
    from psycopg import sql

DESK_GROUP = "examdesk_desk"
ALL_COLUMNS: Literal["*"] = "*"


@dataclass(frozen=True)
class TableRights:
    """What a desk login may do to one table. ``update``: the columns it may set (``ALL_COLUMNS``
    for every one); ``rls``: the table has row-level policies for the desk group below."""

    select: bool = True
    insert: bool = False
    update: tuple[str, ...] | Literal["*"] = ()
    delete: bool = False
    rls: bool = False

    def privileges(self) -> list[str]:
        return [p for p, on in (("SELECT", self.select), ("INSERT", self.insert),
                                ("DELETE", self.delete)) if on]


# What approving and revoking a station change (stations.py); never its keys or login.
_STATION_UPDATES = ("name", "stages", "status", "approved_by", "approved_at", "revoked_by",
                    "revoked_at", "revoke_reason", "updated_at")
_HEAD_UPDATES = ("seq", "hash", "updated_at")
# The columns a desk may change in a check-in or an incident, each change only together with
# its own station's signed event about the row: an override (checkins.record_override), a
# review (checkins.review_incident, the office's notices in sync._apply_notices), an incident's
# end (seat_store.record_closed). Never the machine's decision, the evidence or the candidate.
STAMPED_UPDATES: Mapping[str, tuple[str, ...]] = {
    "checkin": ("decision", "overridden_at", "overridden_by_id", "override_reason",
                "updated_at"),
    "incident": ("status", "reviewer_notes", "reviewed_by_id", "reviewed_at", "ended_at",
                 "updated_at"),
}
# Rows a desk login inserts only with its own station's event about them.
STAMPED_TABLES = ("checkin", "incident", "evidence")
_PURGE_UPDATES = ("purged_at", "updated_at")
# A desk purges on its own clock (store.now()); the server's may lag it by this much.
PURGE_SKEW = timedelta(minutes=10)

_PLAIN = TableRights(insert=True, update=ALL_COLUMNS)
TABLE_RIGHTS: Mapping[str, TableRights] = {
    # The centre's roster and set-up: the app reads and writes them as one login did; no desk
    # deletes (the app never does).
    "centre": _PLAIN, "app_user": _PLAIN, "candidate": _PLAIN, "centre_key": _PLAIN,
    "exam_session": _PLAIN, "roster_entry": _PLAIN, "face_calibration": _PLAIN,
    "key_record": _PLAIN, "sync_state": _PLAIN, "station_sync_state": _PLAIN,
    "seat_consent": _PLAIN, "seat_agent": _PLAIN, "proxy_screen": _PLAIN,
    "district": _PLAIN, "district_member": _PLAIN, "review_notice": _PLAIN,
    "incident_ack": _PLAIN,
    # Revoking a station removes the data keys sealed to it (stations.revoke): deleted only
    # once the station is revoked, never rewritten (another desk's sealed key overwritten or
    # removed would lock it out of the evidence).
    "station_data_key": TableRights(insert=True, delete=True),
    "station": TableRights(insert=True, update=_STATION_UPDATES, rls=True),
    "station_audit_event": TableRights(insert=True, rls=True),
    "station_audit_checkpoint": TableRights(insert=True, rls=True),
    "station_audit_head": TableRights(insert=True, update=_HEAD_UPDATES, rls=True),
    # The centre's own chain is append-only for every desk: its head moves, its events and
    # signatures are never rewritten or removed (the app never does either). It stays shared:
    # the centre key's own events (the first desk's self-approval, key rotations) go there.
    "audit_event": TableRights(insert=True),
    "audit_checkpoint": TableRights(insert=True),
    "audit_head": TableRights(insert=True, update=_HEAD_UPDATES),
    "checkin": TableRights(insert=True, update=STAMPED_UPDATES["checkin"]),
    "incident": TableRights(insert=True, update=STAMPED_UPDATES["incident"]),
    "incident_checkin": TableRights(insert=True),
    "evidence": TableRights(insert=True, update=_PURGE_UPDATES),
    "evidence_blob": TableRights(insert=True, delete=True),  # delete: only once purged
    "alembic_version": TableRights(),
}

# A station's chain is written only by its own login, and not once it is revoked (a stolen
# laptop keeps its login until the admin drops it).
_MINE = ("station_id IN (SELECT s.id FROM public.station s WHERE s.db_role = current_user "
         "AND s.status <> 'REVOKED')")
# A desk approves and revokes other stations; its own row it may change only while it is not
# revoked (the first desk approves itself at enrolment), so it never un-revokes itself.
_ROW = "db_role IS DISTINCT FROM current_user OR status <> 'REVOKED'"
_POLICIES = ("desk_read", "desk_insert", "desk_update")

_STAMPED = "examdesk_desk_stamped"
_RESTAMPED = "examdesk_desk_restamped"
_BLOB = "examdesk_desk_blob_purged"
_KEY_REMOVED = "examdesk_desk_key_removed"
_CHECKED = "examdesk_desk_checked"
# Every function pins its search_path with pg_temp last: a desk may create temporary tables,
# and an unqualified "station_audit_event" would otherwise find the desk's own one first.
_PATH = "SET search_path = pg_catalog, public, pg_temp"
# Whether a trigger applies to the current login: everyone but superusers and the owner of the
# table (the admin, the migrations) — deny by default, not "only members of the desk group".
_CHECKED_FUNCTION = f"""CREATE OR REPLACE FUNCTION public.{_CHECKED}(tab oid) RETURNS boolean
LANGUAGE sql STABLE {_PATH} AS $fn$
    SELECT NOT (r.rolsuper OR pg_has_role(current_user, c.relowner, 'MEMBER'))
      FROM pg_roles r, pg_class c WHERE r.rolname = current_user AND c.oid = tab
$fn$"""
# An event of the current login's own (not revoked) station, inserted by this transaction.
_OWN_EVENT = """EXISTS (SELECT 1 FROM public.station_audit_event e
                        JOIN public.station s ON s.id = e.station_id
                       WHERE s.db_role = current_user AND s.status <> 'REVOKED'
                         AND e.xmin = pg_current_xact_id()::xid AND {cond})"""
_STAMPED_FUNCTION = f"""CREATE OR REPLACE FUNCTION public.{_STAMPED}() RETURNS trigger
LANGUAGE plpgsql {_PATH} AS $fn$
DECLARE subjects uuid[];
BEGIN
    IF NOT public.{_CHECKED}(TG_RELID) THEN
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'evidence' THEN
        subjects := ARRAY[NEW.checkin_id, NEW.incident_id];
    ELSE
        subjects := ARRAY[NEW.id];
    END IF;
    IF NOT {_OWN_EVENT.format(cond="e.subject_id = ANY (subjects)")} THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = 'a desk login inserts only ' || TG_TABLE_NAME
                      || ' rows its own station''s chain records in the same transaction';
    END IF;
    RETURN NULL;
END $fn$"""
_RESTAMPED_FUNCTION = f"""CREATE OR REPLACE FUNCTION public.{_RESTAMPED}() RETURNS trigger
LANGUAGE plpgsql {_PATH} AS $fn$
BEGIN
    IF NOT public.{_CHECKED}(TG_RELID) THEN
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME <> 'evidence' THEN
        IF NOT {_OWN_EVENT.format(cond="e.subject_id = NEW.id")} THEN
            RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
                MESSAGE = 'a desk login changes a ' || TG_TABLE_NAME
                          || ' row only with its own station''s event about it';
        END IF;
        RETURN NULL;
    END IF;
    -- Evidence: the retention purge is the only change a desk makes.
    IF OLD.purged_at IS NOT NULL OR NEW.purged_at IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = 'a desk login only purges evidence, once';
    END IF;
    IF OLD.retain_until > now() + interval '{int(PURGE_SKEW.total_seconds())} seconds' THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = 'evidence is purged only past its retain_until';
    END IF;
    IF EXISTS (SELECT 1 FROM public.incident i WHERE i.status = 'OPEN'
                  AND (i.id = OLD.incident_id
                       OR i.id IN (SELECT l.incident_id FROM public.incident_checkin l
                                    WHERE l.checkin_id = OLD.checkin_id))) THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = 'evidence an open incident is about is not purged';
    END IF;
    -- The purge's event is about the centre (evidence.purge_evidence): found through the
    -- subject index, not by scanning every event of the chain once per purged row.
    IF NOT {_OWN_EVENT.format(cond="e.subject_id = OLD.centre_id "
                                   "AND e.action = 'evidence.purged'")} THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = 'a desk login purges evidence only with its own evidence.purged event';
    END IF;
    RETURN NULL;
END $fn$"""


@dataclass(frozen=True)
class _DeleteGuard:
    """A BEFORE DELETE trigger on ``table``: a checked login deletes a row only while the
    row (``OLD``) meets ``allowed``, a fixed SQL condition of this module; else 42501 with
    ``refusal``."""

    table: str
    function: str
    allowed: str
    refusal: str


_DELETE_GUARDS = (
    _DeleteGuard("evidence_blob", _BLOB,
                 "SELECT 1 FROM public.evidence e WHERE e.id = OLD.id AND e.purged_at IS NOT NULL",
                 "a desk login deletes a blob only after its evidence row is purged"),
    _DeleteGuard("station_data_key", _KEY_REMOVED,
                 "SELECT 1 FROM public.station s WHERE s.id = OLD.station_id\n"
                 "               AND s.status = 'REVOKED'",
                 "a desk login removes a sealed data key only of a revoked station"),
)
_DELETE_GUARD_FUNCTION = """CREATE OR REPLACE FUNCTION {function}() RETURNS trigger
LANGUAGE plpgsql {path} AS $fn$
BEGIN
    IF {checked}(TG_RELID) AND NOT EXISTS (
            {allowed}) THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = {refusal};
    END IF;
    RETURN OLD;
END $fn$"""


def _delete_guard_function(guard: _DeleteGuard) -> sql.Composed:
    from psycopg import sql

    return sql.SQL(_DELETE_GUARD_FUNCTION).format(
        function=sql.Identifier("public", guard.function), path=sql.SQL(_PATH),
        checked=sql.Identifier("public", _CHECKED), allowed=sql.SQL(guard.allowed),
        refusal=sql.Literal(guard.refusal))


def desk_role_statements(tables: list[str] | None = None) -> list[sql.Composable]:
    """The statements :func:`apply_desk_roles` runs, for ``tables`` (default: every table of
    the schema). A table without an entry in :data:`TABLE_RIGHTS` gets nothing."""
    from psycopg import sql

    group = sql.Identifier(DESK_GROUP)
    out: list[sql.Composable] = [
        sql.SQL("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {}) THEN "
                "CREATE ROLE {} NOLOGIN; END IF; END $$").format(sql.Literal(DESK_GROUP), group),
        sql.SQL("DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', "
                "current_database(), {}); END $$").format(sql.Literal(DESK_GROUP)),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(group),
        sql.SQL(_CHECKED_FUNCTION), sql.SQL(_STAMPED_FUNCTION),
        sql.SQL(_RESTAMPED_FUNCTION), *map(_delete_guard_function, _DELETE_GUARDS)]
    names = tables if tables is not None else (
        [t.name for t in SQLModel.metadata.sorted_tables] + ["alembic_version"])
    names = sorted(names)
    for name in names:
        table = sql.Identifier(name)
        out.append(sql.SQL("REVOKE ALL ON {} FROM {}").format(table, group))
        out += [sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(p), table)
                for p in _POLICIES]
        rights = TABLE_RIGHTS.get(name)
        if rights is None:
            continue  # unlisted: nothing at all
        privileges = rights.privileges()
        if privileges:
            out.append(sql.SQL("GRANT {} ON {} TO {}").format(
                sql.SQL(", ").join(sql.SQL(p) for p in privileges), table, group))
        if rights.update == ALL_COLUMNS:
            out.append(sql.SQL("GRANT UPDATE ON {} TO {}").format(table, group))
        elif rights.update:
            out.append(sql.SQL("GRANT UPDATE ({}) ON {} TO {}").format(
                sql.SQL(", ").join(sql.Identifier(c) for c in rights.update), table, group))
        if rights.rls:
            out += _policies(name, table, group)
    for name in (n for n in STAMPED_TABLES if n in names):
        out += _trigger(name, _STAMPED, "INSERT")
    for name in (n for n in (*STAMPED_UPDATES, "evidence") if n in names):
        out += _trigger(name, _RESTAMPED, "UPDATE")
    for guard in (g for g in _DELETE_GUARDS if g.table in names):
        trigger, table = sql.Identifier(guard.function), sql.Identifier(guard.table)
        out += [sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(trigger, table),
                sql.SQL("CREATE TRIGGER {} BEFORE DELETE ON {} FOR EACH ROW "
                        "EXECUTE FUNCTION {}()").format(
                    trigger, table, sql.Identifier("public", guard.function))]
    return out


def _trigger(name: str, function: str, event: Literal["INSERT", "UPDATE"]
             ) -> list[sql.Composable]:
    """A constraint trigger checked at commit: the app writes the row first and its chain's
    event after it, in one transaction."""
    from psycopg import sql

    trigger, table = sql.Identifier(function), sql.Identifier(name)
    return [sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(trigger, table),
            sql.SQL("CREATE CONSTRAINT TRIGGER {} AFTER {} ON {} DEFERRABLE INITIALLY DEFERRED "
                    "FOR EACH ROW EXECUTE FUNCTION {}()").format(
                trigger, sql.SQL(event), table, sql.Identifier("public", function))]


def _policies(name: str, table: sql.Identifier, group: sql.Identifier) -> list[sql.Composable]:
    from psycopg import sql

    out: list[sql.Composable] = [
           sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(table),
           sql.SQL("CREATE POLICY desk_read ON {} FOR SELECT TO {} USING (true)").format(
               table, group)]
    if name == "station":
        out += [sql.SQL("CREATE POLICY desk_insert ON {} FOR INSERT TO {} "
                        "WITH CHECK (db_role = current_user)").format(table, group),
                sql.SQL("CREATE POLICY desk_update ON {} FOR UPDATE TO {} USING (" + _ROW
                        + ") WITH CHECK (true)").format(table, group)]
        return out
    out.append(sql.SQL("CREATE POLICY desk_insert ON {} FOR INSERT TO {} WITH CHECK ("
                       + _MINE + ")").format(table, group))
    if name == "station_audit_head":
        out.append(sql.SQL("CREATE POLICY desk_update ON {} FOR UPDATE TO {} USING (" + _MINE
                           + ") WITH CHECK (" + _MINE + ")").format(table, group))
    return out


def reapply_desk_roles(conn: sa.Connection) -> bool:
    """After the owner migrated: apply the desk rights again (a new table or column gets its
    rights, a changed trigger its new body) — only on a database the desk rights were applied
    to before and only as the tables' owner. Returns whether it applied them.

    The group is the cluster's, not the database's: its mere existence says nothing about this
    database (a district's database on the same server as a centre's must not get the desk
    triggers). The explicit CONNECT grant :func:`apply_desk_roles` gives the group is the
    database's own mark."""
    applies = conn.execute(sa.text(
        "SELECT EXISTS (SELECT 1 FROM pg_database d, aclexplode(d.datacl) a "
        "                JOIN pg_roles g ON g.oid = a.grantee "
        "               WHERE d.datname = current_database() AND g.rolname = :g) "
        "AND coalesce(pg_has_role(current_user, (SELECT relowner FROM pg_class "
        "WHERE oid = to_regclass('public.checkin')), 'MEMBER'), false)"),
        {"g": DESK_GROUP}).scalar()
    if not applies:
        return False
    apply_desk_roles_on(conn)
    return True


def apply_desk_roles_on(conn: sa.Connection) -> None:
    """Apply the rights in the caller's transaction, as the owner, to the tables the database
    has (an unlisted one — a table added by hand — has every desk right taken away)."""
    tables = list(conn.execute(sa.text(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
    with conn.connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
        for statement in desk_role_statements(tables):
            cursor.execute(statement)


def apply_desk_roles(admin_url: str) -> None:
    """Make the desk group and its rights on the centre database (run as its owner)."""
    url = central_url(admin_url)
    engine = central_engine(url)
    try:
        with central_errors(safe_url(url)), engine.begin() as conn:
            apply_desk_roles_on(conn)
    finally:
        engine.dispose()


def add_desk_login(admin_url: str, role: str, *, password: str | None = None) -> Credentials:
    """A login for one desk (made, or given a new password), a member of the desk group; the
    group's rights are (re)applied first, so the login never exists without them."""
    url = central_url(admin_url)
    engine = central_engine(url)
    try:
        with central_errors(safe_url(url)), engine.begin() as conn:
            apply_desk_roles_on(conn)
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
