"""Signature verification for passive authentication: RSA (PKCS#1 v1.5, PSS) and ECDSA.

Keys come as SubjectPublicKeyInfo DER and algorithms as AlgorithmIdentifier DER, exactly as they
stand in certificates, CRLs and CMS SignerInfos, so callers never build key objects themselves.

ECDSA keys on named curves go to `cryptography`. Keys with *explicit* curve parameters (the
public Vietnamese CSCA has brainpoolP512r1 written out this way, and `cryptography` refuses such
keys) are matched against the known curves by p, a, b, G, n and the cofactor: a match is verified
as that named curve, by `cryptography` when it knows the curve and by python-ecdsa otherwise;
explicit parameters that match no known curve are checked for sanity (prime field and order,
non-singular, G on the curve of order n) and verified by python-ecdsa.

:func:`verify_signature` never raises on what a card or a file contains: it returns a
:class:`Verification` whose ``reason`` is ``trust.signature_invalid`` or
``trust.unsupported_algorithm``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

import ecdsa
from asn1crypto import algos, keys
from cryptography.exceptions import InvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm as CryptographyUnsupported
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from ecdsa.ellipticcurve import CurveFp, PointJacobi
from ecdsa.numbertheory import is_prime

from reader.errors import MalformedData, OverLimit, ReaderError
from reader.limits import (
    MAX_EC_COFACTOR,
    MAX_EC_FIELD_BITS,
    MAX_RSA_BITS,
    MAX_RSA_EXPONENT_BITS,
    MIN_RSA_BITS,
)

SIGNATURE_INVALID = "trust.signature_invalid"
UNSUPPORTED_ALGORITHM = "trust.unsupported_algorithm"


class UnsupportedAlgorithm(ReaderError):
    """A hash, signature algorithm, key type or curve this verifier does not implement."""

    key = UNSUPPORTED_ALGORITHM


def error_text(exc: BaseException, limit: int = 300) -> str:
    """A library exception as one short line, for a reason's detail."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- hashes ----------------------------------------------------------------------------------

