"""Each station's own audit chain (issue 17): one hash chain per desk, signed with its own key.

Why one chain per station rather than one centre chain with several writers: a station locks
only its own head row (``SELECT … FOR UPDATE`` on PostgreSQL), so desks never wait for each
other, and no desk ever needs another desk's private key. The order *within* a desk is what the
chain proves; across desks, events are ordered by time only (each check-in is one desk's act).

The events are hashed and signed as the centre's are (:mod:`.audit`), with the station's id
in the material (``examdesk/station-audit-event/v1``, ``…-checkpoint/v1``): an event copied to
another station's chain, or a station's signature over another chain, does not verify.

Whose key: a station's public key is in its ``station`` row, which the verifier does not trust
(it is in the database). It is trusted only through a ``station.approved`` event naming it, on a
chain already verified with keys from outside the database (this desk's key store, ``--key``,
the district) — the approving desk signed it — or because it is this desk's own key.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session, col, select

from .audit import (
    GENESIS,
    ChainReport,
    Problem,
    canonical_json,
    chain_report,
    checkpoint_message,
    event_hash,
    raw_public,
)
from .crypto import KeyStore
from .errors import KeyUnavailable
from .models import Centre
from .station_models import (
    Station,
    StationAuditCheckpoint,
    StationAuditEvent,
    StationAuditHead,
    StationStatus,
)

APPROVED = "station.approved"
ENROLLED = "station.enrolled"
REVOKED = "station.revoked"


def start_station_chain(tx: Session, station: Station) -> None:
    tx.add(StationAuditHead(centre_id=station.centre_id, station_id=station.id, seq=0,
                            hash=GENESIS))
    tx.flush()


def append_station(tx: Session, station: Station, key: Ed25519PrivateKey, *, actor: str,
                   action: str, subject_id: uuid.UUID, payload: Mapping[str, Any],
                   at: datetime) -> StationAuditEvent:
    """One event on the station's chain, signed in the same transaction."""
    head = tx.exec(select(StationAuditHead).where(StationAuditHead.station_id == station.id)
                   .with_for_update()).one()
    text = canonical_json(payload)
    digest = event_hash(centre_id=station.centre_id, occurred_at=at, actor=actor,
                        action=action, subject_id=subject_id, payload=text,
                        prev_hash=head.hash, station_id=station.id)
    event = StationAuditEvent(centre_id=station.centre_id, station_id=station.id,
                              seq=head.seq + 1, occurred_at=at, actor=actor, action=action,
                              subject_id=subject_id, payload=text, prev_hash=head.hash,
                              hash=digest)
    head.seq, head.hash = event.seq, digest
    tx.add(event)
    tx.add(head)
    tx.flush()
    signature = key.sign(checkpoint_message(station.centre_id, event.seq, digest, at,
                                            station.id))
    tx.add(StationAuditCheckpoint(centre_id=station.centre_id, station_id=station.id,
                                  seq=event.seq, hash=digest, signed_at=at,
                                  public_key=raw_public(key.public_key()),
                                  signature=signature.hex()))
    tx.flush()
    return event


# --- verifying ---------------------------------------------------------------------------------


def _trusted_events(report: ChainReport, events: Sequence[Any], action: str
                    ) -> list[tuple[str, Any]]:
    """(station signing key, event) of the valid, untouched ``action`` events of a chain
    checked with a trusted key: what the approving or revoking desk signed."""
    if report.key_source in ("none", "pending"):
        return []
    if any(not p.seqs and p.kind.startswith(("key_", "checkpoint_", "log_"))
           for p in report.problems):
        return []
    bad = {s for p in report.problems for s in p.seqs}
    found = []
    for e in events:
        if e.action != action or e.seq in bad:
            continue
        try:
            found.append((str(json.loads(e.payload)["signing_public"]), e))
        except (ValueError, KeyError, TypeError):
            continue
    return found


def _approvals(report: ChainReport, events: Sequence[Any]) -> dict[str, str]:
    """Station keys vouched for by an approval on a trusted chain."""
    return {key: "approved" for key, _ in _trusted_events(report, events, APPROVED)}


def _revocations(report: ChainReport, events: Sequence[Any]) -> dict[str, datetime]:
    return {key: e.occurred_at for key, e in _trusted_events(report, events, REVOKED)}


