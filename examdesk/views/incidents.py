"""Incidents of the session, newest first: forged cards, face mismatches, proxies, overrides."""

from __future__ import annotations

import uuid
from typing import Any

import customtkinter as ctk

from examdesk.i18n.words import decision_key
from examdesk.timezone import moment
from proctoring.checkins import incidents
from proctoring.models import Decision, Incident

from .base import View
from .theme import MUTED, PANEL
from .widgets import Column, DataTable

DECISIONS = {d.value for d in Decision}
SEVERITY_COLOURS = {"CRITICAL": "#b3261e", "HIGH": "#b3261e", "MEDIUM": "#8a6100",
                    "LOW": "#52606d"}


class IncidentsView(View):
    name = "incidents"

    def __init__(self, master: Any, app: Any) -> None:
        super().__init__(master, app)
        t, f = self.t, self.fonts
        self.grid_columnconfigure(0, weight=1)
        self.grid_rowconfigure(1, weight=1)
        self._items: list[tuple[Incident, list[uuid.UUID]]] = []
        self._stale = True
        head = ctk.CTkFrame(self, fg_color="transparent")
        head.grid(row=0, column=0, sticky="ew", padx=20, pady=(16, 8))
        head.grid_columnconfigure(1, weight=1)
        t.bind(ctk.CTkLabel(head, font=f.title, anchor="w"), "app.incidents.title").grid(
            row=0, column=0, sticky="w")
        self.count = ctk.CTkLabel(head, text="", font=f.bold, text_color=MUTED)
        self.count.grid(row=0, column=1, sticky="e")
        self.table = DataTable(self, f, [
            Column("app.col.time", 175), Column("app.col.kind", 250),
            Column("app.col.severity", 110), Column("app.col.status", 120),
            Column("app.col.what", 420, stretch=True)], height=12)
        self.table.grid(row=1, column=0, sticky="nsew", padx=20)
        for severity, colour in SEVERITY_COLOURS.items():
            self.table.colour(severity, colour)
        self.table.tree.bind("<<TreeviewSelect>>", lambda _e: self._detail())
        box = ctk.CTkFrame(self, corner_radius=10, fg_color=PANEL)
        box.grid(row=2, column=0, sticky="ew", padx=20, pady=(10, 16))
        box.grid_columnconfigure(0, weight=1)
        self.detail = ctk.CTkLabel(box, text="", font=f.base, anchor="w", justify="left",
                                   wraplength=1080)
        self.detail.grid(row=0, column=0, sticky="ew", padx=14, pady=10)
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

        def loaded(items: list[tuple[Incident, list[uuid.UUID]]]) -> None:
            self._items = items
            self._show()

        self.app.run_job(lambda: incidents(store, session_id=session_id), done=loaded)

    def describe(self, incident: Incident) -> str:
        details: dict[str, object] = dict(incident.details or {})
        for name in ("from", "to"):  # an override's decisions, in the screen's words
            if details.get(name) in DECISIONS:
                details[name] = self.t(decision_key(str(details[name])))
        return self.t(incident.message_key, **details)

    def _show(self) -> None:
        t = self.t
        rows = []
        for incident, _links in self._items:
            rows.append((str(incident.id), [
                moment(incident.started_at), t(f"app.incident.{incident.kind.value}"),
                t(f"fraud.severity.{incident.severity.value}"),
                t(f"fraud.status.{incident.status.value}"), self.describe(incident)],
                incident.severity.value))
        self.table.fill(rows)
        self.count.configure(text=t("app.incidents.count", n=len(rows)))
        self._detail()

    def _detail(self) -> None:
        chosen = self.table.selected()
        found = next((i for i, _ in self._items if str(i.id) == chosen), None)
        if found is None:
            self.detail.configure(text=self.t("app.incidents.none") if not self._items else "")
            return
        self.detail.configure(text=f"{self.t(f'app.incident.{found.kind.value}')} — "
                                   f"{self.describe(found)}")
