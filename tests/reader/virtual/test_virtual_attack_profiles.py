"""Every shipped profile, the attack profiles' defects (checked with hashlib, asn1crypto and
cryptography, not the card's code), profile inheritance and the new chip keys."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import unicodedata
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from reader.virtual import pki
from reader.virtual.applet import VirtualCccd
from reader.virtual.faces import faces_dir
from reader.virtual.lds_builder import build_lds
from reader.virtual.profile import (
    ATTACK_KINDS,
    ProfileError,
    list_profiles,
    load_profile,
    milestone_expiry,
)
from reader.virtual.sod_schema import LdsSecurityObject

from .virtual_asn1_walk import decode
from .virtual_terminal import Terminal

TODAY = date(2026, 11, 28)
ATTACKS = [f"attack-{kind}" for kind in ATTACK_KINDS]
GENUINE_NEW = ("do-thu-trang", "vo-minh-tuan")
NUMBERS = {"DG1": 1, "DG2": 2, "DG13": 13, "DG14": 14, "DG15": 15}


def sod_parts(files: dict[str, bytes]):
    """(LDS security object hashes, signer info, DS certificate) of EF.SOD."""
    signed = cms.ContentInfo.load(decode(files["EF.SOD"]).value)["content"]
    lso_der = signed["encap_content_info"]["content"].contents
    lso = LdsSecurityObject.load(lso_der)
    hashes_by_dg = {
        h["data_group_number"].native: h["data_group_hash_value"].native
        for h in lso["data_group_hash_values"]
    }
    (signer_info,) = signed["signer_infos"]
    attrs = {a["type"].native: a["values"][0].native for a in signer_info["signed_attrs"]}
    assert attrs["message_digest"] == hashlib.sha256(lso_der).digest()
    ds = x509.load_der_x509_certificate(signed["certificates"][0].chosen.dump())
    return hashes_by_dg, signer_info, ds


def signing_time(signer_info) -> datetime:
    attrs = {a["type"].native: a["values"][0].native for a in signer_info["signed_attrs"]}
    return attrs["signing_time"]


def signature_holds(signer_info, ds: x509.Certificate) -> bool:
    signed_bytes = b"\x31" + signer_info["signed_attrs"].dump()[1:]
    try:
        ds.public_key().verify(
            signer_info["signature"].native, signed_bytes, ec.ECDSA(hashes.SHA256())
        )
    except InvalidSignature:
        return False
    return True


def mismatched(files: dict[str, bytes]) -> set[str]:
    hashes_by_dg, _, _ = sod_parts(files)
    return {
        name
        for name, number in NUMBERS.items()
        if name in files and hashes_by_dg[number] != hashlib.sha256(files[name]).digest()
    }


def chains_to(ds: x509.Certificate, csca_pem: bytes) -> bool:
    try:
        ds.verify_directly_issued_by(x509.load_pem_x509_certificate(csca_pem))
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


# --- every profile ------------------------------------------------------------------------------


def test_attack_profiles_are_listed() -> None:
    names = list_profiles()
    assert set(ATTACKS) <= set(names)
    assert set(GENUINE_NEW) <= set(names)
    assert names == sorted(names)
    assert not any(n.startswith("attack-") for n in list_profiles(attacks=False))
    assert set(list_profiles(attacks=False)) | set(ATTACKS) == set(names)


def test_module_lists_one_name_per_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reader.virtual", "--list"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.splitlines() == list_profiles()


def test_every_profile_loads_builds_and_answers_select(profiles, built) -> None:
    for name, profile in profiles.items():
        card = VirtualCccd(profile, lds=built[name])
        terminal = Terminal(card)
        assert terminal.select_applet().sw == 0x9000, name
        assert terminal.send("00A4020C02011C").sw == (0x9000 if profile.chip.pace else 0x6A82)
        access = card.access_data()
        assert access["attack"] == (profile.attack.kind if profile.attack else None)
        assert (access["attack"] is not None) == name.startswith("attack-"), name
        assert set(access) == {
            "id_number",
            "document_number",
            "date_of_birth",
            "date_of_expiry",
            "can",
            "mrz",
            "mrz_information",
            "qr",
            "attack",
        }


def test_genuine_profiles_pass_every_check_an_attack_breaks(profiles, built) -> None:
    for name, lds in built.items():
        if profiles[name].attack:
            continue
        _, signer_info, ds = sod_parts(lds.files)
        assert mismatched(lds.files) == set(), name
        assert signature_holds(signer_info, ds) and chains_to(ds, pki.test_csca_pem())
        assert ds.not_valid_before_utc <= signing_time(signer_info) < ds.not_valid_after_utc
        expiry = profiles[name].holder.date_of_expiry
        assert expiry is None or expiry > TODAY, name


@pytest.mark.parametrize("name", GENUINE_NEW)
def test_new_genuine_profiles_are_plausible(name: str) -> None:
    profile = load_profile(name)
    h = profile.holder
    century_sex = 2 * (h.date_of_birth.year // 100 - 19) + (h.sex == "Nữ")
    assert h.id_number[3] == str(century_sex)
    assert h.id_number[4:6] == f"{h.date_of_birth.year % 100:02d}"
    assert h.date_of_expiry == milestone_expiry(h.date_of_birth, h.date_of_issue)
    assert unicodedata.is_normalized("NFC", h.full_name)
    assert (faces_dir() / profile.portrait.file).is_file()


ORIGINAL = {  # access data the reader tests depend on: unchanged by this issue
    "nguyen-van-an": ("001093014275", "093014275793051443305142", "AES-128", "ecdsa"),
    "le-hoang-minh": ("048201007329", "201007329801090394109037", "3DES", "ecdsa"),
    "tran-thi-bich-ngoc": ("079196004518", "196004518096112273611225", "AES-128", "ecdsa"),
    "pham-thi-hong": ("040158006732", "158006732658100889912315", "AES-128", "rsa"),
}


@pytest.mark.parametrize("name", sorted(ORIGINAL))
def test_the_four_original_profiles_keep_their_access_data(name: str) -> None:
    id_number, mrz_information, ca_cipher, aa = ORIGINAL[name]
    profile = load_profile(name)
    access = profile.access_data()
    assert (access["id_number"], access["mrz_information"]) == (id_number, mrz_information)
    assert access["can"] == id_number[-6:] and access["attack"] is None
    chip = profile.chip
    assert (chip.ca_cipher, chip.active_authentication) == (ca_cipher, aa)
    assert chip.pace and chip.bac and chip.chip_authentication
    assert (chip.pace_cipher, chip.pace_parameter_id) == ("AES-128", 13)
    assert chip.pace_passwords == ("can", "mrz")


# --- the attacks --------------------------------------------------------------------------------


def test_portrait_swapped_only_dg2_mismatches(built) -> None:
    attack, genuine = built["attack-portrait-swapped"], built["nguyen-van-an"]
    assert mismatched(attack.files) == {"DG2"}
    impostor = (faces_dir() / "people/obama/obama_small.jpg").read_bytes()
    assert impostor in attack.files["DG2"] and 15_000 < len(impostor) < 30_000
    assert attack.portrait.data == impostor
    for name in ("EF.SOD", "DG1", "DG13", "DG14", "DG15", "EF.COM", "EF.CardAccess"):
        assert attack.files[name] == genuine.files[name], name
    _, signer_info, ds = sod_parts(attack.files)
    assert signature_holds(signer_info, ds) and chains_to(ds, pki.test_csca_pem())


def test_unknown_signer_is_consistent_but_does_not_chain(built) -> None:
    lds = built["attack-unknown-signer"]
    assert mismatched(lds.files) == set()
    _, signer_info, ds = sod_parts(lds.files)
    assert signature_holds(signer_info, ds)
    assert not chains_to(ds, pki.test_csca_pem())
    assert lds.csca is not None and chains_to(ds, lds.csca.certificate_pem)
    assert ds.issuer != x509.load_pem_x509_certificate(pki.test_csca_pem()).subject
    assert ds.not_valid_before_utc <= signing_time(signer_info) < ds.not_valid_after_utc
    # The forger's own chip keys match the DG14/DG15 they signed.
    assert lds.keys.active_authentication.public_key() != (
        built["nguyen-van-an"].keys.active_authentication.public_key()
    )
    genuine_dg1 = built["nguyen-van-an"].files["DG1"]
    assert lds.files["DG1"] == genuine_dg1  # the candidate's name ...
    assert lds.files["DG2"] != built["nguyen-van-an"].files["DG2"]  # ... another face


def test_clone_has_the_genuine_files_but_other_keys(built) -> None:
    clone, genuine = built["attack-clone"], built["nguyen-van-an"]
    assert clone.files == genuine.files
    assert clone.keys.active_authentication.public_key() != (
        genuine.keys.active_authentication.public_key()
    )
    assert clone.keys.chip_authentication.public_key() != (
        genuine.keys.chip_authentication.public_key()
    )


def test_expired_card_is_genuine_and_expired(built, profiles) -> None:
    profile = profiles["attack-expired-card"]
    h = profile.holder
    assert (h.date_of_birth, h.date_of_issue, h.date_of_expiry) == (
        date(2001, 9, 3),
        date(2021, 3, 20),
        date(2026, 9, 3),
    )
    assert h.date_of_expiry < TODAY
    assert h.date_of_expiry == milestone_expiry(h.date_of_birth, h.date_of_issue)
    lds = built["attack-expired-card"]
    assert mismatched(lds.files) == set()
    _, signer_info, ds = sod_parts(lds.files)
    assert signature_holds(signer_info, ds) and chains_to(ds, pki.test_csca_pem())
    mrz = decode(lds.files["DG1"]).child(0x5F1F).value.decode()
    assert mrz[38:44] == "260903"
    assert b"03/09/2026" in lds.files["DG13"]
    assert profile.access_data()["date_of_expiry"] == "2026-09-03"
    # The same holder's current card (le-hoang-minh) is another chip.
    assert lds.files["DG15"] != built["le-hoang-minh"].files["DG15"]


def test_signer_outside_validity(built) -> None:
    lds = built["attack-signer-outside-validity"]
    assert mismatched(lds.files) == set()
    _, signer_info, ds = sod_parts(lds.files)
    assert signature_holds(signer_info, ds) and chains_to(ds, pki.test_csca_pem())
    when = signing_time(signer_info)
    assert when == datetime(2022, 8, 10, 9, 0, tzinfo=UTC)
    assert not ds.not_valid_before_utc <= when < ds.not_valid_after_utc
    csca = x509.load_pem_x509_certificate(pki.test_csca_pem())
    assert csca.not_valid_before_utc <= ds.not_valid_before_utc  # only the DS validity is off
    assert ds.not_valid_after_utc <= csca.not_valid_after_utc


# --- profile inheritance and the new keys --------------------------------------------------------

MINIMAL = """
[card]
base = "nguyen-van-an"
description = "x"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_base_tables_are_merged_key_by_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "child",
        MINIMAL + '[holder]\nfull_name = "Nguyễn Văn Bình"\n[chip]\npace_parameter_id = 17\n',
    )
    child, base = load_profile(path), load_profile("nguyen-van-an")
    assert child.holder.full_name == "Nguyễn Văn Bình"
    assert child.holder.id_number == base.holder.id_number
    assert child.chip.pace_parameter_id == 17
    assert child.chip.advertise_extended is True  # inherited
    assert child.portrait == base.portrait and child.description == "x"
    grandchild = write(tmp_path, "grandchild", '[card]\nbase = "child.toml"\n')
    assert load_profile(grandchild).chip.pace_parameter_id == 17


