"""Print and sign the roster: the PDF of ``examdesk roster print --sign``, verified right after
(signature valid, unmodified, trusted, content equal to the check-ins stored here)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from tkinter import filedialog
from typing import Any

import customtkinter as ctk
from PIL import Image

from examdesk.paths import file_stem
from reports.verify import RosterVerification
from reports.verify_text import quiet_pyhanko, verify_lines

from .base import View
from .theme import PANEL
from .widgets import PictureBox

PAGE_PREVIEW = (420, 297)  # A4 landscape, small


@dataclass(frozen=True)
class PrintRequest:
    session_ref: str
    out: Path
    lang: str
    sign_with: Path | None
    password: str
    reason: str
    location: str
    room: str


@dataclass(frozen=True)
class Printed:
    path: Path
    session_code: str
    pages: int
    candidates: int
    signer: str | None
    verification: RosterVerification | None
    first_page: Image.Image | None


def print_roster(request: PrintRequest, *, store: Any, key_folder: Path,
                 trust_folder: Path) -> Printed:
    """The worker's job: render, sign, write (owner-only), verify, and a picture of page 1."""
    from reports.keys import write_private
    from reports.layout import catalog_words
    from reports.roster import RosterOptions, roster_pdf
    from reports.signing import load_signer, sign_pdf
    from reports.verify import load_trust_roots, verify_roster

    quiet_pyhanko()
    signer = (load_signer(request.sign_with, request.password.encode("utf-8"))
              if request.sign_with is not None else None)
    words = catalog_words(request.lang)
    made = roster_pdf(store, request.session_ref, words,
                      options=RosterOptions(lang=request.lang, room=request.room or None))
    data = made.data
    if signer is not None:
        data = sign_pdf(data, signer, words,
                        reason=request.reason or words("signing.default_reason"),
                        location=request.location or None)
    write_private(request.out, data)
    verification = None
    if signer is not None:
        roots = load_trust_roots(key_folder=key_folder, trust_folder=trust_folder)
        verification = verify_roster(data, path=str(request.out), roots=roots, store=store)
    return Printed(request.out, made.session_code, made.pages, made.candidates,
                   signer.common_name if signer else None, verification,
                   first_page(request.out))


def first_page(pdf: Path) -> Image.Image | None:
    """Page 1 as a small picture (poppler's pdftoppm, when installed) for the screen."""
    tool = shutil.which("pdftoppm")
    if tool is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "page"
        try:
            subprocess.run([tool, "-png", "-r", "40", "-f", "1", "-l", "1", "-singlefile",
                            str(pdf), str(target)], check=True, capture_output=True, timeout=30)
            with Image.open(target.with_suffix(".png")) as im:
                return im.convert("RGB")
        except (OSError, subprocess.SubprocessError):
            return None


class PrintView(View):
    name = "print"

    def __init__(self, master: Any, app: Any) -> None:
        super().__init__(master, app)
        t, f = self.t, self.fonts
        self.grid_columnconfigure(1, weight=1)
        self.printed: Printed | None = None
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
        request = PrintRequest(str(session.id), out, self.t.lang,
                               Path(p12).expanduser() if signing else None,
                               self.password_entry.get(), self.reason_entry.get().strip(),
                               self.location_entry.get().strip(), self.room_entry.get().strip())
        self.button.configure(state="disabled")
        self.t.rebind(self.result, "app.print.working")
        places, store = services.places, services.store

        def done(printed: Printed) -> None:
            self.button.configure(state="normal")
            self.printed = printed
            self._show_result()

        def failed(exc: BaseException) -> None:
            self.button.configure(state="normal")
            self.printed = None
            self.page.show(None)
            self.t.rebind(self.result, "app.plain", text=self.app.error_text(exc))

        self.app.run_job(lambda: print_roster(request, store=store, key_folder=places.pdf_keys,
                                              trust_folder=places.pdf_trust),
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

