"""Which stages of a driving test each candidate passed, at which desk, when (issue 17).

A stage is *passed* when the candidate's attendance at it is an admission (the same state
machine as the roster's: :func:`~.attendance.attendance_of`, an override counted, a later
attempt never undoing it). The desk is the one the admitting check-in's audit event names, on
the centre's chain or the station's own (:func:`~.checkins.desks_of`): with several desks on one
centre database, the theory room's admission shows at the track's desk. Read-only; one query for
the session's check-ins, one for their desks.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from .attendance import attendance_of
from .checkins import desks_of
from .models import CheckIn, Stage
from .store import Store


@dataclass(frozen=True)
class StagePass:
    stage: Stage
    checkin_id: uuid.UUID
    decided_at: datetime
    desk: str | None  # None: made before desks were named

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage.value, "checkin_id": str(self.checkin_id),
                "decided_at": self.decided_at.isoformat(), "desk": self.desk}


def stages_passed(store: Store, session_id: uuid.UUID
                  ) -> dict[uuid.UUID, tuple[StagePass, ...]]:
    """Roster line id → its passed stages in the order of the test (lines with none absent)."""
    with store.read() as tx:
        found = list(tx.exec(select(CheckIn).where(CheckIn.session_id == session_id)
                             .where(col(CheckIn.roster_entry_id).is_not(None))
                             .where(col(CheckIn.stage).is_not(None))).all())
        groups: dict[tuple[uuid.UUID, Stage], list[CheckIn]] = defaultdict(list)
        for c in found:
            assert c.roster_entry_id is not None and c.stage is not None
            groups[(c.roster_entry_id, Stage(c.stage))].append(c)
        admitted = {k: a for k, v in groups.items()
                    if (a := attendance_of(v).admission) is not None}
        desks = desks_of(tx, [c.id for c in admitted.values()])
    order = {s: i for i, s in enumerate(Stage)}
    out: dict[uuid.UUID, list[StagePass]] = defaultdict(list)
    for (entry, stage), c in sorted(admitted.items(), key=lambda kv: order[kv[0][1]]):
        out[entry].append(StagePass(stage, c.id, c.decided_at, desks.get(c.id)))
    return {k: tuple(v) for k, v in out.items()}
