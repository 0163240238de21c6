"""Loaded by every Python process a test starts as ``examdesk`` (tests/cli_language.py puts
this folder first on its PYTHONPATH): each text the catalogue gives is appended, with its key,
language, a plain-text ``detail`` and the names it was given (a desk's, a station's), to the
file the test named, so the test can scan the
Vietnamese texts the real command printed. Nothing happens without that variable."""

from __future__ import annotations

import os

_TRACE = os.environ.get("EXAMDESK_TEST_I18N_TRACE")

if _TRACE:
    import json

    from examdesk.i18n import Catalog, Words

    _text = Catalog.text
    # Values that are someone's name for a thing (the machine's host name is a desk's default
    # name): shown as given, whatever their language.
    _NAMES = frozenset({"desk", "station", "seat", "reader", "name"})

    def _traced(self: Catalog, key: str, lang: str = "vi", **context: object) -> str:
        out = _text(self, key, lang, **context)
        detail = context.get("detail")
        plain = str(detail) if detail is not None and not isinstance(detail, Words) else ""
        names = {k: v for k, v in context.items() if isinstance(v, str) and k in _NAMES}
        # One line per text, written at once: a process killed mid-way loses one line at most.
        with open(_TRACE, "a", encoding="utf-8") as f:
            f.write(json.dumps([key, lang, out, plain, names], ensure_ascii=False) + "\n")
        return out

    Catalog.text = _traced  # type: ignore[method-assign]
