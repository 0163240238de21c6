"""The desk's link to the district, in the header: the background sync and what it last did.

When the district's address is configured (``EXAMDESK_CENTRAL_URL``, else the address saved on
this machine by Settings or ``examdesk sync --save``, as for ``examdesk sync``) and a centre's
operator is signed in, :class:`~proctoring.sync.SyncWorker` runs on its own
thread and the badge says, in words and with a symbol (never colour alone): syncing, synced at
HH:MM with N events waiting, or what went wrong. Without an address the desk works offline and
the badge says so, quietly. The office's review mode has no desk to sync: no worker, no badge.

The sync thread reports through the UI queue; the status (a local database read) is fetched on
the app's workers every few seconds, never on the Tk thread. Clicking the badge syncs now and
puts the whole message on the status line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import customtkinter as ctk

from examdesk.services.sync import background_sync
from examdesk.timezone import VIETNAM
from proctoring.centres import CENTRE_ENV
from proctoring.models import Role
from proctoring.sync import SyncResult, SyncStatus, SyncWorker

from .theme import Look

if TYPE_CHECKING:
    from examdesk.app import ExamDeskApp

SYNC_INTERVAL_S = 60.0  # a desk ships its check-ins at least this often while online
STATUS_EVERY_MS = 5000  # pending events grow with every check-in: re-read the count

OFFLINE = Look("#1f5fa8", "#dce6f2", "○")
RUNNING = Look("#3b7bbf", "#ffffff", "⟳")
SYNCED = Look("#1e7b34", "#ffffff", "✔")
WAITING = Look("#f4b400", "#1a1a1a", "…")  # configured, never synced yet
FAILED = Look("#b3261e", "#ffffff", "✖")
SHORT_ERRORS = ("sync.central_unavailable", "sync.access_refused", "sync.schema_mismatch",
                "sync.chain_diverged", "sync.district_key_changed", "sync.not_a_district",
                "sync.centre_ambiguous", "sync.not_configured")


@dataclass(frozen=True)
class Shown:
    """What the badge says: its look, a short text and the full sentence."""

    look: Look
    short: str
    full: str


def describe(t: Any, status: SyncStatus | None, *, configured: bool) -> Shown:
    """The badge for a status (pure: the tests and the status line use it too)."""
    if not configured:
        return Shown(OFFLINE, t("syncstate.offline"), t("syncstate.offline_full"))
    if status is None or (status.running and status.last_success_at is None):
        return Shown(RUNNING, t("syncstate.running"), t("syncstate.running"))
    pending = status.pending
    if status.last_error is not None:
        key = status.last_error.key
        what = t(f"syncstate.short.{key}" if key in SHORT_ERRORS else "syncstate.short.other")
        full = t(key, detail=status.last_error.detail)
        return Shown(FAILED, t("syncstate.failed", what=what, pending=pending),
                     t("syncstate.failed_full", text=full, pending=pending,
                       success=_when(t, status.last_success_at)))
    if status.running:
        return Shown(RUNNING, t("syncstate.running"), t("syncstate.running"))
    if status.last_success_at is None:
        return Shown(WAITING, t("syncstate.never", pending=pending),
                     t("syncstate.never", pending=pending))
    return Shown(SYNCED, t("syncstate.ok", time=_when(t, status.last_success_at),
                           pending=pending),
                 t("syncstate.ok_full", time=_when(t, status.last_success_at, full=True),
                   pending=pending, district=status.district_code or "—")
                 + " " + t("syncstate.witnessed", seq=status.witnessed_seq))


def _when(t: Any, at: datetime | None, full: bool = False) -> str:
    if at is None:
        return t("sync.never")
    local = at.astimezone(VIETNAM)
    today = datetime.now(VIETNAM).date()
    return local.strftime("%H:%M" if local.date() == today and not full else "%d/%m/%Y %H:%M")


def env_centre() -> str | None:
    """The code of the centre to sync, when the database holds several: ``$EXAMDESK_CENTRE``
    like the command line's; None lets the sync pick the only one."""
    return os.environ.get(CENTRE_ENV) or None


