"""The education office's review mode: incidents of every centre of the district, filtered;
one incident's evidence side by side (each check-in's chip portrait and live face); confirm or
dismiss with written notes; the district fraud report.

Everything that touches the district database or decodes a picture runs on the app's workers
(:mod:`.review_jobs`); this screen only shows what comes back. Answers that arrive after the
office moved on (a newer filter, another incident) are dropped by their ticket number.

Keys: Enter applies the filters (in a filter field) or opens the incident (in the list) ·
F8 confirms fraud · F9 dismisses · Ctrl+R reloads · Ctrl+S exports the PDF · Esc back to the list.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any, TypeVar

import customtkinter as ctk

from examdesk.i18n.words import decision_key
from examdesk.timezone import moment
from proctoring.central import CENTRAL_URL_ENV
from proctoring.models import IncidentKind, IncidentStatus, Role
from proctoring.review import IncidentRow
from proctoring.review_seat import seat_of

from .base import View
from .review_jobs import Connection, Dossier, Export, Filters, Shown, ShownSide
from .theme import ACCENT, MUTED, PANEL
from .widgets import Column, DataTable, FieldList, PictureBox, enable

PICTURE = (150, 150)  # one chip portrait or live face in a side's card
SIDES_SHOWN = 2  # a proxy pair; more linked check-ins are counted, not drawn
STATUS_LOOK = {  # colour, symbol: the status is always written as well
    "OPEN": ("#8a6100", "⚠"), "CONFIRMED": ("#b3261e", "✖"), "DISMISSED": ("#1e7b34", "✔"),
}
CONFIRM_COLOUR = "#b3261e"
MESSAGE_CHARS = 88  # what fits on the panel's one message line
DISMISS_COLOUR = "#1e7b34"
T = TypeVar("T")


@dataclass
class _Tickets:
    """The newest request of each kind; older answers are ignored."""

    counter: Any
    rows: int = 0
    dossier: int = 0

    def next(self) -> int:
        return int(next(self.counter))


class SideCard(ctk.CTkFrame):
    """One check-in an incident is about: where and when, who the chip says, both faces."""

    def __init__(self, master: Any, view: ReviewView) -> None:
        super().__init__(master, corner_radius=10, fg_color="#ffffff", border_width=1,
                         border_color="#c3cad3")
        t, f = view.t, view.fonts
        self.view = view
        self.heading = ctk.CTkLabel(self, text="", font=f.bold, anchor="w")
        self.heading.grid(row=0, column=0, columnspan=2, sticky="ew", padx=10, pady=(6, 2))
        self.portrait = PictureBox(self, PICTURE, f)
        self.portrait.grid(row=1, column=0, padx=(10, 4))
        self.live = PictureBox(self, PICTURE, f)
        self.live.grid(row=1, column=1, padx=(4, 10))
        t.bind(ctk.CTkLabel(self, font=f.small, text_color=MUTED), "office.portrait").grid(
            row=2, column=0)
        t.bind(ctk.CTkLabel(self, font=f.small, text_color=MUTED), "office.live").grid(
            row=2, column=1)
        self.fields = FieldList(self, f, 4, label_width=88, wrap=250)
        self.fields.grid(row=3, column=0, columnspan=2, sticky="ew", padx=10, pady=(2, 8))

    def show(self, shown: ShownSide) -> None:
        t, side = self.view.t, shown.side
        c = side.checkin
        self.heading.configure(text=t("office.side.title", centre=side.centre_code,
                                      session=side.session_code))
        for box, pic in ((self.portrait, shown.portrait), (self.live, shown.frame)):
            self._picture(box, pic)
        distance = (t("office.distance", d=f"{c.face_distance:.2f}")
                    if c.face_distance is not None else "")
        self.fields.set([
            (t("office.field.name"), side.full_name or "—"),
            (t("office.field.id"), c.id_number),
            (t("office.field.time"), moment(c.decided_at)),
            (t("office.field.decision"),
             f"{t(decision_key(c.decision))}{distance}"),
        ])

    def _picture(self, box: PictureBox, pic: Shown) -> None:
        # Decoded and fitted on a worker: the box only copies the pixels into a Tk image.
        box.show(pic.image, "" if pic.image else self.view.t(f"office.picture.{pic.state}"))

    def texts(self) -> dict[str, str]:
        """What the card says (tests, screen readers)."""
        return {"heading": str(self.heading.cget("text")), **self.fields.values(),
                "portrait": "picture" if self.portrait.showing else
                str(self.portrait.cget("text")),
                "live": "picture" if self.live.showing else str(self.live.cget("text"))}


class EvidenceCard(ctk.CTkFrame):
    """An online-exam incident's own evidence: the frame the seat's monitor kept, and where."""

    def __init__(self, master: Any, view: ReviewView) -> None:
        super().__init__(master, corner_radius=10, fg_color="#ffffff", border_width=1,
                         border_color="#c3cad3")
        self.view = view
        self.heading = ctk.CTkLabel(self, text="", font=view.fonts.bold, anchor="w")
        self.heading.grid(row=0, column=0, sticky="ew", padx=10, pady=(6, 2))
        self.frame = PictureBox(self, PICTURE, view.fonts)
        self.frame.grid(row=1, column=0, padx=10, pady=(0, 8))

    def show(self, seat: str | None, pic: Shown) -> None:
        t = self.view.t
        self.heading.configure(text=t("office.evidence.title", seat=seat or "—"))
        self.frame.show(pic.image, "" if pic.image else t(f"office.picture.{pic.state}"))

    def texts(self) -> dict[str, str]:
        return {"heading": str(self.heading.cget("text")),
                "frame": "picture" if self.frame.showing else str(self.frame.cget("text"))}


class ReviewView(View):
    name = "review"
    needs_session = False

    def __init__(self, master: Any, app: Any) -> None:
        super().__init__(master, app)
        self.connection: Connection | None = None
        self.connecting = False
        self.rows: list[IncidentRow] = []
        self.dossier: Dossier | None = None
        self.busy = False  # a decision or an export is on its way
        self.last_export: Export | None = None
        self.last_screen: Any = None  # the last proxy screen's ScreenResult
        self._wanted: uuid.UUID | None = None  # the incident shown or being opened
        self._keep: uuid.UUID | None = None  # select it again once the list is back
        self._tickets = _Tickets(count(1))
        self.grid_columnconfigure(0, weight=1)
        self.grid_rowconfigure(2, weight=1)
        self._build_head()
        self._build_filters()
        self._build_body()
        self.t.on_change(self._relabel)
        self._relabel()
        for keysym, action in (("F8", lambda: self.decide(IncidentStatus.CONFIRMED)),
                               ("F9", lambda: self.decide(IncidentStatus.DISMISSED)),
                               ("Control-r", self.reload),
                               ("Control-k", self.screen)):
            # bind_all: the keys work wherever the focus is on this screen, and nowhere else.
            app.root.bind_all(f"<{keysym}>", lambda _e, a=action: self._when_shown(a))

    # --- layout -------------------------------------------------------------------------------

    def _build_head(self) -> None:
        t, f = self.t, self.fonts
        head = ctk.CTkFrame(self, fg_color="transparent")
        head.grid(row=0, column=0, sticky="ew", padx=16, pady=(10, 4))
        head.grid_columnconfigure(1, weight=1)
        t.bind(ctk.CTkLabel(head, font=f.title, anchor="w"), "office.title").grid(
            row=0, column=0, sticky="w")
        self.link = ctk.CTkLabel(head, text="", font=f.base, anchor="e", text_color=MUTED)
        self.link.grid(row=0, column=1, sticky="e", padx=8)
        self.url_entry = ctk.CTkEntry(head, font=f.base, width=160, height=34, show="•")
        t.bind_option(self.url_entry, "placeholder_text", "office.url_hint")
        self.url_entry.grid(row=0, column=2, padx=4)
        self.url_entry.bind("<Return>", lambda _e: self.connect())
        self.connect_button = ctk.CTkButton(head, font=f.bold, height=34, width=110,
                                            command=self.connect)
        t.bind(self.connect_button, "office.connect")
        self.connect_button.grid(row=0, column=3, padx=4)
        self.pdf_button = ctk.CTkButton(head, font=f.bold, height=34, width=120,
                                        command=lambda: self.export("pdf"))
        t.bind(self.pdf_button, "office.export_pdf")
        self.pdf_button.grid(row=0, column=4, padx=4)
        self.csv_button = ctk.CTkButton(head, font=f.bold, height=34, width=90,
                                        command=lambda: self.export("csv"))
        t.bind(self.csv_button, "office.export_csv")
        self.csv_button.grid(row=0, column=5, padx=(4, 0))

    def _build_filters(self) -> None:
        t, f = self.t, self.fonts
        bar = ctk.CTkFrame(self, fg_color=PANEL, corner_radius=10)
        bar.grid(row=1, column=0, sticky="ew", padx=16, pady=4)
        menu = {"font": f.base, "dropdown_font": f.base, "height": 36, "dynamic_resizing": False}
        self.centre_menu = ctk.CTkOptionMenu(bar, width=170, **menu)
        self.kind_menu = ctk.CTkOptionMenu(bar, width=210, **menu)
        self.status_menu = ctk.CTkOptionMenu(bar, width=170, **menu)
        self.session_entry = ctk.CTkEntry(bar, font=f.base, width=130, height=36)
        t.bind_option(self.session_entry, "placeholder_text", "office.session_hint")
        self.from_entry = ctk.CTkEntry(bar, font=f.base, width=140, height=36)
        t.bind_option(self.from_entry, "placeholder_text", "office.from_hint")
        self.to_entry = ctk.CTkEntry(bar, font=f.base, width=140, height=36)
        t.bind_option(self.to_entry, "placeholder_text", "office.to_hint")
        self.apply_button = ctk.CTkButton(bar, font=f.bold, height=36, width=120,
                                          command=self.reload)
        t.bind(self.apply_button, "office.apply")
        # The cross-centre proxy screen: what only the district can see (one face, several IDs).
        self.screen_button = ctk.CTkButton(bar, font=f.bold, height=36, width=170,
                                           fg_color="#7a4b00", hover_color="#5c3900",
                                           command=self.screen)
        t.bind(self.screen_button, "office.screen")
        for i, widget in enumerate((self.centre_menu, self.session_entry, self.kind_menu,
                                    self.status_menu, self.from_entry, self.to_entry,
                                    self.apply_button, self.screen_button)):
            widget.grid(row=0, column=i, padx=(10 if i == 0 else 4, 4), pady=8)
        for entry in (self.session_entry, self.from_entry, self.to_entry):
            entry.bind("<Return>", lambda _e: self._enter_filters())

    def _build_body(self) -> None:
        t, f = self.t, self.fonts
        body = ctk.CTkFrame(self, fg_color="transparent")
        body.grid(row=2, column=0, sticky="nsew", padx=16, pady=(4, 8))
        body.grid_rowconfigure(1, weight=1)
        body.grid_columnconfigure(1, weight=1)
        self.count = ctk.CTkLabel(body, text="", font=f.bold, anchor="w", text_color=MUTED)
        self.count.grid(row=0, column=0, sticky="w")
        self.table = DataTable(body, f, [
            Column("office.col.time", 162), Column("office.col.centres", 112),
            Column("office.col.kind", 118), Column("office.col.status", 142)],
            height=14, style="Office.Treeview")
        self.table.grid(row=1, column=0, sticky="nsew", padx=(0, 10))
        for status, (colour, _symbol) in STATUS_LOOK.items():
            self.table.colour(status, colour)
        self.table.tree.bind("<<TreeviewSelect>>", lambda _e: self._open_selected())
        self.table.tree.bind("<Return>", lambda _e: self._focus_notes())

        panel = ctk.CTkFrame(body, corner_radius=10, fg_color=PANEL)
        panel.grid(row=0, column=1, rowspan=2, sticky="nsew")
        panel.grid_columnconfigure(0, weight=1)
        self.headline = ctk.CTkLabel(panel, text="", font=f.large, anchor="w", justify="left")
        self.headline.grid(row=0, column=0, sticky="ew", padx=12, pady=(8, 0))
        self.what = ctk.CTkLabel(panel, text="", font=f.base, anchor="w", justify="left",
                                 wraplength=740)
        self.what.grid(row=1, column=0, sticky="ew", padx=12)
        sides = ctk.CTkFrame(panel, fg_color="transparent")
        sides.grid(row=2, column=0, sticky="ew", padx=8, pady=4)
        self.cards = [SideCard(sides, self) for _ in range(SIDES_SHOWN)]
        for i, card in enumerate(self.cards):
            card.grid(row=0, column=i, padx=4, sticky="n")
            card.grid_remove()
        self.evidence = EvidenceCard(sides, self)
        # Above the notes: at 1366×768 the bottom of the panel is the screen's edge.
        self.message = ctk.CTkLabel(panel, text="", font=f.bold, anchor="w", justify="left",
                                    wraplength=760)
        self.message.grid(row=3, column=0, sticky="ew", padx=12)
        decide = ctk.CTkFrame(panel, fg_color="transparent")
        decide.grid(row=4, column=0, sticky="ew", padx=12, pady=(2, 4))
        decide.grid_columnconfigure(0, weight=1)
        self.notes = ctk.CTkEntry(decide, font=f.large, height=40)
        t.bind_option(self.notes, "placeholder_text", "office.notes_hint")
        self.notes.grid(row=0, column=0, columnspan=2, sticky="ew", pady=(0, 6))
        self.confirm_button = ctk.CTkButton(
            decide, font=f.bold, height=42, fg_color=CONFIRM_COLOUR, hover_color="#8c1d18",
            command=lambda: self.decide(IncidentStatus.CONFIRMED))
        t.bind(self.confirm_button, "office.confirm")
        self.confirm_button.grid(row=1, column=0, sticky="ew", padx=(0, 6))
        self.dismiss_button = ctk.CTkButton(
            decide, font=f.bold, height=42, fg_color=DISMISS_COLOUR, hover_color="#155d27",
            command=lambda: self.decide(IncidentStatus.DISMISSED))
        t.bind(self.dismiss_button, "office.dismiss")
        self.dismiss_button.grid(row=1, column=1, sticky="ew")
        self._buttons()

    def _relabel(self) -> None:
        t = self.t
        self.table.headings(t)
        centre = self._centre_choice()
        codes = list(self.connection.centres) if self.connection else []
        self.centre_menu.configure(values=[t("office.all_centres"), *codes])
        self.centre_menu.set(centre or t("office.all_centres"))
        kind, status = self._kind_choice(), self._status_choice()
        self.kind_menu.configure(values=[t("office.all_kinds"),
                                         *(t(f"app.incident.{k.value}") for k in IncidentKind)])
        self.kind_menu.set(t(f"app.incident.{kind.value}") if kind else t("office.all_kinds"))
        self.status_menu.configure(values=[t("office.all_statuses"),
                                           *(t(f"fraud.status.{s.value}")
                                             for s in IncidentStatus)])
        self.status_menu.set(t(f"fraud.status.{status.value}") if status
                             else t("office.all_statuses"))
        self._show_link()
        self._show_rows()
        self._show_dossier()

    # --- the filters, read back in either language ----------------------------------------------

    def _centre_choice(self) -> str | None:
        value = self.centre_menu.get()
        codes = self.connection.centres if self.connection else ()
        return value if value in codes else None

    def _kind_choice(self) -> IncidentKind | None:
        return _match(self.kind_menu.get(), "app.incident", IncidentKind, self.t.catalog)

    def _status_choice(self) -> IncidentStatus | None:
        return _match(self.status_menu.get(), "fraud.status", IncidentStatus, self.t.catalog)

    def filters(self) -> Filters:
        return Filters(centre=self._centre_choice(), session=self.session_entry.get(),
                       kind=self._kind_choice(), status=self._status_choice(),
                       start=self.from_entry.get(), end=self.to_entry.get())

    def set_filters(self, *, centre: str | None = None, kind: IncidentKind | None = None,
                    status: IncidentStatus | None = None) -> None:
        """Choose menu entries as a click would (tests, and a future "open from report")."""
        t = self.t
        self.centre_menu.set(centre or t("office.all_centres"))
        self.kind_menu.set(t(f"app.incident.{kind.value}") if kind else t("office.all_kinds"))
        self.status_menu.set(t(f"fraud.status.{status.value}") if status
                             else t("office.all_statuses"))

    # --- hooks ----------------------------------------------------------------------------------

    def shown(self) -> None:
        if not self.url_entry.get() and os.environ.get(CENTRAL_URL_ENV):
            self.url_entry.insert(0, os.environ[CENTRAL_URL_ENV])
        if self.connection is None and not self.connecting:
            self.connect()
        self.table.tree.focus_set()

    def operator_changed(self) -> None:
        operator = self.app.operator
        office = operator is not None and operator.role is Role.EDUCATION_OFFICE
        # The desk's screens (check-in, roster, print…) are not the office's: no sidebar.
        if office:
            self.app.side.grid_remove()
        else:
            self.app.side.grid()
            self.disconnect()

    def on_escape(self, event: Any) -> bool:
        self.table.tree.focus_set()
        return True

    def on_save(self, event: Any) -> bool:
        self.export("pdf")
        return True

    def _when_shown(self, action: Any) -> str | None:
        if self.app.current is not self:
            return None
        action()
        return "break"

    def _enter_filters(self) -> str:
        self.reload()
        return "break"  # not the window's Enter as well

    def _focus_notes(self) -> str:
        self.notes.focus_set()
        return "break"

    # --- connecting -----------------------------------------------------------------------------

    def connect(self) -> None:
        from proctoring.crypto import KeyStore

        from .review_jobs import connect

        if self.connecting:
            return
        self.disconnect()
        url = self.url_entry.get().strip() or None
        self.connecting = True
        self._show_link()

        def done(conn: Connection) -> None:
            self.connecting = False
            if self.app.closed or self.app.operator is None or \
                    self.app.operator.role is not Role.EDUCATION_OFFICE:
                self.app.run_job(conn.office.close)
                return
            self.connection = conn
            self._relabel()
            self.reload()

        def failed(exc: BaseException) -> None:
            self.connecting = False
            self._show_link()
            # The CLI's advice (--central) means nothing here: say where to put the address.
            unset = getattr(exc, "key", None) == "sync.not_configured"
            self._say(self.t("office.no_url") if unset else self.app.error_text(exc), error=True)
            if unset:
                self.url_entry.focus_set()

        # The office's key store is this machine's (as for `examdesk review`): read on a worker.
        self.app.run_job(lambda: connect(url, KeyStore.default()), done=done, failed=failed)

    def disconnect(self) -> None:
        conn, self.connection = self.connection, None
        self.rows, self.dossier, self._wanted = [], None, None
        if conn is not None:
            self.app.run_job(conn.office.close)
            self._relabel()

    def _show_link(self) -> None:
        conn = self.connection
        if self.connecting:
            self.t.rebind(self.link, "office.connecting")
        elif conn is None:
            self.t.rebind(self.link, "office.not_connected")
        else:
            key = "office.connected" if conn.can_decrypt else "office.connected_no_key"
            self.t.rebind(self.link, key, url=conn.url, centres=len(conn.centres))
        self.link.configure(text_color=MUTED if conn else "#b3261e")
        for b in (self.pdf_button, self.csv_button, self.apply_button):
            enable(b, conn is not None, ACCENT)
        self.screen_button.configure(
            state="normal" if conn is not None and not self.busy else "disabled")

    # --- the list -------------------------------------------------------------------------------

    def reload(self) -> None:
        from .review_jobs import fetch

        conn = self.connection
        if conn is None:
            return
        filters = self.filters()
        ticket = self._tickets.rows = self._tickets.next()
        self.t.rebind(self.count, "office.loading")

        def done(rows: list[IncidentRow]) -> None:
            if ticket != self._tickets.rows:
                return
            self.rows = rows
            self._show_rows()
            keep, self._keep = self._keep, None
            if keep is not None:
                self.select(keep)
            self._open_selected()

        def failed(exc: BaseException) -> None:
            if ticket == self._tickets.rows:
                self.t.rebind(self.count, "office.count", n=len(self.rows))
                self._say(self.app.error_text(exc), error=True)

        self.app.run_job(lambda: fetch(conn.office, filters), done=done, failed=failed)

    def _show_rows(self) -> None:
        t = self.t
        self.table.fill([(str(r.incident.id), [
            moment(r.incident.started_at), ", ".join(c for c in r.centres if c != r.owner)
            or r.owner, t(f"app.incident.{r.incident.kind.value}"), _status_text(t, r)],
            r.incident.status.value) for r in self.rows])
        if self.connection is not None:
            self.t.rebind(self.count, "office.count", n=len(self.rows))

    def select(self, incident_id: uuid.UUID) -> None:
        self.table.select(str(incident_id))

    # --- one incident ---------------------------------------------------------------------------

    def _open_selected(self) -> None:
        from .review_jobs import open_dossier

        conn, chosen = self.connection, self.table.selected()
        if conn is None or chosen is None:
            self.dossier, self._wanted = None, None
            self._show_dossier()
            return
        incident_id = uuid.UUID(chosen)
        if incident_id == self._wanted:  # shown, or on its way
            return
        self._wanted = incident_id
        ticket = self._tickets.dossier = self._tickets.next()

        def done(dossier: Dossier) -> None:
            if ticket == self._tickets.dossier:
                self.dossier = dossier
                self._show_dossier()

        def failed(exc: BaseException) -> None:
            if ticket == self._tickets.dossier:
                self._wanted = None
                self._say(self.app.error_text(exc), error=True)

        self.app.run_job(lambda: open_dossier(conn.office, incident_id, PICTURE), done=done,
                         failed=failed)

    def _show_dossier(self) -> None:
        t, d = self.t, self.dossier
        for card in self.cards:
            card.grid_remove()
        self.evidence.grid_remove()
        if d is None:
            self.headline.configure(text_color=MUTED)
            self.t.rebind(self.headline, "office.pick" if self.rows else "office.none")
            self.what.configure(text="")
            self._buttons()
            return
        i = d.incident
        colour, symbol = STATUS_LOOK.get(i.status.value, (MUTED, "•"))
        self.headline.configure(text_color=colour)
        self.t.rebind(self.headline, "office.headline", symbol=symbol,
                      kind=t.lazy(f"app.incident.{i.kind.value}"),
                      severity=t.lazy(f"fraud.severity.{i.severity.value}"),
                      status=t.lazy(f"fraud.status.{i.status.value}"))
        what = t(i.message_key, **dict(i.details or {}))
        if i.reviewed_at is not None:
            what += "\n" + t("office.reviewed", when=moment(i.reviewed_at),
                             notes=i.reviewer_notes or "")
        for card, side in zip(self.cards, d.sides, strict=False):
            card.show(side)
            card.grid()
        seat = seat_of(i)
        if seat:  # an online-exam incident: where and when, and the room's notes
            what += "\n" + t("review.seat_when", seat=seat, start=moment(i.started_at),
                              end=moment(i.ended_at) if i.ended_at else "…")
            for note in d.notes:
                what += "\n" + t("review.room_note", at=moment(note.acked_at),
                                  actor=note.actor, note=note.note)
        if d.frames:
            self.evidence.show(seat, d.frames[0])
            self.evidence.grid(row=0, column=min(len(d.sides), SIDES_SHOWN), padx=4,
                               sticky="n")
        if len(d.sides) > SIDES_SHOWN:
            what += "\n" + t("office.more_sides", n=len(d.sides) - SIDES_SHOWN)
        elif not d.sides:
            what += "\n" + t("office.no_sides")
        self.what.configure(text=what)
        self._buttons()

    def side_texts(self) -> list[dict[str, str]]:
        return [c.texts() for c in self.cards if c.winfo_ismapped() or c.grid_info()]

    # --- decisions ------------------------------------------------------------------------------

    def _buttons(self) -> None:
        self.screen_button.configure(
            state="normal" if self.connection is not None and not self.busy else "disabled")
        on = self.dossier is not None and self.connection is not None and not self.busy
        enable(self.confirm_button, on, CONFIRM_COLOUR)
        enable(self.dismiss_button, on, DISMISS_COLOUR)
        self.notes.configure(state="normal" if on else "disabled")

    def _busy(self, job: Callable[[], T], done: Callable[[T], None], *,
              saying: str | None = None, then_failed: Callable[[], None] | None = None) -> None:
        """Run ``job`` on a worker with the action buttons off until it is back (one decision,
        screen or export at a time); a failure is said in words and the buttons come back."""
        self.busy = True
        self._buttons()
        if saying is not None:
            self._say(saying)

        def finished(result: T) -> None:
            self.busy = False
            done(result)

        def failed(exc: BaseException) -> None:
            self.busy = False
            self._buttons()
            self._say(self.app.error_text(exc), error=True)
            if then_failed is not None:
                then_failed()

        self.app.run_job(job, done=finished, failed=failed)

    def decide(self, status: IncidentStatus) -> None:
        from .review_jobs import record

        conn, d, operator = self.connection, self.dossier, self.app.operator
        if conn is None or d is None or operator is None or self.busy:
            return
        notes = self.notes.get()
        incident_id = d.incident.id

        def done(_incident: Any) -> None:
            self.notes.configure(state="normal")  # a disabled entry ignores delete
            self.notes.delete(0, "end")
            self._say(self.t("office.decided", status=self.t(f"fraud.status.{status.value}"),
                             id=str(incident_id)[:8]))
            self.dossier, self._wanted = None, None
            self._keep = incident_id
            self.reload()

        self._busy(lambda: record(conn.office, incident_id, status, notes, operator.actor),
                   done, then_failed=self.notes.focus_set)

    # --- the proxy screen -------------------------------------------------------------------------

    def screen(self) -> None:
        """Screen the check-ins admitted since the last screen against the whole district."""
        from proctoring.proxy_search import ScreenResult, screen_district

        conn, operator = self.connection, self.app.operator
        if conn is None or operator is None or self.busy:
            return

        def done(result: ScreenResult) -> None:
            self.last_screen = result
            self._buttons()
            said = self.t("office.screened", screened=result.screened,
                          stored=result.faces_stored, opened=len(result.incidents),
                          known=result.known,
                          seconds=_decimal(result.load_seconds + result.match_seconds,
                                           self.t.lang))
            if result.unscreenable:
                said += " " + self.t("district.unscreenable", n=len(result.unscreenable))
            self._say(said)
            self.reload()

        actor = operator.actor

        def run() -> ScreenResult:
            from proctoring.proxy_index import default_path

            # As `district screen`: through the face index once `district reindex` made it.
            path = default_path(conn.office)
            return screen_district(conn.office, actor=actor,
                                   index=path if path.exists() else None)

        self._busy(run, done, saying=self.t("office.screening"))

    # --- the district report ----------------------------------------------------------------------

    def export(self, suffix: str) -> None:
        from .review_jobs import export_report

        conn = self.connection
        if conn is None or self.busy:
            return
        filters, lang, folder = self.filters(), self.t.lang, self._report_folder()

        def done(result: Export) -> None:
            self.last_export = result
            self._buttons()
            self._say(self.t("office.exported", path=str(result.path), count=result.findings,
                             start=f"{result.start:%d/%m/%Y}", end=f"{result.end:%d/%m/%Y}"))

        self._busy(lambda: export_report(conn.office, filters, suffix, folder, lang), done,
                   saying=self.t("office.exporting"))

    def _report_folder(self) -> Path:
        services = self.services
        if services is not None:
            return services.places.data / "reports"
        from examdesk.paths import data_dir

        return data_dir() / "reports"

    # --- messages -------------------------------------------------------------------------------

    def _say(self, text: str, *, error: bool = False) -> None:
        """One line above the notes (at 1366×768 a second one would push the buttons off the
        screen); the whole sentence on the status line."""
        prefix = "✖ " if error else "✔ "
        line = text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS - 1].rstrip() + "…"
        self.t.rebind(self.message, "app.plain", text=prefix + line if text else "")
        self.message.configure(text_color="#b3261e" if error else "#1e7b34")
        self.app.set_status_text(text)

    @property
    def message_text(self) -> str:
        return str(self.message.cget("text"))


def _decimal(value: float, lang: str) -> str:
    """One decimal, with the decimal comma in Vietnamese (0,3 giây)."""
    text = f"{value:.1f}"
    return text.replace(".", ",") if lang == "vi" else text


def _status_text(t: Any, row: IncidentRow) -> str:
    _colour, symbol = STATUS_LOOK.get(row.incident.status.value, (MUTED, "•"))
    return f"{symbol} {t(f'fraud.status.{row.incident.status.value}')}"


def _match(value: str, family: str, kind: Any, catalog: Any) -> Any:
    """A menu entry back to its enum member, whichever language it was chosen in."""
    for member in kind:
        for lang in ("vi", "en"):
            if value == catalog.text(f"{family}.{member.value}", lang):
                return member
    return None

