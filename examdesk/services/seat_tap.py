"""A chip card tapped on the seat's reader (issue 18): open it as the door does (PACE-CAN with
the CAN of each roster line — a CCCD's CAN is the last 6 digits of its ID — BAC where the card
has no PACE is not possible without the MRZ, so a BAC-only card binds by the seat plan), prove
it genuine with the same trust files and policy as the door, find its holder on the session's
roster and the door's admission, encode the chip portrait. What the seat agent then decides is
in :meth:`proctoring.seat.SeatAgent.card_tapped`.

:class:`SeatTapReader` reads one tap; :class:`TapWatcher` runs it on a thread of its own (a
card read takes a second or two; the seat's checks and heartbeat go on) and hands each tap to
the runner through a queue, once per card put on the reader.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from datetime import date

from biometrics import FaceEngine, enrol
from biometrics.errors import BiometricsError
from proctoring.seat import CardTap
from proctoring.seat_store import SeatPlace, card_holder, roster_numbers
from proctoring.store import Store
from reader.errors import NoCard, ReaderError, WrongCardKey, is_card_fault
from reader.keys import Can
from reader.transport import CardTransport
from reader.trust.policy import Verdict

from .card import read_and_verify
from .trust import TrustFiles


class SeatTapReader:
    """Reads a card tapped at one seat into a :class:`CardTap` (I/O: reader, store, engine)."""

    def __init__(self, *, store: Store, place: SeatPlace, engine: FaceEngine,
                 trust: TrustFiles, open_card: Callable[[float], CardTransport],
                 today: Callable[[], date] = date.today) -> None:
        self.store, self.place, self.engine, self.trust = store, place, engine, trust
        self._open = open_card
        self._today = today

    def read(self, wait: float) -> CardTap | None:
        """One card on the reader within ``wait`` seconds (None: no card). Errors of the reader
        or the link (not of the card) are raised as they are; the caller tries again."""
        keys = [Can.from_id_number(n) for n in roster_numbers(self.store, self.place)
                if len(n) == 12 and n.isdigit()]
        if not keys:
            return None  # an empty roster: nobody to bind
        try:
            reading = read_and_verify(lambda: self._open(wait), keys, trust=self.trust,
                                      today=self._today())
        except NoCard:
            return None
        except WrongCardKey:
            # No roster line's CAN opens it: the holder is on no line of this session.
            return CardTap(None, False, None, None, None, None)
        except ReaderError as exc:
            if not is_card_fault(exc):
                raise
            # The chip's own data broke the read (a forged or broken chip): as the door does.
            found = exc.context.get("id_number")
            number = str(found) if found else None
            entry, admission = (card_holder(self.store, self.place, number) if number
                                else (None, None))
            return CardTap(number, False, Verdict.FORGED.value, entry, admission, None)
        card = reading.card
        number = card.id_number
        assert reading.trust is not None  # read with trust files
        verdict = reading.trust.verdict.level
        entry, admission = card_holder(self.store, self.place, number) if number else (None,
                                                                                        None)
        portrait = None
        if verdict is Verdict.TRUSTED and admission is not None and card.portrait is not None:
            try:
                portrait = enrol(self.engine, card.portrait.data).embedding.reshape(1, -1)
            except BiometricsError:
                portrait = None  # a portrait with no usable face: not bound by this card
        return CardTap(number, verdict is Verdict.TRUSTED, verdict.value, entry, admission,
                       portrait)


class TapWatcher:
    """Reads taps on a thread; :meth:`__call__` is the runner's tap source (never blocks)."""

    def __init__(self, reader: SeatTapReader, *, on_error: Callable[[Exception], None],
                 wait: float = 1.0, card_present: Callable[[], bool] | None = None) -> None:
        self.reader = reader
        # Whether a card still lies on the reader: a card left there is read once, not opened
        # again every second (each read is a PACE run and a trust check).
        self._present = card_present
        self._taps: queue.SimpleQueue[CardTap] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._on_error = on_error
        self._wait = wait
        self._thread = threading.Thread(target=self._run, name="seat-tap", daemon=True)

    def start(self) -> TapWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._wait + 5)

    def __call__(self) -> CardTap | None:
        return None if self._taps.empty() else self._taps.get()

    def _run(self) -> None:
        last: str | None = None
        while not self._stop.is_set():
            try:
                tap = self.reader.read(self._wait)
            except Exception as exc:  # the reader unplugged, pcscd restarted: report, go on
                self._on_error(exc)
                self._stop.wait(self._wait)
                continue
            if tap is None:
                last = None  # the reader is empty: the next card is a new tap
                continue
            key = f"{tap.id_number}:{tap.verdict}"
            if key != last:  # a card left on the reader is one tap, not one per second
                self._taps.put(tap)
            last = key
            self._stop.wait(self._wait)
            while self._present is not None and not self._stop.is_set():
                try:
                    if not self._present():
                        break
                except Exception as exc:
                    self._on_error(exc)
                    break
                self._stop.wait(self._wait)
