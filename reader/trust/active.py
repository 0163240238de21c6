"""Active authentication, ICAO 9303-11 §6.1, the PKI half: the DG15 key and the check of the
chip's signature over our challenge (the protocol is :mod:`reader.active_auth`).

RSA signatures use ISO/IEC 9796-2 digital signature scheme 1 (message recovery); ECDSA
signatures are plain r‖s with the hash that DG14's ActiveAuthenticationInfo names.
"""

from __future__ import annotations

import hashlib

import ecdsa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .. import tlv
from ..errors import MalformedData
from .results import AuthResult, CheckStatus
from .signatures import UnsupportedAlgorithm, load_public_key

# ISO/IEC 9796-2 hash identifiers in a two-byte trailer (xx CC); BC alone means SHA-1.
_TRAILER_HASH = {0x33: "sha1", 0x34: "sha256", 0x35: "sha512", 0x36: "sha384", 0x38: "sha224"}
_HASHES: dict[str, hashes.HashAlgorithm] = {
    "sha1": hashes.SHA1(), "sha224": hashes.SHA224(), "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(), "sha512": hashes.SHA512(),
}


def dg15_public_key(dg15: bytes) -> bytes:
    """The DER SubjectPublicKeyInfo inside DG15."""
    top = tlv.decode_file(dg15, 0x6F)
    spki = tlv.decode_one(top.value)[0]
    if spki.tag != 0x30:
        raise MalformedData("DG15 does not hold a SubjectPublicKeyInfo")
    return tlv.encode(spki.tag, spki.value)


def verify_rsa_9796_2(key: rsa.RSAPublicKey, challenge: bytes, signature: bytes) -> str:
    """Return "" when the signature verifies, else the reason it does not."""
    numbers = key.public_numbers()
    n, e = numbers.n, numbers.e
    s = int.from_bytes(signature, "big")
    if s >= n:
        return "signature representative out of range"
    k = (n.bit_length() + 7) // 8
    if k < 64 + 2 + 2:
        # Room for a header byte, a SHA-512 digest and a two-byte trailer; load_public_key
        # refuses such keys already (MIN_RSA_BITS), this guards direct callers (an 8-bit
        # modulus once raised IndexError below).
        return "RSA modulus too short for ISO 9796-2"
    f = pow(s, e, n).to_bytes(k, "big")
    if f[-1] == 0xBC:
        hash_name, trailer = "sha1", 1
    elif f[-1] == 0xCC and f[-2] in _TRAILER_HASH:
        hash_name, trailer = _TRAILER_HASH[f[-2]], 2
    else:
        return "no ISO 9796-2 trailer"
    digest_len = hashlib.new(hash_name).digest_size
    # Leading zero bytes come from a modulus that is not a whole number of bytes.
    body = f.lstrip(b"\x00")
    if not body or body[0] >> 6 != 0b01:
        return "no ISO 9796-2 header"
    if body[0] & 0x20 == 0:
        return "total message recovery is not what 9303 prescribes"
    m1 = body[1 : len(body) - digest_len - trailer]
    digest = body[len(body) - digest_len - trailer : len(body) - trailer]
    if hashlib.new(hash_name, m1 + challenge).digest() != digest:
        return "recovered digest does not match"
    return ""


def verify_ecdsa_plain(
    key: ec.EllipticCurvePublicKey, challenge: bytes, signature: bytes, hash_name: str
) -> str:
    size = (key.curve.key_size + 7) // 8
    if len(signature) != 2 * size:
        return f"ECDSA signature of {len(signature)} bytes, expected {2 * size}"
    r = int.from_bytes(signature[:size], "big")
    s = int.from_bytes(signature[size:], "big")
    try:
        key.verify(encode_dss_signature(r, s), challenge, ec.ECDSA(_HASHES[hash_name]))
    except InvalidSignature:
        return "ECDSA signature does not verify"
    return ""


def verify_active_authentication(
    public_key_der: bytes, challenge: bytes, signature: bytes, ecdsa_hash: str | None
) -> AuthResult:
    """Pure check of a chip's answer to INTERNAL AUTHENTICATE."""
    try:
        key = load_public_key(public_key_der)
    except (MalformedData, UnsupportedAlgorithm) as exc:
        return AuthResult(CheckStatus.ERROR, "trust.aa_key_unusable", exc.detail)
    backend = key.backend
    if isinstance(backend, rsa.RSAPublicKey):
        why = verify_rsa_9796_2(backend, challenge, signature)
        algorithm = f"RSA-{backend.key_size} ISO 9796-2"
    else:
        hash_name = ecdsa_hash or "sha256"
        algorithm = f"ECDSA {key.curve or 'explicit curve'} {hash_name.upper()}"
        if isinstance(backend, ec.EllipticCurvePublicKey):
            why = verify_ecdsa_plain(backend, challenge, signature, hash_name)
        else:  # python-ecdsa: a curve `cryptography` does not know
            try:
                ok = backend.verify(signature, challenge, hashfunc=getattr(hashlib, hash_name),
                                    sigdecode=ecdsa.util.sigdecode_string)
            except (ecdsa.BadSignatureError, ValueError, AssertionError):
                ok = False
            why = "" if ok else "ECDSA signature does not verify"
        if why and ecdsa_hash is None:
            why += " (DG14 names no hash; SHA-256 assumed)"
    if why:
        return AuthResult(CheckStatus.FAILED, "trust.aa_failed", why, algorithm)
    return AuthResult(CheckStatus.PASSED, "", "", algorithm)


def signature_size(public_key_der: bytes) -> int:
    """The length of the key's signatures in bytes (0 when the key cannot be loaded)."""
    try:
        key = load_public_key(public_key_der)
    except (MalformedData, UnsupportedAlgorithm):
        return 0
    byte_len = (key.bits + 7) // 8
    return byte_len if key.algorithm == "RSA" else 2 * byte_len
