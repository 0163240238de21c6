"""Which dates a session may have, and when a check-in's day is not its session's.

What a centre expects, and what this module decides:

- A session's start is a date **and** a time (Vietnam time). "2026-12-01" alone used to mean
  midnight, silently; it is refused with the reason (a roster says 07:30, never 00:00).
- A start no exam can have is refused: before 2021-01-01 (the first chip CCCD cards were
  issued in 2021 — nobody can be checked in by chip before that; "1926" is a mistyped year),
  or more than two years after today (a year typed wrong the other way).
- A check-in on another day than the session's date (Vietnam calendar) is **warned about, not
  refused**: a session may run past midnight, a driving test's stages may span days, and a
  late candidate is still checked. The desk and the command line say both dates before the
  card is read, so a wrong session chosen (yesterday's, still open) is seen at once. Closing a
  session (``session close``) is what refuses further check-ins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from examdesk.timezone import VIETNAM

from .errors import SessionStartImplausible
from .models import ExamSession

EARLIEST_START = datetime(2021, 1, 1, tzinfo=VIETNAM)  # the first chip CCCD cards
LATEST_AHEAD = timedelta(days=2 * 365)


def check_start(starts_at: datetime, now: datetime) -> None:
    """Raises :class:`SessionStartImplausible` for a start no exam can have."""
    latest = now + LATEST_AHEAD
    if starts_at < EARLIEST_START or starts_at > latest:
        raise SessionStartImplausible(
            f"start {starts_at.isoformat()} outside {EARLIEST_START.date()}..{latest.date()}",
            value=f"{starts_at.astimezone(VIETNAM):%d/%m/%Y %H:%M}",
            earliest=f"{EARLIEST_START:%d/%m/%Y}",
            latest=f"{latest.astimezone(VIETNAM):%d/%m/%Y}")


@dataclass(frozen=True)
class OtherDay:
    """A check-in's day is not its session's (both in Vietnam time)."""

    session_day: date
    today: date

    @property
    def days(self) -> int:
        """Positive: the session was that many days ago; negative: it is ahead."""
        return (self.today - self.session_day).days

    def context(self) -> dict[str, str]:
        return {"session_day": f"{self.session_day:%d/%m/%Y}", "today": f"{self.today:%d/%m/%Y}",
                "days": str(abs(self.days))}


def checkin_day(session: ExamSession, now: datetime) -> OtherDay | None:
    """None when ``now`` falls on the session's day (Vietnam calendar), else both days."""
    starts = session.starts_at
    if starts.tzinfo is None:  # SQLite hands back naive UTC
        starts = starts.replace(tzinfo=UTC)
    session_day = starts.astimezone(VIETNAM).date()
    today = now.astimezone(VIETNAM).date()
    return None if session_day == today else OtherDay(session_day, today)
