"""The district database as a centre or the office reaches it: its address (argument,
``EXAMDESK_CENTRAL_URL``, or the one saved in the keyring), the engine, and driver errors as the
district errors an operator can act on.

Its own module so that :mod:`.sync` (a centre's push and pull) and :mod:`.district` (the set-up
and the office's view) both build on it without importing each other.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

from .crypto import KeyStore
from .errors import DatabaseUnavailable, InvalidInput
from .store import HEAD_REVISION, database_url
from .sync_errors import (
    AccessRefused,
    CentralUnavailable,
    NotADistrict,
    NotConfigured,
    SchemaMismatch,
    SyncError,
)

CENTRAL_URL_ENV = "EXAMDESK_CENTRAL_URL"
# libpq reports a refused login without its SQLSTATE (28P01, 28000): match the server's text.
_LOGIN_REFUSED = re.compile(r"authentication failed|pg_hba\.conf|role \S+ does not exist|"
                            r"permission denied for database")


def central_url(url: str | None = None, keys: KeyStore | None = None) -> URL:
    """The district database URL: the argument, else ``EXAMDESK_CENTRAL_URL``, else the one
    saved on this machine (:func:`save_central_url`) in ``keys``."""
    text = _central_text(url, keys)
    if not text:
        raise NotConfigured(f"no district database: give --central or set {CENTRAL_URL_ENV}")
    parsed = database_url(text)
    if parsed.get_backend_name() != "postgresql":
        raise NotADistrict("the district database is PostgreSQL (row-level security)",
                           url=safe_url(parsed))
    return parsed


# The district address with the centre's (or office's) password: a secret, so it is kept
# where the data key is (the OS keyring, else an owner-only file), never in settings.json.
CENTRAL_LINK_SECRET = "district-url"


def saved_central_url(keys: KeyStore) -> str | None:
    return keys.secret(CENTRAL_LINK_SECRET)


def save_central_url(keys: KeyStore, url: str) -> str:
    """Check that ``url`` names a PostgreSQL district and keep it; returns where it went."""
    parsed = central_url(url)
    return keys.save_secret(CENTRAL_LINK_SECRET, parsed.render_as_string(hide_password=False))


def forget_central_url(keys: KeyStore) -> bool:
    return keys.forget_secret(CENTRAL_LINK_SECRET)


def _central_text(url: str | None, keys: KeyStore | None) -> str | None:
    """The one order every caller follows: argument, variable, saved address."""
    return url or os.environ.get(CENTRAL_URL_ENV) or (saved_central_url(keys) if keys else None)


def has_central(keys: KeyStore) -> bool:
    """Whether a sync without ``--central`` has an address to try (valid or not)."""
    return _central_text(None, keys) is not None


def configured_central(keys: KeyStore) -> str | None:
    """The address a sync would use without ``--central`` (password hidden), or None."""
    try:
        return safe_url(central_url(None, keys))
    except (NotConfigured, NotADistrict, InvalidInput, DatabaseUnavailable):
        return None


def safe_url(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def central_engine(url: URL) -> Engine:
    """No pool: every sync opens fresh connections, so none survives an outage half-dead.
    Keepalives and a TCP user timeout turn a silently dropped network into an error within
    about half a minute instead of a hang."""
    return sa.create_engine(url, poolclass=NullPool, connect_args={
        "connect_timeout": 5, "application_name": "examdesk",
        "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
        "keepalives_count": 3, "tcp_user_timeout": 30_000})


def translate(exc: DBAPIError, url: str) -> SyncError:
    """A driver error as the district error an operator can act on."""
    state = getattr(exc.orig, "sqlstate", None) or ""
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    if state == "42501" or state.startswith("28") or _LOGIN_REFUSED.search(detail):
        return AccessRefused(detail, url=url)
    if isinstance(exc, OperationalError) or exc.connection_invalidated or state.startswith("08"):
        return CentralUnavailable(detail, url=url)
    return SyncError(detail, url=url)


@contextmanager
def central_errors(url: str) -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        raise translate(exc, url) from exc


def check_schema(conn: sa.Connection, url: str) -> None:
    found = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    if found != HEAD_REVISION:
        raise SchemaMismatch(f"the district database is at schema {found}, this examdesk "
                             f"needs {HEAD_REVISION}", url=url, found=found,
                             wanted=HEAD_REVISION)
