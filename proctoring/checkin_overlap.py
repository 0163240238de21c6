"""A check-in's face work begun when the card is placed, while the chip is still on the air
(issue 16).

Nothing about the live face depends on the card: the camera, the quality gate, the liveness
challenge and the live encodings run on one thread from the moment the check-in starts, and the
chip portrait is encoded on ``CheckInService.portrait_engine`` (a second face process when the
computer has the cores) as soon as DG2's last byte arrives; once the live branch has ended its
engine describes the portrait's remaining jittered chips too (with a slow radio the camera's
work is done long before DG2). ``CheckInService.check_in`` then
takes both results and judges them in the same order as when it does the work itself, so the
decision, the evidence and the audit event are those of the sequential check-in.

dlib holds the GIL for a whole call: the two branches overlap only because each engine's work
runs in its own process (the desk's engine is a child process; the command line's is this
process, and the portrait goes to a child).

Stopping: ``stop()`` (the check-in ended, the card failed or was pulled) and the caller's cancel
flag both halt every branch at its next frame or step; ``stop()`` returns when both threads have
ended and the camera is closed. A face call already in a child process runs to its end (it
cannot be interrupted; the portrait's chips are described one per call, so at most one
descriptor per process, ~0.1 s); nothing here stores anything.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from biometrics import BiometricsError, Camera, Challenge, Frame
from biometrics.engine import Embedding
from biometrics.faces import Reference
from biometrics.images import RgbImage
from biometrics.remote import describe_on_two, describe_shared
from reader import lds

from .checkin import (
    CheckInCancelled,
    CheckInService,
    FaceHeadStart,
    LiveCapture,
    Progress,
    Step,
)

log = logging.getLogger(__name__)

# How often a wait looks at the stop flags (not a timing of any result).
_POLL_S = 0.05
# How long stop() waits for a branch: a camera read times out in 2 s, a face call in the
# child ends in well under a second; a branch still running after this is logged, not hung on.
_JOIN_S = 30.0


class Flag(Protocol):
    def is_set(self) -> bool: ...


class Halt:
    """Set when the check-in is over for the branches: the caller's cancel (Esc) or ``set``."""

    def __init__(self, cancel: Flag | None = None) -> None:
        self._cancel = cancel
        self._own = threading.Event()

    def set(self) -> None:
        self._own.set()

    def is_set(self) -> bool:
        return self._own.is_set() or (self._cancel is not None and self._cancel.is_set())


class _Halting:
    """The branch's camera: a halted check-in stops at the next frame."""

    def __init__(self, camera: Camera, halt: Halt) -> None:
        self._camera = camera
        self._halt = halt

    def read(self, timeout: float = 2.0) -> Frame:
        if self._halt.is_set():
            raise CheckInCancelled("the check-in was stopped")
        return self._camera.read(timeout)

    def close(self) -> None:
        self._camera.close()


