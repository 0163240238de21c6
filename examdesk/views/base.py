"""What every screen has: the app it belongs to, its texts and fonts, and the hooks the window
calls (shown/hidden, keys, the services coming up, the operator or session changing)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import customtkinter as ctk

if TYPE_CHECKING:
    from examdesk.app import ExamDeskApp

    from .context import Services


class View(ctk.CTkFrame):
    name = ""
    needs_session = True  # screens about one session send the invigilator to pick one first

    def __init__(self, master: Any, app: ExamDeskApp) -> None:
        super().__init__(master, fg_color="transparent")
        self.app = app
        self.t = app.texts
        self.fonts = app.fonts

    @property
    def services(self) -> Services | None:
        return self.app.services

    # --- hooks (the window calls them on the Tk thread) ----------------------------------------

    def shown(self) -> None: ...

    def hidden(self) -> None: ...

    def services_ready(self) -> None: ...

    def operator_changed(self) -> None: ...

    def session_changed(self) -> None: ...

    def startup_failed(self, message: str) -> None: ...

    def data_changed(self) -> None:
        """Check-ins or incidents changed: reload when shown, else on the next show."""

    def on_return(self, event: Any) -> bool:
        return False

    def on_escape(self, event: Any) -> bool:
        return False

    def on_override(self, event: Any) -> bool:
        return False

    def on_save(self, event: Any) -> bool:
        return False

    def on_consent(self, event: Any) -> bool:
        return False

    def focus_search(self) -> None: ...

    # --- helpers ------------------------------------------------------------------------------

    def title(self, key: str, **context: object) -> Any:
        label = ctk.CTkLabel(self, font=self.fonts.title, anchor="w")
        return self.t.bind(label, key, **context)
