"""PACE, ICAO 9303-11 §4.4: ECDH Generic Mapping as a small state machine over bytes.

    pace = PaceInitiator(info, PacePassword.can("123456"))
    send(pace.set_at()); send(pace.get_nonce())
    r = send(...) → pace.map_nonce(r) → pace.key_agreement(r) → pace.mutual_auth(r) → pace.finish(r)

Each step takes the card's previous answer and returns the next command. The Generic Mapping
needs point arithmetic on a generator of the card's choosing, which `cryptography` does not
expose, so the curve arithmetic uses python-ecdsa; key derivation, ciphers and MACs use
`cryptography` like the rest of the reader. Randomness is injectable so the worked example of
9303-11 Appendix G can be replayed.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from ecdsa import curves as ec_curves
from ecdsa.ellipticcurve import INFINITY, PointJacobi

from . import tlv
from .apdu import CommandApdu, ResponseApdu, raise_for_status
from .crypto import (
    KDF_ENC,
    KDF_MAC,
    KDF_PACE,
    AesSuite,
    CipherSuite,
    Des3Suite,
    aes_cbc_decrypt,
    aes_cmac,
    des3_cbc_decrypt,
    equal,
    kdf,
    pad,
    retail_mac,
)
from .errors import MalformedData, SecureMessagingError, WrongCardKey
from .security_infos import PaceInfo, encode_oid
from .sm import SecureMessaging

# Standardized domain parameters (9303-11 §9.5.1) that are elliptic curves.
CURVES: dict[int, ec_curves.Curve] = {
    8: ec_curves.NIST192p,
    9: ec_curves.BRAINPOOLP192r1,
    10: ec_curves.NIST224p,
    11: ec_curves.BRAINPOOLP224r1,
    12: ec_curves.NIST256p,
    13: ec_curves.BRAINPOOLP256r1,
    14: ec_curves.BRAINPOOLP320r1,
    15: ec_curves.NIST384p,
    16: ec_curves.BRAINPOOLP384r1,
    17: ec_curves.BRAINPOOLP512r1,
    18: ec_curves.NIST521p,
}

MRZ_PASSWORD = 1
CAN_PASSWORD = 2


@dataclass(frozen=True)
class PacePassword:
    """π as 9303-11 §9.7.3 defines it: SHA-1 of the MRZ information, or the CAN itself."""

    kind: int  # 1 MRZ, 2 CAN
    secret: bytes

    @classmethod
    def mrz(cls, mrz_information: bytes) -> PacePassword:
        return cls(MRZ_PASSWORD, hashlib.sha1(mrz_information).digest())

    @classmethod
    def can(cls, can: str) -> PacePassword:
        if not can.isdigit() or len(can) != 6:
            raise ValueError("a CAN is 6 digits")
        return cls(CAN_PASSWORD, can.encode("ascii"))

    @property
    def name(self) -> str:
        return "MRZ" if self.kind == MRZ_PASSWORD else "CAN"


def supported(info: PaceInfo) -> bool:
    return (
        info.mapping == "ECDH-GM"
        and info.parameter_id in CURVES
        and info.cipher[0] in ("AES", "3DES")
    )


def _field_len(curve: ec_curves.Curve) -> int:
    return (curve.curve.p().bit_length() + 7) // 8


def encode_point(point: PointJacobi, curve: ec_curves.Curve) -> bytes:
    n = _field_len(curve)
    return b"\x04" + point.x().to_bytes(n, "big") + point.y().to_bytes(n, "big")


def decode_point(data: bytes, curve: ec_curves.Curve) -> PointJacobi:
    """An uncompressed point on ``curve``; anything else (or off the curve) is refused."""
    n = _field_len(curve)
    if len(data) != 1 + 2 * n or data[0] != 0x04:
        raise MalformedData("public key is not an uncompressed point of the right size")
    x = int.from_bytes(data[1 : 1 + n], "big")
    y = int.from_bytes(data[1 + n :], "big")
    if not curve.curve.contains_point(x, y):
        raise SecureMessagingError("the card's public key is not on the curve")
    return PointJacobi(curve.curve, x, y, 1, curve.order)


def _dynamic(tag: int, data: bytes) -> bytes:
    return tlv.encode(0x7C, tlv.encode(tag, data) if data or tag else b"")


def _general_authenticate(body: bytes, last: bool) -> CommandApdu:
    # Command chaining (CLA 10) on all but the last step (9303-11 §4.4.4).
    return CommandApdu(0x00 if last else 0x10, 0x86, 0x00, 0x00, body, 256)


def _unpack(resp: ResponseApdu, tag: int) -> bytes:
    raise_for_status(resp, during="pace")
    try:
        outer = tlv.decode_file(resp.data, 0x7C)
        inner = outer.find(tag)
    except MalformedData as exc:
        raise MalformedData(f"PACE answer malformed: {exc}") from exc
    if inner is None:
        raise MalformedData(f"PACE answer lacks tag {tag:02X}")
    return inner.value


class PaceStep(Enum):
    """Where one PACE run stands: what the initiator has sent and waits to hear about."""

    READY = "ready"  # nothing sent yet but MSE:Set AT and the empty GENERAL AUTHENTICATE
    MAPPING = "mapping"  # the nonce is decrypted, our mapping key sent
    AGREEING = "agreeing"  # the generator is mapped, our ephemeral key sent
    CONFIRMING = "confirming"  # the session keys are derived, our token sent
    DONE = "done"  # the card's token verified: secure messaging is open


@dataclass(frozen=True)
class _Ready:
    """Nothing received from the card yet."""


@dataclass(frozen=True)
class _Mapping:
    """The card's nonce, decrypted with the password, and our mapping key for it."""
    nonce: bytes
    map_sk: int


