"""`examdesk review …`: the education office reviews incidents of every centre.

Connects to the district database with an office login (``--central`` or
``EXAMDESK_CENTRAL_URL``) on the office's machine, whose key store opens every centre's
evidence. Decisions are audited in the office's chain and reach the centre at its next sync.

| exit | meaning |
|---|---|
| 0 | done |
| 2 | a value is not valid (filters, dates, a decision without notes) |
| 3 | the district database or the office's key cannot be reached |
| 4 | no such incident, centre or session |
| 6 | refused by the database (not an office login) |
| 7 | the output cannot be written |
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from examdesk.commands.common import JsonOption, LangOption, choices
from examdesk.commands.errors import handles_errors
from examdesk.commands.fraud import (
    CentreFilter,
    FirstDay,
    LastDay,
    ReportFile,
    deliver,
    render_report,
    report_setup,
)
from examdesk.commands.reports import write_output
from examdesk.commands.session import actor, moment
from examdesk.commands.sync import CentralOption, office_login
from examdesk.i18n import Catalog, default_language
from proctoring.errors import InvalidInput

if TYPE_CHECKING:
    from proctoring.review import IncidentFile, IncidentRow
    from proctoring.review_seat import RoomNote
from proctoring.models import IncidentKind, IncidentStatus
from reports.incidents import parse_day

app = typer.Typer(help="Xét duyệt — the education office's review of incidents.",
                  no_args_is_help=True)

FromOption = Annotated[str | None, typer.Option("--from", help="first day, dd/mm/yyyy")]
ToOption = Annotated[str | None, typer.Option("--to", help="last day, included")]


Choice = TypeVar("Choice", IncidentKind, IncidentStatus)


def _enum(kind: type[Choice], text: str | None, field: str) -> Choice | None:
    if not text:
        return None
    chosen = next((m for m in kind if m.value == text.strip().upper()), None)
    if chosen is None:
        allowed = [m.value.lower() for m in kind]
        raise InvalidInput(f"{text!r}: {', '.join(allowed)}", reason="choice", field=field,
                           option=field, value=text, choices=choices(*allowed))
    return chosen


@app.command("list")
@handles_errors()
def list_cmd(
    central: CentralOption = None,
    centre: Annotated[str | None, typer.Option("--centre", help="centre code")] = None,
    session: Annotated[str | None, typer.Option("--session", help="session code or id")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="e.g. proxy_suspected")] = None,
    status: Annotated[str | None, typer.Option("--status", help="open, confirmed, dismissed")]
    = None,
    start: FromOption = None,
    end: ToOption = None,
    limit: Annotated[int | None, typer.Option("--limit")] = None,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Danh sách sự cố — incidents across centres, newest first."""
    from proctoring.review import IncidentQuery, list_incidents
    from reports.incidents import Period

    lang = lang or default_language()
    first = parse_day(start, "--from") if start else None
    last = parse_day(end, "--to") if end else None
    since = Period(first, first).since if first else None
    until = Period(last, last).until if last else None
    query = IncidentQuery(centre=centre, session=session,
                          kind=_enum(IncidentKind, kind, "--kind"),
                          status=_enum(IncidentStatus, status, "--status"),
                          since=since, until=until, limit=limit)
    with office_login(central) as office:
        rows = list_incidents(office, query)
    if as_json:
        print(json.dumps([r.to_dict() for r in rows], ensure_ascii=False))
        return
    catalog = Catalog.load()
    if not rows:
        print(catalog.text("review.none", lang))
    for r in rows:
        print(list_line(r, lang))


def kind_words(kind: IncidentKind, lang: str) -> str:
    """The incident kind in words (never its code on a screen)."""
    return Catalog.load().text(f"app.incident.{kind.value}", lang)


def list_line(row: IncidentRow, lang: str) -> str:
    """One incident of the list; an online-exam incident names its seat."""
    from proctoring.review_seat import seat_of

    i, catalog = row.incident, Catalog.load()
    seat = seat_of(i)
    where = f"{row.session_code} · {catalog.text('review.seat', lang, seat=seat)}" if seat \
        else row.session_code
    return (f"{str(i.id)[:8]}  {moment(i.started_at)}  {kind_words(i.kind, lang):<28} "
            f"{i.status.value:<9} {','.join(row.centres):<20} {where:<16} "
            f"{catalog.text(i.message_key, lang)}")


