"""What a desk can and cannot compare while the centre database is unreachable (issue 17).

Offline, a desk has its copy of the roster and its own waiting check-ins, but not the faces
admitted at other desks, nor a candidate's earlier stages (another desk may have made them).
The rule, stated on the desk's screen as it is here:

- a driving-test stage after the session's first one is REVIEW: the face of the earlier stage
  cannot be reached, so a person decides (never an ADMIT that skipped the stage check);
- the comparison with faces admitted at other desks (a proxy under a second ID) is not made;
  the check-in says so in its reasons, and its decision rests on the card and the chip face.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .models import Decision, ExamSession, SessionKind, Stage

EARLIER_STAGE = "checkin.offline_earlier_stage"
OTHER_DESKS = "checkin.offline_other_desks"


def offline_rule(session: ExamSession, stage: Stage | None,
                 add: Callable[..., None]) -> None:
    """Add the offline reasons to a check-in's verdicts (``add(decision, key, **context)``)."""
    add(Decision.ADMIT, OTHER_DESKS)
    stages = session.stage_list
    if session.kind == SessionKind.DRIVING_TEST and stage is not None and stages:
        first = stages[0]
        if Stage(stage) != first:
            context: dict[str, Any] = {"stage": Stage(stage).value, "first": first.value}
            add(Decision.REVIEW, EARLIER_STAGE, **context)
