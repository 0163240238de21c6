"""The exam room's alerts in the header, on every screen (issue 18): "‼ 2 cảnh báo phòng thi
chưa xử lý — F11".

The room screen (F11, :mod:`.room`) shows the seats' alerts only while it is shown; an
invigilator at the door desk checking in a late candidate must still learn that seat A07 has a
different person. So while a session with seats is open, the header says how many of the room's
alerts nobody has acknowledged yet, in words with a symbol (never colour alone), and when a new
CRITICAL alert arrives the status line says once which seat and what; F11 (or a click on the
badge) then opens the room on that alert.

The read is the room screen's own (:func:`examdesk.services.room.room_view`: the same counts as
its summary), on the app's workers every ``EVERY_MS``, one at a time — never on the Tk thread.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import customtkinter as ctk

from examdesk.services.room import SYMBOLS, Alert, RoomView, alert_state, room_view
from proctoring.models import Role, Severity

from .room import RoomScreen
from .theme import Look

if TYPE_CHECKING:
    from examdesk.app import ExamDeskApp

EVERY_MS = 1500  # the room screen asks once a second; the header a little less often
WRAP_PX = 190

WAITING = Look("#b3261e", "#ffffff", "‼")
CLEAR = Look("#2f6b3a", "#ffffff", "✔")
UNKNOWN = Look("#f4b400", "#1a1a1a", "?")


@dataclass(frozen=True)
class RoomAlerts:
    """What the header needs of the room: the session, whether it has seats, the alerts
    nobody acknowledged yet (worst, then newest first) — or the error of the last read."""

    session_id: uuid.UUID
    has_seats: bool
    waiting: tuple[Alert, ...]

    @property
    def critical(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.waiting if a.severity is Severity.CRITICAL)


def read_room_alerts(room: RoomView) -> RoomAlerts:
    return RoomAlerts(room.session_id, bool(room.seats),
                      tuple(a for a in room.alerts if not a.acknowledged))


def describe_alerts(t: Any, alerts: RoomAlerts | None, failed: bool = False
                    ) -> tuple[Look, str] | None:
    """The badge's look and words (pure: tested without a window); None: no badge (no
    session with seats)."""
    if failed:
        return UNKNOWN, t("alerts18.badge.unknown")
    if alerts is None or not alerts.has_seats:
        return None
    if alerts.waiting:
        return WAITING, t("alerts18.badge.waiting", n=len(alerts.waiting))
    return CLEAR, t("alerts18.badge.clear")


def notice_text(t: Any, alert: Alert) -> str:
    """The status line's one-time notice of a new critical alert: the seat, what, who."""
    shown = alert_state(alert)
    who = alert.name or t("room.not_on_roster")
    return t("alerts18.notice", symbol=SYMBOLS.get(shown, "!"), seat=alert.seat,
             what=t(f"seat.state.{shown}"), who=who,
             sbd=alert.registration_number or "—")


class RoomAlertsBadge(ctk.CTkLabel):
    """The header's room badge. Starts polling by itself once the services are up; follows
    the open session (a new session: nothing announced yet)."""

    def __init__(self, master: Any, app: ExamDeskApp) -> None:
        # Two short lines rather than one long one: the header's row is shared with the
        # session's name, which must not be cut off at a 1366-pixel screen.
        super().__init__(master, text="", font=app.fonts.small, corner_radius=6, height=40,
                         cursor="hand2", wraplength=WRAP_PX, justify="center")
        self.app = app
        self.alerts: RoomAlerts | None = None
        self.failed = False
        self._busy = False
        self._session: uuid.UUID | None = None
        self._announced: set[uuid.UUID] = set()
        self.bind("<Button-1>", lambda _e: self.open_room())
        app.texts.on_change(self._paint)
        self._timer: str | None = self.after(EVERY_MS, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            try:
                self.after_cancel(self._timer)
            except Exception:  # the window is closing
                pass
            self._timer = None

    def _watching(self) -> uuid.UUID | None:
        """The open session when the room's alerts concern this operator (a desk's, not the
        office's review)."""
        app = self.app
        if app.services is None or app.session is None or app.operator is None \
                or app.operator.role is Role.EDUCATION_OFFICE:
            return None
        return app.session.id

    def _tick(self) -> None:
        self._timer = None
        if self.app.closed:
            return
        session_id = self._watching()
        if session_id != self._session:  # another session (or none): start afresh
            self._session = session_id
            self._announced = set()
            self.alerts, self.failed = None, False
            self._paint()
        services = self.app.services
        if session_id is not None and services is not None and not self._busy:
            self._busy = True
            store = services.store

            def done(room: RoomView) -> None:
                self._busy = False
                if room.session_id != self._session:
                    return  # the session changed meanwhile: the next poll is for the new one
                self.alerts, self.failed = read_room_alerts(room), False
                self._announce()
                self._paint()

            def failed(_exc: BaseException) -> None:
                self._busy = False
                self.failed = True  # said in the badge: never an old count shown as current
                self._paint()

            ref = str(session_id)
            self.app.run_job(lambda: room_view(store, ref), done=done, failed=failed)
        self._timer = self.after(EVERY_MS, self._tick)

    def _announce(self) -> None:
        """A CRITICAL alert not announced before: the status line says it once, and the room
        opens on it at the next F11."""
        alerts = self.alerts
        if alerts is None:
            return
        new = [a for a in alerts.critical if a.incident_id not in self._announced]
        if not new:
            return
        self._announced.update(a.incident_id for a in new)
        newest = max(new, key=lambda a: a.started_at)
        self.app.set_status_text(notice_text(self.app.texts, newest))
        room = self._room()
        if room is not None and self.app.current is not room:
            room.open_on(newest.incident_id)

    def open_room(self) -> None:
        """A click on the badge: the room, on the first alert nobody acknowledged."""
        room = self._room()
        if room is not None and self.alerts is not None and self.alerts.waiting \
                and self.app.current is not room:
            room.open_on(self.alerts.waiting[0].incident_id)
        self.app.show("room")

    def _room(self) -> RoomScreen | None:
        room = self.app.views.get("room")
        return room if isinstance(room, RoomScreen) else None

    def _paint(self) -> None:
        shown = describe_alerts(self.app.texts, self.alerts, self.failed and self._session
                                is not None)
        if shown is None:
            self.grid_remove()
            return
        look, words = shown
        self.configure(text=f" {look.symbol} {words} ", fg_color=look.background,
                       text_color=look.foreground)
        self.grid()

    @property
    def text(self) -> str:
        return str(self.cget("text")).strip()
