"""What every `examdesk` command shares: error output, options, how dates are shown."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from typing import Annotated, Any, NoReturn

import typer

from examdesk.i18n import Catalog
from reader.trust.passive import VIETNAM  # Asia/Ho_Chi_Minh: UTC+7 all year

JsonOption = Annotated[bool, typer.Option("--json", help="JSON output")]
LangOption = Annotated[str | None, typer.Option("--lang", help="vi or en (default: EXAMDESK_LANG)")]


def fail(key: str, as_json: bool, code: int, detail: str = "", **context: Any) -> NoReturn:
    """One line on stderr, Vietnamese then English; with --json also an error object on stdout."""
    catalog = Catalog.load()
    ctx = {"detail": detail, **context}
    if as_json:
        print(json.dumps({"error": {
            "key": key,
            "vi": catalog.text(key, "vi", **ctx),
            "en": catalog.text(key, "en", **ctx),
            "detail": detail,
            "context": {k: str(v) for k, v in context.items()},
        }}, ensure_ascii=False))
    print(catalog.both(key, **ctx), file=sys.stderr)
    raise typer.Exit(code)


def day(when: datetime | date | None) -> str:
    """dd/mm/yyyy on screen, in Vietnam time for instants."""
    if when is None:
        return "—"
    if isinstance(when, datetime):
        when = when.astimezone(VIETNAM)
    return when.strftime("%d/%m/%Y")


def today() -> date:
    return datetime.now(VIETNAM).date()
