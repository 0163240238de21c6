"""Fixtures for the GUI tests: an Xvfb X server for the run, one demo app per test module.

Xvfb chooses a free display number itself (``-displayfd``), so the tests never collide with a
desktop or another run. The tests skip only when Xvfb or Tk cannot exist here (``apt-get
install xvfb``; ``make setup`` installs it). Screenshots of every state land in
``/tmp/examdesk-gui-shots/`` (override with ``EXAMDESK_GUI_SHOTS``).
"""

from __future__ import annotations

import itertools
import os
import select
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.examdesk.gui.xkeys import XKeyboard

SHOTS = Path(os.environ.get("EXAMDESK_GUI_SHOTS", "/tmp/examdesk-gui-shots"))
SCREEN = "1366x768x24"  # the smallest laptop screen the app must work on


@pytest.fixture(scope="session")
def xvfb() -> Iterator[str]:
    """A private X display (":N") for the whole run."""
    pytest.importorskip("tkinter",
                        reason="this Python has no Tk (apt-get install python3-tk)")
    exe = shutil.which("Xvfb")
    if exe is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb; make setup installs it)")
    read_end, write_end = os.pipe()
    proc = subprocess.Popen([exe, "-displayfd", str(write_end), "-screen", "0", SCREEN,
                             "-nolisten", "tcp", "-noreset"], pass_fds=(write_end,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write_end)
    try:
        number = _display_number(read_end, timeout=15)
    finally:
        os.close(read_end)
    display = f":{number}"
    if not number or not _accepts_connections(display, proc):
        proc.kill()
        err = proc.communicate(timeout=5)[1].decode(errors="replace")[-400:]
        pytest.fail(f"Xvfb did not start ({display or 'no display number'}): {err}")
    try:
        yield display
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def _display_number(fd: int, timeout: float) -> str:
    """Xvfb writes the number, then the newline, in two writes: read up to the newline, or
    closing the pipe early kills the server on its second write ("Cannot write display
    number to fd")."""
    data = b""
    end = time.monotonic() + timeout
    while not data.endswith(b"\n") and time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 32)
        if not chunk:
            break
        data += chunk
    return data.decode().strip() if data.endswith(b"\n") else ""


def _accepts_connections(display: str, proc: subprocess.Popen[bytes],
                         timeout: float = 10.0) -> bool:
    """The display number is announced as the server starts; connect before trusting it."""
    from PIL import ImageGrab

    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        try:
            ImageGrab.grab(xdisplay=display, bbox=(0, 0, 1, 1))
            return True
        except OSError:
            time.sleep(0.1)
    return False


@pytest.fixture(scope="session")
def keyboard(xvfb: str) -> Iterator[XKeyboard | None]:
    """Vietnamese letters through XTest (None: no libXtst; the tests type ASCII through
    xdotool and insert the rest)."""
    try:
        kb = XKeyboard(xvfb)
    except OSError:
        yield None
        return
    try:
        yield kb
    finally:
        kb.close()


class Desk:
    """Drives the real window: pumps Tk's event loop from the test, presses keys, takes
    screenshots. Everything a user sees is read from the widgets."""

    def __init__(self, app: Any, display: str, keyboard: XKeyboard | None = None) -> None:
        self.app = app
        self.display = display
        self.keyboard = keyboard
        SHOTS.mkdir(parents=True, exist_ok=True)

    @property
    def checkin(self) -> Any:
        return self.app.views["checkin"]

    def pump(self, seconds: float = 0.05) -> None:
        end = time.monotonic() + seconds
        while True:
            self.app.root.update()
            if time.monotonic() >= end:
                return
            time.sleep(0.002)

    def wait_until(self, predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > end:
                raise AssertionError(f"timed out waiting for {what}; status line: "
                                     f"{self.app.status_text!r}; check-in: "
                                     f"{self.checkin.snapshot()}")
            self.app.root.update()
            time.sleep(0.002)

    def press(self, keysym: str, widget: Any = None) -> None:
        """A key event on the focused widget (as the keyboard would deliver it)."""
        target = widget or self.app.root.focus_get() or self.app.root
        target.event_generate(f"<{keysym}>")
        self.pump(0.05)

    def type_into(self, entry: Any, text: str) -> None:
        """Real keystrokes through the X server: ASCII with xdotool, Vietnamese letters with
        XTest (xkeys.py says why); the widget API only when neither is installed."""
        entry.focus_set()
        self.pump(0.1)
        tool = shutil.which("xdotool")
        if tool is None:
            entry.insert("end", text)
            return
        x = entry.winfo_rootx() + entry.winfo_width() // 2
        y = entry.winfo_rooty() + entry.winfo_height() // 2
        env = {**os.environ, "DISPLAY": self.display}
        # No window manager: the keyboard follows the pointer, so put it over the entry.
        subprocess.run([tool, "mousemove", str(x), str(y)], env=env, check=True, timeout=10)
        for ascii_run, chars in itertools.groupby(text, key=str.isascii):
            run = "".join(chars)
            if ascii_run or self.keyboard is None:
                typing = subprocess.Popen([tool, "type", "--delay", "15", run], env=env)
                while typing.poll() is None:
                    self.pump(0.02)
                assert typing.returncode == 0
            else:
                for char in run:
                    self.keyboard.tap(char)
                    self.pump(0.01)
        self.pump(0.2)

    def wait_decided(self, timeout: float = 60.0) -> dict[str, Any]:
        self.wait_until(lambda: self.checkin.state.value in ("decided", "failed"),
                        "the check-in's verdict", timeout)
        self.pump(0.1)
        return dict(self.checkin.snapshot())

    def fits(self, widget: Any) -> bool:
        """Shown, and wholly inside the window (nothing cut off at the screen's edge)."""
        root = self.app.root
        x, y = widget.winfo_rootx() - root.winfo_rootx(), widget.winfo_rooty() - root.winfo_rooty()
        return bool(widget.winfo_ismapped()) and x >= 0 and y >= 0 and (
            x + widget.winfo_width() <= root.winfo_width()
            and y + widget.winfo_height() <= root.winfo_height())

    def shot(self, name: str) -> Path:
        from examdesk.views.autopilot import grab_screen

        self.pump(0.25)  # let customtkinter finish redrawing
        path = SHOTS / f"{name}.png"
        grab_screen(self.display).save(path)
        return path


@pytest.fixture(scope="module")
def desk(xvfb: str, keyboard: XKeyboard | None,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """The demo app, its folder under a throw-away EXAMDESK_HOME, services started, its
    virtual cards in process."""
    from examdesk.app import AppOptions, ExamDeskApp

    home = tmp_path_factory.mktemp("gui-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXAMDESK_HOME", str(home))
        mp.setenv("EXAMDESK_KEYRING", "0")
        mp.delenv("EXAMDESK_DB_URL", raising=False)
        mp.delenv("EXAMDESK_CENTRE", raising=False)
        # The card in process: the same run whether or not pcscd happens to be running
        # (test_plumbing.py presents the demo cards through pcscd).
        app = ExamDeskApp(AppOptions(demo=True, lang="vi", display=xvfb, use_vpcd=False))
        try:
            d = Desk(app, xvfb, keyboard)
            d.wait_until(lambda: app.services is not None, "the services to start", 90)
            yield d
        finally:
            app.close()