def _after_revocation(report: ChainReport, station: Station, events: Sequence[Any],
                      revoked_at: datetime) -> ChainReport:
    """A station a trusted chain revoked: its row must still say so, and it wrote nothing
    after (a desk that kept the database's password can still write rows by hand)."""
    from dataclasses import replace

    extra = []
    if station.status is not StationStatus.REVOKED:
        extra.append(Problem("station_reinstated", (),
                             f"revoked at {revoked_at.isoformat()}, its row now says "
                             f"{station.status.value}"))
    late = tuple(e.seq for e in events if e.occurred_at > revoked_at)
    if late:
        extra.append(Problem("station_revoked_wrote", late,
                             f"revoked at {revoked_at.isoformat()}",
                             tuple(str(e.id) for e in events if e.seq in late)))
    return replace(report, problems=(*report.problems, *extra)) if extra else report


def _load(tx: Session, station: Station) -> tuple[list[StationAuditEvent], Any, list[Any]]:
    events = list(tx.exec(select(StationAuditEvent)
                          .where(StationAuditEvent.station_id == station.id)
                          .order_by(col(StationAuditEvent.seq))).all())
    head = tx.exec(select(StationAuditHead)
                   .where(StationAuditHead.station_id == station.id)).first()
    checkpoints = list(tx.exec(select(StationAuditCheckpoint)
                               .where(StationAuditCheckpoint.station_id == station.id)
                               .order_by(col(StationAuditCheckpoint.seq))).all())
    return events, head, checkpoints


def verify_stations(tx: Session, centre: Centre, keys: KeyStore | None,
                    roots: Sequence[tuple[str, str]], centre_report: ChainReport,
                    centre_events: Sequence[Any]
                    ) -> list[tuple[ChainReport, list[StationAuditEvent]]]:
    """Every station chain of the centre, each named by its station. A chain is checked with
    its station's key once that key is trusted: this desk's own, a key file, or an approval on
    a chain verified before it; a station no trusted chain approved is checked with no key
    (``key_unknown``) — except one still PENDING, whose only event may be its own enrolment."""
    from .stations import local_identity

    stations = list(tx.exec(select(Station).where(Station.centre_id == centre.id)
                            .order_by(col(Station.enrolled_at), col(Station.id))).all())
    if not stations:
        return []
    own: str | None = None
    if keys is not None:
        try:
            mine = local_identity(keys, centre.id)
        except KeyUnavailable:
            mine = None
        own = mine.signing_public if mine is not None else None
    files = {k for k, source in roots if source == "file"}
    vouched = _approvals(centre_report, centre_events)
    revoked = _revocations(centre_report, centre_events)
    done: dict[uuid.UUID, tuple[ChainReport, list[StationAuditEvent]]] = {}
    progress = True
    while progress:
        progress = False
        for s in stations:
            if s.id in done:
                continue
            trusted = []
            if s.signing_public in vouched:
                trusted.append((s.signing_public, vouched[s.signing_public]))
            if s.signing_public == own:
                trusted.append((s.signing_public, "station"))
            if s.signing_public in files:
                trusted.append((s.signing_public, "file"))
            if not trusted:
                continue
            events, head, checkpoints = _load(tx, s)
            report = chain_report(centre, events, head, checkpoints, trusted,
                                  station_id=s.id, station_name=s.name)
            done[s.id] = (report, events)
            vouched.update(_approvals(report, events))
            revoked.update(_revocations(report, events))
            progress = True
    for s in stations:
        if s.id in done:
            continue
        events, head, checkpoints = _load(tx, s)
        if s.status is StationStatus.PENDING:
            # Self-signed until a desk holding the data key approves it: the signature is
            # checked with its own key, and anything beyond its enrolment is a finding.
            report = chain_report(centre, events, head, checkpoints,
                                  [(s.signing_public, "pending")], station_id=s.id,
                                  station_name=s.name)
            extra = [e.seq for e in events if e.action != ENROLLED]
            if extra:
                from dataclasses import replace

                report = replace(report, problems=(*report.problems, Problem(
                    "station_unapproved", tuple(extra),
                    "events written by a station no desk approved"),))
        else:
            report = chain_report(centre, events, head, checkpoints, [], station_id=s.id,
                                  station_name=s.name)
        done[s.id] = (report, events)
    for s in stations:
        if s.signing_public in revoked:
            report, events = done[s.id]
            done[s.id] = (_after_revocation(report, s, events, revoked[s.signing_public]),
                          events)
    return [done[s.id] for s in stations]
