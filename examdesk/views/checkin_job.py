"""One check-in as a background job: card → trust → CheckInService, reporting as it goes.

This is the GUI twin of ``examdesk checkin`` (examdesk/commands/checkin.py): the same services
in the same order, run on a worker thread; what happens is told to a listener (which posts it
to the Tk thread), and the invigilator can cancel between steps.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from biometrics import Camera, Challenge, Frame
from examdesk.timezone import VIETNAM
from proctoring.checkin import (
    CardRejected,
    CheckInCancelled,
    CheckInOutcome,
    CheckInService,
    Progress,
)
from proctoring.models import ExamSession, Stage
from reader.access import AccessKey
from reader.errors import ReaderError, is_card_fault
from reader.session import CardRead, read_card
from reader.trust.policy import Policy
from reader.trust.report import TrustReport, assess
from reader.trust.store import TrustStore

from .cards import CardSource


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


class CheckInListener(Protocol):
    """Called on the worker thread; implementations post to the Tk thread."""

    def reading(self, file: str, done: int, total: int) -> None: ...
    def card_read(self, card: CardRead, trust: TrustReport) -> None: ...
    def progress(self, progress: Progress) -> None: ...


@dataclass(frozen=True)
class TrustFiles:
    """The CSCA trust store and the trust policy, read again for every card (an import done
    meanwhile counts at once; both are small)."""

    trust_dir: Path
    policy_file: Path

    def assess(self, card: CardRead) -> TrustReport:
        store = TrustStore.load(self.trust_dir) if self.trust_dir.exists() else None
        return assess(card, store, Policy.load(self.policy_file),
                      today=datetime.now(VIETNAM).date())


class CameraFeed(Protocol):
    def reader(self) -> Camera: ...


class _StopsOnCancel:
    """The check-in's camera: Esc stops the liveness check and the face capture at the next
    frame, not only between the service's steps (a liveness check reads up to 45 frames)."""

    def __init__(self, camera: Camera, cancel: threading.Event) -> None:
        self._camera = camera
        self._cancel = cancel

    def read(self, timeout: float = 2.0) -> Frame:
        if self._cancel.is_set():
            raise CheckInCancelled("the invigilator cancelled the check-in")
        return self._camera.read(timeout)

    def close(self) -> None:
        self._camera.close()


def run_checkin(request: CheckInRequest, *, cards: CardSource, trust: TrustFiles,
                service: CheckInService, camera: CameraFeed, models_ready: threading.Event,
                listener: CheckInListener, cancel: threading.Event) -> CheckInOutcome:
    transport = cards.open(request.card_wait)
    try:
        card = read_card(transport, list(request.keys), progress=listener.reading)
    except ReaderError as exc:
        if not is_card_fault(exc):
            raise  # the key, the reader or the link: nothing happened worth recording
        # A forged or broken chip: recorded (REJECT, FORGED, an incident), then shown.
        rejected = service.record_rejected_card(
            request.session, exc, actor=request.actor, consent=request.consent,
            stage=request.stage, operator_id=request.operator_id)
        raise CardRejected(exc.detail, exc, checkin_id=rejected.checkin_id,
                           incident_id=rejected.incident_id, card_error=exc.key) from exc
    finally:
        transport.close()
    report = trust.assess(card)
    listener.card_read(card, report)
    if cancel.is_set():
        raise CheckInCancelled("the invigilator cancelled the check-in")
    # The models load at start-up; a check-in started in the first seconds waits here, on
    # this worker, never on the Tk thread.
    while not models_ready.wait(0.2):
        if cancel.is_set():
            raise CheckInCancelled("the invigilator cancelled the check-in")
    feed = _StopsOnCancel(camera.reader(), cancel)
    try:
        return service.check_in(request.session, card, report, feed, consent=request.consent,
                                stage=request.stage, operator_id=request.operator_id,
                                actor=request.actor, challenge=request.challenge,
                                on_progress=listener.progress, cancel=cancel)
    finally:
        feed.close()