DIGEST_OIDS: dict[str, str] = {
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
_CRYPTOGRAPHY_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_HASH_LABELS = {"sha1": "SHA-1", "sha224": "SHA-224", "sha256": "SHA-256", "sha384": "SHA-384",
                "sha512": "SHA-512"}


def digest_name(oid: str) -> str | None:
    """``"sha256"`` for its OID; None for a digest we do not implement."""
    return DIGEST_OIDS.get(oid)


def hash_label(name: str) -> str:
    """``"SHA-256"`` for ``"sha256"``; unknown names (dotted OIDs) unchanged."""
    return _HASH_LABELS.get(name, name)


def compute_digest(name: str, data: bytes) -> bytes:
    """Hash ``data`` with a digest named as :data:`DIGEST_OIDS` names them."""
    if name not in _CRYPTOGRAPHY_HASHES:
        raise UnsupportedAlgorithm(f"hash algorithm {name}")
    return hashlib.new(name, data).digest()


def digest_size(name: str) -> int | None:
    return hashlib.new(name).digest_size if name in _CRYPTOGRAPHY_HASHES else None


# --- signature algorithms ----------------------------------------------------------------------

RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
RSASSA_PSS = "1.2.840.113549.1.1.10"
MGF1 = "1.2.840.113549.1.1.8"
EC_PUBLIC_KEY = "1.2.840.10045.2.1"
PRIME_FIELD = "1.2.840.10045.1.1"

_RSA_PKCS1 = {
    "1.2.840.113549.1.1.5": "sha1",
    "1.3.14.3.2.29": "sha1",
    "1.2.840.113549.1.1.14": "sha224",
    "1.2.840.113549.1.1.11": "sha256",
    "1.2.840.113549.1.1.12": "sha384",
    "1.2.840.113549.1.1.13": "sha512",
}
_ECDSA = {
    "1.2.840.10045.4.1": "sha1",
    "1.2.840.10045.4.3.1": "sha224",
    "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384",
    "1.2.840.10045.4.3.4": "sha512",
}
# BSI TR-03111 ecdsa-plain-signatures: r ‖ s instead of a DER SEQUENCE (some eMRTD issuers).
_ECDSA_PLAIN = {
    "0.4.0.127.0.7.1.1.4.1.1": "sha1",
    "0.4.0.127.0.7.1.1.4.1.2": "sha224",
    "0.4.0.127.0.7.1.1.4.1.3": "sha256",
    "0.4.0.127.0.7.1.1.4.1.4": "sha384",
    "0.4.0.127.0.7.1.1.4.1.5": "sha512",
}

SchemeKind = Literal["pkcs1", "pss", "ecdsa", "ecdsa_plain"]


@dataclass(frozen=True, slots=True)
class SignatureScheme:
    kind: SchemeKind
    hash: str
    mgf_hash: str | None = None
    salt_length: int | None = None

    @property
    def name(self) -> str:
        h = hash_label(self.hash)
        if self.kind == "pkcs1":
            return f"RSA PKCS#1 v1.5 {h}"
        if self.kind == "pss":
            return f"RSASSA-PSS {h} MGF1-{hash_label(self.mgf_hash or '')} salt {self.salt_length}"
        if self.kind == "ecdsa":
            return f"ECDSA {h}"
        return f"ECDSA (plain) {h}"


def _need_digest(name: str | None, what: str) -> str:
    if name is None:
        raise UnsupportedAlgorithm(f"{what} without a digest algorithm")
    if name not in _CRYPTOGRAPHY_HASHES:
        raise UnsupportedAlgorithm(f"hash algorithm {name}")
    return name


def parse_signature_algorithm(
    algorithm: bytes, digest_algorithm: str | None = None
) -> SignatureScheme:
    """The scheme an AlgorithmIdentifier (DER) names.

    ``digest_algorithm`` (a name from :data:`DIGEST_OIDS`) completes identifiers that name only
    the key type, as CMS allows: rsaEncryption, id-ecPublicKey.
    """
    try:
        ident = algos.SignedDigestAlgorithm.load(algorithm, strict=True)
        oid = ident["algorithm"].dotted
    except Exception as exc:
        raise MalformedData(f"signature algorithm: {error_text(exc)}") from exc
    if oid in _RSA_PKCS1:
        return SignatureScheme("pkcs1", _RSA_PKCS1[oid])
    if oid == RSA_ENCRYPTION:
        return SignatureScheme("pkcs1", _need_digest(digest_algorithm, "rsaEncryption"))
    if oid in _ECDSA:
        return SignatureScheme("ecdsa", _ECDSA[oid])
    if oid == EC_PUBLIC_KEY:
        return SignatureScheme("ecdsa", _need_digest(digest_algorithm, "id-ecPublicKey"))
    if oid in _ECDSA_PLAIN:
        return SignatureScheme("ecdsa_plain", _ECDSA_PLAIN[oid])
    if oid == RSASSA_PSS:
        return _pss_scheme(ident)
    raise UnsupportedAlgorithm(f"signature algorithm {oid}")


def _pss_scheme(ident: Any) -> SignatureScheme:
    try:
        params = ident["parameters"]
        if params.native is None:  # absent: every field at its default
            params = algos.RSASSAPSSParams({})
        hash_oid = params["hash_algorithm"]["algorithm"].dotted
        mgf = params["mask_gen_algorithm"]
        mgf_oid = mgf["algorithm"].dotted
        mgf_hash_oid = mgf["parameters"]["algorithm"].dotted if mgf_oid == MGF1 else None
        salt = params["salt_length"].native
        trailer = params["trailer_field"].native
    except Exception as exc:
        raise MalformedData(f"RSASSA-PSS parameters: {error_text(exc)}") from exc
    if mgf_oid != MGF1 or mgf_hash_oid is None:
        raise UnsupportedAlgorithm(f"RSASSA-PSS mask generation {mgf_oid}")
    if trailer not in (1, "trailer_field_bc"):
        raise UnsupportedAlgorithm(f"RSASSA-PSS trailer field {trailer}")
    if not isinstance(salt, int) or salt < 0:
        raise MalformedData(f"RSASSA-PSS salt length {salt}")
    hash_name = _need_digest(digest_name(hash_oid) or hash_oid, "RSASSA-PSS")
    mgf_hash = _need_digest(digest_name(mgf_hash_oid) or mgf_hash_oid, "MGF1")
    return SignatureScheme("pss", hash_name, mgf_hash, salt)


# --- curves ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KnownCurve:
    name: str
    oid: str
    p: int
    a: int
    b: int
    gx: int
    gy: int
    n: int
    h: int
    cryptography_curve: type[ec.EllipticCurve] | None
    ecdsa_curve: Any  # ecdsa.curves.Curve


# python-ecdsa name → (our name, the `cryptography` curve if it has one). The weak SEC curves
# python-ecdsa also carries (112-160 bits) are left out on purpose.
_CURVE_NAMES: dict[str, tuple[str, type[ec.EllipticCurve] | None]] = {
    "NIST192p": ("P-192", ec.SECP192R1),
    "NIST224p": ("P-224", ec.SECP224R1),
    "NIST256p": ("P-256", ec.SECP256R1),
    "NIST384p": ("P-384", ec.SECP384R1),
    "NIST521p": ("P-521", ec.SECP521R1),
    "SECP256k1": ("secp256k1", ec.SECP256K1),
    "BRAINPOOLP160r1": ("brainpoolP160r1", None),
    "BRAINPOOLP192r1": ("brainpoolP192r1", None),
    "BRAINPOOLP224r1": ("brainpoolP224r1", None),
    "BRAINPOOLP256r1": ("brainpoolP256r1", ec.BrainpoolP256R1),
    "BRAINPOOLP320r1": ("brainpoolP320r1", None),
    "BRAINPOOLP384r1": ("brainpoolP384r1", ec.BrainpoolP384R1),
    "BRAINPOOLP512r1": ("brainpoolP512r1", ec.BrainpoolP512R1),
    "BRAINPOOLP160t1": ("brainpoolP160t1", None),
    "BRAINPOOLP192t1": ("brainpoolP192t1", None),
    "BRAINPOOLP224t1": ("brainpoolP224t1", None),
    "BRAINPOOLP256t1": ("brainpoolP256t1", None),
    "BRAINPOOLP320t1": ("brainpoolP320t1", None),
    "BRAINPOOLP384t1": ("brainpoolP384t1", None),
    "BRAINPOOLP512t1": ("brainpoolP512t1", None),
}


def _known_curves() -> tuple[KnownCurve, ...]:
    out = []
    for c in ecdsa.curves.curves:
        if c.name not in _CURVE_NAMES:
            continue
        name, crypto = _CURVE_NAMES[c.name]
        fp = c.curve
        out.append(KnownCurve(
            name, ".".join(str(i) for i in c.oid), fp.p(), fp.a() % fp.p(), fp.b(),
            c.generator.x(), c.generator.y(), c.order, fp.cofactor() or 1, crypto, c,
        ))
    return tuple(out)


KNOWN_CURVES = _known_curves()
_CURVES_BY_OID = {c.oid: c for c in KNOWN_CURVES}


def curve_for_oid(oid: str) -> KnownCurve | None:
    return _CURVES_BY_OID.get(oid)


@dataclass(frozen=True, slots=True)
class ExplicitCurve:
    """Explicit (specified) EC domain parameters over a prime field."""

    p: int
    a: int
    b: int
    base: bytes  # the encoded generator G
    n: int
    h: int | None


def _decode_point(fp: Any, n: int, data: bytes) -> tuple[int, int]:
    try:
        point = PointJacobi.from_bytes(fp, data, order=n,
                                       valid_encodings=("uncompressed", "compressed"))
        x, y = point.x(), point.y()
    except Exception as exc:
        raise MalformedData(f"EC point encoding: {error_text(exc)}") from exc
    if not fp.contains_point(x, y):
        raise MalformedData("EC point is not on the curve")
    return x, y


def match_known_curve(params: ExplicitCurve) -> KnownCurve | None:
    """The named curve whose p, a, b, G, n (and h, when given) these parameters spell out."""
    for known in KNOWN_CURVES:
        if (known.p, known.a, known.b % known.p, known.n) != (
            params.p, params.a % params.p, params.b % params.p, params.n
        ):
            continue
        if params.h is not None and params.h != known.h:
            continue
        try:
            g = _decode_point(known.ecdsa_curve.curve, known.n, params.base)
        except MalformedData:
            continue
        if g == (known.gx, known.gy):
            return known
    return None


def _custom_curve(params: ExplicitCurve) -> Any:
    p, a, b, n = params.p, params.a % params.p, params.b % params.p, params.n
    if p < 5 or not is_prime(p):
        raise MalformedData("explicit EC parameters: the field size p is not prime")
    if (4 * a**3 + 27 * b**2) % p == 0:
        raise MalformedData("explicit EC parameters: singular curve")
    if n < 3 or not is_prime(n):
        raise MalformedData("explicit EC parameters: the order n is not prime")
    h = params.h or 1
    fp = CurveFp(p, a, b, h)
    x, y = _decode_point(fp, n, params.base)
    generator = PointJacobi(fp, x, y, 1, n, generator=True)
    if generator * n != ecdsa.ellipticcurve.INFINITY:
        raise MalformedData("explicit EC parameters: G does not have order n")
    return ecdsa.curves.Curve(f"explicit {p.bit_length()}-bit curve", fp, generator, None)


# --- public keys -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PublicKey:
    """A verification key, whatever library ends up doing the arithmetic."""

    algorithm: Literal["RSA", "EC"]
    bits: int
    curve: str | None  # the named curve, also when matched from explicit parameters
    explicit: bool  # the certificate spells the curve out instead of naming it
    backend: Any  # rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ecdsa.VerifyingKey

    @property
    def description(self) -> str:
        """``"RSA 2048"``, ``"EC P-256"``, ``"EC brainpoolP512r1 (explicit parameters)"``."""
        if self.algorithm == "RSA":
            return f"RSA {self.bits}"
        curve = self.curve or f"unnamed {self.bits}-bit curve"
        return f"EC {curve}" + (" (explicit parameters)" if self.explicit else "")


def load_public_key(spki: bytes) -> PublicKey:
    """A SubjectPublicKeyInfo (DER) → :class:`PublicKey`.

    Raises :class:`~reader.errors.MalformedData` for a broken key and
    :class:`UnsupportedAlgorithm` for a key type or curve we cannot verify with.
    """
    try:
        info = keys.PublicKeyInfo.load(spki, strict=True)
        oid = info["algorithm"]["algorithm"].dotted
    except Exception as exc:
        raise MalformedData(f"public key: {error_text(exc)}") from exc
    if oid in (RSA_ENCRYPTION, RSASSA_PSS):
        return _rsa_key(info)
    if oid == EC_PUBLIC_KEY:
        return _ec_key(info)
    raise UnsupportedAlgorithm(f"public key algorithm {oid}")


def _rsa_key(info: Any) -> PublicKey:
    try:
        parsed = info["public_key"].parsed
        n, e = parsed["modulus"].native, parsed["public_exponent"].native
        if not isinstance(n, int) or not isinstance(e, int) or n < 3 or e < 3:
            raise ValueError("modulus or exponent out of range")
    except Exception as exc:
        raise MalformedData(f"RSA public key: {error_text(exc)}") from exc
    # Before any arithmetic: the cost of a verification grows with both sizes, and the card
    # (DG15) or the SOD chooses them (reader/limits.py).
    if not MIN_RSA_BITS <= n.bit_length() <= MAX_RSA_BITS:
        raise OverLimit(f"RSA key of {n.bit_length()} bits (accepted: {MIN_RSA_BITS}–"
                        f"{MAX_RSA_BITS})")
    if e.bit_length() > MAX_RSA_EXPONENT_BITS or not e & 1:
        raise OverLimit(f"RSA public exponent of {e.bit_length()} bits"
                        f"{'' if e & 1 else ', even'} (at most {MAX_RSA_EXPONENT_BITS}, odd)")
    try:
        backend = rsa.RSAPublicNumbers(e, n).public_key()
    except Exception as exc:
        raise MalformedData(f"RSA public key: {error_text(exc)}") from exc
    return PublicKey("RSA", n.bit_length(), None, False, backend)


def _ec_key(info: Any) -> PublicKey:
    try:
        params = info["algorithm"]["parameters"]
        choice = params.name
        point = info["public_key"].native
        if not isinstance(point, bytes):
            raise ValueError("no EC point")
        explicit = _explicit_params(params.chosen) if choice == "specified" else None
        named_oid = params.chosen.dotted if choice == "named" else None
    except (MalformedData, UnsupportedAlgorithm):
        raise
    except Exception as exc:
        raise MalformedData(f"EC public key: {error_text(exc)}") from exc
    if choice == "implicit_ca":
        raise UnsupportedAlgorithm("EC key with implicitlyCA parameters")
    if named_oid is not None:
        known = curve_for_oid(named_oid)
        if known is None:
            raise UnsupportedAlgorithm(f"elliptic curve {named_oid}")
        backend = _known_backend(known, point)
        return PublicKey("EC", known.p.bit_length(), known.name, False, backend)
    assert explicit is not None
    known = match_known_curve(explicit)
    if known is not None:
        return PublicKey("EC", known.p.bit_length(), known.name, True, _known_backend(known, point))
    curve = _custom_curve(explicit)
    return PublicKey("EC", explicit.p.bit_length(), None, True, _ecdsa_key(curve, point))


def _explicit_params(domain: Any) -> ExplicitCurve:
    field_type = domain["field_id"]["field_type"].dotted
    if field_type != PRIME_FIELD:
        raise UnsupportedAlgorithm(f"EC field type {field_type} (only prime fields)")
    p = domain["field_id"]["parameters"].native
    curve = domain["curve"]
    a = int.from_bytes(curve["a"].native, "big")
    b = int.from_bytes(curve["b"].native, "big")
    base = domain["base"].native
    n = domain["order"].native
    h = domain["cofactor"].native
    if not isinstance(p, int) or not isinstance(n, int) or not isinstance(base, bytes):
        raise MalformedData("explicit EC parameters: p, n or G missing")
    if p < 5 or n < 3:
        raise MalformedData("explicit EC parameters: p or n out of range")
    # Before the primality tests and the scalar multiplication, whose cost grows with the
    # sizes (an 8192-bit p took seconds; above 16384 bits python-ecdsa failed an assertion).
    # By Hasse's bound n·h ≤ p + 1 + 2√p, so n has at most one bit more than p.
    if p.bit_length() > MAX_EC_FIELD_BITS:
        raise OverLimit(f"explicit EC parameters: a {p.bit_length()}-bit field (at most "
                        f"{MAX_EC_FIELD_BITS})")
    if n.bit_length() > p.bit_length() + 1:
        raise MalformedData("explicit EC parameters: the order n is larger than the field")
    if isinstance(h, int) and not 1 <= h <= MAX_EC_COFACTOR:
        raise OverLimit(f"explicit EC parameters: cofactor {h if h < 1 << 64 else '…'}")
    return ExplicitCurve(p, a, b, base, n, h if isinstance(h, int) else None)


def _known_backend(known: KnownCurve, point: bytes) -> Any:
    if known.cryptography_curve is not None:
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(known.cryptography_curve(), point)
        except CryptographyUnsupported:
            pass  # this OpenSSL lacks the curve: python-ecdsa below
        except ValueError as exc:
            raise MalformedData(f"EC public key on {known.name}: {error_text(exc)}") from exc
    return _ecdsa_key(known.ecdsa_curve, point)


def _ecdsa_key(curve: Any, point: bytes) -> Any:
    try:
        return ecdsa.VerifyingKey.from_string(
            point, curve=curve, valid_encodings=("uncompressed", "compressed")
        )
    except Exception as exc:
        raise MalformedData(f"EC public key: {error_text(exc)}") from exc


# --- verification ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    reason: str | None = None  # None when ok
    detail: str = ""
    algorithm: str = ""  # e.g. "ECDSA SHA-512"
    key: str = ""  # e.g. "EC brainpoolP512r1 (explicit parameters)"

    @property
    def unsupported(self) -> bool:
        return self.reason == UNSUPPORTED_ALGORITHM


def verify_signature(
    key: PublicKey | bytes,
    algorithm: bytes,
    signature: bytes,
    data: bytes,
    *,
    digest_algorithm: str | None = None,
) -> Verification:
    """Does ``signature`` over ``data`` verify under ``key`` (a :class:`PublicKey` or SPKI DER)
    with ``algorithm`` (AlgorithmIdentifier DER)? Never raises."""
    key_text = scheme_text = ""
    try:
        public = key if isinstance(key, PublicKey) else load_public_key(key)
        key_text = public.description
        scheme = parse_signature_algorithm(algorithm, digest_algorithm)
        scheme_text = scheme.name
        ok = _verify(public, scheme, signature, data)
    except UnsupportedAlgorithm as exc:
        return Verification(False, UNSUPPORTED_ALGORITHM, exc.detail, scheme_text, key_text)
    except ReaderError as exc:
        return Verification(False, SIGNATURE_INVALID, exc.detail, scheme_text, key_text)
    except Exception as exc:  # a library choking on hostile input is a failed verification
        return Verification(False, SIGNATURE_INVALID, f"{error_text(exc)}",
                            scheme_text, key_text)
    if ok:
        return Verification(True, None, "", scheme_text, key_text)
    return Verification(False, SIGNATURE_INVALID, "the signature does not verify",
                        scheme_text, key_text)


def _verify(key: PublicKey, scheme: SignatureScheme, signature: bytes, data: bytes) -> bool:
    wants_rsa = scheme.kind in ("pkcs1", "pss")
    if wants_rsa != (key.algorithm == "RSA"):
        raise MalformedData(f"{scheme.name} signature with an {key.algorithm} key")
    backend = key.backend
    hash_alg = _CRYPTOGRAPHY_HASHES[scheme.hash]()
    try:
        if isinstance(backend, rsa.RSAPublicKey):
            if scheme.kind == "pkcs1":
                backend.verify(signature, data, padding.PKCS1v15(), hash_alg)
            else:
                assert scheme.mgf_hash is not None and scheme.salt_length is not None
                pss = padding.PSS(padding.MGF1(_CRYPTOGRAPHY_HASHES[scheme.mgf_hash]()),
                                  scheme.salt_length)
                backend.verify(signature, data, pss, hash_alg)
            return True
        if isinstance(backend, ec.EllipticCurvePublicKey):
            if scheme.kind == "ecdsa_plain":
                signature = _plain_to_der(signature)
            backend.verify(signature, data, ec.ECDSA(hash_alg))
            return True
    except InvalidSignature:
        return False
    # python-ecdsa: curves `cryptography` lacks, explicit parameters of no known curve.
    digest = compute_digest(scheme.hash, data)
    plain = scheme.kind == "ecdsa_plain"
    decode = ecdsa.util.sigdecode_string if plain else ecdsa.util.sigdecode_der
    try:
        return bool(backend.verify_digest(signature, digest, sigdecode=decode, allow_truncate=True))
    except (ecdsa.BadSignatureError, ecdsa.BadDigestError, ecdsa.der.UnexpectedDER,
            ecdsa.keys.MalformedSignature):
        return False


def _plain_to_der(signature: bytes) -> bytes:
    if not signature or len(signature) % 2:
        raise MalformedData("plain ECDSA signature of odd length")
    half = len(signature) // 2
    return encode_dss_signature(int.from_bytes(signature[:half], "big"),
                                int.from_bytes(signature[half:], "big"))
