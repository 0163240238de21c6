"""The invigilator's desktop app (customtkinter): the window, and how work stays off the Tk thread.

Threads and processes::

    Tk thread ── after(POLL_MS) ──▶ drains UiQueue: callables posted by everything below
       │                            (and measures the event loop's longest gap: GapMeter)
       ├─ Worker (thread pool): card reading, trust, storage, roster PDFs, settings files,
       │     the check-in workflow; results come back through UiQueue
       ├─ FrameHub thread: reads the camera, keeps the newest frame and its preview;
       │     the preview polls it, the check-in reads from it (views/frames.py)
       └─ face process: dlib, which would hold the GIL (biometrics/remote.py)

The Tk thread never waits for any of them; the screens (examdesk/views/) only show what the
services (proctoring, reader, biometrics, reports) decide.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import customtkinter as ctk

from biometrics import FaceSettings
from biometrics.fused_check import SecondModel
from biometrics.onnx_embedder import SECTION as EMBEDDER_SECTION
from biometrics.remote import ProcessFaceEngine, portrait_engine
from examdesk.i18n import Catalog, default_language
from examdesk.paths import data_dir
from examdesk.services.outbox import desk_station, needs_centre, open_desk_store
from examdesk.settings import desk_name, read_section
from proctoring.checkin import CheckInService
from proctoring.desk_outbox import DeskOutbox
from proctoring.models import ExamSession, Role, Stage
from proctoring.policy import SECTION as POLICY_SECTION
from proctoring.policy import CheckInRules
from proctoring.stations import StationInfo

from .views.base import View
from .views.cards import LoopbackCards, PcscCards
from .views.context import AppSettings, Operator, Places, Services
from .views.frames import FrameHub, camera_factory, camera_label
from .views.station_caption import station_caption
from .views.texts import Texts
from .views.theme import ACCENT, MUTED, Fonts, make_fonts
from .views.tk_gc import TkThreadCollector

if TYPE_CHECKING:  # the demo's code loads only with --demo
    from .views.demo_presenter import DemoPresenter

T = TypeVar("T")
POLL_MS = 10  # the UI queue is drained (and the gap measured) this often
DRAIN_BUDGET_S = 0.02  # at most this long per tick: a flood of posts cannot freeze the window


# --- options ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppOptions:
    demo: bool = False
    lang: str | None = None
    display: str | None = None  # X display for Tk (tests run their own Xvfb); None: $DISPLAY
    demo_root: Path | None = None  # default: <data dir>/demo
    use_vpcd: bool | None = None  # demo: None = through pcscd when it has a free vpcd reader
    screenshot: Path | None = None  # demo: check the right person in, save the screen, quit
    geometry: str = "1366x768"


# --- plumbing -----------------------------------------------------------------------------------


class UiQueue:
    """Callables for the Tk thread, posted from any thread."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]]] = (
            queue.SimpleQueue())

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        self._queue.put((fn, args))

    def drain(self, budget: float, on_error: Callable[[BaseException], None]) -> int:
        """Run what is queued, for at most ``budget`` seconds; the rest waits a tick."""
        deadline = time.perf_counter() + budget
        done = 0
        while time.perf_counter() < deadline:
            try:
                fn, args = self._queue.get_nowait()
            except queue.Empty:
                break
            try:
                fn(*args)
            except Exception as exc:  # one broken callback must not stop the pump
                on_error(exc)
            done += 1
        return done


@dataclass
class GapMeter:
    """The longest time between two ticks of the event loop: what "never freezes" means."""

    longest: float = 0.0
    ticks: int = 0
    _last: float | None = field(default=None, repr=False)

    def tick(self, now: float) -> None:
        if self._last is not None:
            self.longest = max(self.longest, now - self._last)
            self.ticks += 1
        self._last = now

    def reset(self) -> None:
        self.longest, self.ticks, self._last = 0.0, 0, None


