"""Stations: several desks of one centre on one centre database (issue 17).

A station is a desk with an identity of its own, made by ``examdesk station enrol`` in the
desk's key store (never in the database, never replacing a key that is there):

- an Ed25519 key that signs the station's own audit chain (:mod:`.station_chain`), so two desks
  never share a private key nor wait for each other's head row;
- an X25519 key to which the centre's data key is sealed, so a new desk opens the evidence
  without key files copied by hand.

Sealing is HPKE (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM — the
suite :mod:`.keywrap` already uses towards the office — with ``info`` binding the sealed key to
the centre, the station and the data key id: a sealed copy moved to another station's row, or
relabelled as another key, does not open.

Who may do what, and why:

- ``enrol`` on a desk that already holds the data key (the centre's first desk) seals it to
  itself at once; anywhere else the station waits (PENDING) until a desk that holds the key
  runs ``approve`` after comparing the new desk's key fingerprint (printed by ``enrol``) — a
  station row slipped into the database by someone else is never given the key by itself;
- ``approve`` is an audit event (``station.approved``) naming the station's public keys, signed
  by the approving desk: it is what ``audit verify`` trusts the new station's key by;
- ``revoke`` refuses the station's every later write (checked on each audit append, which every
  write makes) and removes its sealed copies; ``rotate-data-key`` then makes a new data key,
  sealed only to the stations still active, so evidence stored afterwards cannot be opened with
  anything the revoked desk holds. Older data keys stay sealed to current stations: old
  evidence stays readable. No key is ever deleted or silently replaced.
"""

from __future__ import annotations

import contextlib
import os
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from .crypto import (
    DATA_KEY_NAME,
    DataKey,
    DataKeys,
    KeyStore,
    public_fingerprint,
    retired_data_key_name,
)
from .errors import (
    InvalidInput,
    KeyMismatch,
    KeyMissing,
    KeyringUnavailable,
    KeyUnavailable,
)
from .keywrap import SUITE
from .models import Centre, KeyPurpose, KeyStatus, Stage
from .station_errors import (
    StationFingerprintMismatch,
    StationKeysExist,
    StationLastHolder,
    StationNameTaken,
    StationNoDataKey,
    StationNotFound,
    StationPending,
    StationRefused,
    StationRevoked,
    StationSelf,
    StationStageUnknown,
)
from .station_models import Station, StationDataKey, StationStatus
from .store import Store

_INFO = b"examdesk/station-key-wrap/v1\x00"
NAME_MAX = 100
# What people call the stages on a driving-test ground, besides the stored names.
STAGE_ALIASES = {"track": Stage.YARD, "sa_hinh": Stage.YARD, "sahinh": Stage.YARD,
                 "ly_thuyet": Stage.THEORY, "lythuyet": Stage.THEORY,
                 "mo_phong": Stage.SIMULATION, "duong": Stage.ROAD}


def signing_key_name(centre_id: uuid.UUID) -> str:
    return f"station-{centre_id}-signing"


def box_key_name(centre_id: uuid.UUID) -> str:
    return f"station-{centre_id}-box"


def _hex(raw: bytes) -> str:
    return raw.hex()


@dataclass(frozen=True, repr=False)
class Identity:
    """This desk's station keys for one centre (private: ``repr`` hides them)."""

    centre_id: uuid.UUID
    signing: Ed25519PrivateKey
    box: X25519PrivateKey

    def __repr__(self) -> str:
        return f"Identity(centre={self.centre_id}, signing={self.signing_public[:16]}…)"

    @property
    def signing_public(self) -> str:
        return self.signing.public_key().public_bytes_raw().hex()

    @property
    def box_public(self) -> str:
        return self.box.public_key().public_bytes_raw().hex()

    @property
    def fingerprint(self) -> str:
        """What an admin compares between the new desk's screen and the approving desk's."""
        return fingerprint(self.signing_public, self.box_public)


def fingerprint(signing_public: str, box_public: str) -> str:
    digest = public_fingerprint(bytes.fromhex(signing_public) + bytes.fromhex(box_public))
    return "-".join(digest[i:i + 4] for i in range(0, 20, 4)).upper()


