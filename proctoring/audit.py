"""The tamper-evident log: a SHA-256 hash chain per centre, every event signed (Ed25519).

Every state change appends one :class:`~.models.AuditEvent` *in the transaction that makes the
change*, so the log and the data can never disagree after a crash. Each event's hash covers its
time, actor, action, subject, canonical JSON payload and the previous event's hash; ``seq`` is
only an index (it is *not* hashed), so the chain itself says the true order and
:func:`diagnose` can tell a reordering (seq numbers moved) from a modification (content changed),
an insertion (a row the chain skips) and a deletion (a link to a hash no row has).

Someone with database access can recompute the whole chain after editing it. So every event is
signed as it is appended, in its own transaction (a checkpoint over the new head; Ed25519 costs
tens of microseconds, see ``bench/checkin.py``), with the centre's key, which is not in the
database; and ``audit verify`` checks the signatures with a public key that does not come from
the rows it verifies either (:mod:`.audit_keys`: this station's key store, a key file, the key
the district recorded on the centre's first sync). It requires a valid signature on every event
from the first one after the legacy prefix to the head, and names a missing one, a gap, or a
newest signature older than the head. A key change is an event signed by the old key
(:meth:`AuditLog.record_rotation`); a lost key's replacement cannot be, and is reported on
every run as ``key_replaced`` (:meth:`AuditLog.record_replacement`).

Legacy: events written before this format (``examdesk/audit-event/v1``, signed every 100th)
form a prefix. It verifies when its links are intact and its last event is covered by a valid
signature at or after it (the old checkpoints, the seal signed when the database is opened after
the upgrade, or the first new event's signature, which covers it through the chain).

What the signatures cannot show is a log cut back to an earlier signed head, or replaced
wholesale by an older copy: that needs a witness outside the database (the district's copy of
the head, the head printed in every signed roster; see the README).

Payloads hold ids, decisions and message keys, never names, ID numbers or biometrics: the log is
append-only and outlives the retention purge.
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
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlmodel import Session, col, select

from . import keyrecords
from .audit_witness import Witness
from .crypto import KeyStore
from .errors import KeyUnavailable
from .models import AuditCheckpoint, AuditEvent, AuditHead, Centre

GENESIS = "0" * 64
_EVENT_V1 = "examdesk/audit-event/v1"  # legacy: checkpoints every 100th event
_EVENT_V2 = "examdesk/audit-event/v2"  # every event signed in its own transaction
_CHECKPOINT_V = "examdesk/audit-checkpoint/v1"
# A station's own chain (issue 17, :mod:`.station_chain`): the station is hashed and signed too.
_EVENT_STATION = "examdesk/station-audit-event/v1"
_CHECKPOINT_STATION = "examdesk/station-audit-checkpoint/v1"
ROTATION = "audit.key_rotated"  # the action of a signed key change
# The action of a key change the old key could not sign (it was lost): recorded, signed by the
# new key only, and always reported by ``audit verify`` (a visible break, never a silent one).
REPLACEMENT = "audit.key_replaced"


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
               subject_id: uuid.UUID, payload: str, prev_hash: str, version: int = 2,
               station_id: uuid.UUID | None = None) -> str:
    if station_id is not None:
        material = canonical_json([_EVENT_STATION, str(centre_id), str(station_id),
                                   _iso(occurred_at), actor, action, str(subject_id), payload,
                                   prev_hash])
        return hashlib.sha256(material.encode("utf-8")).hexdigest()
    material = canonical_json([_EVENT_V2 if version == 2 else _EVENT_V1, str(centre_id),
                               _iso(occurred_at), actor, action, str(subject_id), payload,
                               prev_hash])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def event_format(*, centre_id: uuid.UUID, occurred_at: datetime, actor: str, action: str,
                 subject_id: uuid.UUID, payload: str, prev_hash: str, hash: str,
                 station_id: uuid.UUID | None = None) -> int | None:
    """2 or 1 when the stored hash is the content's (new or legacy format), None when neither;
    a station's event: 3 or None."""
    if station_id is not None:
        return 3 if event_hash(centre_id=centre_id, occurred_at=occurred_at, actor=actor,
                               action=action, subject_id=subject_id, payload=payload,
                               prev_hash=prev_hash, station_id=station_id) == hash else None
    for version in (2, 1):
        if event_hash(centre_id=centre_id, occurred_at=occurred_at, actor=actor, action=action,
                      subject_id=subject_id, payload=payload, prev_hash=prev_hash,
                      version=version) == hash:
            return version
    return None


