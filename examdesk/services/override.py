"""An invigilator's decision over the machine's: the same call from the command line and the
desk, and one result both render."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from proctoring.checkin_lookup import find_checkin
from proctoring.checkins import record_override
from proctoring.models import CheckIn, Decision, Role, Severity
from proctoring.override_rules import OverrideAuthority, admits_forged_card
from proctoring.store import Store


@dataclass(frozen=True)
class OverrideDone:
    checkin_id: uuid.UUID
    decision: Decision
    incident_id: uuid.UUID
    incident_kind: str

    def to_dict(self) -> dict[str, Any]:
        return {"checkin_id": str(self.checkin_id), "decision": self.decision.value,
                "incident_id": str(self.incident_id), "incident_kind": self.incident_kind}


def resolve_checkin(store: Store, ref: uuid.UUID | str) -> uuid.UUID:
    """A check-in's id from its id or a unique prefix of it (as ``session show`` takes)."""
    if isinstance(ref, uuid.UUID):
        return ref
    with store.read() as tx:
        return find_checkin(tx, ref).id


def admits_forged(store: Store, checkin_id: uuid.UUID, decision: Decision) -> bool:
    """Would this override admit on a FORGED card (the admin's decision, confirmed twice)?
    Unknown check-ins answer False: the override itself then says what is wrong."""
    with store.read() as tx:
        checkin = tx.get(CheckIn, checkin_id)
        return checkin is not None and admits_forged_card(checkin, decision)


def override_checkin(store: Store, checkin_id: uuid.UUID | str, decision: Decision, reason: str,
                     *, actor: str, operator_id: uuid.UUID | None = None,
                     severity: Severity = Severity.MEDIUM, role: Role | None = None,
                     confirmed_forged: bool = False) -> OverrideDone:
    """Change a stored check-in's decision, with a written reason (refused without one, or
    when the decision already is ``decision``); the override becomes an incident for the
    education office, in the same transaction. Admitting on a FORGED card is refused unless
    ``role`` is the centre admin and ``confirmed_forged`` (the second confirmation)."""
    target = resolve_checkin(store, checkin_id)
    incident = record_override(store, target, decision=decision, reason=reason,
                               operator_id=operator_id, actor=actor, severity=severity,
                               authority=OverrideAuthority(role, confirmed_forged))
    return OverrideDone(target, Decision(decision), incident.id, str(incident.kind))
