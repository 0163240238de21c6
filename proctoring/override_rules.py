"""Who may override what: admitting on a card the chip checks found FORGED is the centre
admin's decision alone, confirmed a second time, and stands out on the roster.

An invigilator may still move any verdict to REVIEW or REJECT, and admit on any other verdict
with a written reason (checkins.record_override). A forged card is the one finding whose
override puts a proxy in the room most directly, so it needs more than one person's reason at
the desk: the admin's role, a second "yes", a HIGH incident for the education office.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ForgedOverrideNeedsAdmin, ForgedOverrideNotConfirmed
from .models import CheckIn, Decision, Role, Severity

FORGED = "FORGED"


@dataclass(frozen=True)
class OverrideAuthority:
    """Who asks for the override and what they confirmed. ``role`` None: not stated (a caller
    that does not know who is at the keyboard), which is never the centre admin."""

    role: Role | None = None
    confirmed_forged: bool = False  # the second "yes" to admitting on a forged card


def admits_forged_card(checkin: CheckIn, decision: Decision) -> bool:
    return Decision(decision) is Decision.ADMIT and checkin.trust_verdict == FORGED


def check_override(checkin: CheckIn, decision: Decision, authority: OverrideAuthority,
                   severity: Severity) -> Severity:
    """Raises when ``authority`` may not make this override; returns the incident's severity
    (HIGH for a forged card admitted)."""
    if not admits_forged_card(checkin, decision):
        return severity
    if authority.role is not Role.CENTRE_ADMIN:
        raise ForgedOverrideNeedsAdmin(
            "only a centre admin may admit a candidate on a forged card",
            role=authority.role.value if authority.role is not None else "")
    if not authority.confirmed_forged:
        raise ForgedOverrideNotConfirmed("admitting on a forged card was not confirmed")
    return Severity.HIGH
