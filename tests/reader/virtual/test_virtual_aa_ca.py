"""Active and chip authentication on the virtual CCCD, checked with the public keys the card
publishes in DG14 and DG15 (decoded here with asn1crypto / cryptography, not the card's code)."""

from __future__ import annotations

import hashlib
import os

import pytest
from asn1crypto import core, keys
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_der_public_key,
)

from reader.virtual.applet import VirtualCccd
from reader.virtual.ber import tlv

from .virtual_asn1_walk import decode
from .virtual_terminal import CAN, Terminal, split

ID_CA_ECDH = "0.4.0.127.0.7.2.2.3.2"
ID_PK_ECDH = "0.4.0.127.0.7.2.2.1.2"
ID_AA = "2.23.136.1.1.5"
CA_CIPHERS = {1: "3DES", 2: "AES-128", 3: "AES-192", 4: "AES-256"}
DG1 = 0x0101


def security_infos(dg14: bytes) -> dict[str, list]:
    root = decode(dg14)
    assert root.tag == 0x6E
    out: dict[str, list] = {}
    for info in root.child(0x31).children():
        oid_node, *rest = info.children()
        out[core.ObjectIdentifier.load(oid_node.header + oid_node.value).dotted] = rest
    return out


def ca_parameters(card: VirtualCccd) -> tuple[ec.EllipticCurvePublicKey, str]:
    """The chip-authentication public key and cipher DG14 announces."""
    infos = security_infos(card.files["DG14"])
    (ca_oid,) = [oid for oid in infos if oid.startswith(ID_CA_ECDH + ".")]
    assert infos[ca_oid][0].value == b"\x01"  # version 1
    spki = infos[ID_PK_ECDH][0]
    public = load_der_public_key(spki.header + spki.value)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    return public, CA_CIPHERS[int(ca_oid.rsplit(".", 1)[1])]


def aa_public_key(card: VirtualCccd):
    spki = decode(card.files["DG15"]).children()[0]
    return load_der_public_key(spki.header + spki.value)


def opened(name: str, make_card, *, access: str = "PACE") -> tuple[VirtualCccd, Terminal]:
    card = make_card(name)
    terminal = Terminal(card)
    if access == "PACE":
        terminal.pace(card.access_data()["can"].encode(), CAN)
    else:
        terminal.bac(card.access_data()["mrz_information"])
    return card, terminal


# --- active authentication --------------------------------------------------------------------


def verify_ecdsa_plain(public: ec.EllipticCurvePublicKey, signature: bytes, message: bytes) -> None:
    half = len(signature) // 2
    r, s = int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
    public.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))


def iso9796_2_recover(public: rsa.RSAPublicKey, signature: bytes, m2: bytes) -> bytes:
    """ISO/IEC 9796-2 scheme 1 verification with SHA-1; returns the recovered M1."""
    numbers = public.public_numbers()
    k = (numbers.n.bit_length() + 7) // 8
    f = pow(int.from_bytes(signature, "big"), numbers.e, numbers.n).to_bytes(k, "big")
    assert f[0] == 0x6A, f"header {f[0]:02X}: not partial recovery"
    assert f[-1] == 0xBC, f"trailer {f[-1]:02X}: not SHA-1"
    m1, digest = f[1:-21], f[-21:-1]
    assert hashlib.sha1(m1 + m2).digest() == digest, "the hash does not match"
    return m1


@pytest.mark.parametrize("access", ["PACE", "BAC"])
def test_aa_ecdsa_verifies_with_the_dg15_key(make_card, access: str) -> None:
    card, terminal = opened("nguyen-van-an", make_card, access=access)
    public = aa_public_key(card)
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"
    infos = security_infos(card.files["DG14"])
    version, algorithm = infos[ID_AA]
    assert version.value == b"\x01"
    assert core.ObjectIdentifier.load(algorithm.header + algorithm.value).dotted == (
        "0.4.0.127.0.7.1.1.4.1.3"  # ecdsa-plain-SHA256
    )
    challenge = os.urandom(8)
    answer = terminal.internal_authenticate(challenge)
    assert answer.sw == 0x9000 and len(answer.data) == 64
    verify_ecdsa_plain(public, answer.data, challenge)
    with pytest.raises(InvalidSignature):
        verify_ecdsa_plain(public, answer.data, os.urandom(8))