def test_base_cycles_and_unknown_bases_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "a", '[card]\nbase = "b.toml"\n')
    write(tmp_path, "b", '[card]\nbase = "a.toml"\n')
    with pytest.raises(ProfileError, match="cycle"):
        load_profile(tmp_path / "a.toml")
    with pytest.raises(ProfileError, match="base"):
        load_profile(write(tmp_path, "c", '[card]\nbase = "no-such-card"\n'))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[attack]\nkind = "evil"\n', "kind must be"),
        ('[attack]\nkind = "portrait-swapped"\n', "impostor"),
        ('[attack]\nkind = "signer-outside-validity"\n', "ds_not_before"),
        (
            '[attack]\nkind = "signer-outside-validity"\nds_not_before = 2021-01-01\n'
            "ds_not_after = 2031-01-01\n",
            "exclude",
        ),
        ('[attack]\nkind = "clone"\nwhat = 1\n', "unknown keys"),
        ('[chip]\npace_cipher = "AES-512"\n', "pace_cipher"),
        ('[chip]\nca_cipher = "DES"\n', "ca_cipher"),
        ("[chip]\npace_parameter_id = 2\n", "8..18"),
        ("[chip]\npace_parameter_id = true\n", "wrong type"),
        ('[chip]\npace_passwords = ["pin"]\n', "pace_passwords"),
        ("[chip]\npace_passwords = []\n", "pace_passwords"),
        ('[chip]\nactive_authentication = "dsa"\n', "active_authentication"),
        ("[chip]\nbac = false\npace = false\n", "needs PACE"),
    ],
)
def test_bad_security_settings_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        load_profile(write(tmp_path, "bad", MINIMAL + text))


