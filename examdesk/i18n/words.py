"""Which catalogue entry says a check-in's outcomes in words: the card's trust verdict, the
check-in decision, the face comparison.

The one place that spells these key families, so the command line, the desk and the packages
below name an outcome alike. It takes an outcome's enum member (``Verdict.FORGED``,
``Decision.ADMIT``, ``FaceOutcome.NO_MATCH``) or its stored value (an audit record's
``"ADMIT"``) and imports nothing of the project: the enums live in the packages that decide, and
those packages may use this leaf of the foundation without loading the app.
"""

from __future__ import annotations

from enum import Enum

Outcome = Enum | str


def _value(outcome: Outcome) -> str:
    return str(outcome.value) if isinstance(outcome, Enum) else outcome


def verdict_key(verdict: Outcome) -> str:
    """The trust verdict as a sentence: "Genuine card: the chip was issued by the state …"."""
    return f"verdict.{_value(verdict)}"


def decision_key(decision: Outcome) -> str:
    """The decision in its banner word: "CHO VÀO" / "ADMIT"."""
    return f"app.verdict.{_value(decision)}"


def decision_sentence_key(decision: Outcome) -> str:
    """The decision with what to do next: "ADMIT: the right person, a genuine card, …"."""
    return f"checkin.decision.{_value(decision).lower()}"


def face_key(outcome: Outcome) -> str:
    """The face comparison's result: "MATCH: the candidate is the card holder."."""
    return f"face.decision.{_value(outcome)}"
