"""The desk under a centre outage, in the header (issue 17): "Mất kết nối trung tâm — N chờ gửi".

A desk on a centre's PostgreSQL keeps its check-ins in its own outbox while the centre does not
answer (:mod:`proctoring.desk_outbox`). Every few seconds, on the app's workers (never on the Tk
thread), the badge delivers what waits — or, with nothing waiting, asks the centre one
``SELECT 1`` — and says in words with a symbol (never colour alone): the centre is unreachable
and N check-ins wait; reconnected, sending N; N the centre refused and this desk keeps. When
the centre answers and nothing waits, the badge is hidden. Going offline puts the offline rule
(what is and is not compared meanwhile) on the status line; clicking the badge shows it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import customtkinter as ctk
import sqlalchemy as sa

from examdesk.services.outbox import desk_station
from examdesk.settings import desk_name
from proctoring.desk_outbox import DeskOutbox
from proctoring.errors import DatabaseUnavailable
from proctoring.models import ExamSession
from proctoring.stations import StationInfo
from proctoring.store import Store

from .sync_state import Shown
from .theme import Look

if TYPE_CHECKING:
    from examdesk.app import ExamDeskApp

EVERY_MS = 5000

OFFLINE = Look("#b3261e", "#ffffff", "⚠")
SENDING = Look("#3b7bbf", "#ffffff", "⟳")
KEPT = Look("#f4b400", "#1a1a1a", "⚠")


@dataclass(frozen=True)
class OutboxState:
    waiting: int
    parked: int
    reachable: bool


def describe_outbox(t: Any, state: OutboxState) -> Shown | None:
    """What the badge says (pure: tested without a window); None: nothing to say."""
    if not state.reachable:
        short = t("outbox.offline", n=state.waiting)
        return Shown(OFFLINE, short, f"{short}. {t('outbox.rule')}")
    if state.waiting:
        short = t("outbox.sending", n=state.waiting)
        return Shown(SENDING, short, short)
    if state.parked:
        short = t("outbox.parked", n=state.parked)
        return Shown(KEPT, short, short)
    return None


def probe(store: Store, outbox: DeskOutbox, session: ExamSession | None = None) -> OutboxState:
    """Deliver what waits (or ask the centre whether it answers), and while it answers keep
    the open session's roster copy fresh, so an outage before this desk's first check-in of
    the session still finds it: on a worker thread."""
    if len(outbox):
        done = outbox.deliver(store)
        if not done.reachable:
            return OutboxState(done.waiting, len(outbox.parked()), False)
    try:
        with store.read() as tx:
            tx.connection().execute(sa.text("SELECT 1"))
        if session is not None:
            outbox.remember(store, session)
        reachable = True
    except DatabaseUnavailable:
        reachable = False
    return OutboxState(len(outbox), len(outbox.parked()), reachable)


class OutboxBadge(ctk.CTkLabel):
    def __init__(self, master: Any, app: ExamDeskApp) -> None:
        super().__init__(master, text="", font=app.fonts.small, corner_radius=6, height=28,
                         cursor="hand2")
        self.app = app
        self.state: OutboxState | None = None
        self.shown_now: Shown | None = None
        self._timer: str | None = None
        self._busy = False
        self._was_offline = False
        self._station_asked = False  # since the centre last answered
        self.bind("<Button-1>", lambda _e: self._say())
        app.texts.on_change(self._paint)

    def start(self) -> None:
        """Services are up: watch the outbox if this desk keeps one (a centre's desk)."""
        services = self.app.services
        if services is None or services.checkins.outbox is None:
            return
        self._tick()

    def stop(self) -> None:
        if self._timer is not None:
            self.after_cancel(self._timer)
            self._timer = None

    def _tick(self) -> None:
        self._timer = None
        services = self.app.services
        if self.app.closed or services is None or services.checkins.outbox is None:
            return
        if not self._busy:
            self._busy = True
            store, outbox = services.store, services.checkins.outbox

            def done(state: OutboxState) -> None:
                self._busy = False
                if state.reachable and not self._station_asked and services.station is None:
                    self._station()
                self._station_asked = state.reachable
                self.state = state
                self._paint()

            def failed(exc: BaseException) -> None:
                self._busy = False
                self.app.set_status_text(self.app.error_text(exc))

            session = self.app.session
            self.app.run_job(lambda: probe(store, outbox, session), done=done, failed=failed)
        self._timer = self.after(EVERY_MS, self._tick)

    def _station(self) -> None:
        """The centre answers and this desk has no station yet: the desk started while the
        centre was down (or was never enrolled). Asked once per answer; found, the header
        shows it and the check-ins carry its name from now on."""
        services = self.app.services
        if services is None or services.store.backend != "postgresql":
            return

        def found(station: StationInfo | None) -> None:
            if station is None or self.app.closed:
                return
            services.checkins.desk = desk_name({"desk": services.settings.desk}, station.name)
            self.app.station_changed(station)

        store = services.store
        self.app.run_job(lambda: desk_station(store), done=found, failed=lambda _e: None)

    def _say(self) -> None:
        if self.shown_now is not None:
            self.app.set_status_text(self.shown_now.full)

    def _paint(self) -> None:
        shown = None if self.state is None else describe_outbox(self.app.texts, self.state)
        self.shown_now = shown
        if shown is None:
            self.grid_remove()
        else:
            self.configure(text=f" {shown.look.symbol} {shown.short} ",
                           fg_color=shown.look.background, text_color=shown.look.foreground)
            self.grid()
        offline = shown is not None and shown.look is OFFLINE
        if offline and not self._was_offline:
            self._say()  # the offline rule, once, when the centre goes away
        self._was_offline = offline

    @property
    def text(self) -> str:
        return str(self.cget("text")).strip()
