"""PACE variants, chip and active authentication against the virtual card, in process; and the
SecurityInfos / DG15 parsers on malformed input."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reader.errors import MalformedData, WrongCardKey
from reader.keys import BacKey, Can
from reader.security_infos import (
    decode_oid,
    encode_oid,
    parse_dg14,
    parse_security_infos,
)
from reader.session import read_card
from reader.transport import LoopbackTransport
from reader.trust.active import dg15_public_key, verify_active_authentication
from reader.trust.results import CheckStatus
from reader.virtual import VirtualCccd, load_profile

CCCD_CARD_ACCESS = bytes.fromhex(
    "3134300d060804007f0007020202020101300f060a04007f000702020302020201013012060a04007f00070202"
    "04020202010202010d"
)


def card(profile: str = "nguyen-van-an", **chip: Any) -> VirtualCccd:
    prof = load_profile(profile)
    if chip:
        prof = dataclasses.replace(prof, chip=dataclasses.replace(prof.chip, **chip))
    return VirtualCccd(prof)


@pytest.mark.parametrize("cipher", ["AES-128", "AES-192", "AES-256", "3DES"])
@pytest.mark.parametrize("parameter_id", [12, 13, 15, 16, 17, 18])
def test_pace_variants_with_can(cipher: str, parameter_id: int) -> None:
    c = card(pace_cipher=cipher, pace_parameter_id=parameter_id)
    result = read_card(LoopbackTransport(c), [Can(c.access_data()["can"])],
                       files=("DG1",), authenticate=False)
    assert (result.access, result.password) == ("PACE", "CAN")
    assert result.files["DG1"] == c.files["DG1"]


def test_pace_with_the_mrz_password() -> None:
    c = card()
    result = read_card(LoopbackTransport(c), [BacKey.from_mrz(c.access_data()["mrz"])],
                       files=("DG1",), authenticate=False)
    assert (result.access, result.password) == ("PACE", "MRZ")


def test_pace_mrz_refused_falls_back_to_bac() -> None:
    c = card(pace_passwords=["can"])
    result = read_card(LoopbackTransport(c), [BacKey.from_mrz(c.access_data()["mrz"])],
                       files=("DG1",), authenticate=False)
    assert result.access == "BAC"


def test_wrong_can_then_right_key() -> None:
    c = card()
    keys = [Can("000000"), BacKey.from_mrz(c.access_data()["mrz"])]
    result = read_card(LoopbackTransport(c), keys, files=("DG1",), authenticate=False)
    assert result.access == "PACE" and result.stats.key_attempts == 2


def test_only_wrong_cans() -> None:
    c = card()
    with pytest.raises(WrongCardKey):
        read_card(LoopbackTransport(c), [Can("000000"), Can("999999")])


@pytest.mark.parametrize("profile,aa,ca", [
    ("nguyen-van-an", "ECDSA", "AES-128"),
    ("pham-thi-hong", "RSA-2048", "AES-128"),
    ("le-hoang-minh", "ECDSA", "3DES"),
])
def test_chip_and_active_authentication_pass_on_genuine_chips(profile: str, aa: str,
                                                               ca: str) -> None:
    c = card(profile)
    result = read_card(LoopbackTransport(c), [Can(c.access_data()["can"])])
    assert result.chip.status is CheckStatus.PASSED and ca in result.chip.algorithm
    assert result.active.status is CheckStatus.PASSED and aa in result.active.algorithm
    assert result.files["DG2"] == c.files["DG2"]


def test_a_clone_fails_both_and_is_still_read() -> None:
    c = card("attack-clone")
    result = read_card(LoopbackTransport(c), [Can(c.access_data()["can"])])
    assert result.chip.status is CheckStatus.FAILED
    assert result.active.status is CheckStatus.FAILED
    assert result.dg13 is not None and result.dg13.full_name == "Nguyễn Văn An"
    assert result.stats.recoveries == 1


def test_chip_authentication_survives_a_lost_session() -> None:
    """Re-opening the card after CA passed must pass CA again before reading on."""
    c = card("tran-thi-bich-ngoc", extended_length=False, advertise_extended=True)
    result = read_card(LoopbackTransport(c), [Can(c.access_data()["can"])])
    assert result.stats.recoveries >= 1  # the refused extended read forced a re-open
    assert result.chip.status is CheckStatus.PASSED
    assert c.chip_authenticated


# --- parsers on malformed input ---------------------------------------------------------------


def test_the_real_cccd_card_access_parses() -> None:
    infos = parse_security_infos(CCCD_CARD_ACCESS)
    assert [(p.protocol, p.version, p.parameter_id) for p in infos.pace] == [
        ("0.4.0.127.0.7.2.2.4.2.2", 2, 13)]
    assert infos.pace[0].cipher == ("AES", 128) and infos.pace[0].mapping == "ECDH-GM"
    assert infos.terminal_authentication
    assert infos.chip_authentication[0].cipher == ("AES", 128)


def test_virtual_dg14_parses() -> None:
    infos = parse_dg14(card().files["DG14"])
    assert infos.chip_public_keys and infos.chip_authentication
    assert infos.active_authentication is not None
    assert infos.active_authentication.hash_name == "sha256"


@settings(max_examples=300)
@given(st.binary(max_size=120))
def test_card_access_garbage_raises_only_malformed(data: bytes) -> None:
    try:
        parse_security_infos(data)
    except MalformedData:
        pass


@settings(max_examples=300)
@given(st.data())
def test_card_access_mutations_raise_only_malformed(data: st.DataObject) -> None:
    raw = bytearray(CCCD_CARD_ACCESS)
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(raw)))
    try:
        parse_security_infos(bytes(raw[:cut]))
    except MalformedData:
        pass


@settings(max_examples=300)
@given(st.data())
def test_dg14_and_dg15_mutations_raise_only_malformed(data: st.DataObject) -> None:
    files = card().files
    for name, parse in (("DG14", parse_dg14), ("DG15", dg15_public_key)):
        raw = bytearray(files[name])
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
        try:
            parse(bytes(raw))
        except MalformedData:
            pass


@settings(max_examples=200)
@given(st.binary(max_size=80), st.binary(min_size=8, max_size=8), st.binary(max_size=300))
def test_active_authentication_check_never_raises(key: bytes, challenge: bytes,
                                                  signature: bytes) -> None:
    result = verify_active_authentication(key, challenge, signature, None)
    assert result.status in (CheckStatus.ERROR, CheckStatus.FAILED)


@given(st.lists(st.integers(0, 2**40), min_size=1, max_size=8))
def test_oid_round_trip(arcs: list[int]) -> None:
    dotted = ".".join(["1", "2", *map(str, arcs)])
    assert decode_oid(encode_oid(dotted)) == dotted
