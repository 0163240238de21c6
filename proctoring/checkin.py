"""The check-in decision: a card that was read, a camera, a session → ADMIT, REJECT or REVIEW.

    card read + trust verdict → roster lookup by the chip's 12-digit ID → card validity
    (trust policy, expiry) → chip portrait encoded → liveness challenge → live frames fused
    and compared with the chip portrait → the live face against the faces already admitted
    in this session (one face under a second ID is a proxy) and, for a driving test, against
    the candidate's earlier stages → a Decision with every reason → stored in one transaction
    with its evidence, incidents and audit event.

No GUI and no card I/O here: the caller reads the card (``reader.session.read_card``) and
assesses it (``reader.trust.report.assess``); the GUI follows progress through
``on_progress`` and can cancel between steps. A camera that fails raises
``CameraUnavailable`` and stores nothing: the invigilator fixes the camera and starts again.
"""

from __future__ import annotations

import io
import random
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

import numpy as np
from PIL import Image
from sqlmodel import Session

from biometrics import (
    BiometricsError,
    Camera,
    CameraUnavailable,
    Challenge,
    FaceEngine,
    LivenessCheck,
    LivenessVerdict,
    Verification,
    collect,
    compare,
    enrol,
    fuse,
)
from biometrics.asnorm import verify_as_norm
from biometrics.camera import Frame
from biometrics.config import OperatingPoint
from biometrics.decision import FaceOutcome
from biometrics.faces import Describe, Probe, RawDescribe, Reference
from biometrics.fused_check import SecondModel
from biometrics.handover import HandOver
from biometrics.images import RgbImage, decode
from biometrics.liveness import run_plan
from biometrics.population import is_default
from examdesk.i18n.words import decision_sentence_key
from examdesk.timezone import VIETNAM
from reader.errors import InvalidKeyInput, ReaderError
from reader.keys import validate_id_number
from reader.session import CardRead
from reader.trust.policy import Verdict
from reader.trust.report import TrustReport

from .checkin_guard import Guarded, record_guarded
from .checkins import (
    CheckInInput,
    NewIncident,
    Reason,
    RosterMatch,
    candidate_attendance_in,
    embedding_item,
    record_incident,
    roster_lookup_in,
)
from .desk_outbox import DeskOutbox, Kept
from .errors import DatabaseUnavailable, ProctoringError
from .evidence import EvidenceItem
from .face_population import PointInForce, chip_cohort, point_in_force, point_in_force_in
from .face_rules import Judged, judge_faces
from .models import (
    Decision,
    EvidenceKind,
    ExamSession,
    IncidentKind,
    SessionKind,
    Severity,
    Stage,
)
from .offline_rule import offline_rule
from .policy import CheckInRules
from .store import Store

_T = TypeVar("_T")


class Step(StrEnum):
    ROSTER = "roster"
    CARD = "card"
    PORTRAIT = "portrait"
    LIVENESS = "liveness"
    FACE = "face"
    DUPLICATES = "duplicates"
    RECORDING = "recording"
    DONE = "done"


@dataclass(frozen=True)
class Progress:
    """What the workflow is doing, for the screen: a step, a message key and its context."""

    step: Step
    key: str
    context: dict[str, Any] = field(default_factory=dict)


class CheckInCancelled(ProctoringError):
    key = "checkin.cancelled"


class CardRejected(ProctoringError):
    """The card's own data failed (a forged or broken chip): the attempt was recorded as a
    rejected check-in with a FORGED_CARD incident (only the incident when no ID was read).

    ``context`` holds ``checkin_id`` (or None), ``incident_id`` and the reader error's key as
    ``card_error``; ``reader_error`` is the error itself, for the screen's second line.
    """

    key = "checkin.card_rejected"

    def __init__(self, detail: str, reader_error: ReaderError, *,
                 already_admitted: EarlierAdmission | None = None, **context: object) -> None:
        super().__init__(detail, **context)
        self.reader_error = reader_error
        # The candidate was admitted before: the screen says so next to the refusal.
        self.already_admitted = already_admitted


