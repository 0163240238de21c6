"""Vietnamese and English texts for message keys (errors, labels, progress).

Errors elsewhere carry only a key and context; this is the one place that knows words.
"""

from __future__ import annotations

import errno
import os
import re
import tomllib
from dataclasses import dataclass
from importlib import resources

LANGUAGES = ("vi", "en")


# ``{count|candidate|candidates}``: the word for one, or for any other number (English counts;
# Vietnamese has no plural and never needs it).
_PLURAL = re.compile(r"\{(\w+)\|([^|{}]*)\|([^|{}]*)\}")


def _plurals(template: str, values: dict[str, object]) -> str:
    def word(match: re.Match[str]) -> str:
        count = values.get(match[1])
        return match[2] if isinstance(count, int | float) and count == 1 else match[3]

    return _PLURAL.sub(word, template)


class Words(str):
    """A context value that is itself a message key: the text shows it worded in the same
    language (a cause inside a sentence). As a string it is the key, for JSON and logs."""


# errno → the words for it (os.*), so a system error is said in the sentence's language.
_SYSTEM_ERRORS = {
    errno.ENOENT: "no_such_file", errno.EACCES: "permission", errno.EPERM: "permission",
    errno.EISDIR: "is_a_folder", errno.ENOTDIR: "not_a_folder", errno.ENOSPC: "disk_full",
    errno.EROFS: "read_only", errno.EEXIST: "exists",
}


def system_error(exc: OSError) -> str:
    """The ``detail`` for an OSError: words in both languages for the usual causes (a
    :class:`Words`), the system's own text otherwise."""
    reason = _SYSTEM_ERRORS.get(exc.errno or 0)
    return Words(f"os.{reason}") if reason else (exc.strerror or str(exc))


class _Blank(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "?"


@dataclass(frozen=True)
class Catalog:
    messages: dict[str, dict[str, str]]

    @classmethod
    def load(cls) -> Catalog:
        """Every ``*.toml`` of this package, one per area (card, trust, face, …)."""
        messages: dict[str, dict[str, str]] = {}
        for item in sorted(resources.files(__package__).iterdir(), key=lambda i: i.name):
            if item.name.endswith(".toml"):
                messages.update(tomllib.loads(item.read_text("utf-8")))
        return cls(messages)

    def text(self, key: str, lang: str = "vi", **context: object) -> str:
        entry = self.messages.get(key)
        if entry is None:
            # Fall back to the family ("card.x" → "card.error"), never to a raw key.
            family = key.split(".", 1)[0] + ".error"
            entry = self.messages.get(family, {"vi": key, "en": key})
        template = entry.get(lang) or entry["en"]
        values = {k: v for k, v in context.items() if v is not None}
        inner = {k: v for k, v in values.items() if not isinstance(v, Words)}
        for name, value in list(values.items()):
            if isinstance(value, Words):
                values[name] = self.text(value, lang, **inner)
        # An error names the field it is about by its code (``field="date_of_birth"``); the
        # texts show it in words, in the same language, as ``{field_name}``. A test stage
        # (``stage="yard"``) likewise as ``{stage_name}`` ("sa hình"), and a ``problem`` named
        # by its error's key (``face.no_face``, kept as text in stored reasons) as
        # ``{problem_name}``: the words of ``problem.face.no_face``.
        for name, family in (("field", "field"), ("what", "thing"), ("stage", "session.stage"),
                             ("earlier_stage", "session.stage"), ("problem", "problem")):
            code = values.get(name)
            if isinstance(code, str) and f"{name}_name" not in values:
                words = self.messages.get(f"{family}.{code}")
                if words is None and family == "problem":  # a kind not worded: its family's
                    words = self.messages.get(f"problem.{code.split('.', 1)[0]}.error")
                values[f"{name}_name"] = (words.get(lang) or words["en"]) if words else code
        # A detail that lists fields by code (``dg1_dg13.id_number, dg1_dg13.sex``: where the
        # chip's two copies of the holder's data disagree), named in words as
        # ``{detail_fields}``: stored reasons keep the codes, the texts show words.
        detail = values.get("detail")
        if "{detail_fields}" in template and isinstance(detail, str):
            values["detail_fields"] = ", ".join(
                self._words("field." + code.strip().rsplit(".", 1)[-1], lang, code.strip())
                for code in detail.split(",") if code.strip())
        text = _plurals(template, values).format_map(_Blank(values))
        # ``about``: what the message is about (which of two photos), said before it.
        about = context.get("about")
        return f"{values['about']}: {text}" if isinstance(about, Words) else text

    def _words(self, key: str, lang: str, fallback: str) -> str:
        words = self.messages.get(key)
        return (words.get(lang) or words["en"]) if words else fallback

    def both(self, key: str, **context: object) -> str:
        """One line with the Vietnamese text first, for terminals and logs read by people."""
        return f"{self.text(key, 'vi', **context)} / {self.text(key, 'en', **context)}"


def default_language() -> str:
    lang = os.environ.get("EXAMDESK_LANG", "vi").lower()[:2]
    return lang if lang in LANGUAGES else "vi"
