"""Words on screen: every label is a catalogue key, re-rendered when the language changes.

Widgets register the key they show (``texts.bind(label, "app.nav.checkin")``); switching the
language reconfigures those widgets in place instead of rebuilding the screens, so it is
instant and keeps what the invigilator typed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from examdesk.i18n import LANGUAGES, Catalog


@dataclass(frozen=True)
class Key:
    """A context value that is itself a catalogue key: rendered in the current language, so
    a status line keeps being right after a switch."""

    key: str


@dataclass
class _Bound:
    widget: Any
    key: str
    option: str
    context: dict[str, object]


@dataclass
class Texts:
    catalog: Catalog
    lang: str = "vi"
    _bound: list[_Bound] = field(default_factory=list)
    _listeners: list[Callable[[], None]] = field(default_factory=list)

    def __call__(self, key: str, /, **context: object) -> str:
        resolved = {k: self(v.key) if isinstance(v, Key) else v for k, v in context.items()}
        return self.catalog.text(key, self.lang, **resolved)

    @staticmethod
    def lazy(key: str) -> Key:
        return Key(key)

    def bind(self, widget: Any, key: str, /, **context: object) -> Any:
        """Show ``key`` as ``widget``'s text now and after every language switch."""
        return self.bind_option(widget, "text", key, **context)

    def bind_option(self, widget: Any, option: str, key: str, /, **context: object) -> Any:
        """Like :meth:`bind` for another option (an entry's placeholder text)."""
        self._bound.append(_Bound(widget, key, option, context))
        widget.configure(**{option: self(key, **context)})
        return widget

    def rebind(self, widget: Any, key: str, /, **context: object) -> None:
        """Change which key a bound widget shows (a status line, a message)."""
        for b in self._bound:
            if b.widget is widget and b.option == "text":
                b.key, b.context = key, context
                break
        else:
            self._bound.append(_Bound(widget, key, "text", context))
        widget.configure(text=self(key, **context))

    def on_change(self, listener: Callable[[], None]) -> None:
        """For text that is not one key (lists, reasons): redrawn after a switch."""
        self._listeners.append(listener)

    def set_lang(self, lang: str) -> None:
        if lang not in LANGUAGES or lang == self.lang:
            return
        self.lang = lang
        alive = []
        for b in self._bound:
            try:
                b.widget.configure(**{b.option: self(b.key, **b.context)})
            except Exception:  # a widget destroyed since: forget it (TclError)
                continue
            alive.append(b)
        self._bound = alive
        for listener in self._listeners:
            listener()
