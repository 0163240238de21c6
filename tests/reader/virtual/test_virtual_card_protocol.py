"""What a reader sees when it talks to a virtual CCCD: status words, files, limits, faults."""

from __future__ import annotations

import dataclasses
from functools import reduce

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reader.virtual.applet import VirtualCccd
from reader.virtual.faults import CardPulled, Faults
from reader.virtual.lds_builder import CARD_ACCESS

from .virtual_terminal import Terminal, short_apdu, split

EF_COM, EF_SOD, DG1, DG2, DG3, DG13 = 0x011E, 0x011D, 0x0101, 0x0102, 0x0103, 0x010D


def bac(card: VirtualCccd) -> Terminal:
    terminal = Terminal(card)
    terminal.bac(card.access_data()["mrz_information"])
    return terminal


# --- ATR ----------------------------------------------------------------------------------


def test_atr_is_contactless_pcsc_form_with_a_correct_tck(make_card) -> None:
    for name in ("nguyen-van-an", "le-hoang-minh", "pham-thi-hong"):
        atr = make_card(name).atr
        assert atr[0] == 0x3B and atr[1] & 0xF0 == 0x80 and atr[2:4] == b"\x80\x01"
        assert len(atr) == 4 + (atr[1] & 0x0F) + 1
        assert reduce(lambda a, b: a ^ b, atr[1:], 0) == 0  # TCK makes the XOR of T0..TCK zero
        assert atr[4] == 0x80  # category indicator


def test_atr_card_capabilities_say_what_the_profile_says(make_card) -> None:
    advertised = make_card("nguyen-van-an").atr
    assert advertised[5] == 0x73 and advertised[8] & 0x40
    refused = make_card("le-hoang-minh").atr
    assert refused[5] == 0x73 and not refused[8] & 0x40
    unknown = make_card("pham-thi-hong").atr
    assert unknown[4:-1] == b"\x80"  # no card-capabilities object at all


# --- plain commands before BAC ------------------------------------------------------------


def test_select_applet_by_aid(make_card) -> None:
    terminal = Terminal(make_card())
    assert terminal.send("00A4040C07A0000002471001").sw == 0x9000
    assert terminal.send("00A4040007A0000002471001").sw == 0x9000
    assert terminal.send("00A4040C07A0000002471002").sw == 0x6A82


def test_a_card_without_the_applet_is_not_found(make_card, profiles) -> None:
    profile = profiles["nguyen-van-an"]
    no_applet = dataclasses.replace(profile, chip=dataclasses.replace(profile.chip, applet=False))
    terminal = Terminal(VirtualCccd(no_applet))
    assert terminal.send("00A4040C07A0000002471001").sw == 0x6A82
    assert terminal.send("00A4020C02011C").sw == 0x6A82


def test_select_mf_is_6d00_like_the_real_card(make_card) -> None:
    assert Terminal(make_card()).send("00A4000C023F00").sw == 0x6D00


def test_card_access_is_readable_in_plain_before_anything_else(make_card) -> None:
    terminal = Terminal(make_card())
    assert terminal.send("00A4020C02011C").sw == 0x9000
    answer = terminal.send("00B0000000")
    assert answer.data == CARD_ACCESS and answer.sw == 0x6282  # fewer than 256 bytes left
    exact = terminal.send(short_apdu(0, 0xB0, 0, 0, le=len(CARD_ACCESS)))
    assert exact.data == CARD_ACCESS and exact.sw == 0x9000


def test_card_access_by_short_ef_identifier(make_card) -> None:
    answer = Terminal(make_card()).send("00B09C0010")
    assert answer.sw == 0x9000 and answer.data == CARD_ACCESS[:16]


