"""The one base of the errors every examdesk package raises on purpose.

An error carries a message *key* (``card.wrong_key``), a technical ``detail`` for logs and
``context`` values the texts may show; the words, Vietnamese and English, live only in the i18n
catalogue. A leaf of the foundation: it imports nothing of the project but the catalogue lookup,
so ``reader``, ``biometrics``, ``proctoring`` and ``reports`` derive their bases from it without
loading the app.
"""

from __future__ import annotations

from examdesk.i18n import Catalog


class KeyedError(Exception):
    """Base of ``ReaderError``, ``BiometricsError``, ``ProctoringError`` and ``ReportsError``.

    Subclasses set ``key``; the family's base sets the fallback (``card.error``, …) that the
    catalogue also falls back to for a key it lacks.
    """

    key = "error"
    # A kind with several distinct causes words each as its own key, ``<reasons>.<reason>``
    # (``card.input.can``), so the texts say what is wrong instead of showing the English
    # ``detail``; without a reason the error keeps its ``key``.
    reasons = ""

    def __init__(self, detail: str = "", **context: object) -> None:
        reason = context.pop("reason", "") if self.reasons else ""
        super().__init__(detail or self.key)
        self.detail = detail
        self.context = context
        self.reason = str(reason or "")
        if self.reason:
            self.key = f"{self.reasons}.{self.reason}"

    def text(self, catalog: Catalog, lang: str = "vi") -> str:
        """The message in one language, with the context filled in."""
        return catalog.text(self.key, lang, **self.context)

    def both(self, catalog: Catalog) -> str:
        """Vietnamese first, then English: for terminals and logs read by people."""
        return catalog.both(self.key, **self.context)
