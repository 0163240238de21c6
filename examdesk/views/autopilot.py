"""``examdesk app --demo --screenshot FILE``: the demo run once without anybody at the keyboard.

Signs in, opens the demo session, presents the right person's card, waits for the verdict,
saves a picture of the screen and quits. ``scripts/demo-app`` uses it on a machine without a
display (under Xvfb), so a fresh machine still shows that the whole chain works.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageGrab

from proctoring.models import Role
from proctoring.sessions import session_info

from .context import Operator

if TYPE_CHECKING:
    from examdesk.app import ExamDeskApp

TIMEOUT_S = 120.0


def grab_screen(display: str | None) -> Image.Image:
    """The whole X screen (Pillow's XCB grab: no ImageMagick or xwd needed)."""
    return ImageGrab.grab(xdisplay=display or os.environ.get("DISPLAY"))


class Autopilot:
    def __init__(self, app: ExamDeskApp, target: Path) -> None:
        self.app = app
        self.target = target
        self.deadline = time.monotonic() + TIMEOUT_S
        self.gap_ms: float | None = None  # the event loop's longest gap during the check-in

    def start(self) -> None:
        from examdesk.demo import SESSION_CODE

        services = self.app.services
        assert services is not None
        self.app.sign_in(Operator("Giám thị demo", Role.INVIGILATOR))
        store = services.store
        self.app.run_job(lambda: session_info(store, SESSION_CODE).session,
                         done=self._opened, failed=self._failed)

    def _opened(self, session: Any) -> None:
        from examdesk.demo import Scenario

        self.app.open_session(session)
        self.app.gaps.reset()
        self.app.present(Scenario.RIGHT_PERSON)
        self.app.root.after(200, self._wait)

    def _wait(self) -> None:
        view = self.app.views["checkin"]
        state = view.snapshot()["state"]
        if state in ("decided", "failed") or time.monotonic() > self.deadline:
            self.gap_ms = self.app.gaps.longest * 1000
            # A moment for the last redraw, then the picture.
            self.app.root.after(400, self._grab)
            return
        self.app.root.after(200, self._wait)

    def _grab(self) -> None:
        display = self.app.options.display
        target = self.target

        def job() -> Path:
            target.parent.mkdir(parents=True, exist_ok=True)
            grab_screen(display).save(target)
            return target

        self.app.run_job(job, done=self._done, failed=self._failed)

    def _done(self, path: Path) -> None:
        verdict = self.app.views["checkin"].snapshot()["banner"]
        print(f"{verdict}\nscreenshot: {path}", flush=True)
        print(f"event loop: longest gap {self.gap_ms:.1f} ms between two after() ticks "
              "during the check-in", flush=True)
        self.app.close()

    def _failed(self, exc: BaseException) -> None:
        print(self.app.error_text(exc), file=sys.stderr, flush=True)
        self.app.close()