def test_lds_files_need_bac_and_unknown_files_are_not_found(make_card) -> None:
    terminal = Terminal(make_card())
    terminal.select_applet()
    for fid in ("011E", "0101", "0102", "0103", "010D", "010E", "010F", "011D"):
        assert terminal.send(f"00A4020C02{fid}").sw == 0x6982, fid
    assert terminal.send("00A4020C02010B").sw == 0x6A82  # DG11 is not on a CCCD
    assert terminal.send("00B0810004").sw == 0x6982  # DG1 by SFI
    assert terminal.send("0084000008").sw == 0x9000


def test_read_without_a_current_file(make_card) -> None:
    assert Terminal(make_card()).send("00B0000004").sw == 0x6986


# --- under BAC ----------------------------------------------------------------------------


def test_every_file_reads_back_under_bac(make_card) -> None:
    card = make_card()
    terminal = bac(card)
    for name, fid in (("EF.COM", EF_COM), ("DG1", DG1), ("DG13", DG13), ("EF.SOD", EF_SOD)):
        assert terminal.read_file(fid) == card.files[name], name
    assert terminal.read_file(0x011C) == CARD_ACCESS


def test_dg2_reads_back_in_short_apdus_on_a_card_without_extended_length(make_card) -> None:
    card = make_card("le-hoang-minh")
    terminal = bac(card)
    dg2 = card.files["DG2"]
    assert terminal.select(DG2).sw == 0x9000
    out = b""
    while len(out) < len(dg2):
        if len(out) <= 0x7FFF:
            answer = terminal.sm(0xB0, len(out) >> 8, len(out) & 0xFF, le=0xE0)
        else:
            answer = terminal.sm(0xB1, 0, 0, terminal.odd_offset(len(out)), le=0xE0)
            assert answer.data[0] == 0x53
            answer.data = answer.data[2 + (answer.data[1] > 0x7F) :]
        assert answer.sw in (0x9000, 0x6282)
        out += answer.data
    assert out == dg2


def test_dg3_needs_eac_even_under_bac(make_card) -> None:
    terminal = bac(make_card())
    answer = terminal.sm(0xA4, 0x02, 0x0C, bytes.fromhex("0103"))
    assert answer.sw == 0x6982  # protected: DO'99' + MAC checked by the terminal
    assert terminal.sm(0xB0, 0x83, 0x00, le=4).sw == 0x6982


def test_read_by_short_ef_identifier_under_bac(make_card) -> None:
    card = make_card()
    terminal = bac(card)
    answer = terminal.sm(0xB0, 0x81, 0x00, le=0x10)  # DG1
    assert answer.sw == 0x9000 and answer.data == card.files["DG1"][:16]
    answer = terminal.sm(0xB0, 0x00, 0x10, le=0x10)  # SFI read made DG1 the current file
    assert answer.data == card.files["DG1"][16:32]
    answer = terminal.sm(0xB0, 0x8D, 0x05, le=0x08)  # DG13 at offset 5
    assert answer.data == card.files["DG13"][5:13]


def test_read_past_32767_with_odd_ins_b1(make_card) -> None:
    card = make_card("tran-thi-bich-ngoc")
    dg2 = card.files["DG2"]
    assert len(dg2) > 32767
    terminal = bac(card)
    assert terminal.select(DG2).sw == 0x9000
    answer = terminal.sm(0xB1, 0, 0, terminal.odd_offset(32768), le=0x80)
    assert answer.sw == 0x9000
    assert answer.data[:2] == b"\x53\x7e"  # Ne counts the DO'53' header: 2 + 126 bytes
    assert answer.data[2:] == dg2[32768 : 32768 + 126]
    # B1 with the file named by its short EF identifier, and an extended Le to the end.
    answer = terminal.sm(0xB1, 0x00, 0x02, terminal.odd_offset(40000 - 7000), le=0, extended=True)
    assert answer.sw == 0x6282
    assert answer.data[:4] == b"\x53\x82" + (len(dg2) - 33000).to_bytes(2, "big")
    assert answer.data[4:] == dg2[33000:]