def _format(e: AuditEvent) -> int | None:
    return event_format(centre_id=e.centre_id, occurred_at=e.occurred_at, actor=e.actor,
                        action=e.action, subject_id=e.subject_id, payload=e.payload,
                        prev_hash=e.prev_hash, hash=e.hash,
                        station_id=getattr(e, "station_id", None))


def checkpoint_message(centre_id: uuid.UUID, seq: int, digest: str,
                       signed_at: datetime, station_id: uuid.UUID | None = None) -> bytes:
    if station_id is not None:
        return canonical_json([_CHECKPOINT_STATION, str(centre_id), str(station_id), seq,
                               digest, _iso(signed_at)]).encode("utf-8")
    return canonical_json([_CHECKPOINT_V, str(centre_id), seq, digest,
                           _iso(signed_at)]).encode("utf-8")


def raw_public(key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key in hex: how keys are written in checkpoints and key files."""
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()



# --- writing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditLog:
    """Appends events and signs each one; one per :class:`~.store.Store`.

    ``legacy`` writes the old format (v1 hashes, a checkpoint every ``checkpoint_every``
    events): only for tests that build a database as the older release left it.
    """

    keys: KeyStore
    checkpoint_every: int = 100
    legacy: bool = False
    # Public keys already written to this station's key history (keys.remember_public_key).
    _remembered: set[tuple[uuid.UUID, str]] = field(default_factory=set, repr=False, compare=False)
    # This desk's station keys per centre (None: no station here), read once from the key store.
    _identities: dict[uuid.UUID, Any] = field(default_factory=dict, repr=False, compare=False)

    def forget_station(self) -> None:
        """Read this desk's station keys again (after an enrolment)."""
        self._identities.clear()

    def start_chain(self, tx: Session, centre_id: uuid.UUID) -> None:
        """The head row a new centre's chain grows from (same transaction as the centre)."""
        tx.add(AuditHead(centre_id=centre_id, seq=0, hash=GENESIS))
        tx.flush()

    def append(self, tx: Session, *, centre_id: uuid.UUID, actor: str, action: str,
               subject_id: uuid.UUID, payload: Mapping[str, Any], at: datetime,
               signer: Ed25519PrivateKey | None = None, centre_chain: bool = False) -> Any:
        """Add one event to the centre's chain and sign it, inside the caller's transaction.

        On a desk enrolled as a station of the centre the event goes to the station's own chain,
        signed with the station's key (:mod:`.station_chain`), and a revoked or not yet
        approved station is refused here — every write appends an event, so every write is
        refused. ``centre_chain`` forces the centre's chain (the centre key's own changes)."""
        if signer is None and not centre_chain and not self.legacy:
            station = self._station(tx, centre_id)
            if station is not None:
                from .station_chain import append_station

                row, identity = station
                return append_station(tx, row, identity.signing, actor=actor, action=action,
                                      subject_id=subject_id, payload=payload, at=at)
        # FOR UPDATE serialises appenders on PostgreSQL; SQLite write transactions already
        # hold the database's write lock (BEGIN IMMEDIATE, see store.py).
        head = tx.exec(
            select(AuditHead).where(AuditHead.centre_id == centre_id).with_for_update()
        ).one()
        text = canonical_json(payload)
        digest = event_hash(centre_id=centre_id, occurred_at=at, actor=actor, action=action,
                            subject_id=subject_id, payload=text, prev_hash=head.hash,
                            version=1 if self.legacy else 2)
        event = AuditEvent(centre_id=centre_id, seq=head.seq + 1, occurred_at=at, actor=actor,
                           action=action, subject_id=subject_id, payload=text,
                           prev_hash=head.hash, hash=digest)
        head.seq, head.hash = event.seq, digest
        tx.add(event)
        tx.add(head)
        tx.flush()
        if not self.legacy:
            # Signed before the transaction commits: no committed event is ever unsigned.
            self._sign(tx, centre_id, event.seq, digest, at, signer)
        elif self.checkpoint_every > 0 and event.seq % self.checkpoint_every == 0:
            self._sign(tx, centre_id, event.seq, digest, at)
        return event

    def _station(self, tx: Session, centre_id: uuid.UUID) -> tuple[Any, Any] | None:
        """This desk's station of the centre, checked to be allowed to write; None when the
        desk is no station there (the single-desk path, unchanged)."""
        from .stations import check_may_write, local_identity, station_of

        if centre_id not in self._identities:
            self._identities[centre_id] = local_identity(self.keys, centre_id)
        identity = self._identities[centre_id]
        if identity is None:
            return None
        row = station_of(tx, identity)
        if row is None:
            return None
        check_may_write(row)
        return row, identity

    def checkpoint(self, tx: Session, centre_id: uuid.UUID, at: datetime) -> AuditCheckpoint | None:
        """Sign the current end of the chain now (None when the chain is empty)."""
        head = tx.exec(
            select(AuditHead).where(AuditHead.centre_id == centre_id).with_for_update()
        ).one()
        if head.seq == 0:
            return None
        return self._sign(tx, centre_id, head.seq, head.hash, at)

    def seal_legacy(self, tx: Session, at: datetime) -> list[uuid.UUID]:
        """Sign the head of every chain whose head is an unsigned legacy event and whose key
        this station holds: run once after an upgrade, so the up to 99 unsigned events an old
        release left after its last checkpoint are covered from then on. Returns the centres
        sealed (a chain whose key is elsewhere waits for its own station)."""
        from .district_models import District

        sealed = []
        # A district holds other centres' chains: it never makes a key for one of them.
        district = tx.exec(select(District.id)).first() is not None
        for head in tx.exec(select(AuditHead).where(AuditHead.seq > 0)).all():
            signed = tx.exec(select(AuditCheckpoint.id).where(
                AuditCheckpoint.centre_id == head.centre_id,
                AuditCheckpoint.seq == head.seq)).first()
            if signed is not None:
                continue
            if self.keys.existing_signing_key(head.centre_id) is None:
                # The old release made the key at its first checkpoint (event 100): a younger
                # chain never had one, so this station's first key is the centre's first key.
                never_signed = tx.exec(select(AuditCheckpoint.id).where(
                    AuditCheckpoint.centre_id == head.centre_id)).first() is None
                if district or not never_signed:
                    continue
            self._sign(tx, head.centre_id, head.seq, head.hash, at)
            sealed.append(head.centre_id)
        return sealed

    def record_rotation(self, tx: Session, *, centre_id: uuid.UUID, new_public: str,
                        actor: str, at: datetime,
                        details: Mapping[str, Any] | None = None) -> AuditEvent:
        """Record a change of the centre's signing key as an event signed by the OLD key.

        Every later event must be signed by ``new_public``; ``audit verify`` follows the change
        only because the old key signed it. The caller puts the new private key in the key
        store after this transaction commits (:func:`.keyadmin.rotate_key` does that).
        ``details`` (the reason, the key ids) go into the payload next to the two keys."""
        old = raw_public(keyrecords.signing_key(tx, self.keys, centre_id).public_key())
        new = _new_public(new_public, old)
        from .audit_keys import remember_public_key  # the key history lives in the key store

        remember_public_key(self.keys, centre_id, new)
        return self.append(tx, centre_id=centre_id, actor=actor, action=ROTATION,
                           subject_id=centre_id,
                           payload={**(details or {}), "old": old, "new": new}, at=at,
                           centre_chain=True)

    def record_replacement(self, tx: Session, *, centre_id: uuid.UUID,
                           new_key: Ed25519PrivateKey, old_public: str | None, actor: str,
                           at: datetime, details: Mapping[str, Any] | None = None) -> AuditEvent:
        """Record that the signing key was replaced WITHOUT the old key's signature (it is
        lost): the event is signed by the new key only. ``audit verify`` reports it every time
        (``key_replaced``, with the admin and the reason) and checks the later events with the
        new key; nothing before it is called tampered. The caller records the new key and puts
        it in place after commit, as for a rotation."""
        new = raw_public(new_key.public_key())
        from .audit_keys import remember_public_key

        remember_public_key(self.keys, centre_id, new)
        return self.append(tx, centre_id=centre_id, actor=actor, action=REPLACEMENT,
                           subject_id=centre_id,
                           payload={**(details or {}), "old": old_public, "new": new}, at=at,
                           signer=new_key)

    def _sign(self, tx: Session, centre_id: uuid.UUID, seq: int, digest: str,
              at: datetime, signer: Ed25519PrivateKey | None = None) -> AuditCheckpoint:
        # Checked against its record; ``signer`` only for the event that replaces a lost key.
        key = signer or keyrecords.signing_key(tx, self.keys, centre_id)
        public = raw_public(key.public_key())
        if (centre_id, public) not in self._remembered:
            from .audit_keys import remember_public_key

            try:
                remember_public_key(self.keys, centre_id, public)
                self._remembered.add((centre_id, public))
            except KeyUnavailable:
                # The history only helps verify across a later rotation; a check-in must not
                # fail over it (the key itself is in place): try again on the next event.
                pass
        signature = key.sign(checkpoint_message(centre_id, seq, digest, at))
        cp = AuditCheckpoint(centre_id=centre_id, seq=seq, hash=digest, signed_at=at,
                             public_key=public, signature=signature.hex())
        tx.add(cp)
        tx.flush()
        return cp


def _new_public(new_public: str, old: str) -> str:
    new = new_public.strip().lower()
    if len(new) != 64 or new == old:
        raise ValueError("a key rotation needs a different 32-byte Ed25519 public key")
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(new))
    return new


