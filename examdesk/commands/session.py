"""`examdesk session …`: create, list, show and close exam sessions.

Also the helpers the other storage commands (roster, audit, data) share: the store of one
command, who acts. Typed errors end a command in examdesk/commands/errors.py's context.

| exit | meaning |
|---|---|
| 0 | done |
| 2 | a value given is not valid (options, roster rows, a start without a time or in an |
|   | implausible year, `close` without --yes off a terminal, `reopen` without a reason) |
| 3 | the database or the key cannot be opened |
| 4 | no such session (or the reference matches several) |
| 5 | the session is closed |
| 7 | the output file cannot be written |
| 8 | `audit verify` found tampering |
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from examdesk.commands.common import JsonOption, LangOption, choices
from examdesk.commands.errors import handles_errors
from examdesk.i18n import Catalog, default_language
from examdesk.services import sessions
from examdesk.services.attendance import history_lines
from examdesk.services.stage_words import passes_line
from examdesk.timezone import moment
from proctoring import errors
from proctoring.centres import CENTRE_ENV, DEFAULT_CENTRE, ensure_centre, list_centres
from proctoring.checkins import Attendance, attendance
from proctoring.models import Centre, SessionKind, SessionStatus
from proctoring.sessions import (
    SessionInfo,
    create_session,
    list_sessions,
    parse_moment,
    session_info,
)
from proctoring.stage_passes import StagePass, stages_passed
from proctoring.store import Store

app = typer.Typer(help="Kỳ thi — exam sessions and driving-test sessions.", no_args_is_help=True)

KINDS = {"online": SessionKind.ONLINE_EXAM, "online_exam": SessionKind.ONLINE_EXAM,
         "driving": SessionKind.DRIVING_TEST, "driving_test": SessionKind.DRIVING_TEST}


# --- shared by the storage commands -------------------------------------------------------------


def actor() -> str:
    """Who the audit log names for a command-line action (no login yet: the OS account)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid{os.getuid()}"


@contextmanager
def stored() -> Iterator[Store]:
    """The store for one command, closed however the command ends. Its typed errors end the
    command in the command's error context (``cli_errors`` / ``@handles_errors``), not here."""
    with Store.open() as store:
        yield store


def _centre(store: Store, code: str | None, name: str | None) -> Centre:
    code = code or os.environ.get(CENTRE_ENV)
    if not code:
        centres = list_centres(store)
        if len(centres) == 1:
            return centres[0]
        if len(centres) > 1:
            raise errors.InvalidInput(
                f"{len(centres)} centres: choose one with --centre or {CENTRE_ENV}",
                reason="several_centres", field="centre", count=len(centres), env=CENTRE_ENV)
        code = DEFAULT_CENTRE
    return ensure_centre(store, code, name, actor=actor())


def _kind(text: str) -> SessionKind:
    chosen = KINDS.get(text.strip().lower())
    if chosen is None:
        raise errors.InvalidInput(f"--kind {text!r}: online or driving", reason="choice",
                                  field="kind", option="--kind", value=text,
                                  choices=choices("online", "driving"))
    return chosen


def _status(text: str) -> SessionStatus:
    chosen = next((s for s in SessionStatus if s.value == text.strip().upper()), None)
    if chosen is None:
        raise errors.InvalidInput(f"--status {text!r}: open or closed", reason="choice",
                                  field="status", option="--status", value=text,
                                  choices=choices("open", "closed"))
    return chosen


# --- output -------------------------------------------------------------------------------------


def _line(info: SessionInfo, catalog: Catalog, lang: str) -> str:
    s = info.session
    stages = ", ".join(catalog.text(f"session.stage.{x.value}", lang) for x in s.stage_list)
    kind = catalog.text(f"session.kind.{s.kind.value}", lang) + (f" ({stages})" if stages else "")
    return (f"{s.code:<20} {moment(s.starts_at)}  {kind} · {s.title} · "
            f"{info.roster_count} {catalog.text('session.label.roster', lang)} · "
            f"{catalog.text(f'session.status.{s.status.value}', lang)}")


