"""The centre's check-in rules, from the settings file: what each finding decides.

One place for the policy the check-in (:mod:`proctoring.checkin`) applies: whether liveness
runs and on how many frames, what each trust verdict (TRUSTED / SUSPICIOUS / FORGED), an
expired card, a failed liveness challenge and each face outcome (the face engine's MATCH /
REVIEW / NO_MATCH) decide. The
defaults follow the exam regulations' spirit: nothing doubtful is admitted by the machine
alone, and a centre may only choose between REVIEW and REJECT for a doubtful finding (never
ADMIT).

A centre changes a rule in the ``checkin`` section of its settings file, e.g.
``{"checkin": {"suspicious_card": "REJECT", "require_liveness": true}}``. Every value is
checked when the rules are built: a wrong type, a value out of range or an unknown rule name
(a typo would otherwise leave the stricter rule the centre meant silently unset) raises
:class:`RuleInvalid`, whose bilingual message names the rule and the allowed values; the desk
and the CLI load the rules at start, so a bad file stops them there, not mid-check-in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from biometrics.decision import FaceOutcome
from reader.trust.policy import Verdict

from .errors import ProctoringError
from .models import Decision

SECTION = "checkin"
"""The settings file's section holding the rules."""

_DOUBTFUL = (Decision.REVIEW, Decision.REJECT)


class RuleInvalid(ProctoringError):
    """A check-in rule in the settings file has a value it cannot have. ``context``: ``rule``
    (the setting's name), ``value`` (what the file holds) and ``allowed`` (in words)."""

    key = "policy.rule_invalid"


def _flag() -> dict[str, Any]:
    return {"kind": "flag"}


def _count(low: int, high: int) -> dict[str, Any]:
    return {"kind": "count", "low": low, "high": high}


def _choice(*allowed: Decision) -> dict[str, Any]:
    return {"kind": "decision", "allowed": allowed}


@dataclass(frozen=True)
class CheckInRules:
    """The centre's rules; every field is one setting of the ``checkin`` section."""

    require_liveness: bool = field(default=True, metadata=_flag())
    """Run the liveness challenge (blink / turn) before the face comparison."""
    liveness_frames: int = field(default=45, metadata=_count(10, 600))
    """Camera frames each challenge may take (at ~15 fps, 45 is three seconds)."""
    liveness_challenges: int = field(default=2, metadata=_count(1, 3))
    """Challenges asked one after the other, each a different one, in a random order (blink
    then turn left, turn right then blink, …): a recording made for one order fails."""
    liveness_attempts: int = field(default=2, metadata=_count(1, 5))
    """Tries of the challenges before the check-in goes to the liveness_failed decision."""
    liveness_failed: Decision = field(default=Decision.REVIEW, metadata=_choice(*_DOUBTFUL))
    """The liveness challenge was not done (a photo held up, or no blink in time)."""
    reject_expired_card: bool = field(default=True, metadata=_flag())
    """An expired card: REJECT (true) or REVIEW by the invigilator (false)."""
    suspicious_card: Decision = field(default=Decision.REVIEW, metadata=_choice(*_DOUBTFUL))
    """A card the trust check finds SUSPICIOUS (e.g. no CSCA to check its signer)."""
    capture_frames: int = field(default=90, metadata=_count(1, 600))
    """Frames tried for the face comparison before giving the reason."""
    face_review: Decision = field(default=Decision.REVIEW, metadata=_choice(*_DOUBTFUL))
    """The live face is inside the review band of the chip portrait."""
    face_no_match: Decision = field(default=Decision.REJECT, metadata=_choice(*_DOUBTFUL))
    """The live face is not the chip portrait's (a possible proxy)."""
    evidence_width: int = field(default=640, metadata=_count(160, 1920))
    """Live frames are stored at most this wide (JPEG), in pixels."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check(f, getattr(self, f.name))

    def face_decision(self, outcome: FaceOutcome) -> Decision:
        """What a face outcome decides: MATCH admits, the others follow the centre's rule."""
        if outcome is FaceOutcome.MATCH:
            return Decision.ADMIT
        return self.face_review if outcome is FaceOutcome.REVIEW else self.face_no_match

    def card_decision(self, level: Verdict) -> Decision:
        """What the card's trust verdict decides: a forged card is rejected whatever the rules
        say; a suspicious one follows the centre's rule."""
        if level is Verdict.FORGED:
            return Decision.REJECT
        return self.suspicious_card if level is Verdict.SUSPICIOUS else Decision.ADMIT

    def expired_card_decision(self) -> Decision:
        return Decision.REJECT if self.reject_expired_card else Decision.REVIEW

    def to_dict(self) -> dict[str, Any]:
        """The settings-file form (decisions as their stored words)."""
        return {f.name: (v.value if isinstance(v := getattr(self, f.name), Decision) else v)
                for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> CheckInRules:
        """The rules from the settings file's ``checkin`` section (missing rules keep their
        defaults); raises :class:`RuleInvalid` for an unknown rule or a bad value."""
        if not data:
            return cls()
        known = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for name, raw in data.items():
            if name not in known:
                raise RuleInvalid(f"unknown check-in rule {name!r}", rule=name, value=str(raw),
                                  allowed=", ".join(known))
            values[name] = _parse(known[name], raw)
        return cls(**values)

    @staticmethod
    def allowed(name: str) -> str:
        """The values rule *name* may take, in words the screen and the error show."""
        return _allowed(next(f for f in dataclasses.fields(CheckInRules) if f.name == name))


def _allowed(f: dataclasses.Field[Any]) -> str:
    meta = f.metadata
    if meta["kind"] == "flag":
        return "true, false"
    if meta["kind"] == "count":
        return f"{meta['low']}–{meta['high']}"
    return ", ".join(d.value for d in meta["allowed"])


def _parse(f: dataclasses.Field[Any], raw: Any) -> Any:
    if f.metadata["kind"] == "decision" and isinstance(raw, str):
        try:
            return Decision(raw.strip().upper())
        except ValueError:
            pass  # _check names the allowed values
    return raw


def _check(f: dataclasses.Field[Any], value: Any) -> None:
    meta = f.metadata
    kind = meta["kind"]
    # bool is an int in Python: a JSON true for a frame count is a mistake, not 1.
    ok = (isinstance(value, bool) if kind == "flag"
          else (isinstance(value, int) and not isinstance(value, bool)
                and meta["low"] <= value <= meta["high"]) if kind == "count"
          else isinstance(value, Decision) and value in meta["allowed"])
    if not ok:
        shown = value.value if isinstance(value, Decision) else value
        raise RuleInvalid(f"check-in rule {f.name!r} cannot be {shown!r} "
                          f"(allowed: {_allowed(f)})",
                          rule=f.name, value=str(shown), allowed=_allowed(f))