# --- verifying ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One finding of ``audit verify``: what (kind → message key ``audit.<kind>``) and where."""

    # modified | deleted | inserted | reordered | head_mismatch | log_wiped | checkpoint_invalid
    # | checkpoint_mismatch | checkpoint_untrusted | checkpoint_missing | checkpoint_gap
    # | checkpoint_stale | key_unknown | key_replaced | row_* (audit_rows)
    # | witness_* (audit_witness)
    kind: str
    seqs: tuple[int, ...]
    detail: str = ""  # technical, English: for logs, --json and the English text
    event_ids: tuple[str, ...] = ()
    # Values the texts show besides the events (who replaced a key and why; which row):
    # (name, value) pairs, so the Vietnamese text is Vietnamese with only values filled in.
    facts: tuple[tuple[str, object], ...] = ()

    @property
    def key(self) -> str:
        return f"audit.{self.kind}"

    def context(self) -> dict[str, object]:
        return {"detail": self.detail, **dict(self.facts)}

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "seqs": list(self.seqs),
                "detail": self.detail, "event_ids": list(self.event_ids),
                **({"facts": dict(self.facts)} if self.facts else {})}


@dataclass(frozen=True)
class ChainReport:
    centre_id: uuid.UUID
    centre_code: str
    events: int
    last_seq: int
    checkpoints: int
    # Where the verifying key came from: "station" (this machine's key store), "file"
    # (--key), "district" (recorded on the centre's first sync), or "none" (no key from
    # outside the database: signatures could not be checked, which is itself a finding).
    key_source: str
    problems: tuple[Problem, ...] = field(default=())
    legacy_events: int = 0  # the prefix written before every event was signed
    last_hash: str = GENESIS
    rows: Mapping[str, int] = field(default_factory=dict)  # row binding counts (audit_rows)
    # A station's own chain (issue 17): which station; None for the centre's chain.
    station_id: uuid.UUID | None = None
    station_name: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"centre_id": str(self.centre_id), "centre_code": self.centre_code,
                "station_id": str(self.station_id) if self.station_id else None,
                "station_name": self.station_name or None,
                "events": self.events, "last_seq": self.last_seq, "last_hash": self.last_hash,
                "checkpoints": self.checkpoints, "key_source": self.key_source, "ok": self.ok,
                "legacy_events": self.legacy_events, "rows": dict(self.rows),
                "problems": [p.to_dict() for p in self.problems]}


