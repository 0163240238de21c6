"""The face rules that look past the candidate's own card: a live face against every face already
admitted in the session, on whichever desk of the centre admitted it (issue 17).

- **one face under two IDs**: the live face matches a face admitted under another roster line
  (a proxy sits for one of the two, whichever card is the genuine one) → REJECT with a
  PROXY_SUSPECTED incident linked to that admission;
- **a different face at another stage** (driving test): the live face does not match the face
  admitted at one of the candidate's other stages (the theory room's face at the track) → REJECT
  with a stage-mismatch incident (FACE_MISMATCH) linked to both check-ins, so the reviewer sees
  both stages' chip portrait and live frame side by side; its words say which stage, when
  (Vietnam time) and at which desk the other face was admitted.

The admitted faces are the centre's: read from the centre database and opened with the data key
(on an enrolled station, the key sealed to it), so the desk at the track sees what the theory room
stored. The same rules run twice: in the check-in's face step (what this desk could see), and
again at the moment of recording, under the session's lock (:mod:`.checkin_guard`: what another
desk committed meanwhile). Pure decisions over a transaction's reads: no clock, no I/O besides it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
from sqlmodel import Session, select

from biometrics import Gallery, distance
from biometrics.config import OperatingPoint
from biometrics.decision import FaceOutcome, decide
from examdesk.timezone import VIETNAM

from .checkins import FaceSet, NewIncident, Reason, admitted_faces_in, desks_of
from .models import CheckIn, Decision, ExamSession, IncidentKind, SessionKind, Severity, Stage
from .store import Store

PROXY_KEY = "checkin.face_already_admitted"
STAGE_KEY = "checkin.stage_face_mismatch"
STAGE_KEY_NO_DESK = "checkin.stage_face_mismatch_no_desk"


@dataclass(frozen=True)
class Finding:
    """One rule that fired: the decision it asks for, the reason shown, the incident opened."""

    decision: Decision
    reason: Reason
    incident: NewIncident

    @property
    def about(self) -> tuple[uuid.UUID, ...]:
        """The earlier check-ins the finding is about (what makes two findings the same)."""
        return tuple(self.incident.related_checkins)


@dataclass(frozen=True)
class Judged:
    findings: tuple[Finding, ...]
    seen: frozenset[uuid.UUID]  # the admissions the live face was compared with


def judge_faces(tx: Session, store: Store, session: ExamSession, roster_entry_id: uuid.UUID,
                stage: Stage | None, live: np.ndarray, point: OperatingPoint, *,
                skip: Collection[uuid.UUID] = (), exclude: uuid.UUID | None = None,
                seen: Collection[uuid.UUID] | None = None) -> Judged:
    """Both rules for the live face (a fused 128-d embedding) of ``roster_entry_id``.

    ``skip``: admissions a finding already names (the re-check at recording adds no second
    incident about them); ``exclude``: the check-in being recorded (never its own gallery);
    ``seen``: admissions already compared with this face (the face step's): only the others are
    opened and compared — the re-check under the lock stays short in a full session."""
    only = None
    if seen is not None:
        admitted = set(tx.exec(select(CheckIn.id).where(CheckIn.session_id == session.id)
                               .where(CheckIn.decision == Decision.ADMIT)).all())
        only = admitted - set(seen) - {exclude}
        if not only:
            return Judged((), frozenset())
    faces = admitted_faces_in(tx, store, session.id, only=only)
    rows = [i for i, c in enumerate(faces.checkin_ids) if c != exclude]
    found = []
    proxy = _proxy(faces, [i for i in rows if faces.roster_entry_ids[i] != roster_entry_id],
                   live, point, roster_entry_id)
    if proxy is not None and not set(proxy.about) & set(skip):
        found.append(proxy)
    if session.kind == SessionKind.DRIVING_TEST and stage is not None:
        own = [i for i in rows if faces.roster_entry_ids[i] == roster_entry_id]
        changed = _stage_changed(tx, faces, own, live, point, roster_entry_id, stage)
        if changed is not None and not set(changed.about) & set(skip):
            found.append(changed)
    return Judged(tuple(found), frozenset(faces.checkin_ids[i] for i in rows))


def _proxy(faces: FaceSet, others: list[int], live: np.ndarray, point: OperatingPoint,
           roster_entry_id: uuid.UUID) -> Finding | None:
    if not others:
        return None
    gallery = Gallery([str(faces.checkin_ids[i]) for i in others], faces.embeddings[others])
    for hit in gallery.search(live, k=min(3, len(others))):
        if decide(hit.distance, point) is FaceOutcome.NO_MATCH:
            continue
        d = round(hit.distance, 4)
        return Finding(Decision.REJECT, Reason(PROXY_KEY, "", {"distance": d}), NewIncident(
            IncidentKind.PROXY_SUSPECTED, Severity.CRITICAL, PROXY_KEY, {"distance": d},
            related_checkins=(uuid.UUID(hit.id),), roster_entry_id=roster_entry_id))
    return None


def _stage_changed(tx: Session, faces: FaceSet, own: list[int], live: np.ndarray,
                   point: OperatingPoint, roster_entry_id: uuid.UUID,
                   stage: Stage) -> Finding | None:
    """The first of the candidate's admitted faces (oldest first) the live face does not match:
    the same person must sit every stage."""
    for i in own:
        d = distance(live, faces.embeddings[i])
        if decide(d, point) is not FaceOutcome.NO_MATCH:
            continue
        earlier_id = faces.checkin_ids[i]
        earlier = tx.get(CheckIn, earlier_id)
        assert earlier is not None  # it was just read with its evidence
        desk = desks_of(tx, [earlier_id]).get(earlier_id)
        local = earlier.decided_at.astimezone(VIETNAM)
        context = {"distance": round(d, 4), "stage": Stage(stage).value,
                   "earlier_stage": Stage(earlier.stage).value if earlier.stage else "",
                   "at": local.strftime("%H:%M"), "date": local.strftime("%d/%m/%Y"),
                   "desk": desk or ""}
        key = STAGE_KEY if desk else STAGE_KEY_NO_DESK
        return Finding(Decision.REJECT, Reason(key, "", context), NewIncident(
            IncidentKind.FACE_MISMATCH, Severity.CRITICAL, key,
            {**context, "earlier_checkin": str(earlier_id),
             "earlier_decided_at": earlier.decided_at.isoformat()},
            related_checkins=(earlier_id,), roster_entry_id=roster_entry_id))
    return None
