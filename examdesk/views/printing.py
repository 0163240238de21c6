"""Print and sign the roster: the PDF of ``examdesk roster print --sign``, verified right after
(signature valid, unmodified, trusted, content equal to the check-ins stored here)."""

from __future__ import annotations

from pathlib import Path
from tkinter import filedialog
from typing import Any

import customtkinter as ctk

from examdesk.paths import file_stem
from examdesk.services.roster import (
    PrintedRoster,
    RootFolders,
    RosterRequest,
    SigningKey,
    print_roster,
)
from reports.verify_text import verify_lines

from .base import View
from .theme import PANEL
from .widgets import PictureBox

PAGE_PREVIEW = (420, 297)  # A4 landscape, small


class PrintView(View):
    name = "print"

    def __init__(self, master: Any, app: Any) -> None:
        super().__init__(master, app)
        t, f = self.t, self.fonts
        self.grid_columnconfigure(1, weight=1)
        self.printed: PrintedRoster | None = None
        t.bind(ctk.CTkLabel(self, font=f.title, anchor="w"), "app.print.title").grid(
            row=0, column=0, columnspan=2, sticky="w", padx=20, pady=(16, 8))
        form = ctk.CTkFrame(self, corner_radius=10, fg_color=PANEL)
        form.grid(row=1, column=0, sticky="nw", padx=(20, 10))
        form.grid_columnconfigure(1, weight=1)
        self.out_entry = self._field(form, 0, "app.print.out", browse=self._browse_out)
        self.sign = ctk.CTkCheckBox(form, font=f.bold)
        t.bind(self.sign, "app.print.sign")
        self.sign.select()
        self.sign.grid(row=1, column=1, sticky="w", pady=6)
        self.p12_entry = self._field(form, 2, "app.print.certificate", browse=self._browse_p12)
        self.password_entry = self._field(form, 3, "app.print.password")
        self.password_entry.configure(show="•")
        self.reason_entry = self._field(form, 4, "app.print.reason")
        self.location_entry = self._field(form, 5, "app.print.location")
        self.room_entry = self._field(form, 6, "app.print.room")
        self.button = ctk.CTkButton(form, font=f.large, height=46, command=self.print_now)
        t.bind(self.button, "app.print.button")
        self.button.grid(row=7, column=1, sticky="w", pady=(10, 14))

        result = ctk.CTkFrame(self, corner_radius=10, fg_color=PANEL)
        result.grid(row=1, column=1, sticky="nsew", padx=(10, 20))
        result.grid_columnconfigure(0, weight=1)
        self.page = PictureBox(result, PAGE_PREVIEW, f, background="#ffffff")
        self.page.grid(row=0, column=0, padx=14, pady=(14, 6))
        self.result = ctk.CTkLabel(result, text="", font=f.small, anchor="nw", justify="left",
                                   wraplength=420)
        self.result.grid(row=1, column=0, sticky="ew", padx=14, pady=(0, 14))
        t.on_change(self._show_result)

    def _field(self, form: Any, row: int, key: str, browse: Any = None) -> Any:
        self.t.bind(ctk.CTkLabel(form, font=self.fonts.base, anchor="e"), key).grid(
            row=row, column=0, sticky="e", padx=(14, 8), pady=5)
        entry = ctk.CTkEntry(form, font=self.fonts.base, width=360, height=34)
        entry.grid(row=row, column=1, sticky="w", pady=5, padx=(0, 8 if browse else 14))
        if browse is not None:
            button = ctk.CTkButton(form, font=self.fonts.base, width=80, command=browse)
            self.t.bind(button, "app.browse")
            button.grid(row=row, column=2, padx=(0, 14))
        return entry

    def _browse_out(self) -> None:
        path = filedialog.asksaveasfilename(parent=self, defaultextension=".pdf",
                                            filetypes=[("PDF", "*.pdf")])
        if path:
            _set(self.out_entry, path)

    def _browse_p12(self) -> None:
        path = filedialog.askopenfilename(parent=self, filetypes=[("PKCS#12", "*.p12 *.pfx")])
        if path:
            _set(self.p12_entry, path)

    def shown(self) -> None:
        services, session = self.services, self.app.session
        if services is not None and session is not None and not self.out_entry.get():
            name = f"{file_stem(session.code, 'roster')}.pdf"  # a code may hold "/"
            _set(self.out_entry, str(services.places.rosters / name))
        if services is not None and services.demo is not None and not self.p12_entry.get():
            # The demo's own certificate: the password protects nothing real.
            _set(self.p12_entry, str(services.demo.signer_p12))
            _set(self.password_entry, services.demo.signer_password)
        if not self.reason_entry.get():
            _set(self.reason_entry, self.t("signing.default_reason"))
        self.button.focus_set()

    def session_changed(self) -> None:
        self.out_entry.delete(0, "end")
        self.printed = None
        self._show_result()

    def on_save(self, event: Any) -> bool:
        self.print_now()
        return True

    def on_return(self, event: Any) -> bool:
        self.print_now()
        return True

    def print_now(self) -> None:
        services, session = self.services, self.app.session
        if services is None or session is None or self.button.cget("state") == "disabled":
            return
        out = Path(self.out_entry.get().strip()).expanduser()
        p12 = self.p12_entry.get().strip()
        signing = bool(self.sign.get())
        if signing and not p12:
            self.t.rebind(self.result, "app.print.no_certificate")
            return
        request = RosterRequest(str(session.id), out, self.t.lang,
                                room=self.room_entry.get().strip(),
                                reason=self.reason_entry.get().strip(),
                                location=self.location_entry.get().strip())
        key = (SigningKey(Path(p12).expanduser(), self.password_entry.get().encode("utf-8"))
               if signing else None)
        self.button.configure(state="disabled")
        self.t.rebind(self.result, "app.print.working")
        places, store = services.places, services.store

        def done(printed: PrintedRoster) -> None:
            self.button.configure(state="normal")
            self.printed = printed
            self._show_result()

        def failed(exc: BaseException) -> None:
            self.button.configure(state="normal")
            self.printed = None
            self.page.show(None)
            self.t.rebind(self.result, "app.plain", text=self.app.error_text(exc))

        roots = RootFolders(places.pdf_keys, places.pdf_trust)
        self.app.run_job(lambda: print_roster(store, request, sign=key, verify_with=roots,
                                              preview=True),
                         done=done, failed=failed)

    def _show_result(self) -> None:
        p = self.printed
        if p is None:
            return
        t = self.t
        lines = [t("roster.printed", path=p.path, session=p.session_code, pages=p.pages,
                   candidates=p.candidates)]
        if p.signer:
            lines.append(t("roster.signed_by", signer=p.signer))
        if p.verification is not None:
            lines += verify_lines(p.verification, t.catalog, t.lang)
        self.t.rebind(self.result, "app.plain", text="\n".join(lines))
        self.page.show(p.first_page, t("app.print.no_preview"))

    @property
    def result_text(self) -> str:
        return str(self.result.cget("text"))


def _set(entry: Any, value: str) -> None:
    entry.delete(0, "end")
    entry.insert(0, value)

