"""The tamper-evident log: a SHA-256 hash chain per centre, with Ed25519-signed checkpoints.

Every state change appends one :class:`~.models.AuditEvent` *in the transaction that makes the
change*, so the log and the data can never disagree after a crash. Each event's hash covers its
time, actor, action, subject, canonical JSON payload and the previous event's hash; ``seq`` is
only an index (it is *not* hashed), so the chain itself says the true order and
:func:`diagnose` can tell a reordering (seq numbers moved) from a modification (content changed),
an insertion (a row the chain skips) and a deletion (a link to a hash no row has).

Someone with database access can recompute the whole chain after editing it; the checkpoints,
signed with a key that is not in the database, catch that for every event up to the last
checkpoint. Payloads hold ids, decisions and message keys, never names, ID numbers or biometrics:
the log is append-only and outlives the retention purge.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlmodel import Session, col, select

from . import keyrecords
from .crypto import KeyStore
from .models import AuditCheckpoint, AuditEvent, AuditHead, Centre

GENESIS = "0" * 64
_EVENT_V = "examdesk/audit-event/v1"
_CHECKPOINT_V = "examdesk/audit-checkpoint/v1"


# --- canonical JSON and hashes -------------------------------------------------------------


def _iso(t: datetime) -> str:
    if t.tzinfo is None:
        raise ValueError("naive datetime in an audit record")
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plain(value: Any) -> Any:
    """JSON-ready, NFC text, aware UTC times: the same value always gives the same bytes."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, bool | int | None):
        return value
    if isinstance(value, float):
        return value  # json writes the shortest repr that round-trips
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence | set | frozenset) and not isinstance(value, bytes):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    raise TypeError(f"{type(value).__name__} does not belong in an audit payload")


def json_ready(value: Any) -> Any:
    """A value for a JSON column: NFC text, ISO times, ids as text (raises on bytes)."""
    return _plain(value)


def canonical_json(value: Any) -> str:
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def event_hash(*, centre_id: uuid.UUID, occurred_at: datetime, actor: str, action: str,
               subject_id: uuid.UUID, payload: str, prev_hash: str) -> str:
    material = canonical_json([_EVENT_V, str(centre_id), _iso(occurred_at), actor, action,
                               str(subject_id), payload, prev_hash])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _recomputed(e: AuditEvent) -> str:
    return event_hash(centre_id=e.centre_id, occurred_at=e.occurred_at, actor=e.actor,
                      action=e.action, subject_id=e.subject_id, payload=e.payload,
                      prev_hash=e.prev_hash)


def checkpoint_message(centre_id: uuid.UUID, seq: int, digest: str,
                       signed_at: datetime) -> bytes:
    return canonical_json([_CHECKPOINT_V, str(centre_id), seq, digest,
                           _iso(signed_at)]).encode("utf-8")


def _raw_public(key: Ed25519PublicKey) -> str:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


# --- writing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditLog:
    """Appends events and signs checkpoints; one per :class:`~.store.Store`."""

    keys: KeyStore
    checkpoint_every: int = 100

    def start_chain(self, tx: Session, centre_id: uuid.UUID) -> None:
        """The head row a new centre's chain grows from (same transaction as the centre)."""
        tx.add(AuditHead(centre_id=centre_id, seq=0, hash=GENESIS))
        tx.flush()

    def append(self, tx: Session, *, centre_id: uuid.UUID, actor: str, action: str,
               subject_id: uuid.UUID, payload: Mapping[str, Any], at: datetime) -> AuditEvent:
        """Add one event to the centre's chain, inside the caller's transaction."""
        # FOR UPDATE serialises appenders on PostgreSQL; SQLite write transactions already
        # hold the database's write lock (BEGIN IMMEDIATE, see store.py).
        head = tx.exec(
            select(AuditHead).where(AuditHead.centre_id == centre_id).with_for_update()
        ).one()
        text = canonical_json(payload)
        digest = event_hash(centre_id=centre_id, occurred_at=at, actor=actor, action=action,
                            subject_id=subject_id, payload=text, prev_hash=head.hash)
        event = AuditEvent(centre_id=centre_id, seq=head.seq + 1, occurred_at=at, actor=actor,
                           action=action, subject_id=subject_id, payload=text,
                           prev_hash=head.hash, hash=digest)
        head.seq, head.hash = event.seq, digest
        tx.add(event)
        tx.add(head)
        tx.flush()
        if self.checkpoint_every > 0 and event.seq % self.checkpoint_every == 0:
            self._sign(tx, centre_id, event.seq, digest, at)
        return event

    def checkpoint(self, tx: Session, centre_id: uuid.UUID, at: datetime) -> AuditCheckpoint | None:
        """Sign the current end of the chain now (None when the chain is empty)."""
        head = tx.exec(
            select(AuditHead).where(AuditHead.centre_id == centre_id).with_for_update()
        ).one()
        if head.seq == 0:
            return None
        return self._sign(tx, centre_id, head.seq, head.hash, at)

    def _sign(self, tx: Session, centre_id: uuid.UUID, seq: int, digest: str,
              at: datetime) -> AuditCheckpoint:
        key = keyrecords.signing_key(tx, self.keys, centre_id)  # checked against its record
        signature = key.sign(checkpoint_message(centre_id, seq, digest, at))
        cp = AuditCheckpoint(centre_id=centre_id, seq=seq, hash=digest, signed_at=at,
                             public_key=_raw_public(key.public_key()), signature=signature.hex())
        tx.add(cp)
        tx.flush()
        return cp


