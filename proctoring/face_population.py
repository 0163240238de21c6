"""The population a centre (or a district) checks, as calibration data; the calibrations kept.

- :func:`population_scores`: from the store's sealed evidence, opened in memory only (Decree
  13: descriptors are never written anywhere unsealed), the impostor tail and the genuine
  distances :mod:`biometrics.population` needs. One chip descriptor per ID number (its latest
  check-in); genuine pairs are admitted check-ins that no review contradicts: no incident
  linked to them is CONFIRMED (fraud) or still OPEN (an override awaiting the office), so an
  invigilator's override counts only once the office dismissed its incident.
- :func:`calibrate_centre` / :func:`calibrate_district`: run the calibration and keep it, with
  an audit event, as the centre's operating point; the district's goes to every member centre
  (a row per centre, ordered by the office's audit event) and reaches it by sync
  (:func:`apply_district_calibrations`, audited again on the centre's chain).
- :func:`point_in_force`: what the check-in uses — the newest calibration of the centre, else
  the settings' point (the shipped default unless a site set its own), and says which.
- :func:`drift`: the point in force re-estimated on today's data.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from biometrics.asnorm import Cohort
from biometrics.config import OperatingPoint
from biometrics.population import (
    CONFIDENCE,
    TRADEOFF_TARGETS,
    DriftCheck,
    DriftCheckImpossible,
    ImpostorTail,
    PopulationCalibration,
    TradeOff,
    calibrate_population,
    drift_check,
    impostor_tail,
    merge_tails,
    tail_size,
    tradeoff,
)

from .audit_rows import row_bindings
from .calibration_models import FaceCalibration
from .checkins import EMBEDDING_DIM
from .district_models import DistrictMember, SyncState, sync_state
from .errors import EvidenceUnreadable
from .evidence import open_blob
from .models import (
    CheckIn,
    Decision,
    Evidence,
    EvidenceBlob,
    EvidenceKind,
    IncidentCheckIn,
    IncidentKind,
    IncidentStatus,
    Severity,
)
from .models import Incident as IncidentRow
from .store import Store

_YIELD = 500
_UNSETTLED = (IncidentStatus.CONFIRMED, IncidentStatus.OPEN)


@dataclass(frozen=True)
class PopulationScores:
    tail: ImpostorTail
    genuine: np.ndarray  # float64 distances, sorted
    identities: int
    unreadable: int = 0
    """Descriptors left out: sealed with a key this machine lacks, or altered (the tag fails)."""


def _descriptor(store: Store, row: Evidence, blob: EvidenceBlob) -> np.ndarray | None:
    try:
        plain = open_blob(store, row, blob)
    except EvidenceUnreadable:
        return None  # counted by the caller; one bad blob must not stop the calibration
    if not plain or len(plain) % (4 * EMBEDDING_DIM):
        return None  # not a descriptor: skipped rather than trusted
    matrix = np.frombuffer(plain, dtype="<f4").reshape(-1, EMBEDDING_DIM)
    if len(matrix) == 1 and np.isfinite(matrix).all():
        return np.array(matrix[0], dtype=np.float32)  # as stored: what the desk compared
    v = matrix.mean(axis=0, dtype=np.float64)
    norm = float(np.linalg.norm(v))
    if not np.isfinite(norm) or norm == 0.0:
        return None
    return (v / norm).astype(np.float32)


def population_scores(store: Store, centre_id: uuid.UUID | None, *, target_fmr: float,
                      confidence: float = CONFIDENCE) -> PopulationScores:
    """The calibration data of one centre (or, ``None``, of every centre in the database)."""
    query = (select(CheckIn, Evidence, EvidenceBlob)
             .join(Evidence, col(Evidence.checkin_id) == col(CheckIn.id))
             .join(EvidenceBlob, col(EvidenceBlob.id) == col(Evidence.id))
             .where(col(Evidence.kind).in_([EvidenceKind.CHIP_EMBEDDING,
                                            EvidenceKind.LIVE_EMBEDDING]))
             .where(col(Evidence.purged_at).is_(None))
             .order_by(col(CheckIn.decided_at), col(Evidence.id)))
    unsettled = (select(IncidentCheckIn.checkin_id)
                 .join(IncidentRow, col(IncidentRow.id) == col(IncidentCheckIn.incident_id))
                 .where(col(IncidentRow.status).in_(_UNSETTLED)))
    if centre_id is not None:
        query = query.where(CheckIn.centre_id == centre_id)
    unreadable = 0
    chips: dict[str, np.ndarray] = {}  # id number -> its latest chip descriptor
    per_checkin: dict[uuid.UUID, dict[str, Any]] = {}
    with store.read() as tx:
        doubtful = set(tx.exec(unsettled).all())
        for checkin, ev, blob in tx.exec(query.execution_options(yield_per=_YIELD)):
            vector = _descriptor(store, ev, blob)
            if vector is None:
                unreadable += 1
                continue
            entry = per_checkin.setdefault(checkin.id, {
                "id": checkin.id_number,
                "genuine": checkin.decision == Decision.ADMIT and checkin.id not in doubtful})
            if ev.kind == EvidenceKind.CHIP_EMBEDDING:
                chips[checkin.id_number] = vector
                entry["chip"] = vector
            else:
                entry["live"] = vector
    genuine: list[float] = []
    lives: list[np.ndarray] = []
    live_ids: list[str] = []
    for entry in per_checkin.values():
        if entry["genuine"] and "chip" in entry and "live" in entry:
            cos = float(np.dot(entry["chip"].astype(np.float64), entry["live"]))
            genuine.append(float(np.sqrt(max(0.0, 2.0 - 2.0 * cos))))
            lives.append(entry["live"])
            live_ids.append(entry["id"])
    del per_checkin
    ids = sorted(chips)
    refs = (np.vstack([chips[i] for i in ids]) if ids
            else np.zeros((0, EMBEDDING_DIM), np.float32))
    n = len(ids)
    id_set = set(ids)
    cross = sum(n - (1 if i in id_set else 0) for i in live_ids)
    # Enough of the smallest distances for the band of the target and of every target the
    # trade-off table shows.
    keep = tail_size(n * (n - 1) // 2 + cross, max(target_fmr, TRADEOFF_TARGETS[-1]),
                     confidence)
    tail = impostor_tail(refs, ids, keep=keep)
    if lives:
        tail = merge_tails(tail, impostor_tail(refs, ids, np.vstack(lives), live_ids,
                                               keep=keep), keep)
    return PopulationScores(tail, np.sort(np.asarray(genuine, np.float64)), n, unreadable)


def chip_cohort(store: Store, centre_id: uuid.UUID) -> Cohort:
    """The centre's chip portraits as an AS-norm cohort: one descriptor per ID number (its
    latest check-in), opened in memory only; unreadable or purged ones are left out."""
    query = (select(CheckIn.id_number, Evidence, EvidenceBlob)
             .join(Evidence, col(Evidence.checkin_id) == col(CheckIn.id))
             .join(EvidenceBlob, col(EvidenceBlob.id) == col(Evidence.id))
             .where(Evidence.kind == EvidenceKind.CHIP_EMBEDDING)
             .where(col(Evidence.purged_at).is_(None))
             .where(CheckIn.centre_id == centre_id)
             .order_by(col(CheckIn.decided_at), col(Evidence.id)))
    chips: dict[str, np.ndarray] = {}
    with store.read() as tx:
        for id_number, ev, blob in tx.exec(query.execution_options(yield_per=_YIELD)):
            vector = _descriptor(store, ev, blob)
            if vector is not None:
                chips[id_number] = vector
    ids = tuple(sorted(chips))
    vectors = (np.vstack([chips[i] for i in ids]).astype(np.float64) if ids
               else np.zeros((0, EMBEDDING_DIM)))
    return Cohort(ids, vectors)


@dataclass(frozen=True)
class CentreTradeOff:
    """What each target FMR would cost on the centre's own people (the settings screen's
    table): computed from the store on demand, never kept."""

    rows: tuple[TradeOff, ...]
    identities: int
    impostor_pairs: int
    genuine_pairs: int
    left_out: int


def centre_tradeoff(store: Store, centre_id: uuid.UUID,
                    targets: tuple[float, ...] = TRADEOFF_TARGETS,
                    confidence: float = CONFIDENCE) -> CentreTradeOff:
    """For each target FMR: the threshold its 95 % bound allows on the centre's pairs, the
    shares of genuine candidates to REVIEW and refused, of impostors admitted, the FMR bound
    and the pairs behind each; a target too few pairs can prove says how many it needs."""
    scores = population_scores(store, centre_id, target_fmr=max(targets),
                               confidence=confidence)
    rows = tradeoff(scores.tail, scores.genuine, targets, confidence)
    return CentreTradeOff(tuple(rows), scores.identities, scores.tail.pairs,
                          len(scores.genuine), scores.unreadable)


# --- keeping a calibration ------------------------------------------------------------------


def _row(result: PopulationCalibration, *, centre_id: uuid.UUID, scope: str, actor: str,
         at: Any, district_seq: int | None = None) -> FaceCalibration:
    p = result.point
    return FaceCalibration(
        centre_id=centre_id, scope=scope, district_seq=district_seq, threshold=p.threshold,
        review_low=p.review_low, review_high=p.review_high, target_fmr=p.target_fmr,
        confidence=result.confidence, impostor_pairs=result.fmr.pairs,
        false_matches=result.fmr.errors, fmr_upper=result.fmr.upper,
        genuine_pairs=result.fnmr.pairs, false_non_matches=result.fnmr.errors,
        fnmr_upper=result.fnmr.upper, identities=result.identities, source=p.source[:200],
        calibrated_by=actor[:100], calibrated_at=at)


def payload(row: FaceCalibration) -> dict[str, Any]:
    """What an audit event says about a calibration (numbers only)."""
    return {"calibration_id": row.id, "centre_id": row.centre_id, "scope": row.scope,
            "threshold": row.threshold, "review_low": row.review_low,
            "review_high": row.review_high, "target_fmr": row.target_fmr,
            "confidence": row.confidence, "impostor_pairs": row.impostor_pairs,
            "false_matches": row.false_matches, "fmr_upper": row.fmr_upper,
            "genuine_pairs": row.genuine_pairs, "false_non_matches": row.false_non_matches,
            "fnmr_upper": row.fnmr_upper, "identities": row.identities,
            "source": row.source, "district_seq": row.district_seq}


def _source(scope: str, scores: PopulationScores, at: Any) -> str:
    return (f"{scope} population: {scores.identities} ID numbers, {scores.tail.pairs} impostor"
            f" / {len(scores.genuine)} genuine pairs, {at.date().isoformat()}")


def _calibrated(store: Store, centre_id: uuid.UUID | None, scope: str, now: datetime,
                target_fmr: float, confidence: float) -> PopulationCalibration:
    """The calibration on one centre's check-ins (``centre_id``) or every centre's (None), with
    its trade-off table and the count of descriptors that did not open."""
    scores = population_scores(store, centre_id, target_fmr=target_fmr, confidence=confidence)
    result = calibrate_population(scores.tail, scores.genuine, target_fmr=target_fmr,
                                  confidence=confidence, identities=scores.identities,
                                  source=_source(scope, scores, now))
    return replace(result, tradeoff=tuple(tradeoff(scores.tail, scores.genuine,
                                                    confidence=confidence)),
                   left_out=scores.unreadable)


def calibrate_centre(store: Store, centre_id: uuid.UUID, *, actor: str,
                     target_fmr: float = 1e-3, confidence: float = CONFIDENCE,
                     save: bool = True) -> tuple[PopulationCalibration, FaceCalibration | None]:
    """Calibrate on the centre's own check-ins; with *save*, keep it as its operating point
    (audited on the centre's chain)."""
    now = store.now()
    result = _calibrated(store, centre_id, "centre", now, target_fmr, confidence)
    if not save:
        return result, None
    with store.write() as tx:
        row = _row(result, centre_id=centre_id, scope="centre", actor=actor, at=now)
        tx.add(row)
        tx.flush()
        store.audit.append(tx, centre_id=centre_id, actor=actor, action="face.calibrated",
                           subject_id=row.id, payload=payload(row), at=now)
    return result, row


def calibrate_district(store: Store, office_centre_id: uuid.UUID, *, actor: str,
                       target_fmr: float = 1e-3, confidence: float = CONFIDENCE,
                       save: bool = True
                       ) -> tuple[PopulationCalibration, list[FaceCalibration]]:
    """Calibrate on every centre's check-ins (the office's store opens every centre's
    evidence); with *save*, send the point to every member centre: per centre a row and an
    event on the office's chain, whose seq orders the centres' pulls."""
    now = store.now()
    result = _calibrated(store, None, "district", now, target_fmr, confidence)
    if not save:
        return result, []
    rows: list[FaceCalibration] = []
    with store.write() as tx:
        centres = [m.centre_id for m in tx.exec(select(DistrictMember)
                                                .order_by(col(DistrictMember.centre_code)))
                   if m.centre_id is not None]
        for centre in centres:
            row = _row(result, centre_id=centre, scope="district", actor=actor, at=now)
            event = store.audit.append(tx, centre_id=office_centre_id, actor=actor,
                                       action="face.calibration_sent", subject_id=row.id,
                                       payload=payload(row), at=now)
            # The event's seq orders the centres' pulls (appends lock the chain head).
            row.district_seq = event.seq
            tx.add(row)
            rows.append(row)
    return result, rows


def apply_district_calibrations(store: Store, centre_id: uuid.UUID,
                                rows: Iterable[dict[str, Any]]) -> int:
    """The district's calibrations for this centre (rows of the district's table, in
    ``district_seq`` order), kept locally with an audit event each and the new position, in
    one transaction; returns how many were applied."""
    applied = 0
    with store.write() as tx:
        state = sync_state(tx, centre_id)
        for r in rows:
            seq = int(r["district_seq"])
            if seq <= state.calibration_seq or r["centre_id"] != centre_id:
                continue
            state.calibration_seq = seq
            if tx.get(FaceCalibration, r["id"]) is not None:
                continue
            fields = {k: r[k] for k in FaceCalibration.model_fields if k in r}
            row = FaceCalibration(**fields)
            problem = implausible(row)
            if problem:
                # Never applied (a threshold of 1.9 would admit anyone); the refusal is on the
                # centre's chain, which the office sees on the next push.
                store.audit.append(tx, centre_id=centre_id,
                                   actor=f"district:{row.calibrated_by}"[:100],
                                   action="face.calibration_refused", subject_id=row.id,
                                   payload={**payload(row), "problem": problem},
                                   at=store.now())
                continue
            tx.add(row)
            tx.flush()
            store.audit.append(tx, centre_id=centre_id,
                               actor=f"district:{row.calibrated_by}"[:100],
                               action="face.calibration_received", subject_id=row.id,
                               payload=payload(row), at=store.now())
            applied += 1
        tx.add(state)
    return applied


def implausible(row: FaceCalibration) -> str | None:
    """Why a calibration cannot be a real one (None if it can): the band out of order or out
    of [0, 2], a target outside (0, 0.1], or an FMR bound that does not meet its target."""
    if not 0.0 <= row.review_low <= row.threshold <= row.review_high <= 2.0:
        return "thresholds out of order or range"
    if not 0.0 < row.target_fmr <= 0.1:
        return "target FMR out of range"
    if not 0.0 <= row.fmr_upper <= row.target_fmr * (1 + 1e-9):
        return "FMR bound above the target"
    if row.impostor_pairs <= 0 or not 0 <= row.false_matches <= row.impostor_pairs:
        return "pair counts impossible"
    return None


def calibration_position(store: Store, centre_id: uuid.UUID) -> int:
    with store.read() as tx:
        state = tx.exec(select(SyncState).where(SyncState.centre_id == centre_id)).first()
        return state.calibration_seq if state is not None else 0




# --- the point in force ---------------------------------------------------------------------


@dataclass(frozen=True)
class PointInForce:
    point: OperatingPoint
    origin: str
    """"centre" (its own population), "district" (its district's), or "settings" (the settings
    file: the shipped default unless the site calibrated one itself)."""
    calibration: FaceCalibration | None

    @property
    def calibrated(self) -> bool:
        return self.calibration is not None

    def to_dict(self) -> dict[str, Any]:
        return {"origin": self.origin, "source": self.point.source,
                "threshold": self.point.threshold,
                "review_band": [self.point.review_low, self.point.review_high],
                "target_fmr": self.point.target_fmr,
                "calibration_id": str(self.calibration.id) if self.calibration else None}


def latest_calibration(tx: Session, centre_id: uuid.UUID) -> FaceCalibration | None:
    return tx.exec(select(FaceCalibration).where(FaceCalibration.centre_id == centre_id)
                   .order_by(col(FaceCalibration.calibrated_at).desc(),
                             col(FaceCalibration.created_at).desc())).first()


def point_in_force(store: Store, centre_id: uuid.UUID,
                   fallback: OperatingPoint) -> PointInForce:
    with store.read() as tx:
        return point_in_force_in(tx, centre_id, fallback)


def point_in_force_in(tx: Session, centre_id: uuid.UUID,
                      fallback: OperatingPoint) -> PointInForce:
    """:func:`point_in_force` inside the caller's transaction."""
    row = latest_calibration(tx, centre_id)
    if row is None:
        return PointInForce(fallback, "settings", None)
    return PointInForce(OperatingPoint(threshold=row.threshold, review_low=row.review_low,
                                       review_high=row.review_high, target_fmr=row.target_fmr,
                                       source=row.source), row.scope, row)


def drift(store: Store, centre_id: uuid.UUID, *, actor: str | None = None) -> DriftCheck:
    """The centre's calibration in force, re-estimated on its check-ins as they are now.

    With *actor*, the check is recorded on the centre's chain (``face.drift_checked``, numbers
    only, ``drifted`` true when the FMR bound no longer meets the target): the next sync puts
    it in front of the office."""
    with store.read() as tx:
        row = latest_calibration(tx, centre_id)
    if row is None:
        raise DriftCheckImpossible("no population calibration for this centre yet")
    scores = population_scores(store, centre_id, target_fmr=row.target_fmr,
                               confidence=row.confidence)
    check = drift_check(scores.tail, scores.genuine, row.threshold, row.target_fmr,
                        calibrated_pairs=row.impostor_pairs, confidence=row.confidence)
    if actor is not None:
        with store.write() as tx:
            now = store.now()
            store.audit.append(tx, centre_id=centre_id, actor=actor,
                               action="face.drift_checked", subject_id=row.id,
                               payload={"calibration_id": row.id, **check.to_dict()},
                               at=now)
            if check.drifted:
                _open_drift_incident(tx, store, centre_id, row, check, actor=actor, at=now)
    return check


DRIFT_MESSAGE = "incident.face_drift"


def _open_drift_incident(tx: Session, store: Store, centre_id: uuid.UUID, row: FaceCalibration,
                         check: DriftCheck, *, actor: str, at: datetime) -> IncidentRow | None:
    """An incident for the office: the operating point in force no longer keeps the FMR bound
    on the centre's own people (a warning can be missed; an incident stays OPEN until someone
    reviews it). One per calibration while it stays open; filed under the session of the
    centre's latest check-in (an incident belongs to a session), HIGH: impostors may be
    admitted above the target until the centre recalibrates."""
    for existing in tx.exec(select(IncidentRow)
                            .where(IncidentRow.centre_id == centre_id)
                            .where(IncidentRow.message_key == DRIFT_MESSAGE)
                            .where(IncidentRow.status == IncidentStatus.OPEN)):
        if str(existing.details.get("calibration_id")) == str(row.id):
            return None
    latest = tx.exec(select(CheckIn).where(CheckIn.centre_id == centre_id)
                     .order_by(col(CheckIn.decided_at).desc())).first()
    if latest is None:
        return None  # no check-in: no data could have drifted
    details = {"calibration_id": str(row.id), "threshold": check.threshold,
               "target_fmr": check.target_fmr, "false_matches": check.fmr.errors,
               "impostor_pairs": check.fmr.pairs, "fmr_upper": check.fmr.upper,
               "calibrated_pairs": check.calibrated_pairs}
    incident = IncidentRow(centre_id=centre_id, session_id=latest.session_id,
                           kind=IncidentKind.OTHER, severity=Severity.HIGH,
                           message_key=DRIFT_MESSAGE, details=details, started_at=at)
    tx.add(incident)
    tx.flush()
    store.audit.append(tx, centre_id=centre_id, actor=actor, action="incident.opened",
                       subject_id=incident.id,
                       payload={"kind": incident.kind, "message_key": DRIFT_MESSAGE,
                                **details, "rows": row_bindings(tx, incidents=[incident.id])},
                       at=at)
    return incident
