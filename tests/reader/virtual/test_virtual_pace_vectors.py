"""The card side of PACE and AES secure messaging against published values.

- ICAO Doc 9303-11 Appendix G.1 (from BSI TR-03110): PACE ECDH-GM, brainpoolP256r1, AES-128,
  replayed byte for byte from the chip's side (research notes §7; the APDUs as in gmrtd's
  ``pace/pace_test.go``, ``TestDoPace_GM_ECDH``). SK_eph,IC is the worked example's chip key:
  it reproduces the published PK_eph,IC (checked below).
- A New Zealand passport's PACE-GM-3DES exchange and a German chip's PACE (CAM) exchange with
  AES secure messaging, from the same gmrtd test file: the terminal's half is replayed with its
  published private keys; the card's KDF, tokens and AES secure messaging must give the
  published keys and bytes.
"""

from __future__ import annotations

import hashlib

import pytest

from reader.virtual.applet import EmrtdApplet
from reader.virtual.command import parse_command
from reader.virtual.domain_params import STANDARD_DOMAINS
from reader.virtual.lds_builder import CARD_ACCESS
from reader.virtual.pace_responder import PaceConfig
from reader.virtual.profile import ChipSettings
from reader.virtual.secure_channel import SmSession
from reader.virtual.security_infos import (
    PASSWORD_MRZ,
    build_card_access,
    pace_oid,
    public_key_data_object,
)
from reader.virtual.sm_crypto import CIPHERS, AesSuite
from reader.virtual.td1 import check_digit

from .virtual_terminal import MRZ, Answer, Terminal, mrz_password, split

# --- ICAO 9303-11 Appendix G.1 -------------------------------------------------------------

G1_MRZ = "T22000129364081251010318"  # T22000129 / 640812 / 101031 with check digits
G1_K = "7E2D2A41C74EA0B38CD36F863939BFA8E9032AAD"
G1_K_PI = "89DED1B26624EC1E634C1989302849DD"
G1_S = bytes.fromhex("3F00C4D39D153F2B2A214A078D899B22")
G1_SK_MAP_IC = bytes.fromhex("498FF49756F2DC1587840041839A85982BE7761D14715FB091EFA7BCE9058560")
G1_SK_EPH_IC = bytes.fromhex("107CF58696EF6155053340FD633392BA81909DF7B9706F226F32086C7AFF974A")
G1_PK_MAP_IFD = (
    "047ACF3EFC982EC45565A4B155129EFBC74650DCBFA6362D896FC70262E0C2CC5E"
    "544552DCB6725218799115B55C9BAA6D9F6BC3A9618E70C25AF71777A9C4922D"
)
G1_PK_MAP_IC = (
    "04824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F57"
    "30D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C54"
)
G1_MAPPED_G = (
    "048CED63C91426D4F0EB1435E7CB1D74A46723A0AF21C89634F65A9AE87A9265E2"
    "8C879506743F8611AC33645C5B985C80B5F09A0B83407C1B6A4D857AE76FE522"
)
G1_PK_EPH_IFD = (
    "042DB7A64C0355044EC9DF190514C625CBA2CEA48754887122F3A5EF0D5EDD301C"
    "3556F3B3B186DF10B857B58F6A7EB80F20BA5DC7BE1D43D9BF850149FBB36462"
)
G1_PK_EPH_IC = (
    "049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB"
    "7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F094"
)
G1_SHARED = "28768D20701247DAE81804C9E780EDE582A9996DB4A315020B2733197DB84925"
G1_KS_ENC = "F5F0E35C0D7161EE6724EE513A0D9A7F"
G1_KS_MAC = "FE251C7858B356B24514B3BD5F4297D1"
G1_EXCHANGE = [
    ("10860000027C0000", "7C12801095A3A016522EE98D01E76CB6B98B42C39000"),
    ("10860000457C438141" + G1_PK_MAP_IFD + "00", "7C438241" + G1_PK_MAP_IC + "9000"),
    ("10860000457C438341" + G1_PK_EPH_IFD + "00", "7C438441" + G1_PK_EPH_IC + "9000"),
    ("008600000C7C0A8508C2B0BD78D94BA86600", "7C0A86083ABB9674BCE93C089000"),
]
MSE_WITH_84 = "0022C1A412800A04007F0007020204020283010184010D"  # research notes §7
MSE_WITHOUT_84 = "0022C1A40F800A04007F00070202040202830101"  # gmrtd: DO'84' left out


