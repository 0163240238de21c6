"""A candidate's attendance history in words, for the roster screen and ``session show``.

The state itself is computed in one place (:func:`proctoring.attendance.attendance_of`); this
only says it: the first admission ("cho vào lúc 07:42 tại bàn Cửa 1"), the refusals before a
retry, the attempts after the admission — local time, words, never codes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from examdesk.timezone import VIETNAM
from proctoring.attendance import CandidateAttendance
from proctoring.models import CheckIn, Decision

Text = Callable[..., str]  # (message key, **context) → the sentence in the chosen language


def _at(c: CheckIn) -> str:
    return c.decided_at.astimezone(VIETNAM).strftime("%H:%M")


def attempt_line(text: Text, c: CheckIn, which: str, desk: str | None) -> str:
    """``which``: "later" or "earlier" — one attempt that is not the one in force."""
    decision = text(f"attendance.decision.{Decision(c.decision).value}")
    if c.overridden_at is not None:
        decision += " " + text("attendance.overridden")
    key = f"attendance.{which}_attempt" + ("_desk" if desk else "")
    return text(key, at=_at(c), desk=desk or "", decision=decision)


def admission_line(text: Text, c: CheckIn, desk: str | None) -> str:
    return text("attendance.first_admission_desk" if desk else "attendance.first_admission",
                at=_at(c), desk=desk or "")


def history_lines(text: Text, history: CandidateAttendance) -> list[str]:
    """Earlier refusals, the admission, the later attempts; nothing for a single attempt that
    is not an admission (the status says it all)."""
    h = history
    lines = [attempt_line(text, c, "earlier", h.desk(c)) for c in h.earlier]
    if h.admission is not None and (lines or h.later):
        lines.append(admission_line(text, h.admission, h.desk(h.admission)))
    lines += [attempt_line(text, c, "later", h.desk(c)) for c in h.later]
    return lines


@dataclass(frozen=True)
class HistoryRow:
    """One attempt as a line of the roster table under the candidate's row."""

    kind: str  # "admission", "earlier", "later"
    label: str  # "lần kiểm tra sau"
    desk: str  # "bàn Cửa 1", or "" when not recorded
    decision: str  # "không cho vào", with "(ghi đè)" when overridden
    symbol: str  # ✔ ✖ ⚠: never colour alone
    checkin: CheckIn


_SYMBOL = {Decision.ADMIT: "✔", Decision.REJECT: "✖", Decision.REVIEW: "⚠"}


def history_rows(text: Text, history: CandidateAttendance) -> list[HistoryRow]:
    """The lines of :func:`history_lines`, split into the roster table's columns."""
    h = history
    picked = [("earlier", c) for c in h.earlier]
    if h.admission is not None and (picked or h.later):
        picked.append(("admission", h.admission))
    picked += [("later", c) for c in h.later]
    rows = []
    for kind, c in picked:
        decision = Decision(c.decision)
        word = text(f"attendance.decision.{decision.value}")
        if c.overridden_at is not None:
            word += " " + text("attendance.overridden")
        desk = h.desk(c)
        rows.append(HistoryRow(kind, text(f"attendance.row.{kind}"),
                               text("attendance.row.desk", desk=desk) if desk else "", word,
                               _SYMBOL[decision], c))
    return rows