def local_identity(keys: KeyStore, centre_id: uuid.UUID) -> Identity | None:
    """This desk's station keys for the centre, None when it has none. Half an identity (one
    key without the other) is an error: the other was lost, and a new one is not made here."""
    try:
        signing = keys.find_raw(signing_key_name(centre_id))
        box = keys.find_raw(box_key_name(centre_id))
    except KeyringUnavailable:
        # Unknown is not absent, but nothing is made from here: enrolment makes keys through
        # KeyStore.new_key, which raises on the same failure; a write then needs the centre's
        # key, which is checked against its record.
        return None
    if signing is None and box is None:
        return None
    if signing is None or box is None:
        missing = signing_key_name(centre_id) if signing is None else box_key_name(centre_id)
        raise KeyMissing(f"{missing}: this desk holds only half of its station keys",
                         name=missing, path=keys.where())
    return Identity(centre_id, Ed25519PrivateKey.from_private_bytes(signing),
                    X25519PrivateKey.from_private_bytes(box))


def _make_identity(keys: KeyStore, centre_id: uuid.UUID) -> Identity:
    """New station keys, made only where none exist (a concurrent maker's key wins)."""
    for name in (signing_key_name(centre_id), box_key_name(centre_id)):
        keys.new_key(name)
    made = local_identity(keys, centre_id)
    assert made is not None
    return made


def parse_stages(text: str | None) -> tuple[Stage, ...]:
    """"theory,track" → (THEORY, YARD), in the order of the test, without repeats."""
    found: set[Stage] = set()
    for part in (text or "").split(","):
        word = unicodedata.normalize("NFC", part).strip().lower().replace(" ", "_")
        if not word:
            continue
        stage = STAGE_ALIASES.get(word)
        if stage is None:
            try:
                stage = Stage(word)
            except ValueError:
                raise StationStageUnknown(f"no stage {part.strip()!r}", stage=part.strip(),
                                          allowed=", ".join(s.value for s in Stage)) from None
        found.add(stage)
    return tuple(s for s in Stage if s in found)


def _name(text: str) -> str:
    name = " ".join(unicodedata.normalize("NFC", text).split())
    if not name:
        raise InvalidInput("a station needs a name", field="name")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"a station name has at most {NAME_MAX} characters", field="name")
    return name


# --- sealing the data key ---------------------------------------------------------------------


def _info(station: Station, key_id: str) -> bytes:
    return _INFO + station.centre_id.bytes + station.id.bytes + key_id.encode("ascii")


def seal_to(key: DataKey, station: Station) -> bytes:
    public = X25519PublicKey.from_public_bytes(bytes.fromhex(station.box_public))
    return SUITE.encrypt(key.key, public, info=_info(station, key.key_id))


def open_sealed(row: StationDataKey, station: Station, identity: Identity) -> DataKey:
    try:
        key = DataKey(SUITE.decrypt(row.sealed, identity.box, info=_info(station, row.key_id)))
    except (InvalidTag, ValueError) as exc:
        raise KeyUnavailable(f"the data key {row.key_id} sealed to station {station.name} does "
                             f"not open: {exc!r}", reason="station_sealed",
                             name=station.name) from None
    if key.key_id != row.key_id:  # the id is public and could be relabelled
        raise KeyUnavailable(f"the sealed key of station {station.name} is not {row.key_id}",
                             reason="station_sealed_other", name=station.name)
    return key


def _seal_all(tx: Session, station: Station, keys: DataKey) -> list[str]:
    """Seal the current data key and every older one this desk opens to ``station``."""
    every = [keys, *(keys.older.values() if isinstance(keys, DataKeys) else ())]
    have = set(tx.exec(select(StationDataKey.key_id)
                       .where(StationDataKey.station_id == station.id)).all())
    sealed = []
    for key in every:
        if key.key_id in have:
            continue
        tx.add(StationDataKey(centre_id=station.centre_id, station_id=station.id,
                              key_id=key.key_id, sealed=seal_to(key, station)))
        sealed.append(key.key_id)
    tx.flush()
    return sealed


# --- which station this desk is ---------------------------------------------------------------


def station_of(tx: Session, identity: Identity) -> Station | None:
    return tx.exec(select(Station).where(Station.centre_id == identity.centre_id,
                                         Station.signing_public == identity.signing_public)
                   ).first()


