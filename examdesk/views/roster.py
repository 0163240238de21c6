"""The roster: every candidate with their attendance state, searchable by name, ID or registration
number (with or without diacritics: "nguyen van an" finds "Nguyễn Văn An").

The state is the one :func:`proctoring.checkins.attendance` computes (admitted stays admitted);
a candidate's other attempts — refusals before a retry, cards presented after the admission —
are listed under their row, in words, with the time and the desk."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import customtkinter as ctk

from examdesk.services.attendance import history_rows
from examdesk.timezone import moment
from proctoring.checkins import Attendance, attendance
from proctoring.stage_passes import StagePass, stages_passed

from .base import View
from .theme import MUTED, STATUS_COLOURS
from .widgets import Column, DataTable, fold


@dataclass(frozen=True)
class _Row:
    iid: str
    cells: list[str]
    status: str
    folded: str  # what the search looks in
    # Lines under the row (cells of the same columns): the attempts, in words, time and desk.
    history: tuple[tuple[str, ...], ...] = ()


class RosterView(View):
    name = "roster"

    def __init__(self, master: Any, app: Any) -> None:
        super().__init__(master, app)
        t, f = self.t, self.fonts
        self.grid_columnconfigure(0, weight=1)
        self.grid_rowconfigure(2, weight=1)
        self._attendance: Attendance | None = None
        self._passed: dict[uuid.UUID, tuple[StagePass, ...]] = {}
        self._rows: list[_Row] = []
        self._stale = True

        head = ctk.CTkFrame(self, fg_color="transparent")
        head.grid(row=0, column=0, sticky="ew", padx=20, pady=(16, 4))
        head.grid_columnconfigure(1, weight=1)
        t.bind(ctk.CTkLabel(head, font=f.title, anchor="w"), "app.roster.title").grid(
            row=0, column=0, sticky="w")
        self.totals = ctk.CTkLabel(head, text="", font=f.bold, anchor="e")
        self.totals.grid(row=0, column=1, sticky="e")

        search = ctk.CTkFrame(self, fg_color="transparent")
        search.grid(row=1, column=0, sticky="ew", padx=20, pady=(4, 8))
        t.bind(ctk.CTkLabel(search, font=f.bold), "app.roster.search").grid(row=0, column=0,
                                                                            padx=(0, 8))
        self.search = ctk.CTkEntry(search, font=f.large, width=460, height=40)
        t.bind_option(self.search, "placeholder_text", "app.roster.search_hint")
        self.search.grid(row=0, column=1)
        self.search.bind("<KeyRelease>", lambda _e: self._filter())
        self.count = ctk.CTkLabel(search, text="", font=f.base, text_color=MUTED)
        self.count.grid(row=0, column=2, padx=12)

        self.table = DataTable(self, f, [
            Column("app.col.number", 50, "e"), Column("app.col.registration", 80),
            Column("app.col.name", 220, stretch=True), Column("app.col.id", 140),
            Column("app.col.dob", 110), Column("app.col.seat", 90),
            Column("app.col.status", 215), Column("app.col.time", 165)], height=14)
        self.table.grid(row=2, column=0, sticky="nsew", padx=20, pady=(0, 16))
        for status, colour in STATUS_COLOURS.items():
            self.table.colour(status, colour)
        self.table.colour("history", MUTED)
        t.on_change(self._relabel)
        self._relabel()

    def _relabel(self) -> None:
        self.table.headings(self.t)
        self._show()

    def shown(self) -> None:
        if self._stale:
            self.reload()
        self.search.focus_set()

    def session_changed(self) -> None:
        self._attendance = None
        self._passed = {}
        self._rows = []
        self._stale = True
        self.search.delete(0, "end")

    def data_changed(self) -> None:
        self._stale = True
        if self.winfo_ismapped():
            self.reload()

    def focus_search(self) -> None:
        self.search.focus_set()
        self.search.select_range(0, "end")

    def reload(self) -> None:
        services, session = self.services, self.app.session
        if services is None:
            self.app.when_ready(self.reload)
            return
        if session is None:
            return
        store, stage, session_id = services.store, self.app.stage, session.id
        driving = bool(session.stage_list)
        self._stale = False

        def load() -> tuple[Attendance, dict[uuid.UUID, tuple[StagePass, ...]]]:
            # A driving test: the stages each candidate passed, on whichever desk (issue 17).
            return (attendance(store, session_id, stage=stage),
                    stages_passed(store, session_id) if driving else {})

        def loaded(result: tuple[Attendance, dict[uuid.UUID, tuple[StagePass, ...]]]) -> None:
            self._attendance, self._passed = result
            self._show()

        self.app.run_job(load, done=loaded)

    def _show(self) -> None:
        att, t = self._attendance, self.t
        if att is None:
            self.table.fill([])
            self.totals.configure(text="")
            return
        self.totals.configure(text=t("session.totals", **att.totals.to_dict()))
        rows = []
        for r in att.rows:
            c, e = r.candidate, r.entry
            status = t(f"session.status_label.{r.status}")
            if r.history.overridden:
                status += " " + t("app.roster.overridden")
            if r.later:
                status += " · " + t("attendance.later_short", n=len(r.later))
            symbol = {"ADMIT": "✔", "REJECT": "✖", "REVIEW": "⚠"}.get(r.status, "·")
            cells = [str(e.position), e.registration_number, c.full_name, c.id_number,
                     c.date_of_birth.strftime("%d/%m/%Y"), e.seat or e.vehicle or "",
                     f"{symbol} {status}", moment(r.checkin.decided_at) if r.checkin else ""]
            folded = fold(" ".join([c.full_name, c.id_number, e.registration_number,
                                    e.seat or "", e.vehicle or ""]))
            attempts: tuple[tuple[str, ...], ...] = tuple(
                ("", "", f"↳ {h.label}", h.desk, "", "", f"{h.symbol} {h.decision}",
                 moment(h.checkin.decided_at)) for h in history_rows(t, r.history))
            history = self._pass_rows(e.id, attempts) + attempts
            rows.append(_Row(str(e.id), cells, r.status, folded, history))
        self._rows = rows
        self._filter()

    def _pass_rows(self, entry_id: uuid.UUID, history: tuple[tuple[str, ...], ...]
                   ) -> tuple[tuple[str, ...], ...]:
        """A line per stage the candidate passed (which, at which desk, when), above the
        attempts; the shown stage's own admission only when the attempts do not list it."""
        t, shown = self.t, self.app.stage
        # The desk in the wide status column: a station's name ("Phòng lý thuyết") is longer
        # than the ID column that holds an attempt's "bàn Cửa 1".
        return tuple(
            ("", "", t("app.roster.stage_passed", stage=p.stage.value), "", "", "",
             t("app.roster.passed_at", desk=p.desk) if p.desk else t("app.roster.passed"),
             moment(p.decided_at))
            for p in self._passed.get(entry_id, ())
            if not (p.stage == shown and history))

    def history(self, iid: str) -> list[str]:
        """The lines under a candidate's row, each as one sentence of its cells (for tests
        and screen readers)."""
        return [" · ".join(c for c in cells if c) for cells in self.table.child_rows(iid)]

    def _filter(self) -> None:
        words = fold(self.search.get()).split()
        shown = [r for r in self._rows if all(w in r.folded for w in words)]
        self.table.fill([(r.iid, r.cells, r.status) for r in shown],
                        {r.iid: r.history for r in shown}, child_tag="history")
        self.count.configure(text=self.t("app.roster.count", shown=len(shown),
                                         total=len(self._rows)))
