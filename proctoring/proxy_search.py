"""Cross-centre proxy search: every admitted face against every admitted face of another ID.

A hired proxy who sits for several candidates shows up as one face under several ID numbers,
often at different centres and on different days, where no single centre can see it. The office
screens the district's admitted check-ins (their live embeddings) with the matcher's blocked
all-pairs scan (:meth:`biometrics.matcher.Gallery.duplicates`, BLAS sgemm):

- **incrementally**: only check-ins not screened before are scanned, against each other and
  against every stored one. With the new rows first in the gallery, ``duplicates(rows=(0, m))``
  visits exactly the pairs (new, new) and (new, stored): m·(N+m) products instead of (N+m)²/2;
  ``proxy_screen`` records what was screened, in the same transaction as the incidents;
- **idempotently**: an incident's id is derived from its two check-ins (UUIDv5), so screening
  again, or two offices screening at once, never opens a second incident for the same pair;
  a pair the check-in workflow already linked in a proxy incident is not reported again;
- a pair of the **same ID** is never a proxy (the same person at another stage or centre);
- **one bad row stops nothing**: a stored face that cannot be decrypted or is no embedding
  (wrong size, non-finite numbers) is left out, named in a ``FACE_UNSCREENABLE`` incident (one
  per evidence item, idempotent like the pairs) and its check-in is not marked screened, so a
  later screen tries it again; every other face is screened as usual.

Proxy incidents belong to the office (its centre row and audit chain): a centre's credentials
do not show them, because they name another centre's candidate. Each links both check-ins (and
through them both centres and their evidence) and lists both centres in its details.

The distance threshold defaults to the calibrated "match without a second look" bound. At
district scale the expected false pairs per screen are new × stored × FMR(threshold): a site
should calibrate this threshold for 1:N (``examdesk face calibrate``) before trusting it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlmodel import Session, col, select

from biometrics.config import OperatingPoint
from biometrics.matcher import Gallery

from .audit import json_ready
from .audit_rows import row_bindings
from .checkins import EMBEDDING_DIM
from .district import Office
from .district_models import ProxyScreen
from .errors import ProctoringError
from .evidence import open_blob
from .models import (
    AuditHead,
    Centre,
    CheckIn,
    Decision,
    Evidence,
    EvidenceBlob,
    EvidenceKind,
    Incident,
    IncidentCheckIn,
    IncidentKind,
    Severity,
)

DEFAULT_THRESHOLD = OperatingPoint().review_low
_PAIR_NAMESPACE = uuid.UUID("6f1b7d4e-2c1a-5b8e-9d0f-0e5a3c7b9a11")
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class FacePair:
    """``new`` indexes the new rows; ``other`` the gallery [new; stored] (< len(new): a new
    row, else stored row ``other - len(new)``)."""

    new: int
    other: int
    distance: float


def screen_faces(new: NDArray[np.float32], stored: NDArray[np.float32],
                 threshold: float) -> list[FacePair]:
    """Every pair within ``threshold`` between a new row and a later new row or a stored row.

    Embeddings are unit float32 rows (n, 128). ``stored`` is concatenated after ``new`` once
    (one copy of the gallery per screen)."""
    m = len(new)
    if m == 0:
        return []
    x = np.concatenate([new, stored]) if len(stored) else new
    gallery = Gallery(list(map(str, range(len(x)))), x)  # row numbers as ids
    found = gallery.duplicates(threshold, rows=(0, m))
    return [FacePair(p.a, p.b, p.distance) for p in found.pairs]


# --- the district screen ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Admitted:
    checkin_id: uuid.UUID
    centre_id: uuid.UUID
    session_id: uuid.UUID
    id_number: str
    decided_at: Any
    screened: bool


@dataclass(frozen=True)
class Unscreenable:
    """A stored face the screen had to leave out, and why."""

    evidence_id: uuid.UUID
    checkin_id: uuid.UUID
    reason: str  # "unreadable" (decryption failed) or "malformed" (not an embedding)
    detail: str


@dataclass(frozen=True)
class ScreenResult:
    screened: int  # new check-ins screened this time
    faces_new: int
    faces_stored: int
    pairs: int  # face pairs within the threshold (several embeddings per check-in count once)
    incidents: tuple[uuid.UUID, ...]  # opened now
    known: int  # pairs an incident already covered
    load_seconds: float
    match_seconds: float
    threshold: float
    unscreenable: tuple[Unscreenable, ...] = ()  # left out this time (each has an incident)
    unscreenable_incidents: tuple[uuid.UUID, ...] = ()  # of those, opened now
    index: dict[str, Any] | None = None  # what the index path did (None: the exact scan)

    def to_dict(self) -> dict[str, Any]:
        return {"screened": self.screened, "faces_new": self.faces_new,
                "faces_stored": self.faces_stored, "pairs": self.pairs,
                "incidents": [str(i) for i in self.incidents], "known": self.known,
                "unscreenable": [{"evidence_id": str(u.evidence_id),
                                  "checkin_id": str(u.checkin_id), "reason": u.reason,
                                  "detail": u.detail} for u in self.unscreenable],
                "unscreenable_incidents": [str(i) for i in self.unscreenable_incidents],
                "load_seconds": round(self.load_seconds, 3),
                "match_seconds": round(self.match_seconds, 3), "threshold": self.threshold,
                "index": self.index}


def pair_incident_id(a: uuid.UUID, b: uuid.UUID) -> uuid.UUID:
    first, second = sorted((a, b))
    return uuid.uuid5(_PAIR_NAMESPACE, f"proxy:{first}:{second}")


def unscreenable_incident_id(evidence_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(_PAIR_NAMESPACE, f"unscreenable:{evidence_id}")


def screen_district(office: Office, *, actor: str, threshold: float = DEFAULT_THRESHOLD,
                    index: Path | None = None) -> ScreenResult:
    """Screen every admitted check-in not screened yet; open one incident per new pair.

    With ``index`` (a file path, see :mod:`.face_index`), the new faces are compared with the
    stored ones through the approximate index and exact re-ranking instead of the full scan;
    the file is checked against the database first and caught up, or rebuilt from it."""
    if index is not None:
        return _screen_indexed(office, actor, threshold, index)
    t0 = time.perf_counter()
    with office.store.read() as tx:
        admitted = _admitted(tx)
        faces, bad = _faces(office, tx, admitted)
    new_rows = [(cid, v) for cid, v in faces if not admitted[cid].screened]
    old_rows = [(cid, v) for cid, v in faces if admitted[cid].screened]
    new = _matrix([v for _, v in new_rows])
    stored = _matrix([v for _, v in old_rows])
    owners = [cid for cid, _ in new_rows] + [cid for cid, _ in old_rows]
    t1 = time.perf_counter()
    found = screen_faces(new, stored, threshold)
    t2 = time.perf_counter()
    best: dict[tuple[uuid.UUID, uuid.UUID], float] = {}
    for p in found:
        a, b = owners[p.new], owners[p.other]
        if a == b or admitted[a].id_number == admitted[b].id_number:
            continue
        key = (a, b) if a < b else (b, a)
        best[key] = min(p.distance, best.get(key, p.distance))
    retry = {u.checkin_id for u in bad}  # not marked screened: the next screen tries again
    unscreened = [c for c in admitted.values() if not c.screened and c.checkin_id not in retry]
    opened, known, flagged = _record(office, admitted, best, unscreened, faces, bad, actor,
                                     threshold)
    return ScreenResult(len(unscreened), len(new_rows), len(old_rows), len(best),
                        tuple(opened), known, t1 - t0, t2 - t1, threshold, tuple(bad),
                        tuple(flagged))


def _screen_indexed(office: Office, actor: str, threshold: float, path: Path) -> ScreenResult:
    """The screen through the face index (:mod:`.proxy_index`): only the new faces, the stored
    faces the index proposes, and what the file lacks are decrypted."""
    from . import proxy_index as px

    t0 = time.perf_counter()
    with office.store.read() as tx:
        admitted = _admitted(tx)
        stored = px.stored_faces(tx)
        fresh = {c for c, a in admitted.items() if not a.screened}
        items, bad = _face_items(office, tx, admitted, only=fresh)
        seals = _new_seals(tx, fresh)
    faces = [(cid, row) for cid, _, row in items]
    found, stored_bad = px.open_index(office, path, stored)
    faces_stored = found.live()  # rows, as the exact scan counts them
    t1 = time.perf_counter()
    new = _matrix([v for _, v in faces])
    owners = [cid for cid, _ in faces]
    best: dict[tuple[uuid.UUID, uuid.UUID], float] = {}

    def keep(a: uuid.UUID, b: uuid.UUID, distance: float) -> None:
        if a == b or admitted[a].id_number == admitted[b].id_number:
            return
        key = (a, b) if a < b else (b, a)
        best[key] = min(distance, best.get(key, distance))

    for p in screen_faces(new, new[:0], threshold):  # new against new, exactly
        keep(owners[p.new], owners[p.other], p.distance)
    hits, cands, cand_bad = px.exact_candidates(office, found, new, threshold)
    for row, label, distance in hits:
        other = found.checkin_of(label)
        if other in admitted:
            keep(owners[row], other, distance)
    t2 = time.perf_counter()
    for evidence_id, why in {**stored_bad, **cand_bad}.items():
        face = stored.get(evidence_id)
        if face is not None and face.checkin_id in admitted:
            reason, _, detail = why.partition(":")
            bad.append(Unscreenable(evidence_id, face.checkin_id, reason, detail))
    retry = {u.checkin_id for u in bad}
    unscreened = [c for c in admitted.values() if not c.screened and c.checkin_id not in retry]
    opened, known, flagged = _record(office, admitted, best, unscreened, faces, bad, actor,
                                     threshold)
    # Committed: the newly screened faces join the index (a crash before this is caught up
    # from the database by the next screen).
    done = {c.checkin_id for c in unscreened}
    by_evidence: dict[uuid.UUID, list[NDArray[np.float32]]] = {}
    for cid, evidence_id, vector in items:
        if cid in done and evidence_id in seals:
            by_evidence.setdefault(evidence_id, []).append(vector)
    px.add_read(found, [(px.StoredFace(e, seals[e][0], seals[e][1]), vs)
                        for e, vs in by_evidence.items()])
    px.save_index(office, path, found)
    report = {**found.report, "candidates": len(cands.labels), "indexed": found.live(),
              "nlist": found.index.params.nlist, "nprobe": found.index.params.nprobe,
              "spill": found.index.params.spill, "spilled_copies": found.index.copies,
              "path": str(path)}
    return ScreenResult(len(unscreened), len(faces), faces_stored, len(best), tuple(opened),
                        known, t1 - t0, t2 - t1, threshold, tuple(bad), tuple(flagged), report)


def _new_seals(tx: Session, checkins: set[uuid.UUID]) -> dict[uuid.UUID, tuple[uuid.UUID, bytes]]:
    """Evidence id → (check-in, blob identity) of these check-ins' live embeddings, in the
    order :func:`_faces` reads them."""
    from .proxy_index import _seal

    e, b = Evidence.__table__.c, EvidenceBlob.__table__.c  # type: ignore[attr-defined]
    tag = sa.func.substr(b.ciphertext, sa.func.length(b.ciphertext) - 15, 16)
    out: dict[uuid.UUID, tuple[uuid.UUID, bytes]] = {}
    ids = sorted(checkins)
    for start in range(0, len(ids), _CHUNK):
        rows = tx.connection().execute(
            sa.select(e.id, e.checkin_id, b.nonce, tag).join(EvidenceBlob, b.id == e.id)
            .where(e.checkin_id.in_(ids[start:start + _CHUNK]))
            .where(e.kind == EvidenceKind.LIVE_EMBEDDING.value).where(e.purged_at.is_(None)))
        out.update({r[0]: (r[1], _seal(r[2], r[3])) for r in rows})
    return out


def _admitted(tx: Session) -> dict[uuid.UUID, _Admitted]:
    c, screened = CheckIn.__table__.c, ProxyScreen.__table__.c  # type: ignore[attr-defined]
    rows = tx.connection().execute(
        sa.select(c.id, c.centre_id, c.session_id, c.id_number, c.decided_at, screened.id)
        .outerjoin(ProxyScreen, screened.id == c.id)
        .where(c.decision == Decision.ADMIT.value)).all()
    return {r[0]: _Admitted(r[0], r[1], r[2], r[3], r[4], r[5] is not None) for r in rows}


def _faces(office: Office, tx: Session, admitted: dict[uuid.UUID, _Admitted]
           ) -> tuple[list[tuple[uuid.UUID, NDArray[np.float32]]], list[Unscreenable]]:
    """(check-in, unit embedding) for every live embedding of an admitted check-in, decrypted
    in memory with the centre's key (unwrapped by the office); and the items left out."""
    items, bad = _face_items(office, tx, admitted)
    return [(cid, row) for cid, _, row in items], bad


