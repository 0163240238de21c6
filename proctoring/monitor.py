"""Online exams: re-check the webcam during the exam and raise incidents.

Three things are watched, each only once it lasts (a candidate may look down at the desk for
a moment, someone may walk behind them):

- nobody in front of the camera for longer than ``absent_after``;
- more than one face in view for longer than ``several_after``;
- a different person: the face in view is NO_MATCH against the face admitted at check-in,
  ``mismatch_checks`` checks in a row.

:class:`ExamMonitor` is the decision logic as a state machine over observations (no camera,
no clock, no database), so it is tested exactly; :func:`watch` runs it against a camera and
stores each incident with its evidence frame and its start and end times.
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from PIL import Image

from biometrics import BiometricsError, Camera, FaceEngine, OperatingPoint
from biometrics.decision import FaceOutcome, decide, distance
from biometrics.faces import capture
from biometrics.images import RgbImage

from .checkins import NewIncident, record_incident
from .evidence import EvidenceItem
from .models import EvidenceKind, IncidentKind, Severity
from .store import Store

ABSENT = IncidentKind.FACE_ABSENT
SEVERAL = IncidentKind.SEVERAL_FACES
MISMATCH = IncidentKind.FACE_MISMATCH


@dataclass(frozen=True)
class MonitorRules:
    interval: timedelta = timedelta(seconds=2)
    absent_after: timedelta = timedelta(seconds=10)
    several_after: timedelta = timedelta(seconds=4)
    mismatch_checks: int = 2


@dataclass(frozen=True)
class Observation:
    at: datetime
    faces: int  # faces of a usable size in view
    distance: float | None = None  # to the admitted face, when exactly one face was encoded
    frame: RgbImage | None = None
    # The lens is covered (a near-uniform frame, biometrics/lens.py): no news about faces at
    # all — not an empty chair. Only the seat agent reads it; ``faces`` is 0 then.
    covered: bool = False


@dataclass
class Episode:
    """A condition that has lasted long enough to be an incident (or may become one)."""

    kind: IncidentKind
    started_at: datetime
    evidence: RgbImage | None
    reported: bool = False
    ended_at: datetime | None = None
    details: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class MonitorEvent:
    """``opened``: tell the invigilator now; ``closed``: the incident is complete, store it."""

    kind: IncidentKind
    state: str  # "opened" or "closed"
    episode: Episode


class ExamMonitor:
    def __init__(self, point: OperatingPoint, rules: MonitorRules | None = None) -> None:
        self.point = point
        self.rules = rules or MonitorRules()
        self._open: dict[IncidentKind, Episode] = {}
        self._mismatches = 0

    def observe(self, obs: Observation) -> list[MonitorEvent]:
        active = {
            ABSENT: obs.faces == 0,
            SEVERAL: obs.faces > 1,
            MISMATCH: self._mismatch(obs),
        }
        events: list[MonitorEvent] = []
        for kind, now in active.items():
            episode = self._open.get(kind)
            if now and episode is None:
                episode = Episode(kind, obs.at, obs.frame)
                if kind is MISMATCH and obs.distance is not None:
                    episode.details["distance"] = round(obs.distance, 4)
                self._open[kind] = episode
            if now and episode is not None and not episode.reported \
                    and self._long_enough(kind, episode, obs.at):
                episode.reported = True
                events.append(MonitorEvent(kind, "opened", episode))
            if not now and episode is not None:
                del self._open[kind]
                if episode.reported:
                    episode.ended_at = obs.at
                    events.append(MonitorEvent(kind, "closed", episode))
        return events

    def finish(self, at: datetime) -> list[MonitorEvent]:
        """The exam ended: close what is still open (if it was long enough to count)."""
        events = []
        for episode in self._open.values():
            if episode.reported:
                episode.ended_at = at
                events.append(MonitorEvent(episode.kind, "closed", episode))
        self._open.clear()
        return events

    def _mismatch(self, obs: Observation) -> bool:
        if obs.faces != 1:
            self._mismatches = 0
            return False
        if obs.distance is None:
            return MISMATCH in self._open  # one face we could not encode: no news
        if decide(obs.distance, self.point) is FaceOutcome.NO_MATCH:
            self._mismatches += 1
        else:
            self._mismatches = 0
        return self._mismatches >= self.rules.mismatch_checks

    def _long_enough(self, kind: IncidentKind, episode: Episode, now: datetime) -> bool:
        if kind is ABSENT:
            return now - episode.started_at >= self.rules.absent_after
        if kind is SEVERAL:
            return now - episode.started_at >= self.rules.several_after
        return True  # MISMATCH already required several checks in a row


_SEVERITY = {ABSENT: Severity.MEDIUM, SEVERAL: Severity.HIGH, MISMATCH: Severity.CRITICAL}
_MESSAGE = {ABSENT: "monitor.face_absent", SEVERAL: "monitor.several_faces",
            MISMATCH: "monitor.different_person"}


def observe_frame(engine: FaceEngine, image: RgbImage, admitted: np.ndarray, at: datetime
                  ) -> Observation:
    """What one frame shows: how many faces, and how far the one face is from the admitted."""
    faces = engine.detect(image, engine.settings.live)
    relevant = [f for f in faces if f.width >= engine.settings.quality.min_face_px]
    d = None
    if len(relevant) == 1:
        try:
            probe = capture(engine, image, check_quality=False)
            d = distance(admitted, probe.embedding)
        except BiometricsError:
            d = None
    return Observation(at, len(relevant), d, image)


def _jpeg(image: RgbImage | None) -> bytes | None:
    if image is None:
        return None
    out = io.BytesIO()
    picture = Image.fromarray(image)
    picture.thumbnail((640, 640))
    picture.save(out, "JPEG", quality=85)
    return out.getvalue()


def store_incident(store: Store, session_id: uuid.UUID, checkin_id: uuid.UUID,
                   roster_entry_id: uuid.UUID | None, episode: Episode, *, actor: str
                   ) -> uuid.UUID:
    frame = _jpeg(episode.evidence)
    evidence = () if frame is None else (
        EvidenceItem(EvidenceKind.LIVE_FRAME, frame, "image/jpeg", episode.started_at),)
    incident = record_incident(store, session_id, NewIncident(
        episode.kind, _SEVERITY[episode.kind], _MESSAGE[episode.kind], dict(episode.details),
        related_checkins=(checkin_id,), evidence=evidence, started_at=episode.started_at,
        ended_at=episode.ended_at, roster_entry_id=roster_entry_id), actor=actor)
    return incident.id


def watch(
    store: Store,
    engine: FaceEngine,
    camera: Camera,
    *,
    session_id: uuid.UUID,
    checkin_id: uuid.UUID,
    roster_entry_id: uuid.UUID | None,
    admitted: np.ndarray,
    actor: str,
    rules: MonitorRules | None = None,
    stop: threading.Event | None = None,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None] = time.sleep,
    checks: int | None = None,
    on_event: Callable[[MonitorEvent], None] | None = None,
) -> list[uuid.UUID]:
    """Watch until ``stop`` is set (or ``checks`` observations); returns the incidents stored."""
    monitor = ExamMonitor(engine.settings.operating_point, rules)
    stored: list[uuid.UUID] = []
    done = 0

    def handle(events: list[MonitorEvent]) -> None:
        for event in events:
            if on_event is not None:
                on_event(event)
            if event.state == "closed":
                stored.append(store_incident(store, session_id, checkin_id, roster_entry_id,
                                             event.episode, actor=actor))

    while not (stop is not None and stop.is_set()) and (checks is None or done < checks):
        frame = camera.read()
        handle(monitor.observe(observe_frame(engine, frame.image, admitted, clock())))
        done += 1
        sleep(monitor.rules.interval.total_seconds())
    handle(monitor.finish(clock()))
    return stored
