"""ICAO 9303-11 Appendix G.1 (from BSI TR-03110): PACE ECDH-GM, brainpoolP256r1, AES-128.

Every value is checked byte for byte (reference §7): the password key, the nonce, the mapping,
the ephemeral keys, the shared secret, the session keys and both tokens, and the APDUs.
"""

from __future__ import annotations

import pytest

from reader.apdu import ResponseApdu
from reader.errors import SecureMessagingError, WrongCardKey
from reader.pace import PaceInitiator, PacePassword, PaceStep, decode_point, encode_point
from reader.security_infos import PaceInfo

H = bytes.fromhex
MRZ_INFO = b"T22000129364081251010318"
INFO = PaceInfo("0.4.0.127.0.7.2.2.4.2.2", 2, 13)

Z = H("95A3A016522EE98D01E76CB6B98B42C3")
S = H("3F00C4D39D153F2B2A214A078D899B22")
SK_MAP_IFD = 0x7F4EF07B9EA82FD78AD689B38D0BC78CF21F249D953BC46F4C6E19259C010F99
PK_MAP_IC = H(
    "04824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F57"
    "30D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C54"
)
H_POINT = (
    0x60332EF2450B5D247EF6D3868397D398852ED6E8CAF6FFEEF6BF85CA57057FD5,
    0x0840CA7415BAF3E43BD414D35AA4608B93A2CAF3A4E3EA4E82C9C13D03EB7181,
)
G_MAPPED = (
    0x8CED63C91426D4F0EB1435E7CB1D74A46723A0AF21C89634F65A9AE87A9265E2,
    0x8C879506743F8611AC33645C5B985C80B5F09A0B83407C1B6A4D857AE76FE522,
)
SK_EPH_IFD = 0xA73FB703AC1436A18E0CFA5ABB3F7BEC7A070E7A6788486BEE230C4A22762595
PK_EPH_IFD = H(
    "042DB7A64C0355044EC9DF190514C625CBA2CEA48754887122F3A5EF0D5EDD301C"
    "3556F3B3B186DF10B857B58F6A7EB80F20BA5DC7BE1D43D9BF850149FBB36462"
)
PK_EPH_IC = H(
    "049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB"
    "7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F094"
)
SHARED = H("28768D20701247DAE81804C9E780EDE582A9996DB4A315020B2733197DB84925")
KS_ENC = H("F5F0E35C0D7161EE6724EE513A0D9A7F")
KS_MAC = H("FE251C7858B356B24514B3BD5F4297D1")
T_IFD = H("C2B0BD78D94BA866")
T_IC = H("3ABB9674BCE93C08")


def _ga(tag: int, value: bytes) -> ResponseApdu:
    body = bytes([tag]) + (bytes([len(value)]) if len(value) < 128 else
                           bytes([0x81, len(value)])) + value
    return ResponseApdu(bytes([0x7C, len(body)]) + body, 0x9000)


def _initiator() -> PaceInitiator:
    scalars = iter([SK_MAP_IFD, SK_EPH_IFD])
    return PaceInitiator(INFO, PacePassword.mrz(MRZ_INFO), random_scalar=lambda n: next(scalars))


def test_password_key_and_nonce() -> None:
    pace = _initiator()
    assert PacePassword.mrz(MRZ_INFO).secret == H("7E2D2A41C74EA0B38CD36F863939BFA8E9032AAD")
    assert pace.password_key() == H("89DED1B26624EC1E634C1989302849DD")
    assert pace.decrypt_nonce(Z) == S


def test_worked_example_byte_for_byte() -> None:
    pace = _initiator()
    assert pace.set_at().to_bytes() == H("0022C1A412800A04007F0007020204020283010184010D")
    assert pace.get_nonce().to_bytes() == H("10860000027C0000")

    ga2 = pace.map_nonce(_ga(0x80, Z))
    pk_map_ifd = ga2.data[4:]
    assert pk_map_ifd[:5] == H("047ACF3EFC") and pk_map_ifd[30:33] == H("C2CC5E")
    assert pk_map_ifd[33:37] == H("544552DC") and pk_map_ifd[-3:] == H("C4922D")
    assert ga2.to_bytes()[:5] == H("1086000045") and ga2.data[:4] == H("7C438141")

    generator_probe = _initiator()
    generator_probe.map_nonce(_ga(0x80, Z))
    mapped = generator_probe.map_generator(decode_point(PK_MAP_IC, pace.curve))
    assert (mapped.x(), mapped.y()) == G_MAPPED
    h = decode_point(PK_MAP_IC, pace.curve) * SK_MAP_IFD
    assert (h.x(), h.y()) == H_POINT

    ga3 = pace.key_agreement(_ga(0x82, PK_MAP_IC))
    assert ga3.data[4:] == PK_EPH_IFD

    ga4 = pace.mutual_auth(_ga(0x84, PK_EPH_IC))
    assert pace.suite is not None
    assert pace.suite.k_enc == KS_ENC  # type: ignore[attr-defined]
    assert pace.suite.k_mac == KS_MAC  # type: ignore[attr-defined]
    assert ga4.to_bytes() == H("008600000C7C0A8508C2B0BD78D94BA86600")
    assert pace.session_suite(SHARED).k_enc == KS_ENC  # type: ignore[attr-defined]

    sm = pace.finish(ResponseApdu.from_bytes(H("7C0A86083ABB9674BCE93C089000")))
    assert sm.ssc == 0 and sm.suite.block == 16
    assert pace.token(PK_EPH_IC) == T_IFD and pace.token(PK_EPH_IFD) == T_IC


