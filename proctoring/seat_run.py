"""The seat agent's driver: camera → observation → :class:`~.seat.SeatAgent` → local buffer →
store. All I/O of the seat lives here; the decisions live in :mod:`.seat`.

Each :meth:`SeatRunner.step` is one check: read a frame (or learn the camera is gone), measure
it, let the agent decide, buffer what it says, then deliver the buffer to the store in order.
When the store is unreachable the events wait in the buffer and go at the next step that
reaches it; the heartbeat is not buffered (only the latest matters).

What a check costs (:class:`SeatObserver`): the detector on the reduced frame every check, the
face encoder only when it can change the answer — no face was encoded yet, the face moved
(its box overlaps the last encoded one less than ``same_place``), the face in the box looks
different (a 24×24 grey patch correlates less than ``same_look`` with the encoded one: someone
else sat down in the same place), or ``reencode_every`` checks passed. The naive way
(``bench/seat.py``'s baseline) encodes every check. A frame with no face is also read for
whether the lens is covered (:mod:`biometrics.lens`, about a millisecond): a covered camera is
not an empty chair.
"""

from __future__ import annotations

import io
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from PIL import Image

from biometrics import Camera, Face, FaceEngine
from biometrics.errors import BiometricsError, CameraUnavailable
from biometrics.images import RgbImage
from biometrics.lens import CoverRule, lens_covered

from .errors import DatabaseUnavailable, EvidenceUnreadable, ProctoringError
from .models import IncidentKind
from .monitor import Observation
from .seat import (
    MESSAGE,
    SEVERITY,
    Admission,
    Binding,
    Bound,
    CardTap,
    ConsentAnswer,
    ConsentAnswered,
    Heartbeat,
    IncidentClosed,
    IncidentOpened,
    SeatAgent,
    SeatEvent,
    SeatState,
    StateChanged,
)
from .seat_buffer import Pending, SeatBuffer
from .seat_store import (
    SeatPlace,
    find_admission,
    read_consent,
    read_pause,
    record_binding,
    record_closed,
    record_consent,
    record_heartbeat,
    record_opened,
)
from .store import Store


def jpeg(image: RgbImage) -> bytes:
    """An evidence frame: at most 640 px, JPEG (what the check-in keeps of a live frame)."""
    out = io.BytesIO()
    picture = Image.fromarray(image)
    picture.thumbnail((640, 640))
    picture.save(out, "JPEG", quality=85)
    return out.getvalue()


def nearest(admitted: np.ndarray, probe: np.ndarray) -> float:
    """Distance from the probe to the closest admitted embedding (rows of unit vectors)."""
    rows = np.asarray(admitted, np.float64).reshape(-1, probe.shape[-1])
    cos = rows @ np.asarray(probe, np.float64)
    return math.sqrt(max(0.0, 2.0 - 2.0 * float(cos.max())))


def _patch(image: RgbImage, face: Face) -> np.ndarray:
    """The face box as a 24×24 grey patch, zero mean and unit norm: a cheap look at whether
    the face in the box is still the one encoded (a different person sitting down in the same
    place keeps the box but not the patch)."""
    h, w = image.shape[:2]
    crop = image[max(0, face.top):min(h, face.bottom), max(0, face.left):min(w, face.right)]
    if crop.size == 0:
        return np.zeros(24 * 24, np.float32)
    grey = np.asarray(Image.fromarray(crop).convert("L").resize((24, 24)), np.float32).ravel()
    grey -= grey.mean()
    norm = float(np.linalg.norm(grey))
    return grey / norm if norm else grey


def _overlap(a: Face, b: Face) -> float:
    x1, y1 = max(a.left, b.left), max(a.top, b.top)
    x2, y2 = min(a.right, b.right), min(a.bottom, b.bottom)
    inter = max(0, x2 - x1) * max(0, y2 - y1)
    union = a.area + b.area - inter
    return inter / union if union else 0.0


