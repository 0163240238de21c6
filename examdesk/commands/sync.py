"""`examdesk sync`: send this centre's check-ins, incidents, evidence and audit log to the
district's database, bring the education office's review decisions back. One run; the app runs
the same function (``proctoring.sync.sync_once``) in the background.

The district URL holds the centre's own login (``examdesk district add-centre`` prints it):
``--central``, else ``EXAMDESK_CENTRAL_URL``, else the address saved on this machine by
``--central URL --save`` (kept with the data key: OS keyring or an owner-only file; the app's
Settings save it the same way). The local database is the usual one (``EXAMDESK_DB_URL`` or the
default SQLite file).

| exit | meaning |
|---|---|
| 0 | synced (or, with `--status`, the status shown) |
| 2 | a value is not valid, no district URL, or several centres in the database |
| 3 | the district (or the local database) cannot be reached: nothing is lost, run it again |
| 6 | the district refused these credentials or this operation |
| 8 | refused for safety: the local chain forks from the district's, or the office key changed |
| 9 | the district database has another schema version |
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from examdesk.commands.common import JsonOption, LangOption, fail
from examdesk.commands.session import fail_with, moment, open_store
from examdesk.i18n import Catalog, default_language
from proctoring import errors, sync_errors
from proctoring.central import CENTRAL_URL_ENV

if TYPE_CHECKING:
    from proctoring.district import Office

EXIT_REFUSED = 6
EXIT_UNSAFE = 8
EXIT_SCHEMA = 9

# By message key, so a SyncResult's error (a key and a detail) maps like a raised error.
EXIT_BY_KEY: dict[str, int] = {
    sync_errors.NotConfigured.key: 2,
    sync_errors.CentreAmbiguous.key: 2,
    sync_errors.ReviewNeedsNotes.key: 2,
    errors.InvalidInput.key: 2,
    sync_errors.CentralUnavailable.key: 3,
    errors.DatabaseUnavailable.key: 3,
    errors.KeyUnavailable.key: 3,
    errors.KeyringUnavailable.key: 3,
    errors.KeyMissing.key: 3,
    errors.KeyMismatch.key: 3,
    sync_errors.AccessRefused.key: EXIT_REFUSED,
    sync_errors.NotADistrict.key: EXIT_REFUSED,
    sync_errors.ChainDiverged.key: EXIT_UNSAFE,
    sync_errors.DistrictKeyChanged.key: EXIT_UNSAFE,
    sync_errors.SchemaMismatch.key: EXIT_SCHEMA,
}

CentralOption = Annotated[str | None, typer.Option(
    "--central", help=f"district database URL with your login (default ${CENTRAL_URL_ENV})")]


def district_fail(exc: errors.ProctoringError, as_json: bool) -> NoReturn:
    """Typed errors → one bilingual line and the exit status above."""
    if exc.key in EXIT_BY_KEY:
        fail(exc.key, as_json, EXIT_BY_KEY[exc.key], exc.detail, **exc.context)
    fail_with(exc, as_json)


@contextmanager
def office_login(central: str | None, as_json: bool) -> Iterator[Office]:
    """The district as the education office, closed after; its typed errors → `district_fail`."""
    from proctoring.district import open_office

    try:
        with open_office(central) as office:
            yield office
    except errors.ProctoringError as exc:
        district_fail(exc, as_json)


def sync_cmd(
    central: CentralOption = None,
    centre: Annotated[str | None, typer.Option(
        "--centre", help="centre code, when the database holds several")] = None,
    register_as: Annotated[str | None, typer.Option(
        "--register-as", help="the code the office gave this centre, if not its local code")]
    = None,
    district_key: Annotated[str | None, typer.Option(
        "--district-key", help="the office's public key (hex) to trust, instead of the first "
        "one seen")] = None,
    status: Annotated[bool, typer.Option(
        "--status", help="only show the last sync and what is waiting (no network)")] = False,
    save: Annotated[bool, typer.Option(
        "--save", help="keep --central on this machine (keyring or a 0600 file) once the "
        "district has accepted it; later syncs and the app need no address")] = False,
    forget: Annotated[bool, typer.Option(
        "--forget", help="delete the saved district address")] = False,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Đồng bộ — send this centre's data to the district, receive review decisions."""
    from proctoring.central import configured_central, forget_central_url
    from proctoring.sync import local_centre, sync_and_save, sync_once, sync_status

    lang = lang or default_language()
    catalog = Catalog.load()
    if save and not central:
        raise typer.BadParameter("--save needs --central ADDRESS")
    store = open_store(as_json)
    if forget:
        try:
            had = forget_central_url(store.keys)
        except errors.ProctoringError as exc:
            district_fail(exc, as_json)
        finally:
            store.close()
        if as_json:
            print(json.dumps({"forgotten": had}))
        else:
            print(catalog.text("sync.forgotten" if had else "sync.nothing_saved", lang))
        return
    try:
        where = local_centre(store, code=centre) if centre else local_centre(store)
        if status:
            state = sync_status(store, where.id)
            address = configured_central(store.keys)
            if as_json:
                print(json.dumps({**state.to_dict(), "address": address}, ensure_ascii=False))
            else:
                print(_status_line(state.to_dict(), catalog, lang))
                print(catalog.text("sync.address", lang, address=address) if address
                      else catalog.text("sync.no_address", lang))
            return
        options: dict[str, Any] = {"centre_id": where.id, "district_key": district_key,
                                   "register_as": register_as}
        saved_to = None
        if save and central:
            result, saved_to = sync_and_save(store, central, **options)
        else:
            result = sync_once(store, central, **options)
    except errors.ProctoringError as exc:
        district_fail(exc, as_json)
    finally:
        store.close()
    doc = result.to_dict()
    if save:
        doc["saved"] = saved_to
    if as_json:
        print(json.dumps(doc, ensure_ascii=False))
    if result.error is not None:
        print(catalog.both(result.error.key, detail=result.error.detail), file=sys.stderr)
        if save:
            print(catalog.both("sync.not_saved"), file=sys.stderr)
        raise typer.Exit(EXIT_BY_KEY.get(result.error.key, 1))
    if not as_json:
        print(catalog.text("sync.done", lang, events=result.pushed_events,
                           checkins=result.rows.get("checkin", 0),
                           blobs=result.rows.get("evidence_blob", 0),
                           reviews=result.reviews_applied, pending=result.pending,
                           district=result.district_code))
        if result.calibrations_applied:
            print(catalog.text("sync.face_calibration_received", lang,
                               district=result.district_code))
        if saved_to is not None:
            print(catalog.text("sync.saved", lang, where=saved_to))


def _status_line(state: dict[str, Any], catalog: Catalog, lang: str) -> str:
    from datetime import datetime

    def when(key: str) -> str:
        value = state.get(key)
        return moment(datetime.fromisoformat(value)) if value else catalog.text(
            "sync.never", lang)

    error = state.get("last_error")
    line = catalog.text("sync.status", lang, success=when("last_success_at"),
                        attempt=when("last_attempt_at"), pending=state["pending"],
                        district=state.get("district") or "—")
    if error:
        line += "\n" + catalog.text(error["key"], lang, detail=error["detail"])
    return line
