"""Active authentication, ICAO 9303-11 §6.1: the chip signs our random challenge with the
private key whose public half is in DG15, which a copy of the data cannot do.

RSA signatures use ISO/IEC 9796-2 digital signature scheme 1 (message recovery); ECDSA
signatures are plain r‖s with the hash that DG14's ActiveAuthenticationInfo names.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

import ecdsa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .. import tlv
from ..apdu import CommandApdu, raise_for_status
from ..errors import (
    CardRemoved,
    MalformedData,
    PcscUnavailable,
    ReaderError,
    TransportError,
)
from ..files import Channel
from ..security_infos import SecurityInfos
from ..sm import UnprotectedResponse, wrapped_response_size
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


def _signature_size(public_key_der: bytes) -> int:
    try:
        key = load_public_key(public_key_der)
    except (MalformedData, UnsupportedAlgorithm):
        return 0
    byte_len = (key.bits + 7) // 8
    return byte_len if key.algorithm == "RSA" else 2 * byte_len


def _internal_authenticate(challenge: bytes, long_answer: bool) -> CommandApdu:
    return CommandApdu(0x00, 0x88, 0x00, 0x00, challenge, 65536 if long_answer else 256,
                       long_answer)


def _is_length(sw: int) -> bool:
    return sw == 0x6700 or sw >> 8 == 0x6C


def active_authentication(
    channel: Channel,
    dg15: bytes | None,
    infos: SecurityInfos | None,
    *,
    rng: Callable[[int], bytes] = os.urandom,
    extended: bool | None = None,
    part: int | None = None,
    proven: int = 0,
) -> AuthResult:
    """Challenge the chip and check its signature with the DG15 key.

    ``extended`` is what is known of extended length on this card and reader (the ATR, or what
    reading the files taught): ``False`` means never ask for an extended answer. ``part`` is the
    largest answer known to pass (what reading the files taught). ``proven`` is the largest
    protected answer this chip has already sent: a chip that claims a short signature answer no
    larger than that is too long for it is refusing, not short of room (a clone must not turn
    FORGED into "could not check" that way).

    The answer is asked for short first (Le=00): real CCCDs send even a 2048-bit RSA signature,
    ~283 protected bytes, to that. When the chip or the reader refuses it for its length (6700,
    6Cxx, a reader limit), an extended answer is asked for where extended length may work, then
    the answer in parts of ``part`` bytes (61xx and GET RESPONSE, ISO 7816-4 §5.3.4). A
    length or transport refusal says nothing about cloning, so when no answer fits the result is
    UNCHECKED ("could not check"), never FAILED (issue 11, item 2b).
    """
    if dg15 is None:
        return AuthResult(CheckStatus.NOT_SUPPORTED, "trust.aa_absent", "the card has no DG15")
    try:
        public_key = dg15_public_key(dg15)
    except MalformedData as exc:
        return AuthResult(CheckStatus.ERROR, "trust.aa_key_unusable", exc.detail)
    challenge = rng(8)
    needed = _signature_size(public_key)
    if channel.sm is not None and needed:
        needed = wrapped_response_size(needed, channel.sm.suite.block)
    tries: list[tuple[bool, int | None]] = [(False, None)]
    if extended is not False:
        tries.append((True, None))
    if part is not None and part < 256:
        tries.append((False, part))
    refusals: list[str] = []
    resp = None
    for long_answer, chunk in tries:
        form = "extended" if long_answer else f"in parts of {chunk}" if chunk else "short"
        if channel.broken:
            try:
                channel.recover()  # the last try closed the session
            except (CardRemoved, PcscUnavailable):
                raise
            except ReaderError as exc:
                refusals.append(f"re-opening the card failed: {exc.detail}")
                break
        try:
            answer = channel.send(_internal_authenticate(challenge, long_answer), part=chunk)
        except (CardRemoved, PcscUnavailable):
            raise  # the card or the reader went away: not a verdict on the chip
        except TransportError as exc:
            # The reader could not carry the command or the answer (TransportLimit, or a
            # reader that just fails): the chip may have counted one more exchange than we
            # did, so the session must be re-opened before the next command.
            channel.mark_broken()
            refusals.append(f"{form}: {exc.detail}")
            continue
        except UnprotectedResponse as exc:
            if not _is_length(exc.sw):
                return AuthResult(CheckStatus.FAILED, "trust.aa_failed",
                                  f"card answered: {exc.detail}")
            refusals.append(f"{form}: chip answered {exc.sw:04X} and closed the session")
            continue
        except ReaderError as exc:
            # A chip that announces DG15 but will not sign is not the chip that was issued.
            return AuthResult(CheckStatus.FAILED, "trust.aa_failed", f"card answered: {exc.detail}")
        if _is_length(answer.sw):
            if not long_answer and not chunk and 0 < needed <= min(proven, 256):
                return AuthResult(CheckStatus.FAILED, "trust.aa_failed",
                                  f"the chip answered {answer.sw:04X} to a {needed}-byte "
                                  f"answer, though it has sent {proven} bytes at once")
            refusals.append(f"{form}: chip answered {answer.sw:04X}")
            continue
        resp = answer
        break
    if resp is None:
        return AuthResult(CheckStatus.UNCHECKED, "trust.aa_unchecked",
                          "no answer fitted what the chip and the reader can carry ("
                          + "; ".join(refusals) + ")")
    try:
        raise_for_status(resp, during="internal-authenticate")
    except ReaderError as exc:
        return AuthResult(CheckStatus.FAILED, "trust.aa_failed", f"card answered: {exc.detail}")
    hash_name = infos.active_authentication.hash_name if (
        infos is not None and infos.active_authentication is not None) else None
    return verify_active_authentication(public_key, challenge, resp.data, hash_name)
