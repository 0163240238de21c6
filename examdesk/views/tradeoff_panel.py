"""The face-threshold trade-off on the settings screen (centre admins): for each target false
match rate, what it would cost on the centre's own people — the share of genuine candidates
sent to the invigilator or refused, the share of impostor pairs admitted without a look, the
95 % upper bound of the false match rate, and the pairs each figure rests on.

Computed from the store on a worker when the admin asks (Ctrl+T or the button; Esc goes
back to the rules), never kept: the numbers are the centre's, as
``examdesk face calibrate --population`` prints them. Words and numbers only, Vietnamese first.
"""

from __future__ import annotations

from typing import Any

import customtkinter as ctk

from proctoring.face_population import CentreTradeOff

from .theme import MUTED, PANEL

COLUMNS = ("target", "threshold", "review", "refused", "admitted", "bound")


class TradeOffPanel(ctk.CTkFrame):
    def __init__(self, master: Any, texts: Any, fonts: Any) -> None:
        super().__init__(master, corner_radius=10, fg_color=PANEL)
        self.t, self.fonts = texts, fonts
        t, f = texts, fonts
        self.grid_columnconfigure(tuple(range(len(COLUMNS))), weight=1)
        t.bind(ctk.CTkLabel(self, font=f.large, anchor="w"), "app.settings.tradeoff_title").grid(
            row=0, column=0, columnspan=len(COLUMNS), sticky="w", padx=14, pady=(10, 0))
        self.summary = ctk.CTkLabel(self, text="", font=f.small, text_color=MUTED, anchor="w",
                                    justify="left", wraplength=1040)
        self.summary.grid(row=1, column=0, columnspan=len(COLUMNS), sticky="w", padx=14)
        self.headers = []
        for col, name in enumerate(COLUMNS):
            label = t.bind(ctk.CTkLabel(self, font=f.bold, anchor="center", justify="center",
                                        wraplength=170),
                           f"app.settings.tradeoff_col.{name}")
            label.grid(row=2, column=col, sticky="ew", padx=4, pady=(6, 2))
            self.headers.append(label)
        self.cells: list[list[Any]] = []
        self.result: CentreTradeOff | None = None
        self._error = ""
        t.on_change(self._render)

    # --- what it shows ------------------------------------------------------------------------

    def computing(self) -> None:
        self.result, self._error = None, ""
        self._clear()
        self.summary.configure(text=self.t("app.settings.tradeoff_computing"))

    def show(self, result: CentreTradeOff) -> None:
        self.result, self._error = result, ""
        self._render()

    def failed(self, text: str) -> None:
        self.result, self._error = None, text
        self._clear()
        self.summary.configure(text=text)

    def rows_text(self) -> list[list[str]]:
        """What the table says, row by row (for tests and screen readers alike)."""
        return [[str(c.cget("text")) for c in row] for row in self.cells]

    # --- drawing ------------------------------------------------------------------------------

    def _clear(self) -> None:
        for row in self.cells:
            for cell in row:
                cell.destroy()
        self.cells = []

    def _render(self) -> None:
        if self.result is None:
            if self._error:
                self.summary.configure(text=self._error)
            return
        r, t = self.result, self.t
        lines = [t("app.settings.tradeoff_summary", identities=r.identities,
                   impostor=_count(r.impostor_pairs, t.lang),
                   genuine=_count(r.genuine_pairs, t.lang))]
        if not r.genuine_pairs:
            lines.append(t("app.settings.tradeoff_no_genuine"))
        if r.left_out:
            lines.append(t("app.settings.tradeoff_left_out", count=r.left_out))
        lines.append(t("app.settings.tradeoff_hint"))
        self.summary.configure(text="\n".join(lines))
        self._clear()
        for i, row in enumerate(r.rows):
            if row.threshold is None:
                values = [_rate(row.target_fmr, t.lang),
                          t("app.settings.tradeoff_needs",
                            needed=_count(row.needed, t.lang) if row.needed else "—",
                            have=_count(row.impostor_pairs, t.lang))]
            else:
                bound = (f"{_pct(row.fmr_upper, t.lang)} · "
                         + t("app.settings.tradeoff_pairs",
                             errors=_count(row.false_matches or 0, t.lang),
                             pairs=_count(row.impostor_pairs, t.lang)))
                values = [_rate(row.target_fmr, t.lang), _num(row.threshold, t.lang),
                          _pct(row.genuine_review, t.lang), _pct(row.genuine_refused, t.lang),
                          _pct(row.impostor_admitted, t.lang), bound]
            cells = []
            for col, text in enumerate(values):
                span = len(COLUMNS) - 1 if row.threshold is None and col == 1 else 1
                cell = ctk.CTkLabel(self, text=text, font=self.fonts.small, anchor="center",
                                    justify="center")
                cell.grid(row=3 + i, column=col, columnspan=span, sticky="ew", padx=4,
                          pady=(0, 10) if i == len(r.rows) - 1 else 0)
                cells.append(cell)
            self.cells.append(cells)


def _sep(text: str, lang: str) -> str:
    return text.replace(".", ",") if lang == "vi" else text


def _num(value: float, lang: str) -> str:
    return _sep(f"{value:.4f}", lang)


def _pct(value: float | None, lang: str) -> str:
    if value is None:
        return "—"
    return _sep(f"{value * 100:.2f} %", lang)


def _rate(target: float, lang: str) -> str:
    """A target FMR in words an admin reads at once: 1 in 1 000 (0,1 %)."""
    one_in = round(1 / target)
    return f"1 / {_count(one_in, lang)} ({_sep(f'{target * 100:g} %', lang)})"


def _count(n: int, lang: str) -> str:
    text = f"{n:,}"
    return text.replace(",", ".") if lang == "vi" else text