def _attendance_json(att: Attendance) -> dict[str, Any]:
    return {"totals": att.totals.to_dict(), "rows": [r.to_dict() for r in att.rows]}


def _show_attendance(att: Attendance, catalog: Catalog, lang: str, title: str | None) -> None:
    if title:
        print(f"\n[{title}]")
    print(catalog.text("session.totals", lang, **att.totals.to_dict()))
    for r in att.rows:
        c = r.candidate
        place = r.entry.seat or r.entry.vehicle or ""
        status = catalog.text(f"session.status_label.{r.status}", lang)
        when = moment(r.checkin.decided_at) if r.checkin else ""
        print(f"  {r.entry.position:>4}  {r.entry.registration_number:<10} {c.id_number}  "
              f"{c.full_name:<28} {c.date_of_birth:%d/%m/%Y}  {place:<8} {status:<12} {when}")
        # The other attempts under the row: a later card never hides behind the admission.
        for line in history_lines(lambda key, **ctx: catalog.text(key, lang, **ctx), r.history):
            print(f"{'':>8}↳ {line}")


def _passes_json(att: Attendance, passed: dict[uuid.UUID, tuple[StagePass, ...]]
                 ) -> list[dict[str, Any]]:
    return [{"position": r.entry.position, "registration_number": r.entry.registration_number,
             "id_number": r.candidate.id_number,
             "passed": [p.to_dict() for p in passed.get(r.entry.id, ())]} for r in att.rows]


def _show_passes(att: Attendance, passed: dict[uuid.UUID, tuple[StagePass, ...]],
                 catalog: Catalog, lang: str) -> None:
    """Every candidate's passed stages, where and when (a roster's rows, in print order)."""
    def text(key: str, **ctx: object) -> str:
        return catalog.text(key, lang, **ctx)

    print(f"\n[{text('stages.title')}]")
    for r in att.rows:
        print(f"  {r.entry.position:>4}  {r.entry.registration_number:<10} "
              f"{r.candidate.full_name:<28} {passes_line(text, passed.get(r.entry.id, ()))}")


# --- commands -----------------------------------------------------------------------------------