@dataclass(frozen=True)
class VerifyReport:
    chains: tuple[ChainReport, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.chains)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "chains": [c.to_dict() for c in self.chains]}


def verify(tx: Session, keys: KeyStore | None, *, key_files: Sequence[str] = (),
           witnesses: Sequence[Witness] = (), rows: bool = True) -> VerifyReport:
    """Check every centre's chain, head, signatures and (``rows``) the rows its events bind.

    The verifying keys come from outside the rows verified (:func:`.audit_keys.trusted_keys`):
    ``keys`` (this station's key store), ``key_files`` (public keys, hex), the district's
    record of each centre's key (on the district's database, or ``witnesses`` read from it).
    Each witness's head must still be in its chain: else the log was cut back or replaced."""
    from .audit_keys import trusted_keys
    from .audit_rows import check_rows
    from .audit_witness import in_chain

    centres = tx.exec(select(Centre).order_by(col(Centre.code))).all()
    chains = []
    loaded: dict[uuid.UUID, Sequence[Any]] = {}  # centre and station chains
    for c in centres:
        mine = [w for w in witnesses if w.centre_id == c.id]
        trusted = trusted_keys(tx, keys, c.id, key_files)
        trusted += [(w.public_key, w.source) for w in mine if w.public_key]
        report, events = _verify_chain(tx, c, trusted)
        extra = []
        for w in mine:
            if not in_chain(tx, w):
                extra.append(Problem("witness_behind", (w.seq,),
                                     f"the {w.source} holds event {w.seq} ({w.hash[:12]}…)"))
            station = {k for k, source in trusted if source == "station"}
            if w.public_key and station and w.public_key not in station:
                extra.append(Problem("witness_key", (),
                                     f"the {w.source} recorded {w.public_key[:16]}…"))
        if extra:
            report = _with_rows(report, extra, report.rows)
        chains.append(report)
        loaded[c.id] = events
        from .station_chain import verify_stations

        # Every station's own chain, its key trusted through the approvals signed on chains
        # already verified (from the keys above, which never come from the database).
        roots = trusted_keys(tx, keys, c.id, key_files)
        for station_report, station_events in verify_stations(tx, c, keys, roots,
                                                              report, events):
            chains.append(station_report)
            assert station_report.station_id is not None
            loaded[station_report.station_id] = station_events
    if rows:
        found, counts = check_rows(tx, loaded)
        chains = [_with_rows(c, found.get(c.station_id or c.centre_id, []),
                             counts.get(c.centre_id, {}) if c.station_id is None else {})
                  for c in chains]
    return VerifyReport(tuple(chains))


