"""A hostile card: the inputs of the outside review (issue 11, item 3) that froze or crashed the
station, each through the real reader code. Every one must end in a typed reader error or a
failed check, never in an untyped exception, and be refused before the expensive work."""

from __future__ import annotations

import math

import pytest
from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from reader import tlv
from reader.errors import MalformedData, OverLimit, ReaderError, is_card_fault
from reader.security_infos import (
    ID_CA_ECDH,
    ID_PK_ECDH,
    decode_oid,
    encode_oid,
    parse_dg14,
    parse_security_infos,
)
from reader.trust.active import verify_active_authentication, verify_rsa_9796_2
from reader.trust.results import CheckStatus
from reader.trust.signatures import load_public_key

from .hostile import genuine, hostile, integer, long_arc_oid, oid, profile, read, seq


def ec_spki() -> bytes:
    key = ec.generate_private_key(ec.BrainpoolP256R1()).public_key()
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def rsa_spki(n: int, e: int) -> bytes:
    return asn1_keys.PublicKeyInfo({
        "algorithm": {"algorithm": "rsa"},
        "public_key": asn1_keys.RSAPublicKey({"modulus": n, "public_exponent": e}),
    }).dump()


# --- OIDs ---------------------------------------------------------------------------------------


def test_an_oid_arc_of_thousands_of_bytes_is_a_typed_error() -> None:
    # Before: ValueError (Python's int→str digit limit) after a quadratic decoding loop.
    body = tlv.encode(0x31, seq(long_arc_oid(2500), integer(1)))
    with pytest.raises(OverLimit):
        parse_security_infos(body)
    with pytest.raises(OverLimit):
        decode_oid(b"\x2a" + b"\x81" * 65536 + b"\x01")


def test_the_longest_real_oids_still_decode() -> None:
    uuid_arc = "2.25.329800735698586629295641978511506172918"  # X.667: a 128-bit arc
    assert decode_oid(encode_oid(uuid_arc)) == uuid_arc
    assert decode_oid(encode_oid(ID_CA_ECDH + ".2")) == ID_CA_ECDH + ".2"


def test_a_long_oid_in_card_access_ends_in_a_typed_error_not_a_traceback() -> None:
    card_access = tlv.encode(0x31, seq(long_arc_oid(3000), integer(2), integer(13)))
    with pytest.raises(ReaderError) as caught:
        read(hostile(EF_CardAccess=card_access), use_pace=True)
    assert isinstance(caught.value, OverLimit)
    assert is_card_fault(caught.value)
    assert caught.value.context["file"] == "EF.CardAccess"  # the screen names it


# --- DG14 ---------------------------------------------------------------------------------------


def dg14_with_key_id(key_id: int) -> bytes:
    return tlv.encode(0x6E, tlv.encode(0x31, (
        seq(oid(ID_PK_ECDH), ec_spki(), integer(key_id))
        + seq(oid(ID_CA_ECDH + ".2"), integer(1), integer(key_id)))))


def test_a_negative_key_id_is_malformed_dg14() -> None:
    # Before: parsed, then OverflowError encoding DO'84' in chip authentication.
    with pytest.raises(MalformedData):
        parse_dg14(dg14_with_key_id(-1))
    assert parse_dg14(dg14_with_key_id(7)).chip_public_keys[0].key_id == 7


def test_a_card_with_a_negative_key_id_reads_with_chip_authentication_unusable() -> None:
    card = read(hostile(DG14=dg14_with_key_id(-1)), use_pace=False)
    assert card.chip.status is CheckStatus.ERROR
    assert card.chip.reason == "trust.ca_key_unusable"
    assert card.document.id_number == profile().holder.id_number


def test_a_dg14_key_the_sod_does_not_vouch_for_is_never_used_for_chip_authentication() -> None:
    # EF.SOD is read before DG14: a DG14 it does not hash is refused before any protocol runs
    # with its key (a clone's own key would otherwise pass chip authentication).
    card = hostile(DG14=dg14_with_key_id(1))
    result = read(card, use_pace=False)
    assert result.chip.status is CheckStatus.FAILED
    assert result.chip.reason == "trust.ca_failed"
    assert result.chip.detail == "DG14 does not match its hash in EF.SOD"
    assert card.chip_authentications == 0
    assert result.document.id_number == profile().holder.id_number
    genuine_card = hostile()
    assert read(genuine_card, use_pace=False).chip.passed
    assert genuine_card.chip_authentications > 0


