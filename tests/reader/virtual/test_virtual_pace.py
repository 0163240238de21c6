"""PACE on the virtual CCCD, driven by the test terminal: every curve and cipher, CAN and MRZ,
wrong passwords, refused passwords, points off the curve, chaining and sequencing errors."""

from __future__ import annotations

import dataclasses
import functools

import pytest
from asn1crypto import core
from hypothesis import given, settings
from hypothesis import strategies as st

from reader.virtual.applet import VirtualCccd
from reader.virtual.ber import read_all, tlv
from reader.virtual.lds_builder import BuiltLds, build_lds
from reader.virtual.profile import CardProfile, load_profile

from .virtual_asn1_walk import decode
from .virtual_terminal import (
    CAN,
    CURVES,
    MRZ,
    PaceFailed,
    Terminal,
    mrz_password,
    pace_oid,
    short_apdu,
)

CIPHER_NAMES = ("AES-128", "AES-192", "AES-256", "3DES")
OID_ARC = {"3DES": 1, "AES-128": 2, "AES-192": 3, "AES-256": 4}
DG1 = 0x0101


@functools.cache
def variant(name: str = "nguyen-van-an", **chip) -> tuple[CardProfile, BuiltLds]:
    base = load_profile(name)
    profile = dataclasses.replace(base, chip=dataclasses.replace(base.chip, **chip))
    return profile, build_lds(profile)


def card_for(name: str = "nguyen-van-an", **chip) -> VirtualCccd:
    profile, lds = variant(name, **chip)
    return VirtualCccd(profile, lds=lds)


def password(card: VirtualCccd, reference: int) -> bytes:
    access = card.access_data()
    return access["can"].encode() if reference == CAN else mrz_password(access["mrz_information"])


def card_access_pace_info(terminal: Terminal) -> tuple[str, int, int]:
    """Read EF.CardAccess in plain and decode its PACEInfo (asn1crypto, not the card's code)."""
    assert terminal.send("00A4020C02011C").sw == 0x9000
    answer = terminal.send("00B0000000")
    assert answer.sw in (0x9000, 0x6282)
    root = decode(answer.data)
    assert root.tag == 0x31
    found = []
    for info in root.children():
        oid_node, *rest = info.children()
        oid = core.ObjectIdentifier.load(oid_node.header + oid_node.value).dotted
        if oid.startswith("0.4.0.127.0.7.2.2.4."):
            version, parameter_id = (int.from_bytes(n.value, "big") for n in rest)
            found.append((oid, version, parameter_id))
    assert len(found) == 1, found
    return found[0]


# --- every curve and cipher -------------------------------------------------------------------

MATRIX = [(pid, cipher) for pid in sorted(CURVES) for cipher in CIPHER_NAMES]


@pytest.mark.parametrize("reference", [CAN, MRZ], ids=["CAN", "MRZ"])
@pytest.mark.parametrize(("parameter_id", "cipher"), MATRIX, ids=[f"{p}-{c}" for p, c in MATRIX])
def test_pace_then_read_under_the_new_keys(parameter_id: int, cipher: str, reference: int) -> None:
    card = card_for(pace_cipher=cipher, pace_parameter_id=parameter_id)
    terminal = Terminal(card)
    oid, version, advertised = card_access_pace_info(terminal)
    assert oid == f"0.4.0.127.0.7.2.2.4.2.{OID_ARC[cipher]}"
    assert (version, advertised) == (2, parameter_id)

    pace = terminal.pace(
        password(card, reference), reference, cipher=cipher, parameter_id=parameter_id
    )
    result = card.pace_result
    assert result is not None and result.shared_secret == pace.shared_secret
    assert card.access_control == "PACE" and card.sm_session.ssc == 0
    assert card.sm_session.suite.block_size == (8 if cipher == "3DES" else 16)
    # The application is selected under the new secure messaging; the session survives it.
    assert terminal.sm(0xA4, 0x04, 0x0C, bytes.fromhex("A0000002471001")).sw == 0x9000
    assert terminal.read_file(DG1) == card.files["DG1"]
    assert card.access_control == "PACE"


def test_pace_oid_mapping_in_the_test_terminal() -> None:
    assert pace_oid("3DES").hex() == "04007f00070202040201"
    assert pace_oid("AES-256").hex() == "04007f00070202040204"


# --- passwords --------------------------------------------------------------------------------