# --- verifying ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One finding of ``audit verify``: what (kind → message key ``audit.<kind>``) and where."""

    kind: str  # modified | deleted | inserted | reordered | checkpoint_* | head_mismatch
    seqs: tuple[int, ...]
    detail: str = ""
    event_ids: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"audit.{self.kind}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "seqs": list(self.seqs),
                "detail": self.detail, "event_ids": list(self.event_ids)}


@dataclass(frozen=True)
class ChainReport:
    centre_id: uuid.UUID
    centre_code: str
    events: int
    last_seq: int
    checkpoints: int
    # "local": checked against this machine's copy of the centre key; "database": only the
    # public key stored with the checkpoints was available (another machine verifying).
    key_source: str
    problems: tuple[Problem, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"centre_id": str(self.centre_id), "centre_code": self.centre_code,
                "events": self.events, "last_seq": self.last_seq,
                "checkpoints": self.checkpoints, "key_source": self.key_source, "ok": self.ok,
                "problems": [p.to_dict() for p in self.problems]}


@dataclass(frozen=True)
class VerifyReport:
    chains: tuple[ChainReport, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.chains)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "chains": [c.to_dict() for c in self.chains]}


def verify(tx: Session, keys: KeyStore | None) -> VerifyReport:
    """Check every centre's chain, head and checkpoints."""
    centres = tx.exec(select(Centre).order_by(col(Centre.code))).all()
    return VerifyReport(tuple(_verify_chain(tx, c, keys) for c in centres))


def _verify_chain(tx: Session, centre: Centre, keys: KeyStore | None) -> ChainReport:
    events = list(tx.exec(select(AuditEvent).where(AuditEvent.centre_id == centre.id)
                          .order_by(col(AuditEvent.seq))).all())
    head = tx.exec(select(AuditHead).where(AuditHead.centre_id == centre.id)).first()
    checkpoints = list(tx.exec(select(AuditCheckpoint)
                               .where(AuditCheckpoint.centre_id == centre.id)
                               .order_by(col(AuditCheckpoint.seq))).all())
    problems = diagnose(events, head_seq=head.seq if head is not None else None)
    problems += _check_head(events, head)
    local = keys.existing_signing_key(centre.id) if keys is not None else None
    trusted = _raw_public(local.public_key()) if local is not None else None
    for p in _check_checkpoints(centre.id, events, checkpoints, trusted):
        # The head and a checkpoint can both see the same missing tail: say it once.
        if not any(q.kind == p.kind and set(p.seqs) <= set(q.seqs) for q in problems):
            problems.append(p)
    return ChainReport(centre.id, centre.code, len(events), events[-1].seq if events else 0,
                       len(checkpoints), "local" if trusted else "database", tuple(problems))


def _ids(events: Sequence[AuditEvent]) -> tuple[str, ...]:
    return tuple(str(e.id) for e in events)


