"""The seat agent's core: one exam computer's seat as a state machine, sans I/O.

A :class:`SeatAgent` owns the seat's state and is the only thing that changes it. It consumes
what the driver (:mod:`.seat_run`) hands it — the door's admission of the candidate sitting
here, camera observations (:class:`~.monitor.Observation`), camera failures, clock ticks, an
invigilator's pause — and returns events for the driver to buffer and deliver: the binding,
state changes, incidents opened and closed (with start and end times and one evidence frame),
heartbeats. No camera, no clock, no database: every transition is tested exactly.

States, as the room shows them::

    WAITING ──admission + face match at the seat──▶ BOUND ──next check──▶ WATCHING
    WATCHING ⇄ ABSENT / SEVERAL_FACES / DIFFERENT_PERSON   (the monitor's reported episodes)
    any bound state ⇄ CAMERA_LOST   (no frame for ``camera_lost_after``; cleared by a frame)
    any bound state ⇄ CAMERA_COVERED  (frames of nothing — a hand, tape, a cap over the lens —
                                       for ``camera_covered_after``; cleared by a real frame)
    any bound state ⇄ PAUSED        (an invigilator's pause, until a time or a resume)

Binding is either the door check-in's admission of the candidate whose roster line names this
seat (the admitted face from the store) plus a face match at the seat, or — where the seat has
a reader — a tap of the candidate's chip card (:meth:`SeatAgent.card_tapped`): the chip opened
and proved genuine as at the door, its holder admitted for this session, then the live face
matched against the chip portrait. A card the seat cannot bind to (not genuine, not on the
roster, not admitted) is an incident at once, and nobody is bound.

Consent (Decree 13/2023: given, never presumed): once the seat knows who sits there, the
candidate is asked; until they say yes, :attr:`SeatAgent.watching` is False and the driver reads
no frame at all (not even to bind). A refusal is the state NO_CONSENT, which the room shows::

    WAITING (candidate known) ──consent refused──▶ NO_CONSENT ──given later──▶ WAITING
    any state with consent ──consent withdrawn──▶ NO_CONSENT   (the binding is let go: no
        frame is read from then on, what was open closes, and an incident tells the room
        that a person must now watch that candidate by eye; consent given again binds
        afresh by a face match)

Privacy: a frame leaves this object only inside an :class:`IncidentOpened` (the evidence of an
incident); nothing else keeps frames, so there is never a continuous recording.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import numpy as np

from biometrics import OperatingPoint
from biometrics.decision import FaceOutcome, decide
from biometrics.images import RgbImage

from .models import IncidentKind, Severity
from .monitor import ExamMonitor, MonitorEvent, MonitorRules, Observation


class SeatState(StrEnum):
    WAITING = "waiting"
    BOUND = "bound"
    WATCHING = "watching"
    ABSENT = "absent"
    SEVERAL_FACES = "several_faces"
    DIFFERENT_PERSON = "different_person"
    CAMERA_LOST = "camera_lost"
    CAMERA_COVERED = "camera_covered"  # a picture, but of nothing: not an empty chair
    PAUSED = "paused"
    NO_CONSENT = "no_consent"  # the candidate did not consent to monitoring: nothing watched


# The camera-lost incident: a kind of its own, so that every screen and report can name it in
# words (a buffer written before it existed may still hold OTHER with this key: still sent).
CAMERA_LOST_KEY = "seat.camera_lost"
CAMERA_COVERED_KEY = "seat.camera_covered"
CONSENT_WITHDRAWN_KEY = "seat.consent_withdrawn"
_KIND_STATE = {IncidentKind.FACE_MISMATCH: SeatState.DIFFERENT_PERSON,
               IncidentKind.SEVERAL_FACES: SeatState.SEVERAL_FACES,
               IncidentKind.FACE_ABSENT: SeatState.ABSENT}
SEVERITY = {IncidentKind.FACE_ABSENT: Severity.MEDIUM, IncidentKind.SEVERAL_FACES: Severity.HIGH,
            IncidentKind.FACE_MISMATCH: Severity.CRITICAL, IncidentKind.CAMERA_LOST: Severity.HIGH,
            IncidentKind.CAMERA_COVERED: Severity.HIGH,
            IncidentKind.CONSENT_WITHDRAWN: Severity.MEDIUM,
            IncidentKind.FORGED_CARD: Severity.CRITICAL, IncidentKind.NOT_ON_ROSTER: Severity.HIGH,
            IncidentKind.OTHER: Severity.HIGH}
MESSAGE = {IncidentKind.FACE_ABSENT: "monitor.face_absent",
           IncidentKind.SEVERAL_FACES: "monitor.several_faces",
           IncidentKind.FACE_MISMATCH: "monitor.different_person",
           IncidentKind.CAMERA_LOST: CAMERA_LOST_KEY,
           IncidentKind.CAMERA_COVERED: CAMERA_COVERED_KEY,
           IncidentKind.CONSENT_WITHDRAWN: CONSENT_WITHDRAWN_KEY,
           IncidentKind.OTHER: CAMERA_LOST_KEY}


@dataclass(frozen=True)
class Admission:
    """The door's decision about the candidate on this seat's roster line: who, and the face
    admitted there (float32 (n, 128), L2-normalised)."""

    roster_entry_id: uuid.UUID
    checkin_id: uuid.UUID
    embeddings: np.ndarray
    # A tap of the chip card: the binding match is against the chip portrait (float32 (1, 128));
    # the admitted face stays what the exam is watched against.
    portrait: np.ndarray | None = None


class TapRefusal(StrEnum):
    """Why a card tapped at the seat binds nobody (each is an incident)."""

    NOT_GENUINE = "not_genuine"  # the chip's proofs failed (the door's trust policy)
    NOT_ON_ROSTER = "not_on_roster"  # no roster line's key opens it, or its holder is on none
    NOT_ADMITTED = "not_admitted"  # on the roster, but the door did not admit them


@dataclass(frozen=True)
class CardTap:
    """What the driver found when a chip card was tapped on the seat's reader: the holder's
    roster line and the door's admission (None: none), whether the chip proved genuine (the
    door's trust policy), and the chip portrait's embedding."""

    id_number: str | None  # None: the card did not open with any key of the roster
    genuine: bool
    verdict: str | None  # TRUSTED / SUSPICIOUS / FORGED (None: not opened)
    roster_entry_id: uuid.UUID | None
    admission: Admission | None  # with ``portrait`` set
    portrait: np.ndarray | None


_TAP_INCIDENT = {TapRefusal.NOT_GENUINE: (IncidentKind.FORGED_CARD, "seat.tap.not_genuine"),
                 TapRefusal.NOT_ON_ROSTER: (IncidentKind.NOT_ON_ROSTER, "seat.tap.not_on_roster"),
                 TapRefusal.NOT_ADMITTED: (IncidentKind.OTHER, "seat.tap.not_admitted")}


@dataclass(frozen=True)
class Binding:
    """The seat bound to a candidate: what survives a restart of the agent."""

    roster_entry_id: uuid.UUID
    checkin_id: uuid.UUID
    bound_at: datetime
    distance: float  # the face match at the seat that made the binding


@dataclass(frozen=True)
class SeatRules:
    monitor: MonitorRules = field(default_factory=MonitorRules)
    heartbeat_every: timedelta = timedelta(seconds=2)
    camera_lost_after: timedelta = timedelta(seconds=6)
    # A hand passing in front of the lens is not an incident; a lens kept covered is.
    camera_covered_after: timedelta = timedelta(seconds=6)


@dataclass(frozen=True)
class ConsentAnswer:
    """The candidate's answer to the seat's consent text: which text (its SHA-256, both
    languages as shown) and in which language it was read."""

    given: bool
    text_sha256: str
    lang: str


# --- events -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentAnswered:
    """To be recorded (per candidate and session, audited) before any frame is read."""

    at: datetime
    roster_entry_id: uuid.UUID
    answer: ConsentAnswer


@dataclass(frozen=True)
class Bound:
    at: datetime
    binding: Binding


@dataclass(frozen=True)
class StateChanged:
    at: datetime
    state: SeatState


@dataclass(frozen=True)
class IncidentOpened:
    incident_id: uuid.UUID
    kind: IncidentKind
    message_key: str
    started_at: datetime
    frame: RgbImage | None
    details: dict[str, float | str]
    # An incident about a card tapped before anyone is bound names its own subject (None: the
    # holder is on no roster line / was not admitted); else the subject is the binding's.
    card: CardTap | None = None
    # The candidate's roster line and check-in, for an incident raised as the binding is let go
    # (consent withdrawn): the agent is no longer bound when the driver stores it.
    subject: tuple[uuid.UUID, uuid.UUID] | None = None


@dataclass(frozen=True)
class IncidentClosed:
    incident_id: uuid.UUID
    kind: IncidentKind
    ended_at: datetime


@dataclass(frozen=True)
class Heartbeat:
    at: datetime
    state: SeatState


@dataclass(frozen=True)
class CardAccepted:
    """A tapped card's holder is the seat's candidate now (the face match at the seat follows)."""

    at: datetime
    roster_entry_id: uuid.UUID


SeatEvent = (CardAccepted | Bound | StateChanged | IncidentOpened | IncidentClosed | Heartbeat
             | ConsentAnswered)


class SeatAgent:
    """One seat. Methods take the time of what happened; the driver supplies it."""

    def __init__(self, point: OperatingPoint, rules: SeatRules | None = None, *,
                 new_id: Callable[[], uuid.UUID] = uuid.uuid4) -> None:
        self.point = point
        self.rules = rules or SeatRules()
        self._new_id = new_id
        self._state = SeatState.WAITING
        self._admission: Admission | None = None
        self._consent: bool | None = None  # the admitted candidate's answer (None: not yet)
        self._tapped = False  # the admission came from a chip card: the seat plan cannot undo it
        self._binding: Binding | None = None
        self._monitor = ExamMonitor(point, self.rules.monitor)
        self._incidents: dict[IncidentKind, uuid.UUID] = {}  # open, reported incidents
        self._camera_failing_since: datetime | None = None
        self._camera_incident: uuid.UUID | None = None
        self._covered_since: tuple[datetime, RgbImage | None] | None = None  # and its frame
        self._cover_incident: uuid.UUID | None = None
        self._paused_until: datetime | None = None
        self._last_heartbeat: datetime | None = None

    # --- what the driver reads ---------------------------------------------------------------

    @property
    def state(self) -> SeatState:
        return self._state

    @property
    def binding(self) -> Binding | None:
        return self._binding

    @property
    def admission(self) -> Admission | None:
        return self._admission

    @property
    def reference(self) -> np.ndarray | None:
        """The face observations are measured against (None: nobody admitted yet): the chip
        portrait while a tapped card waits for its face match, else the admitted face."""
        if self._admission is None:
            return None
        if self._binding is None and self._admission.portrait is not None:
            return self._admission.portrait
        return self._admission.embeddings

    @property
    def consent(self) -> bool | None:
        """The seated candidate's answer to the consent text (None: not asked or not answered)."""
        return self._consent

    @property
    def wants_consent(self) -> bool:
        """The candidate is known and has not said yes: the driver shows the consent text."""
        return self._admission is not None and self._binding is None and self._consent is not True

    @property
    def watching(self) -> bool:
        """Whether the driver should look at the camera at all: only with the candidate's
        consent (never before: not even to bind), and not while paused."""
        return self._consent is True and self._state is not SeatState.PAUSED

    # --- inputs ------------------------------------------------------------------------------

    def admit(self, admission: Admission) -> list[SeatEvent]:
        """The door admitted the candidate of this seat: wait for their face at the seat.
        A later admission of someone else (a seat reassigned) replaces a binding not yet made."""
        if self._binding is not None and self._binding.roster_entry_id == admission.roster_entry_id:
            self._admission = admission
            return []
        if self._binding is not None:
            return []  # bound already: a reassignment goes through the invigilator
        if self._tapped:
            return []  # the card tapped here names the candidate, not the seat plan
        if self._admission is None or self._admission.roster_entry_id != admission.roster_entry_id:
            self._consent = None  # someone else's consent is not this candidate's
        self._admission = admission
        return self._set(SeatState.WAITING, None) if self._state is SeatState.NO_CONSENT \
            and self._consent is None else []

    def card_tapped(self, tap: CardTap, at: datetime) -> list[SeatEvent]:
        """A chip card on the seat's reader. A bound seat ignores taps (a reassignment goes
        through the invigilator); otherwise the card's holder becomes the seat's candidate, or
        the tap is an incident (opened and closed at once: it has no duration) and nobody is."""
        if self._binding is not None:
            return []
        refusal = (TapRefusal.NOT_GENUINE if not tap.genuine and tap.verdict is not None
                   else TapRefusal.NOT_ON_ROSTER if tap.roster_entry_id is None
                   else TapRefusal.NOT_ADMITTED if tap.admission is None or tap.portrait is None
                   else None)
        if refusal is not None:
            kind, key = _TAP_INCIDENT[refusal]
            incident_id = self._new_id()
            details: dict[str, float | str] = {"tap": refusal.value}
            if tap.id_number is not None:
                details["id_number"] = tap.id_number
            if tap.verdict is not None:
                details["verdict"] = tap.verdict
            return [IncidentOpened(incident_id, kind, key, at, None, details, tap),
                    IncidentClosed(incident_id, kind, at)]
        assert tap.admission is not None and tap.roster_entry_id is not None
        admission = Admission(tap.admission.roster_entry_id, tap.admission.checkin_id,
                              tap.admission.embeddings, tap.portrait)
        self._tapped = False
        self.admit(admission)
        self._tapped = True
        return [CardAccepted(at, admission.roster_entry_id),
                *self._set(SeatState.NO_CONSENT if self._consent is False else
                           SeatState.WAITING, at)]

    def answer_consent(self, answer: ConsentAnswer, at: datetime) -> list[SeatEvent]:
        """The candidate answered the consent text (a new answer: it is to be recorded). A
        "no" while bound withdraws the consent given before (:meth:`_withdraw`)."""
        if self._admission is None:
            return []
        if self._binding is not None:
            return self._withdraw(answer, at) if not answer.given else []
        self._consent = answer.given
        events: list[SeatEvent] = [ConsentAnswered(at, self._admission.roster_entry_id, answer)]
        return events + self._set(SeatState.WAITING if answer.given else SeatState.NO_CONSENT,
                                  at)

    def consent_on_record(self, given: bool, at: datetime) -> list[SeatEvent]:
        """The store already holds this candidate's answer (an agent restarted before the
        binding): nothing new to record."""
        if self._admission is None or self._binding is not None:
            return []
        self._consent = given
        return self._set(SeatState.WAITING if given else SeatState.NO_CONSENT, at)

    def restore(self, binding: Binding, admission: Admission, at: datetime) -> list[SeatEvent]:
        """After a restart: the seat was bound before; watch again without a new face match
        (the monitor will notice a different person within its usual checks)."""
        if binding.roster_entry_id != admission.roster_entry_id:
            raise ValueError("the saved binding is for another candidate than the admission")
        self._admission = admission
        self._binding = binding
        self._consent = True  # a binding is only ever made with consent
        return self._set(SeatState.WATCHING, at)

    def observe(self, obs: Observation) -> list[SeatEvent]:
        """One check of the camera."""
        events = self._camera_back(obs.at)
        if self._state is SeatState.PAUSED:
            return events + self.tick(obs.at)
        if self._binding is None:
            return events + self._try_bind(obs) + self.tick(obs.at)
        if self._state is SeatState.BOUND:
            events += self._set(SeatState.WATCHING, obs.at)
        if obs.covered:
            return events + self._covered(obs) + self._settle(obs.at) + self.tick(obs.at)
        events += self._uncovered(obs.at)
        for event in self._monitor.observe(obs):
            events += self._monitor_event(event, obs.at)
        return events + self._settle(obs.at) + self.tick(obs.at)

    def camera_failed(self, at: datetime) -> list[SeatEvent]:
        """The camera gave no frame (unplugged, covered by a driver error, …)."""
        if self._camera_failing_since is None:
            self._camera_failing_since = at
        events: list[SeatEvent] = []
        if self._camera_incident is None and self._binding is not None \
                and self._state is not SeatState.PAUSED \
                and at - self._camera_failing_since >= self.rules.camera_lost_after:
            self._camera_incident = self._new_id()
            events.append(IncidentOpened(self._camera_incident, IncidentKind.CAMERA_LOST,
                                         CAMERA_LOST_KEY, self._camera_failing_since, None, {}))
        return events + self._settle(at) + self.tick(at)

    def pause(self, at: datetime, until: datetime) -> list[SeatEvent]:
        """An invigilator lets the candidate step out until ``until`` ("toilet, 5 min"): what
        is open closes now, nothing is watched until the pause ends."""
        if self._binding is None:
            return []
        events: list[SeatEvent] = []
        for event in self._monitor.finish(at):
            events += self._monitor_event(event, at)
        self._monitor = ExamMonitor(self.point, self.rules.monitor)
        events += self._uncovered(at)
        self._paused_until = until
        return events + self._set(SeatState.PAUSED, at)

    def resume(self, at: datetime) -> list[SeatEvent]:
        if self._state is not SeatState.PAUSED:
            return []
        self._paused_until = None
        return self._set(SeatState.WATCHING, at)

    def tick(self, at: datetime) -> list[SeatEvent]:
        """The clock moved: a pause may end, a heartbeat may be due."""
        events: list[SeatEvent] = []
        if self._paused_until is not None and at >= self._paused_until:
            events += self.resume(at)
        if self._last_heartbeat is None or at - self._last_heartbeat >= self.rules.heartbeat_every:
            self._last_heartbeat = at
            events.append(Heartbeat(at, self._state))
        return events

    def finish(self, at: datetime) -> list[SeatEvent]:
        """The exam ended (or the agent stops): close what is open."""
        events: list[SeatEvent] = []
        for event in self._monitor.finish(at):
            events += self._monitor_event(event, at)
        if self._camera_incident is not None:
            events.append(IncidentClosed(self._camera_incident, IncidentKind.CAMERA_LOST, at))
            self._camera_incident = None
        return events + self._uncovered(at)

    # --- inside ------------------------------------------------------------------------------

    def _withdraw(self, answer: ConsentAnswer, at: datetime) -> list[SeatEvent]:
        """The candidate withdrew their consent during the exam: nothing is watched from now
        on (the driver reads no frame), what is open closes now, the binding is let go (a new
        consent binds afresh by a face match), and the room is told: a person must watch."""
        binding, admission = self._binding, self._admission
        assert binding is not None and admission is not None
        events: list[SeatEvent] = [ConsentAnswered(at, admission.roster_entry_id, answer)]
        for event in self._monitor.finish(at):
            events += self._monitor_event(event, at)
        self._monitor = ExamMonitor(self.point, self.rules.monitor)
        if self._camera_incident is not None:
            events.append(IncidentClosed(self._camera_incident, IncidentKind.CAMERA_LOST, at))
            self._camera_incident = None
        events += self._uncovered(at)
        self._camera_failing_since = None
        self._paused_until = None
        self._consent = False
        self._binding = None
        incident_id = self._new_id()
        events += [IncidentOpened(incident_id, IncidentKind.CONSENT_WITHDRAWN,
                                  CONSENT_WITHDRAWN_KEY, at, None, {"consent": "withdrawn"},
                                  subject=(binding.roster_entry_id, binding.checkin_id)),
                   IncidentClosed(incident_id, IncidentKind.CONSENT_WITHDRAWN, at)]
        return events + self._set(SeatState.NO_CONSENT, at)

    def _try_bind(self, obs: Observation) -> list[SeatEvent]:
        if self._admission is None or self._consent is not True or obs.faces != 1 \
                or obs.distance is None:
            return []
        if decide(obs.distance, self.point) is not FaceOutcome.MATCH:
            return []
        self._binding = Binding(self._admission.roster_entry_id, self._admission.checkin_id,
                                obs.at, round(float(obs.distance), 4))
        return [Bound(obs.at, self._binding), *self._set(SeatState.BOUND, obs.at)]

    def _monitor_event(self, event: MonitorEvent, at: datetime) -> list[SeatEvent]:
        episode = event.episode
        if event.state == "opened":
            incident_id = self._new_id()
            self._incidents[event.kind] = incident_id
            return [IncidentOpened(incident_id, event.kind, MESSAGE[event.kind],
                                   episode.started_at, episode.evidence, dict(episode.details))]
        incident_id = self._incidents.pop(event.kind)
        return [IncidentClosed(incident_id, event.kind, episode.ended_at or at)]

    def _covered(self, obs: Observation) -> list[SeatEvent]:
        """A frame of nothing: no news about faces (the monitor is not told: a covered lens is
        not an empty chair); once it lasts, an incident of its own with that frame, and what
        the monitor had open closes now (nobody can see it any more)."""
        if self._covered_since is None:
            self._covered_since = (obs.at, obs.frame)
        since, frame = self._covered_since
        if self._cover_incident is not None \
                or obs.at - since < self.rules.camera_covered_after:
            return []
        events: list[SeatEvent] = []
        for event in self._monitor.finish(since):
            events += self._monitor_event(event, obs.at)
        self._monitor = ExamMonitor(self.point, self.rules.monitor)
        self._cover_incident = self._new_id()
        return [*events, IncidentOpened(self._cover_incident, IncidentKind.CAMERA_COVERED,
                                        CAMERA_COVERED_KEY, since, frame, {})]

    def _uncovered(self, at: datetime) -> list[SeatEvent]:
        self._covered_since = None
        if self._cover_incident is None:
            return []
        closed = IncidentClosed(self._cover_incident, IncidentKind.CAMERA_COVERED, at)
        self._cover_incident = None
        return [closed]

    def _camera_back(self, at: datetime) -> list[SeatEvent]:
        self._camera_failing_since = None
        if self._camera_incident is None:
            return []
        closed = IncidentClosed(self._camera_incident, IncidentKind.CAMERA_LOST, at)
        self._camera_incident = None
        return [closed]

    def _settle(self, at: datetime) -> list[SeatEvent]:
        """The state that follows from what is open now, worst first."""
        if self._binding is None or self._state is SeatState.PAUSED:
            return []
        if self._camera_incident is not None:
            return self._set(SeatState.CAMERA_LOST, at)
        if self._cover_incident is not None:
            return self._set(SeatState.CAMERA_COVERED, at)
        for kind in (IncidentKind.FACE_MISMATCH, IncidentKind.SEVERAL_FACES,
                     IncidentKind.FACE_ABSENT):
            if kind in self._incidents:
                return self._set(_KIND_STATE[kind], at)
        if self._state is SeatState.BOUND:
            return []
        return self._set(SeatState.WATCHING, at)

    def _set(self, state: SeatState, at: datetime | None) -> list[SeatEvent]:
        if state is self._state:
            return []
        self._state = state
        return [] if at is None else [StateChanged(at, state)]