def show_lines(dossier: IncidentFile, notes: tuple[RoomNote, ...], lang: str) -> list[str]:
    """The incident as the office reads it: what, where (the seat), when (start–end), each
    linked check-in's pictures, the incident's own evidence frames, the room's notes."""
    from proctoring.review_seat import seat_of

    catalog = Catalog.load()
    i = dossier.row.incident
    lines = [f"{i.id}  {kind_words(i.kind, lang)}  {i.status.value}  "
             f"{catalog.text(i.message_key, lang)}"]
    seat = seat_of(i)
    if seat:
        lines.append("  " + catalog.text("review.seat_when", lang, seat=seat,
                                         start=moment(i.started_at),
                                         end=moment(i.ended_at) if i.ended_at else "…"))
    for side in dossier.sides:
        c = side.checkin
        states = "/".join(p.state if p else "—" for p in (side.portrait, side.frame))
        lines.append(f"  {side.centre_code:<8} {side.session_code:<14} {c.id_number}  "
                     f"{side.full_name or '—':<24} {moment(c.decided_at)}  {states}")
    if dossier.frames:
        lines.append("  " + catalog.text("review.frames", lang, n=len(dossier.frames),
                                         states=", ".join(f.state for f in dossier.frames)))
    for note in notes:
        lines.append("  " + catalog.text("review.room_note", lang, at=moment(note.acked_at),
                                         actor=note.actor, note=note.note))
    return lines


@app.command("show")
@handles_errors()
def show_cmd(
    incident: Annotated[str, typer.Argument(help="incident id or its first characters")],
    central: CentralOption = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="write the pictures (decrypted) into this folder, owner-only")] = None,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Xem sự cố — both check-ins' portraits and live frames side by side."""
    from proctoring.review import incident_file

    lang = lang or default_language()
    from proctoring.review_seat import room_notes, seat_of

    with office_login(central) as office:
        dossier = incident_file(office, incident)
        notes = room_notes(office.store, dossier.row.incident.id)
    written: list[str] = []
    if out is not None:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
        for n, side in enumerate(dossier.sides, 1):
            for label, picture in (("portrait", side.portrait), ("frame", side.frame)):
                if picture is not None and picture.data is not None:
                    target = out / f"{n}-{side.centre_code}-{label}.jpg"
                    write_output(target, picture.data)
                    written.append(str(target))
        # The incident's own evidence: the frames the seat's monitor kept.
        for n, picture in enumerate(dossier.frames, 1):
            if picture.data is not None:
                target = out / f"incident-frame-{n}.jpg"
                write_output(target, picture.data)
                written.append(str(target))
    if as_json:
        print(json.dumps({**dossier.to_dict(), "seat": seat_of(dossier.row.incident),
                          "ended_at": (dossier.row.incident.ended_at.isoformat()
                                       if dossier.row.incident.ended_at else None),
                          "room_notes": [n.to_dict() for n in notes], "written": written},
                         ensure_ascii=False))
        return
    for line in show_lines(dossier, notes, lang):
        print(line)
    for path in written:
        print(f"  → {path}")


@app.command("decide")
@handles_errors()
def decide_cmd(
    incident: Annotated[str, typer.Argument(help="incident id or its first characters")],
    notes: Annotated[str, typer.Option("--notes", help="why (required)")],
    confirm: Annotated[bool, typer.Option("--confirm", help="fraud confirmed")] = False,
    dismiss: Annotated[bool, typer.Option("--dismiss", help="no fraud")] = False,
    reopen: Annotated[bool, typer.Option("--reopen", help="back to open")] = False,
    central: CentralOption = None,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Kết luận — confirm or dismiss with notes (audited; the centre receives it)."""
    from proctoring.review import decide

    lang = lang or default_language()
    chosen = [s for s, on in ((IncidentStatus.CONFIRMED, confirm),
                              (IncidentStatus.DISMISSED, dismiss),
                              (IncidentStatus.OPEN, reopen)) if on]
    if len(chosen) != 1:
        raise InvalidInput("one of --confirm, --dismiss, --reopen", field="decision")
    with office_login(central) as office:
        done = decide(office, incident, status=chosen[0], notes=notes, actor=actor())
    if as_json:
        print(json.dumps({"id": str(done.id), "status": done.status.value,
                          "reviewed_at": done.reviewed_at.isoformat() if done.reviewed_at
                          else None}, ensure_ascii=False))
    else:
        print(Catalog.load().text("review.decided", lang, id=str(done.id)[:8],
                                  status=done.status.value))


@app.command("report")
@handles_errors()
def report_cmd(
    start: FirstDay,
    end: LastDay,
    out: ReportFile,
    centre: CentreFilter = None,
    central: CentralOption = None,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Báo cáo toàn sở — the fraud report over every centre of the district."""
    lang = lang or default_language()
    suffix, period = report_setup(out, start, end)
    with office_login(central) as office:
        data, payload = render_report(office.store, period, centre, suffix, lang)
    deliver(out, payload, period, data, as_json, lang)