def diagnose(events: Sequence[AuditEvent], head_seq: int | None = None) -> list[Problem]:
    """Find modified, deleted, inserted and reordered events in one chain (sorted by seq).

    1. Follow the links from the genesis hash (at a fork, the branch that goes on longest).
    2. Rows the chain skips, whose neighbours link to each other around them: inserted.
    3. A row linking to a hash no row has: a break. With a gap in seq before it, events were
       deleted; without one, the event before it was changed *and* re-hashed.
    4. A row linking to a known hash after the chain went elsewhere: inserted (a fork).
    5. Chain order ≠ seq order: reordered. Rows on the chain whose content does not give their
       stored hash: modified.
    """
    n = len(events)
    problems: list[Problem] = []
    known = {e.hash for e in events}
    children: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(events):
        children[e.prev_hash].append(i)
    depth = _depths(events, children)
    visited: set[int] = set()
    chain: list[int] = []
    inserted: list[int] = []

    def walk(i: int | None) -> None:
        while i is not None and i not in visited:
            visited.add(i)
            chain.append(i)
            kids = [k for k in children.get(events[i].hash, []) if k not in visited]
            i = min(kids, key=lambda k: (-depth[k], k)) if kids else None

    def hash_before(i: int) -> str:
        return events[i - 1].hash if i > 0 else GENESIS

    roots = [k for k in children.get(GENESIS, [])]
    walk(min(roots, key=lambda k: (-depth[k], k)) if roots else None)
    while len(visited) < n:
        runs = _runs([i for i in range(n) if i not in visited])
        skipped = [r for r in runs if r[-1] + 1 < n and r[-1] + 1 in visited
                   and events[r[-1] + 1].prev_hash == hash_before(r[0])]
        for run in skipped:
            inserted.extend(run)
            visited.update(run)
        if skipped:
            continue
        a = runs[0][0]
        e = events[a]
        if e.prev_hash in known or e.prev_hash == GENESIS or (
                head_seq is not None and e.seq > head_seq):
            inserted.append(a)  # a fork off the chain, or past the head the appender wrote
            visited.add(a)
            continue
        before = events[a - 1].seq if a > 0 else 0
        if e.seq - before > 1:
            missing = tuple(range(before + 1, e.seq))
            problems.append(Problem("deleted", missing,
                                    f"the event with seq {e.seq} links to an event that is "
                                    f"gone", _ids([e])))
        elif a > 0:
            p = events[a - 1]
            problems.append(Problem("modified", (p.seq,),
                                    "changed and its hash recomputed (or events after it "
                                    "deleted and the rest renumbered): the next event links to "
                                    "its old hash", _ids([p])))
        else:
            problems.append(Problem("modified", (e.seq,), "the first event's link was changed",
                                    _ids([e])))
        walk(a)

    for run in _runs(sorted(inserted)):
        problems.append(Problem("inserted", tuple(events[i].seq for i in run),
                                "not part of the hash chain", _ids([events[i] for i in run])))
    order = [events[i].seq for i in chain]
    out_of_place = tuple(sorted(s for s, t in zip(order, sorted(order), strict=True) if s != t))
    if out_of_place:
        problems.append(Problem("reordered", out_of_place,
                                "the hash chain puts these events in another order",
                                _ids([e for e in events if e.seq in out_of_place])))
    modified = [events[i] for i in chain if _recomputed(events[i]) != events[i].hash]
    for e in modified:
        problems.append(Problem("modified", (e.seq,), "its content does not give its hash",
                                _ids([e])))
    problems.sort(key=lambda p: (p.seqs[:1], p.kind))
    return problems


def _depths(events: Sequence[AuditEvent], children: Mapping[str, list[int]]) -> list[int]:
    """Length of the longest path from each row along its children; cycles (a forged hash
    column can make one) count as ending."""
    depth = [-1] * len(events)
    for start in range(len(events)):
        stack = [start]
        on_path: set[int] = set()
        while stack:
            i = stack[-1]
            if depth[i] >= 0:
                stack.pop()
                continue
            on_path.add(i)
            pending = [k for k in children.get(events[i].hash, [])
                       if depth[k] < 0 and k not in on_path]
            if pending:
                stack.extend(pending)
                continue
            kids = [depth[k] for k in children.get(events[i].hash, []) if depth[k] >= 0]
            depth[i] = 1 + max(kids, default=0)
            on_path.discard(i)
            stack.pop()
    return depth


def _runs(indices: Sequence[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for i in indices:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _check_head(events: Sequence[AuditEvent], head: AuditHead | None) -> list[Problem]:
    last = events[-1] if events else None
    if head is None:
        return [Problem("head_mismatch", (), "the chain's head row is missing")] if events else []
    last_seq = last.seq if last is not None else 0
    if head.seq > last_seq:
        return [Problem("deleted", tuple(range(last_seq + 1, head.seq + 1)),
                        f"the head says the chain ends at seq {head.seq}")]
    if last is not None and head.seq == last.seq and head.hash != last.hash:
        return [Problem("head_mismatch", (last.seq,),
                        "the last event's hash differs from the one the head recorded",
                        _ids([last]))]
    return []


def _check_checkpoints(centre_id: uuid.UUID, events: Sequence[AuditEvent],
                       checkpoints: Sequence[AuditCheckpoint],
                       trusted: str | None) -> list[Problem]:
    problems: list[Problem] = []
    by_seq = {e.seq: e for e in events}
    pinned = trusted or (checkpoints[0].public_key if checkpoints else None)
    for cp in checkpoints:
        try:
            if cp.public_key != pinned:
                raise InvalidSignature
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(cp.public_key))
            key.verify(bytes.fromhex(cp.signature),
                       checkpoint_message(centre_id, cp.seq, cp.hash, cp.signed_at))
        except (InvalidSignature, ValueError):
            problems.append(Problem("checkpoint_invalid", (cp.seq,),
                                    "the signature does not verify with the centre's key"))
            continue
        event = by_seq.get(cp.seq)
        if event is None:
            if not events or cp.seq > events[-1].seq:
                last = events[-1].seq if events else 0
                problems.append(Problem("deleted", tuple(range(last + 1, cp.seq + 1)),
                                        f"a signed checkpoint covers seq {cp.seq}"))
            continue
        if event.hash != cp.hash:
            problems.append(Problem("checkpoint_mismatch", (cp.seq,),
                                    "the event differs from the one the centre signed: events up "
                                    "to here were rewritten", _ids([event])))
    return problems