def check_may_write(station: Station) -> None:
    if station.status is StationStatus.REVOKED:
        raise StationRevoked(f"station {station.name} was revoked", station=station.name,
                             by=station.revoked_by,
                             at=station.revoked_at.isoformat() if station.revoked_at else None)
    if station.status is StationStatus.PENDING:
        raise StationPending(f"station {station.name} is not approved yet",
                             station=station.name,
                             fingerprint=fingerprint(station.signing_public, station.box_public))


def desk_station(tx: Session, keys: KeyStore) -> tuple[Station, Identity] | None:
    """The station this desk is in this database (the first centre it has keys for)."""
    for centre_id in tx.exec(select(Centre.id).order_by(col(Centre.code))).all():
        identity = local_identity(keys, centre_id)
        if identity is None:
            continue
        row = station_of(tx, identity)
        if row is not None:
            return row, identity
    return None


def current_data_key_id(tx: Session) -> str | None:
    from .keyrecords import data_key_facts

    recorded = data_key_facts(tx).recorded
    return recorded[:16] if recorded else None


def station_data_keys(tx: Session, keys: KeyStore, cached: DataKey | None = None
                      ) -> DataKey | None:
    """The data keys sealed to this desk's station: the current one (which seals) and older
    ones (which open what they sealed). None when this desk is no station here (the
    single-desk path: the key store's own data key). ``cached`` is returned when still
    current, so a write costs one look-up, not an HPKE open."""
    found = desk_station(tx, keys)
    if found is None:
        return None
    station, identity = found
    check_may_write(station)
    now = current_data_key_id(tx)
    if cached is not None and cached.key_id == now:
        return cached
    rows = tx.exec(select(StationDataKey).where(StationDataKey.station_id == station.id)).all()
    opened = {r.key_id: open_sealed(r, station, identity) for r in rows}
    current = opened.pop(now, None) if now is not None else None
    if current is None:
        raise StationNoDataKey(f"no data key {now} is sealed to station {station.name}",
                               station=station.name)
    return DataKeys(current.key, older=opened) if opened else current


def _holder_key(store: Store, tx: Session) -> DataKey | None:
    """The data key if this desk holds it in its own key store (the single-desk path), made and
    recorded if the database has none yet; None when it does not hold the recorded one."""
    from .keyrecords import data_key

    try:
        return data_key(tx, store.keys)
    except (KeyMissing, KeyMismatch):
        return None


def _find(tx: Session, centre_id: uuid.UUID, ref: str) -> Station:
    text = " ".join(unicodedata.normalize("NFC", ref).split())
    rows = list(tx.exec(select(Station).where(Station.centre_id == centre_id)).all())
    exact = [r for r in rows if r.name == text or str(r.id) == text.lower()]
    match = exact or [r for r in rows if str(r.id).startswith(text.lower()) and len(text) >= 6]
    if len(match) != 1:
        raise StationNotFound(f"no single station {text!r}", ref=text)
    return match[0]


# --- what the centre admin does ----------------------------------------------------------------


@dataclass(frozen=True)
class StationInfo:
    id: uuid.UUID
    centre_id: uuid.UUID
    name: str
    stages: tuple[str, ...]
    status: str
    fingerprint: str
    enrolled_by: str
    enrolled_at: datetime
    approved_by: str | None = None
    approved_at: datetime | None = None
    revoked_by: str | None = None
    revoked_at: datetime | None = None
    this_desk: bool = False
    sealed_keys: int = 0

    @classmethod
    def of(cls, row: Station, *, this_desk: bool = False, sealed_keys: int = 0) -> StationInfo:
        return cls(row.id, row.centre_id, row.name, tuple(s for s in row.stages.split(",") if s),
                   row.status.value, fingerprint(row.signing_public, row.box_public),
                   row.enrolled_by, row.enrolled_at, row.approved_by, row.approved_at,
                   row.revoked_by, row.revoked_at, this_desk, sealed_keys)

    def to_dict(self) -> dict[str, object]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {"id": str(self.id), "centre_id": str(self.centre_id), "name": self.name,
                "stages": list(self.stages), "status": self.status,
                "fingerprint": self.fingerprint, "enrolled_by": self.enrolled_by,
                "enrolled_at": iso(self.enrolled_at), "approved_by": self.approved_by,
                "approved_at": iso(self.approved_at), "revoked_by": self.revoked_by,
                "revoked_at": iso(self.revoked_at), "this_desk": self.this_desk,
                "sealed_keys": self.sealed_keys}