def test_aa_rsa_iso9796_2_recovers_with_the_dg15_key(make_card) -> None:
    card, terminal = opened("pham-thi-hong", make_card)
    public = aa_public_key(card)
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048
    node = decode(card.files["DG15"]).children()[0]
    spki = keys.PublicKeyInfo.load(node.header + node.value)
    assert spki["algorithm"]["algorithm"].native == "rsa"
    assert ID_AA not in security_infos(card.files["DG14"])  # RSA AA needs no AA info
    challenge = os.urandom(8)
    # 256 signature bytes do not fit a short answer under secure messaging.
    assert terminal.internal_authenticate(challenge).sw == 0x6700
    answer = terminal.internal_authenticate(challenge, extended=True)
    assert answer.sw == 0x9000 and len(answer.data) == 256
    m1 = iso9796_2_recover(public, answer.data, challenge)
    assert len(m1) == 256 - 22
    with pytest.raises(AssertionError, match="hash"):
        iso9796_2_recover(public, answer.data, os.urandom(8))


def test_aa_on_the_clone_does_not_verify(make_card) -> None:
    card, terminal = opened("attack-clone", make_card)
    genuine = make_card("nguyen-van-an")
    assert card.files["DG15"] == genuine.files["DG15"]
    challenge = os.urandom(8)
    answer = terminal.internal_authenticate(challenge)
    assert answer.sw == 0x9000 and len(answer.data) == 64  # well-formed, wrong key
    with pytest.raises(InvalidSignature):
        verify_ecdsa_plain(aa_public_key(card), answer.data, challenge)


def test_aa_needs_secure_messaging_and_eight_bytes(make_card) -> None:
    card = make_card()
    terminal = Terminal(card)
    assert terminal.send("0088000008" + "11" * 8 + "00").sw == 0x6982
    terminal.pace(card.access_data()["can"].encode(), CAN)
    assert terminal.sm(0x88, 0, 0, bytes(7), le=0).sw == 0x6700
    assert terminal.sm(0x88, 1, 0, bytes(8), le=0).sw == 0x6A86


# --- chip authentication ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "access", "key_agreement"),
    [
        ("nguyen-van-an", "PACE", False),  # AES-128: MSE:Set AT + GENERAL AUTHENTICATE
        ("nguyen-van-an", "BAC", False),  # from a 3DES BAC session to AES
        ("le-hoang-minh", "PACE", True),  # 3DES: MSE:Set KAT, from an AES PACE session
        ("le-hoang-minh", "BAC", True),
        ("le-hoang-minh", "PACE", False),  # 3DES through Set AT + GA is accepted too
    ],
)
def test_ca_then_the_card_answers_under_the_new_keys(
    make_card, name: str, access: str, key_agreement: bool
) -> None:
    card, terminal = opened(name, make_card, access=access)
    public, cipher = ca_parameters(card)
    assert cipher == ("3DES" if name == "le-hoang-minh" else "AES-128")
    assert public == card.keys.chip_authentication.public_key()
    old_keys = (terminal.k_enc, terminal.k_mac)
    answer = terminal.chip_authenticate(public, cipher, key_agreement=key_agreement)
    assert answer.sw == 0x9000  # protected with the old keys, and checked by the terminal
    assert answer.data == (b"" if key_agreement else b"\x7c\x00")
    assert (terminal.k_enc, terminal.k_mac) != old_keys and terminal.ssc == 0
    assert card.chip_authenticated and card.sm_session.ssc == 0
    assert terminal.read_file(DG1) == card.files["DG1"]  # MACs check under the new keys
    challenge = os.urandom(8)
    answer = terminal.internal_authenticate(challenge)  # AA after CA, in a short APDU
    verify_ecdsa_plain(aa_public_key(card), answer.data, challenge)


def test_ca_on_the_clone_breaks_secure_messaging(make_card) -> None:
    card, terminal = opened("attack-clone", make_card)
    genuine = make_card("nguyen-van-an")
    assert card.files["DG14"] == genuine.files["DG14"]
    public, cipher = ca_parameters(card)
    assert terminal.chip_authenticate(public, cipher).sw == 0x9000  # still the old keys
    assert card.sm_session.suite.k_mac != terminal.k_mac
    # The card cannot check the terminal's MAC, the terminal could not check the card's: the
    # card answers a plain 6988 and drops the session.
    answer = terminal.sm(0xA4, 0x02, 0x0C, b"\x01\x01")
    assert answer.raw == b"\x69\x88" and card.sm_session is None


