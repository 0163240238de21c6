"""Settings: the reader, the camera, the language; the face thresholds, the check-in rules,
the face threshold's trade-off on the centre's own people (Ctrl+T) and the district's address
for centre admins only (an invigilator does not see the rules).

Saved in settings.json (sections ``app``, ``face`` and ``checkin``, the same file the command
line uses; the rules apply to the next check-in);
a change of reader or camera applies at once, without a restart. The district's address holds
the centre's password: it is kept with the data key (OS keyring or an owner-only file, as
``examdesk sync --save`` does), and only after the district has accepted it.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import customtkinter as ctk

from biometrics import OperatingPoint
from examdesk.services.sync import (
    Synced,
    SyncRequest,
    district_address,
    forget_address,
    sync_now,
)
from examdesk.settings import read_section, write_section
from proctoring.central import CENTRAL_URL_ENV
from proctoring.face_population import centre_tradeoff
from proctoring.policy import SECTION as POLICY_SECTION
from proctoring.policy import CheckInRules, RuleInvalid
from proctoring.sync import local_centre
from reader.transport import ReaderState, list_readers

from .base import View
from .cards import PcscCards
from .frames import camera_factory, camera_label
from .rules_panel import RulesPanel
from .sync_state import env_centre
from .theme import MUTED, PANEL, SEGMENTS
from .tradeoff_panel import TradeOffPanel

AUTO = "auto"


class SettingsView(View):
    name = "settings"
    needs_session = False

    def __init__(self, master: Any, app: Any) -> None:
        super().__init__(master, app)
        t, f = self.t, self.fonts
        self.grid_columnconfigure((0, 1), weight=1, uniform="settings")
        t.bind(ctk.CTkLabel(self, font=f.title, anchor="w"), "app.settings.title").grid(
            row=0, column=0, columnspan=2, sticky="w", padx=20, pady=(16, 8))

        station = ctk.CTkFrame(self, corner_radius=10, fg_color=PANEL)
        station.grid(row=1, column=0, sticky="nsew", padx=(20, 10))
        station.grid_columnconfigure(1, weight=1)
        self._label(station, 0, "app.settings.language")
        self.language = ctk.CTkSegmentedButton(station, **SEGMENTS, font=f.bold, height=38,
                                               values=["Tiếng Việt", "English"],
                                               command=self._language)
        self.language.grid(row=0, column=1, sticky="w", pady=8, padx=(0, 14))
        self._label(station, 1, "app.settings.reader")
        self.reader = ctk.CTkOptionMenu(station, font=f.base, width=320, values=[AUTO])
        self.reader.grid(row=1, column=1, sticky="w", pady=8, padx=(0, 14))
        self._label(station, 2, "app.settings.camera")
        self.camera = ctk.CTkEntry(station, font=f.base, width=320, height=34)
        self.camera.grid(row=2, column=1, sticky="w", pady=8, padx=(0, 14))
        t.bind(ctk.CTkLabel(station, font=f.small, text_color=MUTED, anchor="w", justify="left",
                            wraplength=440), "app.settings.camera_hint").grid(
            row=3, column=0, columnspan=2, sticky="w", padx=14)
        self.station_note = ctk.CTkLabel(station, text="", font=f.small, text_color=MUTED,
                                         anchor="w", justify="left", wraplength=440)
        self.station_note.grid(row=4, column=0, columnspan=2, sticky="w", padx=14, pady=(4, 10))

        faces = ctk.CTkFrame(self, corner_radius=10, fg_color=PANEL)
        faces.grid(row=1, column=1, sticky="nsew", padx=(10, 20))
        faces.grid_columnconfigure(1, weight=1)
        t.bind(ctk.CTkLabel(faces, font=f.large, anchor="w"), "app.settings.thresholds").grid(
            row=0, column=0, columnspan=2, sticky="w", padx=14, pady=(10, 2))
        self.admin_only = ctk.CTkLabel(faces, text="", font=f.small, text_color=MUTED,
                                       anchor="w", justify="left", wraplength=440)
        self.admin_only.grid(row=1, column=0, columnspan=2, sticky="w", padx=14)
        self.threshold = self._number(faces, 2, "face.label.threshold")
        self.review_low = self._number(faces, 3, "app.settings.review_low")
        self.review_high = self._number(faces, 4, "app.settings.review_high")
        self.source = ctk.CTkLabel(faces, text="", font=f.small, text_color=MUTED, anchor="w",
                                   justify="left", wraplength=440)
        self.source.grid(row=5, column=0, columnspan=2, sticky="w", padx=14, pady=(2, 10))
        self._threshold_rows = [self.threshold, self.review_low, self.review_high]
        # Beside the numbers, not below them: the screen has no height to spare at 1366×768.
        self.tradeoff_button = ctk.CTkButton(faces, font=f.small, height=30,
                                             command=self.toggle_tradeoff)
        t.bind(self.tradeoff_button, "app.settings.tradeoff")
        self.tradeoff_button.grid(row=4, column=1, sticky="e", padx=(0, 14))

        district = self.district_panel = ctk.CTkFrame(self, corner_radius=10, fg_color=PANEL)
        district.grid(row=2, column=0, columnspan=2, sticky="nsew", padx=20, pady=(14, 0))
        district.grid_columnconfigure(1, weight=1)
        t.bind(ctk.CTkLabel(district, font=f.large, anchor="w"), "app.settings.district").grid(
            row=0, column=0, sticky="w", padx=14, pady=(10, 2))
        self.district_url = ctk.CTkEntry(district, font=f.base, height=34, show="•",
                                         placeholder_text="postgresql://centre_…@…/district")
        self.district_url.grid(row=0, column=1, sticky="ew", padx=(6, 8), pady=(10, 2))
        self.district_save = ctk.CTkButton(district, font=f.bold, height=34,
                                           command=self.save_district)
        t.bind(self.district_save, "app.settings.district_save")
        self.district_save.grid(row=0, column=2, padx=(0, 8), pady=(10, 2))
        self.district_forget = ctk.CTkButton(district, font=f.bold, height=34,
                                             fg_color="#5a6472", command=self.forget_district)
        t.bind(self.district_forget, "app.settings.district_forget")
        self.district_forget.grid(row=0, column=3, padx=(0, 14), pady=(10, 2))
        self.district_note = ctk.CTkLabel(district, text="", font=f.small, text_color=MUTED,
                                          anchor="w", justify="left", wraplength=1000)
        self.district_note.grid(row=1, column=0, columnspan=4, sticky="w", padx=14,
                                pady=(2, 10))
        self.district_message = ""

        self.save_button = ctk.CTkButton(self, font=f.large, height=44, command=self.save)
        t.bind(self.save_button, "app.settings.save")
        self.rules = RulesPanel(self, t, f)
        self.rules.grid(row=3, column=0, columnspan=2, sticky="nsew", padx=20, pady=(14, 0))
        # The trade-off table takes the place of the district's address and the rules while it
        # is open (Ctrl+T; Esc closes it).
        self.tradeoff = TradeOffPanel(self, t, f)
        self.tradeoff.grid(row=2, rowspan=2, column=0, columnspan=2, sticky="nsew", padx=20,
                           pady=(14, 0))
        self.tradeoff.grid_remove()
        self.winfo_toplevel().bind_all("<Control-t>", self._tradeoff_key, add="+")
        self.save_button.grid(row=4, column=0, sticky="w", padx=20, pady=14)
        self.message = ctk.CTkLabel(self, text="", font=f.base, anchor="w", justify="left",
                                    wraplength=900)
        self.message.grid(row=5, column=0, columnspan=2, sticky="w", padx=20)
        t.on_change(self._sync_language)

    def _label(self, parent: Any, row: int, key: str) -> None:
        self.t.bind(ctk.CTkLabel(parent, font=self.fonts.bold, anchor="e"), key).grid(
            row=row, column=0, sticky="e", padx=(14, 10), pady=8)

    def _number(self, parent: Any, row: int, key: str) -> Any:
        self._label(parent, row, key)
        entry = ctk.CTkEntry(parent, font=self.fonts.base, width=120, height=34)
        entry.grid(row=row, column=1, sticky="w", pady=6)
        return entry

    def _sync_language(self) -> None:
        self.language.set("Tiếng Việt" if self.t.lang == "vi" else "English")
        self.operator_changed()

    def _language(self, value: str) -> None:
        self.app.set_language("vi" if value == "Tiếng Việt" else "en")

    # --- showing ------------------------------------------------------------------------------

    def shown(self) -> None:
        self._sync_language()
        services = self.services
        if services is None:
            self.app.when_ready(self.shown)
            return
        s = services.settings
        demo = services.demo is not None
        _set(self.camera, s.camera if not demo else "demo")
        for widget in (self.camera, self.reader):
            widget.configure(state="disabled" if demo else "normal")
        if demo:
            self.t.rebind(self.station_note, "app.settings.demo_devices")
        point = services.engine.settings.operating_point
        for entry, value in zip(self._threshold_rows,
                                (point.threshold, point.review_low, point.review_high),
                                strict=True):
            _set(entry, f"{value:.4f}")
        self.source.configure(text=point.source)
        self.rules.show(services.checkins.rules)
        self.app.run_job(_readers, done=self._readers, failed=lambda _e: self._readers([]))
        self._show_district()

    def _readers(self, states: list[ReaderState]) -> None:
        services = self.services
        names = [AUTO, *(s.reader for s in states)]
        self.reader.configure(values=names)
        current = services.cards.label if services is not None else AUTO
        self.reader.set(current if current in names else AUTO)

    def operator_changed(self) -> None:
        admin = self.app.operator is not None and self.app.operator.is_admin
        for entry in self._threshold_rows:
            entry.configure(state="normal" if admin else "disabled")
        self.tradeoff_button.configure(state="normal" if admin else "disabled")
        if not admin:
            self.close_tradeoff()
        for widget in (self.district_url, self.district_save, self.district_forget):
            widget.configure(state="normal" if admin else "disabled")
        # The rules are the centre's: an invigilator neither changes nor sees them.
        (self.rules.grid if admin and not self.tradeoff.winfo_ismapped()
         else self.rules.grid_remove)()
        self.rules.set_editable(admin)
        self.t.rebind(self.admin_only, "app.settings.admin_can" if admin
                      else "app.settings.admin_only")

    # --- the trade-off table (centre admins) ----------------------------------------------------

    def _tradeoff_key(self, _event: Any) -> str | None:
        if self.app.current is not self:
            return None
        self.toggle_tradeoff()
        return "break"

    def toggle_tradeoff(self) -> None:
        if self.tradeoff.winfo_ismapped():
            self.close_tradeoff()
        else:
            self.open_tradeoff()

    def open_tradeoff(self) -> None:
        """The table for the centre's own people, computed on a worker (it opens every stored
        face of the centre, in memory only)."""
        services = self.services
        if services is None or not (self.app.operator and self.app.operator.is_admin):
            return
        store = services.store
        session = self.app.session
        centre_id = session.centre_id if session is not None else None
        self.rules.grid_remove()
        self.district_panel.grid_remove()
        self.tradeoff.grid()
        self.tradeoff.computing()
        self.tradeoff.focus_set()

        def job() -> Any:
            where = centre_id if centre_id is not None else local_centre(store).id
            return centre_tradeoff(store, where)

        self.app.run_job(job, done=self.tradeoff.show,
                         failed=lambda e: self.tradeoff.failed(self.app.error_text(e)))

    def close_tradeoff(self) -> None:
        if not self.tradeoff.winfo_ismapped():
            return
        self.tradeoff.grid_remove()
        self.district_panel.grid()
        if self.app.operator is not None and self.app.operator.is_admin:
            self.rules.grid()

    def on_escape(self, event: Any) -> bool:
        if self.tradeoff.winfo_ismapped():
            self.close_tradeoff()
            return True
        return False

    def hidden(self) -> None:
        self.close_tradeoff()

    # --- saving -------------------------------------------------------------------------------

    def on_save(self, event: Any) -> bool:
        self.save()
        return True

    def on_return(self, event: Any) -> bool:
        if event is not None and event.widget in (self.district_url,
                                                  getattr(self.district_url, "_entry", None)):
            self.save_district()  # Enter in the address field checks and saves the address
        else:
            self.save()
        return True

    def save(self) -> None:
        services = self.services
        if services is None:
            return
        lang = self.t.lang
        reader = None if self.reader.get() == AUTO else self.reader.get()
        camera = self.camera.get().strip() or "0"
        demo = services.demo is not None
        settings = dataclasses.replace(services.settings, lang=lang)
        if not demo:
            settings = dataclasses.replace(settings, reader=reader, camera=camera)
        point = None
        if self.app.operator is not None and self.app.operator.is_admin:
            try:
                point = _operating_point(services.engine.settings.operating_point,
                                         self.threshold.get(), self.review_low.get(),
                                         self.review_high.get())
            except ValueError:
                self.t.rebind(self.message, "app.settings.bad_thresholds")
                return
        rules = None
        if self.app.operator is not None and self.app.operator.is_admin:
            try:  # the same check as the settings file's at start
                rules = CheckInRules.from_dict(self.rules.values())
            except RuleInvalid as exc:
                self.t.rebind(self.message, "app.plain", text=self.app.error_text(exc))
                return
            if rules == services.checkins.rules:
                rules = None  # unchanged: the file keeps following the defaults it follows
        file = services.places.settings_file

        def job() -> None:
            write_section("app", settings.to_dict(), file)
            if point is not None:
                face = read_section("face", file)
                face["operating_point"] = point.to_dict()
                write_section("face", face, file)
            if rules is not None:
                write_section(POLICY_SECTION, rules.to_dict(), file)

        def saved(_none: None) -> None:
            camera_changed = settings.camera != services.settings.camera
            services.settings = settings
            if point is not None:
                services.engine.settings = services.engine.settings.with_operating_point(point)
            if rules is not None:
                services.checkins.rules = rules  # the next check-in decides by them
            if not demo:
                services.cards = PcscCards(settings.reader)
                if camera_changed:
                    services.hub.switch(camera_factory(settings.camera))
                    services.camera_label = camera_label(settings.camera)
            self.t.rebind(self.message, "app.settings.saved", path=str(file))

        self.app.run_job(job, done=saved,
                         failed=lambda e: self.t.rebind(self.message, "app.plain",
                                                        text=self.app.error_text(e)))


    # --- the district's address -----------------------------------------------------------------

    def _show_district(self) -> None:
        """What a sync would use now (password hidden), read on a worker (the keyring may be
        slow), with this view's last message after it."""
        services = self.services
        if services is None:
            return
        store = services.store

        def done(address: str | None) -> None:
            admin = self.app.operator is not None and self.app.operator.is_admin
            lines = [self.t("app.settings.district_hint")]
            lines.append(self.t("app.settings.district_current", address=address) if address
                         else self.t("app.settings.district_none"))
            if os.environ.get(CENTRAL_URL_ENV):
                lines.append(self.t("app.settings.district_env"))
            if not admin:
                lines.append(self.t("app.settings.district_admin_only"))
            if self.district_message:
                lines.append(self.district_message)
            self.district_note.configure(text="\n".join(lines))

        self.app.run_job(lambda: district_address(store), done=done,
                         failed=lambda e: self._district_said(self.app.error_text(e)))

    def _district_said(self, text: str) -> None:
        self.district_message = text
        self._show_district()

    def save_district(self) -> None:
        services = self.services
        if services is None or not (self.app.operator and self.app.operator.is_admin):
            return
        url = self.district_url.get().strip()
        if not url:
            self._district_said(self.t("app.settings.district_empty"))
            return
        store = services.store
        self._district_said(self.t("app.settings.district_checking"))
        self.district_save.configure(state="disabled")

        # A sync is the test: the district must accept this login before it is kept.
        request = SyncRequest(url, env_centre(), save=True)

        def done(synced: Synced) -> None:
            self.district_save.configure(state="normal")
            result, where = synced.result, synced.saved_to
            if result.error is not None or where is None:
                error = result.error
                text = self.t(error.key, detail=error.detail) if error else ""
                self._district_said(self.t("app.settings.district_refused", text=text))
                return
            _set(self.district_url, "")
            self._district_said(self.t("app.settings.district_saved",
                                       district=result.district_code or "—", where=where,
                                       events=result.pushed_events, pending=result.pending))
            self.app.sync_badge.address_changed()

        def failed(exc: BaseException) -> None:
            self.district_save.configure(state="normal")
            self._district_said(self.t("app.settings.district_refused",
                                       text=self.app.error_text(exc)))

        self.app.run_job(lambda: sync_now(store, request), done=done, failed=failed)

    def forget_district(self) -> None:
        services = self.services
        if services is None or not (self.app.operator and self.app.operator.is_admin):
            return
        store = services.store

        def done(_had: bool) -> None:
            self._district_said(self.t("app.settings.district_forgotten"))
            self.app.sync_badge.address_changed()

        self.app.run_job(lambda: forget_address(store), done=done,
                         failed=lambda e: self._district_said(self.app.error_text(e)))


def _readers() -> list[ReaderState]:
    return list_readers()


def _operating_point(current: OperatingPoint, threshold: str, low: str,
                     high: str) -> OperatingPoint:
    """The typed numbers, if they make sense: MATCH ≤ low ≤ threshold ≤ high ≤ NO_MATCH."""
    values = [float(v.replace(",", ".")) for v in (threshold, low, high)]
    t, lo, hi = values
    if not (0.0 < lo <= t <= hi < 2.0):
        raise ValueError("0 < review_low ≤ threshold ≤ review_high < 2")
    if (t, lo, hi) == (current.threshold, current.review_low, current.review_high):
        return current
    return dataclasses.replace(current, threshold=t, review_low=lo, review_high=hi,
                               source="set by a centre admin in the app")


def _set(entry: Any, value: str) -> None:
    state = entry.cget("state")
    entry.configure(state="normal")
    entry.delete(0, "end")
    entry.insert(0, value)
    entry.configure(state=state)
