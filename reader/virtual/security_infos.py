"""SecurityInfos (ICAO 9303-11 §9.2) the card publishes: EF.CardAccess and DG14, and the OIDs of
the protocols it speaks.

EF.CardAccess of the real CCCD (research notes §1) is TerminalAuthenticationInfo v1,
ChipAuthenticationInfo (CA-ECDH-AES-128) v1 and PACEInfo (PACE-ECDH-GM-AES-128) v2 with
parameter ID 13; a profile with those defaults gets exactly those bytes.
"""

from __future__ import annotations

from .ber import encode_integer, encode_oid, tlv
from .sm_crypto import CipherSpec

BSI_DE = "0.4.0.127.0.7"
ID_PK_ECDH = f"{BSI_DE}.2.2.1.2"
ID_TA = f"{BSI_DE}.2.2.2"
ID_CA_ECDH = f"{BSI_DE}.2.2.3.2"
ID_PACE_ECDH_GM = f"{BSI_DE}.2.2.4.2"
ID_AA = "2.23.136.1.1.5"  # id-icao-mrtd-security-aaProtocolObject
ECDSA_PLAIN_SHA256 = f"{BSI_DE}.1.1.4.1.3"

PACE_VERSION = 2
CA_VERSION = 1
TA_VERSION = 1

PASSWORD_MRZ = 0x01
PASSWORD_CAN = 0x02
PASSWORD_REFERENCES = {"mrz": PASSWORD_MRZ, "can": PASSWORD_CAN}


def pace_oid(cipher: CipherSpec) -> str:
    """id-PACE-ECDH-GM-3DES-CBC-CBC (…4.2.1) or id-PACE-ECDH-GM-AES-CBC-CMAC-128/192/256."""
    return f"{ID_PACE_ECDH_GM}.{cipher.oid_suffix}"


def ca_oid(cipher: CipherSpec) -> str:
    """id-CA-ECDH-3DES-CBC-CBC (…3.2.1) or id-CA-ECDH-AES-CBC-CMAC-128/192/256."""
    return f"{ID_CA_ECDH}.{cipher.oid_suffix}"


def oid_value(dotted: str) -> bytes:
    """The content octets of an OID (what DO'80' of MSE:Set AT carries)."""
    return encode_oid(dotted)[2:]


def security_infos(*infos: bytes) -> bytes:
    """SET OF SecurityInfo in DER order (sorted by encoding)."""
    return tlv(0x31, *sorted(infos))


def pace_info(cipher: CipherSpec, parameter_id: int) -> bytes:
    return tlv(
        0x30,
        encode_oid(pace_oid(cipher)),
        encode_integer(PACE_VERSION),
        encode_integer(parameter_id),
    )


def chip_authentication_info(cipher: CipherSpec) -> bytes:
    return tlv(0x30, encode_oid(ca_oid(cipher)), encode_integer(CA_VERSION))


def terminal_authentication_info() -> bytes:
    return tlv(0x30, encode_oid(ID_TA), encode_integer(TA_VERSION))


def active_authentication_info() -> bytes:
    """ActiveAuthenticationInfo: version 1, signature algorithm ecdsa-plain-SHA256."""
    return tlv(0x30, encode_oid(ID_AA), encode_integer(1), encode_oid(ECDSA_PLAIN_SHA256))


def build_card_access(
    pace_cipher: CipherSpec, parameter_id: int, ca_cipher: CipherSpec | None
) -> bytes:
    """EF.CardAccess: TA info, CA info (when the chip does CA) and the PACEInfo."""
    infos = [terminal_authentication_info(), pace_info(pace_cipher, parameter_id)]
    if ca_cipher is not None:
        infos.append(chip_authentication_info(ca_cipher))
    return security_infos(*infos)


def public_key_data_object(protocol_oid: str, point: bytes) -> bytes:
    """``7F49 { 06 <OID>, 86 <uncompressed point> }``: what a PACE token is computed over."""
    return tlv(0x7F49, encode_oid(protocol_oid), tlv(0x86, point))