@dataclass(frozen=True)
class _Agreeing:
    """Our ephemeral key pair on the mapped generator (the private half, the encoded public
    half the card must not echo)."""
    eph_sk: int
    eph_pk_ifd: bytes


@dataclass(frozen=True)
class _Confirming:
    """The session keys, derived from the shared secret, and our ephemeral public key: the
    card proves it derived the same keys with a token computed over that key (ours is over
    the card's)."""
    suite: CipherSuite
    eph_pk_ifd: bytes


@dataclass(frozen=True)
class _Done:
    """The card's token verified: the keys of the secure messaging now open."""
    suite: CipherSuite


_PaceState = _Ready | _Mapping | _Agreeing | _Confirming | _Done
_S = TypeVar("_S", _Ready, _Mapping, _Agreeing, _Confirming, _Done)
_STEPS: dict[type[_PaceState], PaceStep] = {
    _Ready: PaceStep.READY, _Mapping: PaceStep.MAPPING, _Agreeing: PaceStep.AGREEING,
    _Confirming: PaceStep.CONFIRMING, _Done: PaceStep.DONE,
}


class PaceInitiator:
    """The terminal's side of one PACE run (ECDH Generic Mapping).

    Its state is one value per step (``step`` tells which), holding exactly what that step
    knows: a step called out of order is a :class:`RuntimeError`, never a half-set field.
    """

    def __init__(
        self,
        info: PaceInfo,
        password: PacePassword,
        *,
        random_scalar: Callable[[int], int] | None = None,
    ) -> None:
        if info.parameter_id is None or not supported(info):
            raise ValueError(f"unsupported PACE variant {info.protocol} / {info.parameter_id}")
        self.info = info
        self.password = password
        self.curve = CURVES[info.parameter_id]
        self.cipher, self.key_bits = info.cipher
        self._rand = random_scalar or (lambda n: secrets.randbelow(n - 1) + 1)
        self._state: _PaceState = _Ready()

    @property
    def step(self) -> PaceStep:
        return _STEPS[type(self._state)]

    @property
    def suite(self) -> CipherSuite | None:
        """The session keys, once derived (CONFIRMING and DONE)."""
        return self._state.suite if isinstance(self._state, _Confirming | _Done) else None

    def _expect(self, kind: type[_S], first: str) -> _S:
        if not isinstance(self._state, kind):
            raise RuntimeError(f"PACE is at {self.step.value}: {first}() first")
        return self._state

    # --- commands ------------------------------------------------------------------------

    def set_at(self) -> CommandApdu:
        body = (
            tlv.encode(0x80, encode_oid(self.info.protocol))
            + tlv.encode(0x83, bytes([self.password.kind]))
            + tlv.encode(0x84, bytes([self.info.parameter_id or 0]))
        )
        return CommandApdu(0x00, 0x22, 0xC1, 0xA4, body)

    def get_nonce(self) -> CommandApdu:
        return _general_authenticate(tlv.encode(0x7C, b""), last=False)

    def map_nonce(self, resp: ResponseApdu) -> CommandApdu:
        self._expect(_Ready, "a new PaceInitiator")
        z = _unpack(resp, 0x80)
        mapping = _Mapping(self.decrypt_nonce(z), self._rand(self.curve.order))
        self._state = mapping
        pk = self.curve.generator * mapping.map_sk
        return _general_authenticate(_dynamic(0x81, encode_point(pk, self.curve)), last=False)

    def key_agreement(self, resp: ResponseApdu) -> CommandApdu:
        self._expect(_Mapping, "map_nonce")
        pk_map_ic = decode_point(_unpack(resp, 0x82), self.curve)
        generator = self.map_generator(pk_map_ic)
        eph_sk = self._rand(self.curve.order)
        eph_pk_ifd = encode_point(generator * eph_sk, self.curve)
        self._state = _Agreeing(eph_sk, eph_pk_ifd)
        return _general_authenticate(_dynamic(0x83, eph_pk_ifd), last=False)

    def mutual_auth(self, resp: ResponseApdu) -> CommandApdu:
        agreeing = self._expect(_Agreeing, "key_agreement")
        raw = _unpack(resp, 0x84)
        pk_ic = decode_point(raw, self.curve)
        if raw == agreeing.eph_pk_ifd:
            # 9303-11 §4.4.3.3: the chip must not echo our key (reflection attack).
            raise SecureMessagingError("the card returned our own ephemeral key")
        shared = pk_ic * agreeing.eph_sk
        if shared == INFINITY:
            raise SecureMessagingError("PACE key agreement gave the point at infinity")
        secret = shared.x().to_bytes(_field_len(self.curve), "big")
        self._state = _Confirming(self.session_suite(secret), agreeing.eph_pk_ifd)
        token = self.token(raw)
        return _general_authenticate(_dynamic(0x85, token), last=True)

    def finish(self, resp: ResponseApdu) -> SecureMessaging:
        confirming = self._expect(_Confirming, "mutual_auth")
        if resp.sw in (0x6300,) or resp.sw & 0xFFF0 == 0x63C0:
            # The card could not verify our token: it derived other keys, i.e. another π.
            raise WrongCardKey(resp.sw, "the card refused the PACE password", during="pace",
                               password=self.password.name)
        t_ic = _unpack(resp, 0x86)
        if not equal(t_ic, self.token(confirming.eph_pk_ifd)):
            raise SecureMessagingError("the card's PACE token does not verify")
        self._state = _Done(confirming.suite)
        return SecureMessaging.start(confirming.suite, bytes(confirming.suite.block))

    # --- the cryptography, exposed for the worked-example tests ---------------------------

    def password_key(self) -> bytes:
        return kdf(self.password.secret, KDF_PACE, cipher=self.cipher, key_bits=self.key_bits)

    def decrypt_nonce(self, z: bytes) -> bytes:
        key = self.password_key()
        if self.cipher == "AES":
            return aes_cbc_decrypt(key, z)
        return des3_cbc_decrypt(key, z)

    def map_generator(self, pk_map_ic: PointJacobi) -> PointJacobi:
        """G~ = s·G + H with H = SK_map,IFD · PK_map,IC (Generic Mapping, 9303-11 §4.4.3.3.1)."""
        mapping = self._expect(_Mapping, "map_nonce")
        h = pk_map_ic * mapping.map_sk
        if h == INFINITY:
            raise SecureMessagingError("PACE mapping gave the point at infinity")
        s = int.from_bytes(mapping.nonce, "big")
        g = self.curve.generator * s + h
        if g == INFINITY:
            raise SecureMessagingError("PACE mapped generator is the point at infinity")
        return g

    def session_suite(self, secret: bytes) -> CipherSuite:
        k_enc = kdf(secret, KDF_ENC, cipher=self.cipher, key_bits=self.key_bits)
        k_mac = kdf(secret, KDF_MAC, cipher=self.cipher, key_bits=self.key_bits)
        if self.cipher == "AES":
            return AesSuite(k_enc, k_mac)
        return Des3Suite(k_enc, k_mac)

    def token(self, public_key: bytes) -> bytes:
        """Authentication token over the other side's ephemeral public key (§4.4.3.4)."""
        suite = self.suite
        if suite is None:
            raise RuntimeError(f"PACE is at {self.step.value}: mutual_auth() first")
        data = tlv.encode(0x7F49, tlv.encode(0x06, encode_oid(self.info.protocol))
                          + tlv.encode(0x86, public_key))
        k_mac = suite.k_mac  # type: ignore[attr-defined]
        if self.cipher == "AES":
            return aes_cmac(k_mac, data)[:8]
        return retail_mac(k_mac, pad(data, 8))
