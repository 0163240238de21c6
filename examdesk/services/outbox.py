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
from proctoring.desk_outbox import DeskOutbox
from proctoring.errors import DatabaseUnavailable
from proctoring.models import ExamSession
from proctoring.sessions import find_session
from proctoring.store import Store, create_engine, database_url


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
            store, online = Store(create_engine(database_url(url)), keys), False
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
