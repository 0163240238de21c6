"""An invigilator's decision over the machine's: the same call from the command line and the
desk, and one result both render."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from proctoring.checkins import record_override
from proctoring.models import Decision, Severity
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


def override_checkin(store: Store, checkin_id: uuid.UUID, decision: Decision, reason: str, *,
                     actor: str, operator_id: uuid.UUID | None = None,
                     severity: Severity = Severity.MEDIUM) -> OverrideDone:
    """Change a stored check-in's decision, with a written reason (refused without one, or
    when the decision already is ``decision``); the override becomes an incident for the
    education office, in the same transaction."""
    incident = record_override(store, checkin_id, decision=decision, reason=reason,
                               operator_id=operator_id, actor=actor, severity=severity)
    return OverrideDone(checkin_id, Decision(decision), incident.id, str(incident.kind))
