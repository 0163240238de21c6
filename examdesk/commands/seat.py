"""`examdesk seat`: the seat agent of one exam computer — bind the seat to the candidate the
door admitted, watch the webcam every few seconds, raise incidents, report a heartbeat.

It prints one line when the seat's state changes (``--json``: one JSON object per line) and
runs until interrupted (Ctrl-C closes what is open and delivers it) or ``--checks`` checks.

Once the seat knows its candidate it shows the consent text and waits for the candidate's
answer (typed: c/k or y/n, then Enter) before it reads any frame; a refusal is recorded and the
room shows the seat as "no consent". The candidate can withdraw it at any time while the seat
runs ("rút" / "withdraw" typed, or the strip's button): no frame is read from the next check on.
"""

from __future__ import annotations

import hashlib
import json
import signal
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from biometrics import BiometricsError, FaceEngine, open_camera
from examdesk.commands.common import LangOption
from examdesk.commands.errors import BadOption, ExitTable, cli_errors
from examdesk.commands.face import load_settings
from examdesk.commands.session import stored
from examdesk.i18n import Catalog, default_language
from examdesk.paths import data_dir
from examdesk.services.cards import PcscCards
from examdesk.services.seat_consent import ConsentText, TerminalConsent, consent_text
from examdesk.services.seat_tap import RosterLacksBacKey, SeatTapReader, TapAccess, TapWatcher
from examdesk.services.trust import TrustFiles
from proctoring.seat import SeatAgent, SeatRules, SeatState
from proctoring.seat_buffer import SeatBuffer
from proctoring.seat_run import SeatObserver, SeatRunner, StepResult, run
from proctoring.seat_store import seat_place
from proctoring.types import utcnow

if TYPE_CHECKING:
    from examdesk.views.seat_strip import SeatStrip

MIN_INTERVAL, MAX_INTERVAL = 0.5, 60.0
SEAT_EXITS: ExitTable = ((BiometricsError, 3),)  # no camera, no models: something not there


class BadInterval(BadOption):
    key = "seat.bad_interval"


SYMBOL = {SeatState.WAITING: "…", SeatState.BOUND: "◆", SeatState.WATCHING: "●",
          SeatState.ABSENT: "○", SeatState.SEVERAL_FACES: "‼",
          SeatState.DIFFERENT_PERSON: "✖", SeatState.CAMERA_LOST: "⌀",
          SeatState.CAMERA_COVERED: "◐",
          SeatState.PAUSED: "‖", SeatState.NO_CONSENT: "⊘"}


def buffer_path(session_id: uuid.UUID, seat: str) -> Path:
    """The seat's local buffer; the label is hashed into the name (a roster's seat label is
    free text: "../x" must not become a path)."""
    digest = hashlib.sha256(seat.encode()).hexdigest()[:16]
    return data_dir() / "seat" / f"{session_id}-{digest}.db"


def state_words(state: SeatState, lang: str) -> str:
    return f"{SYMBOL[state]} {Catalog.load().text(f'seat.state.{state.value}', lang)}"