def _face_items(office: Office, tx: Session, admitted: dict[uuid.UUID, _Admitted],
                only: set[uuid.UUID] | None = None
                ) -> tuple[list[tuple[uuid.UUID, uuid.UUID, NDArray[np.float32]]],
                           list[Unscreenable]]:
    """(check-in, evidence, unit row) as :func:`_faces`, of the ``only`` check-ins if given."""
    query = (select(Evidence, EvidenceBlob)
             .join(EvidenceBlob, col(EvidenceBlob.id) == col(Evidence.id))
             .join(CheckIn, col(CheckIn.id) == col(Evidence.checkin_id))
             .where(CheckIn.decision == Decision.ADMIT)
             .where(Evidence.kind == EvidenceKind.LIVE_EMBEDDING)
             .where(col(Evidence.purged_at).is_(None))
             .order_by(col(Evidence.checkin_id), col(Evidence.id)))
    if only is not None:
        query = query.join(ProxyScreen, col(ProxyScreen.id) == col(CheckIn.id), isouter=True) \
            .where(col(ProxyScreen.id).is_(None))
    out: list[tuple[uuid.UUID, uuid.UUID, NDArray[np.float32]]] = []
    bad: list[Unscreenable] = []
    for ev, blob in tx.exec(query):
        if ev.checkin_id not in admitted or (only is not None and ev.checkin_id not in only):
            continue
        try:
            plain = open_blob(office.store, ev, blob)
        except (ProctoringError, ValueError, TypeError) as exc:  # tag mismatch, no key, ...
            bad.append(Unscreenable(ev.id, ev.checkin_id, "unreadable",
                                    f"{type(exc).__name__}: {exc}"))
            continue
        try:
            rows = unit_rows(plain)
        except ValueError as exc:
            bad.append(Unscreenable(ev.id, ev.checkin_id, "malformed", str(exc)))
            continue
        out += [(ev.checkin_id, ev.id, row) for row in rows]
    return out, bad


