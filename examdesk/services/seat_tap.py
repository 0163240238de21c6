"""A chip card tapped on the seat's reader (issue 18): open it as the door does, prove it
genuine with the same trust files and policy as the door, find its holder on the session's
roster and the door's admission, encode the chip portrait. What the seat agent then decides is
in :meth:`proctoring.seat.SeatAgent.card_tapped`.

Opening: PACE with the CAN of each roster line first (a CCCD's CAN is the last 6 digits of its
ID); a chip without PACE, or one that refuses PACE with a CAN, is opened with BAC from what the
roster line holds (shared/reference/cccd-chip.md §2, §5): the document number is the last 9
digits of the ID, the date of birth is the line's, and the expiry — printed only on the card —
is the birthday of a renewal age (25/40/60), the likeliest first, as the door derives it from a
QR code (:func:`reader.keys.expiry_candidates`). Which one opened the card is said in words
(``on_access``). A roster that cannot give a BAC key for the card (no line with a valid ID and
date of birth, or such lines left out while every other line's key was refused) is
:class:`RosterLacksBacKey`, a bilingual message — not an incident against somebody.

:class:`SeatTapReader` reads one tap; :class:`TapWatcher` runs it on a thread of its own (a
card read takes a second or two; the seat's checks and heartbeat go on) and hands each tap to
the runner through a queue, once per card put on the reader.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from datetime import date
from enum import StrEnum

from sqlmodel import col, select

from biometrics import FaceEngine, enrol
from biometrics.errors import BiometricsError
from proctoring.errors import InvalidInput
from proctoring.models import Candidate
from proctoring.seat import CardTap
from proctoring.seat_store import SeatPlace, card_holder, roster_numbers
from proctoring.store import Store
from reader.errors import (
    InvalidKeyInput,
    NeedsMrzKey,
    NoCard,
    ReaderError,
    WrongCardKey,
    is_card_fault,
)
from reader.keys import AccessKey, BacKey, Can, expiry_candidates
from reader.transport import CardTransport
from reader.trust.policy import Verdict

from .card import CardReading, read_and_verify
from .trust import TrustFiles


class TapAccess(StrEnum):
    """How the seat opened a tapped card (its words: ``key``)."""

    PACE_CAN = "pace_can"
    PACE_MRZ = "pace_mrz"  # the chip refused PACE with a CAN, took it with the MRZ key
    BAC = "bac"

    @property
    def key(self) -> str:
        return f"alerts18.tap.{self.value}"


class RosterLacksBacKey(InvalidInput):
    """The tapped card has no PACE (or refuses it with a CAN), and the roster cannot give the
    BAC key for it: ``lacking`` lines have no valid 12-digit ID with a date of birth that
    matches it (context: ``seat``, ``lacking``)."""

    key = "alerts18.tap.roster_lacks_bac"


def _can_keys(numbers: Sequence[str]) -> list[Can]:
    keys = []
    for n in numbers:
        try:
            keys.append(Can.from_id_number(n))
        except InvalidKeyInput:
            continue  # a roster line whose ID is no CCCD number: no CAN from it
    return keys


def bac_keys(store: Store, place: SeatPlace, numbers: Sequence[str], *, today: date
             ) -> tuple[list[BacKey], int]:
    """The BAC keys of the roster lines ``numbers`` (in that order), and how many lines could
    give none. Each line's likeliest expiry first for every line, then the next guesses: a
    tap is opened after about one attempt per line before it."""
    with store.read() as tx:
        births = dict(tx.exec(select(col(Candidate.id_number), col(Candidate.date_of_birth))
                              .where(Candidate.centre_id == place.centre_id)
                              .where(col(Candidate.id_number).in_(list(numbers)))).all())
    per_line: list[list[BacKey]] = []
    lacking = 0
    for number in numbers:
        born = births.get(number)
        try:
            if born is None or len(number) != 12:
                raise InvalidKeyInput("no 12-digit ID with a date of birth", reason="missing")
            per_line.append([BacKey.from_id_number(number, born, expiry)
                             for expiry in expiry_candidates(born, None, today=today)])
        except InvalidKeyInput:
            lacking += 1  # the ID does not fit the date of birth, or is no CCCD number
    rounds = max((len(k) for k in per_line), default=0)
    return [k[i] for i in range(rounds) for k in per_line if i < len(k)], lacking


class SeatTapReader:
    """Reads a card tapped at one seat into a :class:`CardTap` (I/O: reader, store, engine)."""

    def __init__(self, *, store: Store, place: SeatPlace, engine: FaceEngine,
                 trust: TrustFiles, open_card: Callable[[float], CardTransport],
                 today: Callable[[], date] = date.today,
                 on_access: Callable[[TapAccess], None] | None = None) -> None:
        self.store, self.place, self.engine, self.trust = store, place, engine, trust
        self._open = open_card
        self._today = today
        self._on_access = on_access  # told how each card that opened was opened

    def _read(self, wait: float, keys: Sequence[AccessKey]) -> CardReading:
        return read_and_verify(lambda: self._open(wait), keys, trust=self.trust,
                               today=self._today())

    def _open_card(self, wait: float, numbers: Sequence[str]) -> tuple[CardReading, TapAccess]:
        """PACE-CAN with the roster's CANs; BAC from the roster when the chip has no PACE or
        refuses a CAN. A card that refuses every CAN is nobody's on the roster (the CAN is the
        ID's end): BAC with the same lines would only be refused again, line by line."""
        cans = _can_keys(numbers)
        if cans:
            try:
                return self._read(wait, cans), TapAccess.PACE_CAN
            except NeedsMrzKey:
                pass
        keys, lacking = bac_keys(self.store, self.place, numbers, today=self._today())
        if not keys:
            raise RosterLacksBacKey("no roster line gives a BAC key", seat=self.place.seat,
                                    lacking=lacking)
        try:
            reading = self._read(wait, keys)
        except WrongCardKey:
            if lacking:  # the holder may be on a line the key could not be made from
                raise RosterLacksBacKey("BAC refused; roster lines lack its data",
                                        seat=self.place.seat, lacking=lacking) from None
            raise
        return reading, (TapAccess.BAC if reading.card.access == "BAC" else TapAccess.PACE_MRZ)

    def read(self, wait: float) -> CardTap | None:
        """One card on the reader within ``wait`` seconds (None: no card). Errors of the reader
        or the link (not of the card) are raised as they are, and so is
        :class:`RosterLacksBacKey`; the caller tries again."""
        numbers = roster_numbers(self.store, self.place)
        if not numbers:
            return None  # an empty roster: nobody to bind
        try:
            reading, access = self._open_card(wait, numbers)
        except NoCard:
            return None
        except WrongCardKey:
            # No roster line's key (its CAN, or its BAC key) opens it: the holder is on no
            # line of this session.
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
        if self._on_access is not None:
            self._on_access(access)
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
