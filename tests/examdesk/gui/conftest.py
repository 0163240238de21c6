"""Fixtures for the GUI tests: an Xvfb X server for the run, one demo app per test module.

Xvfb chooses a free display number itself (``-displayfd``), so the tests never collide with a
desktop or another run. The tests skip only when Xvfb or Tk cannot exist here (``apt-get
install xvfb``; ``make setup`` installs it). Screenshots of every state land in
``/tmp/examdesk-gui-shots/`` (override with ``EXAMDESK_GUI_SHOTS``).
"""

from __future__ import annotations

import gc
import itertools
import os
import select
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
        letters = "".join(c for c in text if not c.isascii())
        if self.keyboard is not None and letters and self.keyboard.bind(letters):
            self.pump(0.2)  # Tk reads the new keymap before the first key
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
def _collected_after_the_app() -> Iterator[None]:
    """Torn down after ``desk_app`` (which asks for it), when the closed app is unreachable:
    its Tk objects are finalized here, on the thread Tcl ran on. Left to the collector's next
    run on some other thread (the next module's check-in worker, its camera), each waited a
    second for a main loop that is gone: tests hung or lost their camera."""
    yield
    gc.collect()


@pytest.fixture(scope="module")
def desk_app(xvfb: str, keyboard: XKeyboard | None, tmp_path_factory: pytest.TempPathFactory,
             _collected_after_the_app: None) -> Iterator[Desk]:
    """The demo app, its folder under a throw-away EXAMDESK_HOME, services started, its
    virtual cards in process. One per module (starting one costs seconds); each test gets it
    through ``desk`` below, brought to the state the test declares."""
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


# --- each test's starting state -------------------------------------------------------------------

DESK_STATE = "desk_state"
OPERATOR_NAME = "Giám thị demo"  # who the fixture signs in (a test that types a name, types it)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{DESK_STATE}(role=Role.INVIGILATOR, screen='checkin', card=None, "
        "absent=False): the state a desk test starts from (tests/examdesk/gui/conftest.py, "
        "fixture desk); role=None: on the sign-in screen; absent: nobody admitted yet")


@dataclass(frozen=True)
class DeskState:
    """What a desk test needs before its first key. Always also: the demo session open (unless
    ``role`` is None), the check-in idle with an empty key entry and no override panel, the
    screens in Vietnamese, the settings at the app's start values, no job still running."""

    role: Any = "invigilator"  # a proctoring.models.Role; None: the sign-in screen, nobody new
    screen: str = "checkin"
    card: Any = None  # a demo Scenario: its card on the reader, its person at the camera
    # Nobody admitted yet in the demo session. Admitted stays admitted (issue 13): a test that
    # expects a fresh ADMIT for An must not find him admitted by an earlier test of the module
    # (his card again is then "already admitted", REVIEW). Earlier admissions are taken back
    # as an invigilator would: an override to REJECT with a written reason.
    absent: bool = False


@dataclass(frozen=True)
class Defaults:
    """The settings a fresh demo app starts with (what a test that changed them must not
    leave to the next one)."""

    rules: Any
    thresholds: tuple[float, float, float]


def _thresholds(app: Any) -> tuple[float, float, float]:
    point = app.services.engine.settings.operating_point
    return (point.threshold, point.review_low, point.review_high)


@pytest.fixture(scope="module")
def desk_defaults(desk_app: Desk) -> Defaults:
    """Read right after start, before any test could change them."""
    services = desk_app.app.services
    return Defaults(services.checkins.rules, _thresholds(desk_app.app))


@pytest.fixture
def desk(desk_app: Desk, desk_defaults: Defaults, request: pytest.FixtureRequest) -> Desk:
    """The module's app, brought to the state the test declares with
    ``@pytest.mark.desk_state(...)`` (the defaults of DeskState otherwise), through what a user
    does: the keys, the sign-in and session screens, the settings screen. So each test passes
    alone and in any order."""
    from proctoring.models import Role

    marker = request.node.get_closest_marker(DESK_STATE)
    wanted = DeskState(**(marker.kwargs if marker else {}))
    role = Role(wanted.role) if wanted.role is not None else None
    reach_state(desk_app, desk_defaults, role, wanted.screen, wanted.card, wanted.absent)
    return desk_app


