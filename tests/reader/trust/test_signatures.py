"""Signature verification: every algorithm an eMRTD PKI uses, and keys with explicit curves."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import ecdsa
import pytest
from asn1crypto import algos, core, keys
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from reader.errors import MalformedData
from reader.trust.signatures import (
    SIGNATURE_INVALID,
    UNSUPPORTED_ALGORITHM,
    UnsupportedAlgorithm,
    load_public_key,
    verify_signature,
)

from .builders import (
    algorithm,
    ecdsa_curve_named,
    explicit_spki,
    explicit_spki_from_curve,
    flip_bit,
    iso_p256_curve,
    sign,
    spki_of,
)

DATA = "Nguyễn Văn An 001093014275".encode()


@dataclass(frozen=True)
class Case:
    spki: bytes
    algorithm: bytes
    signature: bytes
    key: str  # expected PublicKey.description
    digest: str | None = None  # for rsaEncryption / id-ecPublicKey


def _case(key: Any, scheme: str, hash_name: str, description: str, *, spki: bytes | None = None,
          **kw: Any) -> Case:
    signing = {"rsaEncryption": "pkcs1", "ecPublicKey": "ecdsa"}.get(scheme, scheme)
    signature = sign(key, DATA, signing, hash_name, **{k: v for k, v in kw.items()
                                                      if k in ("salt", "mgf_hash")})
    alg = algorithm(scheme, hash_name, **kw).dump()
    digest = hash_name if scheme in ("rsaEncryption", "ecPublicKey") else None
    return Case(spki or spki_of(key), alg, signature, description, digest)


@pytest.fixture(scope="module")
def cases(rsa1024: Any, rsa2048: Any, ec_keys: dict[str, Any]) -> dict[str, Case]:
    bp224 = ecdsa.SigningKey.generate(curve=ecdsa_curve_named("BRAINPOOLP224r1"))
    bp320 = ecdsa.SigningKey.generate(curve=ecdsa_curve_named("BRAINPOOLP320r1"))
    iso = ecdsa.SigningKey.from_secret_exponent(0xC0FFEE, curve=iso_p256_curve())
    bp512 = ec_keys["brainpoolP512r1"]
    out = {
        f"rsa-pkcs1-{h}": _case(rsa1024, "pkcs1", h, "RSA 1024")
        for h in ("sha1", "sha224", "sha256", "sha384", "sha512")
    }
    out |= {
        "rsa2048-pkcs1-sha256": _case(rsa2048, "pkcs1", "sha256", "RSA 2048"),
        "rsa2048-pss-sha256": _case(rsa2048, "pss", "sha256", "RSA 2048", salt=32),
        "rsa-pss-sha512-mgf1-sha256": _case(rsa1024, "pss", "sha512", "RSA 1024", salt=48,
                                            mgf_hash="sha256"),
        "rsa-pss-sha1-defaults": _case(rsa1024, "pss", "sha1", "RSA 1024", salt=20,
                                       default_pss_params=True),
        "rsa-pss-salt0": _case(rsa1024, "pss", "sha256", "RSA 1024", salt=0),
        "rsaEncryption+sha256": _case(rsa1024, "rsaEncryption", "sha256", "RSA 1024"),
        "ecPublicKey+sha256": _case(ec_keys["P-256"], "ecPublicKey", "sha256", "EC P-256"),
        "ecdsa-plain-sha256": _case(ec_keys["brainpoolP256r1"], "plain", "sha256",
                                    "EC brainpoolP256r1"),
        "ecdsa-sha1-p256": _case(ec_keys["P-256"], "ecdsa", "sha1", "EC P-256"),
        "bp224-python-ecdsa": _case(bp224, "ecdsa", "sha224",
                                    "EC brainpoolP224r1 (explicit parameters)"),
        "bp320-plain-python-ecdsa": _case(bp320, "plain", "sha256",
                                          "EC brainpoolP320r1 (explicit parameters)"),
        "explicit-bp512-sha512 (VN CSCA)": _case(
            bp512, "ecdsa", "sha512", "EC brainpoolP512r1 (explicit parameters)",
            spki=explicit_spki(bp512.public_key(), "BRAINPOOLP512r1")),
        "explicit-bp512-compressed-G-no-cofactor": _case(
            bp512, "ecdsa", "sha384", "EC brainpoolP512r1 (explicit parameters)",
            spki=explicit_spki(bp512.public_key(), "BRAINPOOLP512r1", cofactor=False,
                               compressed_base=True)),
        "explicit-P-256": _case(ec_keys["P-256"], "ecdsa", "sha256",
                                "EC P-256 (explicit parameters)",
                                spki=explicit_spki(ec_keys["P-256"].public_key(), "NIST256p")),
        "explicit-unknown-curve": _case(iso, "ecdsa", "sha256",
                                        "EC unnamed 256-bit curve (explicit parameters)"),
        "explicit-unknown-curve-plain": _case(iso, "plain", "sha512",
                                              "EC unnamed 256-bit curve (explicit parameters)"),
    }
    for curve in ("P-256", "P-384", "P-521", "brainpoolP256r1", "brainpoolP384r1",
                  "brainpoolP512r1"):
        for h in ("sha256", "sha384", "sha512"):
            out[f"ecdsa-{curve}-{h}"] = _case(ec_keys[curve], "ecdsa", h, f"EC {curve}")
    return out


CASE_IDS = (
    [f"rsa-pkcs1-{h}" for h in ("sha1", "sha224", "sha256", "sha384", "sha512")]
    + ["rsa2048-pkcs1-sha256", "rsa2048-pss-sha256", "rsa-pss-sha512-mgf1-sha256",
       "rsa-pss-sha1-defaults", "rsa-pss-salt0", "rsaEncryption+sha256", "ecPublicKey+sha256",
       "ecdsa-plain-sha256", "ecdsa-sha1-p256", "bp224-python-ecdsa", "bp320-plain-python-ecdsa",
       "explicit-bp512-sha512 (VN CSCA)", "explicit-bp512-compressed-G-no-cofactor",
       "explicit-P-256", "explicit-unknown-curve", "explicit-unknown-curve-plain"]
    + [f"ecdsa-{c}-{h}" for c in ("P-256", "P-384", "P-521", "brainpoolP256r1",
                                  "brainpoolP384r1", "brainpoolP512r1")
       for h in ("sha256", "sha384", "sha512")]
)


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_genuine_signature_verifies(cases: dict[str, Case], case_id: str) -> None:
    c = cases[case_id]
    result = verify_signature(c.spki, c.algorithm, c.signature, DATA, digest_algorithm=c.digest)
    assert result.ok, result
    assert result.reason is None
    assert load_public_key(c.spki).description == c.key


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_flipped_signature_bit_fails(cases: dict[str, Case], case_id: str) -> None:
    c = cases[case_id]
    # Flip a bit in the middle (inside r or s, or the RSA block), not in DER framing only.
    bad = flip_bit(c.signature, len(c.signature) // 2 + 1)
    result = verify_signature(c.spki, c.algorithm, bad, DATA, digest_algorithm=c.digest)
    assert not result.ok
    assert result.reason == SIGNATURE_INVALID


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_other_data_fails(cases: dict[str, Case], case_id: str) -> None:
    c = cases[case_id]
    result = verify_signature(c.spki, c.algorithm, c.signature, DATA + b".",
                              digest_algorithm=c.digest)
    assert (result.ok, result.reason) == (False, SIGNATURE_INVALID)


def test_explicit_brainpool_uses_cryptography_and_unknown_curve_uses_python_ecdsa(
    cases: dict[str, Case],
) -> None:
    vn = load_public_key(cases["explicit-bp512-sha512 (VN CSCA)"].spki)
    assert vn.explicit and vn.curve == "brainpoolP512r1" and vn.bits == 512
    assert isinstance(vn.backend, ec.EllipticCurvePublicKey)
    unknown = load_public_key(cases["explicit-unknown-curve"].spki)
    assert unknown.explicit and unknown.curve is None
    assert isinstance(unknown.backend, ecdsa.VerifyingKey)


def test_rsa_encryption_without_digest_is_unsupported(cases: dict[str, Case]) -> None:
    c = cases["rsaEncryption+sha256"]
    result = verify_signature(c.spki, c.algorithm, c.signature, DATA)
    assert result.reason == UNSUPPORTED_ALGORITHM


def test_wrong_digest_for_rsa_encryption_fails(cases: dict[str, Case]) -> None:
    c = cases["rsaEncryption+sha256"]
    result = verify_signature(c.spki, c.algorithm, c.signature, DATA, digest_algorithm="sha384")
    assert result.reason == SIGNATURE_INVALID


def test_algorithm_for_the_other_key_type_fails_cleanly(cases: dict[str, Case]) -> None:
    rsa_case, ec_case = cases["rsa-pkcs1-sha256"], cases["ecdsa-P-256-sha256"]
    result = verify_signature(ec_case.spki, rsa_case.algorithm, ec_case.signature, DATA)
    assert result.reason == SIGNATURE_INVALID and "EC key" in result.detail
    result = verify_signature(rsa_case.spki, ec_case.algorithm, rsa_case.signature, DATA)
    assert result.reason == SIGNATURE_INVALID


@pytest.mark.parametrize("oid", ["1.2.840.113549.1.1.4", "1.2.3.4", "2.16.840.1.101.3.4.3.10"])
def test_unknown_signature_algorithm_is_unsupported(cases: dict[str, Case], oid: str) -> None:
    c = cases["ecdsa-P-256-sha256"]
    alg = algos.SignedDigestAlgorithm({"algorithm": oid}).dump()
    result = verify_signature(c.spki, alg, c.signature, DATA)
    assert result.reason == UNSUPPORTED_ALGORITHM, result


def test_pss_with_unknown_mask_generation_is_unsupported(cases: dict[str, Case]) -> None:
    c = cases["rsa2048-pss-sha256"]
    alg = algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss", "parameters": {
        "hash_algorithm": {"algorithm": "sha256"},
        "mask_gen_algorithm": {"algorithm": "1.2.3.4"},
        "salt_length": 32}}).dump()
    assert verify_signature(c.spki, alg, c.signature, DATA).reason == UNSUPPORTED_ALGORITHM


def test_pss_with_wrong_salt_length_fails(cases: dict[str, Case]) -> None:
    c = cases["rsa2048-pss-sha256"]
    alg = algorithm("pss", "sha256", salt=20).dump()
    assert verify_signature(c.spki, alg, c.signature, DATA).reason == SIGNATURE_INVALID


def test_other_key_types_are_unsupported() -> None:
    ed = spki_of(ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(UnsupportedAlgorithm):
        load_public_key(ed)
    dsa_key = spki_of(dsa.generate_private_key(1024))
    alg = algos.SignedDigestAlgorithm({"algorithm": "sha256_dsa"}).dump()
    result = verify_signature(dsa_key, alg, b"\x30\x00", DATA)
    assert result.reason == UNSUPPORTED_ALGORITHM


def test_named_curve_we_do_not_know_is_unsupported(ec_keys: dict[str, Any]) -> None:
    spki = keys.PublicKeyInfo.load(spki_of(ec_keys["P-256"]))
    edited = keys.PublicKeyInfo({
        "algorithm": {"algorithm": "ec", "parameters": {"named": "1.3.132.0.8"}},  # secp160r1
        "public_key": spki["public_key"].native,
    }).dump()
    with pytest.raises(UnsupportedAlgorithm, match=r"1\.3\.132\.0\.8"):
        load_public_key(edited)


def _edited_explicit(base_spki: bytes, **changes: Any) -> bytes:
    info = keys.PublicKeyInfo.load(base_spki)
    domain = info["algorithm"]["parameters"].chosen.native
    for k, v in changes.items():
        if k in ("a", "b"):
            domain["curve"][k] = v
        elif k == "p":
            domain["field_id"]["parameters"] = v
        else:
            domain[k] = v
    return keys.PublicKeyInfo({
        "algorithm": {"algorithm": "ec",
                      "parameters": keys.ECDomainParameters({"specified": domain})},
        "public_key": info["public_key"].native,
    }).dump()


def test_broken_explicit_parameters_are_malformed(cases: dict[str, Case]) -> None:
    unknown = cases["explicit-unknown-curve"].spki
    curve = iso_p256_curve()
    p = curve.curve.p()
    with pytest.raises(MalformedData, match="not prime"):
        load_public_key(_edited_explicit(unknown, p=p + 2))
    with pytest.raises(MalformedData, match="order"):
        load_public_key(_edited_explicit(unknown, order=curve.order + 2))
    g = curve.generator
    off_curve = b"\x04" + g.x().to_bytes(32, "big") + ((g.y() + 1) % p).to_bytes(32, "big")
    with pytest.raises(MalformedData, match="not on the curve"):
        load_public_key(_edited_explicit(unknown, base=off_curve))
    # The public point itself off the curve: a verification failure, not a crash.
    info = keys.PublicKeyInfo.load(unknown)
    point = bytearray(info["public_key"].native)
    point[-1] ^= 1
    bad = keys.PublicKeyInfo({"algorithm": info["algorithm"], "public_key": bytes(point)}).dump()
    c = cases["explicit-unknown-curve"]
    assert verify_signature(bad, c.algorithm, c.signature, DATA).reason == SIGNATURE_INVALID


def test_characteristic_two_fields_are_unsupported(cases: dict[str, Case]) -> None:
    spki = cases["explicit-P-256"].spki
    info = keys.PublicKeyInfo.load(spki)
    domain = info["algorithm"]["parameters"].chosen.native
    domain["field_id"] = {"field_type": "characteristic_two_field",
                          "parameters": {"m": 163, "basis": "1.2.840.10045.1.2.3.2",
                                         "parameters": core.Integer(7)}}
    with pytest.raises(UnsupportedAlgorithm, match="prime fields"):
        load_public_key(keys.PublicKeyInfo({
            "algorithm": {"algorithm": "ec",
                          "parameters": keys.ECDomainParameters({"specified": domain})},
            "public_key": info["public_key"].native}).dump())


def test_explicit_parameters_of_a_curve_python_ecdsa_matches_by_value() -> None:
    # brainpoolP224r1 written out: matched to the named curve, verified by python-ecdsa.
    sk = ecdsa.SigningKey.generate(curve=ecdsa_curve_named("BRAINPOOLP224r1"))
    spki = explicit_spki_from_curve(sk.curve, sk.get_verifying_key().to_string("uncompressed"))
    key = load_public_key(spki)
    assert key.curve == "brainpoolP224r1" and key.explicit
    sig = sk.sign_deterministic(DATA, hashfunc=hashlib.sha256, sigencode=ecdsa.util.sigencode_der)
    alg = algorithm("ecdsa", "sha256").dump()
    assert verify_signature(key, alg, sig, DATA).ok


@settings(max_examples=150, deadline=None)
@given(spki=st.binary(max_size=200), alg=st.binary(max_size=60), sig=st.binary(max_size=140))
def test_garbage_never_raises(spki: bytes, alg: bytes, sig: bytes) -> None:
    result = verify_signature(spki, alg, sig, DATA)
    assert not result.ok and result.reason in (SIGNATURE_INVALID, UNSUPPORTED_ALGORITHM)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_mutated_keys_and_signatures_never_raise(cases: dict[str, Case], data: Any) -> None:
    c = cases[data.draw(st.sampled_from(["explicit-bp512-sha512 (VN CSCA)",
                                         "explicit-unknown-curve", "rsa-pss-sha1-defaults",
                                         "bp224-python-ecdsa"]))]
    spki = bytearray(c.spki)
    i = data.draw(st.integers(0, len(spki) - 1))
    spki[i] = data.draw(st.integers(0, 255))
    sig = bytearray(c.signature)
    j = data.draw(st.integers(0, len(sig) - 1))
    sig[j] = data.draw(st.integers(0, 255))
    result = verify_signature(bytes(spki), c.algorithm, bytes(sig), DATA,
                              digest_algorithm=c.digest)
    assert result.reason in (None, SIGNATURE_INVALID, UNSUPPORTED_ALGORITHM)
    if bytes(sig) != c.signature:
        assert not result.ok
