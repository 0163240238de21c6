"""Secure messaging against the virtual card when answers are damaged on the way back.

A real BAC over the loopback gives a live session; a transport wrapper then corrupts chosen
protected answers. A damaged answer must never yield data, only SecureMessagingError; the file
reader recovers from one damaged answer and gives up, boundedly, on a card that damages all.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reader import apdu, lds, tlv
from reader.access import open_card
from reader.apdu import CommandApdu, ResponseApdu
from reader.crypto import Des3Suite
from reader.errors import SecureMessagingError, WrongLength
from reader.files import Channel, FileReader
from reader.keys import BacKey
from reader.session import DEFAULT_FILES, read_card
from reader.sm import SecureMessaging, UnprotectedResponse
from reader.transport import LoopbackTransport
from reader.virtual import VirtualCccd

from .cards import built, load_profile

# These tests are about reading mechanics: the chip checks (PACE, CA, AA) have their own.
BAC_ONLY: dict[str, Any] = {"authenticate": False, "use_pace": False}

CCID = {"max_command": 261, "max_response": 258}
Corrupt = Callable[[int, bytes], bytes]  # (index of the protected answer, answer) → answer




def make_card(name: str = "nguyen-van-an", **chip: Any) -> VirtualCccd:
    profile = load_profile(name)
    if chip:
        profile = dataclasses.replace(profile, chip=dataclasses.replace(profile.chip, **chip))
    return VirtualCccd(profile, lds=built(name))


def mrz_key(card: VirtualCccd) -> BacKey:
    return BacKey.from_mrz(card.access_data()["mrz"])


class TamperingTransport:
    """A loopback link that hands every answer to a protected command (CLA x|0C) to ``corrupt``.

    Plain exchanges (SELECT of the application, GET CHALLENGE, EXTERNAL AUTHENTICATE) pass
    untouched, so re-authentication itself always works.
    """

    def __init__(self, card: VirtualCccd, corrupt: Corrupt | None = None,
                 **limits: int) -> None:
        self.inner = LoopbackTransport(card, **limits)
        self.corrupt = corrupt
        self.protected = 0  # protected answers seen
        self.apdus = 0  # exchanges that reached the card and came back
        self.last_answer = b""

    @property
    def name(self) -> str:
        return "tampering loopback"

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    def transmit(self, command: bytes) -> bytes:
        answer = self.inner.transmit(command)
        self.apdus += 1
        if command[0] & 0x0C:
            index = self.protected
            self.protected += 1
            if self.corrupt is not None:
                answer = self.corrupt(index, answer)
        self.last_answer = answer
        return answer

    def close(self) -> None:
        self.inner.close()


def opened(card: VirtualCccd, corrupt: Corrupt | None = None,
           **limits: int) -> tuple[Channel, TamperingTransport]:
    transport = TamperingTransport(card, corrupt, **limits)
    channel = Channel(transport)
    assert open_card(channel, [mrz_key(card)], use_pace=False).method == "BAC"
    return channel, transport


def flip_once(position: int, mask: int) -> Corrupt:
    """Corrupt the next protected answer only: XOR one byte (counted from the start)."""
    fired: list[int] = []

    def corrupt(index: int, answer: bytes) -> bytes:
        if fired:
            return answer
        fired.append(index)
        out = bytearray(answer)
        out[position] ^= mask
        return bytes(out)

    return corrupt


# The commands whose answers we damage: data with 9000, data with 6282 (fewer bytes than
# asked: EF.COM has 26), and an answer without data (SELECT).
COMMANDS = {
    "read": (apdu.read_binary(0, 20, sfi=0x1E), 0x9000),
    "read-past-end": (apdu.read_binary(0, 40, sfi=0x1E), 0x6282),
    "select": (apdu.select_ef(0x011E), 0x9000),
}


def expected_data(name: str, card: VirtualCccd) -> bytes:
    return {"read": card.files["EF.COM"][:20], "read-past-end": card.files["EF.COM"],
            "select": b""}[name]


# --- every byte of a protected answer ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_flipped_byte_is_refused(name: str) -> None:
    card = make_card()
    cmd, sw = COMMANDS[name]
    channel, transport = opened(card)

    clean = channel.send(cmd)
    assert (clean.data, clean.sw) == (expected_data(name, card), sw)
    answer_length = len(transport.last_answer)
    assert answer_length >= 2 + 14  # DO'99' and DO'8E' at least

    recoveries = 0
    for position in range(answer_length - 2):  # the protected data objects
        for mask in (0x01, 0x80, 0xFF):
            transport.corrupt = flip_once(position, mask)
            with pytest.raises(SecureMessagingError):
                channel.send(cmd)
            # The session is over; the channel starts a new one and the same command works.
            transport.corrupt = None
            again = channel.send(cmd)
            recoveries += 1
            assert (again.data, again.sw) == (expected_data(name, card), sw)
            assert channel.stats.recoveries == recoveries


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_unprotected_status_word_is_not_trusted(name: str) -> None:
    """SW1-SW2 outside the data objects carries no MAC: whatever it says, the answer is either
    refused or is exactly what the card authenticated in DO'99'."""
    card = make_card()
    cmd, sw = COMMANDS[name]
    channel, transport = opened(card)
    channel.send(cmd)
    answer_length = len(transport.last_answer)
    for position in (answer_length - 2, answer_length - 1):
        for mask in (0x01, 0x10, 0x80, 0xFF):
            transport.corrupt = flip_once(position, mask)
            try:
                got = channel.send(cmd)
            except SecureMessagingError:
                transport.corrupt = None
                continue
            assert (got.data, got.sw) == (expected_data(name, card), sw)


# --- SecureMessaging.unwrap on its own, with a live session's keys ------------------------------


@functools.cache
def live_session() -> tuple[Des3Suite, int, bytes]:
    """Keys and SSC of a real BAC session, and a real protected answer for its next SSC."""
    card = make_card()
    channel, transport = opened(card)
    sm = channel.sm
    assert sm is not None
    suite, ssc = sm.suite, sm.ssc
    wrapped = SecureMessaging(suite, ssc).wrap(apdu.read_binary(0, 20, sfi=0x1E))
    answer = transport.transmit(wrapped.to_bytes())
    assert isinstance(suite, Des3Suite)
    # unwrap() steps the counter once before checking: start one past the command's SSC.
    return suite, ssc + 1, answer


def fresh() -> SecureMessaging:
    suite, ssc, _ = live_session()
    return SecureMessaging(suite, ssc)


def test_the_live_answer_unwraps() -> None:
    _, _, answer = live_session()
    resp = fresh().unwrap(ResponseApdu.from_bytes(answer))
    assert resp == ResponseApdu(built("nguyen-van-an").files["EF.COM"][:20], 0x9000)


def refused(raw: ResponseApdu) -> SecureMessagingError:
    sm = fresh()
    with pytest.raises(SecureMessagingError) as info:
        sm.unwrap(raw)
    # Nothing more comes out of a session that refused an answer.
    with pytest.raises(SecureMessagingError):
        sm.unwrap(ResponseApdu.from_bytes(live_session()[2]))
    return info.value


_DO_TAGS = st.sampled_from([0x85, 0x87, 0x99, 0x8E, 0x97, 0x53, 0x01, 0x5F1F])
_DOS = st.lists(st.tuples(_DO_TAGS, st.binary(max_size=40)), max_size=5).map(
    lambda dos: b"".join(tlv.encode(t, v) for t, v in dos))
_SWS = st.one_of(st.sampled_from([0x9000, 0x6282, 0x6100, 0x6700, 0x6987, 0x6988, 0x6A82]),
                 st.integers(0, 0xFFFF))


@settings(max_examples=300)
@given(data=st.one_of(st.binary(max_size=120), _DOS), sw=_SWS)
def test_random_answers_never_unwrap(data: bytes, sw: int) -> None:
    err = refused(ResponseApdu(data, sw))
    if not data and sw not in (0x9000, 0x6282) and sw >> 8 != 0x61:
        assert isinstance(err, UnprotectedResponse) and err.sw == sw


@settings(max_examples=200)
@given(st.data())
def test_mutated_live_answers_never_unwrap(data: st.DataObject) -> None:
    answer = ResponseApdu.from_bytes(live_session()[2]).data
    kind = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate", "splice"]))
    pos = data.draw(st.integers(0, len(answer) - 1))
    if kind == "flip":
        mutated = bytearray(answer)
        mutated[pos] ^= data.draw(st.integers(1, 255))
    elif kind == "insert":
        extra = data.draw(st.binary(min_size=1, max_size=4).filter(
            lambda b: b.strip(b"\x00\xff") != b""))  # 00/FF between objects are padding
        mutated = bytearray(answer[:pos] + extra + answer[pos:])
    elif kind == "delete":
        mutated = bytearray(answer[:pos] + answer[pos + 1:])
    elif kind == "truncate":
        mutated = bytearray(answer[:pos])
    else:
        mutated = bytearray(answer[:pos] + data.draw(st.binary(min_size=1, max_size=30)))
    if bytes(mutated).strip(b"\x00\xff") == answer or bytes(mutated) == answer:
        return
    refused(ResponseApdu(bytes(mutated), data.draw(_SWS)))


def _signed(suite: Des3Suite, start: int, crypto: bytes | None,
            tag: int = 0x87) -> ResponseApdu:
    """An answer with a *valid* MAC around a chosen cryptogram (what only the card could send)."""
    counter = (start + 1).to_bytes(8, "big")
    body = b"" if crypto is None else tlv.encode(tag, crypto)
    body += tlv.encode(0x99, b"\x90\x00")
    return ResponseApdu(body + tlv.encode(0x8E, suite.mac(counter + body)), 0x9000)


def _bad_contents() -> list[tuple[str, bytes, int]]:
    suite, start, _ = live_session()
    counter = (start + 1).to_bytes(8, "big")
    no_padding = suite.encrypt(counter, b"\x01" * 16)
    return [
        ("no 80 padding", b"\x01" + no_padding, 0x87),
        ("all zero plaintext", b"\x01" + suite.encrypt(counter, bytes(16)), 0x87),
        ("padding indicator 02", b"\x02" + suite.encrypt(counter, b"\x80" + bytes(7)), 0x87),
        ("empty DO'87'", b"", 0x87),
        ("indicator only", b"\x01", 0x87),
        ("not whole blocks", b"\x01" + no_padding[:12], 0x87),
        ("odd DO'85' not whole blocks", no_padding[:5], 0x85),
    ]


@pytest.mark.parametrize("case", range(7), ids=[c[0] for c in _bad_contents()])
def test_authentic_but_malformed_cryptogram_is_refused(case: int) -> None:
    suite, ssc, _ = live_session()
    _, crypto, tag = _bad_contents()[case]
    sm = fresh()
    with pytest.raises(SecureMessagingError):
        sm.unwrap(_signed(suite, ssc, crypto, tag))


def test_authentic_answer_without_data_is_empty() -> None:
    suite, ssc, _ = live_session()
    assert fresh().unwrap(_signed(suite, ssc, None)) == ResponseApdu(b"", 0x9000)




@pytest.mark.parametrize(
    "case",
    [pytest.param(i, id=c[0])
     for i, c in enumerate(_bad_contents())],
)
def test_authentic_but_malformed_cryptogram_ends_the_session(case: int) -> None:
    suite, start, _ = live_session()
    _, crypto, tag = _bad_contents()[case]
    sm = fresh()
    with pytest.raises(SecureMessagingError):
        sm.unwrap(_signed(suite, start, crypto, tag))
    # Like every other refused answer (bad MAC, missing DO'99', unprotected answer): closed.
    with pytest.raises(SecureMessagingError, match="closed"):
        sm.wrap(CommandApdu(0x00, 0xB0, 0x00, 0x00, b"", 8))


# --- the file reader: one damaged answer is recovered, endless damage is not ------------------


def _protected_answers_of_a_read(**limits: int) -> int:
    card = make_card()
    transport = TamperingTransport(card, **limits)
    read_card(transport, [mrz_key(card)], **BAC_ONLY)
    return transport.protected


N_EXTENDED = _protected_answers_of_a_read()
N_CCID = _protected_answers_of_a_read(**CCID)


def _check_recovered(card: VirtualCccd, transport: TamperingTransport) -> None:
    result = read_card(transport, [mrz_key(card)], **BAC_ONLY)
    assert result.stats.recoveries >= 1
    assert result.files == {n: card.files[n] for n in ["EF.COM", *DEFAULT_FILES]}
    assert result.portrait is not None and result.portrait.data == card.lds.portrait.data


def damage_answer(which: int, position: int, mask: int) -> Corrupt:
    def corrupt(index: int, answer: bytes) -> bytes:
        if index != which:
            return answer
        out = bytearray(answer)
        out[position % (len(answer) - 2)] ^= mask  # inside the data objects
        return bytes(out)

    return corrupt


@pytest.mark.parametrize("which", range(N_EXTENDED))
def test_one_damaged_answer_is_recovered(which: int) -> None:
    card = make_card()
    _check_recovered(card, TamperingTransport(card, damage_answer(which, 7, 0x20)))


@settings(max_examples=40, deadline=None)
@given(which=st.integers(0, N_CCID - 1), position=st.integers(0, 300), mask=st.integers(1, 255))
def test_one_damaged_answer_is_recovered_on_a_short_reader(which: int, position: int,
                                                           mask: int) -> None:
    card = make_card()
    _check_recovered(card, TamperingTransport(card, damage_answer(which, position, mask),
                                              **CCID))


def test_a_damaged_answer_in_the_middle_of_the_portrait() -> None:
    card = make_card()
    channel, transport = opened(card, **CCID)
    reader = FileReader(channel, extended_hint=False)
    start = transport.protected
    transport.corrupt = damage_answer(start + 40, 3, 0x01)
    assert reader.read(lds.dg(2)) == card.files["DG2"]
    assert channel.stats.recoveries == 1


DAMAGE_EVERYTHING: dict[str, Corrupt] = {
    "flip": lambda _, answer: bytes([answer[0] ^ 0x01]) + answer[1:],
    "mac": lambda _, answer: answer[:-3] + bytes([answer[-3] ^ 0x01]) + answer[-2:],
    "truncate": lambda _, answer: answer[:-12] + answer[-2:],
    "unprotected-9000": lambda _, answer: b"\x90\x00",
    "unprotected-6988": lambda _, answer: b"\x69\x88",
    "unprotected-6987": lambda _, answer: b"\x69\x87",
    "garbage": lambda _, answer: bytes(range(40)) + b"\x90\x00",
}


@pytest.mark.parametrize("kind", sorted(DAMAGE_EVERYTHING))
@pytest.mark.parametrize("limits", [{}, CCID], ids=["extended", "ccid"])
def test_a_card_that_damages_every_answer_fails_boundedly(kind: str,
                                                          limits: dict[str, int]) -> None:
    card = make_card()
    transport = TamperingTransport(card, DAMAGE_EVERYTHING[kind], **limits)
    with pytest.raises(SecureMessagingError):
        read_card(transport, [mrz_key(card)], **BAC_ONLY)
    # SELECT + BAC, then the first READ, retried after at most two re-authentications.
    assert transport.apdus <= 3 + 3 * 4
    assert transport.protected <= 3


def test_a_link_that_drops_secure_messaging_over_every_length_gives_up() -> None:
    """Unprotected 6700 to every protected command: the reader shrinks its reads and
    re-authenticates, but not forever."""
    card = make_card()
    transport = TamperingTransport(card, lambda _, answer: b"\x67\x00")
    with pytest.raises(WrongLength):
        read_card(transport, [mrz_key(card)], **BAC_ONLY)
    assert transport.apdus <= 3 + 24 * 4