def unit_rows(plain: bytes) -> list[NDArray[np.float32]]:
    """The unit rows of a stored embedding (float32 little-endian, n × 128); ValueError when
    the bytes are no embedding: a size that is not whole rows, NaN/infinity, or no row."""
    if not plain or len(plain) % (4 * EMBEDDING_DIM):
        raise ValueError(f"{len(plain)} bytes: not whole rows of {EMBEDDING_DIM} float32")
    matrix = np.frombuffer(plain, dtype="<f4").reshape(-1, EMBEDDING_DIM)
    if not np.isfinite(matrix).all():
        raise ValueError("not finite numbers")
    rows = []
    for row in matrix:
        norm = float(np.linalg.norm(row))
        if norm > 0:
            rows.append((row / norm).astype(np.float32))
    if not rows:
        raise ValueError("every row is zero")
    return rows


def _matrix(vectors: list[NDArray[np.float32]]) -> NDArray[np.float32]:
    if not vectors:
        return np.zeros((0, EMBEDDING_DIM), np.float32)
    return np.ascontiguousarray(np.vstack(vectors), dtype=np.float32)


def _record(office: Office, admitted: dict[uuid.UUID, _Admitted],
            best: dict[tuple[uuid.UUID, uuid.UUID], float], unscreened: list[_Admitted],
            faces: list[tuple[uuid.UUID, NDArray[np.float32]]], bad: list[Unscreenable],
            actor: str, threshold: float) -> tuple[list[uuid.UUID], int, list[uuid.UUID]]:
    store = office.store
    per_checkin: dict[uuid.UUID, int] = {}
    for cid, _ in faces:
        per_checkin[cid] = per_checkin.get(cid, 0) + 1
    opened: list[uuid.UUID] = []
    known = 0
    with store.write() as tx:
        # The office's chain head: screens and reviews take turns (and incident ids are
        # deterministic anyway, so a race could not duplicate one).
        tx.exec(select(AuditHead).where(AuditHead.centre_id == office.centre_id)
                .with_for_update()).one()
        linked = _proxy_links(tx, {c for pair in best for c in pair})
        codes = {c.id: c.code for c in tx.exec(select(Centre)).all()}
        ids = {pair: pair_incident_id(*pair) for pair in best}
        bad_ids = {u.evidence_id: unscreenable_incident_id(u.evidence_id) for u in bad}
        existing = _existing_incidents(tx, [*ids.values(), *bad_ids.values()])
        now = store.now()
        for (a, b), distance in sorted(best.items(), key=lambda kv: kv[1]):
            iid = ids[(a, b)]
            owner = existing.get(iid)
            if frozenset((a, b)) in linked or owner == office.centre_id:
                known += 1
                continue
            taken_by = None
            if owner is not None:
                # A centre can compute the pair's id from its own check-ins' ids and file a row
                # under it first: that row is not the office's incident and must not hide the
                # case. The incident gets a fresh id and says whose row took the usual one.
                iid, taken_by = uuid.uuid4(), codes.get(owner, str(owner))
            opened.append(_open(tx, office, iid, admitted[a], admitted[b], distance, threshold,
                                codes, actor, now, taken_by=taken_by))
        flagged = [_open_unscreenable(tx, office, bad_ids[u.evidence_id], u,
                                      admitted[u.checkin_id], codes, actor, now)
                   for u in bad if bad_ids[u.evidence_id] not in existing]
        for start in range(0, len(unscreened), _CHUNK):
            chunk = unscreened[start:start + _CHUNK]
            done = set(tx.exec(select(ProxyScreen.id).where(
                col(ProxyScreen.id).in_([c.checkin_id for c in chunk]))).all())
            for c in chunk:
                if c.checkin_id not in done:
                    tx.add(ProxyScreen(id=c.checkin_id, centre_id=c.centre_id,
                                       faces=per_checkin.get(c.checkin_id, 0), screened_at=now))
    return opened, known, flagged