def test_wrong_card_token_is_refused() -> None:
    pace = _initiator()
    pace.map_nonce(_ga(0x80, Z))
    pace.key_agreement(_ga(0x82, PK_MAP_IC))
    pace.mutual_auth(_ga(0x84, PK_EPH_IC))
    with pytest.raises(SecureMessagingError):
        pace.finish(_ga(0x86, bytes(8)))


def test_card_refusing_our_token_means_wrong_password() -> None:
    pace = _initiator()
    pace.map_nonce(_ga(0x80, Z))
    pace.key_agreement(_ga(0x82, PK_MAP_IC))
    pace.mutual_auth(_ga(0x84, PK_EPH_IC))
    with pytest.raises(WrongCardKey):
        pace.finish(ResponseApdu(b"", 0x6300))


def test_points_off_the_curve_are_refused() -> None:
    pace = _initiator()
    pace.map_nonce(_ga(0x80, Z))
    bad = bytearray(PK_MAP_IC)
    bad[-1] ^= 1
    with pytest.raises(SecureMessagingError):
        pace.key_agreement(_ga(0x82, bytes(bad)))


def test_reflected_ephemeral_key_is_refused() -> None:
    pace = _initiator()
    pace.map_nonce(_ga(0x80, Z))
    pace.key_agreement(_ga(0x82, PK_MAP_IC))
    with pytest.raises(SecureMessagingError):
        pace.mutual_auth(_ga(0x84, PK_EPH_IFD))


def test_can_password_is_the_ascii_can() -> None:
    # Self-computed in the reference (not a published vector): CAN 123456.
    pace = PaceInitiator(INFO, PacePassword.can("123456"))
    assert pace.password_key() == H("591468CDA83D65219CCCB8560233600F")


def test_point_round_trip() -> None:
    pace = _initiator()
    assert encode_point(decode_point(PK_EPH_IC, pace.curve), pace.curve) == PK_EPH_IC


# --- the state is explicit (issue 12, item 2) -----------------------------------------------------


def test_each_step_moves_the_run_to_a_named_state() -> None:
    pace = _initiator()
    assert (pace.step, pace.suite) == (PaceStep.READY, None)
    pace.map_nonce(_ga(0x80, Z))
    assert pace.step is PaceStep.MAPPING
    pace.key_agreement(_ga(0x82, PK_MAP_IC))
    assert (pace.step, pace.suite) == (PaceStep.AGREEING, None)
    pace.mutual_auth(_ga(0x84, PK_EPH_IC))
    assert pace.step is PaceStep.CONFIRMING and pace.suite is not None
    pace.finish(ResponseApdu.from_bytes(H("7C0A86083ABB9674BCE93C089000")))
    assert pace.step is PaceStep.DONE and pace.suite is not None


def test_a_step_out_of_order_is_refused_before_any_arithmetic() -> None:
    # Before: mutual_auth without key_agreement multiplied by a zero key (the point at
    # infinity, a SecureMessagingError as if the card were at fault) and token() asserted.
    with pytest.raises(RuntimeError, match="key_agreement"):
        _initiator().mutual_auth(_ga(0x84, PK_EPH_IC))
    with pytest.raises(RuntimeError, match="map_nonce"):
        _initiator().key_agreement(_ga(0x82, PK_MAP_IC))
    with pytest.raises(RuntimeError, match="mutual_auth"):
        _initiator().finish(_ga(0x86, bytes(8)))
    with pytest.raises(RuntimeError, match="mutual_auth"):
        _initiator().token(PK_EPH_IC)
    pace = _initiator()
    pace.map_nonce(_ga(0x80, Z))
    with pytest.raises(RuntimeError):  # one run per initiator: no second nonce
        pace.map_nonce(_ga(0x80, Z))
    assert pace.step is PaceStep.MAPPING
