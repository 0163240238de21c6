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
copy the child already has (~2.7 MB per 720p frame, ~2 ms through the pipe).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import Future
from multiprocessing.connection import Connection
from typing import Any

from .config import Detection, FaceSettings
from .engine import Embedding, Encoding, Face, FaceEngine
from .errors import BiometricsError
from .geometry import Landmarks
from .images import RgbImage
from .models import ModelPaths

_SAME_IMAGE = "same-image"  # stands for the image the child received last


class FaceProcessError(BiometricsError):
    """The face process stopped (crashed or was killed); the next call starts a new one."""

    key = "face.process_stopped"


def _serve(conn: Connection, models: ModelPaths | None) -> None:
    """The child: one engine, calls answered in order until "stop" or the pipe closes."""
    engine = FaceEngine(FaceSettings(), models)
    image: RgbImage | None = None
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
            elif args and op not in ("load", "describe_many"):
                image = args[0]
            result = _dispatch(engine, op, args)
        except Exception as exc:  # sent back and raised in the caller's thread
            conn.send((False, _portable(exc)))
        else:
            conn.send((True, result))


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
                 models: ModelPaths | None = None) -> None:
        super().__init__(settings, models)
        self._models_paths = models
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

    def _call(self, op: str, image: RgbImage | None, *args: Any) -> Any:
        with self._call_lock:
            conn = self._connection()
            payload: tuple[Any, ...]
            if image is None:
                payload = args
            elif image is self._child_image:
                payload = (_SAME_IMAGE, *args)
            else:
                payload = (image, *args)
            try:
                conn.send((op, payload))
                ok, value = conn.recv()
            except (EOFError, OSError, BrokenPipeError) as exc:
                self._discard()
                raise FaceProcessError(f"the face process stopped: {exc}") from exc
            # Holding a reference keeps the identity check sound (no id() reuse).
            if image is not None:
                self._child_image = image
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
