"""The centre admin's station screen (issue 17): the desks of the centre, enrol this desk,
approve a waiting one after comparing fingerprints, revoke a lost one, rotate the centre's data
key. Centre admins only.

Keyboard: F12 opens it; ↑/↓ move in the list; Enter on a waiting station opens its approval,
Delete on a station opens its revocation, Ctrl+K the data key's rotation; in each confirmation
Enter confirms and Esc cancels; Enter in the name field enrols this desk. Every action is the
CLI's own call (examdesk/services/stations.py), run on the worker.
"""

from __future__ import annotations

import tkinter
from tkinter import ttk
from typing import Any

import customtkinter as ctk

from examdesk.services.stations import (
    CentreStations,
    approve_station,
    centre_stations,
    enrol_this_desk,
    revoke_station,
    rotate_centre_data_key,
)
from examdesk.timezone import moment
from proctoring.models import Stage
from proctoring.stations import DataKeyRotation, StationInfo, same_fingerprint

from .base import View
from .theme import MUTED, PANEL
from .widgets import Column, DataTable, enable

# The state at a glance: a symbol and words (never colour alone).
STATE_SYMBOLS = {"ACTIVE": "✔", "PENDING": "◐", "REVOKED": "✖"}  # glyphs DejaVu has
STATE_COLOURS = {"ACTIVE": "#1e7b34", "PENDING": "#8a6100", "REVOKED": "#b3261e"}
STAGES = (Stage.THEORY, Stage.SIMULATION, Stage.YARD, Stage.ROAD)
APPROVE, REVOKE, ROTATE = "approve", "revoke", "rotate"
ROTATE_KEYS = ("<Control-k>", "<Control-K>")  # K: khoá, the key


