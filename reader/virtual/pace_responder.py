"""The card's half of PACE with the ECDH Generic Mapping (ICAO Doc 9303-11 §4.4).

MSE:Set AT (``00 22 C1 A4``) names the protocol (DO'80'), the password (DO'83': 01 MRZ,
02 CAN) and optionally the domain parameters (DO'84'); four GENERAL AUTHENTICATE commands
follow, the first three chained (CLA 10):

1. ``7C 00``                    → ``7C { 80 z }``       z = E(K_π, s), K_π = KDF(π, 3)
2. ``7C { 81 PK_map,IFD }``     → ``7C { 82 PK_map,IC }``  G~ = s·G + SK_map,IC·PK_map,IFD
3. ``7C { 83 PK_eph,IFD }``     → ``7C { 84 PK_eph,IC }``  K = x(SK_eph,IC·PK_eph,IFD)
4. ``7C { 85 T_IFD }``          → ``7C { 86 T_IC }``       tokens over the other side's key

π is SHA-1 of the MRZ information for the MRZ password and the ASCII CAN for the CAN. A wrong
password shows as a wrong T_IFD: the card answers 6300 and no session is opened.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from ecdsa.ellipticcurve import PointJacobi

from .ber import BerError, read_all, tlv
from .command import SW
from .domain_params import STANDARD_DOMAINS, EcDomain, InvalidPoint, is_infinity
from .security_infos import (
    PASSWORD_CAN,
    PASSWORD_MRZ,
    oid_value,
    pace_oid,
    public_key_data_object,
)
from .sm_crypto import KDF_ENC, KDF_MAC, KDF_PI, CipherSpec

NONCE_LENGTH = 16  # a multiple of both block sizes; what real chips send for AES and 3DES
TOKEN_LENGTH = 8


class PaceError(Exception):
    """The step failed; ``sw`` is the answer and the attempt is over."""

    def __init__(self, sw: SW, reason: str) -> None:
        super().__init__(reason)
        self.sw = sw


@dataclass(frozen=True)
class PaceConfig:
    """What the chip offers: one (cipher, parameter ID) pair and the passwords it accepts."""

    cipher: CipherSpec
    parameter_id: int
    passwords: frozenset[int]  # PASSWORD_MRZ, PASSWORD_CAN
    mrz_information: str
    can: str

    @property
    def domain(self) -> EcDomain:
        return STANDARD_DOMAINS[self.parameter_id]

    def password(self, reference: int) -> bytes:
        """π: SHA-1(MRZ information) or the CAN's ASCII digits."""
        if reference == PASSWORD_MRZ:
            return hashlib.sha1(self.mrz_information.encode("ascii")).digest()
        return self.can.encode("ascii")


@dataclass(frozen=True)
class PaceResult:
    """A completed PACE: the session keys and, for tests, the intermediate values."""

    cipher: CipherSpec
    password: int
    k_enc: bytes
    k_mac: bytes
    shared_secret: bytes
    mapped_generator: bytes  # G~, uncompressed
    nonce: bytes


def parse_set_at(data: bytes, config: PaceConfig) -> int:
    """Check MSE:Set AT's data objects; return the password reference or raise PaceError."""
    try:
        dos = read_all(data)
    except BerError as exc:
        raise PaceError(SW.WRONG_DATA, f"MSE:Set AT data: {exc}") from exc
    fields: dict[int, bytes] = {}
    for tag, value, _ in dos:
        if tag in fields:
            raise PaceError(SW.WRONG_DATA, f"DO'{tag:X}' twice")
        if tag not in (0x80, 0x83, 0x84, 0x7F4C):  # 7F4C: a CHAT for terminal authentication
            raise PaceError(SW.WRONG_DATA, f"unexpected DO'{tag:X}'")
        fields[tag] = value
    if fields.get(0x80) != oid_value(pace_oid(config.cipher)):
        raise PaceError(SW.WRONG_DATA, "protocol not offered in EF.CardAccess")
    reference = fields.get(0x83)
    if reference is None or len(reference) != 1:
        raise PaceError(SW.WRONG_DATA, "password reference missing")
    if reference[0] not in (PASSWORD_MRZ, PASSWORD_CAN):
        raise PaceError(SW.WRONG_DATA, "password reference not supported (PIN/PUK)")
    if reference[0] not in config.passwords:
        raise PaceError(SW.SECURITY_NOT_SATISFIED, "this chip refuses PACE with that password")
    parameter = fields.get(0x84)
    if parameter is not None and parameter != bytes([config.parameter_id]):
        raise PaceError(SW.WRONG_DATA, "domain parameters not offered")
    return reference[0]


