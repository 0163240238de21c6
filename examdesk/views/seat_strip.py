"""The candidate's status strip at the seat (issue 18): a small always-on-top window that says
"Đang giám sát" / "Monitoring" and the seat's state in words, and asks for consent.

It must never get in the way of the exam software: no title bar and no taskbar entry
(``overrideredirect``), a window-manager hint that it is a notification (never given focus), no
widget that takes the keyboard focus, no grab, never raised with focus. No camera preview: the
candidate sees words, not a video of themselves (nothing to stare at, nothing recorded).

Threads: Tk lives on the thread that made the strip; the seat's runner calls
:meth:`SeatStrip.show` and the strip as its consent source (:meth:`__call__`) from its own
thread — both only queue work, which :meth:`pump` applies on the Tk thread.
"""

from __future__ import annotations

import queue
import threading
import tkinter as tk
import uuid

from examdesk.i18n import Catalog
from examdesk.services.seat_consent import ConsentText
from proctoring.seat import Admission, ConsentAnswer, SeatState

WIDTH = 380  # px: a strip along the top edge, not a window over the exam
MARGIN = 8
WATCHED = frozenset({SeatState.WATCHING, SeatState.ABSENT, SeatState.SEVERAL_FACES,
                     SeatState.DIFFERENT_PERSON, SeatState.BOUND})
SYMBOL = {SeatState.WAITING: "…", SeatState.BOUND: "◆", SeatState.WATCHING: "●",
          SeatState.ABSENT: "○", SeatState.SEVERAL_FACES: "‼",
          SeatState.DIFFERENT_PERSON: "✖", SeatState.CAMERA_LOST: "⌀",
          SeatState.CAMERA_COVERED: "◐",
          SeatState.PAUSED: "‖", SeatState.NO_CONSENT: "⊘"}