def settle(desk: Desk, timeout: float = 90.0) -> None:
    """No job of the worker left: nothing started by an earlier test still changes the screen
    (or the card) under this one."""
    desk.wait_until(lambda: desk.app.worker.pending == 0, "the desk's jobs to finish", timeout)
    desk.pump(0.05)


def press_sign_in(desk: Desk, role: Any, name: str) -> None:
    """The sign-in screen, as at the desk: the role chosen, a name, Enter."""
    app = desk.app
    app.show("signin")
    signin = app.views["signin"]
    signin.choose_role(role)
    signin.name_entry.delete(0, "end")
    signin.name_entry.insert(0, name)
    desk.press("Return", signin.name_entry)


def sign_in(desk: Desk, role: Any, name: str = OPERATOR_NAME) -> None:
    """Signed in as ``role``, checked."""
    press_sign_in(desk, role, name)
    app = desk.app
    assert app.operator is not None and app.operator.role is role and app.operator.name == name


def take_back_admissions(desk: Desk) -> None:
    """Every admission in the open session overridden to REJECT, with a written reason."""
    from examdesk.services.override import override_checkin
    from proctoring.checkins import attendance
    from proctoring.models import Decision

    app = desk.app
    store, session = app.services.store, app.session
    for row in attendance(store, session.id).rows:
        if row.status == "ADMIT" and row.checkin is not None:
            override_checkin(store, row.checkin.id, Decision.REJECT,
                             "Kiểm thử: lượt sau bắt đầu khi chưa ai vào phòng",
                             actor=app.operator.actor)
    for name in ("roster", "incidents"):
        app.views[name].data_changed()


def reach_state(desk: Desk, defaults: Defaults, role: Any, screen: str, card: Any,
                absent: bool = False) -> None:
    from examdesk.demo import SESSION_CODE, demo_camera
    from proctoring.models import Role

    app, view = desk.app, desk.checkin
    if view.state.value == "running":  # a check-in left running: Esc stops it
        app.show("checkin")
        desk.press("Escape")
    settle(desk)
    app.set_language("vi")

    # The settings an earlier test changed: back to the start values, as an admin would.
    if app.services.checkins.rules != defaults.rules or _thresholds(app) != defaults.thresholds:
        sign_in(desk, Role.CENTRE_ADMIN)
        desk.press("F6")
        settings = app.views["settings"]
        assert app.current is settings
        settle(desk)
        settings.rules.show(defaults.rules)
        for entry, value in zip((settings.threshold, settings.review_low, settings.review_high),
                                defaults.thresholds, strict=True):
            entry.delete(0, "end")
            entry.insert(0, f"{value:.4f}")
        settings.save()
        settle(desk)
        assert app.services.checkins.rules == defaults.rules, settings.message.cget("text")
        assert _thresholds(app) == defaults.thresholds, settings.message.cget("text")

    roster = app.views["roster"]
    if roster.search.get():  # the roster unfiltered
        roster.search.delete(0, "end")
        desk.press("KeyRelease", roster.search)

    signin = app.views["signin"]
    if role is None:
        app.show("signin")
        signin.choose_role(Role.INVIGILATOR)
        signin.name_entry.delete(0, "end")
    else:
        sign_in(desk, role)
        if app.session is None or app.session.code != SESSION_CODE:
            sessions = app.views["sessions"]
            assert app.current is sessions
            desk.wait_until(lambda: sessions.selected() is not None, "the session list")
            assert sessions.selected().session.code == SESSION_CODE
            desk.press("Return", sessions.table.tree)
        assert app.session is not None and app.session.code == SESSION_CODE
        if absent:
            take_back_admissions(desk)
        app.show("checkin")
        assert app.current is view
        desk.press("Escape")  # clears a verdict, a failure or the override panel
        view.key_entry.delete(0, "end")

    if card is not None:  # the demo deck: the card on the reader, its holder at the camera
        services = app.services
        placed: list[Any] = []
        app.run_job(lambda: services.deck.present(card), done=placed.append)
        settle(desk)
        (presented,) = placed
        services.hub.switch(lambda: demo_camera(presented.card.photos))

    if screen != app.current.name:
        app.show(screen)
    settle(desk)
    assert app.current is app.views[screen], (screen, app.current)
    assert app.texts.lang == "vi"
    assert view.state.value == "idle" and view.key_entry.get() == ""
    assert not view.override_panel.winfo_ismapped()