class PaceResponder:
    """One PACE attempt, from a successful MSE:Set AT to the fourth GENERAL AUTHENTICATE."""

    def __init__(self, config: PaceConfig, password: int, rng: Callable[[int], bytes]) -> None:
        self.config = config
        self.password = password
        self._rng = rng
        self._domain = config.domain
        self._cipher = config.cipher
        self._oid = pace_oid(config.cipher)
        self.step = 1
        self._nonce = b""
        self._mapped: PointJacobi | None = None
        self._pk_eph_ic = b""
        self._pk_eph_ifd = b""
        self._shared = b""
        self._k_enc = b""
        self._k_mac = b""

    @classmethod
    def start(cls, data: bytes, config: PaceConfig, rng: Callable[[int], bytes]) -> PaceResponder:
        return cls(config, parse_set_at(data, config), rng)

    def general_authenticate(
        self, data: bytes, *, chained: bool
    ) -> tuple[bytes, PaceResult | None]:
        """Answer one step; raise PaceError (the caller ends the attempt) on any failure."""
        if chained != (self.step < 4):
            # Steps 1-3 carry CLA 10 (more commands follow), step 4 ends the chain with CLA 00.
            raise PaceError(
                SW.LAST_COMMAND_EXPECTED if chained else SW.CONDITIONS_NOT_SATISFIED,
                "command chaining does not match the PACE step",
            )
        expected = {1: None, 2: 0x81, 3: 0x83, 4: 0x85}[self.step]
        value = _dynamic_authentication_data(data, expected)
        step, self.step = self.step, self.step + 1
        if step == 1:
            return tlv(0x7C, tlv(0x80, self._encrypted_nonce())), None
        if step == 2:
            return tlv(0x7C, tlv(0x82, self._map(value))), None
        if step == 3:
            return tlv(0x7C, tlv(0x84, self._agree(value))), None
        return self._authenticate(value)

    # --- the steps ------------------------------------------------------------------------

    def _encrypted_nonce(self) -> bytes:
        self._nonce = self._rng(NONCE_LENGTH)
        k_pi = self._cipher.kdf(self.config.password(self.password), KDF_PI)
        return self._cipher.encrypt_nonce(k_pi, self._nonce)

    def _map(self, pk_map_ifd: bytes) -> bytes:
        d = self._domain
        terminal = _decode(d, pk_map_ifd)
        sk_map = d.random_scalar(self._rng)
        shared = terminal * sk_map  # H
        mapped = d.generator * int.from_bytes(self._nonce, "big") + shared
        if is_infinity(shared) or is_infinity(mapped):
            raise PaceError(SW.WRONG_DATA, "degenerate mapping")
        self._mapped = mapped
        return d.encode_point(d.generator * sk_map)

    def _agree(self, pk_eph_ifd: bytes) -> bytes:
        d = self._domain
        assert self._mapped is not None
        terminal = _decode(d, pk_eph_ifd)
        sk_eph = d.random_scalar(self._rng)
        own = d.encode_point(self._mapped * sk_eph)
        if own == pk_eph_ifd:  # the chip must check that the two ephemeral public keys differ
            raise PaceError(SW.WRONG_DATA, "the terminal echoed the chip's ephemeral key")
        try:
            self._shared = d.x_bytes(terminal * sk_eph)
        except InvalidPoint as exc:
            raise PaceError(SW.WRONG_DATA, str(exc)) from exc
        self._pk_eph_ic, self._pk_eph_ifd = own, pk_eph_ifd
        self._k_enc = self._cipher.kdf(self._shared, KDF_ENC)
        self._k_mac = self._cipher.kdf(self._shared, KDF_MAC)
        return own

    def _authenticate(self, t_ifd: bytes) -> tuple[bytes, PaceResult]:
        expected = self._cipher.token(
            self._k_mac, public_key_data_object(self._oid, self._pk_eph_ic)
        )
        if len(t_ifd) != TOKEN_LENGTH or not hmac.compare_digest(expected, t_ifd):
            raise PaceError(SW.AUTH_FAILED, "T_IFD is wrong: wrong password")
        t_ic = self._cipher.token(self._k_mac, public_key_data_object(self._oid, self._pk_eph_ifd))
        assert self._mapped is not None
        result = PaceResult(
            cipher=self._cipher,
            password=self.password,
            k_enc=self._k_enc,
            k_mac=self._k_mac,
            shared_secret=self._shared,
            mapped_generator=self._domain.encode_point(self._mapped),
            nonce=self._nonce,
        )
        return tlv(0x7C, tlv(0x86, t_ic)), result


def _dynamic_authentication_data(data: bytes, expected_tag: int | None) -> bytes:
    """``7C { <expected DO> }`` (or an empty ``7C 00`` in step 1) → the inner DO's value."""
    try:
        outer = read_all(data)
        if len(outer) != 1 or outer[0][0] != 0x7C:
            raise PaceError(SW.WRONG_DATA, "dynamic authentication data (7C) expected")
        inner = read_all(outer[0][1])
    except BerError as exc:
        raise PaceError(SW.WRONG_DATA, f"malformed data: {exc}") from exc
    if expected_tag is None:
        if inner:
            raise PaceError(SW.WRONG_DATA, "step 1 carries no data")
        return b""
    if len(inner) != 1 or inner[0][0] != expected_tag:
        raise PaceError(SW.WRONG_DATA, f"DO'{expected_tag:X}' expected")
    return inner[0][1]


def _decode(domain: EcDomain, data: bytes) -> PointJacobi:
    try:
        return domain.decode_point(data)
    except InvalidPoint as exc:
        raise PaceError(SW.WRONG_DATA, f"terminal public key: {exc}") from exc
