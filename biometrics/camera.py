"""Where live frames come from: a webcam (OpenCV), or a video file / an image folder.

Frames are handed out as RGB arrays (the layout the rest of the package uses), newest first:
a check-in never wants a frame that queued up while the encoder was busy.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from .errors import CameraUnavailable, ImageUnreadable
from .images import RgbImage, fit_frame, from_bgr, load

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".webp")
STILL_FRAME = (1280, 720)  # stills played as a camera are fitted into webcam-sized frames


@dataclass(frozen=True, slots=True)
class Frame:
    image: RgbImage
    index: int
    """Counts frames delivered by the device since it was opened (gaps = frames skipped)."""
    timestamp: float
    """time.monotonic() when the frame was grabbed."""
    timed: bool = True
    """False: the source has no clock of its own (a file camera not paced to a frame rate
    hands out the next picture when asked), so the timestamp says when the frame was read,
    not when it was seen; the liveness check then times frames by their number instead."""


@runtime_checkable
class Camera(Protocol):
    def read(self, timeout: float = 2.0) -> Frame:
        """The newest frame not yet returned; waits up to *timeout* seconds for one.
        Raises ``CameraUnavailable`` when the camera is gone and cannot be reopened."""
        ...

    def close(self) -> None: ...


class _Closing:
    def close(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self: Any) -> Any:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def frames(self: Any, count: int, timeout: float = 2.0) -> Iterator[Frame]:
        for _ in range(count):
            yield self.read(timeout)


# --- a webcam ---------------------------------------------------------------------------------


class Capture(Protocol):
    """The part of ``cv2.VideoCapture`` we use (the system edge a test may replace)."""

    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, Any]: ...
    def release(self) -> None: ...


CaptureFactory = Callable[[int | str], Capture]


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV logs its own "[ WARN…]" / "[ERROR…]" lines on stderr when a device or file does not
    open; we raise a typed error that says it in words, so its log is silenced meanwhile."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def _device_missing(number: int) -> bool:
    """On Linux a webcam is /dev/videoN: none there means no camera with that number."""
    return sys.platform.startswith("linux") and not Path(f"/dev/video{number}").exists()


def check_sources(spec: str | Sequence[str]) -> None:
    """Say what is wrong with a camera setting before anything else is done (a card read):
    a device number with no camera, a path that does not exist, a folder without pictures.
    Opens nothing; :func:`open_camera` still reports what only opening can find."""
    sources = _sources(spec)
    if len(sources) == 1 and sources[0].strip().isdigit():
        number = int(sources[0])
        if _device_missing(number):
            raise CameraUnavailable(f"no /dev/video{number}", reason="no_device",
                                    source=str(number))
        return
    for source in sources:
        path = Path(source)
        if not path.exists():
            raise CameraUnavailable(f"{path} does not exist", reason="missing_path",
                                    source=str(path))
        if path.is_dir() and not any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
            raise CameraUnavailable(f"no images in {path}", reason="no_images", source=str(path))


def _sources(spec: str | Sequence[str]) -> list[str]:
    if isinstance(spec, str):
        return spec.split(os.pathsep) if os.pathsep in spec else [spec]
    return list(spec)


def _open_capture(source: int | str) -> Capture:
    with _quiet_opencv():
        capture = cv2.VideoCapture(source)
    if isinstance(source, int):
        # A webcam buffers several frames by default; keep one so "newest" is really new.
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    return capture


class OpenCvCamera(_Closing):
    """A ``cv2.VideoCapture`` read continuously on its own thread; ``read()`` returns the newest
    frame. After ``max_failures`` failed reads in a row (the camera was unplugged, the driver
    hung) it reopens the device, up to ``reconnect_attempts`` times ``reconnect_delay`` apart;
    when that fails too, ``read()`` raises ``CameraUnavailable``.
    """

    def __init__(self, source: int | str = 0, *, max_failures: int = 5,
                 reconnect_attempts: int = 3, reconnect_delay: float = 0.5,
                 capture_factory: CaptureFactory = _open_capture) -> None:
        self.source = source
        self.max_failures = max_failures
        self.reconnect_attempts = reconnect_attempts
        self.reconnect_delay = reconnect_delay
        self.reconnects = 0
        self._factory = capture_factory
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._delivered = -1
        self._error: CameraUnavailable | None = None
        self._stop = threading.Event()
        self._capture = self._open()  # fails here, in the caller's thread, if there is no camera
        self._thread = threading.Thread(target=self._run, name=f"camera-{source}", daemon=True)
        self._thread.start()

    def _open(self) -> Capture:
        capture = self._factory(self.source)
        if not capture.isOpened():
            capture.release()
            raise CameraUnavailable(f"cannot open camera {self.source!r}",
                                    reason="no_device" if isinstance(self.source, int) else "",
                                    source=str(self.source))
        return capture

    def _run(self) -> None:
        index = 0
        failures = 0
        while not self._stop.is_set():
            ok, bgr = self._capture.read()
            if ok and bgr is not None:
                failures = 0
                try:
                    frame = Frame(from_bgr(np.asarray(bgr)), index, time.monotonic())
                except ImageUnreadable:
                    ok = False
                else:
                    index += 1
                    with self._cond:
                        self._latest = frame
                        self._cond.notify_all()
                    continue
            failures += 1
            if failures < self.max_failures:
                time.sleep(0.01)
                continue
            if not self._reconnect():
                return
            failures = 0

    def _reconnect(self) -> bool:
        self._capture.release()
        last = ""
        for _ in range(self.reconnect_attempts):
            if self._stop.wait(self.reconnect_delay):
                return False
            try:
                self._capture = self._open()
            except CameraUnavailable as exc:
                last = exc.detail
                continue
            self.reconnects += 1
            return True
        with self._cond:
            self._error = CameraUnavailable(
                f"camera {self.source!r} stopped delivering frames and could not be reopened "
                f"({self.reconnect_attempts} attempts): {last}",
                source=str(self.source),
            )
            self._cond.notify_all()
        return False

    def read(self, timeout: float = 2.0) -> Frame:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                latest = self._latest
                if latest is not None and latest.index > self._delivered:
                    self._delivered = latest.index
                    return latest
                if self._error is not None:
                    raise self._error
                if self._stop.is_set():
                    raise CameraUnavailable("camera closed", source=str(self.source))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CameraUnavailable(f"no frame from camera {self.source!r} in "
                                            f"{timeout:g} s", source=str(self.source))
                self._cond.wait(remaining)

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._capture.release()


# --- files ------------------------------------------------------------------------------------


class FileCamera(_Closing):
    """A video file, a folder of images or a list of image files, played as camera frames.

    ``frame_size`` fits each still into a webcam-sized frame (see ``images.fit_frame``).
    ``sensor_noise`` adds what every webcam adds, a grey level or two of noise that changes
    each frame: without it a still shown twice is a bit-for-bit copy, which the liveness check
    rightly takes for a frozen or replayed feed (a looping demo then passed or failed by which
    frames a busy reader happened to skip). Stills only: a video's frames carry their own.
    ``loop`` restarts at the end instead of failing; ``fail_at=k`` raises
    ``CameraUnavailable`` when frame k is asked for, as if the webcam had been unplugged.
    Frames are decoded one at a time: a long video is never held in memory.
    """

    def __init__(self, source: str | Path | Sequence[str | Path], *, loop: bool = False,
                 fail_at: int | None = None, fps: float | None = None,
                 frame_size: tuple[int, int] | None = None, sensor_noise: bool = False,
                 seed: int = 0) -> None:
        playlist = None if isinstance(source, str | Path) else [Path(p) for p in source]
        self.source = Path(source) if isinstance(source, str | Path) else Path("<playlist>")
        self.loop = loop
        self.fail_at = fail_at
        self.frame_size = frame_size
        self.fps = fps  # None: as fast as the reader asks
        self.sensor_noise = sensor_noise
        self._noise = np.random.default_rng(seed) if sensor_noise else None
        self._interval = 1.0 / fps if fps else 0.0
        self._next_time = time.monotonic()
        self._index = 0
        self._closed = False
        if playlist is not None or self.source.is_dir():
            self._images = playlist if playlist is not None else sorted(
                p for p in self.source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self._images:
                raise CameraUnavailable(f"no images in {self.source}", reason="no_images",
                                        source=str(self.source))
            self._video: Any = None
            self._order = itertools.cycle(self._images) if loop else iter(self._images)
        elif self.source.is_file():
            self._images = []
            self._video = self._open_video()
        else:
            raise CameraUnavailable(f"{self.source} does not exist", reason="missing_path",
                                    source=str(self.source))

    def _open_video(self) -> Any:
        with _quiet_opencv():
            video = cv2.VideoCapture(str(self.source))
        if not video.isOpened():
            video.release()
            raise CameraUnavailable(f"cannot play {self.source}", reason="cannot_play",
                                    source=str(self.source))
        return video

    def read(self, timeout: float = 2.0) -> Frame:
        if self._closed:
            raise CameraUnavailable("camera closed", source=str(self.source))
        if self.fail_at is not None and self._index >= self.fail_at:
            raise CameraUnavailable(f"{self.source} unplugged at frame {self._index}",
                                    source=str(self.source), frame=self._index)
        if self._interval:
            # Play at the requested rate, as a camera would deliver.
            delay = self._next_time - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._next_time = max(self._next_time, time.monotonic() - self._interval)
            self._next_time += self._interval
        image = self._next_image()
        if self.frame_size is not None:
            image = fit_frame(image, self.frame_size)
        if self._noise is not None and self._video is None:
            image = add_sensor_noise(image, self._noise)
        frame = Frame(image, self._index, time.monotonic(), timed=bool(self._interval))
        self._index += 1
        return frame

    def _next_image(self) -> RgbImage:
        if self._video is None:
            path = next(self._order, None)
            if path is None:
                raise CameraUnavailable(f"end of {self.source}", source=str(self.source))
            try:
                return load(path)
            except ImageUnreadable as exc:
                raise CameraUnavailable(f"bad frame {path.name}: {exc.detail}",
                                        source=str(self.source)) from exc
        ok, bgr = self._video.read()
        if not ok and self.loop:
            self._video.release()
            self._video = self._open_video()
            ok, bgr = self._video.read()
        if not ok or bgr is None:
            raise CameraUnavailable(f"end of {self.source}", source=str(self.source))
        return from_bgr(np.asarray(bgr))

    def close(self) -> None:
        self._closed = True
        if self._video is not None:
            self._video.release()


def add_sensor_noise(image: RgbImage, rng: np.random.Generator) -> RgbImage:
    """Each pixel of each channel moved by -1, 0 or +1 grey level (saturating at 0 and 255):
    a webcam's noise floor, far below what a detector or the landmarks notice, yet no two
    frames alike. Integer noise and cv2's saturating arithmetic: a few ms for a 1280×720 frame
    (Gaussian floats take ~60 ms)."""
    noise = rng.integers(0, 3, image.shape, dtype=np.uint8)
    one = np.ones_like(image)  # a per-pixel array: cv2 takes a bare 1 for the first channel only
    return np.ascontiguousarray(cv2.subtract(cv2.add(image, noise), one))


def open_camera(spec: str | Sequence[str], *, fps: float | None = None,
                sensor_noise: bool = False) -> Camera:
    """The camera a setting (sources joined by ``os.pathsep``) or ``--camera`` (a list) names,
    for the command line and the desk alike: a device number (0, 1, …) is a webcam; a folder, a
    video or several image files play as a camera (stills are fitted into 1280×720 frames, as a
    webcam would deliver, and loop until the check-in is done). ``fps`` paces files like a
    webcam, for a reader that reads continuously and would otherwise decode as fast as it can;
    ``sensor_noise`` gives stills a webcam's noise (see :class:`FileCamera`)."""
    sources = _sources(spec)
    if len(sources) == 1 and sources[0].strip().isdigit():
        return OpenCvCamera(int(sources[0]))
    if len(sources) == 1 and Path(sources[0]).is_file() \
            and Path(sources[0]).suffix.lower() not in IMAGE_SUFFIXES:
        return FileCamera(sources[0], fps=fps)
    source: str | list[Path] = sources[0] if len(sources) == 1 else [Path(s) for s in sources]
    return FileCamera(source, loop=True, fps=fps, frame_size=STILL_FRAME,
                      sensor_noise=sensor_noise)
