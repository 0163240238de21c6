"""The shape of a roster's embedded facts, checked before ``roster verify`` relies on it.

The facts come from the file being verified, so from anyone: an unsigned PDF whose facts hash
correctly but lack ``totals`` made the comparison fail with a ``KeyError``. Everything the
verification reads (see :mod:`reports.facts` for the format) is checked here once; parts it
does not read are left alone, so a newer examdesk may add parts without older ones refusing
its rosters.

The format must be one this version knows (:data:`reports.facts.FORMATS`): the database's facts
are recomputed in it. In format 2 every check-in and attempt states its reasons: a list of at
most :data:`~reports.facts.MAX_REASONS`, each a key of bounded length with a context of the
names the words show (text values, bounded). A key that is well formed but unknown to this
version (a newer examdesk's reason, or a made-up one) is not an error here:
:func:`unknown_reasons` lists where, and ``roster verify`` says so in words.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from proctoring.models import Stage
from proctoring.reason_keys import CONTEXT_FIELDS, REASON_KEYS

from .errors import FactsFormatUnknown, FactsIncomplete, FactsOverLimit, InvalidRosterFacts
from .facts import FORMAT_1, FORMATS, MAX_CONTEXT_TEXT, MAX_REASON_KEY, MAX_REASONS


def parse_facts(canonical: bytes) -> dict[str, Any]:
    """The facts as a dict, or :class:`~.errors.InvalidRosterFacts` (not JSON) /
    :class:`~.errors.FactsIncomplete` (a part missing or of the wrong type)."""
    try:
        document = json.loads(canonical)
    except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[…" nested deeply
        raise InvalidRosterFacts(f"embedded facts are not JSON: {type(exc).__name__}") from None
    top = _dict(document, "")
    fmt = top.get("format")
    if fmt not in FORMATS:
        raise FactsFormatUnknown(f"format {str(fmt)[:60]!r}")
    with_reasons = fmt != FORMAT_1
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
            _row(_dict(row, f"{where}.rows[{j}]"), f"{where}.rows[{j}]", with_reasons)
    return top


def unknown_reasons(document: dict[str, Any]) -> list[tuple[str | None, int, int]]:
    """Where a checked document states reasons this version does not know: (stage, row
    position, how many), in roster order."""
    out: list[tuple[str | None, int, int]] = []
    if document.get("format") == FORMAT_1:
        return out  # no reasons stated (and its history unchecked)
    for section in document["sections"]:
        for row in section["rows"]:
            found = [r for r in _stated_reasons(row) if r["key"] not in REASON_KEYS]
            if found:
                out.append((section.get("stage"), row["position"], len(found)))
    return out


def _stated_reasons(row: dict[str, Any]) -> list[dict[str, Any]]:
    checkin = row.get("checkin") or {}
    attempts = row.get("history") or []
    return [*checkin.get("reasons", ()), *(r for a in attempts for r in a.get("reasons", ()))]


def _row(row: dict[str, Any], where: str, with_reasons: bool) -> None:
    position = row.get("position")
    if not isinstance(position, int) or isinstance(position, bool):
        raise FactsIncomplete(f"{where}.position", field=f"{where}.position")
    if with_reasons and "history" in row:
        history = _list(row["history"], f"{where}.history")
        if len(history) > MAX_REASONS:
            raise FactsOverLimit(f"{where}.history", field=f"{where}.history", limit=MAX_REASONS)
        for k, attempt in enumerate(history):
            at = f"{where}.history[{k}]"
            _reasons(_dict(attempt, at).get("reasons"), f"{at}.reasons")
    checkin = row.get("checkin")
    if checkin is None:
        return
    checkin = _dict(checkin, f"{where}.checkin")
    if with_reasons:
        _reasons(checkin.get("reasons"), f"{where}.checkin.reasons")
    for which in ("portrait", "frame"):
        ref = checkin.get(which)
        if ref is None:
            continue
        ref = _dict(ref, f"{where}.checkin.{which}")
        _text(ref.get("id"), f"{where}.checkin.{which}.id")
        digest = ref.get("sha256")
        if digest is not None:
            _text(digest, f"{where}.checkin.{which}.sha256")


def _reasons(value: Any, where: str) -> None:
    """A list of reasons, each ``{"key": text, "context": {name: text}}``, within the caps."""
    reasons = _list(value, where)
    if len(reasons) > MAX_REASONS:
        raise FactsOverLimit(where, field=where, limit=MAX_REASONS)
    for i, reason in enumerate(reasons):
        at = f"{where}[{i}]"
        reason = _dict(reason, at)
        if len(_text(reason.get("key"), f"{at}.key")) > MAX_REASON_KEY:
            raise FactsOverLimit(f"{at}.key", field=f"{at}.key", limit=MAX_REASON_KEY)
        context = _dict(reason.get("context"), f"{at}.context")
        # Names no reason shows are ignored (a newer examdesk may show more), but bounded.
        if len(context) > 2 * len(CONTEXT_FIELDS):
            raise FactsOverLimit(f"{at}.context", field=f"{at}.context",
                                 limit=2 * len(CONTEXT_FIELDS))
        for name, text in context.items():
            if len(name) > MAX_REASON_KEY:
                raise FactsOverLimit(f"{at}.context", field=f"{at}.context",
                                     limit=MAX_REASON_KEY)
            if len(_text(text, f"{at}.context.{name[:40]}")) > MAX_CONTEXT_TEXT:
                raise FactsOverLimit(f"{at}.context.{name}", field=f"{at}.context.{name}",
                                     limit=MAX_CONTEXT_TEXT)


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
