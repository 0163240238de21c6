"""The seat's consent text and the ways a candidate answers it (the terminal here, the status
strip in :mod:`examdesk.views.seat_strip`). Decree 13/2023: consent is given, never presumed —
a source that has no answer returns None and the seat reads no frame."""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from examdesk.i18n import Catalog
from proctoring.seat import Admission, ConsentAnswer

YES = frozenset({"c", "có", "co", "y", "yes", "đồng ý", "dong y"})
NO = frozenset({"k", "không", "khong", "n", "no",
                # Withdrawing it later, while the seat runs: "no" from then on.
                "rút", "rut", "rút lại", "rut lai", "rút lại đồng ý", "withdraw"})


@dataclass(frozen=True)
class ConsentText:
    """What the candidate is shown, in both languages, and its digest (recorded with the
    answer, so the record names the exact text)."""

    title_vi: str
    title_en: str
    body_vi: str
    body_en: str

    @property
    def sha256(self) -> str:
        both = "\n".join((self.title_vi, self.body_vi, self.title_en, self.body_en))
        return hashlib.sha256(both.encode("utf-8")).hexdigest()

    def shown(self, lang: str) -> str:
        """Vietnamese first, then English (the strip and the terminal show both)."""
        return "\n".join((self.title_vi, self.body_vi, "", self.title_en, self.body_en))

    def answer(self, given: bool, lang: str) -> ConsentAnswer:
        return ConsentAnswer(given, self.sha256, lang)


def consent_text(seat: str, interval: float) -> ConsentText:
    catalog = Catalog.load()
    seconds = f"{interval:g}"

    def t(key: str, lang: str) -> str:
        return catalog.text(key, lang, seat=seat, interval=seconds)

    return ConsentText(t("seat.consent.title", "vi"), t("seat.consent.title", "en"),
                       t("seat.consent.text", "vi"), t("seat.consent.text", "en"))


def parse_answer(line: str) -> bool | None:
    word = " ".join(line.strip().lower().split())
    if word in YES:
        return True
    if word in NO:
        return False
    return None


class TerminalConsent:
    """Shows the text on ``out`` once per candidate and reads the answer from ``lines`` on a
    thread of its own, so the seat keeps its heartbeat while the candidate reads. The reading
    goes on while the seat runs: "không" / "rút" / "withdraw" typed then withdraws the consent
    (:meth:`withdrawn`, the seat's withdrawal source)."""

    def __init__(self, text: ConsentText, lang: str, lines: IO[str], out: IO[str],
                 *, told: Callable[[bool], None] | None = None) -> None:
        self.text, self.lang, self.out = text, lang, out
        self._told = told
        self._answers: queue.SimpleQueue[bool] = queue.SimpleQueue()
        self._asked: object = None
        self._answer: bool | None = None
        self._lines = lines
        self._reader: threading.Thread | None = None

    def _read(self) -> None:
        catalog = Catalog.load()
        for line in iter(self._lines.readline, ""):
            answer = parse_answer(line)
            if answer is None:
                print(catalog.both("seat.consent.prompt"), file=self.out, flush=True)
                continue
            self._answers.put(answer)

    def __call__(self, admission: Admission) -> ConsentAnswer | None:
        if self._asked != admission.roster_entry_id:
            self._asked, self._answer = admission.roster_entry_id, None
            print(self.text.shown(self.lang), file=self.out, flush=True)
            print(Catalog.load().both("seat.consent.prompt"), file=self.out, flush=True)
            self._start_reading()
        while not self._answers.empty():
            self._take(self._answers.get())
        return None if self._answer is None else self.text.answer(self._answer, self.lang)

    def withdrawn(self) -> ConsentAnswer | None:
        """Asked by the seat only while it holds the candidate's consent (given here or found
        in the store after a restart): a "no" typed since the last call withdraws it."""
        self._start_reading()  # a restarted seat holding a consent from the store
        last: bool | None = None
        while not self._answers.empty():
            last = self._answers.get()
            self._take(last, withdrawal=not last)
        return self.text.answer(False, self.lang) if last is False else None

    def _start_reading(self) -> None:
        if self._reader is None:
            self._reader = threading.Thread(target=self._read, name="seat-consent",
                                            daemon=True)
            self._reader.start()

    def _take(self, given: bool, *, withdrawal: bool = False) -> None:
        catalog = Catalog.load()
        self._answer = given
        key = ("seat.consent.withdrawn" if withdrawal else
               "seat.consent.given" if given else "seat.consent.refused")
        print(catalog.both(key), file=self.out, flush=True)
        if given:
            print(catalog.both("seat.consent.how_to_withdraw"), file=self.out, flush=True)
        if self._told is not None:
            self._told(given)