@app.command("create")
@handles_errors()
def create_cmd(
    title: Annotated[str, typer.Option("--title", help="what is examined")],
    starts: Annotated[str, typer.Option("--starts", help="YYYY-MM-DD HH:MM, Vietnam time")],
    kind: Annotated[str, typer.Option("--kind", help="online or driving")] = "online",
    stages: Annotated[str | None, typer.Option(
        "--stages", help="driving test: theory,simulation,yard,road (default: all)")] = None,
    ends: Annotated[str | None, typer.Option("--ends", help="YYYY-MM-DD HH:MM")] = None,
    code: Annotated[str | None, typer.Option("--code", help="short code (default: made up)")]
    = None,
    centre: Annotated[str | None, typer.Option("--centre", help=f"centre code ({CENTRE_ENV})")]
    = None,
    centre_name: Annotated[str | None, typer.Option("--centre-name")] = None,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Tạo kỳ thi — create an online exam or a driving-test session."""
    lang = lang or default_language()
    session_kind = _kind(kind)
    chosen = [s.strip() for s in stages.split(",") if s.strip()] if stages else None
    with stored() as store:
        where = _centre(store, centre, centre_name)
        # The stages are checked (and ordered) by create_session: InvalidInput for "stages".
        session = create_session(
            store, centre_id=where.id, kind=session_kind, title=title,
            starts_at=parse_moment(starts, "starts"),
            ends_at=parse_moment(ends, "ends") if ends else None,
            code=code, stages=chosen, actor=actor())
        info = session_info(store, str(session.id))
    if as_json:
        print(json.dumps(info.to_dict(), ensure_ascii=False))
    else:
        print(Catalog.load().text("session.created", lang, code=session.code, id=session.id))


@app.command("list")
@handles_errors()
def list_cmd(
    status: Annotated[str | None, typer.Option("--status", help="open or closed")] = None,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Danh sách kỳ thi — list sessions, newest first."""
    lang = lang or default_language()
    wanted = _status(status) if status else None
    with stored() as store:
        infos = list_sessions(store, status=wanted)
    if as_json:
        print(json.dumps([i.to_dict() for i in infos], ensure_ascii=False))
        return
    catalog = Catalog.load()
    if not infos:
        print(catalog.text("session.none", lang))
    for info in infos:
        print(_line(info, catalog, lang))


@app.command("show")
@handles_errors()
def show_cmd(
    session: Annotated[str, typer.Argument(help="session code, id, or the id's first characters")],
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Xem kỳ thi — a session, its roster and who was admitted, rejected, absent."""
    lang = lang or default_language()
    with stored() as store:
        info = session_info(store, session)
        stages = info.session.stage_list
        per_stage = {s: attendance(store, info.session.id, stage=s) for s in stages}
        overall = attendance(store, info.session.id) if not stages else None
        # Which stages each candidate passed, at which desk, when: on any desk of the centre.
        passed = stages_passed(store, info.session.id) if stages else {}
    if as_json:
        doc = info.to_dict()
        if overall is not None:
            doc["attendance"] = _attendance_json(overall)
        else:
            doc["attendance_by_stage"] = {s.value: _attendance_json(a)
                                          for s, a in per_stage.items()}
            doc["stages_passed"] = _passes_json(next(iter(per_stage.values())), passed)
        print(json.dumps(doc, ensure_ascii=False))
        return
    catalog = Catalog.load()
    print(_line(info, catalog, lang))
    print(f"id {info.session.id} · {info.centre_code}")
    if overall is not None:
        _show_attendance(overall, catalog, lang, None)
    for s, att in per_stage.items():
        _show_attendance(att, catalog, lang, catalog.text(f"session.stage.{s.value}", lang))
    if per_stage:
        _show_passes(next(iter(per_stage.values())), passed, catalog, lang)


class CloseNotConfirmed(errors.InvalidInput):
    """`session close` without --yes where nobody can be asked (not a terminal)."""

    key = "session.close_not_confirmed"


@app.command("close")
@handles_errors()
def close_cmd(
    session: Annotated[str, typer.Argument(help="session code or id")],
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", help="close without asking (scripts); a terminal asks first")] = False,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Đóng kỳ thi — no more roster changes or check-ins (asks first; `session reopen
    --reason` opens it again, audited)."""
    lang = lang or default_language()
    catalog = Catalog.load()
    with stored() as store:
        info = sessions.closing(store, session)
        if not yes:
            # Closing ends the check-ins of a whole session: asked, never by accident.
            if as_json or not sys.stdin.isatty():
                raise CloseNotConfirmed("closing needs --yes when nobody can be asked",
                                        field="yes", session=info.session.code)
            if not typer.confirm(catalog.text("session.close_confirm", lang,
                                              code=info.session.code,
                                              roster=str(info.roster_count)), default=False):
                print(catalog.text("session.close_cancelled", lang, code=info.session.code))
                return
        info = sessions.close(store, str(info.session.id), actor=actor())
    if as_json:
        print(json.dumps(info.to_dict(), ensure_ascii=False))
    else:
        print(catalog.text("session.closed", lang, code=info.session.code))


@app.command("reopen")
@handles_errors()
def reopen_cmd(
    session: Annotated[str, typer.Argument(help="session code or id")],
    reason: Annotated[str, typer.Option("--reason", help="why (mandatory, audited)")],
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Mở lại kỳ thi — a closed session open again, with a written reason in the audit log."""
    lang = lang or default_language()
    with stored() as store:
        info = sessions.reopen(store, session, reason=reason, actor=actor())
    if as_json:
        print(json.dumps(info.to_dict(), ensure_ascii=False))
    else:
        print(Catalog.load().text("session.reopened", lang, code=info.session.code))
