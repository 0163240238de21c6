"""A candidate's attendance at one session (and stage): a state machine over their check-ins.

    ABSENT ──attempt──▶ ADMIT | REJECT | REVIEW
    REJECT / REVIEW ──attempt──▶ the new attempt's decision (a retry after a refusal)
    ADMIT ──attempt──▶ ADMIT (the attempt is a *later attempt*, listed, never in force)

Each attempt counts with its decision in force (the machine's, or an override's). An override is
on one check-in: overriding the admitting check-in away from ADMIT (with its written reason)
is what takes an admission back; overriding a later attempt changes that attempt only — a second
card presented for someone already in the room never un-admits (or re-admits) them.

The state is *derived*, never stored: the check-in rows are the history (and each one's audit
event says at which desk it was made: ``desks``), and
:func:`attendance_of` is the one place it is computed (the roster screen, the signed roster
PDF, the CSV export, ``session show`` and the desk's "already admitted" all read it through
:func:`proctoring.checkins.attendance` or :func:`proctoring.checkins.admission`). Pure: no
database, no clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .models import CheckIn, Decision, RosterStatus


@dataclass(frozen=True)
class CandidateAttendance:
    """One candidate's state and the history it stands on."""

    state: RosterStatus
    # The check-in the state stands on: the first admission in force, else the latest attempt
    # (None: absent).
    deciding: CheckIn | None
    attempts: tuple[CheckIn, ...]  # every attempt, oldest first
    # Check-in id → the desk it was made at ("Cửa 1"), as its audit event recorded it.
    desks: Mapping[uuid.UUID, str] = field(default_factory=dict)

    def desk(self, c: CheckIn | None) -> str | None:
        """Where an attempt was made (None: not recorded — before desks were named)."""
        return None if c is None else self.desks.get(c.id)

    @property
    def admission(self) -> CheckIn | None:
        return self.deciding if self.state is RosterStatus.ADMIT else None

    @property
    def later(self) -> tuple[CheckIn, ...]:
        """Attempts after the admission (a second card, another face): listed, not in force."""
        if self.admission is None:
            return ()
        i = next(i for i, c in enumerate(self.attempts) if c is self.deciding)
        return self.attempts[i + 1:]

    @property
    def earlier(self) -> tuple[CheckIn, ...]:
        """Attempts before the one the state stands on (refusals before a retry)."""
        if self.deciding is None:
            return ()
        i = next(i for i, c in enumerate(self.attempts) if c is self.deciding)
        return self.attempts[:i]

    @property
    def overridden(self) -> bool:
        """An override anywhere in the history (the roster marks the row)."""
        return any(c.overridden_at is not None for c in self.attempts)


ABSENT = CandidateAttendance(RosterStatus.ABSENT, None, ())


def attempt_order(c: CheckIn) -> tuple[object, ...]:
    """When an attempt happened: decided first, then stored, then by id (a stable tie-break)."""
    return (c.decided_at, c.created_at, str(c.id))


def attendance_of(checkins: Iterable[CheckIn],
                  desks: Mapping[uuid.UUID, str] | None = None) -> CandidateAttendance:
    """The state of one candidate (at one stage) from all their check-ins, in any order;
    ``desks``: where each was made (check-in id → desk name), carried along for the words."""
    ordered = tuple(sorted(checkins, key=attempt_order))
    state, deciding = RosterStatus.ABSENT, None
    for c in ordered:
        if state is RosterStatus.ADMIT:
            continue  # admitted stays admitted: a later attempt is history, not the state
        state, deciding = RosterStatus.of(Decision(c.decision)), c
    known = desks or {}
    return CandidateAttendance(state, deciding, ordered,
                               {c.id: known[c.id] for c in ordered if c.id in known})
