"""ICAO 9303-11 Appendix D worked examples, byte for byte (values: shared/reference §7)."""

from __future__ import annotations

import pytest

from reader import apdu
from reader.apdu import CommandApdu, ResponseApdu
from reader.bac import BacInitiator, derive_bac_keys, key_seed
from reader.crypto import adjust_des_parity
from reader.errors import SecureMessagingError, WrongCardKey
from reader.sm import SecureMessaging, UnprotectedResponse

H = bytes.fromhex
MRZ_INFO = b"L898902C<369080619406236"
RND_IC = H("4608F91988702212")
RND_IFD = H("781723860C06C226")
K_IFD = H("0B795240CB7049B01C19B33E32804F0B")
CARD_RESPONSE = H(
    "46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F2F2D235D074D7449"
)


def test_key_seed_and_keys() -> None:
    assert key_seed(MRZ_INFO) == H("239AB9CB282DAF66231DC5A4DF6BFBAE")
    keys = derive_bac_keys(MRZ_INFO)
    assert keys.k_enc == H("AB94FDECF2674FDFB9B391F85D7F76F2")
    assert keys.k_mac == H("7962D9ECE03D1ACD4C76089DCE131543")


def test_parity_adjust_matches_published_key() -> None:
    assert adjust_des_parity(H("AB94FCEDF2664EDF")) == H("AB94FDECF2674FDF")


def _bac() -> SecureMessaging:
    bac = BacInitiator(MRZ_INFO, rnd_ifd=RND_IFD, k_ifd=K_IFD)
    cmd = bac.authenticate(RND_IC)
    e_ifd = H("72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2")
    m_ifd = H("5F1448EEA8AD90A7")
    assert cmd.to_bytes() == H("0082000028") + e_ifd + m_ifd + H("28")
    return bac.finish(ResponseApdu(CARD_RESPONSE, 0x9000))


def test_bac_mutual_authentication_and_session_keys() -> None:
    sm = _bac()
    assert sm.suite.k_enc == H("979EC13B1CBFE9DCD01AB0FED307EAE5")  # type: ignore[attr-defined]
    assert sm.suite.k_mac == H("F1CB1F1FB5ADF208806B89DC579DC1F8")  # type: ignore[attr-defined]
    assert sm.ssc_bytes == H("887022120C06C226")


def test_bac_wrong_key_is_wrong_card_key() -> None:
    bac = BacInitiator(MRZ_INFO, rnd_ifd=RND_IFD, k_ifd=K_IFD)
    bac.authenticate(RND_IC)
    with pytest.raises(WrongCardKey):
        bac.finish(ResponseApdu(b"", 0x6300))


def test_bac_rejects_tampered_card_answer() -> None:
    bac = BacInitiator(MRZ_INFO, rnd_ifd=RND_IFD, k_ifd=K_IFD)
    bac.authenticate(RND_IC)
    bad = bytearray(CARD_RESPONSE)
    bad[0] ^= 1
    with pytest.raises(SecureMessagingError):
        bac.finish(ResponseApdu(bytes(bad), 0x9000))


def test_secure_messaging_worked_example() -> None:
    sm = _bac()
    # SELECT EF.COM
    cmd = sm.wrap(apdu.select_ef(0x011E))
    assert cmd.to_bytes() == H("0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800")
    resp = sm.unwrap(ResponseApdu.from_bytes(H("990290008E08FA855A5D4C50A8ED9000")))
    assert resp == ResponseApdu(b"", 0x9000)
    # READ BINARY of the first four bytes
    cmd = sm.wrap(CommandApdu(0x00, 0xB0, 0x00, 0x00, b"", 4))
    assert cmd.to_bytes() == H("0CB000000D9701048E08ED6705417E96BA5500")
    resp = sm.unwrap(
        ResponseApdu.from_bytes(H("8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000"))
    )
    assert resp.data == H("60145F01")
    # READ BINARY of the remaining 18 bytes from offset 4
    cmd = sm.wrap(CommandApdu(0x00, 0xB0, 0x00, 0x04, b"", 0x12))
    assert cmd.to_bytes() == H("0CB000040D9701128E082EA28A70F3C7B53500")
    resp = sm.unwrap(
        ResponseApdu.from_bytes(
            H(
                "871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787E"
                "AEA07D749000"
            )
        )
    )
    assert resp.data == H("04303130365F36063034303030305C026175")


def test_response_with_bad_mac_is_refused_and_session_closed() -> None:
    sm = _bac()
    sm.wrap(apdu.select_ef(0x011E))
    with pytest.raises(SecureMessagingError):
        sm.unwrap(ResponseApdu.from_bytes(H("990290008E08FA855A5D4C50A8EE9000")))
    assert sm.broken
    with pytest.raises(SecureMessagingError):
        sm.wrap(apdu.select_ef(0x011E))


def test_unprotected_success_is_never_accepted() -> None:
    sm = _bac()
    sm.wrap(apdu.select_ef(0x011E))
    with pytest.raises(SecureMessagingError) as info:
        sm.unwrap(ResponseApdu(b"", 0x9000))
    assert not isinstance(info.value, UnprotectedResponse)


def test_unprotected_error_keeps_the_status_word() -> None:
    sm = _bac()
    sm.wrap(apdu.select_ef(0x011E))
    with pytest.raises(UnprotectedResponse) as info:
        sm.unwrap(ResponseApdu(b"", 0x6988))
    assert info.value.sw == 0x6988


def test_extended_command_encoding() -> None:
    assert CommandApdu(0, 0xB0, 0, 0, b"", 65536).to_bytes() == H("00B00000000000")
    assert CommandApdu(0, 0xB0, 0, 0, b"", 300).to_bytes() == H("00B0000000012C")
    assert CommandApdu(0, 0xB0, 0, 0, b"\x01", 300, True).to_bytes() == H(
        "00B00000000001" "01012C"
    )
    assert CommandApdu(0, 0xB0, 0, 0, b"", 256).to_bytes() == H("00B0000000")
