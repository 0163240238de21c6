"""Recording a check-in while other desks of the centre record theirs (issue 17).

A check-in is decided in seconds (card, liveness, face) and recorded in milliseconds. Two desks
that check the same card — or the same face under two IDs — at the same time both decide before
either records, so neither sees the other: two admissions, no incident. The fix is in the
database, not in a process: the check-in's write transaction first locks the session's row
(``SELECT … FOR NO KEY UPDATE`` on PostgreSQL; on SQLite the write transaction's
``BEGIN IMMEDIATE`` already serialises writers), then runs the rules that look at other
check-ins again over what is committed now:

- an admission of the same roster line at the same stage → the attempt is a second card:
  REVIEW with an ALREADY_ADMITTED incident, as if it had come a minute later;
- the face rules of :mod:`.face_rules` (one face under two IDs, a different face at another
  stage) against admissions the face step did not see.

Only what the face step did not already find is added, so a double check-in is caught once
with one incident, whichever desk commits first. Recording stays in PostgreSQL's READ COMMITTED
(the writer's default): each statement after the lock sees every commit made before it. The
lock is on NO KEY UPDATE so inserts elsewhere that only reference the session (an incident, a
refused card) do not wait for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
from sqlmodel import Session, col, select

from biometrics.config import OperatingPoint
from examdesk.timezone import VIETNAM

from .attendance import attendance_of
from .checkins import (
    EMBEDDING_DIM,
    CheckInInput,
    NewIncident,
    Reason,
    RecordedCheckIn,
    desks_of,
    record_checkin,
)
from .face_rules import Finding, judge_faces
from .models import (
    CheckIn,
    Decision,
    EvidenceKind,
    ExamSession,
    IncidentKind,
    Severity,
)
from .store import Store

_RANK = {Decision.ADMIT: 0, Decision.REVIEW: 1, Decision.REJECT: 2}


@dataclass(frozen=True)
class Admitted:
    """The admission another desk committed first (for the screen's "already admitted")."""

    checkin_id: uuid.UUID
    decided_at: datetime
    desk: str | None


@dataclass(frozen=True)
class Guarded:
    """What was recorded: the decision and reasons in force, with what the re-check added."""

    recorded: RecordedCheckIn
    decision: Decision
    reasons: tuple[Reason, ...]
    admitted_first: Admitted | None = None  # set when the re-check found one


def record_guarded(store: Store, item: CheckInInput, *, actor: str, point: OperatingPoint,
                   seen: Collection[uuid.UUID] | None = None) -> Guarded:
    """:func:`~.checkins.record_checkin` under the session's lock, the rules run again first.
    ``seen``: the admissions the face step compared the live face with (None: compare all)."""
    checks: list[tuple[CheckInInput, Admitted | None]] = []

    def amend(tx: Session, given: CheckInInput) -> CheckInInput:
        lock_session(tx, given.session_id)
        checked = recheck(tx, store, given, point, seen)
        checks.append(checked)
        return checked[0]

    recorded = record_checkin(store, item, actor=actor, amend=amend)
    final, first = checks[-1] if checks else (item, None)
    # A retry of a check-in stored before returns the stored one: its decision stands.
    return Guarded(recorded, Decision(recorded.checkin.decision), tuple(final.reasons), first)


def lock_session(tx: Session, session_id: uuid.UUID) -> None:
    """Serialise the recording of the session's check-ins across desks (see the docstring)."""
    tx.exec(select(ExamSession.id).where(col(ExamSession.id) == session_id)
            .with_for_update(key_share=True)).first()


def recheck(tx: Session, store: Store, item: CheckInInput, point: OperatingPoint,
            seen: Collection[uuid.UUID] | None = None) -> tuple[CheckInInput, Admitted | None]:
    """The check-in with what the rules find now that the face step could not see."""
    if item.roster_entry_id is None:
        return item, None
    session = tx.get(ExamSession, item.session_id)
    if session is None:
        return item, None  # record_checkin says so in words
    found: list[Finding] = []
    first = _admitted_first(tx, item)
    if first is not None and not any(i.kind is IncidentKind.ALREADY_ADMITTED
                                     for i in item.incidents):
        found.append(_second_card(first, item.roster_entry_id))
    live = _live(item)
    if live is not None:
        skip = {c for i in item.incidents for c in i.related_checkins}
        found += judge_faces(tx, store, session, item.roster_entry_id, item.stage, live, point,
                             skip=skip, exclude=item.checkin_id, seen=seen).findings
    if not found:
        return item, None
    decision = max([item.decision, *(f.decision for f in found)], key=_RANK.__getitem__)
    return replace(item, decision=decision,
                   reasons=(*item.reasons, *(f.reason for f in found)),
                   incidents=(*item.incidents, *(f.incident for f in found))), first


def _admitted_first(tx: Session, item: CheckInInput) -> Admitted | None:
    """The admission in force of the same roster line (at the same stage), other than this."""
    query = (select(CheckIn).where(CheckIn.session_id == item.session_id)
             .where(CheckIn.roster_entry_id == item.roster_entry_id)
             .where(col(CheckIn.id) != item.checkin_id))
    if item.stage is not None:
        query = query.where(CheckIn.stage == item.stage)
    found = list(tx.exec(query).all())
    state = attendance_of(found, desks_of(tx, [c.id for c in found]))
    done = state.admission
    return None if done is None else Admitted(done.id, done.decided_at, state.desk(done))


def _second_card(first: Admitted, roster_entry_id: uuid.UUID) -> Finding:
    """The same words and incident as a second card presented a minute later
    (``proctoring.checkin``): "already admitted at 07:42 at desk Cửa 1"."""
    local = first.decided_at.astimezone(VIETNAM)
    context = {"at": local.strftime("%H:%M"), "date": local.strftime("%d/%m/%Y"),
               "desk": first.desk or ""}
    key = "checkin.already_admitted" if first.desk else "checkin.already_admitted_no_desk"
    return Finding(Decision.REVIEW, Reason(key, "", context), NewIncident(
        IncidentKind.ALREADY_ADMITTED, Severity.HIGH, key,
        {**context, "admitted_checkin": str(first.checkin_id),
         "admitted_at": first.decided_at.isoformat()},
        related_checkins=(first.checkin_id,), roster_entry_id=roster_entry_id))


def _live(item: CheckInInput) -> np.ndarray | None:
    """The fused live face the check-in stores (none without consent or without a face)."""
    for e in item.evidence:
        if e.kind == EvidenceKind.LIVE_EMBEDDING:
            return np.frombuffer(e.data, dtype="<f4").reshape(-1, EMBEDDING_DIM)[0]
    return None
