"""Chip authentication, ICAO 9303-11 §6.2 (CA-ECDH with AES or 3DES): the terminal's side, pure.

We agree a key with the chip's static key from DG14 and restart secure messaging with it: only
the chip that holds the private key can answer under the new keys, so every file read
afterwards provably comes from the original chip, not from a copy of its data. Like
:class:`~reader.pace.PaceInitiator`, this module builds commands and keys and sends nothing;
:mod:`reader.authentication` runs it over a channel.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from . import tlv
from .apdu import CommandApdu
from .crypto import KDF_ENC, KDF_MAC, AesSuite, CipherSuite, Des3Suite, kdf
from .security_infos import (
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    SecurityInfos,
    encode_oid,
)
from .sm import SecureMessaging


@dataclass(frozen=True)
class CaPlan:
    """The chip authentication to run: a protocol DG14 offers and the chip's public key it
    goes with (matched by key id)."""
    info: ChipAuthenticationInfo
    key: ChipAuthenticationPublicKeyInfo

    @property
    def algorithm(self) -> str:
        cipher, bits = self.info.cipher
        return f"CA-ECDH {cipher}-{bits}" if cipher == "AES" else "CA-ECDH 3DES"


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


def commands(info: ChipAuthenticationInfo, key_id: int | None, pk_ifd: bytes) -> list[CommandApdu]:
    """The commands that hand the chip our ephemeral public key ``pk_ifd``."""
    key_ref = tlv.encode(0x84, key_id.to_bytes(max(1, (key_id.bit_length() + 7) // 8), "big")) \
        if key_id is not None else b""
    if info.cipher[0] == "3DES":
        # MSE:Set KAT carries our ephemeral key directly (9303-11 §6.2.4.1).
        return [CommandApdu(0x00, 0x22, 0x41, 0xA6, tlv.encode(0x91, pk_ifd) + key_ref)]
    return [
        CommandApdu(0x00, 0x22, 0x41, 0xA4, tlv.encode(0x80, encode_oid(info.protocol)) + key_ref),
        CommandApdu(0x00, 0x86, 0x00, 0x00, tlv.encode(0x7C, tlv.encode(0x80, pk_ifd)), 256),
    ]


def agree(chip_key: Any) -> tuple[bytes, bytes]:
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


class ChipAuthInitiator:
    """The terminal's side of one chip authentication, step by step: ``commands()`` to send
    (each must answer 9000), then ``session()`` (the new secure messaging), then ``probe()``
    (one protected read that only the genuine chip can answer under the new keys).

    ``chip_key`` is the DG14 EC key as loaded by :func:`reader.trust.signatures.load_public_key`
    (its ``backend``): checking the key is PKI, running the protocol is not.
    """

    def __init__(self, chosen: CaPlan, chip_key: Any) -> None:
        self.plan = chosen
        self._pk_ifd, self._shared = agree(chip_key)

    @property
    def algorithm(self) -> str:
        return self.plan.algorithm

    def commands(self) -> list[CommandApdu]:
        return commands(self.plan.info, self.plan.key.key_id, self._pk_ifd)

    def session(self) -> SecureMessaging:
        suite = session_suite(self._shared, self.plan.info)
        return SecureMessaging.start(suite, bytes(suite.block))

    @staticmethod
    def probe() -> CommandApdu:
        """1 byte of EF.COM by SFI: any answer whose MAC verifies proves the chip, whatever its
        status word (a chip with a tiny buffer answers it with a protected 6700)."""
        return CommandApdu(0x00, 0xB0, 0x80 | 0x1E, 0x00, b"", 1)
