"""Sign-in: who operates this desk and in which role (the audit log names them)."""

from __future__ import annotations

import getpass
import unicodedata
from typing import Any

import customtkinter as ctk

from proctoring.models import Role

from .base import View
from .context import Operator
from .theme import MUTED, SEGMENTS

# The education office opens the district review (views/review.py), not the desk.
ROLES = (Role.INVIGILATOR, Role.CENTRE_ADMIN, Role.EDUCATION_OFFICE)


class SignInView(View):
    name = "signin"
    needs_session = False

    def __init__(self, master: Any, app: Any) -> None:
        super().__init__(master, app)
        t, f = self.t, self.fonts
        self.grid_columnconfigure(0, weight=1)
        box = ctk.CTkFrame(self, corner_radius=12, fg_color="#f5f7fa")
        box.grid(row=0, column=0, pady=(70, 10), padx=40)
        box.grid_columnconfigure(1, weight=1)
        t.bind(ctk.CTkLabel(box, font=f.title), "app.signin.title").grid(
            row=0, column=0, columnspan=2, padx=30, pady=(24, 4))
        t.bind(ctk.CTkLabel(box, font=f.base, text_color=MUTED), "app.signin.hint").grid(
            row=1, column=0, columnspan=2, padx=30, pady=(0, 18))

        t.bind(ctk.CTkLabel(box, font=f.bold, anchor="e"), "app.signin.name").grid(
            row=2, column=0, sticky="e", padx=(30, 10), pady=8)
        self.name_entry = ctk.CTkEntry(box, font=f.large, width=380, height=42)
        self.name_entry.grid(row=2, column=1, sticky="w", padx=(0, 30), pady=8)
        default = "Giám thị demo" if app.options.demo else _os_user()
        self.name_entry.insert(0, default)

        t.bind(ctk.CTkLabel(box, font=f.bold, anchor="e"), "app.signin.role").grid(
            row=3, column=0, sticky="e", padx=(30, 10), pady=8)
        self.role = ctk.CTkSegmentedButton(box, **SEGMENTS, font=f.bold, height=40)
        self.role.grid(row=3, column=1, sticky="w", padx=(0, 30), pady=8)

        t.bind(ctk.CTkLabel(box, font=f.bold, anchor="e"), "app.settings.language").grid(
            row=4, column=0, sticky="e", padx=(30, 10), pady=8)
        self.language = ctk.CTkSegmentedButton(box, **SEGMENTS, font=f.bold, height=40,
                                               values=["Tiếng Việt", "English"],
                                               command=self._language)
        self.language.grid(row=4, column=1, sticky="w", padx=(0, 30), pady=8)

        self.button = ctk.CTkButton(box, font=f.large, height=46, width=260,
                                    command=self.submit)
        t.bind(self.button, "app.signin.submit")
        self.button.grid(row=5, column=0, columnspan=2, pady=(18, 8))
        self.message = ctk.CTkLabel(box, text="", font=f.base, text_color="#b3261e",
                                    wraplength=560)
        self.message.grid(row=6, column=0, columnspan=2, padx=30, pady=(0, 20))
        t.on_change(self._relabel)
        self._relabel()
        self.role.set(self._role_label(Role.INVIGILATOR))

    def _role_label(self, role: Role) -> str:
        return self.t(f"app.role.{role.value}")

    def _relabel(self) -> None:
        chosen = self._chosen_role()
        self.role.configure(values=[self._role_label(r) for r in ROLES])
        self.role.set(self._role_label(chosen))
        self.language.set("Tiếng Việt" if self.t.lang == "vi" else "English")

    def _chosen_role(self) -> Role:
        current = self.role.get() if self.role.cget("values") else ""
        for lang in ("vi", "en"):
            for r in ROLES:
                if current == self.t.catalog.text(f"app.role.{r.value}", lang):
                    return r
        return Role.INVIGILATOR

    def _language(self, value: str) -> None:
        self.app.set_language("vi" if value == "Tiếng Việt" else "en")

    def shown(self) -> None:
        self.name_entry.focus_set()

    def choose_role(self, role: Role) -> None:
        self.role.set(self._role_label(role))

    def submit(self) -> None:
        name = " ".join(unicodedata.normalize("NFC", self.name_entry.get()).split())
        if not name:
            self.t.rebind(self.message, "app.signin.name_missing")
            return
        self.t.rebind(self.message, "app.plain", text="")
        self.app.sign_in(Operator(name, self._chosen_role()))

    def on_return(self, event: Any) -> bool:
        self.submit()
        return True

    def startup_failed(self, message: str) -> None:
        self.t.rebind(self.message, "app.plain", text=message)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
