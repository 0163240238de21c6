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
from typing import TYPE_CHECKING, Annotated, Any

import typer

from examdesk.commands.common import JsonOption, LangOption
from examdesk.commands.errors import cli_errors, exit_code_for_key
from examdesk.commands.session import moment
from examdesk.i18n import Catalog, default_language
from proctoring.central import CENTRAL_URL_ENV
from proctoring.store import Store

if TYPE_CHECKING:
    from proctoring.district import Office

CentralOption = Annotated[str | None, typer.Option(
    "--central", help=f"district database URL with your login (default ${CENTRAL_URL_ENV})")]


@contextmanager
def office_login(central: str | None) -> Iterator[Office]:
    """The district as the education office, closed after (its typed errors end the command
    in the command's error context)."""
    from proctoring.district import open_office

    with open_office(central) as office:
        yield office


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
    from examdesk.services.sync import SyncRequest, forget_address, sync_now, sync_state

    lang = lang or default_language()
    catalog = Catalog.load()
    if save and not central:
        raise typer.BadParameter("--save needs --central ADDRESS")
    with cli_errors(as_json), Store.open() as store:
        if forget:
            had = forget_address(store)
            if as_json:
                print(json.dumps({"forgotten": had}))
            else:
                print(catalog.text("sync.forgotten" if had else "sync.nothing_saved", lang))
            return
        if status:
            state = sync_state(store, centre)
            if as_json:
                print(json.dumps(state.to_dict(), ensure_ascii=False))
            else:
                print(_status_line(state.status.to_dict(), catalog, lang))
                print(catalog.text("sync.address", lang, address=state.address)
                      if state.address else catalog.text("sync.no_address", lang))
            return
        synced = sync_now(store, SyncRequest(central, centre, register_as, district_key, save))
    result = synced.result
    if as_json:
        print(json.dumps(synced.to_dict(with_saved=save), ensure_ascii=False))
    if result.error is not None:
        print(catalog.both(result.error.key, detail=result.error.detail), file=sys.stderr)
        if save:
            print(catalog.both("sync.not_saved"), file=sys.stderr)
        raise typer.Exit(exit_code_for_key(result.error.key))
    if not as_json:
        print(catalog.text("sync.done", lang, events=result.pushed_events,
                           checkins=result.rows.get("checkin", 0),
                           blobs=result.rows.get("evidence_blob", 0),
                           reviews=result.reviews_applied, pending=result.pending,
                           district=result.district_code))
        if result.calibrations_applied:
            print(catalog.text("sync.face_calibration_received", lang,
                               district=result.district_code))
        if synced.saved_to is not None:
            print(catalog.text("sync.saved", lang, where=synced.saved_to))


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
