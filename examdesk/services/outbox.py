"""The centre database, or this desk's outbox when it is unreachable (issue 17): for the
command line's check-in and the desk alike.

Only a desk on a centre's PostgreSQL keeps an outbox: a desk alone on its SQLite file has its
database on its own disk, nothing to wait for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from biometrics.config import OperatingPoint
from examdesk.paths import data_dir
from proctoring.crypto import KeyStore
from proctoring.desk_outbox import CentreOffline, DeskOutbox
from proctoring.errors import DatabaseUnavailable
from proctoring.models import ExamSession
from proctoring.sessions import SessionInfo, find_session, list_sessions
from proctoring.stations import StationInfo, this_station
from proctoring.store import Store, database_url


def wants_outbox(url: str | None = None) -> bool:
    return database_url(url).get_backend_name() == "postgresql"


@dataclass
class CentreOrOutbox:
    store: Store  # the centre's (an unreachable one raises DatabaseUnavailable on each use)
    outbox: DeskOutbox | None
    online: bool


@contextmanager
def centre_or_outbox(url: str | None = None, *, keys: KeyStore | None = None,
                     folder: Path | None = None,
                     point: OperatingPoint | None = None) -> Iterator[CentreOrOutbox]:
    """The centre's store and this desk's outbox; when the centre does not answer, a store
    that will say so at each use (the check-in then waits in the outbox). ``point``: the desk's
    settings' operating point, for the face rules a delivered check-in is recorded under."""
    keys = keys or KeyStore.default()
    outbox = (DeskOutbox.for_desk(keys, folder or data_dir(), point) if wants_outbox(url) else None)
    try:
        try:
            store, online = Store.open(url, keys=keys), True
        except DatabaseUnavailable:
            if outbox is None:
                raise
            store, online = Store.open_later(url, keys=keys), False
        try:
            yield CentreOrOutbox(store, outbox, online)
        finally:
            store.close()
    finally:
        if outbox is not None:
            outbox.close()


def session_for(place: CentreOrOutbox, ref: str) -> ExamSession:
    """The session by id or code: from the centre, else from this desk's copy."""
    if place.online or place.outbox is None:
        try:
            with place.store.read() as tx:
                return find_session(tx, ref)
        except DatabaseUnavailable:
            if place.outbox is None:
                raise
    return place.outbox.find_session(ref)


# --- the desk app started while the centre is down (issue 17) -------------------------------


class CentreNeeded(DatabaseUnavailable):
    """Something only the centre's database can do (a roster import, a report, the district
    sync, the station screen) was asked for while it is unreachable: said in words, with what
    the desk still does meanwhile."""

    key = "offline17.needs_centre"


def open_desk_store(url: str | None, *, keys: KeyStore) -> tuple[Store, bool]:
    """The desk's database, migrated, and whether it answered. A centre's desk (PostgreSQL)
    starts while the centre is down: its store migrates at the first use that reaches the
    centre (:meth:`Store.open_later`); a desk alone on its SQLite file does not start
    without it."""
    try:
        return Store.open(url, keys=keys), True
    except DatabaseUnavailable:
        if not wants_outbox(url):
            raise
        return Store.open_later(url, keys=keys), False


def desk_station(store: Store) -> StationInfo | None:
    """This desk's station, or None: a desk alone, or the centre unreachable (asked again when
    it answers)."""
    try:
        return this_station(store)
    except DatabaseUnavailable:
        return None


def desk_sessions(store: Store, outbox: DeskOutbox | None) -> tuple[list[SessionInfo], bool]:
    """The sessions the desk's list shows, and whether they are the centre's: while the centre
    is unreachable, the ones this desk keeps a sealed roster copy of (their check-ins go to
    the outbox)."""
    try:
        return list_sessions(store), True
    except DatabaseUnavailable:
        if outbox is None:
            raise
    infos = [SessionInfo(session, "", size) for session, size in outbox.copies()]
    infos.sort(key=lambda i: (i.session.starts_at, i.session.code), reverse=True)
    return infos, False


def needs_centre(exc: BaseException, outbox: DeskOutbox | None) -> BaseException:
    """On a centre's desk, the centre unreachable is said as what it means for the job asked
    for (:class:`CentreNeeded`); a bad URL, the roster copy missing, or a desk alone keep
    their own words."""
    if (outbox is None or not isinstance(exc, DatabaseUnavailable)
            or isinstance(exc, CentreOffline | CentreNeeded) or exc.reason):
        return exc
    return CentreNeeded(exc.detail, **exc.context)