class StationsView(View):
    name = "stations"
    needs_session = False

    def __init__(self, master: Any, app: Any) -> None:
        super().__init__(master, app)
        t, f = self.t, self.fonts
        self.grid_columnconfigure(0, weight=1)
        self.grid_rowconfigure(1, weight=1)
        self._found: CentreStations | None = None
        # (APPROVE/REVOKE, the station) or (ROTATE, None: the centre's key, no one station)
        self._asking: tuple[str, StationInfo | None] | None = None
        self._said: tuple[str, dict[str, object]] | None = None  # the last message: key, context

        head = ctk.CTkFrame(self, fg_color="transparent")
        head.grid(row=0, column=0, sticky="ew", padx=20, pady=(16, 6))
        head.grid_columnconfigure(0, weight=1)
        self.heading = ctk.CTkLabel(head, text="", font=f.title, anchor="w")
        self.heading.grid(row=0, column=0, sticky="w")
        self.approve_button = ctk.CTkButton(head, font=f.bold, height=38,
                                            command=lambda: self.ask(APPROVE))
        t.bind(self.approve_button, "app.stations.approve")
        self.approve_button.grid(row=0, column=1, padx=(8, 0))
        self.revoke_button = ctk.CTkButton(head, font=f.bold, height=38, fg_color="#b3261e",
                                           command=lambda: self.ask(REVOKE))
        t.bind(self.revoke_button, "app.stations.revoke")
        self.revoke_button.grid(row=0, column=2, padx=(8, 0))
        self.rotate_button = ctk.CTkButton(head, font=f.bold, height=38, fg_color="#8a6100",
                                           command=lambda: self.ask(ROTATE))
        t.bind(self.rotate_button, "offline17.rotate")
        self.rotate_button.grid(row=0, column=3, padx=(8, 0))

        self.table = DataTable(self, f, [
            Column("app.stations.col.name", 215), Column("app.stations.col.stages", 150),
            Column("app.stations.col.state", 170), Column("app.stations.col.enrolled", 250),
            Column("app.stations.col.fingerprint", 290, stretch=True)], height=6,
            style="Stations.Treeview")
        self.table.grid(row=1, column=0, sticky="nsew", padx=20)
        for state, colour in STATE_COLOURS.items():
            self.table.colour(state, colour)
        tree = self.table.tree
        tree.bind("<<TreeviewSelect>>", lambda _e: self._buttons())
        # The chosen station in full (a cell may be cut at 1366 px): one line under the list.
        self.detail = ctk.CTkLabel(self, text="", font=f.base, anchor="w", justify="left",
                                   wraplength=1080)
        self.detail.grid(row=2, column=0, sticky="ew", padx=20, pady=(6, 0))
        tree.bind("<Delete>", lambda _e: self.ask(REVOKE))
        tree.bind("<KP_Delete>", lambda _e: self.ask(REVOKE))
        tree.bind("<Double-1>", lambda _e: self.ask(APPROVE))
        for sequence in ROTATE_KEYS:
            tree.bind(sequence, lambda _e: self._rotate_key())

        # The confirmation: what the admin is about to do, both fingerprints side by side (an
        # approval) or the written reason (a revocation); Enter confirms, Esc cancels.
        self.confirm = ctk.CTkFrame(self, corner_radius=10, fg_color="#fff4d6",
                                    border_width=2, border_color="#8a6100")
        self.confirm.grid(row=3, column=0, sticky="ew", padx=20, pady=(10, 0))
        self.confirm.grid_columnconfigure(1, weight=1)
        self.question = ctk.CTkLabel(self.confirm, text="", font=f.large, anchor="w",
                                     justify="left", wraplength=1000)
        self.question.grid(row=0, column=0, columnspan=4, sticky="ew", padx=14, pady=(10, 4))
        self.held = ctk.CTkLabel(self.confirm, text="", font=f.bold, anchor="w", justify="left")
        self.held.grid(row=1, column=0, columnspan=4, sticky="ew", padx=14)
        self.answer_label = ctk.CTkLabel(self.confirm, text="", font=f.bold, anchor="e")
        self.answer_label.grid(row=2, column=0, sticky="e", padx=(14, 8), pady=8)
        self.answer = ctk.CTkEntry(self.confirm, font=f.base, height=36)
        self.answer.grid(row=2, column=1, sticky="ew", pady=8)
        self.answer.bind("<KeyRelease>", lambda _e: self._compare())
        self.confirm_button = ctk.CTkButton(self.confirm, font=f.bold, height=36,
                                            command=self.confirm_asked)
        t.bind(self.confirm_button, "app.stations.confirm")
        self.confirm_button.grid(row=2, column=2, padx=8, pady=8)
        cancel = ctk.CTkButton(self.confirm, font=f.bold, height=36, fg_color="#5a6472",
                               command=self.cancel)
        t.bind(cancel, "app.stations.cancel")
        cancel.grid(row=2, column=3, padx=(0, 14), pady=8)
        self.match = ctk.CTkLabel(self.confirm, text="", font=f.bold, anchor="w",
                                  justify="left")
        self.match.grid(row=3, column=0, columnspan=4, sticky="ew", padx=14, pady=(0, 10))
        self.confirm.grid_remove()

        enrol = ctk.CTkFrame(self, corner_radius=10, fg_color=PANEL)
        enrol.grid(row=4, column=0, sticky="ew", padx=20, pady=(10, 0))
        enrol.grid_columnconfigure(1, weight=1)
        t.bind(ctk.CTkLabel(enrol, font=f.large, anchor="w"), "app.stations.enrol_title").grid(
            row=0, column=0, columnspan=3, sticky="w", padx=14, pady=(10, 2))
        t.bind(ctk.CTkLabel(enrol, font=f.bold, anchor="e"), "app.stations.name").grid(
            row=1, column=0, sticky="e", padx=(14, 8), pady=6)
        self.name_entry = ctk.CTkEntry(enrol, font=f.base, height=36, width=320)
        t.bind_option(self.name_entry, "placeholder_text", "app.stations.name_hint")
        self.name_entry.grid(row=1, column=1, sticky="w", pady=6)
        self.enrol_button = ctk.CTkButton(enrol, font=f.bold, height=36, command=self.enrol)
        t.bind(self.enrol_button, "app.stations.enrol")
        self.enrol_button.grid(row=1, column=2, padx=(8, 14), pady=6)
        boxes = ctk.CTkFrame(enrol, fg_color="transparent")
        boxes.grid(row=2, column=1, columnspan=2, sticky="w", pady=(0, 6))
        t.bind(ctk.CTkLabel(enrol, font=f.bold, anchor="e"), "app.stations.stages").grid(
            row=2, column=0, sticky="e", padx=(14, 8))
        # ttk check buttons: Tab reaches them and Space ticks them (customtkinter's do not).
        ttk.Style(self).configure("Stations.TCheckbutton", font=f.tk_base, background=PANEL)
        self.stage_vars: dict[Stage, tkinter.BooleanVar] = {}
        self._stage_boxes: dict[Stage, ttk.Checkbutton] = {}
        for i, stage in enumerate(STAGES):
            var = tkinter.BooleanVar(self, value=False)
            box = ttk.Checkbutton(boxes, variable=var, style="Stations.TCheckbutton")
            box.grid(row=0, column=i, padx=(0, 18))
            self.stage_vars[stage] = var
            self._stage_boxes[stage] = box
        self.enrol_note = ctk.CTkLabel(enrol, text="", font=f.small, text_color=MUTED,
                                       anchor="w", justify="left", wraplength=1000)
        self.enrol_note.grid(row=3, column=0, columnspan=3, sticky="ew", padx=14, pady=(0, 10))

        self.message = ctk.CTkLabel(self, text="", font=f.bold, anchor="w", justify="left",
                                    wraplength=1050)
        self.message.grid(row=5, column=0, sticky="ew", padx=20, pady=(8, 12))
        t.on_change(self._relabel)
        self._relabel()

    # --- showing ------------------------------------------------------------------------------

    @property
    def _admin(self) -> bool:
        return self.app.operator is not None and self.app.operator.is_admin

    def _actor(self) -> str:
        operator = self.app.operator
        assert operator is not None  # every action checks _admin first
        return operator.actor

    def _relabel(self) -> None:
        self.table.headings(self.t)
        for stage, box in self._stage_boxes.items():
            box.configure(text=self.t(f"station.stage.{stage.value}"))
        self._show()
        if self._asking is not None:
            self._ask_texts()
        if self._said is not None:
            self.message.configure(text=self.t(self._said[0], **self._said[1]))

    def shown(self) -> None:
        self.reload()
        self.table.tree.focus_set()

    def hidden(self) -> None:
        self.cancel(refocus=False)

    def operator_changed(self) -> None:
        self._said = None
        self.message.configure(text="")

    def reload(self) -> None:
        services = self.services
        if services is None:
            self.app.when_ready(self.reload)
            return
        if not self._admin:
            return
        store = services.store

        def loaded(found: CentreStations) -> None:
            self._found = found
            self._show()

        self.app.run_job(lambda: centre_stations(store), done=loaded, failed=self._failed)

    def state_words(self, s: StationInfo) -> str:
        return f"{STATE_SYMBOLS.get(s.status, '?')} {self.t(f'station.status.{s.status.lower()}')}"

    def _show(self) -> None:
        t, found = self.t, self._found
        if found is None:
            self.heading.configure(text=t("app.stations.title_plain"))
            self.table.fill([])
            self._buttons()
            return
        self.heading.configure(text=t("app.stations.title", centre=found.centre_name,
                                      n=len(found.stations)))
        rows = []
        for s in found.stations:
            name = s.name + (f"  ({t('app.stations.this_desk')})" if s.this_desk else "")
            stages = ", ".join(t(f"station.stage.{x}") for x in s.stages) or t(
                "app.station.all_stages")
            enrolled = t("app.stations.enrolled_by", by=_who(s.enrolled_by),
                         at=moment(s.enrolled_at))
            rows.append((str(s.id), [name, stages, self.state_words(s), enrolled,
                                     s.fingerprint], s.status))
        self.table.fill(rows)
        chosen = self.table.selected()
        if chosen:  # the tree's focus row too: ↑/↓ move from the row shown as chosen
            self.table.select(chosen)
        mine = found.this_desk
        if mine is None:
            self.t.rebind(self.enrol_note, "app.stations.enrol_hint")
        else:
            self.t.rebind(self.enrol_note, "app.stations.enrolled_here", name=mine.name,
                          state=self.state_words(mine), fingerprint=mine.fingerprint)
        for widget in (self.name_entry, self.enrol_button):
            widget.configure(state="normal" if mine is None else "disabled")
        for box in self._stage_boxes.values():
            box.state(["!disabled"] if mine is None else ["disabled"])
        if not found.stations:
            self._say("station.none")
        self._buttons()

    def describe(self, s: StationInfo) -> str:
        t = self.t
        stages = ", ".join(t(f"station.stage.{x}") for x in s.stages) or t(
            "app.station.all_stages")
        words = t("app.stations.detail", name=s.name, stages=stages, state=self.state_words(s),
                  by=_who(s.enrolled_by), at=moment(s.enrolled_at), fingerprint=s.fingerprint)
        if s.revoked_at is not None:
            words += " " + t("app.stations.detail_revoked", by=_who(s.revoked_by or "—"),
                             at=moment(s.revoked_at))
        return words

    def selected(self) -> StationInfo | None:
        chosen = self.table.selected()
        stations = self._found.stations if self._found else ()
        return next((s for s in stations if str(s.id) == chosen), None)

    def _buttons(self) -> None:
        s = self.selected()
        self.detail.configure(text="" if s is None else self.describe(s))
        enable(self.approve_button, s is not None and s.status == "PENDING", "#1f5fa8")
        enable(self.revoke_button, s is not None and s.status != "REVOKED" and not s.this_desk,
               "#b3261e")
        enable(self.rotate_button, self._found is not None, "#8a6100")

    # --- approve / revoke: a confirmation first -----------------------------------------------

    def _rotate_key(self) -> str:
        self.ask(ROTATE)
        return "break"

    def ask(self, what: str) -> None:
        if what == ROTATE:
            if self._admin and self._found is not None:
                self._asking = (ROTATE, None)
                self._open_confirmation()
            return
        s = self.selected()
        if s is None or not self._admin:
            return
        if what == APPROVE and s.status != "PENDING":
            self._say("app.stations.approve_only_pending", name=s.name)
            return
        if what == REVOKE and s.status == "REVOKED":
            self._say("app.stations.already_revoked", name=s.name)
            return
        if what == REVOKE and s.this_desk:
            self._say("station.revoke_self", station=s.name)
            return
        self._asking = (what, s)
        self._open_confirmation()

    def _open_confirmation(self) -> None:
        self.answer.delete(0, "end")
        self._ask_texts()
        self.confirm.grid()
        self.answer.focus_set()

    def _ask_texts(self) -> None:
        assert self._asking is not None
        what, s = self._asking
        t = self.t
        if s is None:  # the data key's rotation: what happens, in words, before the reason
            stations = self._found.stations if self._found else ()
            active = [x.name for x in stations if x.status == "ACTIVE"]
            revoked = [x.name for x in stations if x.status == "REVOKED"]
            self.question.configure(text=t("offline17.rotate_question"))
            self.held.configure(text=t(
                "offline17.rotate_what", active=", ".join(active) or "—",
                revoked=", ".join(revoked) or "—"))
            self.answer_label.configure(text=t("app.stations.reason"))
            self.answer.configure(placeholder_text="")
            self.confirm_button.configure(fg_color="#8a6100")
        elif what == APPROVE:
            self.question.configure(text=t("app.stations.approve_question", name=s.name))
            self.held.configure(text=t("app.stations.fingerprint_centre",
                                       fingerprint=s.fingerprint))
            self.answer_label.configure(text=t("app.stations.fingerprint_seen"))
            self.answer.configure(placeholder_text="XXXX-XXXX-XXXX-XXXX-XXXX")
            self.confirm_button.configure(fg_color="#1f5fa8")
        else:
            self.question.configure(text=t("app.stations.revoke_question", name=s.name))
            self.held.configure(text=t("app.stations.revoke_what", name=s.name,
                                       fingerprint=s.fingerprint))
            self.answer_label.configure(text=t("app.stations.reason"))
            self.answer.configure(placeholder_text="")
            self.confirm_button.configure(fg_color="#b3261e")
        self._compare()

    def _compare(self) -> None:
        """An approval shows both fingerprints and whether they agree, as the admin types."""
        if self._asking is None:
            return
        what, s = self._asking
        typed = self.answer.get().strip()
        if what == APPROVE and s is not None:
            if not typed:
                self.match.configure(text=self.t("app.stations.fingerprint_type"),
                                     text_color=MUTED)
            elif same_fingerprint(s.fingerprint, typed):
                self.match.configure(text=self.t("app.stations.fingerprint_same",
                                                 centre=s.fingerprint, seen=typed.upper()),
                                     text_color="#1e7b34")
            else:
                self.match.configure(text=self.t("app.stations.fingerprint_differs",
                                                 centre=s.fingerprint, seen=typed.upper()),
                                     text_color="#b3261e")
            ok = same_fingerprint(s.fingerprint, typed)
        else:
            hint = "offline17.rotate_hint" if what == ROTATE else "app.stations.reason_hint"
            self.match.configure(text=self.t(hint), text_color=MUTED)
            ok = bool(typed)
        enable(self.confirm_button, ok, "#1f5fa8" if what == APPROVE else "#b3261e")

    def confirm_asked(self) -> None:
        services = self.services
        if self._asking is None or services is None or not self._admin:
            return
        what, s = self._asking
        typed = self.answer.get().strip()
        store, actor = services.store, self._actor()
        if s is None:
            if typed:
                self._rotate(typed)
            else:
                self._compare()
            return
        if what == APPROVE:
            if not same_fingerprint(s.fingerprint, typed):
                self._compare()
                return  # never sent: the approval is refused again where it seals

            def job() -> StationInfo:
                return approve_station(store, station_id=s.id, fingerprint_seen=typed,
                                       actor=actor)

            def done(info: StationInfo) -> None:
                self._say("app.stations.approved", name=info.name, n=info.sealed_keys)
                self.reload()
        else:
            if not typed:
                self._compare()
                return

            def job() -> StationInfo:
                return revoke_station(store, station_id=s.id, reason=typed, actor=actor)

            def done(info: StationInfo) -> None:
                self._say("app.stations.revoked", name=info.name)
                self.reload()

        self.cancel()
        self._say("app.stations.working")
        self.app.run_job(job, done=done, failed=self._action_failed)

    def _rotate(self, reason: str) -> None:
        services = self.services
        assert services is not None
        store, actor = services.store, self._actor()

        def done(rotation: DataKeyRotation) -> None:
            self._say("offline17.rotated", stations=", ".join(rotation.stations) or "—")
            if rotation.skipped:  # said after: the stations that got nothing, and why
                self.message.configure(text=self.message.cget("text") + "\n" + self.t(
                    "station.rotated_skipped", stations=", ".join(rotation.skipped)))
            self.reload()

        self.cancel()
        self._say("app.stations.working")
        self.app.run_job(lambda: rotate_centre_data_key(store, reason=reason, actor=actor),
                         done=done, failed=self._action_failed)

    def cancel(self, refocus: bool = True) -> None:
        self._asking = None
        self.answer.delete(0, "end")
        self.confirm.grid_remove()
        if refocus:
            self.table.tree.focus_set()

    # --- enrol this desk ----------------------------------------------------------------------

    def enrol(self) -> None:
        services = self.services
        if services is None or not self._admin:
            return
        if self._found is not None and self._found.this_desk is not None:
            return
        name = self.name_entry.get().strip()
        if not name:
            self._say("app.stations.name_needed")
            self.name_entry.focus_set()
            return
        stages = [s.value for s, var in self.stage_vars.items() if var.get()]
        store, actor = services.store, self._actor()

        def done(info: StationInfo) -> None:
            self.name_entry.delete(0, "end")
            key = ("app.stations.enrolled_active" if info.status == "ACTIVE"
                   else "app.stations.enrolled_pending")
            self._say(key, name=info.name, fingerprint=info.fingerprint)
            self.app.station_changed(info)
            self.reload()

        self._say("app.stations.working")
        self.app.run_job(lambda: enrol_this_desk(store, name=name, stages=stages, actor=actor),
                         done=done, failed=self._action_failed)

    # --- keys and messages --------------------------------------------------------------------

    def on_return(self, event: Any) -> bool:
        widget = getattr(event, "widget", None)
        if self._asking is not None:
            self.confirm_asked()
        elif widget in (self.name_entry, getattr(self.name_entry, "_entry", None)):
            self.enrol()
        elif widget is self.table.tree:
            self.ask(APPROVE)
        else:
            return False
        return True

    def on_escape(self, event: Any) -> bool:
        if self._asking is None:
            return False
        self.cancel()
        return True

    def _say(self, key: str, **context: object) -> None:
        self._said = (key, context)
        self.message.configure(text=self.t(key, **context))

    def _failed(self, exc: BaseException) -> None:
        self._said = None
        self.message.configure(text=self.app.error_text(exc))

    def _action_failed(self, exc: BaseException) -> None:
        """Refused (a swapped key, the last holder, …): said, and the list read again, since
        another desk may have changed it meanwhile."""
        self._failed(exc)
        self.reload()

    @property
    def rows(self) -> list[list[str]]:
        """What the list shows (tests)."""
        return self.table.rows()


def _who(actor: str) -> str:
    """"app:Lê Văn A" → "Lê Văn A"; a command-line user's name as it was recorded."""
    return actor.split(":", 1)[1] if actor.startswith(("app:", "cli:")) else actor
