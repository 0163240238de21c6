"""What every `examdesk` command shares: error output, options, how dates are shown."""

from __future__ import annotations

import json
import math
import sys
from datetime import date, datetime
from typing import Annotated, Any, NoReturn

import typer

from examdesk.i18n import LANGUAGES, Catalog
from examdesk.timezone import VIETNAM  # Asia/Ho_Chi_Minh: UTC+7 all year

JsonOption = Annotated[bool, typer.Option("--json", help="JSON output")]


def _language(value: str | None) -> str | None:
    """``--lang``: vi or en, any case; None (not given) means EXAMDESK_LANG, else vi — the one
    rule every command follows (``lang or default_language()`` when it runs)."""
    if value is None:
        return None
    lang = value.strip().lower()
    if lang not in LANGUAGES:
        raise typer.BadParameter(f"{value!r} is not vi or en")
    return lang


LangOption = Annotated[str | None, typer.Option(
    "--lang", callback=_language, help="vi or en (default: EXAMDESK_LANG, else vi)")]


def fail(key: str, as_json: bool, code: int, detail: str = "", /, **context: Any) -> NoReturn:
    """One line on stderr, Vietnamese then English; with --json also an error object on stdout.

    Positional-only: an error's context may itself name a ``code`` (a session code) or a
    ``key``, which must not collide with these parameters."""
    catalog = Catalog.load()
    ctx = {"detail": detail, **context}
    if as_json:
        print(json.dumps({"error": {
            "key": key,
            "vi": catalog.text(key, "vi", **ctx),
            "en": catalog.text(key, "en", **ctx),
            "detail": detail,
            "context": {k: jsonable(v) for k, v in context.items()},
        }}, ensure_ascii=False))
    print(catalog.both(key, **ctx), file=sys.stderr)
    raise typer.Exit(code)


def choices(*values: str) -> str:
    """The values an option takes, each quoted as typed: they are the same in both languages."""
    return ", ".join(f"'{v}'" for v in values)


def jsonable(value: object) -> object:
    """A context value as JSON shows it: numbers stay numbers (rounded), the rest as text."""
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    if isinstance(value, int | str | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


def day(when: datetime | date | None) -> str:
    """dd/mm/yyyy on screen, in Vietnam time for instants."""
    if when is None:
        return "—"
    if isinstance(when, datetime):
        when = when.astimezone(VIETNAM)
    return when.strftime("%d/%m/%Y")


def today() -> date:
    return datetime.now(VIETNAM).date()
