"""`examdesk data …`: the retention purge of biometric evidence."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Annotated

import typer

from examdesk.commands.common import JsonOption, LangOption
from examdesk.commands.errors import BadOption, handles_errors
from examdesk.commands.session import actor, stored
from examdesk.i18n import Catalog, default_language
from proctoring.evidence import purge_evidence

app = typer.Typer(help="Dữ liệu — retention of biometric data.", no_args_is_help=True)

class BadAge(BadOption):
    """``--older-than`` is not a duration (context: ``value``)."""

    key = "data.bad_age"


_UNITS = {"d": timedelta(days=1), "w": timedelta(weeks=1), "h": timedelta(hours=1)}


def parse_age(text: str) -> timedelta:
    """"90d", "12w", "48h"; a bare number is days."""
    match = re.fullmatch(r"\s*(\d{1,5})\s*([dwh]?)\s*", text.lower())
    if match is None:
        raise BadAge(text, value=text)
    return int(match[1]) * _UNITS[match[2] or "d"]


@app.command("purge")
@handles_errors()
def purge_cmd(
    older_than: Annotated[str | None, typer.Option(
        "--older-than", help="delete biometric evidence captured longer ago than this (90d); "
        "default: each item's own retention deadline")] = None,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Xoá dữ liệu sinh trắc hết hạn — delete chip portraits, frames and embeddings past
    retention (evidence of open incidents is kept); the audit log records it."""
    lang = lang or default_language()
    age = parse_age(older_than) if older_than is not None else None
    with stored() as store:
        result = purge_evidence(store, older_than=age, actor=actor())
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        print(Catalog.load().text("data.purged", lang, purged=result.purged, held=result.held))