def test_one_extended_read_returns_the_whole_dg2(make_card) -> None:
    card = make_card("tran-thi-bich-ngoc")
    terminal = bac(card)
    terminal.select(DG2)
    answer = terminal.sm(0xB0, 0, 0, le=0, extended=True)  # Le 0000 = 65536
    assert answer.sw == 0x6282 and answer.data == card.files["DG2"]
    assert card.stats.bytes_out > len(card.files["DG2"])


def test_6282_at_the_end_of_a_file_and_6b00_beyond_it(make_card) -> None:
    card = make_card()
    dg1 = card.files["DG1"]
    terminal = bac(card)
    terminal.select(DG1)
    answer = terminal.sm(0xB0, 0, len(dg1) - 5, le=0x20)
    assert answer.sw == 0x6282 and answer.data == dg1[-5:]
    answer = terminal.sm(0xB0, 0, len(dg1) - 5, le=5)
    assert answer.sw == 0x9000 and answer.data == dg1[-5:]
    assert terminal.sm(0xB0, 0, len(dg1), le=1).sw == 0x6B00


def test_oversize_response_is_a_protected_6700_and_the_session_survives(make_card) -> None:
    # Issue 11, item 8: only the strict profile (pham-thi-hong) still refuses this; real CCCDs
    # and the other profiles send the 283 bytes (next test).
    card = make_card("pham-thi-hong")
    terminal = bac(card)
    terminal.select(DG2)
    # 256 bytes need a 283-byte protected answer: too long for a short APDU on a strict chip.
    answer = terminal.sm(0xB0, 0, 0, le=256)
    assert answer.sw == 0x6700 and answer.data == b""
    assert card.sm_session is not None
    answer = terminal.sm(0xB0, 0, 0, le=0xE7)  # 231 bytes: the most a short answer can hold
    assert answer.sw == 0x9000 and answer.data == card.files["DG2"][:0xE7]


@pytest.mark.parametrize("le", [0, 0xE8, 0xFF])
def test_short_le_00_under_sm_gets_the_whole_protected_answer_like_a_real_cccd(
        make_card, le: int) -> None:
    """Issue 11, item 8: readers written against real CCCDs send Le=00 (or a plain Le of 232
    and more under 3DES) and take the ~283-byte protected answer; the card answered 6700."""
    card = make_card()
    terminal = bac(card)
    terminal.select(DG2)
    answer = terminal.sm(0xB0, 0, 0, le=le)
    want = le or 256
    assert answer.sw == 0x9000 and answer.data == card.files["DG2"][:want]
    assert card.sm_session is not None


@pytest.mark.parametrize("name", ["nguyen-van-an", "le-hoang-minh"])  # DG2 < 32 KiB
def test_a_reader_written_for_real_cccds_reads_every_file_with_le_00(make_card,
                                                                      name: str) -> None:
    """Issue 11, item 8: as khoa288/id-chip-reader does on real cards, BAC then 256 plain bytes
    per protected READ BINARY (DO'97' = 00), each answer up to ~283 bytes."""
    card = make_card(name)
    terminal = bac(card)
    for fid, file in ((EF_SOD, "EF.SOD"), (DG2, "DG2"), (DG13, "DG13")):
        assert terminal.read_file(fid, chunk=0) == card.files[file], (name, file)


def test_rsa_2048_signature_to_le_00_like_a_real_cccd(profiles, built) -> None:
    profile = profiles["pham-thi-hong"]
    real = dataclasses.replace(profile.chip, strict_short_response=False)
    card = VirtualCccd(dataclasses.replace(profile, chip=real), lds=built["pham-thi-hong"])
    terminal = bac(card)
    answer = terminal.internal_authenticate(bytes(8))  # short, Le=00
    assert answer.sw == 0x9000 and len(answer.data) == 256


