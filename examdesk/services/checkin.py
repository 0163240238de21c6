"""One check-in, for the command line and the desk alike: card → trust → face → decision → store.

:func:`run_checkin` is the only place the steps are put in order. What happens is told to a
:class:`CheckInListener` (the CLI prints progress lines, the desk posts to its Tk thread); a
``cancel`` Event stops it between steps and at the next camera frame; the face models may still
be loading when the card is read, and are waited for (an Event or a Future) only before the
camera is needed.

With the candidate's consent the face work overlaps the card read (issue 16,
``proctoring.checkin_overlap``): the camera, the liveness challenge and the live encodings
start with the read, the chip portrait is encoded as soon as DG2 arrives, and the decision
waits only for what is still running when the chip's last answer comes. The decision, the
evidence and the audit event are those of the check-in done one step after the other
(``overlap=False``, which a check-in without consent always is: no camera before consent).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Protocol

from biometrics import Camera, Challenge, Frame
from proctoring.checkin import (
    CardRejected,
    CheckInCancelled,
    CheckInOutcome,
    CheckInService,
    Progress,
)
from proctoring.checkin_overlap import Flag, HeadStart
from proctoring.models import ExamSession, Stage
from reader.access import AccessKey
from reader.errors import ReaderError, is_card_fault
from reader.session import CardRead, FileRead, read_card
from reader.trust.report import TrustReport

from .cards import CardSource
from .trust import TrustFiles

# How often a wait for the face models looks at the cancel flag (not a timing of the result).
_POLL_S = 0.2

ModelsReady = threading.Event | Future[Any] | None


@dataclass(frozen=True)
class CheckInRequest:
    session: ExamSession
    keys: tuple[AccessKey, ...]
    consent: bool
    actor: str
    stage: Stage | None = None
    challenge: Challenge | None = None  # None: a random one (the demo's photos can only blink)
    operator_id: uuid.UUID | None = None
    card_wait: float = 5.0  # seconds to wait for a card on the reader
    # Chosen by the caller (the desk) so that a retry after a lost acknowledgement (the centre
    # committed, the answer never came back) stores nothing twice: None, a fresh one.
    checkin_id: uuid.UUID | None = None


class CheckInListener(Protocol):
    """Told what happens, on the thread that runs the check-in."""

    def reading(self, file: str, done: int, total: int) -> None: ...
    def card_read(self, card: CardRead, trust: TrustReport) -> None: ...
    def progress(self, progress: Progress) -> None: ...


class QuietListener:
    """A listener that wants to hear nothing (a caller overrides what it shows)."""

    def reading(self, file: str, done: int, total: int) -> None:
        return None

    def card_read(self, card: CardRead, trust: TrustReport) -> None:
        return None

    def progress(self, progress: Progress) -> None:
        return None


class StopsOnCancel:
    """The check-in's camera: cancelling stops the liveness check and the face capture at the
    next frame, not only between the service's steps (a liveness check reads up to 45 frames)."""

    def __init__(self, camera: Camera, cancel: Flag) -> None:
        self._camera = camera
        self._cancel = cancel

    def read(self, timeout: float = 2.0) -> Frame:
        _stop_if(self._cancel)
        return self._camera.read(timeout)

    def close(self) -> None:
        self._camera.close()


def _stop_if(cancel: Flag) -> None:
    if cancel.is_set():
        raise CheckInCancelled("the invigilator cancelled the check-in")


def wait_for_models(ready: ModelsReady, cancel: Flag) -> None:
    """Until the face models are loaded (a failed load raises its own error); cancellable."""
    if ready is None:
        return
    if isinstance(ready, threading.Event):
        while not ready.wait(_POLL_S):
            _stop_if(cancel)
        return
    while True:
        try:
            ready.result(timeout=_POLL_S)
            return
        except FutureTimeout:
            _stop_if(cancel)


