"""The issue's row end to end (issue 13): a real check-in — the CLI, pcscd, vpcd, the virtual
CCCD and a file camera of real ORL photos in which the candidate never blinks — goes to REVIEW
for the failed liveness check, and the printed roster says so in words, not only that the face
matched and the card is genuine."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.proctoring.test_checkin_e2e import (  # noqa: F401
    ORL,
    Desk,
    can,
    card_profile,
    desk,
)

pytestmark = pytest.mark.pcsc

# s27 open-eyed and frontal only: his face, no blink (5.png, the eyes-closed shot, left out).
NO_BLINK = [ORL / "s27" / f"{n}.png" for n in (1, 7, 2, 3, 4, 8)]


def test_a_review_for_a_failed_liveness_check_prints_why(insert_card, desk: Desk,  # noqa: F811
                                                         tmp_path: Path) -> None:
    inserted = insert_card(str(card_profile(tmp_path, "nguyen-van-an", "orl/s27/10.png", "an")))
    out = desk.checkin(NO_BLINK, *can(inserted))
    assert out["decision"] == "REVIEW", out["reasons"]
    keys = [r["key"] for r in out["reasons"]]
    assert any(k.startswith("face.liveness.") or k == "checkin.liveness_failed"
               for k in keys), keys
    pdf = tmp_path / "roster.pdf"
    desk.run("roster", "print", "--session", desk.session, "--out", str(pdf))
    text = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True,
                                   text=True, check=True).stdout.split())
    assert "Người thật: KHÔNG ĐẠT" in text, text
    assert "Lý do: • Kiểm tra người thật không đạt" in text, text
    assert "face.liveness" not in text and "checkin." not in text