class SeatObserver:
    """Measures frames for the agent; remembers the last encoded face to skip re-encoding."""

    def __init__(self, engine: FaceEngine, *, reencode_every: int = 3,
                 same_place: float = 0.6, same_look: float = 0.9,
                 cover: CoverRule | None = None) -> None:
        self.engine = engine
        self.cover = cover or CoverRule()
        self.reencode_every = max(1, reencode_every)
        self.same_place = same_place
        self.same_look = same_look
        self._last: tuple[Face, float, np.ndarray] | None = None
        self._since = 0
        self.encoded = 0  # how many checks ran the encoder (the bench reports it)

    def forget(self) -> None:
        self._last = None

    def observe(self, image: RgbImage, reference: np.ndarray | None, at: datetime
                ) -> Observation:
        settings = self.engine.settings
        faces = [f for f in self.engine.detect(image, settings.live)
                 if f.width >= settings.quality.min_face_px]
        if len(faces) != 1 or reference is None:
            self._last = None
            # A face in view means the lens is not covered, whatever the light.
            covered = not faces and lens_covered(image, self.cover)
            return Observation(at, len(faces), None, image, covered=covered)
        face = faces[0]
        self._since += 1
        patch = _patch(image, face)
        if self._last is not None and self._since < self.reencode_every \
                and _overlap(self._last[0], face) >= self.same_place \
                and float(patch @ self._last[2]) >= self.same_look:
            return Observation(at, 1, self._last[1], image)
        try:
            d = nearest(reference, self.engine.encode(image, face).plain)
        except BiometricsError:
            self._last = None
            return Observation(at, 1, None, image)
        self.encoded += 1
        self._last, self._since = (face, d, patch), 0
        return Observation(at, 1, d, image)


# Asked at each check while the seated candidate has not consented: shows the consent text
# (the strip, the terminal) and returns the candidate's answer once there is one. Never
# presumed: a seat without a way to ask never reads a frame.
ConsentSource = Callable[[Admission], ConsentAnswer | None]
# Polled at each check while the seat is not bound: a chip card tapped on the seat's reader
# since the last check, read and checked (examdesk.services.seat_tap), or None.
TapSource = Callable[[], CardTap | None]
# Polled at the start of each check while the candidate's consent stands: their withdrawal
# since the last check (the strip's button, "rút" typed at the terminal), or None. It is
# acted on before any frame is read.
WithdrawalSource = Callable[[], ConsentAnswer | None]


@dataclass
class StepResult:
    state: SeatState
    events: list[SeatEvent]
    delivered: int
    pending: int
    store_reachable: bool