@pytest.mark.parametrize("reference", [CAN, MRZ], ids=["CAN", "MRZ"])
def test_wrong_password_fails_at_the_token_with_6300(reference: int) -> None:
    card = card_for()
    terminal = Terminal(card)
    wrong = b"000000" if reference == CAN else mrz_password("000000000" * 2 + "000000")
    with pytest.raises(PaceFailed) as failed:
        terminal.pace(wrong, reference)
    assert (failed.value.step, failed.value.sw) == ("step 4", 0x6300)
    assert card.sm_session is None and card.access_control is None
    assert terminal.send("00A4020C020101").sw == 0x6982  # still no access to the data
    terminal.pace(password(card, reference), reference)  # a new attempt works
    assert terminal.read_file(DG1) == card.files["DG1"]


def test_cccd_2024_refuses_bac_and_pace_with_the_mrz() -> None:
    card = VirtualCccd(load_profile("do-thu-trang"))
    terminal = Terminal(card)
    assert terminal.select_applet().sw == 0x9000
    assert terminal.send("0084000008").sw == 0x6982
    assert terminal.send(short_apdu(0, 0x82, 0, 0, bytes(40), 0x28)).sw == 0x6982
    with pytest.raises(PaceFailed) as failed:
        terminal.pace(password(card, MRZ), MRZ)
    assert (failed.value.step, failed.value.sw) == ("step 0", 0x6982)
    terminal.pace(password(card, CAN), CAN)
    assert terminal.read_file(DG1) == card.files["DG1"]
    assert card.access_data()["can"] == "008214"


def test_a_chip_without_pace_has_no_card_access_and_answers_bac() -> None:
    card = VirtualCccd(load_profile("vo-minh-tuan"))
    terminal = Terminal(card)
    assert terminal.send("00A4020C02011C").sw == 0x6A82
    assert terminal.send("00B09C0010").sw == 0x6A82
    with pytest.raises(PaceFailed) as failed:
        terminal.pace(password(card, CAN), CAN)
    assert failed.value.sw == 0x6A80
    terminal.bac(card.access_data()["mrz_information"])
    assert terminal.read_file(DG1) == card.files["DG1"]


def test_bac_still_works_on_the_cccd_defaults() -> None:
    card = card_for()
    terminal = Terminal(card)
    terminal.bac(card.access_data()["mrz_information"])
    assert card.access_control == "BAC"


# --- MSE:Set AT -------------------------------------------------------------------------------

OID_AES128 = "800A04007F00070202040202"


@pytest.mark.parametrize(
    ("data", "sw"),
    [
        (OID_AES128 + "830102", 0x9000),
        (OID_AES128 + "830101" + "84010D", 0x9000),
        (OID_AES128 + "830101" + "84010C", 0x6A80),  # parameters not offered
        ("800A04007F00070202040204830102", 0x6A80),  # AES-256 not offered
        ("800A04007F00070202040602830102", 0x6A80),  # CAM not offered
        (OID_AES128 + "830103", 0x6A80),  # PIN
        (OID_AES128, 0x6A80),  # no password reference
        (OID_AES128 + "83020101", 0x6A80),
        ("830102", 0x6A80),  # no protocol
        (OID_AES128 + "830102830102", 0x6A80),
        (OID_AES128 + "830102" + "910100", 0x6A80),
        (OID_AES128 + "8302", 0x6A80),  # malformed
    ],
)
def test_mse_set_at(data: str, sw: int) -> None:
    terminal = Terminal(card_for())
    assert terminal.send(short_apdu(0, 0x22, 0xC1, 0xA4, bytes.fromhex(data))).sw == sw


def test_general_authenticate_without_mse_is_6985() -> None:
    terminal = Terminal(card_for())
    assert terminal.send("10860000027C0000").sw == 0x6985


def test_chaining_must_match_the_steps() -> None:
    card = card_for()
    terminal = Terminal(card)
    mse = short_apdu(0, 0x22, 0xC1, 0xA4, bytes.fromhex(OID_AES128 + "830102"))
    assert terminal.send(mse).sw == 0x9000
    assert terminal.send("00860000027C0000").sw == 0x6985  # step 1 must say "more follow"
    assert terminal.send("10860000027C0000").sw == 0x6985  # and the attempt is over
    assert terminal.send(mse).sw == 0x9000
    assert terminal.send("10860000027C0000").sw == 0x9000
    assert terminal.send("10860000047C02850000").sw == 0x6A80  # step 2 expects DO'81'
    # Chaining on anything else is not supported.
    assert terminal.send("10B0000004").sw == 0x6884
    assert terminal.send("1CB0000004").sw == 0x6884