@dataclass(frozen=True)
class EarlierAdmission:
    """The check-in that already admitted this candidate (at this stage): a later attempt is
    recorded as its own event and never replaces it."""

    checkin_id: uuid.UUID
    decided_at: datetime
    desk: str | None  # None: made before desks were named

    @property
    def key(self) -> str:
        return "checkin.already_admitted" if self.desk else "checkin.already_admitted_no_desk"

    @property
    def banner_key(self) -> str:
        """The same, short enough for the desk's verdict banner (two lines)."""
        return "attendance.banner" if self.desk else "attendance.banner_no_desk"

    @property
    def context(self) -> dict[str, str]:
        """What the sentence says: the local time (Vietnam), the desk's name."""
        return {"at": self.decided_at.astimezone(VIETNAM).strftime("%H:%M"),
                "date": self.decided_at.astimezone(VIETNAM).strftime("%d/%m/%Y"),
                "desk": self.desk or ""}

    def to_dict(self) -> dict[str, Any]:
        return {"checkin_id": str(self.checkin_id), "decided_at": self.decided_at.isoformat(),
                "desk": self.desk}


def _already_admitted(tx: Session, session: ExamSession, roster: RosterMatch | None,
                      stage: Stage | None) -> EarlierAdmission | None:
    if roster is None:
        return None
    state = candidate_attendance_in(tx, session.id, roster.entry.id, stage)
    done = state.admission
    return None if done is None else EarlierAdmission(done.id, done.decided_at,
                                                      state.desk(done))


def _second_card(earlier: EarlierAdmission, roster: RosterMatch) -> NewIncident:
    """A card presented for someone already admitted: whoever presented it is the question."""
    return NewIncident(IncidentKind.ALREADY_ADMITTED, Severity.HIGH, earlier.key,
                       {**earlier.context, "admitted_checkin": str(earlier.checkin_id),
                        "admitted_at": earlier.decided_at.isoformat()},
                       related_checkins=(earlier.checkin_id,),
                       roster_entry_id=roster.entry.id)


@dataclass(frozen=True)
class RejectedCard:
    """What ``record_rejected_card`` stored."""

    checkin_id: uuid.UUID | None  # None: the card gave no ID, only the incident was stored
    incident_id: uuid.UUID | None  # None: waiting in the desk's outbox (ids come on delivery)
    roster: RosterMatch | None
    reasons: tuple[Reason, ...]
    already_admitted: EarlierAdmission | None = None


@dataclass(frozen=True)
class CheckInOutcome:
    checkin_id: uuid.UUID
    decision: Decision
    reasons: tuple[Reason, ...]
    roster: RosterMatch | None
    trust: TrustReport
    face: Verification | None
    liveness: LivenessVerdict | None
    incident_ids: tuple[uuid.UUID, ...]
    best_frame: RgbImage | None  # for the screen; stored only as encrypted evidence
    # This candidate was admitted before (at this stage): this attempt did not change that.
    already_admitted: EarlierAdmission | None = None
    # Check-ins waiting in this desk's outbox for the centre (this one among them), 0: stored.
    waiting: int = 0

    @property
    def admitted(self) -> bool:
        return self.decision is Decision.ADMIT

    def to_dict(self) -> dict[str, Any]:
        return {
            "checkin_id": str(self.checkin_id),
            "decision": self.decision.value,
            "reasons": [r.to_dict() for r in self.reasons],
            "candidate": None if self.roster is None else {
                "full_name": self.roster.candidate.full_name,
                "id_number": self.roster.candidate.id_number,
                "registration_number": self.roster.entry.registration_number,
                "seat": self.roster.entry.seat,
                "vehicle": self.roster.entry.vehicle,
            },
            "trust": {"verdict": self.trust.verdict.level.value,
                      "access": self.trust.access},
            "face": None if self.face is None else self.face.to_dict(),
            "liveness": None if self.liveness is None else {
                **_challenge_dict(self.liveness),
                # the challenges of the same try asked before the last, in the order asked
                "previous": [_challenge_dict(v) for v in self.liveness.previous]},
            "incidents": [str(i) for i in self.incident_ids],
            "already_admitted": (None if self.already_admitted is None
                                 else self.already_admitted.to_dict()),
            # Kept in this desk's outbox, waiting for the centre (with how many wait there).
            **({"waiting": self.waiting} if self.waiting else {}),
        }


def _challenge_dict(verdict: LivenessVerdict) -> dict[str, Any]:
    return {"challenge": verdict.challenge.value, "passed": verdict.passed,
            "reason": verdict.reason}


_RANK = {Decision.ADMIT: 0, Decision.REVIEW: 1, Decision.REJECT: 2}


