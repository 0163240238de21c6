"""The desk's station in the header (issue 17): its name and the stages it serves, in words.

No Tk here: the header label shows what :func:`station_caption` returns, so the words are
tested without a window.
"""

from __future__ import annotations

from collections.abc import Callable

from proctoring.stations import StationInfo


def station_caption(t: Callable[..., str], station: StationInfo | None) -> str:
    """"Trạm Sân 1 · lý thuyết, sa hình" (or with its state when it may not check in); empty
    for a desk working alone, which needs no enrolment."""
    if station is None:
        return ""
    stages = ", ".join(t(f"station.stage.{s}") for s in station.stages)
    words = t("app.station.caption", name=station.name,
              stages=stages or t("app.station.all_stages"))
    if station.status != "ACTIVE":
        words += " — " + t(f"station.status.{station.status.lower()}").upper()
    return words