def test_a_chip_without_aa_and_ca(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bare",
        MINIMAL + '[chip]\nactive_authentication = "none"\nchip_authentication = false\n',
    )
    profile = load_profile(path)
    lds = build_lds(profile)
    assert "DG14" not in lds.files and "DG15" not in lds.files
    assert lds.files["EF.COM"].endswith(bytes.fromhex("5C04 6175636D"))  # DG1, 2, 3, 13
    hashes_by_dg, _, _ = sod_parts(lds.files)
    assert set(hashes_by_dg) == {1, 2, 3, 13}
    card_access = decode(lds.files["EF.CardAccess"])
    assert len(card_access.children()) == 2  # TA and PACE; no ChipAuthenticationInfo
    card = VirtualCccd(profile, lds=lds)
    terminal = Terminal(card)
    terminal.pace(card.access_data()["can"].encode(), 2)
    assert terminal.internal_authenticate(bytes(8)).sw == 0x6D00
    assert terminal.sm(0x22, 0x41, 0xA4, bytes.fromhex("800A04007F00070202030202")).sw == 0x6A80


def test_rsa_aa_without_ca_still_has_no_dg14(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "rsa",
        MINIMAL + '[chip]\nactive_authentication = "rsa"\n'
        "chip_authentication = false\n"
        'seed = "examdesk-virtual-cccd:040158006732"\n',
    )  # pham-thi-hong's: cached
    lds = build_lds(load_profile(path))
    assert "DG14" not in lds.files and "DG15" in lds.files
