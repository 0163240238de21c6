"""`examdesk room …`: the exam room for the invigilator in a terminal — every seat's state
(`status`) and the acknowledgement of an incident with a note (`ack`, audited)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from examdesk.commands.common import JsonOption, LangOption
from examdesk.commands.errors import handles_errors
from examdesk.commands.session import actor, stored
from examdesk.i18n import Catalog, default_language
from examdesk.services.room import SYMBOLS, SeatTile, room_view
from examdesk.timezone import VIETNAM
from proctoring.seat_store import acknowledge, pause_seat

app = typer.Typer(help="Phòng thi — the exam room: seats' states, incidents.",
                  no_args_is_help=True)

def _words(shown: str, lang: str) -> str:
    return f"{SYMBOLS[shown]} {Catalog.load().text(f'seat.state.{shown}', lang)}"


def _state(line: SeatTile, lang: str) -> str:
    """The seat's state as the room screen says it; a silent agent with what it last said."""
    words = _words(line.shown, lang)
    if line.shown == "silent" and line.agent_state is not None:
        words += f" ({_words(line.agent_state.value, lang)})"
    return words


def _beat(line: SeatTile, now: datetime, lang: str) -> str:
    if line.heartbeat_at is None:
        return "—"
    ago = max(0, int((now - line.heartbeat_at).total_seconds()))
    clock = line.heartbeat_at.astimezone(VIETNAM).strftime("%H:%M:%S")
    return f"{clock} ({Catalog.load().text('seat.ago', lang, seconds=ago)})"


@app.command("status")
@handles_errors()
def status_cmd(
    session: Annotated[str, typer.Option("--session", help="session code or id")],
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Trạng thái phòng thi — one line per seat: name, SBD, state in words, last heartbeat."""
    lang = lang or default_language()
    with stored() as store:
        room = room_view(store, session)
    catalog = Catalog.load()
    if as_json:
        print(json.dumps({"session": room.session_code, "at": room.at.isoformat(), "seats": [
            {"seat": s.seat, "name": s.name, "registration_number": s.registration_number,
             "state": s.agent_state.value if s.agent_state else None, "shown": s.shown,
             "silent": s.shown == "silent",
             "heartbeat_at": s.heartbeat_at.isoformat() if s.heartbeat_at else None,
             "open_incidents": s.open_alerts,
             "vi": _state(s, "vi"), "en": _state(s, "en")} for s in room.seats]},
            ensure_ascii=False))
        return
    head = [catalog.text(f"seat.column.{c}", lang)
            for c in ("seat", "name", "sbd", "state", "heartbeat", "incidents")]
    rows = [[s.seat, s.name or "—", s.registration_number or "—", _state(s, lang),
             _beat(s, room.at, lang), str(s.open_alerts or "")] for s in room.seats]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print(catalog.text("seat.room_title", lang, session=room.session_code,
                       at=room.at.astimezone(VIETNAM).strftime("%H:%M:%S")))
    for r in [head, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())


@app.command("ack")
@handles_errors()
def ack_cmd(
    incident: Annotated[str, typer.Argument(help="the incident's id (or its first characters)")],
    note: Annotated[str, typer.Option("--note", help="what you saw and did (kept, audited)")],
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Ghi nhận sự cố — the invigilator saw the incident: a note, kept in the audit log."""
    lang = lang or default_language()
    with stored() as store:
        ack = acknowledge(store, incident, note, actor=actor())
    if as_json:
        print(json.dumps({"incident_id": str(ack.incident_id), "ack_id": str(ack.id),
                          "note": ack.note, "at": ack.acked_at.isoformat()},
                         ensure_ascii=False))
    else:
        print(Catalog.load().text("seat.acknowledged", lang, incident=str(ack.incident_id)))


@app.command("pause")
@handles_errors()
def pause_cmd(
    session: Annotated[str, typer.Option("--session", help="session code or id")],
    seat: Annotated[str, typer.Option("--seat", help="the seat, e.g. A07")],
    minutes: Annotated[float, typer.Option("--minutes", help="how long (1-60)")] = 5.0,
    note: Annotated[str, typer.Option("--note", help="why (kept, audited)")] = "",
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Cho phép rời chỗ — the seat stops watching for a while ("toilet, 5 min"), audited."""
    lang = lang or default_language()
    with stored() as store:
        until = pause_seat(store, session, seat, minutes=minutes, note=note, actor=actor())
    assert until is not None  # minutes given
    if as_json:
        print(json.dumps({"seat": seat, "paused_until": until.isoformat()}, ensure_ascii=False))
    else:
        print(Catalog.load().text("seat.paused", lang, seat=seat,
                                  until=until.astimezone(VIETNAM).strftime("%H:%M")))


@app.command("resume")
@handles_errors()
def resume_cmd(
    session: Annotated[str, typer.Option("--session", help="session code or id")],
    seat: Annotated[str, typer.Option("--seat", help="the seat, e.g. A07")],
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Tiếp tục giám sát — end a seat's pause now."""
    lang = lang or default_language()
    with stored() as store:
        pause_seat(store, session, seat, minutes=None, note="", actor=actor())
    if as_json:
        print(json.dumps({"seat": seat, "paused_until": None}))
    else:
        print(Catalog.load().text("seat.resumed", lang, seat=seat))