class SeatRunner:
    """One seat's agent with its camera, buffer and store."""

    def __init__(self, *, agent: SeatAgent, observer: SeatObserver, camera: Camera,
                 buffer: SeatBuffer, store: Store, place: SeatPlace, actor: str,
                 clock: Callable[[], datetime], consent: ConsentSource,
                 reopen_camera: Callable[[], Camera] | None = None,
                 taps: TapSource | None = None,
                 withdrawals: WithdrawalSource | None = None) -> None:
        self.agent = agent
        self.observer = observer
        self.camera: Camera | None = camera
        self.buffer = buffer
        self.store = store
        self.place = place
        self.actor = actor
        self.clock = clock
        self._reopen = reopen_camera
        self._consent = consent
        self._taps = taps
        self._withdrawals = withdrawals
        self._consent_looked_up: uuid.UUID | None = None
        self._heartbeat: Heartbeat | None = None
        self._pause_seen: datetime | None = None
        self.store_reachable = True

    def start(self) -> list[SeatEvent]:
        """Resume a binding saved before a restart, if there is one."""
        try:
            saved = self.buffer.load_binding()
        except EvidenceUnreadable:
            # Sealed by a key this station no longer holds, or tampered with: bind afresh by
            # a face match (the store keeps the first binding's audit event).
            self.buffer.clear_binding()
            saved = None
        if saved is None:
            return []
        binding, admission = saved
        return self.agent.restore(binding, admission, self.clock())

    def step(self) -> StepResult:
        now = self.clock()
        self._follow_withdrawal(now)
        if self.agent.binding is None:
            if self._taps is not None:
                tap = self._taps()
                if tap is not None:
                    self._buffer(self.agent.card_tapped(tap, now))
            self._look_for_admission()
            self._ask_consent(now)
        else:
            self._follow_pause(now)
        if not self.agent.watching:
            events = self.agent.tick(now)
        else:
            image = self._frame()
            if image is None:
                events = self.agent.camera_failed(now)
            else:
                obs = self.observer.observe(image, self.agent.reference, now)
                events = self.agent.observe(obs)
        self._buffer(events)
        delivered = self.deliver()
        return StepResult(self.agent.state, events, delivered, len(self.buffer),
                          self.store_reachable)

    def stop(self) -> StepResult:
        events = self.agent.finish(self.clock())
        self._buffer(events)
        delivered = self.deliver()
        return StepResult(self.agent.state, events, delivered, len(self.buffer),
                          self.store_reachable)

    # --- inside ------------------------------------------------------------------------------

    def _look_for_admission(self) -> None:
        try:
            admission = find_admission(self.store, self.place)
        except DatabaseUnavailable:
            self.store_reachable = False
            return
        if admission is not None:
            self.agent.admit(admission)

    def _ask_consent(self, now: datetime) -> None:
        admission = self.agent.admission
        if admission is None or not self.agent.wants_consent:
            return
        if self._consent_looked_up != admission.roster_entry_id:
            # A restart before the binding: the candidate answered already (kept in the store).
            try:
                saved = read_consent(self.store, self.place, admission.roster_entry_id)
            except DatabaseUnavailable:
                self.store_reachable = False
                saved = None
            else:
                self._consent_looked_up = admission.roster_entry_id
            # An answer given while the store was out of reach (a withdrawal, say) and not
            # delivered before the restart is newer than the store's: it wins.
            waiting = [e for e in self.buffer.events() if e.get("type") == "consent"
                       and e.get("roster_entry_id") == str(admission.roster_entry_id)]
            if waiting:
                saved = bool(waiting[-1].get("given"))
            if saved is not None:
                self._buffer(self.agent.consent_on_record(saved, now))
                if saved:
                    return
        answer = self._consent(admission)
        if answer is not None and answer.given is not self.agent.consent:
            self._buffer(self.agent.answer_consent(answer, now))

    def _follow_withdrawal(self, now: datetime) -> None:
        """The candidate withdrew consent: the agent lets the binding go and reads no frame
        from this check on; the saved binding goes too, so a restart does not watch again
        (it asks, and the store's answer is now no)."""
        if self._withdrawals is None or self.agent.consent is not True:
            return
        answer = self._withdrawals()
        if answer is None or answer.given:
            return
        self._buffer(self.agent.answer_consent(answer, now))
        self.buffer.clear_binding()
        self.observer.forget()

    def _follow_pause(self, now: datetime) -> None:
        """Pauses come from the room (the seat row); the agent ends one on time by itself."""
        try:
            until = read_pause(self.store, self.place)
        except DatabaseUnavailable:
            self.store_reachable = False
            return
        paused = self.agent.state is SeatState.PAUSED
        if until is not None and until > now and until != self._pause_seen:
            self._pause_seen = until
            self._buffer(self.agent.pause(now, until))
        elif until is None and paused:
            self._pause_seen = None
            self._buffer(self.agent.resume(now))

    def _frame(self) -> RgbImage | None:
        if self.camera is None and self._reopen is not None:
            try:
                self.camera = self._reopen()
            except CameraUnavailable:
                return None
        if self.camera is None:
            return None
        try:
            return self.camera.read().image
        except CameraUnavailable:
            self.observer.forget()
            if self._reopen is not None:  # unplugged: try again at the next check
                self.camera.close()
                self.camera = None
            return None

    def _buffer(self, events: list[SeatEvent]) -> None:
        for event in events:
            if isinstance(event, Bound):
                admission = self.agent.admission
                assert admission is not None  # bound means admitted
                self.buffer.save_binding(event.binding, admission)
                self.buffer.push({"type": "bound", **_binding_json(event.binding),
                                  "by": "chip_card" if admission.portrait is not None
                                  else "door_admission"})
            elif isinstance(event, IncidentOpened):
                if event.card is not None:  # a card tapped before anyone was bound
                    entry = event.card.roster_entry_id
                    checkin = (event.card.admission.checkin_id
                               if event.card.admission is not None else None)
                elif event.subject is not None:  # raised as the binding was let go
                    entry, checkin = event.subject
                else:
                    binding = self.agent.binding
                    assert binding is not None  # the monitor's incidents come only once bound
                    entry, checkin = binding.roster_entry_id, binding.checkin_id
                self.buffer.push({
                    "type": "opened", "incident_id": str(event.incident_id),
                    "kind": event.kind.value, "message_key": event.message_key,
                    "started_at": event.started_at.isoformat(), "details": event.details,
                    "roster_entry_id": None if entry is None else str(entry),
                    "checkin_id": None if checkin is None else str(checkin)},
                    None if event.frame is None else jpeg(event.frame))
            elif isinstance(event, ConsentAnswered):
                self.buffer.push({"type": "consent", "at": event.at.isoformat(),
                                  "roster_entry_id": str(event.roster_entry_id),
                                  "given": event.answer.given,
                                  "text_sha256": event.answer.text_sha256,
                                  "lang": event.answer.lang})
            elif isinstance(event, IncidentClosed):
                self.buffer.push({"type": "closed", "incident_id": str(event.incident_id),
                                  "ended_at": event.ended_at.isoformat()})
            elif isinstance(event, Heartbeat):
                self._heartbeat = event
            elif isinstance(event, StateChanged):
                # The room sees a change at once, not at the next heartbeat.
                self._heartbeat = Heartbeat(event.at, event.state)

    def deliver(self) -> int:
        """Send what the buffer holds, oldest first; stop at the first failure to reach the
        store (the rest waits for the next step). Returns how many were delivered."""
        sent = 0
        try:
            while True:
                batch = self.buffer.pending()
                if not batch:
                    break
                for item in batch:
                    try:
                        self._send(item)
                    except ProctoringError as exc:
                        if isinstance(exc, DatabaseUnavailable):
                            raise
                        # Refused for good (the session closed, a row gone): set aside with
                        # its reason, so one bad event does not hold up every later one.
                        self.buffer.park(item.seq, exc.key)
                        continue
                    self.buffer.done(item.seq)
                    sent += 1
            if self._heartbeat is not None:
                record_heartbeat(self.store, self.place, self._heartbeat.state,
                                 self._heartbeat.at)
                self._heartbeat = None
        except DatabaseUnavailable:
            self.store_reachable = False
            return sent
        self.store_reachable = True
        return sent

    def _send(self, item: Pending) -> None:
        e = item.event
        if e["type"] == "bound":
            record_binding(self.store, self.place, _binding_from(e), actor=self.actor,
                           by=str(e.get("by") or "door_admission"))
        elif e["type"] == "opened":
            kind = IncidentKind(e["kind"])
            record_opened(self.store, self.place, incident_id=uuid.UUID(e["incident_id"]),
                          kind=kind, severity=SEVERITY[kind],
                          message_key=e.get("message_key") or MESSAGE[kind],
                          started_at=datetime.fromisoformat(e["started_at"]),
                          details={**(e.get("details") or {}),
                                   **({"frame_unreadable": 1} if item.frame_unreadable else {})},
                          roster_entry_id=_uuid_or_none(e.get("roster_entry_id")),
                          checkin_id=_uuid_or_none(e.get("checkin_id")), frame_jpeg=item.frame,
                          actor=self.actor)
        elif e["type"] == "consent":
            record_consent(self.store, self.place, uuid.UUID(e["roster_entry_id"]),
                           ConsentAnswer(bool(e["given"]), str(e["text_sha256"]),
                                         str(e["lang"])),
                           datetime.fromisoformat(e["at"]), actor=self.actor)
        elif e["type"] == "closed":
            record_closed(self.store, self.place, uuid.UUID(e["incident_id"]),
                          datetime.fromisoformat(e["ended_at"]), actor=self.actor)


def _uuid_or_none(value: object) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(str(value))


def _binding_json(b: Binding) -> dict[str, Any]:
    return {"roster_entry_id": str(b.roster_entry_id), "checkin_id": str(b.checkin_id),
            "bound_at": b.bound_at.isoformat(), "distance": b.distance}


def _binding_from(e: dict[str, Any]) -> Binding:
    return Binding(uuid.UUID(e["roster_entry_id"]), uuid.UUID(e["checkin_id"]),
                   datetime.fromisoformat(e["bound_at"]), float(e["distance"]))


def run(runner: SeatRunner, *, interval: float, stop: Callable[[], bool],
        on_step: Callable[[StepResult], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic) -> StepResult:
    """Check every ``interval`` seconds until ``stop()``; then close what is open."""
    runner.start()
    while not stop():
        began = monotonic()
        result = runner.step()
        if on_step is not None:
            on_step(result)
        sleep(max(0.0, interval - (monotonic() - began)))
    return runner.stop()