def test_an_authentication_answer_too_long_for_the_buffer_comes_in_parts(
        profiles, built) -> None:
    """ISO 7816-4 §5.3.4: 61xx, then GET RESPONSE (plain, and it keeps secure messaging)."""
    profile = profiles["pham-thi-hong"]
    chip = dataclasses.replace(profile.chip, strict_short_response=False,
                               response_chaining=True, max_response=100)
    card = VirtualCccd(dataclasses.replace(profile, chip=chip), lds=built["pham-thi-hong"])
    terminal = bac(card)
    protected = terminal.protect(0x88, 0, 0, bytes(8), le=0)
    answer = split(card.process(protected))
    assert answer.sw >> 8 == 0x61 and len(answer.data) == 100
    body = answer.data
    while answer.sw >> 8 == 0x61:
        answer = split(card.process(bytes([0, 0xC0, 0, 0, answer.sw & 0xFF])))
        assert len(answer.data) <= 100
        body += answer.data
    assert answer.sw == 0x9000 and card.sm_session is not None
    whole = type(answer)(body, 0x9000, body + b"\x90\x00")
    assert len(terminal.unprotect(whole).data) == 256
    # A strict chip refuses instead.
    strict = VirtualCccd(profile, lds=built["pham-thi-hong"])
    assert bac(strict).internal_authenticate(bytes(8)).sw == 0x6700


def test_select_mf_follows_the_profile(make_card, profiles, built) -> None:
    card = make_card()
    assert card.chip.select_mf == "refused"  # as real CCCDs: research notes §1
    profile = profiles["nguyen-van-an"]
    profile = dataclasses.replace(profile, chip=dataclasses.replace(profile.chip, select_mf="iso"))
    iso = VirtualCccd(profile, lds=built["nguyen-van-an"])
    terminal = Terminal(iso)
    assert terminal.send("00A4000C023F00").sw == 0x9000
    assert terminal.send("00A4000C").sw == 0x9000
    assert terminal.send("00A4020C02011C").sw == 0x9000  # EF.CardAccess, still plain


def test_small_io_buffer_refuses_long_extended_answers(make_card) -> None:
    card = make_card("pham-thi-hong")  # max_response = 1024
    terminal = bac(card)
    terminal.select(DG2)
    assert terminal.sm(0xB0, 0, 0, le=2000, extended=True).sw == 0x6700
    answer = terminal.sm(0xB0, 0, 0, le=990, extended=True)  # 1011 bytes once protected
    assert answer.sw == 0x9000 and answer.data == card.files["DG2"][:990]


def test_tampered_command_is_6988_and_ends_the_session(make_card) -> None:
    card = make_card()
    terminal = bac(card)
    apdu = bytearray(terminal.protect(0xB0, 0, 0, le=4))
    apdu[-2] ^= 0x01  # last MAC byte
    assert split(card.process(bytes(apdu))).raw == b"\x69\x88"
    assert card.sm_session is None
    # Every later protected command is refused, however well-formed.
    assert split(card.process(terminal.protect(0xB0, 0, 0, le=4))).raw == b"\x69\x88"
    assert split(card.process(terminal.protect(0xA4, 2, 0x0C, b"\x01\x01"))).raw == b"\x69\x88"
    terminal.bac(card.access_data()["mrz_information"])  # a new BAC recovers
    assert terminal.sm(0xB0, 0x81, 0, le=4).data == card.files["DG1"][:4]


def test_missing_mac_object_is_6988(make_card) -> None:
    card = make_card()
    terminal = bac(card)
    assert terminal.send("0CB000000397010400").raw == b"\x69\x88"
    assert card.sm_session is None


def test_plain_command_during_sm_is_6988_and_ends_the_session(make_card) -> None:
    card = make_card()
    terminal = bac(card)
    assert terminal.send("00B0000004").raw == b"\x69\x88"
    assert card.sm_session is None


def test_selecting_the_applet_resets_security(make_card) -> None:
    card = make_card()
    terminal = bac(card)
    assert terminal.select_applet().sw == 0x9000
    assert card.sm_session is None
    assert terminal.send("00A4020C020101").sw == 0x6982


