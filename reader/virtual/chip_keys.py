"""The chip's own private keys and the two protocols that prove the chip holds them.

- Active authentication (ICAO 9303-11 §6.1): INTERNAL AUTHENTICATE signs the terminal's
  8-byte challenge. ECDSA: a plain ``r ‖ s`` signature (BSI TR-03111) with the hash named in
  DG14's ActiveAuthenticationInfo (SHA-256). RSA: ISO/IEC 9796-2 digital signature scheme 1
  with SHA-1 (partial message recovery, trailer ``BC``).
- Chip authentication (§6.2): ECDH between the chip's static key (public half in DG14) and the
  terminal's ephemeral key; the x-coordinate keys a new secure-messaging session.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from .keygen import derive_ec_key, derive_rsa_key

AaKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

ISO9796_HEADER = 0x6A  # '01' ‖ more-data bit 1 (partial recovery) ‖ padding ending in 'A'
ISO9796_TRAILER_SHA1 = 0xBC  # implicit hash: SHA-1
RSA_AA_BITS = 2048


@dataclass(frozen=True)
class ChipKeys:
    """Private keys the chip keeps: CA on brainpoolP256r1 (public half in DG14), AA on P-256
    or RSA-2048 (public half in DG15). ``None``: the chip does not do that protocol."""

    chip_authentication: ec.EllipticCurvePrivateKey | None
    active_authentication: AaKey | None


def derive_chip_keys(
    seed: str, *, active_authentication: str = "ecdsa", chip_authentication: bool = True
) -> ChipKeys:
    ca = derive_ec_key(seed, "/chip-authentication", ec.BrainpoolP256R1())
    aa: AaKey | None
    if active_authentication == "ecdsa":
        aa = derive_ec_key(seed, "/active-authentication", ec.SECP256R1())
    elif active_authentication == "rsa":
        aa = derive_rsa_key(seed, "/active-authentication-rsa", RSA_AA_BITS)
    else:
        aa = None
    return ChipKeys(ca if chip_authentication else None, aa)


# --- active authentication ------------------------------------------------------------------


def active_authentication_signature(
    key: AaKey, challenge: bytes, rng: Callable[[int], bytes]
) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(challenge, ec.ECDSA(hashes.SHA256())))
        size = (key.curve.group_order.bit_length() + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return iso9796_2_sign(key, challenge, rng)


def iso9796_2_sign(key: rsa.RSAPrivateKey, m2: bytes, rng: Callable[[int], bytes]) -> bytes:
    """ISO/IEC 9796-2 scheme 1, SHA-1: F = 6A ‖ M1 ‖ SHA-1(M1 ‖ M2) ‖ BC, signature F^d mod n.

    M1 is the chip's random (recoverable) part, filling the modulus; M2 is the challenge, which
    the terminal already has (non-recoverable part).
    """
    numbers = key.private_numbers()
    n, d = numbers.public_numbers.n, numbers.d
    k = (n.bit_length() + 7) // 8
    m1 = rng(k - 2 - hashlib.sha1().digest_size)
    representative = (
        bytes([ISO9796_HEADER])
        + m1
        + hashlib.sha1(m1 + m2).digest()
        + bytes([ISO9796_TRAILER_SHA1])
    )
    signature = pow(int.from_bytes(representative, "big"), d, n)
    return signature.to_bytes(k, "big")


# --- chip authentication ---------------------------------------------------------------------


def chip_authentication_secret(key: ec.EllipticCurvePrivateKey, terminal_point: bytes) -> bytes:
    """x(SK_chip · PK_IFD); raises ``ValueError`` unless the terminal's point is an uncompressed
    point on the chip's curve."""
    if not terminal_point.startswith(b"\x04"):
        raise ValueError("not an uncompressed point")
    public = ec.EllipticCurvePublicKey.from_encoded_point(key.curve, terminal_point)
    return key.exchange(ec.ECDH(), public)