def read_checked_card(request: CheckInRequest, *, cards: CardSource, service: CheckInService,
                      listener: CheckInListener, on_file: FileRead | None = None) -> CardRead:
    """The card on the reader, read with ``request.keys``. A card whose own data makes the read
    fail (a forged or broken chip) is recorded — a REJECT check-in and a FORGED_CARD incident —
    and raised as :class:`CardRejected`; any other reader error (the key, the reader, the link)
    is raised as it is, with nothing stored. ``on_file`` hears each file as it arrives."""
    transport = cards.open(request.card_wait)
    try:
        return read_card(transport, list(request.keys), progress=listener.reading,
                         on_file=on_file)
    except ReaderError as exc:
        if not is_card_fault(exc):
            raise
        rejected = service.record_rejected_card(
            request.session, exc, actor=request.actor, consent=request.consent,
            stage=request.stage, operator_id=request.operator_id, checkin_id=request.checkin_id)
        raise CardRejected(exc.detail, exc, already_admitted=rejected.already_admitted,
                           checkin_id=rejected.checkin_id,
                           incident_id=rejected.incident_id, card_error=exc.key) from exc
    finally:
        transport.close()


def run_checkin(request: CheckInRequest, *, cards: CardSource, trust: TrustFiles,
                service: CheckInService, camera: Callable[[], Camera],
                models_ready: ModelsReady = None, listener: CheckInListener | None = None,
                cancel: threading.Event | None = None, overlap: bool = True) -> CheckInOutcome:
    """Check one candidate in: read and record the card, assess it against the trust files,
    wait for the face models, open the camera (``camera()``) and let ``service`` decide and
    store. Returns the stored outcome; raises :class:`CardRejected` (stored),
    :class:`CheckInCancelled` (nothing stored) or the typed error of the step that failed.

    With consent and ``overlap`` (the default) the camera opens and the face work starts with
    the card read (see the module's notes); every branch has stopped and the camera is closed
    when this returns or raises. Otherwise the camera opens after the card, so a reader problem
    never holds a webcam."""
    listener = listener or QuietListener()
    cancel = cancel or threading.Event()
    if not (overlap and request.consent):
        return _one_after_another(request, cards=cards, trust=trust, service=service,
                                  camera=camera, models_ready=models_ready, listener=listener,
                                  cancel=cancel)
    # The centre's own policy file, checked before any camera opens: a mistyped file is the
    # centre's problem, said at once, and never a candidate filmed for nothing.
    trust.policy()

    def open_camera(halt: Flag) -> Camera:
        wait_for_models(models_ready, halt)
        _stop_if(halt)
        return camera()

    head = HeadStart(service, open_camera, challenge=request.challenge,
                     on_progress=listener.progress, cancel=cancel)
    head.start()
    try:
        card = read_checked_card(request, cards=cards, service=service, listener=listener,
                                 on_file=head.file_read)
        report = trust.assess(card)
        listener.card_read(card, report)
        _stop_if(cancel)
        feed = StopsOnCancel(head.camera_ready(), cancel)
        return service.check_in(request.session, card, report, feed, consent=request.consent,
                                stage=request.stage, operator_id=request.operator_id,
                                actor=request.actor, challenge=request.challenge,
                                on_progress=listener.progress, cancel=cancel,
                                checkin_id=request.checkin_id, head_start=head)
    finally:
        head.stop()


def _one_after_another(request: CheckInRequest, *, cards: CardSource, trust: TrustFiles,
                       service: CheckInService, camera: Callable[[], Camera],
                       models_ready: ModelsReady, listener: CheckInListener,
                       cancel: threading.Event) -> CheckInOutcome:
    """The check-in before issue 16, each step after the last: the card, the trust verdict,
    the models, the camera, the portrait, the liveness challenge, the live frames."""
    card = read_checked_card(request, cards=cards, service=service, listener=listener)
    report = trust.assess(card)
    listener.card_read(card, report)
    _stop_if(cancel)
    # The models load at start-up (the desk) or while the card is read (the command line);
    # a check-in that gets here first waits on its own thread, never on a UI thread.
    wait_for_models(models_ready, cancel)
    feed = StopsOnCancel(camera(), cancel)
    try:
        return service.check_in(request.session, card, report, feed, consent=request.consent,
                                stage=request.stage, operator_id=request.operator_id,
                                actor=request.actor, challenge=request.challenge,
                                on_progress=listener.progress, cancel=cancel,
                                checkin_id=request.checkin_id)
    finally:
        feed.close()
