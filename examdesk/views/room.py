"""The exam room (F11): every seat's state, the room's alerts, and what the invigilator does
about them — for an invigilator with 30 candidates who cannot watch 30 webcams.

Left, a grid of seats (seat, SBD, name, and the state in a symbol and words; the tile's colour
only repeats what the words say). Right, the alerts, unacknowledged first, worst first. Below,
the chosen alert's evidence frames beside the chip portrait and the face admitted at the door,
a note, and the actions: acknowledge (audited, as `examdesk room ack`), let the candidate step
out for some minutes, resume, end the exam for the room.

The screen asks the store about once a second on a worker (``POLL_MS``), only while shown, and
redraws only the tiles whose words changed. Keys: arrows move between seats, Enter opens the
seat's newest alert (again: to the note), Enter in the note acknowledges, P / R pause and
resume the chosen seat, Ctrl+E twice ends the exam, Esc goes back to the grid.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from typing import Any

import customtkinter as ctk

from examdesk.services.room import (
    SYMBOLS,
    Alert,
    AlertPictures,
    RoomView,
    SeatTile,
    acknowledge_alert,
    alert_pictures,
    alert_state,
    end_exam,
    let_out,
    room_view,
)
from examdesk.timezone import VIETNAM, moment

from .base import View
from .pictures import open_picture
from .theme import ACCENT, MUTED, PANEL
from .widgets import Column, DataTable, PictureBox

POLL_MS = 1000  # "event to screen within 2 s": a poll each second, the agent's write before
COLUMNS = 4
TILE = (138, 118)  # four across beside the alert list on a 1366-pixel screen
PHOTO_BOX = (148, 186)
END_CONFIRM_S = 5.0
# Tile backgrounds: a hint for the eye only; the symbol and words say it all.
TILE_COLOURS = {"different_person": "#f9d6d3", "several_faces": "#fde7c8",
                "absent": "#fff4ce", "camera_lost": "#fde7c8",
                "camera_covered": "#fde7c8", "silent": "#dfe3e8",
                "paused": "#e8eef7", "ended": "#eceff3", "no_agent": "#f5f7fa"}
NORMAL_TILE = "#eaf5ec"
SEVERITY_COLOURS = {"CRITICAL": "#b3261e", "HIGH": "#b3261e", "MEDIUM": "#8a6100",
                    "LOW": "#52606d"}


def clock(when: Any, date: bool = False) -> str:
    """Vietnam time to the second (an alert's moment matters to the second in a room)."""
    return when.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M:%S" if date else "%H:%M:%S")


def state_text(texts: Any, shown: str) -> str:
    return f"{SYMBOLS.get(shown, '·')} {texts(f'seat.state.{shown}')}"


class SeatCard(ctk.CTkFrame):
    """One seat: seat and SBD, the name, the state in a symbol and words."""

    def __init__(self, master: Any, fonts: Any, on_click: Any) -> None:
        super().__init__(master, corner_radius=8, border_width=1, border_color="#b8c4d0",
                         fg_color=NORMAL_TILE, width=TILE[0], height=TILE[1])
        self.grid_propagate(False)
        self.columnconfigure(0, weight=1)
        self.head = ctk.CTkLabel(self, text="", font=fonts.bold, anchor="w")
        self.head.grid(row=0, column=0, sticky="ew", padx=8, pady=(4, 0))
        self.person = ctk.CTkLabel(self, text="", font=fonts.small, anchor="w")
        self.person.grid(row=1, column=0, sticky="ew", padx=8)
        self.state = ctk.CTkLabel(self, text="", font=fonts.small, anchor="w",
                                  wraplength=TILE[0] - 16, justify="left")
        self.state.grid(row=2, column=0, sticky="ew", padx=8)
        self.count = ctk.CTkLabel(self, text="", font=fonts.small, anchor="w")
        self.count.grid(row=3, column=0, sticky="ew", padx=8, pady=(0, 4))
        for w in (self, self.head, self.person, self.state, self.count):
            w.bind("<Button-1>", lambda _e: on_click())
        self._shown: tuple[Any, ...] | None = None
        self._chosen = False

    def show(self, head: str, person: str, state: str, count: str, colour: str) -> None:
        wanted = (head, person, state, count, colour)
        if wanted == self._shown:  # every configure redraws a canvas: only what changed
            return
        self._shown = wanted
        self.configure(fg_color=colour)
        self.head.configure(text=head)
        self.person.configure(text=person)
        self.state.configure(text=state)
        self.count.configure(text=count)

    def choose(self, on: bool) -> None:
        if on != self._chosen:
            self._chosen = on
            self.configure(border_width=3 if on else 1,
                           border_color=ACCENT if on else "#b8c4d0")

    @property
    def text(self) -> str:
        return " | ".join(str(w.cget("text")) for w in (self.head, self.person, self.state,
                                                          self.count) if w.cget("text"))


class RoomScreen(View):
    name = "room"

    def __init__(self, master: Any, app: Any) -> None:
        super().__init__(master, app)
        t, f = self.t, self.fonts
        self.grid_columnconfigure(0, weight=0)
        self.grid_columnconfigure(1, weight=1)
        self.grid_rowconfigure(2, weight=1)
        self.room: RoomView | None = None
        self.cards: dict[str, SeatCard] = {}
        self.chosen_seat: str | None = None
        self.changes: deque[tuple[float, str, str]] = deque(maxlen=2000)  # (time, seat, shown)
        self._polling = False
        self._in_flight = False
        self._poll_job: str | None = None
        self._pictures_for: uuid.UUID | None = None
        self._end_armed_at = 0.0
        self._rows: list[Any] = []  # the alert rows on screen (refilled only when changed)
        # The alert to open at the next poll once shown (the header's room badge: a new
        # critical alert, then F11, opens the room on it).
        self._open_next: uuid.UUID | None = None

        head = ctk.CTkFrame(self, fg_color="transparent")
        head.grid(row=0, column=0, columnspan=2, sticky="ew", padx=16, pady=(10, 4))
        head.grid_columnconfigure(1, weight=1)
        self.heading = ctk.CTkLabel(head, text="", font=f.title, anchor="w")
        self.heading.grid(row=0, column=0, sticky="w")
        self.summary = ctk.CTkLabel(head, text="", font=f.bold, text_color=MUTED, anchor="e")
        self.summary.grid(row=0, column=1, sticky="e", padx=8)
        self.end_button = ctk.CTkButton(head, font=f.bold, width=150, fg_color="#7a2a24",
                                        command=self.end_pressed)
        t.bind(self.end_button, "room.end")
        self.end_button.grid(row=0, column=2, sticky="e")

        # Left: the seats, and below them the alerts.
        # Four tiles across, rows scrolling for a large room.
        self.grid_box = ctk.CTkScrollableFrame(self, fg_color="#ffffff", height=2 * TILE[1] + 24,
                                               width=COLUMNS * (TILE[0] + 8))
        self.grid_box.grid(row=1, column=0, sticky="nsew", padx=(16, 6))
        # The grid takes the keys itself (a focusable frame): arrows, Enter, P, R.
        self.keys = self.grid_box._parent_canvas
        self.keys.configure(takefocus=1, highlightthickness=2, highlightcolor=ACCENT)
        for keysym, action in (("Left", lambda: self.move(-1)), ("Right", lambda: self.move(1)),
                               ("Up", lambda: self.move(-COLUMNS)),
                               ("Down", lambda: self.move(COLUMNS)),
                               ("p", self.pause_chosen), ("P", self.pause_chosen),
                               ("r", self.resume_chosen), ("R", self.resume_chosen)):
            self.keys.bind(f"<{keysym}>", lambda _e, a=action: (a(), "break")[1])

        self.alerts = DataTable(self, f, [
            Column("room.col.time", 60), Column("room.col.seat", 50),
            Column("room.col.what", 150, stretch=True), Column("room.col.severity", 70),
            Column("room.col.status", 90)], height=7, style="Room.Treeview")
        self.alerts.grid(row=2, column=0, sticky="nsew", padx=(16, 6), pady=(8, 10))
        for severity, colour in SEVERITY_COLOURS.items():
            self.alerts.colour(severity, colour)
        self.alerts.colour("seen", MUTED)
        self.alerts.tree.bind("<<TreeviewSelect>>", lambda _e: self._detail())

        # Right: the chosen alert — the pictures side by side, what happened, the actions.
        box = ctk.CTkFrame(self, corner_radius=10, fg_color=PANEL)
        box.grid(row=1, column=1, rowspan=2, sticky="nsew", padx=(6, 16), pady=(0, 10))
        for i in range(3):
            box.grid_columnconfigure(i, weight=1)
        self.pictures: list[PictureBox] = []
        for i, key in enumerate(("room.picture.seat", "room.picture.chip",
                                 "room.picture.door")):
            picture = PictureBox(box, PHOTO_BOX, f)
            picture.grid(row=0, column=i, padx=3, pady=(10, 0))
            t.bind(ctk.CTkLabel(box, font=f.small, text_color=MUTED), key).grid(
                row=1, column=i)
            self.pictures.append(picture)
        self.detail = ctk.CTkLabel(box, text="", font=f.base, anchor="nw", justify="left",
                                   wraplength=3 * PHOTO_BOX[0])
        self.detail.grid(row=2, column=0, columnspan=3, sticky="new", padx=10, pady=(6, 4))
        box.grid_rowconfigure(2, weight=1)
        self.note = ctk.CTkEntry(box, font=f.base, height=34)
        t.bind_option(self.note, "placeholder_text", "room.note_hint")
        self.note.grid(row=3, column=0, columnspan=3, sticky="ew", padx=10, pady=(4, 2))
        self.ack_button = ctk.CTkButton(box, font=f.bold, command=self.acknowledge)
        t.bind(self.ack_button, "room.ack")
        self.ack_button.grid(row=4, column=0, columnspan=3, sticky="ew", padx=10, pady=4)
        out = ctk.CTkFrame(box, fg_color="transparent")
        out.grid(row=5, column=0, columnspan=3, sticky="ew", padx=10)
        t.bind(ctk.CTkLabel(out, font=f.small, anchor="e"), "room.minutes").grid(
            row=0, column=0, sticky="e", padx=(0, 6))
        self.minutes = ctk.CTkEntry(out, font=f.base, width=50, height=32)
        self.minutes.insert(0, "5")
        self.minutes.grid(row=0, column=1, sticky="w")
        self.pause_button = ctk.CTkButton(out, font=f.base, width=150,
                                          command=self.pause_chosen)
        t.bind(self.pause_button, "room.pause")
        self.pause_button.grid(row=0, column=2, sticky="w", padx=4)
        self.resume_button = ctk.CTkButton(out, font=f.base, width=150,
                                           command=self.resume_chosen)
        t.bind(self.resume_button, "room.resume")
        self.resume_button.grid(row=0, column=3, sticky="w", padx=4)
        self.message = ctk.CTkLabel(box, text="", font=f.small, anchor="w", justify="left",
                                    wraplength=3 * PHOTO_BOX[0])
        self.message.grid(row=6, column=0, columnspan=3, sticky="ew", padx=10, pady=(4, 8))
        self.app.root.bind("<Control-e>", self._control_e, add="+")
        t.on_change(self._relabel)
        self._relabel()

    # --- hooks ---------------------------------------------------------------------------------

    def shown(self) -> None:
        self._polling = True
        self.poll()
        self.keys.focus_set()

    def hidden(self) -> None:
        self._polling = False
        if self._poll_job is not None:
            try:
                self.after_cancel(self._poll_job)
            except Exception:  # the window is closing
                pass
            self._poll_job = None

    def session_changed(self) -> None:
        self.room = None
        for card in self.cards.values():
            card.destroy()
        self.cards = {}
        self.chosen_seat = None
        self._pictures_for = None
        self._open_next = None
        self._rows = []
        self.alerts.fill([])

    def open_on(self, incident_id: uuid.UUID) -> None:
        """Open this alert (its seat chosen, its evidence shown) at the next poll."""
        self._open_next = incident_id

    def _relabel(self) -> None:
        self.alerts.headings(self.t)
        if self.room is not None:
            self._apply(self.room, relabel=True)
        else:
            self.heading.configure(text=self.t("room.title", session="—"))

    # --- the poll --------------------------------------------------------------------------------

    def poll(self) -> None:
        """Ask the store for the room now (one job at a time), and again in POLL_MS."""
        self._poll_job = None
        if not self._polling:
            return
        services, session = self.services, self.app.session
        if services is None:
            self.app.when_ready(self.poll)
            return
        if session is not None and not self._in_flight:
            store, ref = services.store, str(session.id)
            self._in_flight = True

            def done(room: RoomView) -> None:
                self._in_flight = False
                if self.app.session is not None and room.session_id == self.app.session.id:
                    self._apply(room)

            def failed(exc: BaseException) -> None:
                self._in_flight = False
                self.show_message(self.app.error_text(exc))

            self.app.run_job(lambda: room_view(store, ref), done=done, failed=failed)
        self._poll_job = self.after(POLL_MS, self.poll)

    def _apply(self, room: RoomView, relabel: bool = False) -> None:
        t = self.t
        self.room = room
        self.heading.configure(text=t("room.title", session=room.session_code))
        attention = sum(1 for s in room.seats if s.attention)
        summary = t("room.summary", seats=len(room.seats), attention=attention,
                    alerts=room.waiting_alerts, at=clock(room.at))
        if room.ended_at is not None:
            summary = t("room.ended_at", at=moment(room.ended_at)) + " · " + summary
        self.summary.configure(text=summary)
        now = time.time()
        if set(self.cards) != {s.seat for s in room.seats}:
            self._layout(room.seats)
        for tile in room.seats:
            card = self.cards[tile.seat]
            before = card._shown[2] if card._shown else None
            text = state_text(t, tile.shown)
            count = t("room.open_alerts", n=tile.open_alerts) if tile.open_alerts else ""
            card.show(f"{tile.seat} · {tile.registration_number or '—'}",
                      tile.name or t("room.not_on_roster"), text, count,
                      TILE_COLOURS.get(tile.shown, NORMAL_TILE))
            if before != text and not relabel:
                self.changes.append((now, tile.seat, tile.shown))
        if self.chosen_seat is None and room.seats:
            self.choose(room.seats[0].seat)
        rows = []
        for a in room.alerts:
            status = (t("room.status.seen") if a.acknowledged else
                      t("room.status.new") if a.ended_at is None else t("room.status.over"))
            rows.append((str(a.incident_id), [
                moment(a.started_at).split()[-1][:5], a.seat, state_text(t, alert_state(a)),
                t(f"fraud.severity.{a.severity.value}"), status],
                "seen" if a.acknowledged else a.severity.value))
        if rows != self._rows:
            self._rows = rows
            self.alerts.fill(rows)
            self.alerts.fit(self.fonts.tk_base, self.fonts.tk_bold, t)
        wanted = self._open_next
        if wanted is not None and self.app.current is self:
            self._open_next = None
            alert = next((a for a in room.alerts if a.incident_id == wanted), None)
            if alert is not None:
                if alert.seat in self.cards:
                    self.choose(alert.seat)
                self.alerts.select(str(alert.incident_id))
                self.alerts.tree.focus_set()  # Enter: to the note
        self._detail()

    def _layout(self, seats: tuple[SeatTile, ...]) -> None:
        for card in self.cards.values():
            card.destroy()
        self.cards = {}
        for i, tile in enumerate(seats):
            card = SeatCard(self.grid_box, self.fonts, lambda s=tile.seat: self._clicked(s))
            card.grid(row=i // COLUMNS, column=i % COLUMNS, padx=4, pady=4, sticky="nsew")
            self.cards[tile.seat] = card
        if self.chosen_seat not in self.cards:
            self.chosen_seat = None

    # --- choosing -------------------------------------------------------------------------------

    def _clicked(self, seat: str) -> None:
        self.choose(seat)
        self.keys.focus_set()

    def choose(self, seat: str) -> None:
        self.chosen_seat = seat
        for label, card in self.cards.items():
            card.choose(label == seat)

    def move(self, step: int) -> None:
        order = list(self.cards)
        if not order:
            return
        at = order.index(self.chosen_seat) if self.chosen_seat in order else 0
        self.choose(order[max(0, min(len(order) - 1, at + step))])

    def open_seat(self) -> bool:
        """The chosen seat's first alert in the list (unacknowledged, worst, newest)."""
        if self.room is None or self.chosen_seat is None:
            return False
        alert = next((a for a in self.room.alerts if a.seat == self.chosen_seat), None)
        if alert is None:
            self.show_message(self.t("room.no_alerts", seat=self.chosen_seat))
            return True
        self.alerts.select(str(alert.incident_id))
        self._detail()
        self.alerts.tree.focus_set()
        return True

    def chosen_alert(self) -> Alert | None:
        chosen = self.alerts.selected()
        if self.room is None or chosen is None:
            return None
        return next((a for a in self.room.alerts if str(a.incident_id) == chosen), None)

    def _detail(self) -> None:
        alert, t = self.chosen_alert(), self.t
        if alert is None:
            self.detail.configure(text=t("room.no_alert_chosen"))
            self._pictures(None)
            return
        lines = [f"{alert.seat} · {alert.name or t('room.not_on_roster')} · "
                 f"{t('room.sbd')} {alert.registration_number or '—'}",
                 f"{state_text(t, alert_state(alert))} — {t(alert.message_key, **alert.details)}",
                 t("room.when", start=clock(alert.started_at, date=True),
                   end=clock(alert.ended_at) if alert.ended_at else t("room.still_open"))]
        if alert.acknowledged:
            who = (alert.ack_by or "").removeprefix("app:")  # the desk's actor: a person's name
            lines.append(t("room.acked_by", who=who, note=alert.ack_note or ""))
        if not alert.frames:
            lines.append(t("room.no_frame"))
        self.detail.configure(text="\n".join(lines))
        self._pictures(alert.incident_id)

    def _pictures(self, incident_id: uuid.UUID | None) -> None:
        """Decrypted and decoded on the worker; a late answer for another alert is dropped."""
        if incident_id == self._pictures_for:
            return
        self._pictures_for = incident_id
        services = self.services
        if incident_id is None or services is None:
            for p in self.pictures:
                p.show(None, "")
            return
        for p in self.pictures:
            p.show(None, "…")
        store = services.store

        def load() -> list[Any]:
            found: AlertPictures = alert_pictures(store, incident_id)
            frame = found.frames[-1] if found.frames else None
            return [open_picture(b, PHOTO_BOX) for b in
                    (frame, found.chip_portrait, found.admitted_face)]

        def shown(images: list[Any]) -> None:
            if self._pictures_for != incident_id:
                return
            for box, image in zip(self.pictures, images, strict=True):
                box.show(image, self.t("room.no_picture"))

        def failed(exc: BaseException) -> None:
            if self._pictures_for == incident_id:
                for box in self.pictures:
                    box.show(None, self.t("room.no_picture"))
                self.show_message(self.app.error_text(exc))

        self.app.run_job(load, done=shown, failed=failed)

    # --- actions ---------------------------------------------------------------------------------

    def show_message(self, text: str) -> None:
        self.message.configure(text=text)

    def _actor(self) -> str:
        return self.app.operator.actor if self.app.operator is not None else "app:?"

    def acknowledge(self) -> None:
        alert, services = self.chosen_alert(), self.services
        if alert is None or services is None:
            self.show_message(self.t("room.no_alert_chosen"))
            return
        note = self.note.get()
        if not note.strip():
            self.show_message(self.t("room.note_needed"))
            self.note.focus_set()
            return
        store, actor = services.store, self._actor()

        def done(_ack: Any) -> None:
            self.note.delete(0, "end")
            self.show_message(self.t("room.acknowledged", seat=alert.seat))
            self.poll_now()
            self.keys.focus_set()

        self.app.run_job(lambda: acknowledge_alert(store, alert.incident_id, note, actor=actor),
                         done=done, failed=lambda e: self.show_message(self.app.error_text(e)))

    def _minutes(self) -> float | None:
        try:
            value = float(self.minutes.get().strip().replace(",", "."))
        except ValueError:
            return None
        return value if 0 < value <= 60 else None

    def pause_chosen(self) -> None:
        self._let_out(pause=True)

    def resume_chosen(self) -> None:
        self._let_out(pause=False)

    def _let_out(self, *, pause: bool) -> None:
        services, session, seat = self.services, self.app.session, self.chosen_seat
        if services is None or session is None or seat is None:
            return
        minutes = self._minutes() if pause else None
        if pause and minutes is None:
            self.show_message(self.t("room.bad_minutes"))
            self.minutes.focus_set()
            return
        note = self.note.get() if pause else ""
        store, ref, actor = services.store, str(session.id), self._actor()

        def done(until: Any) -> None:
            if pause:
                self.note.delete(0, "end")
                self.show_message(self.t("room.paused", seat=seat,
                                         until=moment(until).split()[-1]))
            else:
                self.show_message(self.t("room.resumed", seat=seat))
            self.poll_now()

        self.app.run_job(lambda: let_out(store, ref, seat, minutes=minutes, note=note,
                                         actor=actor),
                         done=done, failed=lambda e: self.show_message(self.app.error_text(e)))

    def _control_e(self, _event: Any) -> str | None:
        if self.app.current is not self:
            return None
        self.end_pressed()
        return "break"

    def end_pressed(self) -> None:
        """Twice within a few seconds: ending is for the whole room and cannot be undone."""
        now = time.monotonic()
        if now - self._end_armed_at > END_CONFIRM_S:
            self._end_armed_at = now
            self.show_message(self.t("room.end_confirm"))
            return
        self._end_armed_at = 0.0
        services, session = self.services, self.app.session
        if services is None or session is None:
            return
        store, ref, actor = services.store, str(session.id), self._actor()

        def done(at: Any) -> None:
            self.show_message(self.t("room.ended_at", at=moment(at)))
            self.poll_now()

        self.app.run_job(lambda: end_exam(store, ref, actor=actor), done=done,
                         failed=lambda e: self.show_message(self.app.error_text(e)))

    def poll_now(self) -> None:
        if self._poll_job is not None:
            try:
                self.after_cancel(self._poll_job)
            except Exception:
                pass
        self.poll()

    # --- keys the window hands over ----------------------------------------------------------

    def on_return(self, event: Any) -> bool:
        focus = self.focus_get()
        if focus is self.keys:
            return self.open_seat()
        if focus is self.alerts.tree:
            self._detail()
            self.note.focus_set()
            return True
        if focus is not None and str(focus).startswith(str(self.note)):
            self.acknowledge()
            return True
        return False

    def on_escape(self, event: Any) -> bool:
        self.keys.focus_set()
        return True

    # --- for tests and screen readers ------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {"seats": {seat: card.text for seat, card in self.cards.items()},
                "alerts": self.alerts.rows(), "chosen_seat": self.chosen_seat,
                "chosen_alert": self.alerts.selected(),
                "detail": str(self.detail.cget("text")),
                "pictures": [p.showing for p in self.pictures],
                "message": str(self.message.cget("text")),
                "summary": str(self.summary.cget("text"))}