def _existing_incidents(tx: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """Incident id → the centre whose row has it."""
    found: dict[uuid.UUID, uuid.UUID] = {}
    for start in range(0, len(ids), _CHUNK):
        found.update(tx.exec(select(Incident.id, Incident.centre_id).where(
            col(Incident.id).in_(ids[start:start + _CHUNK]))).all())
    return found


def _proxy_links(tx: Session, checkins: set[uuid.UUID]) -> set[frozenset[uuid.UUID]]:
    """Pairs of these check-ins that some proxy incident already links (e.g. the check-in
    workflow's own duplicate check within a session)."""
    members: dict[uuid.UUID, set[uuid.UUID]] = {}
    ids = sorted(checkins)
    for start in range(0, len(ids), _CHUNK):
        rows = tx.exec(select(IncidentCheckIn.incident_id, IncidentCheckIn.checkin_id)
                       .join(Incident, col(Incident.id) == col(IncidentCheckIn.incident_id))
                       .where(Incident.kind == IncidentKind.PROXY_SUSPECTED)
                       .where(col(IncidentCheckIn.checkin_id).in_(ids[start:start + _CHUNK])))
        for incident_id, checkin_id in rows:
            members.setdefault(incident_id, set()).add(checkin_id)
    return {frozenset((a, b)) for group in members.values() for a in group for b in group
            if a != b}


def _open(tx: Session, office: Office, iid: uuid.UUID, a: _Admitted, b: _Admitted,
          distance: float, threshold: float, codes: dict[uuid.UUID, str], actor: str,
          now: Any, taken_by: str | None = None) -> uuid.UUID:
    earlier, later = sorted((a, b), key=lambda c: (c.decided_at, str(c.checkin_id)))
    cross = earlier.centre_id != later.centre_id
    details = {"scope": "cross_centre" if cross else "same_centre",
               "distance": round(distance, 4), "threshold": threshold,
               "checkins": [earlier.checkin_id, later.checkin_id],
               "centres": [earlier.centre_id, later.centre_id],
               "centre_codes": [codes.get(earlier.centre_id), codes.get(later.centre_id)],
               "sessions": [earlier.session_id, later.session_id]}
    if taken_by is not None:
        details["pair_id_taken_by"] = taken_by
    incident = Incident(id=iid, centre_id=office.centre_id, session_id=later.session_id,
                        kind=IncidentKind.PROXY_SUSPECTED,
                        severity=Severity.CRITICAL if cross else Severity.HIGH,
                        message_key=("incident.proxy_cross_centre" if cross
                                     else "incident.proxy_other_session"),
                        details=json_ready(details), started_at=later.decided_at)
    return _file(tx, office, incident, [earlier.checkin_id, later.checkin_id], actor, now,
                 {"scope": details["scope"], "checkins": [earlier.checkin_id, later.checkin_id],
                  "centres": [earlier.centre_id, later.centre_id],
                  "distance": round(distance, 4)})


def _open_unscreenable(tx: Session, office: Office, iid: uuid.UUID, bad: Unscreenable,
                       checkin: _Admitted, codes: dict[uuid.UUID, str], actor: str,
                       now: Any) -> uuid.UUID:
    """The record that one admitted face was left out of the screen, naming the evidence item,
    its check-in and candidate. HIGH: a face no screen sees is a gap an insider could make on
    purpose to hide a proxy, so a person must look at it."""
    details = {"evidence_id": bad.evidence_id, "checkin_id": bad.checkin_id,
               "reason": bad.reason, "detail": bad.detail[:200],
               "centre": codes.get(checkin.centre_id), "id_number": checkin.id_number}
    incident = Incident(id=iid, centre_id=office.centre_id, session_id=checkin.session_id,
                        kind=IncidentKind.FACE_UNSCREENABLE, severity=Severity.HIGH,
                        message_key=f"incident.face_{bad.reason}", details=json_ready(details),
                        started_at=checkin.decided_at)
    return _file(tx, office, incident, [bad.checkin_id], actor, now,
                 {"evidence_id": bad.evidence_id, "checkin": bad.checkin_id,
                  "reason": bad.reason})


def _file(tx: Session, office: Office, incident: Incident, checkin_ids: list[uuid.UUID],
          actor: str, now: Any, payload: dict[str, Any]) -> uuid.UUID:
    """An office incident, its links to the check-ins it is about and its audit event (which
    binds the incident row as stored), in the caller's transaction."""
    tx.add(incident)
    tx.flush()
    for checkin_id in checkin_ids:
        tx.add(IncidentCheckIn(centre_id=office.centre_id, incident_id=incident.id,
                               checkin_id=checkin_id))
    tx.flush()
    office.store.audit.append(tx, centre_id=office.centre_id, actor=actor,
                              action="incident.opened", subject_id=incident.id,
                              payload={"kind": incident.kind, **payload,
                                       "rows": row_bindings(tx, incidents=[incident.id])},
                              at=now)
    return incident.id
