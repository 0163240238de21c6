"""The card side of BAC and secure messaging against ICAO Doc 9303-11 Appendix D."""

from __future__ import annotations

import pytest

from reader.virtual.applet import EmrtdApplet
from reader.virtual.bac_responder import derive_bac_keys

from .virtual_terminal import split

MRZ_INFORMATION = "L898902C<369080619406236"
RND_IC = bytes.fromhex("4608F91988702212")
K_IC = bytes.fromhex("0B4F80323EB3191CB04970CB4052790B")
E_IFD = bytes.fromhex("72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2")
M_IFD = bytes.fromhex("5F1448EEA8AD90A7")
EXT_AUTH = bytes.fromhex("0082000028") + E_IFD + M_IFD + b"\x28"
CARD_RESPONSE = bytes.fromhex(
    "46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F2F2D235D074D7449"
)
EF_COM = bytes.fromhex("60145F0104303130365F36063034303030305C026175")

D4 = [  # (command, response) with SSC starting at ...C226
    (
        "0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800",
        "990290008E08FA855A5D4C50A8ED9000",
    ),
    (
        "0CB000000D9701048E08ED6705417E96BA5500",
        "8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000",
    ),
    (
        "0CB000040D9701128E082EA28A70F3C7B53500",
        "871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000",
    ),
]


def scripted_rng(*chunks: bytes):
    queue = list(chunks)

    def rng(n: int) -> bytes:
        chunk = queue.pop(0)
        assert len(chunk) == n
        return chunk

    return rng


@pytest.fixture
def card() -> EmrtdApplet:
    return EmrtdApplet({"EF.COM": EF_COM}, MRZ_INFORMATION, rng=scripted_rng(RND_IC, K_IC))


def test_bac_keys_are_the_published_parity_adjusted_keys() -> None:
    keys = derive_bac_keys(MRZ_INFORMATION)
    assert keys.k_enc.hex().upper() == "AB94FDECF2674FDFB9B391F85D7F76F2"
    assert keys.k_mac.hex().upper() == "7962D9ECE03D1ACD4C76089DCE131543"


def test_external_authenticate_answers_appendix_d_byte_for_byte(card: EmrtdApplet) -> None:
    assert card.process(bytes.fromhex("00A4040C07A0000002471001")) == b"\x90\x00"
    assert card.process(bytes.fromhex("0084000008")) == RND_IC + b"\x90\x00"
    assert card.process(EXT_AUTH) == CARD_RESPONSE + b"\x90\x00"
    session = card.sm_session
    assert session is not None
    assert session.suite.k_enc.hex().upper() == "979EC13B1CBFE9DCD01AB0FED307EAE5"
    assert session.suite.k_mac.hex().upper() == "F1CB1F1FB5ADF208806B89DC579DC1F8"
    assert session.ssc_bytes().hex().upper() == "887022120C06C226"


def test_secure_messaging_answers_appendix_d4_byte_for_byte(card: EmrtdApplet) -> None:
    card.process(bytes.fromhex("0084000008"))
    assert card.process(EXT_AUTH)[-2:] == b"\x90\x00"
    for command, expected in D4:
        assert card.process(bytes.fromhex(command)).hex().upper() == expected
    assert card.sm_session is not None
    assert card.sm_session.ssc_bytes().hex().upper() == "887022120C06C22C"


def test_wrong_mac_is_6300_and_spends_the_challenge() -> None:
    card = EmrtdApplet({}, MRZ_INFORMATION, rng=scripted_rng(RND_IC, RND_IC, K_IC))
    card.process(bytes.fromhex("0084000008"))
    tampered = EXT_AUTH[:5] + E_IFD + bytes([M_IFD[0] ^ 1]) + M_IFD[1:] + b"\x28"
    assert split(card.process(tampered)).sw == 0x6300
    assert card.sm_session is None
    # The right cryptogram is now refused too: the challenge it answers was used up.
    assert split(card.process(EXT_AUTH)).sw == 0x6985
    card.process(bytes.fromhex("0084000008"))
    assert card.process(EXT_AUTH) == CARD_RESPONSE + b"\x90\x00"


def test_wrong_rnd_ic_is_6300() -> None:
    other = bytes.fromhex("0102030405060708")
    card = EmrtdApplet({}, MRZ_INFORMATION, rng=scripted_rng(other))
    assert card.process(bytes.fromhex("0084000008")) == other + b"\x90\x00"
    assert split(card.process(EXT_AUTH)).sw == 0x6300
    assert card.sm_session is None


def test_wrong_mrz_is_6300() -> None:
    card = EmrtdApplet({}, "L898902C<369080619406247", rng=scripted_rng(RND_IC))
    card.process(bytes.fromhex("0084000008"))
    assert split(card.process(EXT_AUTH)).sw == 0x6300