class Worker:
    """Runs callables off the Tk thread; their result or error comes back on the UI queue."""

    def __init__(self, ui: UiQueue, on_error: Callable[[BaseException], None],
                 threads: int = 4) -> None:
        self._ui = ui
        self._on_error = on_error
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="desk-worker")
        self._pending = 0  # touched on the Tk thread only: submit and _finish both run there

    @property
    def pending(self) -> int:
        """Jobs submitted whose result has not yet been handed back on the UI queue (0: the
        desk is settled, nothing will still change the screen)."""
        return self._pending

    def submit(self, job: Callable[[], T], *, done: Callable[[T], Any] | None = None,
               failed: Callable[[BaseException], Any] | None = None) -> Future[T]:
        future = self._pool.submit(job)
        self._pending += 1
        future.add_done_callback(lambda f: self._ui.post(self._finish, f, done, failed))
        return future

    def _finish(self, future: Future[T], done: Callable[[T], Any] | None,
                failed: Callable[[BaseException], Any] | None) -> None:
        self._pending -= 1
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            (failed or self._on_error)(exc)
        elif done is not None:
            done(future.result())

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


# --- services -----------------------------------------------------------------------------------


def start_services(options: AppOptions, actor: str) -> Services:
    """Everything slow at start-up, on a worker: the demo folder, the database (migrations),
    the face process (models load in the background), the camera, the card source."""
    demo_home = None
    if options.demo:
        from .demo import prepare_demo_home

        demo_home = prepare_demo_home(options.demo_root or data_dir() / "demo", actor=actor)
        places = Places(demo_home.config, demo_home.data, demo_home.db_url, keyring=False)
    else:
        places = Places.user()
    settings = AppSettings.load(places)
    # The centre's check-in rules first: a bad value stops the start with its bilingual
    # message before the database or the face process is opened.
    rules = CheckInRules.from_dict(read_section(POLICY_SECTION, places.settings_file))
    # The site's second face model, if installed and fitted: a file whose hash is not the
    # pinned one stops the start here with its bilingual message (never a silent dlib-only desk).
    second = SecondModel.from_settings(read_section(EMBEDDER_SECTION, places.settings_file))
    face_settings = FaceSettings.from_dict(read_section("face", places.settings_file))
    engine = ProcessFaceEngine(face_settings)
    models_ready = threading.Event()
    hub = FrameHub()
    # A centre's desk starts while the centre is down (issue 17): it checks in from its outbox.
    store, _online = open_desk_store(places.db_url, keys=places.keys())
    station = desk_station(store)  # None for a desk working alone (or the centre away)
    # The name stored with each check-in: the settings' own, else the enrolled station's.
    desk = desk_name({"desk": settings.desk}, station.name if station else None)
    # A desk of a centre (PostgreSQL) keeps check-ins in its own outbox while the centre is
    # unreachable (issue 17): the header's outbox badge says so.
    outbox = (DeskOutbox.for_desk(store.keys, places.data, face_settings.operating_point)
              if store.backend == "postgresql" else None)
    # The chip portrait's own face process (issue 16: encoded while the live frames are).
    portrait = portrait_engine(face_settings)
    services = Services(places, settings, store, engine, models_ready, hub, PcscCards(None),
                        CheckInService(store, engine, rules=rules, second=second, desk=desk,
                                       outbox=outbox, portrait_engine=portrait))
    services.station = station
    # The models load in the face process meanwhile; if that fails, the check-in's first face
    # call fails again with the same typed error (models missing, …) and says so on screen.
    engine.warm_up().add_done_callback(lambda _f: models_ready.set())
    if portrait is not None:
        portrait.warm_up()  # a failure shows at the first portrait, as REVIEW with its reason
    if demo_home is not None:
        from .demo import VPCD_READER, DemoDeck, Scenario, demo_camera, vpcd_reader_free

        use_vpcd = vpcd_reader_free() if options.use_vpcd is None else options.use_vpcd
        if use_vpcd:
            services.cards = PcscCards(VPCD_READER)
            services.deck = DemoDeck(None, use_vpcd=True)
        else:
            loopback = LoopbackCards()
            services.cards = loopback
            services.deck = DemoDeck(loopback, use_vpcd=False)
        services.demo = demo_home
        photos = services.deck.cards[Scenario.RIGHT_PERSON].photos
        hub.switch(lambda: demo_camera(photos))
        services.camera_label = "demo"
    else:
        services.cards = PcscCards(settings.reader)
        hub.switch(camera_factory(settings.camera))
        services.camera_label = camera_label(settings.camera)
    return services


