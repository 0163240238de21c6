"""The stages a candidate passed, in words, for the roster screen and ``session show``:
"lý thuyết lúc 07:42 tại bàn Phòng lý thuyết · sa hình lúc 09:10 tại bàn Sân 1" — Vietnam time,
the desk's own name, never a stage's code."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from examdesk.timezone import VIETNAM
from proctoring.stage_passes import StagePass

Text = Callable[..., str]  # (message key, **context) → the sentence in the chosen language


def pass_words(text: Text, p: StagePass) -> str:
    """One stage passed: which, when (HH:MM, Vietnam time), where."""
    at = p.decided_at.astimezone(VIETNAM).strftime("%H:%M")
    return text("stages.pass_desk" if p.desk else "stages.pass", stage=p.stage.value, at=at,
                desk=p.desk or "")


def passes_line(text: Text, passes: Sequence[StagePass]) -> str:
    """Every stage passed, in the order of the test; says so when there is none."""
    if not passes:
        return text("stages.none")
    return text("stages.passed", stages=" · ".join(pass_words(text, p) for p in passes))