class SeatStrip:
    def __init__(self, *, seat: str, consent: ConsentText, lang: str = "vi",
                 root: tk.Tk | None = None) -> None:
        self.seat, self.consent, self.lang = seat, consent, lang
        self.catalog = Catalog.load()
        self.root = root or tk.Tk(className="examdesk-seat")
        self._work: queue.SimpleQueue[tuple[str, object]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._asked: uuid.UUID | None = None
        self._answer: bool | None = None
        self._withdrawn = False  # the candidate pressed "withdraw" since the seat last asked
        self.state: SeatState = SeatState.WAITING
        r = self.root
        r.title(self._t("seat.strip.window", seat=seat))
        r.overrideredirect(True)
        r.attributes("-topmost", True)
        try:
            r.attributes("-type", "notification")  # X11: the window manager never focuses it
        except tk.TclError:
            pass  # not X11
        r.configure(background="#1f2933", takefocus=0)
        self.headline = tk.Label(r, anchor="w", fg="#ffffff", bg="#1f2933",
                                 font=("DejaVu Sans", 10, "bold"), takefocus=0)
        self.headline.pack(fill="x", padx=8, pady=(4, 0))
        self.words = tk.Label(r, anchor="w", fg="#e4e7eb", bg="#1f2933", justify="left",
                              font=("DejaVu Sans", 9), wraplength=WIDTH - 16, takefocus=0)
        self.words.pack(fill="x", padx=8, pady=(0, 4))
        # Withdrawing consent is as easy as giving it (Decree 13/2023): one press, beside
        # the words, while the candidate's consent stands.
        self.withdraw = tk.Button(self.root, text=self.catalog.both("seat.strip.withdraw"),
                                  takefocus=0, font=("DejaVu Sans", 8), pady=0,
                                  command=self._withdraw)
        self.ask = tk.Frame(r, bg="#1f2933", takefocus=0)
        self.ask_text = tk.Label(self.ask, anchor="w", justify="left", fg="#ffffff",
                                 bg="#1f2933", font=("DejaVu Sans", 9),
                                 wraplength=WIDTH + 260, takefocus=0)
        self.ask_text.pack(fill="x", padx=8)
        buttons = tk.Frame(self.ask, bg="#1f2933", takefocus=0)
        buttons.pack(fill="x", padx=8, pady=4)
        self.yes = tk.Button(buttons, text=self.catalog.both("seat.strip.yes"), takefocus=0,
                             command=lambda: self._answered(True))
        self.no = tk.Button(buttons, text=self.catalog.both("seat.strip.no"), takefocus=0,
                            command=lambda: self._answered(False))
        self.yes.pack(side="left")
        self.no.pack(side="left", padx=8)
        self._render(SeatState.WAITING)
        self._place(asking=False)

    # --- from any thread -----------------------------------------------------------------------

    def show(self, state: SeatState) -> None:
        self._work.put(("state", state))

    def __call__(self, admission: Admission) -> ConsentAnswer | None:
        """The seat's consent source: ask once per candidate; the answer once they gave it."""
        with self._lock:
            if self._asked != admission.roster_entry_id:
                self._asked, self._answer = admission.roster_entry_id, None
                self._work.put(("ask", None))
            answer = self._answer
        return None if answer is None else self.consent.answer(answer, self.lang)

    def withdrawn(self) -> ConsentAnswer | None:
        """The seat's withdrawal source: the candidate pressed "withdraw" since the last call."""
        with self._lock:
            pressed, self._withdrawn = self._withdrawn, False
        return self.consent.answer(False, self.lang) if pressed else None

    def close(self) -> None:
        self._work.put(("close", None))

    # --- on the Tk thread ----------------------------------------------------------------------

    def pump(self) -> bool:
        """Apply what the runner asked for; False once the strip is closed."""
        while not self._work.empty():
            what, value = self._work.get()
            if what == "state":
                assert isinstance(value, SeatState)
                self._render(value)
            elif what == "ask":
                self.ask_text.configure(text=self.consent.shown(self.lang))
                self.ask.pack(fill="x", pady=(0, 6))
                self._place(asking=True)
            elif what == "close":
                self.root.destroy()
                return False
        return True

    def run(self, every_ms: int = 200) -> None:
        """The Tk main loop, pumping every ``every_ms`` until :meth:`close`."""
        def tick() -> None:
            if self.pump():
                self.root.after(every_ms, tick)

        self.root.after(every_ms, tick)
        self.root.mainloop()

    def _answered(self, given: bool) -> None:
        with self._lock:
            self._answer = given
        self.ask.pack_forget()
        self._show_withdraw(given)
        self._place(asking=False)
        self.words.configure(text=self.catalog.both("seat.consent.given" if given
                                                    else "seat.consent.refused"))

    def _withdraw(self) -> None:
        with self._lock:
            self._answer, self._withdrawn = False, True
        self._show_withdraw(False)
        self._place(asking=False)
        self.words.configure(text=self.catalog.both("seat.consent.withdrawn"))

    def _show_withdraw(self, on: bool) -> None:
        if on and not self.withdraw.winfo_manager():
            self.withdraw.pack(anchor="w", padx=8, pady=(0, 4))
        elif not on:
            self.withdraw.pack_forget()

    def _render(self, state: SeatState) -> None:
        self.state = state
        watched = state in WATCHED
        with self._lock:
            consenting = self._answer is not False and not self._withdrawn
        # Watched means consented (here or, after a restart, in the store): it can be withdrawn.
        self._show_withdraw(consenting and (watched or self._answer is True))
        self.headline.configure(text=self._t("seat.strip.title", seat=self.seat) + " — " + (
            self.catalog.both("seat.state.watching") if watched
            else self.catalog.both("seat.strip.not_watching")))
        self.words.configure(text=f"{SYMBOL[state]} "
                             + self.catalog.both(f"seat.state.{state.value}"))

    def _place(self, *, asking: bool) -> None:
        """Top right of the screen, as small as its words; wider while asking for consent."""
        self.root.update_idletasks()
        width = WIDTH + (280 if asking else 0)
        height = self.root.winfo_reqheight()
        x = self.root.winfo_screenwidth() - width - MARGIN
        self.root.geometry(f"{width}x{height}+{x}+{MARGIN}")

    def _t(self, key: str, **context: object) -> str:
        return self.catalog.text(key, self.lang, **context)