def _with_rows(chain: ChainReport, problems: Sequence[Problem],
               counts: Mapping[str, int]) -> ChainReport:
    from dataclasses import replace

    return replace(chain, problems=(*chain.problems, *problems), rows=dict(counts))


def _verify_chain(tx: Session, centre: Centre,
                  trusted: Sequence[tuple[str, str]]) -> tuple[ChainReport, list[AuditEvent]]:
    events = list(tx.exec(select(AuditEvent).where(AuditEvent.centre_id == centre.id)
                          .order_by(col(AuditEvent.seq))).all())
    head = tx.exec(select(AuditHead).where(AuditHead.centre_id == centre.id)).first()
    checkpoints = list(tx.exec(select(AuditCheckpoint)
                               .where(AuditCheckpoint.centre_id == centre.id)
                               .order_by(col(AuditCheckpoint.seq))).all())
    return chain_report(centre, events, head, checkpoints, trusted), events


def chain_report(centre: Centre, events: Sequence[Any], head: Any,
                 checkpoints: Sequence[Any], trusted: Sequence[tuple[str, str]], *,
                 station_id: uuid.UUID | None = None, station_name: str = "") -> ChainReport:
    """Everything ``audit verify`` finds in one chain: the centre's, or (``station_id``) one
    station's, whose rows have the same columns plus the station."""
    problems = diagnose(events, head_seq=head.seq if head is not None else None)
    problems += _check_head(events, head)
    if not events:
        # Creating a centre (or enrolling a station) appends its first event in the same
        # transaction: a chain with no event at all had its log deleted.
        problems.append(Problem("log_wiped", (), "the centre exists but its log is empty"))
    named = {s for q in problems for s in q.seqs}
    for p in _check_checkpoints(centre.id, events, checkpoints, trusted, station_id):
        # An event already named as modified, inserted, … also fails its signature, and the
        # head and a checkpoint can both see the same missing tail: say each thing once.
        if p.seqs and set(p.seqs) <= named:
            continue
        problems.append(p)
    legacy = _legacy_prefix(events)
    sources = sorted({source for _, source in trusted})
    return ChainReport(centre.id, centre.code, len(events), events[-1].seq if events else 0,
                       len(checkpoints), "+".join(sources) or "none", tuple(problems),
                       legacy_events=legacy, last_hash=events[-1].hash if events else GENESIS,
                       station_id=station_id, station_name=station_name)