# --- the window -------------------------------------------------------------------------------


NAVIGATION = (  # view name, catalogue key, key
    ("checkin", "app.nav.checkin", "F2"),
    ("roster", "app.nav.roster", "F3"),
    ("incidents", "app.nav.incidents", "F4"),
    ("print", "app.nav.print", "F5"),
    ("settings", "app.nav.settings", "F6"),
    ("sessions", "app.nav.sessions", "F7"),
    ("room", "app.nav.room", "F11"),  # the exam room's seats and alerts (views/room.py)
    # F8/F9 are the office's review keys (views/review.py): the stations screen takes F12.
    ("stations", "app.nav.stations", "F12"),
)
CONSENT_KEY = "F8"  # the candidate's yes to face matching, asked per candidate at the desk
ADMIN_ONLY = frozenset({"stations"})  # screens a centre admin alone sees (nav hidden otherwise)


class ExamDeskApp:
    """The window: header, navigation, one screen at a time, the status line."""

    def __init__(self, options: AppOptions) -> None:
        self.options = options
        ctk.set_appearance_mode("light")
        ctk.set_default_color_theme("blue")
        self.root = ctk.CTk(screenName=options.display) if options.display else ctk.CTk()
        self.root.title("examdesk — Chống thi hộ")
        self.root.geometry(options.geometry)
        self.root.minsize(1280, 720)
        self.fonts: Fonts = make_fonts(self.root)
        self.texts = Texts(Catalog.load(), options.lang or default_language())
        self.ui = UiQueue()
        self.gaps = GapMeter()
        self.collector = TkThreadCollector()  # Tk objects are finalized on this thread
        self.worker = Worker(self.ui, self.report_error)
        self.services: Services | None = None
        self.operator: Operator | None = None
        self.session: ExamSession | None = None
        self.stage: Stage | None = None
        self.closed = False
        self._current: View | None = None
        self._waiting_for_services: list[Callable[[], None]] = []
        self._nav_buttons: dict[str, Any] = {}
        self._build()
        self.root.protocol("WM_DELETE_WINDOW", self.close)
        self._bind_keys()
        self._tick_job = self.root.after(POLL_MS, self._tick)
        self.set_status("app.status.starting")
        actor = "app:demo" if options.demo else "app:startup"
        self.worker.submit(lambda: start_services(options, actor), done=self._services_started,
                           failed=self._services_failed)
        self.show("signin")

    # --- layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        from .views.checkin import CheckInView
        from .views.incidents import IncidentsView
        from .views.outbox_badge import OutboxBadge
        from .views.printing import PrintView
        from .views.review import ReviewView
        from .views.room import RoomScreen
        from .views.roster import RosterView
        from .views.sessions import SessionsView
        from .views.settings import SettingsView
        from .views.signin import SignInView
        from .views.stations import StationsView
        from .views.sync_state import SyncBadge

        root, t, f = self.root, self.texts, self.fonts
        root.grid_rowconfigure(1, weight=1)
        root.grid_columnconfigure(1, weight=1)

        header = ctk.CTkFrame(root, height=50, corner_radius=0, fg_color=ACCENT)
        header.grid(row=0, column=0, columnspan=2, sticky="ew")
        header.grid_propagate(False)
        header.grid_columnconfigure(2, weight=1)
        ctk.CTkLabel(header, text="examdesk", font=f.title, text_color="white").grid(
            row=0, column=0, padx=(16, 4), pady=8)
        t.bind(ctk.CTkLabel(header, font=f.base, text_color="#dce6f2"), "app.tagline").grid(
            row=0, column=1, padx=4)
        self.session_label = ctk.CTkLabel(header, text="", font=f.bold, text_color="white",
                                          anchor="e")
        self.session_label.grid(row=0, column=2, sticky="e", padx=12)
        self.operator_label = ctk.CTkLabel(header, text="", font=f.base, text_color="#dce6f2")
        self.operator_label.grid(row=0, column=3, sticky="e", padx=(12, 4))
        switch = ctk.CTkButton(header, font=f.small, width=60, height=28, fg_color="#3b7bbf",
                               command=lambda: self.show("signin"))
        t.bind(switch, "app.switch_operator")
        switch.grid(row=0, column=4, padx=(0, 12))
        if self.options.demo:
            ctk.CTkLabel(header, text=" DEMO ", font=f.bold, text_color=ACCENT,
                         fg_color="white", corner_radius=6).grid(row=0, column=5, padx=(0, 12))
        self.sync_badge = SyncBadge(header, self)  # the district sync: views/sync_state.py
        self.sync_badge.grid(row=0, column=6, padx=(0, 12))
        self.sync_badge.grid_remove()
        self.outbox_badge = OutboxBadge(header, self)  # a centre outage: views/outbox_badge.py
        self.outbox_badge.grid(row=0, column=7, padx=(0, 12))
        self.outbox_badge.grid_remove()
        from .views.room_alerts import RoomAlertsBadge  # the room's alerts on every screen

        self.room_alerts = RoomAlertsBadge(header, self)  # polls by itself: views/room_alerts.py
        self.room_alerts.grid(row=0, column=8, padx=(0, 12))
        self.room_alerts.grid_remove()

        side = ctk.CTkFrame(root, width=226, corner_radius=0, fg_color="#e9edf2")
        side.grid(row=1, column=0, sticky="ns")
        side.grid_propagate(False)
        side.grid_columnconfigure(0, weight=1)
        for i, (name, key, keysym) in enumerate(NAVIGATION):
            button = ctk.CTkButton(side, font=f.bold, anchor="w", height=40, corner_radius=8,
                                   command=lambda n=name: self.show(n))
            t.bind(button, key, keysym=keysym)
            button.grid(row=i, column=0, sticky="ew", padx=10, pady=(10 if i == 0 else 3, 3))
            self._nav_buttons[name] = button
            if name in ADMIN_ONLY:
                button.grid_remove()  # until a centre admin signs in
        self.side = side
        if self.options.demo:
            self._build_demo_controls(side, len(NAVIGATION))

        content = ctk.CTkFrame(root, corner_radius=0, fg_color="#ffffff")
        content.grid(row=1, column=1, sticky="nsew")
        content.grid_rowconfigure(0, weight=1)
        content.grid_columnconfigure(0, weight=1)

        bar = ctk.CTkFrame(root, height=30, corner_radius=0, fg_color="#e9edf2")
        bar.grid(row=2, column=0, columnspan=2, sticky="ew")
        bar.grid_columnconfigure(0, weight=1)
        self.status_label = ctk.CTkLabel(bar, text="", font=f.small, anchor="w")
        self.status_label.grid(row=0, column=0, sticky="ew", padx=12)
        self.devices_label = ctk.CTkLabel(bar, text="", font=f.small, text_color=MUTED)
        self.devices_label.grid(row=0, column=1, sticky="e", padx=12)

        self.views: dict[str, View] = {}
        for cls in (SignInView, SessionsView, CheckInView, RosterView, IncidentsView, PrintView,
                    SettingsView, ReviewView, StationsView, RoomScreen):
            view = cls(content, self)
            view.grid(row=0, column=0, sticky="nsew")
            view.grid_remove()
            self.views[view.name] = view
        self.presenter: DemoPresenter | None = None
        if self.options.demo:
            from .views.demo_presenter import DemoPresenter

            checkin = self.views["checkin"]
            assert isinstance(checkin, CheckInView)
            self.presenter = DemoPresenter(self, checkin)
        t.on_change(self._refresh_header)

    def _build_demo_controls(self, side: Any, row: int) -> None:
        from .demo import Scenario

        t, f = self.texts, self.fonts
        t.bind(ctk.CTkLabel(side, font=f.bold, anchor="w"), "app.demo.title").grid(
            row=row, column=0, sticky="ew", padx=14, pady=(22, 2))
        t.bind(ctk.CTkLabel(side, font=f.small, anchor="w", justify="left", wraplength=180,
                            text_color=MUTED), "app.demo.hint").grid(
            row=row + 1, column=0, sticky="ew", padx=14, pady=(0, 4))
        self.demo_buttons: dict[Scenario, Any] = {}
        for i, scenario in enumerate(Scenario, 1):
            button = ctk.CTkButton(side, font=f.base, anchor="w", height=34, corner_radius=8,
                                   fg_color="#ffffff", text_color="#1f2933", hover_color="#dce6f2",
                                   border_width=1, border_color="#b8c4d0",
                                   command=lambda s=scenario: self.present(s))
            t.bind(button, f"app.demo.{scenario.value}", n=i)
            button.grid(row=row + 1 + i, column=0, sticky="ew", padx=10, pady=2)
            self.demo_buttons[scenario] = button

    def _bind_keys(self) -> None:
        r = self.root
        for name, _key, keysym in NAVIGATION:
            r.bind_all(f"<{keysym}>", lambda _e, n=name: self.show(n))
        r.bind_all("<Return>", lambda e: self._dispatch("on_return", e))
        r.bind_all("<KP_Enter>", lambda e: self._dispatch("on_return", e))
        r.bind_all("<Escape>", lambda e: self._dispatch("on_escape", e))
        r.bind_all("<Control-o>", lambda e: self._dispatch("on_override", e))
        r.bind_all("<Control-p>", lambda e: self._shortcut_print())
        r.bind_all("<Control-f>", lambda e: self._shortcut_search())
        r.bind_all("<Control-s>", lambda e: self._dispatch("on_save", e))
        # On the window, not bind_all: the office's review screen binds F8 (confirm fraud) to
        # "all", which runs after this and only when the check-in screen did not take the key.
        r.bind(f"<{CONSENT_KEY}>", lambda e: self._dispatch("on_consent", e))
        if self.options.demo:
            from .demo import Scenario

            for i, scenario in enumerate(Scenario, 1):
                r.bind_all(f"<Control-Key-{i}>", lambda _e, s=scenario: self.present(s))

    def _dispatch(self, method: str, event: Any) -> str | None:
        view = self._current
        if view is None:
            return None
        handled = getattr(view, method)(event)
        return "break" if handled else None

    def _shortcut_print(self) -> None:
        if self.show("print"):
            self.views["print"].on_save(None)

    def _shortcut_search(self) -> None:
        if self.show("roster"):
            self.views["roster"].focus_search()

    # --- navigation ---------------------------------------------------------------------------

    def show(self, name: str) -> bool:
        """Go to a screen; screens that need a session send the invigilator to pick one."""
        view = self.views[name]
        if self.operator is None and name != "signin":
            self.set_status("app.status.sign_in_first")
            name, view = "signin", self.views["signin"]
        elif self.operator is not None and name != "signin" and (
                self.operator.role is Role.EDUCATION_OFFICE) != (name == "review"):
            # The office only reviews the district (views/review.py); a desk has no review.
            view = self.views["sessions" if name == "review" else "review"]
        elif name in ADMIN_ONLY and not (self.operator is not None and self.operator.is_admin):
            self.set_status("app.stations.admin_only")
            return False
        elif view.needs_session and self.session is None:
            self.set_status("app.status.pick_session")
            name, view = "sessions", self.views["sessions"]
        if view is self._current:
            return True
        if self._current is not None:
            self._current.hidden()
            self._current.grid_remove()
        self._current = view
        view.grid()
        for n, button in self._nav_buttons.items():
            button.configure(fg_color=ACCENT if n == name else "#3b7bbf")
        view.shown()
        return view is self.views.get(name)

    @property
    def current(self) -> View | None:
        return self._current

    # --- state changes ------------------------------------------------------------------------

    def sign_in(self, operator: Operator) -> None:
        self.operator = operator
        for name in ADMIN_ONLY:
            button = self._nav_buttons[name]
            (button.grid if operator.is_admin else button.grid_remove)()
        self._refresh_header()
        for view in self.views.values():
            view.operator_changed()
        self.sync_badge.operator_changed()
        self.show("sessions")

    def open_session(self, session: ExamSession) -> None:
        self.session = session
        self.stage = session.stage_list[0] if session.stage_list else None
        self._refresh_header()
        for view in self.views.values():
            view.session_changed()
        self.show("checkin")

    def station_changed(self, station: StationInfo | None) -> None:
        """This desk was enrolled (or its station changed): the header says so at once."""
        if self.services is not None:
            self.services.station = station
        self._refresh_header()

    def set_language(self, lang: str) -> None:
        self.texts.set_lang(lang)

    def _refresh_header(self) -> None:
        t = self.texts
        station = station_caption(t, self.services.station if self.services else None)
        if self.session is not None:
            s = self.session
            # Two lines when the desk is a station: the header keeps its one row of widgets.
            self.session_label.configure(
                text="\n".join(p for p in (station, f"{s.code} · {s.title}") if p))
        elif station:
            self.session_label.configure(text=station)
        if self.operator is not None:
            role = t(f"app.role.{self.operator.role.value}")
            self.operator_label.configure(text=f"{self.operator.name} · {role}")
        services = self.services
        if services is not None:
            self.devices_label.configure(text=t(
                "app.status.devices", reader=services.cards.label,
                camera=services.camera_label))

    # --- services -----------------------------------------------------------------------------

    def when_ready(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the Tk thread once the services are up (now if they are)."""
        if self.services is not None:
            callback()
        else:
            self._waiting_for_services.append(callback)

    def _services_started(self, services: Services) -> None:
        if self.closed:
            services.close()
            return
        self.services = services
        self.set_language(services.settings.lang if self.options.lang is None
                          else self.options.lang)
        self.set_status("app.status.ready")
        self._refresh_header()
        self.outbox_badge.start()
        waiting, self._waiting_for_services = self._waiting_for_services, []
        for view in self.views.values():
            view.services_ready()
        for callback in waiting:
            callback()
        if self.options.screenshot is not None:
            from .views.autopilot import Autopilot

            Autopilot(self, self.options.screenshot).start()

    def _services_failed(self, exc: BaseException) -> None:
        self.set_status_text(self.error_text(exc))
        self.views["signin"].startup_failed(self.error_text(exc))

    def present(self, scenario: Any) -> None:
        """Demo: put the next card on the reader and check its holder in."""
        if self.operator is not None and self.operator.role is Role.EDUCATION_OFFICE:
            return  # the office reviews; it checks nobody in (Ctrl+1..5 stay the desk's)
        if self.operator is None or self.session is None:
            self.set_status("app.status.pick_session")
            return
        if self.presenter is not None:
            self.show("checkin")
            self.presenter.present(scenario)

    # --- jobs, errors, status -----------------------------------------------------------------

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        self.ui.post(fn, *args)

    def run_job(self, job: Callable[[], T], *, done: Callable[[T], Any] | None = None,
                failed: Callable[[BaseException], Any] | None = None) -> Future[T]:
        return self.worker.submit(job, done=done, failed=failed)

    def error_text(self, exc: BaseException) -> str:
        """A typed error's message in the screen's language; anything else named plainly."""
        exc = needs_centre(exc, self.services.checkins.outbox if self.services else None)
        key = getattr(exc, "key", None)
        if isinstance(key, str):
            context = dict(getattr(exc, "context", {}) or {})
            detail = getattr(exc, "detail", "") or str(exc)
            return self.texts(key, **{"detail": detail, **context})
        return self.texts("app.unexpected", detail=f"{type(exc).__name__}: {exc}")

    def report_error(self, exc: BaseException) -> None:
        self.set_status_text(self.error_text(exc))

    def set_status(self, key: str, **context: object) -> None:
        self.texts.rebind(self.status_label, key, **context)

    def set_status_text(self, text: str) -> None:
        self.texts.rebind(self.status_label, "app.plain", text=text)

    @property
    def status_text(self) -> str:
        return str(self.status_label.cget("text"))

    # --- the loop -----------------------------------------------------------------------------

    def _tick(self) -> None:
        if self.closed:
            return
        self.gaps.tick(time.perf_counter())
        self.ui.drain(DRAIN_BUDGET_S, self.report_error)
        self.collector.tick()
        self._tick_job = self.root.after(POLL_MS, self._tick)

    def run(self) -> None:
        self.root.mainloop()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):  # else Tcl complains of a tick after the window
            self.root.after_cancel(self._tick_job)
        for view in self.views.values():
            with contextlib.suppress(Exception):
                view.hidden()
        self.sync_badge.stop()
        self.outbox_badge.stop()
        self.worker.close()
        if self.services is not None:
            self.services.close()
        with contextlib.suppress(Exception):
            self.root.destroy()
        self.collector.stop()


def run(options: AppOptions) -> None:
    app = ExamDeskApp(options)
    try:
        app.run()
    finally:
        app.close()
