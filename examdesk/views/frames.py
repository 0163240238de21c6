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
    """Reads one camera continuously; hands out the newest frame to any number of readers."""

    def __init__(self, preview_size: tuple[int, int] = PREVIEW_SIZE) -> None:
        self.preview_size = preview_size
        self._cond = threading.Condition()
        self._newest: HubFrame | None = None
        self._seq = 0
        self._generation_start = 1  # first frame number of the current camera
        self._pending: CameraFactory | None = None
        self._error: BiometricsError | None = None
        self._stop = False
        self._thread: threading.Thread | None = None

    # --- the camera -------------------------------------------------------------------------

    def switch(self, factory: CameraFactory) -> None:
        """Use another camera from now on; it is opened on the hub thread (opening a webcam
        can take a second). Frames taken before the switch are never handed out again."""
        with self._cond:
            self._pending = factory
            self._error = None
            self._newest = None
            self._generation_start = self._seq + 1
            self._cond.notify_all()
            if self._thread is None:
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
        try:
            while True:
                with self._cond:
                    if self._stop:
                        return
                    factory, self._pending = self._pending, None
                if factory is not None:
                    if camera is not None:
                        camera.close()
                        camera = None
                    camera = self._open(factory)
                if camera is None:
                    with self._cond:
                        if not self._stop and self._pending is None:
                            self._cond.wait(0.5)
                    continue
                try:
                    frame = camera.read(1.0)
                except CameraUnavailable as exc:
                    camera.close()
                    camera = None
                    self._fail(exc)
                    continue
                preview = fit_preview(frame.image, self.preview_size)
                with self._cond:
                    if self._pending is not None:
                        continue  # taken by the camera being replaced
                    self._seq += 1
                    self._newest = HubFrame(Frame(frame.image, self._seq, frame.timestamp),
                                            preview)
                    self._cond.notify_all()
        finally:
            if camera is not None:
                camera.close()

    def _open(self, factory: CameraFactory) -> Camera | None:
        try:
            return factory()
        except BiometricsError as exc:
            self._fail(exc)
            return None

    def _fail(self, exc: BiometricsError) -> None:
        with self._cond:
            self._error = exc
            self._cond.notify_all()

    # --- readers ----------------------------------------------------------------------------

    def newest(self) -> HubFrame | None:
        """The newest frame (or None yet): the preview polls this, it never waits."""
        with self._cond:
            return self._newest

    def wait_newer(self, after: int, timeout: float) -> HubFrame:
        """The newest frame numbered above ``after``; ``CameraUnavailable`` when the camera
        failed or nothing came within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                newest = self._newest
                if newest is not None and newest.frame.index > after:
                    return newest
                if self._error is not None:
                    raise CameraUnavailable(self._error.detail, **self._error.context)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop:
                    raise CameraUnavailable(f"no frame from the camera in {timeout:g} s")
                self._cond.wait(remaining)

    def reader(self) -> HubReader:
        """A ``Camera`` for the check-in: only frames of the current camera, each once."""
        return HubReader(self, self.generation_start - 1)


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
