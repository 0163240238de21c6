"""Session picker: open a session, create one, import its roster (CSV or Excel), close it
(Ctrl+D, confirmed) and reopen it (Ctrl+M, with a written reason) — the same use case as
`examdesk session close` / `session reopen --reason` (examdesk/services/sessions.py)."""

from __future__ import annotations

import os
from pathlib import Path
from tkinter import filedialog
from typing import Any

import customtkinter as ctk

from examdesk.services import sessions as session_cases
from examdesk.services.outbox import desk_sessions
from examdesk.timezone import VIETNAM, moment
from proctoring import errors
from proctoring.centres import CENTRE_ENV, DEFAULT_CENTRE, ensure_centre, list_centres
from proctoring.models import SessionKind, SessionStatus
from proctoring.roster import ImportResult, import_roster
from proctoring.sessions import SessionInfo, create_session, parse_moment
from proctoring.store import Store

from .base import View
from .theme import MUTED, PANEL, SEGMENTS
from .widgets import Column, DataTable

KINDS = (SessionKind.ONLINE_EXAM, SessionKind.DRIVING_TEST)


class SessionsView(View):
    name = "sessions"
    needs_session = False

    def __init__(self, master: Any, app: Any) -> None:
        super().__init__(master, app)
        t, f = self.t, self.fonts
        self.grid_columnconfigure(0, weight=1)
        self.grid_rowconfigure(1, weight=1)
        self._infos: dict[str, SessionInfo] = {}

        head = ctk.CTkFrame(self, fg_color="transparent")
        head.grid(row=0, column=0, sticky="ew", padx=20, pady=(16, 6))
        head.grid_columnconfigure(0, weight=1)
        t.bind(ctk.CTkLabel(head, font=f.title, anchor="w"), "app.sessions.title").grid(
            row=0, column=0, sticky="w")
        self.open_button = ctk.CTkButton(head, font=f.bold, height=40, command=self.open_selected)
        t.bind(self.open_button, "app.sessions.open")
        self.open_button.grid(row=0, column=1, padx=(8, 0))
        # Close and reopen: each asks first (a panel, Enter / Esc), reopen needs a reason.
        self.close_button = ctk.CTkButton(head, font=f.bold, height=40, command=self.ask_close)
        t.bind(self.close_button, "app.sessions.close_button")
        self.close_button.grid(row=0, column=2, padx=(8, 0))
        self.reopen_button = ctk.CTkButton(head, font=f.bold, height=40,
                                           command=self.ask_reopen)
        t.bind(self.reopen_button, "app.sessions.reopen_button")
        self.reopen_button.grid(row=0, column=3, padx=(8, 0))

        self.table = DataTable(self, f, [
            Column("app.col.code", 175), Column("app.col.title", 275, stretch=True),
            Column("app.col.starts", 180), Column("app.col.kind", 180),
            Column("app.col.roster", 90, "e"), Column("app.col.status", 120)], height=7)
        self.table.grid(row=1, column=0, sticky="nsew", padx=20)
        self.table.tree.bind("<Double-1>", lambda _e: self.open_selected())
        self.table.tree.bind("<Control-d>", lambda _e: self._key(self.ask_close))
        self.table.tree.bind("<Control-m>", lambda _e: self._key(self.ask_reopen))
        self._pending: tuple[str, SessionInfo] | None = None  # ("close" | "reopen", session)
        self._build_confirm()

        forms = ctk.CTkFrame(self, fg_color="transparent")
        forms.grid(row=2, column=0, sticky="ew", padx=20, pady=(12, 16))
        forms.grid_columnconfigure((0, 1), weight=1, uniform="forms")

        create = ctk.CTkFrame(forms, corner_radius=10, fg_color=PANEL)
        create.grid(row=0, column=0, sticky="nsew", padx=(0, 8))
        create.grid_columnconfigure(1, weight=1)
        t.bind(ctk.CTkLabel(create, font=f.large, anchor="w"), "app.sessions.create").grid(
            row=0, column=0, columnspan=2, sticky="w", padx=14, pady=(10, 6))
        self.title_entry = self._row(create, 1, "app.sessions.field_title")
        self.starts_entry = self._row(create, 2, "app.sessions.field_starts")
        self.starts_entry.insert(0, moment(_now()))
        t.bind(ctk.CTkLabel(create, font=f.base, anchor="e"), "app.sessions.field_kind").grid(
            row=3, column=0, sticky="e", padx=(14, 8), pady=4)
        self.kind = ctk.CTkSegmentedButton(create, **SEGMENTS, font=f.base)
        self.kind.grid(row=3, column=1, sticky="w", padx=(0, 14), pady=4)
        self.create_button = ctk.CTkButton(create, font=f.bold, command=self.create)
        t.bind(self.create_button, "app.sessions.create_button")
        self.create_button.grid(row=4, column=1, sticky="w", padx=(0, 14), pady=(6, 12))
        self.title_entry.bind("<Return>", lambda _e: self._enter(self.create))

        load = ctk.CTkFrame(forms, corner_radius=10, fg_color=PANEL)
        load.grid(row=0, column=1, sticky="nsew", padx=(8, 0))
        load.grid_columnconfigure(1, weight=1)
        t.bind(ctk.CTkLabel(load, font=f.large, anchor="w"), "app.sessions.import").grid(
            row=0, column=0, columnspan=3, sticky="w", padx=14, pady=(10, 2))
        t.bind(ctk.CTkLabel(load, font=f.small, anchor="w", text_color=MUTED, justify="left",
                            wraplength=480), "app.sessions.import_hint").grid(
            row=1, column=0, columnspan=3, sticky="w", padx=14)
        self.file_entry = self._row(load, 2, "app.sessions.field_file")
        browse = ctk.CTkButton(load, font=f.base, width=90, command=self.browse)
        t.bind(browse, "app.browse")
        browse.grid(row=2, column=2, padx=(0, 14))
        self.import_button = ctk.CTkButton(load, font=f.bold, command=self.import_file)
        t.bind(self.import_button, "app.sessions.import_button")
        self.import_button.grid(row=3, column=1, sticky="w", pady=(6, 4))
        self.file_entry.bind("<Return>", lambda _e: self._enter(self.import_file))
        self.result = ctk.CTkLabel(load, text="", font=f.small, anchor="w", justify="left",
                                   wraplength=520)
        self.result.grid(row=4, column=0, columnspan=3, sticky="w", padx=14, pady=(0, 10))
        t.on_change(self._relabel)
        self._relabel()

    @staticmethod
    def _key(action: Any) -> str:
        action()
        return "break"

    def _build_confirm(self) -> None:
        """The panel that asks before a close, or for the reason of a reopen (hidden)."""
        t, f = self.t, self.fonts
        panel = ctk.CTkFrame(self, corner_radius=12, fg_color=PANEL, border_width=2,
                             border_color="#8a6100")
        panel.grid_columnconfigure(0, weight=1)
        self.confirm_title = ctk.CTkLabel(panel, text="", font=f.title, anchor="w")
        self.confirm_title.grid(row=0, column=0, sticky="w", padx=22, pady=(16, 4))
        self.confirm_text = ctk.CTkLabel(panel, text="", font=f.base, anchor="w",
                                         justify="left", wraplength=640)
        self.confirm_text.grid(row=1, column=0, sticky="w", padx=22, pady=(0, 6))
        self.reason_entry = ctk.CTkEntry(panel, font=f.large, width=640, height=42)
        # A refusal said, then a reason typed: the refusal is no longer true.
        self.reason_entry.bind("<KeyRelease>", lambda _e: self._reason_typed())
        self.confirm_message = ctk.CTkLabel(panel, text="", font=f.base,
                                            text_color="#b3261e", anchor="w", justify="left",
                                            wraplength=640)
        self.confirm_message.grid(row=3, column=0, sticky="w", padx=22)
        buttons = ctk.CTkFrame(panel, fg_color="transparent")
        buttons.grid(row=4, column=0, sticky="e", padx=22, pady=(6, 16))
        self.confirm_ok = ctk.CTkButton(buttons, font=f.bold, height=40, command=self.confirm)
        self.confirm_ok.grid(row=0, column=1, padx=(8, 0))
        self.confirm_cancel = ctk.CTkButton(buttons, font=f.base, height=40,
                                            command=self.cancel_confirm)
        t.bind(self.confirm_cancel, "app.sessions.cancel")
        self.confirm_cancel.grid(row=0, column=0)
        self.confirm_panel = panel

    def _row(self, parent: Any, row: int, key: str) -> Any:
        self.t.bind(ctk.CTkLabel(parent, font=self.fonts.base, anchor="e"), key).grid(
            row=row, column=0, sticky="e", padx=(14, 8), pady=4)
        entry = ctk.CTkEntry(parent, font=self.fonts.base, height=34)
        entry.grid(row=row, column=1, sticky="ew", padx=(0, 14 if row != 2 else 8), pady=4)
        return entry

    @staticmethod
    def _enter(action: Any) -> str:
        action()
        return "break"  # the window's Enter (open the session) must not run too

    def _relabel(self) -> None:
        chosen = self._kind()
        self.table.headings(self.t)
        self.kind.configure(values=[self.t(f"session.kind.{k.value}") for k in KINDS])
        self.kind.set(self.t(f"session.kind.{chosen.value}"))
        self._fill()

    def _kind(self) -> SessionKind:
        current = self.kind.get() if self.kind.cget("values") else ""
        for k in KINDS:
            if current in (self.t.catalog.text(f"session.kind.{k.value}", lang)
                           for lang in ("vi", "en")):
                return k
        return SessionKind.ONLINE_EXAM

    # --- data ---------------------------------------------------------------------------------

    def shown(self) -> None:
        self.table.tree.focus_set()
        self.app.when_ready(self.refresh)

    def refresh(self, select: str | None = None) -> None:
        services = self.services
        if services is None:
            return
        store, outbox = services.store, services.checkins.outbox

        def loaded(found: tuple[list[SessionInfo], bool]) -> None:
            infos, centre = found
            if not centre:  # the centre is away: the sessions this desk kept a copy of
                self.app.set_status("offline17.offline_list")
            self._infos = {str(i.session.id): i for i in infos}
            self._fill()
            target = select or (self.app.session and str(self.app.session.id))
            demo = services.demo
            if target is None and demo is not None:
                target = next((k for k, i in self._infos.items()
                               if i.session.code == demo.session_code), None)
            if target:
                self.table.select(target)
            self.table.tree.focus_set()

        self.app.run_job(lambda: desk_sessions(store, outbox), done=loaded)

    def _fill(self) -> None:
        t = self.t
        rows = []
        for key, info in self._infos.items():
            s = info.session
            rows.append((key, [s.code, s.title, moment(s.starts_at),
                               t(f"session.kind.{s.kind.value}"), str(info.roster_count),
                               t(f"session.status.{s.status.value}")],
                         "closed" if s.status is SessionStatus.CLOSED else ""))
        self.table.colour("closed", MUTED)
        self.table.fill(rows)

    def selected(self) -> SessionInfo | None:
        key = self.table.selected()
        return self._infos.get(key) if key else None

    # --- actions ------------------------------------------------------------------------------

    def open_selected(self) -> None:
        info = self.selected()
        if info is None:
            self.app.set_status("app.sessions.none_selected")
            return
        if info.session.status is SessionStatus.CLOSED:
            self.app.set_status("proctoring.session_closed", session=info.session.code)
            return
        self.app.open_session(info.session)

    def on_return(self, event: Any) -> bool:
        if self._pending is not None:  # Enter answers the panel: close, or reopen
            self.confirm()
        else:
            self.open_selected()
        return True

    def on_escape(self, event: Any) -> bool:
        if self._pending is None:
            return False
        self.cancel_confirm()
        return True

    # --- close and reopen ---------------------------------------------------------------------

    def ask_close(self) -> None:
        """Ctrl+D: ask before closing the selected open session (its code and roster size)."""
        info = self._chosen()
        if info is None:
            return
        if info.session.status is SessionStatus.CLOSED:
            self.app.set_status("app.sessions.already_closed", code=info.session.code)
            return
        self._ask("close", info)

    def ask_reopen(self) -> None:
        """Ctrl+M: the selected closed session open again, once a reason is written."""
        info = self._chosen()
        if info is None:
            return
        if info.session.status is not SessionStatus.CLOSED:
            self.app.set_status("app.sessions.not_closed", code=info.session.code)
            return
        self._ask("reopen", info)

    def _chosen(self) -> SessionInfo | None:
        info = self.selected()
        if info is None or self.services is None or self.app.operator is None:
            self.app.set_status("app.sessions.none_selected")
            return None
        return info

    def _ask(self, mode: str, info: SessionInfo) -> None:
        self._pending = (mode, info)
        code = info.session.code
        self.t.rebind(self.confirm_title, f"app.sessions.{mode}_title", code=code)
        self.t.rebind(self.confirm_text, f"app.sessions.{mode}_text", code=code,
                      roster=info.roster_count)
        self.t.rebind(self.confirm_ok, f"app.sessions.{mode}_confirm")
        self.confirm_message.configure(text="")
        self.reason_entry.delete(0, "end")
        if mode == "reopen":
            self.reason_entry.grid(row=2, column=0, sticky="ew", padx=22, pady=(2, 4))
        else:
            self.reason_entry.grid_forget()
        self.confirm_panel.place(relx=0.5, rely=0.4, anchor="center")
        self.confirm_panel.lift()
        (self.reason_entry if mode == "reopen" else self.confirm_ok).focus_set()

    def _reason_typed(self) -> None:
        if self.reason_entry.get().strip():
            self.confirm_message.configure(text="")

    def cancel_confirm(self) -> None:
        """Esc or "No": nothing changes."""
        if self._pending is not None:
            self.app.set_status(f"app.sessions.{self._pending[0]}_cancelled",
                                code=self._pending[1].session.code)
        self._hide_confirm()

    def _hide_confirm(self) -> None:
        self._pending = None
        self.confirm_panel.place_forget()
        self.table.tree.focus_set()

    def confirm(self) -> None:
        services, operator, pending = self.services, self.app.operator, self._pending
        if services is None or operator is None or pending is None:
            return
        mode, info = pending
        store, actor, ref = services.store, operator.actor, str(info.session.id)
        reason = self.reason_entry.get()

        def job() -> SessionInfo:
            if mode == "close":
                return session_cases.close(store, ref, actor=actor)
            return session_cases.reopen(store, ref, reason=reason, actor=actor)

        def done(changed: SessionInfo) -> None:
            self._hide_confirm()
            self.app.set_status(f"app.sessions.{'closed' if mode == 'close' else 'reopened'}",
                                code=changed.session.code)
            self.refresh(select=ref)

        def refused(exc: BaseException) -> None:  # no reason, or closed meanwhile elsewhere
            self.confirm_message.configure(
                text=self.t("app.sessions.reason_needed")
                if isinstance(exc, errors.SessionReopenNeedsReason) else self.app.error_text(exc))
            (self.reason_entry if mode == "reopen" else self.confirm_ok).focus_set()

        self.app.run_job(job, done=done, failed=refused)

    def create(self) -> None:
        services = self.services
        operator = self.app.operator
        if services is None or operator is None:
            return
        title, starts, kind = self.title_entry.get(), self.starts_entry.get(), self._kind()
        store, actor = services.store, operator.actor

        def job() -> str:
            when = parse_moment(starts, "starts")
            centre = _station_centre(store, actor)
            return str(create_session(store, centre_id=centre, kind=kind, title=title,
                                      starts_at=when, actor=actor).id)

        def created(session_id: str) -> None:
            self.title_entry.delete(0, "end")
            self.app.set_status("app.sessions.created")
            self.refresh(select=session_id)

        self.app.run_job(job, done=created)

    def browse(self) -> None:
        # The dialog is modal but Tk keeps serving events (and our after() ticks) inside it.
        path = filedialog.askopenfilename(
            parent=self, filetypes=[("CSV / Excel", "*.csv *.xlsx *.xlsm *.tsv *.txt"),
                                    ("*", "*")])
        if path:
            self.file_entry.delete(0, "end")
            self.file_entry.insert(0, path)

    def import_file(self) -> None:
        services, operator, info = self.services, self.app.operator, self.selected()
        if services is None or operator is None:
            return
        if info is None:
            self.app.set_status("app.sessions.none_selected")
            return
        path = Path(self.file_entry.get().strip()).expanduser()
        store, actor, ref = services.store, operator.actor, str(info.session.id)

        def imported(result: ImportResult) -> None:
            self.t.rebind(self.result, "roster.imported", added=result.added,
                          session=result.session_code, new=result.new_candidates)
            self.refresh(select=ref)

        def refused(exc: BaseException) -> None:
            lines = [self.app.error_text(exc)]
            if isinstance(exc, errors.RosterInvalid):
                lines += [self._row_text(e) for e in exc.errors[:8]]
                if len(exc.errors) > 8:
                    lines.append("…")
            self.t.rebind(self.result, "app.plain", text="\n".join(lines))

        self.app.run_job(lambda: import_roster(store, ref, path, actor=actor), done=imported,
                         failed=refused)

    def _row_text(self, e: errors.RowError) -> str:
        text = self.t(e.key, **e.context())
        column = self.t(f"column.{e.column}") if e.column else "—"
        return self.t("roster.row", row=e.row, column=column, text=text)


def _station_centre(store: Store, actor: str) -> Any:
    """The centre this desk works for: the only one in the database, else $EXAMDESK_CENTRE,
    else "local" (as the command line does)."""
    centres = list_centres(store)
    if len(centres) == 1:
        return centres[0].id
    code = os.environ.get(CENTRE_ENV) or DEFAULT_CENTRE
    return ensure_centre(store, code, None, actor=actor).id


def _now() -> Any:
    from datetime import datetime

    return datetime.now(VIETNAM)