class _Verdicts:
    """Collects reasons; the decision is the worst one found."""

    def __init__(self) -> None:
        self.decision = Decision.ADMIT
        self.reasons: list[Reason] = []
        self.incidents: list[NewIncident] = []
        # The admissions the live face was compared with (the re-check compares the others).
        self.seen_faces: frozenset[uuid.UUID] = frozenset()

    def add(self, decision: Decision, key: str, detail: str = "", **context: Any) -> None:
        if _RANK[decision] > _RANK[self.decision]:
            self.decision = decision
        self.reasons.append(Reason(key, detail, context))


class _KeepFrames:
    """Passes frames through and keeps the recent ones for the evidence, downscaled only when
    asked for or when they age out of the newest *full*.

    Downscaling each 720p frame as it was read cost the live branch ~5–20 ms of CPU per frame
    (PIL's resize), ~15 frames a check-in, for the one frame stored and the few the second
    model looks at. The newest *full* frames are held as the camera gave them (~2.7 MB each;
    cameras hand out a new array per frame) and downscaled on first use, older ones (up to
    *keep* in all) as before: a frame is the same downscaled picture whenever it is asked for.
    """

    def __init__(self, camera: Camera, width: int, keep: int = 32, full: int = 12) -> None:
        self.camera = camera
        self.width = width
        self.keep = keep
        self.full = min(full, keep)
        self._order: OrderedDict[int, None] = OrderedDict()  # every kept index, oldest first
        self._source: OrderedDict[int, RgbImage] = OrderedDict()  # not downscaled yet
        self._small: dict[int, RgbImage] = {}
        self._scales: dict[int, float] = {}

    def read(self, timeout: float = 2.0) -> Frame:
        frame = self.camera.read(timeout)
        self._order[frame.index] = None
        self._source[frame.index] = frame.image
        while len(self._source) > self.full:
            self._shrink(next(iter(self._source)))
        while len(self._order) > self.keep:
            gone, _ = self._order.popitem(last=False)
            self._source.pop(gone, None)
            self._small.pop(gone, None)
            self._scales.pop(gone, None)
        return frame

    def _shrink(self, index: int) -> RgbImage:
        source = self._source.pop(index)
        small = _downscale(source, self.width)
        self._small[index] = small
        # Kept width over source width: maps source landmarks onto the kept frame.
        self._scales[index] = small.shape[1] / source.shape[1]
        return small

    def frame(self, index: int) -> RgbImage | None:
        """Frame *index* downscaled to the evidence width, or None when it is not kept."""
        small = self._small.get(index)
        if small is None and index in self._source:
            small = self._shrink(index)
        return small

    def scale(self, index: int) -> float | None:
        """Kept width over source width of frame *index* (None when it is not kept)."""
        if self.frame(index) is None:
            return None
        return self._scales[index]

    def close(self) -> None:
        self.camera.close()


@dataclass(frozen=True)
class LiveCapture:
    """What the camera gave a check-in: the liveness verdict (before the hand-over judged it),
    the live captures or the error that stopped them (a refused frame's last reason), the kept
    frames and the hand-over that followed the face. Judged only in ``check_in``; the same
    whether it was captured after the card was read or while it was."""

    kept: _KeepFrames
    liveness: LivenessVerdict | None
    handover: HandOver | None
    probes: list[Probe] | None
    problem: BiometricsError | None = None


class FaceHeadStart:
    """The face work of a check-in begun before the card was read
    (``proctoring.checkin_overlap``). ``check_in`` takes what it needs from it and decides
    exactly as it would have on the same frames and portrait."""

    def portrait(self, data: bytes) -> Reference | BiometricsError | None:
        """The chip portrait *data* encoded, or its encoding's error; None when it was not
        begun (or for other bytes): ``check_in`` then encodes it itself."""
        return None

    def live(self) -> LiveCapture:
        """The camera's captures, when they are done (a camera error or a cancel raises)."""
        raise NotImplementedError


def _downscale(image: RgbImage, width: int) -> RgbImage:
    if image.shape[1] <= width:
        return image
    h = round(image.shape[0] * width / image.shape[1])
    return np.asarray(Image.fromarray(image).resize((width, h), Image.Resampling.BILINEAR))


def _jpeg(image: RgbImage) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, "JPEG", quality=85)
    return out.getvalue()