def scripted_rng(*chunks: bytes):
    queue = list(chunks)

    def rng(n: int) -> bytes:
        chunk = queue.pop(0)
        assert len(chunk) == n, (len(chunk), n)
        return chunk

    return rng


def g1_card() -> EmrtdApplet:
    # The chip draws the nonce s, then SK_map,IC, then SK_eph,IC.
    return EmrtdApplet(
        {"EF.CardAccess": CARD_ACCESS},
        G1_MRZ,
        chip=ChipSettings(),
        rng=scripted_rng(G1_S, G1_SK_MAP_IC, G1_SK_EPH_IC),
    )


def test_g1_chip_keys_are_the_worked_examples() -> None:
    domain = STANDARD_DOMAINS[13]
    mapped = domain.decode_point(bytes.fromhex(G1_MAPPED_G))
    sk_eph = int.from_bytes(G1_SK_EPH_IC, "big")
    assert domain.encode_point(mapped * sk_eph).hex().upper() == G1_PK_EPH_IC
    sk_map = int.from_bytes(G1_SK_MAP_IC, "big")
    assert domain.encode_point(domain.generator * sk_map).hex().upper() == G1_PK_MAP_IC


def test_g1_password_key() -> None:
    config = PaceConfig(CIPHERS["AES-128"], 13, frozenset({PASSWORD_MRZ}), G1_MRZ, "")
    assert config.password(PASSWORD_MRZ).hex().upper() == G1_K
    assert CIPHERS["AES-128"].kdf(config.password(PASSWORD_MRZ), 3).hex().upper() == G1_K_PI


@pytest.mark.parametrize("mse", [MSE_WITH_84, MSE_WITHOUT_84])
def test_g1_worked_example_byte_for_byte(mse: str) -> None:
    card = g1_card()
    assert card.process(bytes.fromhex(mse)) == b"\x90\x00"
    for command, expected in G1_EXCHANGE:
        assert card.process(bytes.fromhex(command)).hex().upper() == expected, command

    result = card.pace_result
    assert result is not None
    assert result.nonce == G1_S
    assert result.mapped_generator.hex().upper() == G1_MAPPED_G
    assert result.shared_secret.hex().upper() == G1_SHARED
    assert result.k_enc.hex().upper() == G1_KS_ENC
    assert result.k_mac.hex().upper() == G1_KS_MAC
    session = card.sm_session
    assert session is not None and session.ssc == 0 and session.ssc_bytes() == bytes(16)
    assert isinstance(session.suite, AesSuite)
    assert (session.suite.k_enc, session.suite.k_mac) == (result.k_enc, result.k_mac)
    assert card.access_control == "PACE"


def test_g1_wrong_terminal_token_is_6300_and_no_session() -> None:
    card = g1_card()
    card.process(bytes.fromhex(MSE_WITH_84))
    for command, expected in G1_EXCHANGE[:3]:
        assert card.process(bytes.fromhex(command)).hex().upper() == expected
    assert card.process(bytes.fromhex("008600000C7C0A8508C2B0BD78D94BA86700")) == b"\x63\x00"
    assert card.sm_session is None and card.pace_result is None
    # The attempt is over: a fourth step again is out of sequence.
    assert card.process(bytes.fromhex(G1_EXCHANGE[3][0])) == b"\x69\x85"


def test_g1_token_input_is_the_public_key_data_object() -> None:
    data = public_key_data_object(pace_oid(CIPHERS["AES-128"]), bytes.fromhex(G1_PK_EPH_IC))
    # gmrtd TestBuild7F49: the data T_IFD is computed over.
    assert data.hex().upper() == "7F494F060A04007F00070202040202864104" + G1_PK_EPH_IC[2:]
    assert CIPHERS["AES-128"].token(bytes.fromhex(G1_KS_MAC), data).hex().upper() == (
        "C2B0BD78D94BA866"
    )


