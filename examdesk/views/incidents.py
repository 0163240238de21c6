"""Incidents of the session, newest first: forged cards, face mismatches, proxies, overrides.

Each row says who (name and ID; the ID alone for someone not on the roster), when, what, how
serious; the panel below shows the selected incident's evidence picture and everything about
it in words. Up/Down move the selection (the table's focus item follows it)."""

from __future__ import annotations

import uuid
from typing import Any

import customtkinter as ctk

from examdesk.i18n.words import decision_key
from examdesk.services.incidents import IncidentRow, Who, incident_picture, incident_rows
from examdesk.timezone import moment
from proctoring.models import Decision, Incident

from .base import View
from .pictures import open_picture
from .theme import MUTED, PANEL
from .widgets import Column, DataTable, PictureBox

DECISIONS = {d.value for d in Decision}
SEVERITY_COLOURS = {"CRITICAL": "#b3261e", "HIGH": "#b3261e", "MEDIUM": "#8a6100",
                    "LOW": "#52606d"}
PHOTO_BOX = (120, 160)  # 3:4, as a chip portrait


class IncidentsView(View):
    name = "incidents"

    def __init__(self, master: Any, app: Any) -> None:
        super().__init__(master, app)
        t, f = self.t, self.fonts
        self.grid_columnconfigure(0, weight=1)
        self.grid_rowconfigure(1, weight=1)
        self._items: list[IncidentRow] = []
        self._stale = True
        self._photo_for: uuid.UUID | None = None  # the evidence shown (or being loaded)
        self._photo_shown: uuid.UUID | None = None  # the evidence on screen now
        head = ctk.CTkFrame(self, fg_color="transparent")
        head.grid(row=0, column=0, sticky="ew", padx=20, pady=(16, 8))
        head.grid_columnconfigure(1, weight=1)
        t.bind(ctk.CTkLabel(head, font=f.title, anchor="w"), "app.incidents.title").grid(
            row=0, column=0, sticky="w")
        self.count = ctk.CTkLabel(head, text="", font=f.bold, text_color=MUTED)
        self.count.grid(row=0, column=1, sticky="e")
        self.table = DataTable(self, f, [
            # The time of day (the session's date is its own; the panel has both), and the
            # status in the panel: room for who and what on a 1366-pixel screen.
            Column("app.col.time", 70), Column("app.col.who", 200),
            Column("app.col.kind", 150), Column("app.col.severity", 90),
            Column("app.col.what", 200, stretch=True)],
            height=9)
        self.table.grid(row=1, column=0, sticky="nsew", padx=20)
        for severity, colour in SEVERITY_COLOURS.items():
            self.table.colour(severity, colour)
        self.table.tree.bind("<<TreeviewSelect>>", lambda _e: self._detail())
        box = ctk.CTkFrame(self, corner_radius=10, fg_color=PANEL)
        box.grid(row=2, column=0, sticky="ew", padx=20, pady=(10, 16))
        box.grid_columnconfigure(1, weight=1)
        self.photo = PictureBox(box, PHOTO_BOX, f)
        self.photo.grid(row=0, column=0, padx=(12, 4), pady=10)
        self.detail = ctk.CTkLabel(box, text="", font=f.base, anchor="nw", justify="left",
                                   wraplength=880)
        self.detail.grid(row=0, column=1, sticky="nsew", padx=14, pady=10)
        t.on_change(self._relabel)
        self._relabel()

    def _relabel(self) -> None:
        self.table.headings(self.t)
        self._show()

    def shown(self) -> None:
        if self._stale:
            self.reload()
        self.table.tree.focus_set()

    def session_changed(self) -> None:
        self._items = []
        self._stale = True

    def data_changed(self) -> None:
        self._stale = True
        if self.winfo_ismapped():
            self.reload()

    def reload(self) -> None:
        services, session = self.services, self.app.session
        if services is None:
            self.app.when_ready(self.reload)
            return
        if session is None:
            return
        store, session_id = services.store, session.id
        self._stale = False

        def loaded(items: list[IncidentRow]) -> None:
            self._items = items
            self._show()

        self.app.run_job(lambda: incident_rows(store, session_id), done=loaded)

    def describe(self, incident: Incident) -> str:
        details: dict[str, object] = dict(incident.details or {})
        for name in ("from", "to"):  # an override's decisions, in the screen's words
            if details.get(name) in DECISIONS:
                details[name] = self.t(decision_key(str(details[name])))
        return self.t(incident.message_key, **details)

    def who(self, who: Who) -> str:
        """"Nguyễn Văn An · 001093014275"; someone not on the roster by the ID alone (the
        kind column says they are not on it)."""
        return " · ".join(x for x in (who.full_name, who.id_number) if x) or "—"

    def _show(self) -> None:
        t = self.t
        rows = []
        for item in self._items:
            incident = item.incident
            rows.append((str(incident.id), [
                moment(incident.started_at).split()[-1], self.who(item.who),
                t(f"app.incident.{incident.kind.value}"),
                t(f"fraud.severity.{incident.severity.value}"), self.describe(incident)],
                incident.severity.value))
        self.table.fill(rows)
        f = self.fonts
        self.table.fit(f.tk_base, f.tk_bold, t)
        self.count.configure(text=t("app.incidents.count", n=len(rows)))
        self._detail()

    def _detail(self) -> None:
        chosen = self.table.selected()
        found = next((i for i in self._items if str(i.incident.id) == chosen), None)
        if found is None:
            self.detail.configure(text=self.t("app.incidents.none") if not self._items else "")
            self._picture(None)
            return
        i, t = found.incident, self.t
        who = found.who
        lines = [f"{t(f'app.incident.{i.kind.value}')} — {self.describe(i)}",
                 t("app.incidents.who", name=who.full_name or t("app.incidents.not_on_roster"),
                   id_number=who.id_number or "—", registration=who.registration_number or "—"),
                 t("app.incidents.when", when=moment(i.started_at),
                   severity=t(f"fraud.severity.{i.severity.value}"),
                   status=t(f"fraud.status.{i.status.value}"))]
        self.detail.configure(text="\n".join(lines))
        self._picture(found.picture)

    def _picture(self, evidence: uuid.UUID | None) -> None:
        """The evidence picture of the selection, decrypted on the worker; a late answer for
        an earlier selection is dropped."""
        if evidence == self._photo_for and evidence is not None:
            return
        self._photo_for, self._photo_shown = evidence, None
        services = self.services
        if evidence is None or services is None:
            self.photo.show(None, self.t("app.incidents.no_photo"))
            return
        self.photo.show(None, "…")
        store = services.store

        def shown(image: Any) -> None:
            if self._photo_for == evidence:
                self._photo_shown = evidence if image is not None else None
                self.photo.show(image, self.t("app.incidents.no_photo"))

        self.app.run_job(lambda: open_picture(incident_picture(store, evidence), PHOTO_BOX),
                         done=shown,
                         failed=lambda e: shown(None))

    # --- for tests and screen readers ---------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {"rows": self.table.rows(), "selected": self.table.selected(),
                "detail": str(self.detail.cget("text")),
                "photo": self.photo.showing and self._photo_shown is not None
                and self._photo_shown == self._photo_for}
