"""The time zone examdesk shows and parses times in: Vietnam's, UTC+7 all year.

A leaf of the foundation (see the README's architecture): every package may import it, and it
imports nothing of the project. Times are stored in UTC; only what people read or type is local.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

# Asia/Ho_Chi_Minh has had no daylight saving since 1975, so a fixed offset is exact and needs
# no tz database (which Windows lacks without the tzdata package).
VIETNAM = timezone(timedelta(hours=7), "ICT")


def moment(when: datetime | None) -> str:
    """dd/mm/yyyy HH:MM in Vietnam time."""
    return "—" if when is None else when.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")