class CheckInService:
    """One per station: holds the store and the face engine, decides and records check-ins."""

    def __init__(
        self,
        store: Store,
        engine: FaceEngine,
        *,
        rules: CheckInRules | None = None,
        rng: random.Random | None = None,
        second: SecondModel | None = None,
        desk: str | None = None,
        outbox: DeskOutbox | None = None,
        portrait_engine: FaceEngine | None = None,
    ) -> None:
        self.store = store
        self.outbox = outbox
        """This desk's outbox (issue 17): check-ins wait there while the centre is unreachable."""
        self.desk = desk
        """This station's name for itself ("Cửa 1"), stored with each check-in it makes."""
        self.engine = engine
        self.portrait_engine = portrait_engine or engine
        """Where an overlapped check-in encodes the chip portrait while the live frames are
        encoded on ``engine``: a second face process when the computer has the cores for it
        (``biometrics.remote.portrait_engine``), else ``engine`` itself."""
        self.rules = rules or CheckInRules()
        self.rng = rng or random.Random()
        self.second = second
        """The site's second face model fused with dlib (None: dlib alone)."""

    def check_in(
        self,
        session: ExamSession,
        card: CardRead,
        trust: TrustReport,
        camera: Camera,
        *,
        consent: bool,
        stage: Stage | None = None,
        operator_id: uuid.UUID | None = None,
        actor: str,
        challenge: Challenge | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        cancel: threading.Event | None = None,
        checkin_id: uuid.UUID | None = None,
        head_start: FaceHeadStart | None = None,
    ) -> CheckInOutcome:
        """Decide and store one check-in. With *head_start* the portrait's encoding and the
        camera's captures were begun while the card was read (issue 16): they are taken from
        it, judged in the same order and stored the same as when done here one after the
        other; *camera* is then not read."""
        started = self.store.now()
        checkin_id = checkin_id or uuid.uuid4()
        verdicts = _Verdicts()
        evidence: list[EvidenceItem] = []

        def step(s: Step, key: str, **context: Any) -> None:
            if cancel is not None and cancel.is_set():
                raise CheckInCancelled("the invigilator cancelled the check-in")
            if on_progress is not None:
                on_progress(Progress(s, key, context))

        if session.kind == SessionKind.DRIVING_TEST and stage is None:
            stage = Stage(session.stages[0]) if session.stages else Stage.THEORY
        id_number = card.id_number or ""

        step(Step.ROSTER, "checkin.step.roster")
        roster, earlier, in_force = self._lookups(session, id_number, stage)
        face: Verification | None = None
        liveness: LivenessVerdict | None = None
        frame: RgbImage | None = None
        if earlier is not None and roster is not None:
            # Admitted already: this attempt is checked all the same (its face is the evidence
            # of who presented the card), recorded on its own, and a person looks at it.
            verdicts.add(Decision.REVIEW, earlier.key, **earlier.context)
            verdicts.incidents.append(_second_card(earlier, roster))

        if roster is None:
            verdicts.add(Decision.REJECT, "checkin.not_on_roster")
            verdicts.incidents.append(NewIncident(
                IncidentKind.NOT_ON_ROSTER, Severity.MEDIUM, "checkin.not_on_roster",
                {"id_number_suffix": id_number[-4:]}))
        else:
            step(Step.CARD, "checkin.step.card")
            self._judge_card(card, trust, verdicts)
            if verdicts.decision is not Decision.REJECT:
                if not consent:
                    # Without consent no biometric check may run: a person checks by eye.
                    verdicts.add(Decision.REVIEW, "checkin.no_consent")
                else:
                    face, liveness, frame = self._judge_face(
                        session, roster, card, camera, stage, challenge, verdicts, evidence,
                        step, in_force, head_start)

        step(Step.RECORDING, "checkin.step.recording")
        if consent and card.portrait is not None:
            evidence.insert(0, EvidenceItem(EvidenceKind.CHIP_PORTRAIT, card.portrait.data,
                                            card.portrait.mime_type, started))
        if not consent:
            verdicts.incidents = [
                NewIncident(i.kind, i.severity, i.message_key, i.details, i.related_checkins,
                            (), i.started_at, i.ended_at, i.roster_entry_id)
                for i in verdicts.incidents]
        kept = self._record(CheckInInput(
            session_id=session.id,
            id_number=id_number,
            decision=verdicts.decision,
            reasons=tuple(verdicts.reasons),
            consent=consent,
            started_at=started,
            decided_at=self.store.now(),
            roster_entry_id=None if roster is None else roster.entry.id,
            stage=stage,
            trust_verdict=trust.verdict.level.value,
            trust_findings=tuple(f.name for f in trust.verdict.findings),
            face_outcome=None if face is None else face.decision.value,
            face_distance=None if face is None else face.distance,
            liveness=None if liveness is None else ("passed" if liveness.passed else "failed"),
            operator_id=operator_id,
            desk=self.desk,
            evidence=tuple(evidence) if consent else (),
            incidents=tuple(verdicts.incidents),
            checkin_id=checkin_id,
        ), actor=actor, point=in_force.point,
            seen=verdicts.seen_faces if face is not None else None)
        decision, reasons = verdicts.decision, tuple(verdicts.reasons)
        if kept.guarded is not None:
            # Another desk may have committed this card or this face meanwhile (checkin_guard).
            # A check-in kept in the outbox is re-checked so when it is delivered.
            decision, reasons = kept.guarded.decision, kept.guarded.reasons
            first = kept.guarded.admitted_first
            if earlier is None and first is not None:
                earlier = EarlierAdmission(first.checkin_id, first.decided_at, first.desk)
        step(Step.DONE, decision_sentence_key(decision))
        return CheckInOutcome(kept.checkin_id, decision, reasons,
                              roster, trust, face, liveness, kept.incident_ids, frame,
                              earlier, kept.waiting)

    def record_rejected_card(
        self,
        session: ExamSession,
        error: ReaderError,
        *,
        actor: str,
        consent: bool,
        stage: Stage | None = None,
        operator_id: uuid.UUID | None = None,
        checkin_id: uuid.UUID | None = None,
    ) -> RejectedCard:
        """A card whose data made the read fail (``reader.errors.is_card_fault``): a forged or
        broken chip is a check-in REJECTED with trust verdict FORGED and a critical
        FORGED_CARD incident, never an attempt that leaves no trace. The ID comes from the
        chip's DG1 when it was read before the failure (``error.context["id_number"]``);
        without one only the incident can be stored."""
        started = self.store.now()
        if session.kind == SessionKind.DRIVING_TEST and stage is None:
            stage = Stage(session.stages[0]) if session.stages else Stage.THEORY
        try:
            id_number: str | None = validate_id_number(str(error.context.get("id_number", "")))
        except InvalidKeyInput:
            id_number = None
        reasons: tuple[Reason, ...] = (Reason("checkin.card_rejected"),
                   Reason(error.key, error.detail[:500],
                          {k: v for k, v in _plain(error.context).items() if k == "file"}))
        details: dict[str, Any] = {"card_error": error.key, "detail": error.detail[:500]}
        if id_number is None:
            incident = record_incident(self.store, session.id, NewIncident(
                IncidentKind.FORGED_CARD, Severity.CRITICAL, "checkin.card_rejected",
                {**details, "id_number": None}), actor=actor, reporter=operator_id)
            return RejectedCard(None, incident.id, None, reasons)
        roster, earlier, in_force = self._lookups(session, id_number, stage)
        entry = None if roster is None else roster.entry.id
        incidents = [NewIncident(IncidentKind.FORGED_CARD, Severity.CRITICAL,
                                 "checkin.card_rejected",
                                 {**details, "id_number_suffix": id_number[-4:]},
                                 roster_entry_id=entry)]
        if earlier is not None and roster is not None:
            reasons += (Reason(earlier.key, "", earlier.context),)
            incidents.append(_second_card(earlier, roster))
        recorded = self._record(CheckInInput(
            session_id=session.id, id_number=id_number, decision=Decision.REJECT,
            reasons=reasons, consent=consent, started_at=started, decided_at=self.store.now(),
            roster_entry_id=entry, stage=stage, trust_verdict=Verdict.FORGED.value,
            trust_findings=(error.key,), operator_id=operator_id, desk=self.desk,
            incidents=tuple(incidents), checkin_id=checkin_id or uuid.uuid4()), actor=actor,
            point=in_force.point, seen=None)
        return RejectedCard(recorded.checkin_id, recorded.incident_ids[0]
                            if recorded.incident_ids else None, roster, reasons, earlier)

    # --- the centre, or this desk's outbox while the centre is unreachable (issue 17) ------

    def _lookups(self, session: ExamSession, id_number: str, stage: Stage | None
                 ) -> tuple[RosterMatch | None, EarlierAdmission | None, PointInForce]:
        """The roster line, any earlier admission and the operating point in force for this
        check-in: from the centre in one transaction (each round trip is paid by every desk
        of a centre), else (offline) from this desk's copy of the roster and its own waiting
        check-ins, with the settings' point."""
        if self.outbox is not None:
            self.outbox.centre_away = False  # asked again at each check-in
        try:
            if self.outbox is not None and len(self.outbox):
                # What waits goes first, if the centre is back.
                if not self.outbox.deliver(self.store).reachable:
                    raise DatabaseUnavailable("the centre database does not answer")
            fallback = self.engine.settings.operating_point
            with self.store.read() as tx:
                roster = roster_lookup_in(tx, session.id, id_number)
                earlier = _already_admitted(tx, session, roster, stage)
                in_force = point_in_force_in(tx, session.centre_id, fallback)
            if self.outbox is not None:
                self.outbox.remember(self.store, session)
            return roster, earlier, in_force
        except DatabaseUnavailable:
            if self.outbox is None:
                raise
            # Away for the rest of this check-in: each later read would wait for the same
            # connection timeout (a pulled cable is not a refused connection).
            self.outbox.centre_away = True
        roster = self.outbox.roster_lookup(session.id, id_number)
        waiting = (None if roster is None
                   else self.outbox.waiting_admission(roster.entry.id, stage))
        return (roster, None if waiting is None else EarlierAdmission(*waiting),
                PointInForce(self.engine.settings.operating_point, "settings", None))

    def _from_centre(self, read: Callable[[], _T], offline: Callable[[], _T]) -> _T:
        """``read()`` from the centre, or ``offline()`` when it is away (found so earlier in
        this check-in, or now)."""
        if self.outbox is not None and self.outbox.centre_away:
            return offline()
        try:
            return read()
        except DatabaseUnavailable:
            if self.outbox is None:
                raise
            self.outbox.centre_away = True
            return offline()

    def _record(self, item: CheckInInput, *, actor: str, point: OperatingPoint,
                seen: Collection[uuid.UUID] | None) -> Kept:
        def now(store: Store, given: CheckInInput, who: str) -> Guarded:
            return record_guarded(store, given, actor=who, point=point, seen=seen)

        if self.outbox is None:
            done = now(self.store, item, actor)
            return Kept(done.recorded.checkin.id, done.recorded.incident_ids, 0, done)
        return self.outbox.record(self.store, item, actor=actor, recorder=now)

    # --- the card ---------------------------------------------------------------------------

    def _judge_card(self, card: CardRead, trust: TrustReport, verdicts: _Verdicts) -> None:
        level = trust.verdict.level
        decision = self.rules.card_decision(level)
        reasons = list(trust.verdict.reasons)
        if level is Verdict.FORGED:
            for f in reasons:
                verdicts.add(decision, f.message, f.detail, finding=f.name)
            verdicts.incidents.append(NewIncident(
                IncidentKind.FORGED_CARD, Severity.CRITICAL, "checkin.forged_card",
                {"findings": [f.name for f in reasons]}))
        elif level is Verdict.SUSPICIOUS:
            for f in reasons:
                if f.name == "card.expired":
                    continue  # judged below, by the rule for expired cards
                verdicts.add(decision, f.message, f.detail, finding=f.name)
        if trust.expired:
            verdicts.add(self.rules.expired_card_decision(), "checkin.card_expired")

    # --- the face -----------------------------------------------------------------------------

    def _judge_face(
        self,
        session: ExamSession,
        roster: RosterMatch,
        card: CardRead,
        camera: Camera,
        stage: Stage | None,
        challenge: Challenge | None,
        verdicts: _Verdicts,
        evidence: list[EvidenceItem],
        step: Callable[..., None],
        in_force: PointInForce,
        head_start: FaceHeadStart | None = None,
    ) -> tuple[Verification | None, LivenessVerdict | None, RgbImage | None]:
        if card.portrait is None:
            verdicts.add(Decision.REVIEW, "checkin.no_chip_portrait")
            return None, None, None
        step(Step.PORTRAIT, "checkin.step.portrait")
        encoded = None if head_start is None else head_start.portrait(card.portrait.data)
        if encoded is None:
            encoded = self.encode_portrait(card.portrait.data, self.engine)
        if isinstance(encoded, BiometricsError):
            verdicts.add(Decision.REVIEW, "checkin.chip_portrait_unusable", encoded.detail,
                         problem=encoded.key)
            return None, None, None
        reference = encoded
        evidence.append(embedding_item(reference.embedding, EvidenceKind.CHIP_EMBEDDING))

        captured = (head_start.live() if head_start is not None
                    else self.capture_live(camera, challenge, step))
        kept, liveness, handover = captured.kept, captured.liveness, captured.handover
        if liveness is not None and not liveness.passed:
            verdicts.add(self.rules.liveness_failed,
                         liveness.reason or "checkin.liveness_failed",
                         challenge=liveness.challenge.value,
                         attempts=self.rules.liveness_attempts)
        if captured.problem is not None or captured.probes is None:
            problem = captured.problem
            assert problem is not None
            verdicts.add(Decision.REVIEW, problem.key, problem.detail)
            return None, liveness, None
        probes = captured.probes
        if handover is not None:
            liveness = handover.judge(probes)
            if not liveness.passed:
                verdicts.add(self.rules.liveness_failed, liveness.reason,
                             challenge=liveness.challenge.value)
        live = fuse([p.embedding for p in probes])
        face = compare(reference.embedding, [p.embedding for p in probes], in_force.point)
        face = self._as_norm(session, roster, reference, probes, face, in_force)
        if self.second is not None:
            face = self._fused(card, reference, probes, kept, face)
        if face.method == "asnorm" and face.score is not None:
            # Stored with the check-in: which score decided, against how many portraits.
            verdicts.add(Decision.ADMIT, "checkin.face_asnorm", likeness=round(-face.score, 3),
                         cohort=face.cohort, distance=round(face.distance, 4))
        best = kept.frame(probes[0].frame_index)
        now = self.store.now()
        if best is not None:
            evidence.append(EvidenceItem(EvidenceKind.LIVE_FRAME, _jpeg(best), "image/jpeg", now))
        evidence.append(embedding_item(live, EvidenceKind.LIVE_EMBEDDING, now))
        if face.decision is FaceOutcome.NO_MATCH:
            verdicts.add(self.rules.face_decision(face.decision), "checkin.face_mismatch",
                         distance=round(face.distance, 4))
            verdicts.incidents.append(NewIncident(
                IncidentKind.FACE_MISMATCH, Severity.HIGH, "checkin.face_mismatch",
                {"distance": round(face.distance, 4)}, roster_entry_id=roster.entry.id))
        elif face.decision is FaceOutcome.REVIEW:
            verdicts.add(self.rules.face_decision(face.decision), "checkin.face_review",
                         distance=round(face.distance, 4))

        step(Step.DUPLICATES, "checkin.step.duplicates")
        self._judge_duplicates(session, roster, stage, live, verdicts, in_force.point)
        return face, liveness, best

    @staticmethod
    def encode_portrait(data: bytes, engine: FaceEngine, *,
                        describe: RawDescribe | None = None) -> Reference | BiometricsError:
        """The chip portrait encoded on *engine*, or why it cannot be (a REVIEW reason).
        *describe* describes its jittered chips (default: on *engine*; the overlapped check-in
        spreads them over both face processes once the live one is free)."""
        try:
            return enrol(engine, data, describe=describe)
        except BiometricsError as exc:
            return exc

    def capture_live(self, camera: Camera, challenge: Challenge | None,
                     step: Callable[..., None], *,
                     describe: Describe | None = None) -> LiveCapture:
        """The liveness challenge (when the rules ask for one), then the live captures for
        the comparison, the face followed from the challenge's last frame through every frame
        the capture reads (issue 15). A refused capture is returned as its problem; a camera
        that fails raises ``CameraUnavailable``; *step* reports and may cancel. *describe*
        describes the chosen captures' chips (default: on ``engine``; the overlapped check-in
        spreads them over both face processes once the portrait's is free)."""
        kept = _KeepFrames(camera, self.rules.evidence_width)
        liveness = None
        if self.rules.require_liveness:
            liveness = self._liveness(kept, challenge, step)
        step(Step.FACE, "checkin.step.face")
        handover = HandOver(liveness) if liveness is not None and liveness.passed else None
        try:
            probes = collect(self.engine, kept, max_frames=self.rules.capture_frames,
                             on_problem=lambda e: step(Step.FACE, e.key, **_plain(e.context)),
                             on_face=None if handover is None else handover.see,
                             describe=describe)
        except CameraUnavailable:
            raise
        except BiometricsError as exc:
            return LiveCapture(kept, liveness, handover, None, exc)
        return LiveCapture(kept, liveness, handover, probes)

    def _fused(self, card: CardRead, reference: Reference, probes: list[Probe],
               kept: _KeepFrames, dlib: Verification) -> Verification:
        """The decision on dlib's distance fused with the site's second model's. The portrait
        is decoded again (it is small) and its 68 landmarks placed; each live capture's
        landmarks are scaled to the kept (downscaled) frame. When the second model cannot
        see a face, dlib's decision stands alone: never a silent pass."""
        assert self.second is not None and card.portrait is not None
        try:
            image = decode(card.portrait.data)
            chip = self.second.embedder.embed(image, self.engine.landmarks(image,
                                                                           reference.face))
            lives = []
            for p in probes:
                frame = kept.frame(p.frame_index)
                scale = kept.scale(p.frame_index)
                if frame is not None and scale is not None:
                    lives.append(self.second.embedder.embed(frame, p.landmarks * scale))
            if not lives:
                return dlib
            return self.second.verify(dlib.distance, chip, lives)
        except (BiometricsError, ValueError):
            return dlib

    def _as_norm(self, session: ExamSession, roster: RosterMatch, reference: Reference,
                 probes: list[Probe], raw: Verification,
                 in_force: PointInForce) -> Verification:
        """The decision on the AS-normed score against the centre's chip portraits (the
        candidate's own left out) when the raw point in force is the shipped default and the
        cohort is large enough; else *raw*. A centre's (or district's, or the site's settings)
        own calibration was measured on raw distances of its own people and stays in force
        (``biometrics.asnorm``)."""
        settings = self.engine.settings.asnorm
        if not settings.enabled or in_force.calibrated or not is_default(in_force.point):
            return raw
        cohort = self._from_centre(lambda: chip_cohort(self.store, session.centre_id),
                                   lambda: None)
        if cohort is None:
            return raw  # offline: the centre's portraits are out of reach, the raw point holds
        return verify_as_norm(raw, reference.embedding, [p.embedding for p in probes], cohort,
                              roster.candidate.id_number, settings)

    def operating_point(self, session: ExamSession) -> PointInForce:
        """The centre's own (or its district's) population calibration when it has one, else
        the settings' point (the shipped default unless the site set one): read at each
        check-in, so a calibration that arrives by sync applies from the next candidate."""
        fallback = self.engine.settings.operating_point
        # Offline: the settings' point (the centre's calibration is in its database).
        return self._from_centre(
            lambda: point_in_force(self.store, session.centre_id, fallback),
            lambda: PointInForce(fallback, "settings", None))

    def _liveness(self, camera: Camera, challenge: Challenge | None,
                  step: Callable[..., None]) -> LivenessVerdict:
        """The centre's number of challenges in a random order (or only *challenge*, when the
        caller names one: the CLI's --challenge, the demo's blink), tried up to the centre's
        number of attempts; each prompt says which challenge of how many and which attempt,
        and a failed attempt's reason is shown before the next one starts."""
        rules = self.rules
        check = LivenessCheck(self.engine)
        verdict: LivenessVerdict | None = None
        for attempt in range(1, rules.liveness_attempts + 1):
            plan = (challenge,) if challenge else Challenge.plan(rules.liveness_challenges,
                                                                  self.rng)

            def prompt(number: int, asked: Challenge, plan_size: int = len(plan),
                       attempt: int = attempt) -> None:
                step(Step.LIVENESS, f"checkin.liveness.{asked.value}", challenge=asked.value,
                     number=number + 1, of=plan_size, attempt=attempt,
                     attempts=rules.liveness_attempts)

            verdict = run_plan(check, camera, plan, rules.liveness_frames, on_prompt=prompt)
            if verdict.passed:
                return verdict
            if attempt < rules.liveness_attempts:
                step(Step.LIVENESS, verdict.reason or "checkin.liveness_failed",
                     challenge=verdict.challenge.value, attempt=attempt,
                     attempts=rules.liveness_attempts)
        assert verdict is not None  # liveness_attempts >= 1 (CheckInRules checks it)
        return verdict

    def _judge_duplicates(self, session: ExamSession, roster: RosterMatch, stage: Stage | None,
                          live: np.ndarray, verdicts: _Verdicts, point: OperatingPoint) -> None:
        # One face under two IDs, a different face at another stage: on every desk's
        # admissions (face_rules), and again at recording under the session's lock.

        def judge() -> Judged:
            with self.store.read() as tx:
                return judge_faces(tx, self.store, session, roster.entry.id, stage, live, point)

        judged = self._from_centre(judge, lambda: None)
        if judged is None:
            # Offline: the other desks' admissions are out of reach (offline_rule says what
            # that means for this stage); the outbox's delivery runs the face rules over them.
            offline_rule(session, stage, verdicts.add)
            return
        verdicts.seen_faces = judged.seen
        for f in judged.findings:
            verdicts.add(f.decision, f.reason.key, f.reason.detail, **f.reason.context)
            verdicts.incidents.append(f.incident)


def _plain(context: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in context.items() if isinstance(v, str | int | float)}

