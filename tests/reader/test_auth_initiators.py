"""Chip and active authentication as pure initiators (issue 12, item 2), like PaceInitiator and
BacInitiator: each step is a command or a value, checked here without a channel or a card —
the virtual chip's own key arithmetic plays the card's side."""

from __future__ import annotations

import functools

import pytest

from reader import tlv
from reader.active_auth import ActiveAuthInitiator, AnswerForm
from reader.apdu import ResponseApdu
from reader.chip_auth import ChipAuthInitiator, plan, session_suite
from reader.errors import CardStatusError
from reader.security_infos import parse_dg14
from reader.trust.signatures import load_public_key
from reader.virtual import BuiltLds, build_lds, load_profile
from reader.virtual.chip_keys import chip_authentication_secret


@functools.cache
def built() -> BuiltLds:
    return build_lds(load_profile("nguyen-van-an"))


def test_chip_authentication_agrees_the_chips_keys_step_by_step() -> None:
    chosen = plan(parse_dg14(built().files["DG14"]))
    assert chosen is not None
    chip_key = load_public_key(chosen.key.subject_public_key_info)
    ca = ChipAuthInitiator(chosen, chip_key.backend)
    sent = ca.commands()
    assert [c.ins for c in sent] == ([0x22, 0x86] if chosen.info.cipher[0] == "AES" else [0x22])
    # The chip takes our ephemeral key out of the last command, as the card would.
    body = tlv.decode_one(sent[-1].data)[0]
    if body.tag == 0x7C:
        body = tlv.decode_one(body.value)[0]
    private = built().keys.chip_authentication
    assert private is not None
    expected = session_suite(chip_authentication_secret(private, body.value), chosen.info)
    session = ca.session()
    assert (session.suite.k_enc, session.suite.k_mac) == (expected.k_enc, expected.k_mac)
    assert session.ssc == 0
    assert (ca.probe().ins, ca.probe().p1, ca.probe().le) == (0xB0, 0x9E, 1)
    assert ca.algorithm.startswith("CA-ECDH")


def test_active_authentication_asks_in_the_forms_the_card_and_reader_may_carry() -> None:
    assert ActiveAuthInitiator(b"12345678", 256).forms == (AnswerForm(), AnswerForm(True))
    aa = ActiveAuthInitiator(b"12345678", 256, extended=False, part=100)
    assert aa.forms == (AnswerForm(), AnswerForm(part=100))
    assert [str(f) for f in aa.forms] == ["short", "in parts of 100"]
    short = aa.command(AnswerForm())
    assert (short.ins, short.data, short.le, short.extended) == (0x88, b"12345678", 256, False)
    assert aa.command(AnswerForm(True)).extended


def test_a_short_length_refusal_is_judged_against_what_the_chip_has_sent() -> None:
    # A 64-byte ECDSA signature under AES SM: 82 protected bytes, fewer than the 200 it sent.
    aa = ActiveAuthInitiator(b"12345678", 64, cipher_block=16, proven=200)
    assert 64 < aa.needed <= 200
    assert aa.refuses_without_cause(AnswerForm(), 0x6700)
    assert not aa.refuses_without_cause(AnswerForm(True), 0x6700)  # extended: a real limit
    assert not aa.refuses_without_cause(AnswerForm(), 0x6A80)  # not a length refusal
    # Never seen a large enough answer: the chip may truly be short of room.
    assert not ActiveAuthInitiator(b"12345678", 256, cipher_block=16,
                                   proven=200).refuses_without_cause(AnswerForm(), 0x6700)


def test_the_signature_is_the_answer_of_a_chip_that_accepted() -> None:
    assert ActiveAuthInitiator.signature(ResponseApdu(b"sig", 0x9000)) == b"sig"
    with pytest.raises(CardStatusError):  # a refusal never passes as an empty signature
        ActiveAuthInitiator.signature(ResponseApdu(b"", 0x6982))