class SyncBadge(ctk.CTkLabel):
    """The header's badge, and the background worker it watches."""

    def __init__(self, master: Any, app: ExamDeskApp) -> None:
        super().__init__(master, text="", font=app.fonts.small, corner_radius=6, height=28,
                         cursor="hand2")
        self.app = app
        self.worker: SyncWorker | None = None
        self.status: SyncStatus | None = None
        self.shown_now: Shown | None = None
        self._configured = False
        self._timer: str | None = None
        self._last_error: str | None = None
        self._active = False  # a centre's operator is signed in and the district is configured
        self.bind("<Button-1>", lambda _e: self.sync_now())
        app.texts.on_change(self._paint)

    # --- the app calls these on the Tk thread ---------------------------------------------------

    def operator_changed(self) -> None:
        """A centre's operator: sync when configured; the office (or nobody): no badge."""
        self.stop()
        operator = self.app.operator
        if operator is None or operator.role is Role.EDUCATION_OFFICE:
            self._active = False
            self.grid_remove()
            return
        self.grid()
        # Configured or not is known once the worker job has looked for an address (the saved
        # one may sit in the OS keyring: never read on the Tk thread).
        self._configured = True  # until the job says otherwise: "syncing…", not a false offline
        self._active = True
        self.status = None
        self._paint()
        self.app.when_ready(self._start)

    def address_changed(self) -> None:
        """Settings saved or deleted the district's address: start over with the new one."""
        self.operator_changed()

    def sync_now(self) -> None:
        if self.shown_now is not None:
            self.app.set_status_text(self.shown_now.full)
        if self.worker is not None:
            self.worker.trigger()

    def data_changed(self) -> None:
        """A check-in or an override was stored: ship it now rather than at the next interval
        (the check-in screen may call this like it tells the roster)."""
        if self.worker is not None:
            self.worker.trigger()
        self._read_status()

    def stop(self) -> None:
        """Without waiting: a run in progress finishes its batch on its own thread."""
        self._active = False
        if self._timer is not None:
            self.after_cancel(self._timer)
            self._timer = None
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.on_result = None
            worker.stop(timeout=0)

    # --- the worker -------------------------------------------------------------------------------

    def _start(self) -> None:
        services = self.app.services
        if services is None or self.worker is not None or not self._active:
            return
        store = services.store

        def make() -> SyncWorker | None:
            # None without an address. With one, each run resolves it like `examdesk sync`
            # (variable, then the saved one): a change in Settings needs no new worker.
            return background_sync(store, centre_code=env_centre(), interval=SYNC_INTERVAL_S,
                                   on_result=lambda r: self.app.post(self._result, r))

        def made(worker: SyncWorker | None) -> None:
            if worker is None:
                if self._active and self.worker is None:
                    self._configured = False
                    self._paint()
                return
            if self.app.closed or self.worker is not None or not self._active:
                worker.stop(timeout=0)  # never started: nothing to wait for
                return
            self._configured = True
            self.worker = worker
            worker.start()
            self._refresh()

        def failed(exc: BaseException) -> None:
            self.app.set_status_text(self.app.error_text(exc))

        self.app.run_job(make, done=made, failed=failed)

    def _result(self, result: SyncResult) -> None:
        if self.worker is None:
            return
        self._read_status()

    def _refresh(self) -> None:
        self._timer = None
        if self.worker is None or self.app.closed:
            return
        self._read_status()
        self._timer = self.after(STATUS_EVERY_MS, self._refresh)

    def _read_status(self) -> None:
        worker = self.worker
        if worker is None:
            return

        def got(status: SyncStatus) -> None:
            if worker is self.worker:
                self.status = status
                self._paint()

        self.app.run_job(worker.status, done=got, failed=lambda _e: None)

    # --- drawing ------------------------------------------------------------------------------

    def _paint(self) -> None:
        shown = describe(self.app.texts, self.status, configured=self._configured)
        self.shown_now = shown
        self.configure(text=f" {shown.look.symbol} {shown.short} ",
                       fg_color=shown.look.background, text_color=shown.look.foreground)
        # A new problem goes to the status line once, in full (the badge keeps it short), and
        # so does the recovery, which replaces it.
        if shown.look is FAILED and self.status is not None and self.status.last_error:
            if self.status.last_error.key != self._last_error:
                self.app.set_status_text(shown.full)
            self._last_error = self.status.last_error.key
        elif shown.look is SYNCED and self._last_error is not None:
            self.app.set_status_text(shown.full)
            self._last_error = None

    @property
    def text(self) -> str:
        return str(self.cget("text")).strip()