def test_extended_apdu_on_a_card_without_extended_length_is_6700(make_card) -> None:
    card = make_card("le-hoang-minh")
    terminal = Terminal(card)
    assert terminal.send("00A4020C02011C").sw == 0x9000
    assert terminal.send("00B000000000FF").raw == b"\x67\x00"  # extended Le
    terminal.bac(card.access_data()["mrz_information"])
    terminal.select(DG1)
    assert split(card.process(terminal.protect(0xB0, 0, 0, le=4, extended=True))).raw == (
        b"\x67\x00"
    )
    assert card.sm_session is None  # the chip could not parse it: its session is gone


def test_malformed_length_is_6700(make_card) -> None:
    terminal = Terminal(make_card())
    assert terminal.send("00A4020C05011C").sw == 0x6700  # Lc says 5, 2 bytes follow
    assert terminal.send("00A4").sw == 0x6700


# --- faults and counters ------------------------------------------------------------------


def test_pull_out_at_the_nth_apdu(make_card) -> None:
    card = make_card(faults=Faults(pull_out_at_apdu=3))
    terminal = Terminal(card)
    terminal.select_applet()
    terminal.send("0084000008")
    with pytest.raises(CardPulled):
        terminal.send("0084000008")
    with pytest.raises(CardPulled):  # out of the field until it is presented again
        terminal.send("0084000008")
    card.power_on()
    for _ in range(5):  # the fault fired once; the card works again
        assert terminal.send("0084000008").sw == 0x9000


def test_apdu_count_restarts_at_power_on(make_card) -> None:
    card = make_card(faults=Faults(pull_out_at_apdu=2))
    terminal = Terminal(card)
    terminal.select_applet()
    card.power_off()
    card.power_on()
    terminal.select_applet()
    with pytest.raises(CardPulled):
        terminal.select_applet()


def test_pull_out_while_reading_a_file(make_card) -> None:
    card = make_card(faults=Faults(pull_out_in_file="DG2", pull_out_at_offset=1000))
    terminal = bac(card)
    terminal.select(DG2)
    assert terminal.sm(0xB0, 0, 0, le=0xE0).sw == 0x9000
    assert terminal.sm(0xB0, 0x03, 0xE0, le=0x10).sw == 0x9000  # offset 992
    with pytest.raises(CardPulled):
        terminal.sm(0xB0, 0x03, 0xE8, le=0x10)  # offset 1000
    card.power_on()
    terminal.bac(card.access_data()["mrz_information"])
    terminal.select(DG2)
    assert terminal.sm(0xB0, 0x03, 0xE8, le=0x10).sw == 0x9000


def test_stats_count_apdus_and_bytes(make_card) -> None:
    card = make_card()
    terminal = Terminal(card)
    terminal.send("00A4040C07A0000002471001")
    terminal.send("0084000008")
    assert card.stats.apdus == 2
    assert card.stats.bytes_in == 12 + 5
    assert card.stats.bytes_out == 2 + 10


# --- robustness ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_get_a_status_word_and_never_an_exception(profiles, built, raw) -> None:
    card = VirtualCccd(profiles["nguyen-van-an"], lds=built["nguyen-van-an"])
    reply = card.process(raw)
    assert len(reply) >= 2


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=80), st.sampled_from([0xA4, 0xB0, 0xB1, 0x84, 0x82, 0x88, 0x22, 0x86]))
def test_garbage_inside_secure_messaging_is_6988(profiles, built, body, ins) -> None:
    card = VirtualCccd(profiles["nguyen-van-an"], lds=built["nguyen-van-an"])
    bac(card)
    apdu = (
        bytes([0x0C, ins, 0, 0, len(body)]) + body + b"\x00" if body else bytes([0x0C, ins, 0, 0])
    )
    assert card.process(apdu) == b"\x69\x88"
    assert card.sm_session is None
