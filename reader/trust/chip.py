"""Chip authentication, ICAO 9303-11 §6.2 (CA-ECDH with AES or 3DES).

We agree a key with the chip's static key from DG14 and restart secure messaging with it: only
the chip that holds the private key can answer under the new keys, so every file read
afterwards provably comes from the original chip, not from a copy of its data.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .. import tlv
from ..apdu import CommandApdu, raise_for_status
from ..crypto import KDF_ENC, KDF_MAC, AesSuite, CipherSuite, Des3Suite, kdf
from ..errors import (
    CardRemoved,
    CardStatusError,
    MalformedData,
    PcscUnavailable,
    SecureMessagingError,
    TransportError,
    WrongLength,
)
from ..files import Channel
from ..security_infos import (
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    SecurityInfos,
    encode_oid,
)
from ..sm import SecureMessaging, UnprotectedResponse, wrapped_response_size
from .results import AuthResult, CheckStatus
from .signatures import UnsupportedAlgorithm, load_public_key


@dataclass(frozen=True)
class CaPlan:
    info: ChipAuthenticationInfo
    key: ChipAuthenticationPublicKeyInfo


def plan(infos: SecurityInfos) -> CaPlan | None:
    """The CA variant to run: an ECDH protocol with a matching public key (by key id)."""
    for info in infos.chip_authentication:
        if info.agreement != "ECDH" or info.cipher[0] not in ("AES", "3DES"):
            continue
        for key in infos.chip_public_keys:
            if info.key_id is None or key.key_id is None or key.key_id == info.key_id:
                return CaPlan(info, key)
    if infos.chip_public_keys and not infos.chip_authentication:
        # DG14 without ChipAuthenticationInfo: 9303 says 3DES is then implied.
        key = infos.chip_public_keys[0]
        return CaPlan(ChipAuthenticationInfo("0.4.0.127.0.7.2.2.3.2.1", 1, key.key_id), key)
    return None


def session_suite(shared_secret: bytes, info: ChipAuthenticationInfo) -> CipherSuite:
    cipher, bits = info.cipher
    k_enc = kdf(shared_secret, KDF_ENC, cipher=cipher, key_bits=bits)
    k_mac = kdf(shared_secret, KDF_MAC, cipher=cipher, key_bits=bits)
    return AesSuite(k_enc, k_mac) if cipher == "AES" else Des3Suite(k_enc, k_mac)


def _commands(info: ChipAuthenticationInfo, key_id: int | None, pk_ifd: bytes) -> list[CommandApdu]:
    key_ref = tlv.encode(0x84, key_id.to_bytes(max(1, (key_id.bit_length() + 7) // 8), "big")) \
        if key_id is not None else b""
    if info.cipher[0] == "3DES":
        # MSE:Set KAT carries our ephemeral key directly (9303-11 §6.2.4.1).
        return [CommandApdu(0x00, 0x22, 0x41, 0xA6, tlv.encode(0x91, pk_ifd) + key_ref)]
    return [
        CommandApdu(0x00, 0x22, 0x41, 0xA4, tlv.encode(0x80, encode_oid(info.protocol)) + key_ref),
        CommandApdu(0x00, 0x86, 0x00, 0x00, tlv.encode(0x7C, tlv.encode(0x80, pk_ifd)), 256),
    ]


def _agree(chip_key: Any) -> tuple[bytes, bytes]:
    """Our ephemeral public key (uncompressed) and the shared secret (x-coordinate)."""
    if isinstance(chip_key, ec.EllipticCurvePublicKey):
        ephemeral = ec.generate_private_key(chip_key.curve)
        pk = ephemeral.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return pk, ephemeral.exchange(ec.ECDH(), chip_key)
    # python-ecdsa: explicit domain parameters of a curve `cryptography` lacks.
    curve = chip_key.curve
    size = (curve.curve.p().bit_length() + 7) // 8
    secret = secrets.randbelow(curve.order - 1) + 1
    mine = curve.generator * secret
    shared = chip_key.pubkey.point * secret
    pk = b"\x04" + mine.x().to_bytes(size, "big") + mine.y().to_bytes(size, "big")
    return pk, shared.x().to_bytes(size, "big")


def chip_authentication(channel: Channel, infos: SecurityInfos | None, *,
                        proven: int = 0) -> AuthResult:
    """Run CA and switch the channel to the new keys; confirm with one protected read.

    ``proven`` is the largest protected answer this chip has already sent: a length refusal of
    a smaller answer is a refusal, not a limit (a clone must not turn FORGED into "could not
    check" that way).

    On FAILED the channel's secure messaging is gone: the caller re-opens the card
    (``channel.recover()``) to go on reading without the proof.
    """
    chosen = plan(infos) if infos is not None else None
    if chosen is None:
        return AuthResult(CheckStatus.NOT_SUPPORTED, "trust.ca_absent",
                          "DG14 offers no usable chip authentication")
    cipher, bits = chosen.info.cipher
    algorithm = f"CA-ECDH {cipher}-{bits}" if cipher == "AES" else "CA-ECDH 3DES"
    try:
        chip_key = load_public_key(chosen.key.subject_public_key_info)
    except (MalformedData, UnsupportedAlgorithm) as exc:
        return AuthResult(CheckStatus.ERROR, "trust.ca_key_unusable", exc.detail, algorithm)
    if chip_key.algorithm != "EC":
        return AuthResult(CheckStatus.NOT_SUPPORTED, "trust.ca_absent", "not an EC key", algorithm)
    pk_ifd, shared = _agree(chip_key.backend)
    try:
        for cmd in _commands(chosen.info, chosen.key.key_id, pk_ifd):
            raise_for_status(channel.send(cmd), during="chip-authenticate")
    except (CardRemoved, PcscUnavailable):
        raise
    except (WrongLength, TransportError) as exc:
        # The answer did not fit what the chip or the reader carries: no verdict on the chip
        # (issue 11, item 2b). The chip may have counted an exchange we did not see.
        if not isinstance(exc, WrongLength):
            channel.mark_broken()
        # Its answer (7C 00, or nothing for MSE:Set KAT) is ~33 protected bytes at most.
        needed = wrapped_response_size(2, channel.sm.suite.block) if channel.sm else 0
        if isinstance(exc, WrongLength) and 0 < needed <= min(proven, 256):
            return AuthResult(CheckStatus.FAILED, "trust.ca_failed",
                              f"the chip answered {exc.sw:04X} to a {needed}-byte answer, "
                              f"though it has sent {proven} bytes at once", algorithm)
        return AuthResult(CheckStatus.UNCHECKED, "trust.ca_unchecked",
                          f"the chip's answer did not fit: {exc.detail}", algorithm)
    except UnprotectedResponse as exc:
        if exc.sw == 0x6700 or exc.sw >> 8 == 0x6C:
            return AuthResult(CheckStatus.UNCHECKED, "trust.ca_unchecked",
                              f"the chip's answer did not fit: {exc.detail}", algorithm)
        return AuthResult(CheckStatus.FAILED, "trust.ca_failed", f"card refused: {exc.detail}",
                          algorithm)
    except (CardStatusError, MalformedData) as exc:
        return AuthResult(CheckStatus.FAILED, "trust.ca_failed", f"card refused: {exc.detail}",
                          algorithm)
    suite = session_suite(shared, chosen.info)
    channel.rekey(SecureMessaging.start(suite, bytes(suite.block)))
    # Implicit authentication: only the genuine chip can answer under the new keys. Any answer
    # whose MAC verifies under them proves it, whatever its status word (a chip with a tiny
    # buffer answers this 1-byte read with a protected 6700).
    probe = CommandApdu(0x00, 0xB0, 0x80 | 0x1E, 0x00, b"", 1)  # 1 byte of EF.COM by SFI
    try:
        channel.send(probe)
    except (CardRemoved, PcscUnavailable):
        raise
    except TransportError as exc:
        channel.mark_broken()
        return AuthResult(CheckStatus.UNCHECKED, "trust.ca_unchecked",
                          f"the reader could not carry the chip's answer: {exc.detail}",
                          algorithm)
    except SecureMessagingError as exc:
        channel.mark_broken()
        return AuthResult(CheckStatus.FAILED, "trust.ca_failed",
                          f"the chip cannot answer under the agreed keys ({exc.detail})",
                          algorithm)
    return AuthResult(CheckStatus.PASSED, "", "", algorithm)
