"""Biometric evidence: sealed on the way in, opened on demand, purged on retention.

Plaintext bytes exist only in memory: :func:`add_evidence` seals them with the data key before
they reach the session, :func:`read_evidence` opens them for the one caller that asked.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from .crypto import Sealed
from .errors import EvidencePurged, InvalidInput, NotFound
from .models import (
    Evidence,
    EvidenceBlob,
    EvidenceKind,
    Incident,
    IncidentCheckIn,
    IncidentStatus,
)
from .store import Store


@dataclass(frozen=True)
class EvidenceItem:
    """Evidence to store with a check-in or an incident. Embeddings: float32 (n, 128) bytes."""

    kind: EvidenceKind
    data: bytes
    media_type: str
    captured_at: datetime | None = None


def add_evidence(tx: Session, store: Store, item: EvidenceItem, *, centre_id: uuid.UUID,
                 session_id: uuid.UUID, checkin_id: uuid.UUID | None = None,
                 incident_id: uuid.UUID | None = None) -> Evidence:
    """Describe and seal one item inside the caller's transaction."""
    return add_evidence_all(tx, store, [item], centre_id=centre_id, session_id=session_id,
                            checkin_id=checkin_id, incident_id=incident_id)[0]


def add_evidence_all(tx: Session, store: Store, items: Sequence[EvidenceItem], *,
                     centre_id: uuid.UUID, session_id: uuid.UUID,
                     checkin_id: uuid.UUID | None = None,
                     incident_id: uuid.UUID | None = None) -> list[Evidence]:
    """Describe and seal several items inside the caller's transaction, in order: the rows go
    in one multi-row INSERT and the blobs in another (a check-in has four or five items, and on
    a centre database each statement is a round trip every desk pays)."""
    if not items:
        return []
    for item in items:  # all or nothing: nothing sealed when one item is empty
        if not item.data:
            raise InvalidInput("empty evidence", field="evidence", kind=item.kind)
    key = store.data_key_in(tx)
    rows, blobs = [], []
    for item in items:
        kind = EvidenceKind(item.kind)
        captured = item.captured_at or store.now()
        row = Evidence(centre_id=centre_id, session_id=session_id, checkin_id=checkin_id,
                       incident_id=incident_id, kind=kind, media_type=item.media_type,
                       size=len(item.data), captured_at=captured,
                       retain_until=captured + store.retention)
        sealed = key.seal(item.data, row_id=row.id, kind=kind.value)
        rows.append(row)
        blobs.append(EvidenceBlob(id=row.id, centre_id=centre_id, key_id=sealed.key_id,
                                  nonce=sealed.nonce, ciphertext=sealed.ciphertext))
    tx.add_all(rows)
    tx.flush()  # the blobs' foreign keys need the evidence rows first
    tx.add_all(blobs)
    return rows


def open_blob(store: Store, row: Evidence, blob: EvidenceBlob) -> bytes:
    return store.data_key.open(Sealed(blob.key_id, blob.nonce, blob.ciphertext), row_id=row.id,
                               kind=EvidenceKind(row.kind).value)


def read_evidence(store: Store, evidence_id: uuid.UUID) -> bytes:
    """The plaintext of one item (a portrait for the roster PDF, a frame for a reviewer)."""
    with store.read() as tx:
        row = tx.get(Evidence, evidence_id)
        if row is None:
            raise NotFound(f"no evidence {evidence_id}", what="evidence", ref=str(evidence_id))
        if row.purged_at is not None:
            raise EvidencePurged(f"purged on {row.purged_at.isoformat()}",
                                 evidence=str(evidence_id), purged_at=row.purged_at)
        blob = tx.get(EvidenceBlob, evidence_id)
        if blob is None:
            raise NotFound(f"evidence {evidence_id} has no blob", what="evidence",
                           ref=str(evidence_id))
        return open_blob(store, row, blob)


@dataclass(frozen=True)
class PurgeResult:
    cutoff: datetime | None  # captured before this (with --older-than); else retain_until
    purged: int
    by_kind: dict[str, int]
    held: int  # past retention but kept: an incident about them is still open

    def to_dict(self) -> dict[str, object]:
        return {"cutoff": self.cutoff.isoformat() if self.cutoff else None,
                "purged": self.purged, "by_kind": self.by_kind, "held": self.held}


def purge_evidence(store: Store, *, older_than: timedelta | None, actor: str) -> PurgeResult:
    """Delete biometric blobs past retention, in one transaction with one audit event per centre.

    ``older_than`` given: everything captured before now − older_than; else everything whose
    ``retain_until`` has passed. Evidence tied to an OPEN incident is held: a reviewer still
    needs it (a confirmed or dismissed incident no longer holds anything).
    """
    if older_than is not None and older_than < timedelta(0):
        raise InvalidInput("a negative age", field="older_than")
    now = store.now()
    cutoff = now - older_than if older_than is not None else None
    with store.write() as tx:
        query = select(Evidence).where(col(Evidence.purged_at).is_(None))
        if cutoff is not None:
            query = query.where(col(Evidence.captured_at) < cutoff)
        else:
            query = query.where(col(Evidence.retain_until) <= now)
        due = list(tx.exec(query).all())
        held_ids = _held(tx, due)
        to_purge = [e for e in due if e.id not in held_ids]
        ids = [e.id for e in to_purge]
        per_centre: dict[uuid.UUID, list[Evidence]] = defaultdict(list)
        for e in to_purge:
            e.purged_at = now
            tx.add(e)
            per_centre[e.centre_id].append(e)
        # The rows first, the blobs after: on a centre's PostgreSQL a desk login may delete a
        # blob only once its evidence row says purged (desk_roles.py), in this transaction.
        tx.flush()
        for chunk in range(0, len(ids), 500):
            tx.exec(delete(EvidenceBlob).where(col(EvidenceBlob.id).in_(ids[chunk:chunk + 500])))
        for centre_id, rows in per_centre.items():
            kinds = Counter(EvidenceKind(r.kind).value for r in rows)
            # The ids themselves are on the evidence rows (purged_at); the log pins them down.
            digest = hashlib.sha256("\n".join(sorted(str(r.id) for r in rows)).encode()).hexdigest()
            store.audit.append(tx, centre_id=centre_id, actor=actor, action="evidence.purged",
                               subject_id=centre_id,
                               payload={"count": len(rows), "by_kind": dict(kinds),
                                        "cutoff": cutoff, "rule": "older_than" if cutoff
                                        else "retain_until", "ids_sha256": digest},
                               at=now)
    if to_purge and store.backend == "sqlite":
        _checkpoint_wal(store)
    by_kind = dict(Counter(EvidenceKind(e.kind).value for e in to_purge))
    return PurgeResult(cutoff, len(to_purge), by_kind, len(held_ids))


def _checkpoint_wal(store: Store) -> None:
    """Copy the WAL into the database and empty it, so the deleted blobs' pages (zeroed by
    ``secure_delete``) do not linger in the -wal file either. Best effort: a reader holding an
    old snapshot only delays it to a later checkpoint."""
    raw = store.engine.raw_connection()
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


def _held(tx: Session, due: list[Evidence]) -> set[uuid.UUID]:
    if not due:
        return set()
    open_incidents = set(tx.exec(select(Incident.id)
                                 .where(Incident.status == IncidentStatus.OPEN)).all())
    if not open_incidents:
        return set()
    checkins = set(tx.exec(select(IncidentCheckIn.checkin_id)
                           .where(col(IncidentCheckIn.incident_id).in_(open_incidents))).all())
    return {e.id for e in due
            if e.incident_id in open_incidents or e.checkin_id in checkins}
