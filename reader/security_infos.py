"""SecurityInfos (ICAO 9303-11 §9.2): what EF.CardAccess and DG14 announce.

PACEInfo, ChipAuthenticationInfo, ChipAuthenticationPublicKeyInfo, ActiveAuthenticationInfo
and TerminalAuthenticationInfo are decoded; anything else is kept as unknown. Malformed input
raises :class:`MalformedData` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import tlv
from .errors import MalformedData, OverLimit
from .limits import MAX_OID_ARC_BYTES, MAX_OID_BYTES

# 0.4.0.127.0.7.2.2 = bsi-de protocols
ID_PK_DH = "0.4.0.127.0.7.2.2.1.1"
ID_PK_ECDH = "0.4.0.127.0.7.2.2.1.2"
ID_TA = "0.4.0.127.0.7.2.2.2"
ID_CA_DH = "0.4.0.127.0.7.2.2.3.1"
ID_CA_ECDH = "0.4.0.127.0.7.2.2.3.2"
ID_PACE_DH_GM = "0.4.0.127.0.7.2.2.4.1"
ID_PACE_ECDH_GM = "0.4.0.127.0.7.2.2.4.2"
ID_PACE_DH_IM = "0.4.0.127.0.7.2.2.4.3"
ID_PACE_ECDH_IM = "0.4.0.127.0.7.2.2.4.4"
ID_PACE_ECDH_CAM = "0.4.0.127.0.7.2.2.4.6"
ID_AA = "2.23.136.1.1.5"
_PACE_BASES = (ID_PACE_DH_GM, ID_PACE_ECDH_GM, ID_PACE_DH_IM, ID_PACE_ECDH_IM, ID_PACE_ECDH_CAM)

# The last arc of PACE/CA protocol OIDs names the cipher (9303-11 §9.2.x).
CIPHERS = {1: ("3DES", 128), 2: ("AES", 128), 3: ("AES", 192), 4: ("AES", 256)}

ECDSA_PLAIN = {  # BSI TR-03111 ecdsa-plain-signatures
    "0.4.0.127.0.7.1.1.4.1.1": "sha1",
    "0.4.0.127.0.7.1.1.4.1.2": "sha224",
    "0.4.0.127.0.7.1.1.4.1.3": "sha256",
    "0.4.0.127.0.7.1.1.4.1.4": "sha384",
    "0.4.0.127.0.7.1.1.4.1.5": "sha512",
}


def decode_oid(body: bytes) -> str:
    if not body:
        raise MalformedData("empty OBJECT IDENTIFIER")
    # Checked first: an arc of thousands of bytes made the shift loop quadratic and its decimal
    # text overflow Python's int→str limit (a ValueError, not a typed error).
    if len(body) > MAX_OID_BYTES:
        raise OverLimit(f"OBJECT IDENTIFIER of {len(body)} bytes (at most {MAX_OID_BYTES})")
    arcs: list[int] = []
    value = 0
    arc_bytes = 0
    for i, b in enumerate(body):
        if value == 0 and b == 0x80:
            raise MalformedData("non-minimal OBJECT IDENTIFIER")
        arc_bytes += 1
        if arc_bytes > MAX_OID_ARC_BYTES:
            raise OverLimit(f"OBJECT IDENTIFIER arc longer than {MAX_OID_ARC_BYTES} bytes")
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(value)
            value = 0
            arc_bytes = 0
        elif i == len(body) - 1:
            raise MalformedData("truncated OBJECT IDENTIFIER")
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


def encode_oid(dotted: str) -> bytes:
    try:
        arcs = [int(a) for a in dotted.split(".")]
    except ValueError as exc:
        raise ValueError(f"not an OID: {dotted}") from exc
    out = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def _int(obj: tlv.Tlv) -> int:
    if obj.tag != 0x02 or not obj.value:
        raise MalformedData("INTEGER expected")
    return int.from_bytes(obj.value, "big", signed=True)


def _key_id(obj: tlv.Tlv) -> int:
    """A keyId (BSI TR-03110-3, ChipAuthenticationInfo): a non-negative INTEGER that chip
    authentication sends back in DO'84' (a negative one crashed its encoding: OverflowError)."""
    value = _int(obj)
    if value < 0 or value.bit_length() > 64:
        raise MalformedData(f"keyId {value if value.bit_length() <= 64 else '…'} out of range")
    return value


@dataclass(frozen=True)
class PaceInfo:
    protocol: str
    version: int
    parameter_id: int | None

    @property
    def mapping(self) -> str:
        base = self.protocol.rsplit(".", 1)[0]
        return {ID_PACE_ECDH_GM: "ECDH-GM", ID_PACE_DH_GM: "DH-GM", ID_PACE_ECDH_IM: "ECDH-IM",
                ID_PACE_DH_IM: "DH-IM", ID_PACE_ECDH_CAM: "ECDH-CAM"}.get(base, "unknown")

    @property
    def cipher(self) -> tuple[str, int]:
        return CIPHERS.get(int(self.protocol.rsplit(".", 1)[1]), ("unknown", 0))


@dataclass(frozen=True)
class ChipAuthenticationInfo:
    protocol: str
    version: int
    key_id: int | None

    @property
    def cipher(self) -> tuple[str, int]:
        return CIPHERS.get(int(self.protocol.rsplit(".", 1)[1]), ("unknown", 0))

    @property
    def agreement(self) -> str:
        return "ECDH" if self.protocol.startswith(ID_CA_ECDH) else "DH"


@dataclass(frozen=True)
class ChipAuthenticationPublicKeyInfo:
    protocol: str  # id-PK-ECDH or id-PK-DH
    subject_public_key_info: bytes  # DER SubjectPublicKeyInfo
    key_id: int | None


@dataclass(frozen=True)
class ActiveAuthenticationInfo:
    version: int
    signature_algorithm: str

    @property
    def hash_name(self) -> str | None:
        return ECDSA_PLAIN.get(self.signature_algorithm)


@dataclass(frozen=True)
class SecurityInfos:
    pace: tuple[PaceInfo, ...] = ()
    chip_authentication: tuple[ChipAuthenticationInfo, ...] = ()
    chip_public_keys: tuple[ChipAuthenticationPublicKeyInfo, ...] = ()
    active_authentication: ActiveAuthenticationInfo | None = None
    terminal_authentication: bool = False
    unknown: tuple[str, ...] = field(default=())


def parse_security_infos(data: bytes) -> SecurityInfos:
    """Parse a DER SET OF SecurityInfo (EF.CardAccess content, or DG14's value)."""
    top = tlv.decode_file(data, 0x31)
    pace: list[PaceInfo] = []
    ca: list[ChipAuthenticationInfo] = []
    pks: list[ChipAuthenticationPublicKeyInfo] = []
    aa: ActiveAuthenticationInfo | None = None
    ta = False
    unknown: list[str] = []
    for info in top.children():
        if info.tag != 0x30:
            raise MalformedData("SecurityInfo is not a SEQUENCE")
        parts = info.children()
        if len(parts) < 2 or parts[0].tag != 0x06:
            raise MalformedData("SecurityInfo lacks its protocol OID")
        oid = decode_oid(parts[0].value)
        rest = parts[1:]
        base = oid.rsplit(".", 1)[0]
        if base in _PACE_BASES:
            if rest[0].tag == 0x02:
                param = _int(rest[1]) if len(rest) > 1 and rest[1].tag == 0x02 else None
                pace.append(PaceInfo(oid, _int(rest[0]), param))
            # else a PACEDomainParameterInfo (explicit parameters): proprietary, not used here
        elif base in (ID_CA_DH, ID_CA_ECDH):
            key_id = _key_id(rest[1]) if len(rest) > 1 else None
            ca.append(ChipAuthenticationInfo(oid, _int(rest[0]), key_id))
        elif oid in (ID_PK_DH, ID_PK_ECDH):
            spki = rest[0]
            if spki.tag != 0x30:
                raise MalformedData("chip authentication public key is not a SEQUENCE")
            key_id = _key_id(rest[1]) if len(rest) > 1 else None
            pks.append(ChipAuthenticationPublicKeyInfo(
                oid, tlv.encode(spki.tag, spki.value), key_id))
        elif oid == ID_AA:
            if len(rest) < 2 or rest[1].tag != 0x06:
                raise MalformedData("ActiveAuthenticationInfo lacks its signature algorithm")
            aa = ActiveAuthenticationInfo(_int(rest[0]), decode_oid(rest[1].value))
        elif oid == ID_TA:
            ta = True
        else:
            unknown.append(oid)
    return SecurityInfos(tuple(pace), tuple(ca), tuple(pks), aa, ta, tuple(unknown))


def parse_dg14(data: bytes) -> SecurityInfos:
    top = tlv.decode_file(data, 0x6E)
    inner = top.value
    return parse_security_infos(inner)
