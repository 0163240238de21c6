"""One camera, several readers: the live preview and the check-in share the newest frame.

A webcam can be opened once; the preview wants every frame it can show and the check-in wants
frames it has not measured yet. The hub owns the camera on its own thread, keeps only the
newest frame (never a backlog: a reader that was busy gets the newest one, not a queue of old
ones), numbers frames itself (so a camera switched in the demo continues the numbering) and
makes the small preview picture there, off the Tk thread.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from biometrics import BiometricsError, Camera, CameraUnavailable, Frame
from biometrics.images import RgbImage
from examdesk.services.camera import camera_opener

CameraFactory = Callable[[], Camera]
PREVIEW_SIZE = (416, 234)  # 16:9, fits the check-in screen at 1366×768


@dataclass(frozen=True, slots=True)
class HubFrame:
    frame: Frame  # index: the hub's own running number
    preview: RgbImage  # downscaled to fit PREVIEW_SIZE


def fit_preview(image: RgbImage, size: tuple[int, int] = PREVIEW_SIZE) -> RgbImage:
    """Exactly ``size``: scaled to fit (aspect kept), black bars around. Done on the hub thread
    (cv2 releases the GIL), so the Tk thread only copies the pixels into its picture."""
    w, h = size
    scale = min(w / image.shape[1], h / image.shape[0])
    sw = max(1, min(w, round(image.shape[1] * scale)))
    sh = max(1, min(h, round(image.shape[0] * scale)))
    scaled = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
    left, top = (w - sw) // 2, (h - sh) // 2
    out = cv2.copyMakeBorder(scaled, top, h - sh - top, left, w - sw - left,
                             cv2.BORDER_CONSTANT, value=(0, 0, 0))
    return np.ascontiguousarray(out, dtype=np.uint8)


class FrameHub:
    """Reads one camera continuously; hands out the newest frame to any number of readers.

    The hub's thread never dies of a camera's fault: whatever a camera raises becomes the
    hub's error (a ``CameraUnavailable`` for the readers) and the thread waits for the next
    camera. Without that, one odd exception left every later check-in with "no picture from
    the camera" until the app restarted.
    """

    OPEN_GRACE_S = 10.0  # a webcam may take seconds to open: readers wait for its first frame

    def __init__(self, preview_size: tuple[int, int] = PREVIEW_SIZE) -> None:
        self.preview_size = preview_size
        self._cond = threading.Condition()
        self._newest: HubFrame | None = None
        self._seq = 0
        self._generation = 0  # one per switch: a failure of a replaced camera is not news
        self._generation_start = 1  # first frame number of the current camera
        self._pending: CameraFactory | None = None
        self._opening = False
        self._error: BiometricsError | None = None
        self._stop = False
        self._thread: threading.Thread | None = None

    # --- the camera -------------------------------------------------------------------------

    def switch(self, factory: CameraFactory) -> None:
        """Use another camera from now on; it is opened on the hub thread (opening a webcam
        can take a second). Frames taken before the switch are never handed out again."""
        with self._cond:
            self._pending = factory
            self._generation += 1
            self._error = None
            self._newest = None
            self._generation_start = self._seq + 1
            self._cond.notify_all()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="frame-hub", daemon=True)
                self._thread.start()

    @property
    def generation_start(self) -> int:
        with self._cond:
            return self._generation_start

    @property
    def error(self) -> BiometricsError | None:
        with self._cond:
            return self._error

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        camera: Camera | None = None
        generation = 0
        try:
            while True:
                with self._cond:
                    if self._stop:
                        return
                    factory, self._pending = self._pending, None
                    if factory is not None:
                        generation = self._generation
                        self._opening = True
                if factory is not None:
                    if camera is not None:
                        _close_quietly(camera)
                        camera = None
                    camera = self._open(factory, generation)
                if camera is None:
                    with self._cond:
                        if not self._stop and self._pending is None:
                            self._cond.wait(0.5)
                    continue
                try:
                    frame = camera.read(1.0)
                    preview = fit_preview(frame.image, self.preview_size)
                except Exception as exc:  # any camera fault is the readers' error
                    _close_quietly(camera)
                    camera = None
                    self._fail(_unavailable(exc), generation)
                    continue
                with self._cond:
                    if self._pending is not None:
                        continue  # taken by the camera being replaced
                    self._seq += 1
                    self._newest = HubFrame(Frame(frame.image, self._seq, frame.timestamp),
                                            preview)
                    self._error = None  # the camera delivers again
                    self._opening = False  # its first frame is in: the per-frame time-out rules
                    self._cond.notify_all()
        finally:
            if camera is not None:
                _close_quietly(camera)

    def _open(self, factory: CameraFactory, generation: int) -> Camera | None:
        try:
            camera: Camera | None = factory()
        except Exception as exc:  # a camera that cannot open: an error, not a crash
            camera = None
            self._fail(_unavailable(exc), generation)
        return camera

    def _fail(self, exc: BiometricsError, generation: int) -> None:
        with self._cond:
            if generation != self._generation:
                return  # the camera that failed was already replaced
            self._error = exc
            self._opening = False
            self._cond.notify_all()

    # --- readers ----------------------------------------------------------------------------

    def newest(self) -> HubFrame | None:
        """The newest frame (or None yet): the preview polls this, it never waits."""
        with self._cond:
            return self._newest

    def wait_newer(self, after: int, timeout: float) -> HubFrame:
        """The newest frame numbered above ``after``; ``CameraUnavailable`` when the camera
        failed or nothing came within ``timeout`` seconds (a camera still opening gets up to
        ``OPEN_GRACE_S`` for its first frame)."""
        start = time.monotonic()
        with self._cond:
            while True:
                newest = self._newest
                if newest is not None and newest.frame.index > after:
                    return newest
                if self._error is not None:
                    raise CameraUnavailable(self._error.detail, **self._error.context)
                if self._stop:
                    raise CameraUnavailable("the camera was closed")
                opening = self._opening or self._pending is not None
                waited = time.monotonic() - start
                limit = max(timeout, self.OPEN_GRACE_S) if opening else timeout
                if waited >= limit:
                    raise CameraUnavailable(self._silence(waited, newest))
                # Wake at least every half second: the camera may finish opening meanwhile.
                self._cond.wait(min(limit - waited, 0.5))

    def _silence(self, waited: float, newest: HubFrame | None) -> str:
        """Why a reader got nothing, for the log (the screen says it in words)."""
        alive = self._thread is not None and self._thread.is_alive()
        last = (f"the last frame came {time.monotonic() - newest.frame.timestamp:.1f} s ago"
                if newest is not None else "no frame since the camera was switched")
        return (f"no frame from the camera in {waited:.1f} s ({last}; "
                f"hub thread {'running' if alive else 'stopped'})")

    def reader(self) -> HubReader:
        """A ``Camera`` for the check-in: only frames of the current camera, each once."""
        return HubReader(self, self.generation_start - 1)


def _unavailable(exc: Exception) -> BiometricsError:
    if isinstance(exc, BiometricsError):
        return exc
    return CameraUnavailable(f"the camera failed: {type(exc).__name__}: {exc}")


def _close_quietly(camera: Camera) -> None:
    try:
        camera.close()
    except Exception:  # closing a broken camera must not stop the hub
        pass


class HubReader:
    """The ``biometrics.Camera`` protocol over the hub; closing it leaves the camera open."""

    def __init__(self, hub: FrameHub, after: int) -> None:
        self._hub = hub
        self._last = after
        self._closed = False

    def read(self, timeout: float = 2.0) -> Frame:
        if self._closed:
            raise CameraUnavailable("camera reader closed")
        got = self._hub.wait_newer(self._last, timeout)
        self._last = got.frame.index
        return got.frame

    def close(self) -> None:
        self._closed = True


def camera_label(setting: str) -> str:
    """Short enough for the status line: "0", "lop-12a.mp4", "1.png +6"."""
    sources = [s for s in setting.split(os.pathsep) if s.strip()]
    if not sources:
        return "—"
    first = Path(sources[0]).name or sources[0]
    return first if len(sources) == 1 else f"{first} +{len(sources) - 1}"


def camera_factory(setting: str) -> Callable[[], Camera]:
    """The camera setting as the command line reads it (``--camera``), for the hub: it reads
    continuously, so files are paced like a webcam (see ``services.camera``)."""
    return camera_opener(setting, continuous=True)