def enrol(store: Store, *, centre_id: uuid.UUID, name: str, stages: str | None,
          actor: str) -> StationInfo:
    """Give this desk a station identity at the centre (see the module docstring)."""
    from .station_chain import append_station, start_station_chain

    name = _name(name)
    served = parse_stages(stages)
    keys = store.keys
    identity = local_identity(keys, centre_id)
    with store.read() as tx:
        if identity is not None:
            row = station_of(tx, identity)
            if row is not None:  # enrolled already: its keys are never replaced
                raise StationKeysExist(f"this desk is station {row.name} of the centre",
                                       station=row.name, where=keys.where())
        taken = tx.exec(select(Station.id).where(Station.centre_id == centre_id,
                                                 Station.name == name)).first()
        if taken is not None:
            raise StationNameTaken(f"station name {name!r} is taken", name=name)
    # Keys made earlier by an enrolment that did not commit are adopted, never replaced.
    identity = identity or _make_identity(keys, centre_id)
    try:
        with store.write() as tx:
            at = store.now()
            row = Station(centre_id=centre_id, name=name,
                          stages=",".join(s.value for s in served),
                          signing_public=identity.signing_public,
                          box_public=identity.box_public, enrolled_by=actor, enrolled_at=at,
                          db_role=_login(tx))
            tx.add(row)
            tx.flush()
            start_station_chain(tx, row)
            append_station(tx, row, identity.signing, actor=actor, action="station.enrolled",
                           subject_id=row.id, at=at,
                           payload={"name": name, "stages": [s.value for s in served],
                                    "signing_public": row.signing_public,
                                    "box_public": row.box_public})
            held = _holder_key(store, tx)
            sealed = 0
            if held is not None:
                # The desk that holds the key enrols itself: its approval is signed on the
                # centre's chain (its own station is not active until this commits).
                sealed = len(_approve(tx, store, row, held, actor=actor, centre_chain=True))
    except IntegrityError:
        raise StationNameTaken(f"station name {name!r} is taken", name=name) from None
    finally:
        store.forget_keys()
    return StationInfo.of(row, this_desk=True, sealed_keys=sealed)


def _login(tx: Session) -> str | None:
    """The database login this desk writes as (PostgreSQL), bound to its station: with the
    desk roles (:mod:`.desk_roles`) no other login may write the station's chain."""
    if tx.get_bind().dialect.name != "postgresql":
        return None
    return str(tx.connection().exec_driver_sql("SELECT current_user").scalar_one())


def _approve(tx: Session, store: Store, row: Station, data: DataKey, *, actor: str,
             centre_chain: bool) -> list[str]:
    return _record_approval(tx, store, row, _seal_all(tx, row, data), actor=actor,
                            centre_chain=centre_chain)


def _record_approval(tx: Session, store: Store, row: Station, sealed: list[str], *, actor: str,
                     centre_chain: bool) -> list[str]:
    """Every sealing is an approval event signed by this desk: a key is never given to a
    station without one (``audit verify`` trusts the station's key only through it)."""
    at = store.now()
    row.status, row.approved_by, row.approved_at = StationStatus.ACTIVE, actor, at
    tx.add(row)
    tx.flush()
    store.audit.append(
        tx, centre_id=row.centre_id, actor=actor, action="station.approved", subject_id=row.id,
        payload={"station": row.id, "name": row.name, "signing_public": row.signing_public,
                 "box_public": row.box_public, "sealed_key_ids": sealed},
        at=at, centre_chain=centre_chain)
    return sealed


def same_fingerprint(a: str, b: str) -> bool:
    """Two fingerprints as people write them: case, spaces and dashes do not count."""
    def norm(text: str) -> str:
        return "".join(c for c in text.upper() if c.isalnum())

    return bool(norm(a)) and norm(a) == norm(b)