def test_ca_on_the_clone_response_mac_fails_at_the_terminal(make_card) -> None:
    """Seen from the other side: a response the clone protects with its keys fails the MAC
    check of a terminal holding the keys the genuine chip would have derived."""
    card, terminal = opened("attack-clone", make_card)
    public, cipher = ca_parameters(card)
    terminal.chip_authenticate(public, cipher)
    session = card.sm_session
    forged = session.wrap(b"\x60\x14", 0x9000, odd=False) + b"\x90\x00"
    with pytest.raises(AssertionError, match="response MAC"):
        terminal.unprotect(split(forged))


@pytest.mark.parametrize(
    ("p2", "data", "sw"),
    [
        (0xA4, tlv(0x80, bytes.fromhex("04007F00070202030204")), 0x6A80),  # AES-256: not in DG14
        (0xA4, tlv(0x80, bytes.fromhex("04007F00070202030202")) + tlv(0x84, b"\x01"), 0x6A88),
        (0xA4, b"", 0x6A80),
        (0xA4, b"\x80\x05\x00", 0x6A80),  # malformed
        (0xA6, tlv(0x91, b"\x04" + bytes(64)), 0x6A80),  # Set KAT is 3DES only
        (0xB6, tlv(0x80, bytes.fromhex("04007F00070202030202")), 0x6A86),
    ],
)
def test_ca_set_at_errors(make_card, p2: int, data: bytes, sw: int) -> None:
    card, terminal = opened("nguyen-van-an", make_card)
    assert terminal.sm(0x22, 0x41, p2, data).sw == sw
    assert card.sm_session is not None and not card.chip_authenticated


@pytest.mark.parametrize(
    "point",
    [
        lambda p: p[:-1] + bytes([p[-1] ^ 1]),
        lambda p: b"\x04" + bytes(64),
        lambda p: p[:33],
        lambda p: b"\x03" + p[1:33],  # compressed form is not used by CA
    ],
    ids=["off-curve", "zero", "short", "compressed"],
)
@pytest.mark.parametrize("name", ["nguyen-van-an", "le-hoang-minh"])
def test_ca_rejects_points_off_the_curve(make_card, point, name: str) -> None:
    card, terminal = opened(name, make_card)
    public, cipher = ca_parameters(card)
    good = (
        ec.generate_private_key(public.curve)
        .public_key()
        .public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    )
    if cipher == "3DES":
        answer = terminal.sm(0x22, 0x41, 0xA6, tlv(0x91, point(good)))
    else:
        mse = terminal.sm(0x22, 0x41, 0xA4, tlv(0x80, bytes.fromhex("04007F00070202030202")))
        assert mse.sw == 0x9000
        answer = terminal.sm(0x86, 0, 0, tlv(0x7C, tlv(0x80, point(good))), le=0)
    assert answer.sw == 0x6A80  # protected: the old session lives on
    assert not card.chip_authenticated
    assert terminal.read_file(DG1) == card.files["DG1"]


def test_ca_needs_a_session_and_a_set_at(make_card) -> None:
    card = make_card()
    terminal = Terminal(card)
    assert terminal.send("002241A40C800A04007F00070202030202").sw == 0x6982
    terminal.pace(card.access_data()["can"].encode(), CAN)
    assert terminal.sm(0x86, 0, 0, tlv(0x7C, tlv(0x80, b"\x04" + bytes(64))), le=0).sw == 0x6985


def test_card_access_and_dg14_announce_the_same_chip_authentication(profiles, built) -> None:
    for name, lds in built.items():
        chip = profiles[name].chip
        if name == "attack-clone-groups-hidden":
            continue  # a clone that hides DG14 on purpose (issue 11, item 2)
        dg14_ca = {oid for oid in security_infos(lds.files["DG14"]) if oid.startswith(ID_CA_ECDH)}
        arc = {cipher: arc for arc, cipher in CA_CIPHERS.items()}[chip.ca_cipher]
        assert dg14_ca == {f"{ID_CA_ECDH}.{arc}"}, name
        if not chip.pace:
            assert "EF.CardAccess" not in lds.files
            continue
        card_access = decode(lds.files["EF.CardAccess"])
        oids = set()
        for info in card_access.children():
            node = info.children()[0]
            oids.add(core.ObjectIdentifier.load(node.header + node.value).dotted)
        assert "0.4.0.127.0.7.2.2.2" in oids  # TerminalAuthenticationInfo, like the real card
        assert {o for o in oids if o.startswith(ID_CA_ECDH)} == dg14_ca, name
        assert any(o.startswith("0.4.0.127.0.7.2.2.4.2.") for o in oids), name
