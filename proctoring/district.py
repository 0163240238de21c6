"""The district's PostgreSQL database: its set-up, who may see what, and the office's view.

Access is enforced by PostgreSQL, not by examdesk:

- two group roles: ``examdesk_centre`` (every centre's login role is a member) and
  ``examdesk_office`` (the education office's login roles);
- row-level security on every table. A centre role sees and writes only rows whose
  ``centre_id`` is its own centre (``examdesk_centre_id()``: the centre its login role was
  registered for in ``district_member``); the office reads everything and writes only what
  reviewing needs (incident review columns, review notices, proxy incidents and its own audit
  chain);
- every link between centre rows is checked at both ends: a row a centre writes may point
  (foreign key) only at rows of the same centre — its evidence at its own check-ins, its
  incident links at its own incidents and check-ins, its blobs at its own evidence rows.
  PostgreSQL checks foreign keys without row-level security, so without this a centre could
  hold another centre's blobs past retention or file its picture in another dossier. Only the
  office's proxy incidents link check-ins across centres, which is what they are for;
- a primary key another centre already uses still fails an insert (PostgreSQL checks unique
  keys without row-level security), which confirms that the id exists. Ids are random UUIDs,
  so only an id a centre already knows can be confirmed this way; a blob's and a screen mark's
  id (= their parent's) fail the policy first, the same way as an id nobody has;
- column privileges on top: a centre may insert its rows but update only the columns listed in
  :data:`.outbox.MUTABLE` (a check-in's decision after an override, never its machine decision),
  may not update or delete audit events at all, and cannot read the office-only tables;
- a centre role registers its own centre row once, through ``examdesk_claim_centre`` (SECURITY
  DEFINER), and only under the code the office gave it.

``init_district`` runs as the database owner (a role with CREATEROLE), on the office's machine:
it migrates the schema, (re)applies roles, grants and policies (idempotent: run it again after
an upgrade), and creates the office's audit chain and X25519 key.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel, select

from .central import central_engine, central_errors, central_url, check_schema, safe_url, translate
from .centres import ensure_centre
from .crypto import DataKey, DataKeys, KeyStore, public_fingerprint
from .district_models import CentreKey, District, DistrictMember
from .errors import (
    InvalidInput,
    KeyMismatch,
    KeyMissing,
    KeyUnavailable,
    ProctoringError,
)
from .keywrap import DistrictDataKey, public_hex, unwrap_data_key
from .models import AuditEvent, AuditHead, Centre
from .outbox import MUTABLE
from .store import Store
from .sync_errors import NotADistrict

CENTRE_GROUP = "examdesk_centre"
OFFICE_GROUP = "examdesk_office"
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# What a centre role may do per table, beyond SELECT (UPDATE columns come from MUTABLE).
_CENTRE_WRITES: Mapping[str, str] = {
    # centre: INSERT only so that the upsert of its own (already claimed) row is allowed.
    "centre": "INSERT", "app_user": "INSERT", "exam_session": "INSERT", "candidate": "INSERT",
    "roster_entry": "INSERT", "checkin": "INSERT", "incident": "INSERT",
    "incident_checkin": "INSERT", "evidence": "INSERT", "evidence_blob": "INSERT",
    "audit_event": "INSERT", "audit_checkpoint": "INSERT", "audit_head": "",
    "centre_key": "INSERT", "review_notice": "", "district": "", "district_member": "",
    # Read only: a centre's own calibrations are kept locally, the district's flow down.
    "face_calibration": "",
    # Stations (issue 17): each station's row (public keys and state) and its own chain, like
    # the centre's (insert only; its head moves as audit_head does). The sealed copies of the
    # data key never leave the centre: read only, and empty here.
    "station": "INSERT", "station_data_key": "", "station_audit_event": "INSERT",
    "station_audit_head": "INSERT", "station_audit_checkpoint": "INSERT",
    # The exam room's seats and acknowledgements (issue 18), for the office's review.
    "seat_agent": "INSERT", "incident_ack": "INSERT",
    # A seat's consent answer stays at the centre: the office needs the incidents, not it.
    "seat_consent": "",
}
_CENTRE_UPDATES: Mapping[str, tuple[str, ...]] = {
    **MUTABLE, "audit_head": ("seq", "hash", "updated_at"),
    "station_audit_head": ("seq", "hash", "updated_at")}
# What the office writes: (table privileges, UPDATE columns, rows it may write).
_OWN = "centre_id = (SELECT examdesk_office_centre_id())"
_OFFICE_WRITES: Mapping[str, tuple[str, tuple[str, ...], str]] = {
    "incident": ("INSERT", ("status", "reviewer_notes", "reviewed_by_id", "reviewed_at",
                            "updated_at"), _OWN),
    "incident_checkin": ("INSERT", (), _OWN),
    "review_notice": ("INSERT", (), "true"),
    "face_calibration": ("INSERT", (), "true"),  # the district's point, one row per centre
    "proxy_screen": ("INSERT", (), "true"),
    "audit_event": ("INSERT", (), _OWN),
    "audit_checkpoint": ("INSERT", (), _OWN),
    "audit_head": ("", ("seq", "hash", "updated_at"), _OWN),
    "app_user": ("INSERT", ("full_name", "role", "active", "updated_at"), _OWN),
    # The office's own keys' fingerprints (its data key, its chain's signing key).
    "key_record": ("INSERT", ("status", "retired_at", "updated_at"), "true"),
}
_POLICIES = ("centre_rows", "office_read", "office_insert", "office_update")
# Links the office writes across centres on purpose: a proxy incident (the office's own) is
# filed under the later check-in's session and links check-ins of any centre. Every other link
# of a row the office writes stays within that row's centre.
_OFFICE_CROSS_LINKS = frozenset({("incident_checkin", "checkin_id"), ("incident", "session_id")})


# --- setting up -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """A login role made for a centre or the office. The password is shown once, here."""

    role: str
    password: str
    url: str  # the district URL with these credentials

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "password": self.password, "url": self.url}


@dataclass(frozen=True)
class DistrictSetup:
    district_id: uuid.UUID
    code: str
    name: str
    centre_id: uuid.UUID  # the office's own chain
    box_public_key: str
    office: Credentials | None

    def to_dict(self) -> dict[str, object]:
        return {"district_id": str(self.district_id), "code": self.code, "name": self.name,
                "office_centre_id": str(self.centre_id), "box_public_key": self.box_public_key,
                "office": self.office.to_dict() if self.office else None}


def init_district(admin_url: str, *, code: str, name: str, keys: KeyStore, actor: str,
                  office_role: str | None = None,
                  office_password: str | None = None) -> DistrictSetup:
    """Make ``admin_url``'s database a district: schema, roles, grants, row-level security,
    the office's chain and key. Safe to run again (after an upgrade it grants new tables)."""
    url = central_url(admin_url)
    store = _open_admin(url, keys)
    try:
        with central_errors(safe_url(url)), store.engine.begin() as conn:
            for statement in security_statements():
                conn.exec_driver_sql(statement)
        district = _ensure_district(store, code, name, keys, actor)
        office = None
        if office_role:
            office = _login_role(store.engine, url, office_role, office_password, OFFICE_GROUP)
        return DistrictSetup(district.id, district.code, district.name, district.centre_id,
                             district.box_public_key, office)
    finally:
        store.close()


