"""The education office's work, run off the Tk thread: connect to the district, list incidents,
open one with its pictures decoded and fitted, decide, export the district report. No Tk here:
everything slow (network, database, JPEG/JPEG 2000 decoding, PDF) happens in these functions,
which the review screen hands to the app's worker pool.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from PIL import Image

from examdesk.timezone import VIETNAM
from proctoring.central import central_errors, save_central_url
from proctoring.crypto import KeyStore
from proctoring.district import Office, members, open_office
from proctoring.models import Incident, IncidentKind, IncidentStatus
from proctoring.review import (
    IncidentFile,
    IncidentQuery,
    IncidentRow,
    Picture,
    Side,
    decide,
    incident_file,
    list_incidents,
)
from proctoring.review_seat import RoomNote, room_notes

from .pictures import open_picture
from .widgets import fit

REPORT_DAYS = 30  # the export's period when the filters give no dates: the last month


@dataclass(frozen=True)
class Filters:
    """What the office chose on screen; dates as typed (dd/mm/yyyy), checked by ``query``."""

    centre: str | None = None
    session: str = ""
    kind: IncidentKind | None = None
    status: IncidentStatus | None = None
    start: str = ""
    end: str = ""

    def days(self) -> tuple[date | None, date | None]:
        from reports.incidents import parse_day

        first = parse_day(self.start, "from") if self.start.strip() else None
        last = parse_day(self.end, "to") if self.end.strip() else None
        return first, last

    def query(self) -> IncidentQuery:
        """Raises ``reports.errors.InvalidPeriod`` for a date that is not one, or reversed."""
        from reports.incidents import Period

        first, last = self.days()
        if first and last:
            Period(first, last)  # end before start: the typed error, in the office's words
        return IncidentQuery(centre=self.centre, session=self.session.strip() or None,
                             kind=self.kind, status=self.status,
                             since=Period(first, first).since if first else None,
                             until=Period(last, last).until if last else None)


@dataclass(frozen=True)
class Connection:
    office: Office
    url: str  # without the password
    centres: tuple[str, ...]  # the district's centre codes, for the filter
    can_decrypt: bool  # this machine holds the office's key: evidence opens


def connect(url: str | None, keys: KeyStore | None = None) -> Connection:
    """``url`` (else ``EXAMDESK_CENTRAL_URL``, else the saved address) with the office's login,
    like ``examdesk review``; ``keys`` default to this machine's key store
    (``KeyStore.default()``). A typed ``url`` the district accepts is saved there."""
    office = open_office(url or None, keys=keys)
    try:
        codes = tuple(m.code for m in members(office))
        if url:
            # Typed once: the district accepted it, so it is kept like a key for next time.
            save_central_url(keys or KeyStore.default(), url)
        u = office.store.engine.url  # short enough for the screen; never the password
        shown = f"{u.username}@{u.database}"
        return Connection(office, shown, codes, office.can_decrypt)
    except BaseException:
        office.close()
        raise


@contextmanager
def _district(office: Office) -> Iterator[None]:
    """A driver error (the server restarted, the network cut, a refused statement) as the
    district error the office can act on, not as an unexpected one."""
    with central_errors(office.store.engine.url.render_as_string(hide_password=True)):
        yield


def fetch(office: Office, filters: Filters) -> list[IncidentRow]:
    query = filters.query()
    with _district(office):
        return list_incidents(office, query)


@dataclass(frozen=True)
class Shown:
    """One picture as the screen shows it: fitted to its box, or why there is none."""

    state: str  # ok, held, purged, unreadable, missing, none (never taken), undecodable
    image: Image.Image | None


@dataclass(frozen=True)
class ShownSide:
    side: Side
    portrait: Shown
    frame: Shown


@dataclass(frozen=True)
class Dossier:
    file: IncidentFile
    sides: tuple[ShownSide, ...]
    # An online-exam incident's own evidence (the seat's monitor frame) and the room's notes.
    frames: tuple[Shown, ...] = ()
    notes: tuple[RoomNote, ...] = ()

    @property
    def incident(self) -> Incident:
        return self.file.row.incident


def open_dossier(office: Office, incident_id: uuid.UUID, box: tuple[int, int]) -> Dossier:
    with _district(office):
        found = incident_file(office, str(incident_id))
        notes = room_notes(office.store, found.row.incident.id)
    return Dossier(found, tuple(ShownSide(s, picture(s.portrait, box), picture(s.frame, box))
                                for s in found.sides),
                   tuple(picture(p, box) for p in found.frames[:1]), notes)


def picture(p: Picture | None, box: tuple[int, int]) -> Shown:
    if p is None:
        return Shown("none", None)
    if p.data is None:
        return Shown(p.state, None)
    image = open_picture(p.data, box)
    if image is None:
        return Shown("undecodable", None)
    return Shown(p.state, fit(image, box))


def record(office: Office, incident_id: uuid.UUID, status: IncidentStatus, notes: str,
           actor: str) -> Incident:
    """The backend refuses empty notes (``ReviewNeedsNotes``) and audits the decision."""
    with _district(office):
        return decide(office, str(incident_id), status=status, notes=notes, actor=actor)


@dataclass(frozen=True)
class Export:
    path: Path
    findings: int
    start: date
    end: date


def export_report(office: Office, filters: Filters, suffix: str, folder: Path,
                  lang: str, today: date | None = None) -> Export:
    """The district fraud report, as ``examdesk review report`` makes it, over the filters'
    period (the last month without dates) and centre; written owner-only."""
    from reports.fraud import fraud_csv, fraud_pdf
    from reports.incidents import EVIDENCE_THUMB, Period, collect_fraud
    from reports.keys import write_private
    from reports.layout import catalog_words

    first, last = filters.days()
    end = last or today or datetime.now(VIETNAM).date()
    start = first or end - timedelta(days=REPORT_DAYS - 1)
    period = Period(start, end)
    with _district(office):
        data = collect_fraud(office.store, period, centre_code=filters.centre,
                             pictures=None if suffix == "csv" else EVIDENCE_THUMB)
    payload = (fraud_csv(data) if suffix == "csv"
               else fraud_pdf(data, catalog_words(lang), lang=lang))
    scope = filters.centre or "district"
    path = folder / f"fraud-{scope}-{start:%Y%m%d}-{end:%Y%m%d}.{suffix}"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(path, payload)
    return Export(path, len(data.findings), start, end)
