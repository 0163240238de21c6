"""The face engine in a child process, so dlib never freezes the window.

dlib holds the GIL for the whole of each call: loading the models stalls every other thread
of the process for ~0.55 s, a chip portrait's padded detection ~0.1 s, a camera frame's
detection and landmarks up to ~0.08 s (measured on 2 cores). On a worker thread that is still
a frozen window, so the GUI gives the check-in a :class:`ProcessFaceEngine`: the same
``FaceEngine`` interface (``detect``, ``landmarks``, ``chip``, ``describe``, ``encode``,
``load``), each call
sent to a child process that holds the real models. Everything else of the check-in
(liveness judgement, quality, fusion, the decision, storage) stays in the caller's thread.

A frame travels once: the landmarks and the encoding of the image just detected reuse the
copy the child already has. It travels through one shared-memory segment per engine, not the
pipe: a 720p frame is 2.7 MB, which the pipe pickled, copied through the kernel in 64 kB
pieces and unpickled on every call (~2–5 ms of CPU on each side, ~15 frames per check-in);
the segment costs one copy in the parent and none in the child, which reads the frame in
place. The parent owns the segment: it is unlinked on ``close``, when the child dies, when a
frame cannot be put in it, and by a finaliser when the engine is dropped unclosed; the child
only maps it. Small images (chips, under ``_SHARED_MIN_BYTES``) still go through the pipe.
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .config import Detection, FaceSettings
from .engine import Embedding, Encoding, Face, FaceEngine
from .errors import BiometricsError
from .geometry import Landmarks
from .images import RgbImage
from .models import ModelPaths

# How often a helper waiting for its engine to be free looks whether the work is already done.
_HELP_POLL_S = 0.02
_SAME_IMAGE = "same-image"  # stands for the image the child received last
# Below this an image is cheaper to pickle than to copy into a segment and describe: a face
# chip (67 kB) goes through the pipe, a camera frame (2.7 MB) or a decoded portrait does not.
_SHARED_MIN_BYTES = 256 * 1024
SEGMENT_PREFIX = "examdesk-faces"
"""Shared-memory segment names start with this, then the parent's pid (``/dev/shm`` on
Linux): a leaked segment is found by name."""


@dataclass(frozen=True, slots=True)
class _SharedImage:
    """An image the parent put in its shared segment: the child maps it by name."""

    segment: str
    shape: tuple[int, ...]
    dtype: str


class _Segment:
    """The parent's segment, grown (a new one, the old unlinked) for a larger image."""

    def __init__(self) -> None:
        self.memory: SharedMemory | None = None

    def put(self, image: np.ndarray[Any, Any]) -> _SharedImage:
        memory = self.memory
        if memory is None or memory.size < image.nbytes:
            self.free()
            name = f"{SEGMENT_PREFIX}-{os.getpid()}-{secrets.token_hex(6)}"
            memory = SharedMemory(name, create=True, size=image.nbytes)
            self.memory = memory
        view: np.ndarray[Any, Any] = np.ndarray(image.shape, image.dtype, buffer=memory.buf)
        try:
            np.copyto(view, image)
        finally:
            del view  # an exported buffer would make close() fail
        return _SharedImage(memory.name, tuple(image.shape), image.dtype.str)

    def free(self) -> None:
        memory, self.memory = self.memory, None
        if memory is None:
            return
        try:
            memory.close()
        finally:
            try:
                memory.unlink()
            except FileNotFoundError:
                pass


class _Mapped:
    """The child's side: the segment the last shared image came in, mapped while in use."""

    def __init__(self) -> None:
        self._memory: SharedMemory | None = None

    def image(self, shared: _SharedImage) -> RgbImage:
        memory = self._memory
        if memory is None or memory.name != shared.segment:
            self.close()
            # Registered with the parent's resource tracker (spawn shares it; registering
            # twice is once), which unlinks it should the parent die without doing so.
            memory = SharedMemory(shared.segment)
            self._memory = memory
        image: RgbImage = np.ndarray(shared.shape, np.dtype(shared.dtype), buffer=memory.buf)
        return image

    def close(self) -> None:
        memory, self._memory = self._memory, None
        if memory is not None:
            memory.close()


class FaceProcessError(BiometricsError):
    """The face process stopped (crashed or was killed); the next call starts a new one."""

    key = "face.process_stopped"