def add_centre(admin_url: str, code: str, *, password: str | None = None,
               role: str | None = None) -> Credentials:
    """A login role for the centre with this code (made or given a new password)."""
    url = central_url(admin_url)
    code = code.strip()
    if not code:
        raise InvalidInput("a centre needs a code", field="code")
    role = role or "centre_" + re.sub(r"[^a-z0-9_]", "_", code.lower())[:55]
    engine = central_engine(url)
    try:
        with central_errors(safe_url(url)):
            with Session(engine) as tx, tx.begin():
                district = tx.exec(select(District)).first()
                if district is None:
                    raise NotADistrict("run examdesk district init first", url=safe_url(url))
                if code == district.code:
                    raise InvalidInput(f"{code!r} is the office's own code", field="code")
                by_code = tx.exec(select(DistrictMember)
                                  .where(DistrictMember.centre_code == code)).first()
                if by_code is not None and by_code.role_name != role:
                    raise InvalidInput(f"centre {code!r} already has account {by_code.role_name}",
                                       field="code")
                if by_code is None:
                    tx.add(DistrictMember(role_name=role, centre_code=code))
            return _login_role(engine, url, role, password, CENTRE_GROUP)
    finally:
        engine.dispose()


def _open_admin(url: URL, keys: KeyStore) -> Store:
    try:
        return Store.open(url.render_as_string(hide_password=False), keys=keys)
    except ProctoringError:
        raise
    except DBAPIError as exc:
        raise translate(exc, safe_url(url)) from exc


