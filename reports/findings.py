"""A card's chip-check findings in words: which checks failed, what that means, which passed.

The check-in stores the findings' names ("passive.invalid", "active.passed", …); a report
prints none of them. Each name's meaning is the trust policy's message key (reader/trust/
policy.py FINDINGS); whether it failed is its default verdict (anything but TRUSTED). A name
the table does not know (a newer reader's, or an incident's own detail such as
"passive.dg2_hash_mismatch") is read by its family: a check of that family that did not pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from reader.trust.policy import FINDINGS, Verdict

Words = Callable[..., str]

# An unknown name of a family, read as that family's failure.
FAMILY_FAILURE = {
    "passive": "verdict.passive_invalid",
    "active": "verdict.cloned",
    "chip": "verdict.cloned",
    "lds": "verdict.signed_group_unreadable",
    "card": "verdict.expired",
    "data": "verdict.inconsistent",
}
PASSED_SUFFIXES = (".passed", ".valid")


@dataclass(frozen=True)
class CheckWords:
    failed: tuple[str, ...]  # message keys, each once, in the order found
    passed: tuple[str, ...]


def sort_findings(names: Iterable[str]) -> CheckWords:
    failed: dict[str, None] = {}
    passed: dict[str, None] = {}
    for name in names:
        known = FINDINGS.get(name)
        if known is not None:
            verdict, key = known
            (passed if verdict is Verdict.TRUSTED else failed)[key] = None
        elif name.endswith(PASSED_SUFFIXES):
            continue  # a pass the table does not know: nothing to explain
        else:
            failed[FAMILY_FAILURE.get(name.split(".", 1)[0], "fraud.check.unknown")] = None
    return CheckWords(tuple(failed), tuple(passed))


def findings_sentence(names: Iterable[str], words: Words) -> str:
    """"Không đạt: <what each failed check means>. Đã đạt: <…>." — or the no-detail text."""
    sorted_ = sort_findings(names)
    if not sorted_.failed and not sorted_.passed:
        return words("fraud.check.none")
    parts = []
    if sorted_.failed:
        parts.append(words("fraud.check.failed", checks=" ".join(words(k) for k in sorted_.failed)))
    if sorted_.passed:
        parts.append(words("fraud.check.passed", checks=" ".join(words(k) for k in sorted_.passed)))
    return " ".join(parts)
