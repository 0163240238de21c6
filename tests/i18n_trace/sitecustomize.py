"""Loaded by every Python process a test starts as ``examdesk`` (tests/cli_language.py puts
this folder first on its PYTHONPATH): each text the catalogue gives is appended, with its key,
language and a plain-text ``detail``, to the file the test named, so the test can scan the
Vietnamese texts the real command printed. Nothing happens without that variable."""

from __future__ import annotations

import os

_TRACE = os.environ.get("EXAMDESK_TEST_I18N_TRACE")

if _TRACE:
    import json

    from examdesk.i18n import Catalog, Words

    _text = Catalog.text

    def _traced(self: Catalog, key: str, lang: str = "vi", **context: object) -> str:
        out = _text(self, key, lang, **context)
        detail = context.get("detail")
        plain = str(detail) if detail is not None and not isinstance(detail, Words) else ""
        # One line per text, written at once: a process killed mid-way loses one line at most.
        with open(_TRACE, "a", encoding="utf-8") as f:
            f.write(json.dumps([key, lang, out, plain], ensure_ascii=False) + "\n")
        return out

    Catalog.text = _traced  # type: ignore[method-assign]
