"""The shape of a roster's embedded facts, checked before ``roster verify`` relies on it.

The facts come from the file being verified, so from anyone: an unsigned PDF whose facts hash
correctly but lack ``totals`` made the comparison fail with a ``KeyError``. Everything the
verification reads (see :mod:`reports.facts` for the format) is checked here once; parts it
does not read are left alone, so a newer examdesk may add parts without older ones refusing
its rosters.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from proctoring.models import Stage

from .errors import FactsIncomplete, InvalidRosterFacts


def parse_facts(canonical: bytes) -> dict[str, Any]:
    """The facts as a dict, or :class:`~.errors.InvalidRosterFacts` (not JSON) /
    :class:`~.errors.FactsIncomplete` (a part missing or of the wrong type)."""
    try:
        document = json.loads(canonical)
    except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[…" nested deeply
        raise InvalidRosterFacts(f"embedded facts are not JSON: {type(exc).__name__}") from None
    top = _dict(document, "")
    centre = _dict(top.get("centre"), "centre")
    _text(centre.get("code"), "centre.code")
    session = _dict(top.get("session"), "session")
    _text(session.get("code"), "session.code")
    try:
        uuid.UUID(_text(session.get("id"), "session.id"))
    except ValueError:
        raise FactsIncomplete("session.id is not a UUID", field="session.id") from None
    for i, section in enumerate(_list(top.get("sections"), "sections")):
        where = f"sections[{i}]"
        section = _dict(section, where)
        stage = section.get("stage", ...)
        if stage is not None:
            try:
                Stage(_text(stage, f"{where}.stage"))
            except ValueError:
                raise FactsIncomplete(f"{where}.stage {stage!r}", field=f"{where}.stage") from None
        _dict(section.get("totals"), f"{where}.totals")
        _list(section.get("invigilators"), f"{where}.invigilators")
        for j, row in enumerate(_list(section.get("rows"), f"{where}.rows")):
            _row(_dict(row, f"{where}.rows[{j}]"), f"{where}.rows[{j}]")
    return top


def _row(row: dict[str, Any], where: str) -> None:
    position = row.get("position")
    if not isinstance(position, int) or isinstance(position, bool):
        raise FactsIncomplete(f"{where}.position", field=f"{where}.position")
    checkin = row.get("checkin")
    if checkin is None:
        return
    checkin = _dict(checkin, f"{where}.checkin")
    for which in ("portrait", "frame"):
        ref = checkin.get(which)
        if ref is None:
            continue
        ref = _dict(ref, f"{where}.checkin.{which}")
        _text(ref.get("id"), f"{where}.checkin.{which}.id")
        digest = ref.get("sha256")
        if digest is not None:
            _text(digest, f"{where}.checkin.{which}.sha256")


def _dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FactsIncomplete(f"{where or 'the facts'}: not an object", field=where or "/")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise FactsIncomplete(f"{where}: not a list", field=where)
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise FactsIncomplete(f"{where}: not text", field=where)
    return value