class HeadStart(FaceHeadStart):
    """Both face branches of one check-in.

    ``open_camera(halt)`` runs on the live branch's thread: it waits for the face models (the
    halt flag stops the wait) and opens the camera; its error is the camera's or the models',
    raised by :meth:`camera_ready` where the sequential check-in would have raised it.
    """

    def __init__(self, service: CheckInService, open_camera: Callable[[Halt], Camera], *,
                 challenge: Challenge | None = None,
                 on_progress: Callable[[Progress], None] | None = None,
                 cancel: Flag | None = None) -> None:
        self._service = service
        self._open_camera = open_camera
        self._challenge = challenge
        self._on_progress = on_progress
        self.halt = Halt(cancel)
        self._lock = threading.Lock()
        self._camera: Camera | None = None
        self._opened: Future[Camera] = Future()
        self._live: Future[LiveCapture] = Future()
        # Set when the live branch has ended: its engine may then help with the portrait.
        self._live_done = threading.Event()
        self._portrait: Future[Reference | BiometricsError] | None = None
        self._portrait_data: bytes | None = None
        self._threads: list[threading.Thread] = []
        self._stopped = False

    # --- starting ------------------------------------------------------------------------------

    def start(self) -> None:
        self._spawn(self._run_live, "checkin-live")

    def file_read(self, name: str, data: bytes) -> None:
        """The reader's ``on_file``: DG2 starts the portrait's encoding. Never raises (the
        card read must not fail for it): data that does not parse is left to the check-in,
        which finds the same problem in ``read_card``'s result."""
        if name != "DG2" or self._portrait is not None or self.halt.is_set():
            return
        try:
            portraits = lds.parse_dg2(data)
            portrait = portraits[0].data if portraits else None
        except Exception:  # the chip's data, unchecked: the sequential path judges it
            return
        if not portrait:
            return
        future: Future[Reference | BiometricsError] = Future()
        with self._lock:
            if self._stopped:
                return
            self._portrait, self._portrait_data = future, bytes(portrait)
        self._spawn(lambda: self._run_portrait(future, bytes(portrait)), "checkin-portrait")

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        with self._lock:
            if self._stopped:
                return
            self._threads.append(thread)
            thread.start()

    # --- the branches ------------------------------------------------------------------------

    def _run_live(self) -> None:
        try:
            self._capture()
        finally:
            self._live_done.set()

    def _capture(self) -> None:
        try:
            camera = self._open_camera(self.halt)
        except BaseException as exc:
            self._opened.set_exception(exc)
            self._live.set_exception(exc)
            return
        with self._lock:
            self._camera = camera
        self._opened.set_result(camera)
        try:
            self._live.set_result(self._service.capture_live(
                _Halting(camera, self.halt), self._challenge, self._step,
                describe=self._describe))
        except BaseException as exc:  # handed to check_in, which raises it where it waits
            self._live.set_exception(exc)

    def _run_portrait(self, future: Future[Reference | BiometricsError], data: bytes) -> None:
        try:
            self._halted()
            future.set_result(self._service.encode_portrait(
                data, self._service.portrait_engine, describe=self._describe_portrait))
        except BaseException as exc:
            future.set_exception(exc)

    def _describe_portrait(self, chips: list[RgbImage]) -> list[NDArray[np.float64]]:
        """The portrait's jittered chips on its own engine, and on the live one too once the
        camera's work is done (with the radio, the live branch ends long before the chip
        read: the portrait's ~0.7 s of descriptors then take about half that)."""
        engine, live = self._service.portrait_engine, self._service.engine
        return describe_shared(engine, chips, second=None if live is engine else live,
                               second_free=self._live_done, between=self._halted)

    def _halted(self) -> None:
        if self.halt.is_set():
            raise CheckInCancelled("the check-in was stopped")

    def _describe(self, chips: list[RgbImage]) -> list[Embedding]:
        """The live captures' chips described on the live engine, and on the portrait's too
        when it has finished the portrait (the same numbers either way; about half the time:
        the portrait takes less than the liveness challenge and the captures together)."""
        engine, second = self._service.engine, self._service.portrait_engine
        future = self._portrait
        if second is engine or future is None or not future.done() or self.halt.is_set():
            return engine.describe_many(chips)
        return describe_on_two(engine, second, chips)

    def _step(self, step: Step, key: str, **context: Any) -> None:
        if self.halt.is_set():
            raise CheckInCancelled("the check-in was stopped")
        if self._on_progress is not None:
            self._on_progress(Progress(step, key, context))

    # --- what check_in takes -----------------------------------------------------------------

    def camera_ready(self) -> Camera:
        """The opened camera (waiting for the models and the camera, as the sequential check-in
        does before its first frame); their error is raised here."""
        return self._wait(self._opened)

    def portrait(self, data: bytes) -> Reference | BiometricsError | None:
        future = self._portrait
        if future is None or data != self._portrait_data:
            return None
        return self._wait(future)

    def live(self) -> LiveCapture:
        return self._wait(self._live)

    def _wait(self, future: Future[Any]) -> Any:
        while True:
            try:
                return future.result(timeout=_POLL_S)
            except FutureTimeout:
                if self.halt.is_set():
                    raise CheckInCancelled("the invigilator cancelled the check-in") from None

    # --- stopping ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Halt both branches, wait for their threads and close the camera. Idempotent."""
        self.halt.set()
        with self._lock:
            self._stopped = True
            threads = list(self._threads)
        for thread in threads:
            thread.join(_JOIN_S)
            if thread.is_alive():
                log.warning("check-in branch %s still running after %.0f s", thread.name,
                            _JOIN_S)
        with self._lock:
            camera, self._camera = self._camera, None
        if camera is not None:
            camera.close()

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        with self._lock:
            return tuple(self._threads)