def _ensure_district(store: Store, code: str, name: str, keys: KeyStore,
                     actor: str) -> District:
    with store.read() as tx:
        found = tx.exec(select(District)).first()
    if found is not None:
        if found.code != code:
            raise InvalidInput(f"this database is district {found.code!r}", field="code")
        # The district records the office key: this machine must hold exactly that one (a
        # new one would orphan every centre key wrapped to it). KeyMissing / KeyMismatch say so.
        keys.box_key(recorded=_box_fingerprint(found.box_public_key))
        return found
    box = public_hex(keys.box_key())
    centre = ensure_centre(store, code, name, actor=actor)
    with store.write() as tx:
        district = District(code=centre.code, name=centre.name, centre_id=centre.id,
                            box_public_key=box)
        tx.add(district)
        tx.flush()
        store.audit.append(tx, centre_id=centre.id, actor=actor, action="district.created",
                           subject_id=district.id,
                           payload={"code": district.code, "box_public_key": box},
                           at=store.now())
        return district


def _login_role(engine: Engine, url: URL, role: str, password: str | None,
                group: str) -> Credentials:
    if not _ROLE_NAME.match(role):
        raise InvalidInput(f"role name {role!r}: lower-case letters, digits, _", field="role")
    password = password or secrets.token_urlsafe(18)
    if "\x00" in password:
        raise InvalidInput("a password cannot hold NUL", field="password")
    with central_errors(safe_url(url)), engine.begin() as conn:
        conn.exec_driver_sql(f"""DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE "{role}" LOGIN;
            END IF; END $$""")
        _set_password(conn.connection.dbapi_connection, role, password)
        conn.exec_driver_sql(f'GRANT {group} TO "{role}"')
    login = url.set(username=role, password=password)
    return Credentials(role, password, login.render_as_string(hide_password=False))


def _set_password(raw: Any, role: str, password: str) -> None:
    """``ALTER ROLE … PASSWORD`` through psycopg itself, in the caller's transaction.

    Not through SQLAlchemy's ``exec_driver_sql``: it hands psycopg the text as a query with
    parameters, so a "%" in a password was read as a placeholder ("pct%%two" was stored as
    "pct%two", "pct%done" failed). psycopg's ``sql.Identifier``/``sql.Literal`` quote the
    name and the value, and a composed query without parameters is never scanned for "%".
    The value sent is the SCRAM verifier libpq computes here (``PQencryptPasswordConn``, with
    the server's ``password_encryption``), as PostgreSQL's ALTER ROLE page advises: the
    password itself never reaches the server's statement log.
    """
    from psycopg import sql  # the postgres extra; only a district needs it

    verifier = raw.pgconn.encrypt_password(password.encode("utf-8"), role.encode("utf-8"))
    with raw.cursor() as cursor:
        cursor.execute(sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(verifier.decode("ascii"))))