def seat_cmd(
    session_ref: Annotated[str, typer.Option("--session", help="session code or id")],
    seat: Annotated[str, typer.Option("--seat", help="the seat label on the roster, e.g. A07")],
    camera: Annotated[list[str], typer.Option(
        "--camera", help="device number, video, folder or image files")],
    interval: Annotated[float, typer.Option("--interval", help="seconds between checks")] = 2.0,
    checks: Annotated[int | None, typer.Option("--checks", help="stop after this many checks",
                                               min=1)] = None,
    reader: Annotated[str | None, typer.Option(
        "--reader", help="the seat's card reader (name or part): the candidate taps their "
        "chip card to be identified")] = None,
    strip: Annotated[bool, typer.Option(
        "--strip", help="show the candidate's status strip (always on top; asks for consent "
        "there instead of in the terminal)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON line per change")] = False,
    lang: LangOption = None,
) -> None:
    """Máy thi — watch this seat during the exam (Ctrl-C to stop)."""
    lang = lang or default_language()
    with cli_errors(as_json, SEAT_EXITS):
        if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
            raise BadInterval(f"{interval} s", value=f"{interval:g}", low=MIN_INTERVAL,
                              high=MAX_INTERVAL)
        with stored() as store:
            place = seat_place(store, session_ref, seat)
            engine = FaceEngine(load_settings(), landmarks_68=False)  # ~100 MB less
            engine.load()
            buffer = SeatBuffer(buffer_path(place.session_id, place.seat), store.data_key)
            taps = None if reader is None else TapWatcher(
                SeatTapReader(store=store, place=place, engine=engine, trust=TrustFiles.user(),
                              open_card=PcscCards(reader).open,
                              on_access=_opened_with(lang, sys.stderr if as_json else sys.stdout)),
                on_error=_reader_trouble(lang), card_present=_card_on(reader)).start()
            text = consent_text(place.seat, interval)
            window = _strip(place.seat, text, lang) if strip else None
            asker = window or TerminalConsent(text, lang, sys.stdin,
                                              sys.stderr if as_json else sys.stdout)
            runner = SeatRunner(
                agent=SeatAgent(engine.settings.operating_point, SeatRules()),
                observer=SeatObserver(engine), camera=open_camera(camera), buffer=buffer,
                store=store, place=place, actor=f"seat:{place.seat}", clock=utcnow,
                consent=asker, withdrawals=asker.withdrawn,
                reopen_camera=lambda: open_camera(camera), taps=taps)
            stop = threading.Event()
            done = [0]
            last: list[SeatState | None] = [None]

            def on_step(result: StepResult) -> None:
                done[0] += 1
                if checks is not None and done[0] >= checks:
                    stop.set()
                if result.state is not last[0]:
                    last[0] = result.state
                    _show(place.seat, result, as_json, lang)
                    if window is not None:
                        window.show(result.state)

            def interrupted(_sig: int, _frame: FrameType | None) -> None:
                stop.set()

            previous = signal.signal(signal.SIGINT, interrupted)
            try:
                def watch() -> StepResult:
                    return run(runner, interval=interval, stop=stop.is_set, on_step=on_step,
                               sleep=lambda s: _wait(stop, s))

                final = watch() if window is None else _beside(window, watch, stop)
            finally:
                signal.signal(signal.SIGINT, previous)
                if taps is not None:
                    taps.stop()
                if runner.camera is not None:
                    runner.camera.close()
                buffer.close()
            _show(place.seat, final, as_json, lang, end=True)


def _strip(seat: str, text: ConsentText, lang: str) -> SeatStrip:
    from examdesk.views.seat_strip import SeatStrip  # Tk only when the strip is wanted

    return SeatStrip(seat=seat, consent=text, lang=lang)


def _beside(window: SeatStrip, watch: Callable[[], StepResult],
            stop: threading.Event) -> StepResult:
    """Tk on this (the main) thread, the seat's checks on another; the strip closes when they
    end, and closing the strip's loop (the session ends) stops them."""
    out: list[StepResult] = []
    failed: list[BaseException] = []

    def work() -> None:
        try:
            out.append(watch())
        except BaseException as exc:  # shown by the command's error handling, on this thread
            failed.append(exc)
        finally:
            window.close()

    worker = threading.Thread(target=work, name="seat-checks", daemon=True)
    worker.start()
    try:
        window.run()
    finally:
        stop.set()
        worker.join()
    if failed:
        raise failed[0]
    return out[0]


def _card_on(reader: str) -> Callable[[], bool]:
    from reader.transport import list_readers

    def present() -> bool:
        return any(r.present for r in list_readers() if reader.lower() in r.reader.lower())

    return present


def _opened_with(lang: str, out: TextIO) -> Callable[[TapAccess], None]:
    """Says how a tapped card was opened (PACE with the CAN, or BAC from the roster)."""

    def tell(access: TapAccess) -> None:
        print(Catalog.load().text(access.key, lang), file=out, flush=True)

    return tell


def _reader_trouble(lang: str) -> Callable[[Exception], None]:
    told: list[str] = []

    def tell(exc: Exception) -> None:
        if type(exc).__name__ not in told:  # once per kind of trouble, not once a second
            told.append(type(exc).__name__)
            # A roster that cannot open a BAC-only card says what it lacks; the rest is the
            # reader's or the link's trouble.
            text = (exc.text(Catalog.load(), lang) if isinstance(exc, RosterLacksBacKey)
                    else Catalog.load().text("seat.tap.reader_error", lang))
            print(text, file=sys.stderr, flush=True)

    return tell


def _wait(stop: threading.Event, seconds: float) -> None:
    stop.wait(seconds)  # Ctrl-C ends the wait at once, not after the interval


def _show(seat: str, result: StepResult, as_json: bool, lang: str, end: bool = False) -> None:
    if as_json:
        print(json.dumps({"seat": seat, "state": result.state.value, "end": end,
                          "pending": result.pending,
                          "store_reachable": result.store_reachable}, ensure_ascii=False),
              flush=True)
        return
    catalog = Catalog.load()
    line = f"{seat}: {state_words(result.state, lang)}"
    if result.pending:
        line += " — " + catalog.text("seat.buffered", lang, count=result.pending)
    if end:
        line += " — " + catalog.text("seat.stopped", lang)
    print(line, flush=True)