def approve(store: Store, *, centre_id: uuid.UUID, ref: str, actor: str,
            expect_fingerprint: str | None = None) -> StationInfo:
    """Seal the data keys to a PENDING station (run on a desk that opens them).

    ``expect_fingerprint``: what the admin read on the new desk's screen; checked against the
    row's keys in the same transaction that seals, so keys swapped after the admin compared
    them are never given the data key."""
    try:
        with store.write() as tx:
            row = _find(tx, centre_id, ref)
            if expect_fingerprint is not None:
                held = fingerprint(row.signing_public, row.box_public)
                if not same_fingerprint(held, expect_fingerprint):
                    raise StationFingerprintMismatch(
                        f"station {row.name}: fingerprint {held}, not {expect_fingerprint!r}",
                        station=row.name, expected=held, seen=expect_fingerprint.strip())
            if row.status is StationStatus.REVOKED:
                raise StationRefused(f"station {row.name} was revoked: enrol a new one",
                                     station=row.name)
            own = desk_station(tx, store.keys)
            if own is None:
                data = _holder_key(store, tx)
            else:
                check_may_write(own[0])
                data = store.data_key_in(tx)
            if data is None:
                raise StationNoDataKey("this desk does not hold the centre's data key",
                                       station=row.name)
            sealed = _seal_all(tx, row, data)
            if sealed or row.status is not StationStatus.ACTIVE:
                _record_approval(tx, store, row, sealed, actor=actor,
                                 centre_chain=own is None)
    finally:
        store.forget_keys()
    return StationInfo.of(row, sealed_keys=len(sealed))


def revoke(store: Store, *, centre_id: uuid.UUID, ref: str, actor: str,
           reason: str) -> StationInfo:
    """Refuse the station's later writes and remove its sealed copies of the data keys."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a revocation needs a written reason", field="reason")
    try:
        with store.write() as tx:
            row = _find(tx, centre_id, ref)
            own = desk_station(tx, store.keys)
            if own is not None and own[0].id == row.id:
                raise StationSelf("a desk cannot revoke its own station", station=row.name)
            if row.status is StationStatus.REVOKED:
                return StationInfo.of(row)
            _keep_a_holder(tx, store, row, own)
            at = store.now()
            row.status, row.revoked_by, row.revoked_at = StationStatus.REVOKED, actor, at
            row.revoke_reason = reason
            tx.add(row)
            # Revoked first: a desk login removes sealed keys only of a revoked station
            # (desk_roles.py), so the row's new status must be in the database before.
            tx.flush()
            removed = tx.exec(delete(StationDataKey)
                              .where(col(StationDataKey.station_id) == row.id)).rowcount
            store.audit.append(
                tx, centre_id=centre_id, actor=actor, action="station.revoked",
                subject_id=row.id,
                payload={"station": row.id, "name": row.name,
                         "signing_public": row.signing_public, "reason": reason,
                         "sealed_removed": int(removed or 0)}, at=at)
    finally:
        store.forget_keys()
    return StationInfo.of(row)


def _keep_a_holder(tx: Session, store: Store, row: Station,
                   own: tuple[Station, Identity] | None) -> None:
    """Refuse a revocation that would leave no desk able to open the current data key: the
    revoked station's copies are removed, and a key nobody holds is a key lost."""
    now = current_data_key_id(tx)
    if now is None:
        return
    others = tx.exec(select(StationDataKey.station_id).join(
        Station, col(Station.id) == col(StationDataKey.station_id)).where(
        StationDataKey.key_id == now, Station.status == StationStatus.ACTIVE,
        Station.id != row.id)).first()
    if others is not None or (own is None and _holder_key(store, tx) is not None):
        return
    raise StationLastHolder(f"station {row.name} is the last desk holding data key {now}",
                            station=row.name)


@dataclass(frozen=True)
class DataKeyRotation:
    old_key_id: str
    new_key_id: str
    stations: tuple[str, ...]  # the stations the new key is sealed to
    # ACTIVE stations holding no sealed copy of the old key (set so by hand?): not given the
    # new one; `station approve` on them records a signed approval if they are genuine.
    skipped: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"old_key_id": self.old_key_id, "new_key_id": self.new_key_id,
                "stations": list(self.stations), "skipped": list(self.skipped)}