def _legacy_prefix(events: Sequence[AuditEvent]) -> int:
    """How many leading events are in the legacy (v1) format."""
    n = 0
    for e in events:
        if _format(e) != 1:
            break
        n += 1
    return n


def _ids(events: Sequence[AuditEvent]) -> tuple[str, ...]:
    return tuple(str(e.id) for e in events)


# A gap's seq numbers listed in a finding, at most: a desk may write its own chain's rows, and
# one row numbered 10**12 must not make ``audit verify`` list (and allocate) every number.
GAP_LISTED = 1000


def _gap(first: int, end: int) -> tuple[int, ...]:
    """The missing seq numbers ``first`` … ``end - 1``, the first GAP_LISTED of them (the
    finding's text gives both ends)."""
    return tuple(range(first, min(end, first + GAP_LISTED)))


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
            missing = _gap(before + 1, e.seq)
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
    ordered = sorted(e.seq for e in events)
    for a, b in zip([0, *ordered], ordered, strict=False):
        if b - a > 1 and not any(p.kind == "deleted" and a + 1 in p.seqs for p in problems):
            problems.append(Problem("deleted", _gap(a + 1, b),
                                    f"the numbering jumps from {a} to {b}: events were deleted "
                                    "and the chain re-linked around them"))
    out_of_place = tuple(sorted(s for s, t in zip(order, sorted(order), strict=True) if s != t))
    if out_of_place:
        problems.append(Problem("reordered", out_of_place,
                                "the hash chain puts these events in another order",
                                _ids([e for e in events if e.seq in out_of_place])))
    modified = [events[i] for i in chain if _format(events[i]) is None]
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
                       trusted: Sequence[tuple[str, str]],
                       station_id: uuid.UUID | None = None) -> list[Problem]:
    """Signatures with a key from outside the database, key changes only when the key in force
    signed them, and every event covered: its own signature (legacy prefix: one at or after
    it)."""
    problems: list[Problem] = []
    by_seq = {e.seq: e for e in events}
    by_hash = {e.hash: e for e in events}
    accepted = {k for k, _ in trusted}
    if events and not accepted:
        problems.append(Problem("key_unknown", (),
                                "no key from outside the database to check the signatures "
                                "with (this station's key store, --key FILE, the district)"))
        return problems
    rotations: dict[int, tuple[str, str]] = {}
    replacements: dict[str, AuditEvent] = {}  # by hash: the event a checkpoint names
    for e in events:
        if e.action == REPLACEMENT:
            replacements[e.hash] = e
        if e.action == ROTATION:
            try:
                data = json.loads(e.payload)
                rotations[e.seq] = (str(data["old"]), str(data["new"]))
            except (ValueError, KeyError, TypeError):
                continue
    in_force: str | None = None
    valid: set[int] = set()
    flagged: set[int] = set()
    for cp in checkpoints:
        replaced = _replacement(centre_id, cp, replacements.get(cp.hash), in_force, station_id)
        if replaced is not None:
            # A lost key replaced on purpose: said every time, then followed — the events
            # before it are not called tampered, the later ones must carry the new key.
            problems.append(replaced)
            valid.add(replaced.seqs[0])
            in_force = cp.public_key
            continue
        key_hex = in_force
        if key_hex is None:
            if cp.public_key not in accepted:
                problems.append(Problem("checkpoint_untrusted", (cp.seq,),
                                        "signed by a key this station, the key file or the "
                                        "district does not know"))
                flagged.add(cp.seq)
                continue
            key_hex = cp.public_key
        try:
            if cp.public_key != key_hex:
                raise InvalidSignature
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(cp.public_key))
            key.verify(bytes.fromhex(cp.signature),
                       checkpoint_message(centre_id, cp.seq, cp.hash, cp.signed_at, station_id))
        except (InvalidSignature, ValueError):
            problems.append(Problem("checkpoint_invalid", (cp.seq,),
                                    "the signature does not verify with the centre's key"))
            flagged.add(cp.seq)
            continue
        in_force = key_hex
        # By hash first: an event renumbered (an insertion before it) keeps its signature;
        # the renumbering itself is diagnose()'s finding.
        event = by_hash.get(cp.hash) or by_seq.get(cp.seq)
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
            flagged.add(cp.seq)
            continue
        valid.add(event.seq)
        change = rotations.get(event.seq)
        if change is not None and change[0] == key_hex:
            in_force = change[1]  # the old key signed the change: later events use the new one
    return _merge_runs(problems, [e.seq for e in events]) + _coverage(events, valid, flagged)