def _serve(conn: Connection, models: ModelPaths | None) -> None:
    """The child: one engine, calls answered in order until "stop" or the pipe closes."""
    engine = FaceEngine(FaceSettings(), models)
    image: RgbImage | None = None
    mapped = _Mapped()
    try:
        while True:
            try:
                op, args = conn.recv()
            except (EOFError, OSError):
                return
            if op == "stop":
                return
            try:
                if args and isinstance(args[0], str) and args[0] == _SAME_IMAGE:
                    args = (image, *args[1:])
                elif args and op not in ("load", "describe_many", "raw_descriptors"):
                    if isinstance(args[0], _SharedImage):
                        image = None  # the old view must go before its segment is unmapped
                        args = (mapped.image(args[0]), *args[1:])
                    image = args[0]
                result = _dispatch(engine, op, args)
            except Exception as exc:  # sent back and raised in the caller's thread
                conn.send((False, _portable(exc)))
            else:
                conn.send((True, result))
    finally:
        image = None
        args = ()
        mapped.close()


def _dispatch(engine: FaceEngine, op: str, args: tuple[Any, ...]) -> Any:
    if op == "load":
        engine.load()
        return None
    if op == "detect":
        return engine.detect(args[0], args[1])
    if op == "landmarks":
        return engine.landmarks(args[0], args[1])
    if op == "chip":
        return engine.chip(args[0], args[1])
    if op == "describe":
        return engine.describe(args[0])
    if op == "describe_many":
        return engine.describe_many(args[0])
    if op == "raw_descriptors":
        return engine.raw_descriptors(args[0])
    if op == "encode":
        return engine.encode(args[0], args[1], jitters=args[2])
    raise ValueError(f"unknown face operation {op!r}")


def _portable(exc: Exception) -> Exception:
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


class ProcessFaceEngine(FaceEngine):
    """A ``FaceEngine`` whose dlib work runs in a child process (started on first use)."""

    def __init__(self, settings: FaceSettings | None = None,
                 models: ModelPaths | None = None, *, shared_memory: bool = True) -> None:
        super().__init__(settings, models)
        self._models_paths = models
        # False: every image through the pipe (the path before shared memory, for comparison).
        self._shared = shared_memory
        self._segment = _Segment()
        # Dropped without close() (a test, a crash of the caller): the segment still goes.
        self._finalizer = weakref.finalize(self, self._segment.free)
        # spawn, not fork: the parent has Tk's X connection and a dozen threads.
        self._context = multiprocessing.get_context("spawn")
        self._call_lock = threading.Lock()
        self._conn: Connection | None = None
        self._process: Any = None
        self._child_image: RgbImage | None = None
        self._remote_loaded = False

    # --- the child ----------------------------------------------------------------------------

    def _connection(self) -> Connection:
        if self._conn is not None and self._process is not None and self._process.is_alive():
            return self._conn
        self._discard()
        ours, theirs = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(theirs, self._models_paths),
                                         name="examdesk-faces", daemon=True)
        process.start()
        theirs.close()
        self._conn, self._process = ours, process
        return ours

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._process = None
        self._child_image = None
        self._remote_loaded = False
        self._segment.free()

    @property
    def segment(self) -> str | None:
        """The name of the shared-memory segment frames travel in (None: none is open)."""
        memory = self._segment.memory
        return None if memory is None else memory.name

    def _call(self, op: str, image: RgbImage | None, *args: Any) -> Any:
        with self._call_lock:
            conn = self._connection()
            payload: tuple[Any, ...]
            if image is None:
                payload = args
            elif image is self._child_image:
                payload = (_SAME_IMAGE, *args)
            elif self._shared and image.nbytes >= _SHARED_MIN_BYTES:
                try:
                    payload = (self._segment.put(image), *args)
                except BaseException:
                    self._segment.free()
                    self._child_image = None
                    raise
            else:
                payload = (image, *args)
            try:
                conn.send((op, payload))
                ok, value = conn.recv()
            except (EOFError, OSError, BrokenPipeError) as exc:
                self._discard()
                raise FaceProcessError(f"the face process stopped: {exc}") from exc
            # Holding a reference keeps the identity check sound (no id() reuse). After a
            # failed call the child may not hold it (a segment it could not map): send again.
            if image is not None:
                self._child_image = image if ok else None
        if not ok:
            raise value
        return value

    def close(self) -> None:
        with self._call_lock:
            if self._conn is not None:
                try:
                    self._conn.send(("stop", ()))
                except OSError:
                    pass
            process = self._process
            self._discard()
        if process is not None:
            process.join(timeout=3)
            if process.is_alive():
                process.terminate()
                process.join(timeout=2)

    @property
    def pid(self) -> int | None:
        """The face process's id while it runs (for measuring its CPU time), else None."""
        process = self._process
        return None if process is None else int(process.pid)

    # --- the FaceEngine interface -----------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._remote_loaded

    def load(self) -> None:
        self._call("load", None)
        self._remote_loaded = True

    def detect(self, image: RgbImage, detection: Detection) -> list[Face]:
        faces: list[Face] = self._call("detect", image, detection)
        return faces

    def landmarks(self, image: RgbImage, face: Face) -> Landmarks:
        points: Landmarks = self._call("landmarks", image, face)
        return points

    def chip(self, image: RgbImage, face: Face) -> RgbImage:
        chip: RgbImage = self._call("chip", image, face)
        return chip

    def describe(self, chip: RgbImage) -> Embedding:
        # The liveness check's identity samples: in the parent this loaded dlib's models and
        # held the GIL for each descriptor (a 251 ms frozen window during a check-in).
        embedding: Embedding = self._call("describe", chip)
        return embedding

    def describe_many(self, chips: list[RgbImage]) -> list[Embedding]:
        # One round trip and one batch for the chips (~67 kB each), not one call per chip.
        if not chips:
            return []
        embeddings: list[Embedding] = self._call("describe_many", None, list(chips))
        return embeddings

    def raw_descriptors(self, chips: list[RgbImage]) -> list[NDArray[np.float64]]:
        if not chips:
            return []
        raw: list[NDArray[np.float64]] = self._call("raw_descriptors", None, list(chips))
        return raw

    def encode(self, image: RgbImage, face: Face, *, jitters: int = 0) -> Encoding:
        encoding: Encoding = self._call("encode", image, face, jitters)
        return encoding


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def portrait_engine(settings: FaceSettings | None = None,
                    models: ModelPaths | None = None) -> ProcessFaceEngine | None:
    """A second face process for the chip portrait of an overlapped check-in (issue 16): dlib
    holds the GIL, so the portrait and the live frames are encoded at once only in two
    processes. None on a single core, where a second process would only take turns with the
    first (the check-in then encodes the portrait on its one engine)."""
    if usable_cores() < 2:
        return None
    return ProcessFaceEngine(settings, models)