def security_statements() -> list[str]:
    """Roles, functions, grants and row-level security policies, as idempotent SQL."""
    out = [f"""DO $$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{g}') THEN
            CREATE ROLE {g} NOLOGIN;
        END IF; END $$""" for g in (CENTRE_GROUP, OFFICE_GROUP)]
    out += [
        # No "%" anywhere in these statements: the driver would read it as a placeholder.
        "DO $$ BEGIN EXECUTE 'REVOKE CONNECT, TEMPORARY ON DATABASE ' "
        "|| quote_ident(current_database()) || ' FROM PUBLIC'; "
        "EXECUTE 'GRANT CONNECT ON DATABASE ' || quote_ident(current_database()) "
        f"|| ' TO {CENTRE_GROUP}, {OFFICE_GROUP}'; END $$",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA public TO {CENTRE_GROUP}, {OFFICE_GROUP}",
        # Invoker rights: it reads district_member under that table's policy (own row only).
        """CREATE OR REPLACE FUNCTION examdesk_centre_id() RETURNS uuid LANGUAGE sql STABLE
           SET search_path = public, pg_temp
           AS $$ SELECT centre_id FROM district_member WHERE role_name = current_user $$""",
        """CREATE OR REPLACE FUNCTION examdesk_office_centre_id() RETURNS uuid LANGUAGE sql
           STABLE SET search_path = public, pg_temp
           AS $$ SELECT centre_id FROM district LIMIT 1 $$""",
        # The one way a centre row gets in: under the code the office registered for this
        # login (session_user: inside SECURITY DEFINER current_user is the owner), once.
        # The caller says which code it believes it is: a centre given another centre's
        # credentials by mistake is refused instead of taking that centre's place.
        # The centre's audit public key is recorded on the first claim after it is known and
        # never replaced: a centre offering another key is refused (a key change is an event
        # signed by the old key, and the centre keeps offering its first key).
        "DROP FUNCTION IF EXISTS examdesk_claim_centre(uuid, text)",
        "DROP FUNCTION IF EXISTS examdesk_claim_centre(uuid, text, text)",
        """CREATE OR REPLACE FUNCTION examdesk_claim_centre(p_id uuid, p_name text,
                                                          p_code text, p_key text)
           RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
           AS $$
           DECLARE m_id uuid; m_code text; m_centre uuid; m_key text;
           BEGIN
             SELECT id, centre_code, centre_id, audit_public_key
               INTO m_id, m_code, m_centre, m_key
               FROM district_member WHERE role_name = session_user FOR UPDATE;
             IF NOT FOUND THEN
               RAISE EXCEPTION 'examdesk: not a centre account of this district'
                 USING ERRCODE = '42501';
             END IF;
             IF m_code <> p_code THEN
               RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE =
                 'examdesk: this account is for centre ' || m_code || ', not ' || p_code;
             END IF;
             IF m_centre IS NOT NULL AND m_centre <> p_id THEN
               RAISE EXCEPTION 'examdesk: this account belongs to another centre database'
                 USING ERRCODE = '42501';
             END IF;
             IF m_centre IS NULL THEN
               INSERT INTO centre (id, code, name, created_at, updated_at)
                 VALUES (p_id, m_code, p_name, now(), now());
               INSERT INTO audit_head (id, centre_id, seq, hash, updated_at)
                 VALUES (gen_random_uuid(), p_id, 0, repeat('0', 64), now());
               UPDATE district_member SET centre_id = p_id, updated_at = now()
                 WHERE id = m_id;
             END IF;
             IF p_key IS NOT NULL AND p_key !~ '^[0-9a-f]{64}$' THEN
               RAISE EXCEPTION 'examdesk: not an audit public key' USING ERRCODE = '22023';
             END IF;
             IF m_key IS NULL AND p_key IS NOT NULL THEN
               UPDATE district_member SET audit_public_key = p_key, updated_at = now()
                 WHERE id = m_id;
             ELSIF m_key IS NOT NULL AND p_key IS DISTINCT FROM m_key THEN
               RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE =
                 'examdesk: this centre signs its audit log with another key than the one '
                 || 'the district recorded';
             END IF;
             RETURN m_code;
           END $$""",
    ]
    out += _retention_functions()
    for fn in ("examdesk_centre_id()", "examdesk_office_centre_id()",
               "examdesk_claim_centre(uuid, text, text, text)", "examdesk_blob_held(uuid)",
               "examdesk_purge_blobs(uuid[])", "examdesk_release_blobs()"):
        out.append(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")
    out += [f"GRANT EXECUTE ON FUNCTION {fn} TO {CENTRE_GROUP}, {OFFICE_GROUP}"
            for fn in ("examdesk_centre_id()", "examdesk_office_centre_id()")]
    out.append("GRANT EXECUTE ON FUNCTION examdesk_claim_centre(uuid, text, text, text), "
               f"examdesk_purge_blobs(uuid[]) TO {CENTRE_GROUP}")
    out.append(f"GRANT EXECUTE ON FUNCTION examdesk_release_blobs() TO {OFFICE_GROUP}")
    out.append(f"REVOKE ALL ON alembic_version FROM PUBLIC, {CENTRE_GROUP}, {OFFICE_GROUP}")
    out.append(f"GRANT SELECT ON alembic_version TO {CENTRE_GROUP}, {OFFICE_GROUP}")
    for t in SQLModel.metadata.sorted_tables:
        out += _table_statements(t)
    return out


def _retention_functions() -> list[str]:
    """Blobs leave the district when their centre purged them on retention, except while an
    OPEN incident is about them (the same rule as the centre's own purge, but over every
    incident, including the office's proxy incidents a centre cannot see). Centres delete blobs
    only through ``examdesk_purge_blobs`` (no DELETE privilege), and only blobs whose evidence
    row says purged; the office releases held ones when it closes an incident."""
    held = """CREATE OR REPLACE FUNCTION examdesk_blob_held(p_id uuid) RETURNS boolean
           LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
           SELECT EXISTS (SELECT 1 FROM evidence e
                            JOIN incident_checkin l ON l.checkin_id = e.checkin_id
                            JOIN incident i ON i.id = l.incident_id
                           WHERE e.id = p_id AND i.status = 'OPEN')
               OR EXISTS (SELECT 1 FROM evidence e JOIN incident i ON i.id = e.incident_id
                           WHERE e.id = p_id AND i.status = 'OPEN') $$"""
    purge = """CREATE OR REPLACE FUNCTION examdesk_purge_blobs(p_ids uuid[]) RETURNS integer
           LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
           DECLARE mine uuid; n integer;
           BEGIN
             SELECT centre_id INTO mine FROM district_member WHERE role_name = session_user;
             IF mine IS NULL THEN
               RAISE EXCEPTION USING ERRCODE = '42501',
                 MESSAGE = 'examdesk: not a centre account of this district';
             END IF;
             DELETE FROM evidence_blob b USING evidence e
              WHERE b.id = ANY(p_ids) AND e.id = b.id AND b.centre_id = mine
                AND e.purged_at IS NOT NULL AND NOT examdesk_blob_held(b.id);
             GET DIAGNOSTICS n = ROW_COUNT;
             RETURN n;
           END $$"""
    release = """CREATE OR REPLACE FUNCTION examdesk_release_blobs() RETURNS integer
           LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
           DECLARE n integer;
           BEGIN
             DELETE FROM evidence_blob b USING evidence e
              WHERE e.id = b.id AND e.purged_at IS NOT NULL AND NOT examdesk_blob_held(b.id);
             GET DIAGNOSTICS n = ROW_COUNT;
             RETURN n;
           END $$"""
    return [held, purge, release]


def _table_statements(t: sa.Table) -> list[str]:
    name = t.name
    out = [f"REVOKE ALL ON {name} FROM PUBLIC, {CENTRE_GROUP}, {OFFICE_GROUP}",
           f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY"]
    out += [f"DROP POLICY IF EXISTS {p} ON {name}" for p in _POLICIES]
    # The office reads everything.
    out.append(f"GRANT SELECT ON {name} TO {OFFICE_GROUP}")
    out.append(f"CREATE POLICY office_read ON {name} FOR SELECT TO {OFFICE_GROUP} USING (true)")
    if name in _OFFICE_WRITES:
        privileges, columns, rows = _OFFICE_WRITES[name]
        if privileges:
            out.append(f"GRANT {privileges} ON {name} TO {OFFICE_GROUP}")
            checked = _with_links(t, rows, f"{name}.centre_id", skip=_OFFICE_CROSS_LINKS)
            out.append(f"CREATE POLICY office_insert ON {name} FOR INSERT TO {OFFICE_GROUP} "
                       f"WITH CHECK ({checked})")
        if columns:
            out.append(f"GRANT UPDATE ({', '.join(columns)}) ON {name} TO {OFFICE_GROUP}")
            review = "true" if name == "incident" else rows  # reviews touch every centre's
            out.append(f"CREATE POLICY office_update ON {name} FOR UPDATE TO {OFFICE_GROUP} "
                       f"USING ({review}) WITH CHECK ({review})")
    # A centre: its own rows, with the privileges above; tables not listed stay invisible.
    if name not in _CENTRE_WRITES:
        return out
    if name == "centre":
        rows = "id = (SELECT examdesk_centre_id())"
    elif name == "district":
        rows = "true"  # the office's public key and name: what every centre needs to know
    elif name == "district_member":
        rows = "role_name = current_user"
    else:
        rows = "centre_id = (SELECT examdesk_centre_id())"
    privileges = ", ".join(p for p in ("SELECT", _CENTRE_WRITES[name]) if p)
    out.append(f"GRANT {privileges} ON {name} TO {CENTRE_GROUP}")
    columns = _CENTRE_UPDATES.get(name, ())
    if columns:
        out.append(f"GRANT UPDATE ({', '.join(columns)}) ON {name} TO {CENTRE_GROUP}")
    checked = _with_links(t, rows, "(SELECT examdesk_centre_id())")
    out.append(f"CREATE POLICY centre_rows ON {name} FOR ALL TO {CENTRE_GROUP} "
               f"USING ({rows}) WITH CHECK ({checked})")
    return out


def _with_links(t: sa.Table, rows: str, owner: str,
                skip: frozenset[tuple[str, str]] = frozenset()) -> str:
    """``rows`` and, for every foreign key of ``t`` to another table of centre rows, that the
    row it points at belongs to ``owner`` (an SQL expression).

    A foreign key check reads the parent without row-level security, so without this a centre
    could link its own row to another centre's check-in: keeping that centre's blobs past
    retention (an open incident holds them) or showing its picture in another dossier. The
    subquery runs under the parent table's own policy as well, so a parent the writer cannot see
    never passes. Links to ``centre`` itself are the ``centre_id`` rule already in ``rows``."""
    if "centre_id" not in t.c:
        return rows
    checks = [] if rows == "true" else [rows]
    for fk in sorted(t.foreign_keys, key=lambda k: k.parent.name):
        parent, column = fk.column.table, fk.parent.name
        if parent.name == "centre" or "centre_id" not in parent.c or (t.name, column) in skip:
            continue
        link = (f"EXISTS (SELECT 1 FROM {parent.name} p WHERE p.{fk.column.name} = "
                f"{t.name}.{column} AND p.centre_id = {owner})")
        checks.append(link if not fk.parent.nullable or fk.parent.primary_key
                      else f"({t.name}.{column} IS NULL OR {link})")
    return " AND ".join(checks) or rows


def _box_fingerprint(box_public: str) -> str:
    try:
        return public_fingerprint(bytes.fromhex(box_public))
    except ValueError:
        raise KeyUnavailable(f"the district's office key {box_public[:16]}… is not hex",
                             reason="district_key") from None


# --- the office's view ------------------------------------------------------------------------


class OfficeKeyStore(KeyStore):
    """The office machine's key store, whose data key also opens every centre's evidence (the
    centres' keys, unwrapped from ``centre_key`` with the office's X25519 key, in memory only)."""

    # The office seals no evidence: its own data key is this machine's, never recorded in the
    # district database (which every office machine shares). Its box key is recorded there
    # (district.box_public_key) and is never made anew once the district exists.
    records_data_key = False

    def __init__(self, base: KeyStore, engine: Engine, district_code: str, *,
                 box_public: str | None = None) -> None:
        super().__init__(base.folder, use_keyring=base.use_keyring)
        self._engine = engine
        self._district_code = district_code
        self._box_public = box_public

    def office_box(self) -> X25519PrivateKey | None:
        """The office's X25519 key if this machine holds the one the district records (never
        makes one); a keyring that fails raises."""
        if self._box_public is None:
            return self.box_key()
        try:
            return self.box_key(recorded=_box_fingerprint(self._box_public))
        except (KeyMissing, KeyMismatch):
            return None

    def data_key(self, *, recorded: str | None = None,
                 retired: Iterable[str] = ()) -> DataKey:
        own = super().data_key(recorded=recorded, retired=retired)
        older = dict(own.older) if isinstance(own, DataKeys) else {}
        return DistrictDataKey(own.key, loader=lambda: {**older, **self.centre_keys()})

    def centre_keys(self) -> dict[str, DataKey]:
        box = self.office_box()
        if box is None:
            return {}  # not the office's machine: every centre's evidence shows as unreadable
        with Session(self._engine) as tx:
            rows = tx.exec(select(CentreKey)
                           .where(CentreKey.box_public_key == public_hex(box))).all()
        keys: dict[str, DataKey] = {}
        for row in rows:
            try:
                keys[row.key_id] = unwrap_data_key(row.wrapped, box,
                                                   district_code=self._district_code,
                                                   centre_id=row.centre_id, key_id=row.key_id)
            except KeyUnavailable:
                continue  # altered or not for us: that centre's evidence shows as unreadable
        return keys


@dataclass
class Office:
    """The education office connected to its district: a :class:`Store` on the district
    database whose audit chain is the office's own and whose data key opens every centre's
    evidence."""

    store: Store
    district: District

    @property
    def centre_id(self) -> uuid.UUID:
        """The office's own centre row: its audit chain and the owner of proxy incidents."""
        return self.district.centre_id

    @property
    def can_decrypt(self) -> bool:
        """Whether this machine holds the office's private key (else evidence is unreadable)."""
        keys = self.store.keys
        if isinstance(keys, OfficeKeyStore):
            return keys.office_box() is not None
        return public_hex(keys.box_key()) == self.district.box_public_key

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Office:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_office(url: str | None = None, *, keys: KeyStore | None = None) -> Office:
    """Connect as the office (``url``, ``EXAMDESK_CENTRAL_URL`` or the saved address, with the
    office's credentials)."""
    parsed = central_url(url, keys or KeyStore.default())
    safe = safe_url(parsed)
    engine = sa.create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    try:
        with central_errors(safe):
            with engine.connect() as conn:
                check_schema(conn, safe)
            with Session(engine) as tx:
                district = tx.exec(select(District)).first()
        if district is None:
            raise NotADistrict("run examdesk district init first", url=safe)
    except BaseException:
        engine.dispose()
        raise
    base = keys or KeyStore.default()
    store = Store(engine, OfficeKeyStore(base, engine, district.code,
                                         box_public=district.box_public_key))
    return Office(store, district)


@dataclass(frozen=True)
class MemberState:
    """A centre of the district as the office sees it."""

    code: str
    role: str
    centre_id: uuid.UUID | None  # None: never synced
    name: str | None
    events: int  # audit events received, of the centre's chain and its stations' chains
    last_event_at: datetime | None
    stations: int = 0  # the centre's stations (issue 17), each with a chain of its own

    def to_dict(self) -> dict[str, object]:
        when = self.last_event_at
        return {"code": self.code, "role": self.role,
                "centre_id": str(self.centre_id) if self.centre_id else None,
                "name": self.name, "events": self.events,
                "last_event_at": when.isoformat() if when else None,
                "stations": self.stations}


def members(office: Office) -> list[MemberState]:
    with office.store.read() as tx:
        rows = tx.exec(select(DistrictMember).order_by(DistrictMember.centre_code)).all()
        out = []
        for m in rows:
            centre = tx.get(Centre, m.centre_id) if m.centre_id else None
            head = (tx.exec(select(AuditHead).where(AuditHead.centre_id == m.centre_id)).first()
                    if m.centre_id else None)
            last = None
            if head is not None and head.seq:
                last = tx.exec(select(AuditEvent.occurred_at).where(
                    AuditEvent.centre_id == m.centre_id, AuditEvent.seq == head.seq)).first()
            stations, station_events, station_last = _station_chains(tx, m.centre_id)
            if station_last is not None and (last is None or station_last > last):
                last = station_last
            out.append(MemberState(m.centre_code, m.role_name, m.centre_id,
                                   centre.name if centre else None,
                                   (head.seq if head else 0) + station_events, last, stations))
        return out


def _station_chains(tx: Session, centre_id: uuid.UUID | None
                    ) -> tuple[int, int, datetime | None]:
    """(stations, events of their chains, the latest event's time) the district holds."""
    from .station_models import Station, StationAuditEvent, StationAuditHead

    if centre_id is None:
        return 0, 0, None
    stations = len(tx.exec(select(Station.id).where(Station.centre_id == centre_id)).all())
    events = tx.exec(select(sa.func.coalesce(sa.func.sum(StationAuditHead.seq), 0))
                     .where(StationAuditHead.centre_id == centre_id)).one()
    last = tx.exec(select(sa.func.max(StationAuditEvent.occurred_at))
                   .where(StationAuditEvent.centre_id == centre_id)).one()
    return stations, int(events), last
