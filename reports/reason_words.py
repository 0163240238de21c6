"""A decision's reason in words, for the roster and for ``roster verify``.

Each reason key has its own short wording, ``roster.reason.<key>`` (``examdesk/i18n/pdf13.toml``):
a record of why, not the desk's instructions to the invigilator. Context values are shown in
words too: a challenge, a stage and an unusable portrait's problem by name, numbers with the
language's decimal mark. A key this version does not know is said to be unknown — never printed
as the code it is.
"""

from __future__ import annotations

from collections.abc import Mapping

from proctoring.models import Stage
from proctoring.reason_keys import FACE_KEYS, REASON_KEYS

from .layout import Words

CHALLENGES = frozenset({"blink", "turn_left", "turn_right"})
_NUMBERS = {"distance": 2, "likeness": 2}
# Context fields naming a test stage: the stage itself, the earlier one a face differs from,
# the session's first (an offline desk could not reach its face).
_STAGES = frozenset({"stage", "earlier_stage", "first"})


def reason_text(words: Words, key: str, context: Mapping[str, str], lang: str) -> str:
    """One reason, in the words' language."""
    if key not in REASON_KEYS:
        return words("roster.reason.unknown")
    return words(f"roster.reason.{key}", **_shown(words, context, lang))


def _shown(words: Words, context: Mapping[str, str], lang: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in context.items():
        if name in _NUMBERS:
            out[name] = _number(value, lang, _NUMBERS[name])
        elif name == "challenge":
            out[name] = (words(f"roster.challenge.{value}") if value in CHALLENGES
                         else words("roster.reason.unknown"))
        elif name in _STAGES:
            out[name] = (words(f"session.stage.{value}")
                         if value in {s.value for s in Stage} else value)
        elif name == "problem":
            out[name] = (words(f"roster.reason.{value}") if value in FACE_KEYS
                         else words("roster.reason.unknown"))
        else:
            out[name] = value
    return out


def _number(value: str, lang: str, digits: int) -> str:
    try:
        text = f"{float(value):.{digits}f}"
    except ValueError:
        return value
    return text.replace(".", ",") if lang == "vi" else text


def reasons_text(words: Words, reasons: object, lang: str) -> list[str]:
    """The reasons of a facts document (``[{"key", "context"}]``), each once, in order."""
    if not isinstance(reasons, list):
        return []
    lines = []
    for r in reasons:
        r = r if isinstance(r, dict) else {}
        key = r.get("key")
        context = r.get("context")
        lines.append(reason_text(words, key if isinstance(key, str) else "",
                                 {str(k): str(v) for k, v in context.items()}
                                 if isinstance(context, dict) else {}, lang))
    # Two findings can say the same thing (a clone fails two checks): each sentence once.
    return list(dict.fromkeys(lines))