def describe_on_two(first: FaceEngine, second: FaceEngine,
                    chips: list[RgbImage]) -> list[Embedding]:
    """``describe_many`` of *chips* spread over two face processes at once (the second takes
    the smaller half on a thread of its own), in order: the numbers are those of one engine,
    the time about half. For the live captures of an overlapped check-in once the chip
    portrait's process is free again (issue 16)."""
    if len(chips) < 2 or second is first:
        return first.describe_many(chips)
    split = (len(chips) + 1) // 2
    theirs: Future[list[Embedding]] = Future()

    def run() -> None:
        try:
            theirs.set_result(second.describe_many(chips[split:]))
        except BaseException as exc:  # raised below, in the caller's thread
            theirs.set_exception(exc)

    helper = threading.Thread(target=run, name="describe-second", daemon=True)
    helper.start()
    try:
        ours = first.describe_many(chips[:split])
    finally:
        helper.join()
    return ours + theirs.result()


def describe_shared(first: FaceEngine, chips: list[RgbImage], *,
                    second: FaceEngine | None = None,
                    second_free: threading.Event | None = None,
                    between: Callable[[], None] | None = None) -> list[NDArray[np.float64]]:
    """Raw descriptors of *chips* (``FaceEngine.raw_descriptors``), in order, one chip per
    call on *first*; *second* takes chips too from the moment *second_free* is set (an
    overlapped check-in's live engine once the camera's work is done, issue 16), so a chip
    portrait's jitters finish on both face processes when both are free, and never make the
    live branch wait behind them while it is not. The numbers are one engine's: each chip is
    described on its own. *between* runs before each of *first*'s chips and may raise to stop
    (a cancelled check-in waits for at most one descriptor per engine, not the whole set)."""
    raw: list[NDArray[np.float64] | None] = [None] * len(chips)
    lock = threading.Lock()
    cursor = [0]

    def take() -> int | None:
        with lock:
            index = cursor[0]
            if index >= len(chips):
                return None
            cursor[0] = index + 1
            return index

    helper: threading.Thread | None = None
    failed: list[BaseException] = []
    if second is not None and second is not first and second_free is not None:
        free = second_free

        def help_out() -> None:
            try:
                while not free.wait(_HELP_POLL_S):
                    with lock:
                        if cursor[0] >= len(chips):
                            return
                while (index := take()) is not None:
                    raw[index] = second.raw_descriptors([chips[index]])[0]
            except BaseException as exc:  # raised below, in the caller's thread
                failed.append(exc)

        helper = threading.Thread(target=help_out, name="describe-helper", daemon=True)
        helper.start()
    try:
        while (index := take()) is not None:
            if between is not None:
                between()
            raw[index] = first.raw_descriptors([chips[index]])[0]
    finally:
        with lock:
            cursor[0] = len(chips)  # on an error: the helper takes no more
        if helper is not None:
            helper.join()
    if failed:
        raise failed[0]
    done = [r for r in raw if r is not None]
    if len(done) != len(chips):
        raise RuntimeError("a chip was left undescribed")
    return done