def test_step_four_with_the_chaining_bit_is_6883() -> None:
    card = card_for()
    terminal = Terminal(card)
    original = terminal.send

    def send(apdu: bytes | str):
        raw = bytes.fromhex(apdu) if isinstance(apdu, str) else apdu
        if raw[:2] == b"\x00\x86":
            raw = b"\x10" + raw[1:]
        return original(raw)

    terminal.send = send  # type: ignore[method-assign]
    with pytest.raises(PaceFailed) as failed:
        terminal.pace(password(card, CAN), CAN)
    assert (failed.value.step, failed.value.sw) == ("step 4", 0x6883)
    assert card.sm_session is None


def test_pace_is_not_run_under_secure_messaging() -> None:
    card = card_for()
    terminal = Terminal(card)
    terminal.pace(password(card, CAN), CAN)
    answer = terminal.sm(0x22, 0xC1, 0xA4, bytes.fromhex(OID_AES128 + "830102"))
    assert answer.sw == 0x6985


def test_plain_select_of_the_application_after_pace_ends_the_session() -> None:
    card = card_for()
    terminal = Terminal(card)
    terminal.pace(password(card, CAN), CAN)
    assert terminal.select_applet().sw == 0x9000  # plain: resets the security state
    assert card.sm_session is None
    assert terminal.send("00A4020C020101").sw == 0x6982


# --- points the card must refuse -----------------------------------------------------------------


def off_curve(point: bytes) -> bytes:
    return point[:-1] + bytes([point[-1] ^ 0x01])


@pytest.mark.parametrize("step", [2, 3], ids=["PK_map", "PK_eph"])
@pytest.mark.parametrize(
    "spoil",
    [
        off_curve,
        lambda p: b"\x04" + bytes(len(p) - 1),  # (0, 0): not on these curves
        lambda p: b"\x02" + p[1 : 1 + (len(p) - 1) // 2],  # compressed
        lambda p: p[:-1],  # short
        lambda p: b"\x04" + b"\xff" * (len(p) - 1),  # coordinates ≥ p
    ],
    ids=["off-curve", "zero", "compressed", "short", "too-large"],
)
@pytest.mark.parametrize("parameter_id", [13, 18])
def test_points_off_the_curve_are_6a80(step: int, spoil, parameter_id: int) -> None:
    card = card_for(pace_parameter_id=parameter_id)
    terminal = Terminal(card)

    def tamper(number: int, data: bytes) -> bytes:
        if number != step:
            return data
        ((_, outer, _),) = read_all(data)
        ((tag, point, _),) = read_all(outer)
        return tlv(0x7C, tlv(tag, spoil(point)))

    with pytest.raises(PaceFailed) as failed:
        terminal.pace(password(card, CAN), CAN, parameter_id=parameter_id, tamper=tamper)
    assert (failed.value.step, failed.value.sw) == (f"step {step}", 0x6A80)
    assert card.sm_session is None
    assert terminal.send("10860000027C0000").sw == 0x6985  # the attempt is over


# --- robustness -------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4), st.binary(max_size=140), st.sampled_from([0x00, 0x10]))
def test_garbage_in_any_step_gets_a_status_word(step: int, body: bytes, cla: int) -> None:
    card = card_for()
    terminal = Terminal(card)
    steps_done = 0

    def tamper(number: int, data: bytes) -> bytes:
        return body if number == step else data

    original = terminal.send

    def send(apdu: bytes | str):
        nonlocal steps_done
        raw = bytes.fromhex(apdu) if isinstance(apdu, str) else apdu
        if raw[1] == 0x86:
            steps_done += 1
            if steps_done == step:
                raw = bytes([cla]) + raw[1:]
        return original(raw)

    terminal.send = send  # type: ignore[method-assign]
    try:
        terminal.pace(password(card, CAN), CAN, tamper=tamper)
    except PaceFailed as failed:
        assert failed.sw in (0x6300, 0x6700, 0x6883, 0x6985, 0x6A80)
        assert card.sm_session is None
    except (AssertionError, ValueError, KeyError, IndexError):
        pass  # the terminal could not parse the card's answer to its own garbage
