"""Colours and fonts: large, readable across a desk, and never colour alone for a verdict.

Every decision has a colour, a symbol and words; the symbol and the words carry the meaning for
an invigilator who cannot tell red from green, and on a black-and-white screenshot.
"""

from __future__ import annotations

import tkinter
import tkinter.font
from dataclasses import dataclass
from typing import Any

import customtkinter as ctk

# Vietnamese needs precomposed letters with two diacritics ("ễ", "ậ"): fonts that have them.
FONT_FAMILIES = ("Noto Sans", "DejaVu Sans", "Liberation Sans", "Segoe UI", "Arial")


@dataclass(frozen=True)
class Look:
    background: str
    foreground: str
    symbol: str


DECISION_LOOK = {
    "ADMIT": Look("#1e7b34", "#ffffff", "✔"),
    "REJECT": Look("#b3261e", "#ffffff", "✖"),
    "REVIEW": Look("#f4b400", "#1a1a1a", "⚠"),
}
IDLE_LOOK = Look("#e4e7eb", "#1f2933", "▣")
WORKING_LOOK = Look("#1f5fa8", "#ffffff", "…")
ERROR_LOOK = Look("#5f370e", "#ffffff", "!")
TRUST_LOOK = {
    "TRUSTED": Look("#1e7b34", "#ffffff", "✔"),
    "SUSPICIOUS": Look("#f4b400", "#1a1a1a", "⚠"),
    "FORGED": Look("#b3261e", "#ffffff", "✖"),
}
STATUS_COLOURS = {  # roster rows: text colour only, the status is also written
    "ADMIT": "#1e7b34", "REJECT": "#b3261e", "REVIEW": "#8a6100", "ABSENT": "#52606d",
}
PANEL = "#f5f7fa"
DISABLED = "#c3cad3"
# Segmented buttons: the unselected choices on a dark grey, so their white text stays legible.
SEGMENTS = {"unselected_color": "#6b7785", "unselected_hover_color": "#56616e"}
ACCENT = "#1f5fa8"
MUTED = "#52606d"
PROMPT = Look("#fff4ce", "#1a1a1a", "➜")


@dataclass(frozen=True)
class Fonts:
    family: str
    small: Any
    base: Any
    bold: Any
    large: Any
    title: Any
    prompt: Any
    banner: Any

    @property
    def tk_base(self) -> tuple[str, int]:
        """For plain Tk widgets (the tables)."""
        return (self.family, 13)

    @property
    def tk_bold(self) -> tuple[str, int, str]:
        return (self.family, 13, "bold")


def pick_family(root: tkinter.Misc) -> str:
    available = set(tkinter.font.families(root))
    return next((f for f in FONT_FAMILIES if f in available), "TkDefaultFont")


def make_fonts(root: tkinter.Misc) -> Fonts:
    family = pick_family(root)

    def font(size: int, weight: str = "normal") -> Any:
        return ctk.CTkFont(family=family, size=size, weight=weight)

    return Fonts(family, font(13), font(15), font(15, "bold"), font(18, "bold"),
                 font(22, "bold"), font(24, "bold"), font(38, "bold"))