def rotate_data_key(store: Store, *, centre_id: uuid.UUID, actor: str,
                    reason: str) -> DataKeyRotation:
    """A new data key, sealed to every ACTIVE station only; the old one is retired (still sealed
    to the current stations, so old evidence stays readable). Run on a desk that opens the
    current key: it is never declared lost here (``keys rotate --lost`` is for that)."""
    from .keyrecords import add, current, records

    reason = reason.strip()
    if not reason:
        raise InvalidInput("a rotation needs a written reason", field="reason")
    keys = store.keys
    replaced: bytes | None = None
    try:
        with store.write() as tx:
            own = desk_station(tx, keys)
            old = store.data_key_in(tx)
            if own is None and _holder_key(store, tx) is None:
                raise StationNoDataKey("this desk does not hold the centre's data key",
                                       station="—")
            now = current(records(tx, DATA_KEY_NAME))
            if now is None or now.key_id != old.key_id:
                raise StationNoDataKey("the data key this desk opens is not the current one",
                                       station=own[0].name if own else "—")
            at = store.now()
            fresh = DataKey(os.urandom(32))
            now.status, now.retired_at = KeyStatus.RETIRED, at
            tx.add(now)
            tx.flush()
            add(tx, DATA_KEY_NAME, KeyPurpose.DATA, fresh.fingerprint)
            # Only stations holding the current key get the new one: a row set ACTIVE by hand
            # (or a revoked one set back) holds no sealed copy, since only a desk that opens
            # the key can make one, and every such sealing is a signed approval.
            holders = set(tx.exec(select(StationDataKey.station_id)
                                  .where(StationDataKey.key_id == old.key_id)).all())
            candidates = list(tx.exec(select(Station).where(
                Station.status == StationStatus.ACTIVE)).all())
            active = [s for s in candidates if s.id in holders]
            skipped = tuple(s.name for s in candidates if s.id not in holders)
            for s in active:
                tx.add(StationDataKey(centre_id=s.centre_id, station_id=s.id,
                                      key_id=fresh.key_id, sealed=seal_to(fresh, s)))
                # Older keys a station lacks (approved before it could get them) are not
                # added here: approve seals every key the approving desk opens.
            tx.flush()
            local = keys.find_raw(DATA_KEY_NAME)
            if local is not None and DataKey(local).key_id == old.key_id:
                # This desk also keeps the key in its own store (the single-desk path): the old
                # one stays under its id, as `keys rotate` keeps it.
                from .keyadmin import _archive

                _archive(keys, retired_data_key_name(old.key_id), local)
                keys.put_raw(DATA_KEY_NAME, fresh.key)
                replaced = local
            store.audit.append(
                tx, centre_id=centre_id, actor=actor, action="station.data_key_rotated",
                subject_id=centre_id,
                payload={"old_key_id": old.key_id, "new_key_id": fresh.key_id,
                         "reason": reason, "stations": [s.id for s in active],
                         "skipped": list(skipped)}, at=at)
    except BaseException:
        if replaced is not None:
            with contextlib.suppress(KeyUnavailable):
                keys.put_raw(DATA_KEY_NAME, replaced)  # the records were rolled back: so is it
        raise
    finally:
        store.forget_keys()
    return DataKeyRotation(old.key_id, fresh.key_id, tuple(s.name for s in active), skipped)


def list_stations(store: Store, centre_id: uuid.UUID) -> list[StationInfo]:
    keys = store.keys
    with store.read() as tx:
        rows = list(tx.exec(select(Station).where(Station.centre_id == centre_id)
                            .order_by(col(Station.enrolled_at))).all())
        counts = {r.id: len(tx.exec(select(StationDataKey.id).where(
            StationDataKey.station_id == r.id)).all()) for r in rows}
        try:
            mine = local_identity(keys, centre_id)
        except KeyUnavailable:
            mine = None
    return [StationInfo.of(r, this_desk=mine is not None
                           and r.signing_public == mine.signing_public,
                           sealed_keys=counts[r.id]) for r in rows]


def this_station(store: Store) -> StationInfo | None:
    """This desk's station in the store's database (for the desk's header), or None."""
    with store.read() as tx:
        found = desk_station(tx, store.keys)
    return StationInfo.of(found[0], this_desk=True) if found else None

