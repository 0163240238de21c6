"""The centre's check-in rules on the settings screen (centre admins only): one widget per rule
of :class:`proctoring.policy.CheckInRules`, in words — a switch for on/off, REVIEW or REJECT
in the screen's language for a decision, a number for a frame count or a width.

The panel only shows and collects values; :meth:`CheckInRules.from_dict` checks them, the
same check the settings file gets at start, so a value the screen accepts is one the desk and
the CLI will start with.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import customtkinter as ctk

from proctoring.models import Decision
from proctoring.policy import CheckInRules, RuleInvalid

from .theme import MUTED, PANEL, SEGMENTS

CHOICES = (Decision.REVIEW, Decision.REJECT)
COLUMNS = 3


class RulesPanel(ctk.CTkFrame):
    def __init__(self, master: Any, texts: Any, fonts: Any) -> None:
        super().__init__(master, corner_radius=10, fg_color=PANEL)
        self.t, self.fonts = texts, fonts
        t, f = texts, fonts
        # The labels take the spare width; the widgets keep their own (no clipped words).
        self.grid_columnconfigure(tuple(range(0, 2 * COLUMNS, 2)), weight=1)
        t.bind(ctk.CTkLabel(self, font=f.large, anchor="w"), "app.settings.rules").grid(
            row=0, column=0, columnspan=2 * COLUMNS, sticky="w", padx=14, pady=(10, 0))
        t.bind(ctk.CTkLabel(self, font=f.small, text_color=MUTED, anchor="w", justify="left",
                            wraplength=1000), "app.settings.rules_hint").grid(
            row=1, column=0, columnspan=2 * COLUMNS, sticky="w", padx=14)
        self.widgets: dict[str, Any] = {}
        for i, field in enumerate(dataclasses.fields(CheckInRules)):
            row, col = 2 + i // COLUMNS, 2 * (i % COLUMNS)
            t.bind(ctk.CTkLabel(self, font=f.small, anchor="e"),
                   f"app.settings.rule.{field.name}").grid(
                row=row, column=col, sticky="e", padx=(6, 6), pady=4)
            kind = field.metadata["kind"]
            if kind == "flag":
                widget: Any = ctk.CTkSwitch(self, text="", width=46)
            elif kind == "decision":
                widget = ctk.CTkSegmentedButton(self, **SEGMENTS, font=f.small,
                                                values=self._words())
            else:
                widget = ctk.CTkEntry(self, font=f.small, width=70, height=28)
            widget.grid(row=row, column=col + 1, sticky="w", pady=4)
            self.widgets[field.name] = widget
        self._shown = CheckInRules()
        self._shown_words = self._words()
        t.on_change(lambda: self.show(self.values_or_shown()))

    def _words(self) -> list[str]:
        return [self.t(f"app.settings.rule_choice.{d.value}") for d in CHOICES]

    def show(self, rules: CheckInRules) -> None:
        self._shown = rules
        words = self._shown_words = self._words()
        for name, widget in self.widgets.items():
            value = getattr(rules, name)
            if isinstance(value, bool):
                (widget.select if value else widget.deselect)()
            elif isinstance(value, Decision):
                widget.configure(values=words)
                widget.set(words[CHOICES.index(value)])
            else:
                state = widget.cget("state")
                widget.configure(state="normal")
                widget.delete(0, "end")
                widget.insert(0, str(value))
                widget.configure(state=state)

    def values(self) -> dict[str, Any]:
        """What the admin set, in the settings file's form (unchecked: numbers may be text)."""
        words = self._shown_words  # the words on the buttons, in the language they were drawn
        out: dict[str, Any] = {}
        for name, widget in self.widgets.items():
            current = getattr(self._shown, name)
            if isinstance(current, bool):
                out[name] = bool(widget.get())
            elif isinstance(current, Decision):
                chosen = widget.get()
                out[name] = (CHOICES[words.index(chosen)] if chosen in words else current).value
            else:
                text = widget.get().strip()
                out[name] = int(text) if text.isdigit() else text
        return out

    def values_or_shown(self) -> CheckInRules:
        """The values on screen if they are valid (kept across a language switch), else the
        rules shown last."""
        try:
            return CheckInRules.from_dict(self.values())
        except RuleInvalid:  # a half-typed number: redraw what was shown
            return self._shown

    def set_editable(self, editable: bool) -> None:
        for widget in self.widgets.values():
            widget.configure(state="normal" if editable else "disabled")