def test_the_cccd_card_access_is_what_the_defaults_build() -> None:
    aes128 = CIPHERS["AES-128"]
    assert build_card_access(aes128, 13, aes128) == CARD_ACCESS


# --- replays of published terminal transcripts ----------------------------------------------


class Replay:
    """A 'card' that checks each command against a capture and answers the captured bytes."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = [(bytes.fromhex(c), bytes.fromhex(r)) for c, r in pairs]

    def process(self, apdu: bytes) -> bytes:
        command, answer = self.pairs.pop(0)
        assert apdu == command, f"{apdu.hex()} != {command.hex()}"
        return answer


def mrz_information(document: str, dob: str, expiry: str) -> str:
    document = document.ljust(9, "<")
    return "".join(f + check_digit(f) for f in (document, dob, expiry))


NZ_3DES = [
    ("0022c1a40f800a04007f00070202040201830101", "9000"),
    ("10860000027c0000", "7c128010b88382812290017af1cc906ff00e7f4d9000"),
    (
        "10860000457c438141047706b2b6246ab4612229b8a11212ddba7fea0568c9c0975dee22c0e3dd3a3f0321e8a"
        "fee836e373b570d24000d56fb195104d486e63321ff8c819dd5ee018dcb00",
        "7c43824104780b4edec9b926f9f964fad826d9990a667608d96ba7b397ae8609b6533e0d036d148365ddf4e5f"
        "f6611c2b62aa17fc9899f327bc929db543e7abd0ee724e4be9000",
    ),
    (
        "10860000457c43834104507a0156efae8fb8acc519036c0b2fe0393c878744c7f91878ee4e07a41412ba5c075"
        "3d68a44a91e9f57f3f992ab689e6c2065d3b2a27c3658a4fd632931ee3800",
        "7c438441042dbaf62e6fdfb31eb66f206493b9e7721586f0e5c93754d7bd5a884ca251ee4d720ab539a60561b"
        "c46812fa289b58ac69f0c6e32adbaf7241049a31211f80f5b9000",
    ),
    ("008600000c7c0a85088d7c617d43efe09e00", "7c0a8608cb57047c809079f69000"),
]


def test_3des_pace_primitives_against_a_real_passport() -> None:
    """gmrtd TestDoPace_GM_ECDH_TDES_CBC_NZ: the terminal's half replayed; the card's 3DES
    KDF, nonce encryption and tokens must agree with the chip that answered."""
    terminal = Terminal(Replay(NZ_3DES))
    scalars = iter(
        int(k, 16)
        for k in (
            "2808272c0ec20e01a3450030ef32855e9feb5cb17719e985389b1cf47609e69f",
            "8f89449052df6c7983750c7b042c3cea12b36819174424c7cd28153f7b70b402",
        )
    )
    mrz = mrz_information("LM277954", "781214", "271115")
    pace = terminal.pace(
        mrz_password(mrz), MRZ, cipher="3DES", send_parameter_id=False, scalars=scalars
    )
    tdes = CIPHERS["3DES"]
    assert tdes.kdf(pace.shared_secret, 1).hex() == "430e4c8c38dfefaed92067b919a897f8"
    assert tdes.kdf(pace.shared_secret, 2).hex() == "c1bc1f075797b970b5a45e64a764b0cb"
    k_pi = tdes.kdf(hashlib.sha1(mrz.encode()).digest(), 3)
    assert tdes.encrypt_nonce(k_pi, pace.nonce).hex() == "b88382812290017af1cc906ff00e7f4d"
    pk_eph_ifd = NZ_3DES[3][0][18:-2]
    t_ic = tdes.token(pace.k_mac, public_key_data_object(pace_oid(tdes), bytes.fromhex(pk_eph_ifd)))
    assert t_ic.hex() == "cb57047c809079f6"


DE_CAM = [
    ("0022c1a40f800a04007f00070202040602830101", "9000"),
    ("10860000027c0000", "7c1280109bff93e6ed9f5f9764ec0d783d14fb039000"),
    (
        "10860000457c43814104303f340815eea501772393e299a4a6f6694600189c249c63a8513ff3fefa66e346d11"
        "970b5f76fb564c3b0e54b215528f647ec5a9ab209cdbe262e763d6119a100",
        "7c4382410476dc295c4fb14237d87318d70967e25ec45f74d6fd4aff588c90efb3d868f05b450ba6b64967227"
        "c2246dbe2905522c8086dac7f3bbe5cf3b192f0a0c2d97ee59000",
    ),
    (
        "10860000457c438341048442b191ef5346a6b6dacb6cd5728c4a72f0ca7aecdf7afdfb3ef175e12a6f7c74f50"
        "9af768b8dbe2cf42d16c1f00714691d78a19cdf1b493390d1173785f2b700",
        "7c438441042315ae8143f21de15b35f083cfa148c5fcbd9f2eb9dcdc4519bcf337443e79e55b28a5e218fb919"
        "c30880d263e469645ff114c46ed29918910be3453527d21649000",
    ),
    (
        "008600000c7c0a8508fee088a4d7be1b7f00",
        "7c3c860819a2b9192e11512a8a30b3ae8830311b1d5605777f47cb4ed028346cd00105d32859de127da3d8398"
        "865358f26f08ebe410864eaf6e39f33f3f59000",
    ),
]
DE_SM = [  # the first protected commands after PACE, SSC from 0
    (
        "0ca4020c1d87110147ee2e3bd440fb596167f2bb6cd6395e8e08a105747484314bcf00",
        "990290008e085f570baddd1002d29000",
    ),
    (
        "0cb000000d9701048e085d283ec183cbb99800",
        "871101d688d27a6d16f03619e76dcb59c1f1ec990290008e08b7df9a5982bb17299000",
    ),
]


def test_aes_secure_messaging_against_a_real_chip() -> None:
    """gmrtd TestDoPace_CAM_ECDH_DE: PACE (its mapping is the Generic Mapping's) gives the
    published keys; then the card's AES secure messaging unwraps the captured commands and
    rebuilds the captured responses byte for byte."""
    terminal = Terminal(Replay(DE_CAM))
    scalars = iter(
        int(k, 16)
        for k in (
            "01fd26013f5bc41fad8bb09811e435f16fbe2eb3c2e1d999b0f63da8c3d58bb5",
            "1fcd3d8ac4fae3960a14fea2925d75add335f13b248eba192358dded93a89552",
        )
    )
    mrz = mrz_information("C4KHNY1PF", "780214", "330315")
    cam_oid = bytes.fromhex("04007F00070202040602")  # id-PACE-ECDH-CAM-AES-CBC-CMAC-128
    pace = terminal.pace(
        mrz_password(mrz), MRZ, send_parameter_id=False, protocol_oid=cam_oid, scalars=scalars
    )
    aes = CIPHERS["AES-128"]
    assert aes.kdf(pace.shared_secret, 1).hex() == "a8e85e938514ec67ae33cda3d43d3c48"
    assert aes.kdf(pace.shared_secret, 2).hex() == "27f1adeb705a049a305b0c619b14b9b3"

    card_side = SmSession(aes.suite(pace.k_enc, pace.k_mac), 0)
    for command_hex, response_hex in DE_SM:
        command, response = bytes.fromhex(command_hex), bytes.fromhex(response_hex)
        inner = card_side.unwrap(parse_command(command))  # raises if the MAC were wrong
        terminal_side = terminal.protect(inner.ins, inner.p1, inner.p2, inner.data, inner.ne)
        assert terminal_side == command
        plain = terminal.unprotect(split(response))
        assert isinstance(plain, Answer) and plain.sw == 0x9000
        assert card_side.wrap(plain.data, plain.sw, odd=False) + b"\x90\x00" == response
    assert card_side.ssc == terminal.ssc == 4