# --- keys ----------------------------------------------------------------------------------------


def test_an_rsa_modulus_of_one_byte_is_an_unusable_key_not_an_index_error() -> None:
    n, e = 251, 3
    # A signature representative whose e-th power ends in the two-byte trailer marker 0xCC.
    s = next(s for s in range(2, n) if pow(s, e, n) == 0xCC)
    result = verify_active_authentication(rsa_spki(n, e), b"\x00" * 8, bytes([s]), None)
    assert result.status is CheckStatus.ERROR
    assert result.reason == "trust.aa_key_unusable"


def test_9796_2_refuses_a_modulus_too_short_for_its_format() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    small = rsa.RSAPublicNumbers(3, 251).public_key()
    assert verify_rsa_9796_2(small, b"\x00" * 8, bytes([4])) != ""


@pytest.mark.parametrize(("bits", "exponent_bits"), [(16384, 17), (4096, 2048), (512, 17)])
def test_rsa_keys_outside_the_profiles_are_refused_before_any_arithmetic(
        bits: int, exponent_bits: int) -> None:
    n = (1 << (bits - 1)) | 1
    e = (1 << (exponent_bits - 1)) | 1
    with pytest.raises(OverLimit):
        load_public_key(rsa_spki(n, e))


def explicit_ec_spki(p_bits: int) -> bytes:
    # Coprime to 2·3·5·7·11, so python-ecdsa's primality test gets past its quick screening.
    p = next(p for p in range((1 << (p_bits - 1)) + 1, 1 << p_bits, 2) if math.gcd(p, 2310) == 1)
    return asn1_keys.PublicKeyInfo({
        "algorithm": {
            "algorithm": "ec",
            "parameters": asn1_keys.ECDomainParameters(name="specified", value={
                "version": "ecdpVer1",
                "field_id": {"field_type": "prime_field", "parameters": p},
                "curve": {"a": b"\x01", "b": b"\x07"},
                "base": b"\x04" + b"\x01" * (2 * ((p_bits + 7) // 8)),
                "order": p,
                "cofactor": 1,
            }),
        },
        "public_key": b"\x04" + b"\x02" * (2 * ((p_bits + 7) // 8)),
    }).dump()


@pytest.mark.parametrize("p_bits", [8192, 16400])
def test_explicit_curves_larger_than_any_standard_one_are_refused_first(p_bits: int) -> None:
    # Before: primality tests and a scalar multiplication (seconds at 8192 bits), and above
    # 16384 bits an AssertionError from python-ecdsa.
    with pytest.raises(OverLimit):
        load_public_key(explicit_ec_spki(p_bits))


# --- file sizes ----------------------------------------------------------------------------------


def test_a_file_claiming_gigabytes_is_refused_from_its_header() -> None:
    # DG13 whose 4-byte length field claims 4 GiB, followed by a little real data.
    claimed = b"\x6D\x84\xff\xff\xff\xf0" + b"\x30\x00" * 200
    card = hostile(DG13=claimed)
    with pytest.raises(OverLimit) as caught:
        read(card, use_pace=False, authenticate=False)
    assert caught.value.context["file"] == "DG13"
    assert is_card_fault(caught.value)
    # The identity read before the failure goes with the error, for the check-in record.
    assert caught.value.context["id_number"] == profile().holder.id_number


def test_the_genuine_files_are_far_below_the_limits() -> None:
    from reader.limits import max_file_size

    for name, data in genuine().files.items():
        assert len(data) * 4 < max_file_size(name), name


# --- DG15 and the SOD ----------------------------------------------------------------------------


def test_a_dg15_key_the_sod_does_not_vouch_for_is_never_challenged() -> None:
    other = rsa_spki((1 << 2047) | 0x1235, 65537)
    dg15 = tlv.encode(0x6F, other)
    card = hostile(DG15=dg15)
    result = read(card, use_pace=False)
    assert result.active.status is CheckStatus.FAILED
    assert "EF.SOD" in result.active.detail
    assert card.internal_authenticates == 0
    genuine_card = hostile()
    assert read(genuine_card, use_pace=False).active.passed
    assert genuine_card.internal_authenticates == 1