def _replacement(centre_id: uuid.UUID, cp: AuditCheckpoint, event: AuditEvent | None,
                 in_force: str | None, station_id: uuid.UUID | None = None) -> Problem | None:
    """The ``key_replaced`` finding when ``cp`` signs an event that replaces a lost key, with
    the new key that event names (None otherwise: the usual checks apply)."""
    if event is None or cp.public_key == in_force or _format(event) is None:
        return None
    try:
        data = json.loads(event.payload)
        if str(data["new"]) != cp.public_key:
            return None
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(cp.public_key)).verify(
            bytes.fromhex(cp.signature),
            checkpoint_message(centre_id, cp.seq, cp.hash, cp.signed_at, station_id))
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return None
    reason = str(data.get("reason") or "").strip() or "—"
    return Problem("key_replaced", (event.seq,),
                   f"admin: {event.actor}; reason: {reason}; the events after it are checked "
                   f"with the new key {cp.public_key[:16]}…, which the old key never vouched for",
                   _ids([event]), (("admin", event.actor), ("reason", reason),
                                   ("new_key", f"{cp.public_key[:16]}…")))


def _merge_runs(problems: Sequence[Problem], seqs: Sequence[int]) -> list[Problem]:
    """Signature findings on consecutive events as one finding (a rewrite from event 3 on
    is one thing to say, not eight)."""
    position = {s: i for i, s in enumerate(seqs)}
    out: list[Problem] = []
    for p in problems:
        last = out[-1] if out else None
        if (last is not None and last.kind == p.kind and len(p.seqs) == 1 and last.seqs
                and p.kind.startswith("checkpoint_")
                and position.get(p.seqs[0], -9) - position.get(last.seqs[-1], -99) in (0, 1)):
            if p.seqs[0] != last.seqs[-1]:  # a second checkpoint of the same event: once
                out[-1] = Problem(last.kind, (*last.seqs, *p.seqs), last.detail,
                                  (*last.event_ids, *p.event_ids))
        else:
            out.append(p)
    return out


def _coverage(events: Sequence[AuditEvent], valid: set[int], flagged: set[int]) -> list[Problem]:
    """Events without a valid signature, as ranges: none signed at all, a gap, or a tail after
    the newest signature. Events whose checkpoint was already reported are not repeated."""
    if not events:
        return []
    legacy = _legacy_prefix(events)
    newest = max(valid, default=0)
    runs: list[list[AuditEvent]] = []
    previous = -2
    for i, e in enumerate(events):
        if e.seq in flagged:
            continue
        covered = e.seq <= newest if i < legacy else e.seq in valid
        if covered:
            continue
        if i == previous + 1:
            runs[-1].append(e)
        else:
            runs.append([e])
        previous = i
    problems = []
    last = events[-1].seq
    for run in runs:
        seqs = tuple(e.seq for e in run)
        if not valid and not flagged:
            problems.append(Problem("checkpoint_missing", seqs,
                                    "no event carries a valid signature: the signatures were "
                                    "deleted", _ids(run[:1])))
        elif seqs[-1] == last:
            problems.append(Problem("checkpoint_stale", seqs,
                                    f"the newest valid signature is at event {newest}, the head "
                                    f"is event {last}", _ids(run[:1])))
        else:
            problems.append(Problem("checkpoint_gap", seqs,
                                    "these events have no valid signature", _ids(run[:1])))
    return problems
