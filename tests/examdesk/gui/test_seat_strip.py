"""The candidate's status strip (issue 18), the real Tk window under Xvfb: always on top, never
focused, small, in words ("Đang giám sát" / "Monitoring"), no camera preview; it asks for
consent and the candidate's click is the seat's answer (never presumed)."""

from __future__ import annotations

import threading
import tkinter as tk
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from examdesk.services.seat_consent import consent_text
from examdesk.views.seat_strip import SeatStrip
from proctoring.seat import Admission, SeatState

from .conftest import SHOTS


@pytest.fixture
def strip(xvfb: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SeatStrip]:
    monkeypatch.setenv("DISPLAY", xvfb)
    s = SeatStrip(seat="A07", consent=consent_text("A07", 2.0), lang="vi")
    try:
        yield s
    finally:
        try:
            s.root.destroy()
        except tk.TclError:
            pass


def settle(strip: SeatStrip) -> None:
    for _ in range(5):
        strip.pump()
        strip.root.update()


def widgets(root: Any) -> list[Any]:
    out = [root]
    for child in root.winfo_children():
        out += widgets(child)
    return out


def shot(strip: SeatStrip, name: str) -> None:
    from examdesk.views.autopilot import grab_screen

    SHOTS.mkdir(parents=True, exist_ok=True)
    grab_screen(None).save(SHOTS / f"seat-strip-{name}.png")


def test_the_strip_stays_on_top_out_of_the_way_and_says_it_in_words(strip: SeatStrip) -> None:
    strip.show(SeatState.WATCHING)
    settle(strip)
    root = strip.root
    assert root.attributes("-topmost") == 1
    assert root.overrideredirect()  # no title bar, no taskbar entry
    assert root.attributes("-type") in ("notification", ("notification",))  # never focused
    assert root.focus_get() is None and root.grab_current() is None
    assert all(str(w.cget("takefocus")) == "0" for w in widgets(root)
               if "takefocus" in w.keys())
    # No camera preview: no picture anywhere in the strip.
    assert not any(isinstance(w, tk.Label) and w.cget("image") for w in widgets(root))
    assert root.winfo_height() <= 80 and root.winfo_width() <= 400
    assert root.winfo_y() <= 10  # along the top edge
    assert root.winfo_x() + root.winfo_width() >= root.winfo_screenwidth() - 10
    headline = strip.headline.cget("text")
    assert "Đang giám sát" in headline and "Monitoring" in headline
    shot(strip, "watching")
    strip.show(SeatState.CAMERA_LOST)
    settle(strip)
    assert "Mất tín hiệu camera" in strip.words.cget("text")
    assert "Camera lost" in strip.words.cget("text")
    assert "Chưa giám sát" in strip.headline.cget("text")
    assert root.focus_get() is None


def test_the_candidate_answers_the_consent_on_the_strip(strip: SeatStrip) -> None:
    admission = Admission(uuid.uuid4(), uuid.uuid4(), np.zeros((1, 128), np.float32))
    answers: list[Any] = []
    asker = threading.Thread(target=lambda: answers.append(strip(admission)))
    asker.start()  # the runner asks from its own thread
    asker.join()
    assert answers == [None]  # nobody clicked yet: not presumed
    settle(strip)
    text = strip.ask_text.cget("text")
    assert "ghế A07" in text and "seat A07" in text and strip.ask.winfo_ismapped()
    assert strip.root.focus_get() is None  # asking does not take the keyboard either
    shot(strip, "consent")
    assert strip(admission) is None
    strip.no.invoke()
    settle(strip)
    refused = strip(admission)
    assert refused is not None and not refused.given
    assert refused.text_sha256 == consent_text("A07", 2.0).sha256
    assert not strip.ask.winfo_ismapped() and "không đồng ý" in strip.words.cget("text")
    strip.yes.invoke()  # a click cannot answer for a candidate not asked yet, but can change
    assert strip(admission).given  # type: ignore[union-attr]
    other = Admission(uuid.uuid4(), uuid.uuid4(), np.zeros((1, 128), np.float32))
    assert strip(other) is None  # the next candidate is asked afresh


def test_close_ends_the_loop(strip: SeatStrip) -> None:
    strip.close()
    assert strip.pump() is False


def test_the_candidate_withdraws_consent_on_the_strip(strip: SeatStrip) -> None:
    """As easy as giving it: one press on the strip while the seat watches. The seat reads it
    as a withdrawal (once), and the strip's answer is "no" from then on."""
    admission = Admission(uuid.uuid4(), uuid.uuid4(), np.zeros((1, 128), np.float32))
    assert strip(admission) is None
    settle(strip)
    strip.yes.invoke()
    strip.show(SeatState.WATCHING)
    settle(strip)
    root = strip.root
    assert strip.withdraw.winfo_ismapped() and "Rút lại đồng ý" in strip.withdraw.cget("text")
    assert "Withdraw consent" in strip.withdraw.cget("text")
    assert root.winfo_height() <= 80 and root.winfo_width() <= 400  # still a strip
    assert strip.withdrawn() is None  # nothing pressed yet
    shot(strip, "withdraw")
    strip.withdraw.invoke()
    strip.show(SeatState.NO_CONSENT)
    settle(strip)
    withdrawn = strip.withdrawn()
    assert withdrawn is not None and not withdrawn.given
    assert withdrawn.text_sha256 == consent_text("A07", 2.0).sha256
    assert strip.withdrawn() is None  # once
    answer = strip(admission)
    assert answer is not None and not answer.given  # the seat does not consent again by itself
    assert not strip.withdraw.winfo_ismapped()
    assert "⊘" in strip.words.cget("text")
    assert root.focus_get() is None and root.grab_current() is None
    assert all(str(w.cget("takefocus")) == "0" for w in widgets(root)
               if "takefocus" in w.keys())
