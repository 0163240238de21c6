"""The files the virtual card serves, decoded independently of the card's own encoder."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import struct

from asn1crypto import cms, core, keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from PIL import Image

from reader.virtual import pki
from reader.virtual.faces import faces_dir
from reader.virtual.lds_builder import CARD_ACCESS, build_dg13, build_lds
from reader.virtual.sod_schema import LdsSecurityObject
from reader.virtual.td1 import build_td1, check_digit

from .virtual_asn1_walk import Node, decode

# --- EF.COM, EF.CardAccess, DG1 -------------------------------------------------------------


def test_ef_com_lists_the_real_cards_data_groups(built) -> None:
    com = built["nguyen-van-an"].files["EF.COM"]
    assert com == bytes.fromhex("60185F0104303130375F36063034303030305C066175636D6E6F")


def test_card_access_is_the_real_cards(built) -> None:
    assert built["nguyen-van-an"].files["EF.CardAccess"] == CARD_ACCESS
    root = decode(CARD_ACCESS)
    assert root.tag == 0x31 and len(root.children()) == 3


def test_dg1_holds_a_td1_mrz_whose_check_digits_all_hold(built, profiles) -> None:
    for name, lds in built.items():
        dg1 = decode(lds.files["DG1"])
        assert dg1.tag == 0x61
        mrz = dg1.child(0x5F1F).value.decode("ascii")
        assert len(mrz) == 90
        l1, l2, l3 = mrz[:30], mrz[30:60], mrz[60:]
        holder = profiles[name].holder
        assert l1[:5] == "IDVNM" and l1[5:14] == holder.id_number[3:]
        assert l1[14] == check_digit(l1[5:14])
        assert l1[15:27] == holder.id_number and l1[27:29] == "<<"
        assert l1[29] == check_digit(holder.id_number)
        assert l2[6] == check_digit(l2[0:6]) and l2[14] == check_digit(l2[8:14])
        assert l2[15:18] == "VNM" and l2[18:29] == "<" * 11
        assert l2[29] == check_digit(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29])
        assert l2[7] == ("M" if holder.sex == "Nam" else "F")
        assert "<<" in l3 and all(c == "<" or "A" <= c <= "Z" for c in l3)


def test_td1_reproduces_the_real_cards_in_the_research_notes() -> None:
    from datetime import date

    td1 = build_td1("001093047064", date(1993, 1, 5), "Nam", date(2033, 1, 5), "Ưng Hoàng Hiệp")
    assert td1.lines == (
        "IDVNM0930470641001093047064<<2",
        "9301054M3301052VNM<<<<<<<<<<<8",
        "UNG<<HOANG<HIEP<<<<<<<<<<<<<<<",
    )
    td1 = build_td1("051091005513", date(1991, 1, 1), "Nam", date(2031, 1, 1), "A B")
    assert td1.line1 == "IDVNM0910055134051091005513<<0"
    assert td1.line2 == "9101014M3101012VNM<<<<<<<<<<<8"


def test_no_expiry_is_991231_in_the_mrz(profiles) -> None:
    line2 = profiles["pham-thi-hong"].td1.line2
    assert line2[8:15] == "9912315"


def test_mrz_name_drops_diacritics_and_truncates() -> None:
    from datetime import date

    td1 = build_td1(
        "001093047064", date(1993, 1, 5), "Nam", None, "Đặng Nguyễn Thị Phương Thảo Quỳnh Hương Trà"
    )
    assert td1.line3 == "DANG<<NGUYEN<THI<PHUONG<THAO<Q"


# --- DG2 ------------------------------------------------------------------------------------


def facial_record(dg2: bytes) -> tuple[Node, bytes]:
    root = decode(dg2)
    assert root.tag == 0x75
    group = root.child(0x7F61)
    assert group.child(0x02).value == b"\x01"
    template = group.child(0x7F60)
    return template.child(0xA1), template.child(0x5F2E).value


def test_dg2_header_is_icao_cbeff(built) -> None:
    header, _ = facial_record(built["nguyen-van-an"].files["DG2"])
    fields = {c.tag: c.value for c in header.children()}
    assert fields[0x80] == b"\x01\x01"
    assert fields[0x81] == b"\x02"
    assert fields[0x87] == b"\x01\x01"
    assert fields[0x88] == b"\x00\x08"


def parse_19794_5(record: bytes) -> dict:
    assert record[:8] == b"FAC\x00010\x00"
    record_length, faces = struct.unpack(">IH", record[8:14])
    block_length, points, gender = struct.unpack(">IHB", record[14:21])
    image_type, data_type, width, height, colour, source = struct.unpack(">BBHHBB", record[34:42])
    return {
        "record_length": record_length,
        "faces": faces,
        "block_length": block_length,
        "points": points,
        "gender": gender,
        "image_type": image_type,
        "data_type": data_type,
        "width": width,
        "height": height,
        "colour": colour,
        "source": source,
        "image": record[46:],
    }


def test_dg2_carries_the_photo_bytes_exactly(built, profiles) -> None:
    for name in ("nguyen-van-an", "tran-thi-bich-ngoc", "pham-thi-hong"):
        _, record = facial_record(built[name].files["DG2"])
        face = parse_19794_5(record)
        photo = (faces_dir() / profiles[name].portrait.file).read_bytes()
        assert face["image"] == photo
        assert face["record_length"] == len(record) and face["faces"] == 1
        assert face["block_length"] == len(record) - 14 and face["points"] == 0
        assert face["data_type"] == 0 and face["image_type"] == 1
        with Image.open(io.BytesIO(photo)) as image:
            assert (face["width"], face["height"]) == image.size
        assert face["gender"] == (1 if profiles[name].holder.sex == "Nam" else 2)


def test_tran_thi_bich_ngoc_dg2_is_longer_than_32767(built) -> None:
    assert len(built["tran-thi-bich-ngoc"].files["DG2"]) > 32767
    assert built["tran-thi-bich-ngoc"].files["DG2"][1:2] == b"\x82"


def test_jpeg2000_portrait_is_deterministic_and_decodes(built, profiles) -> None:
    _, record = facial_record(built["le-hoang-minh"].files["DG2"])
    face = parse_19794_5(record)
    assert face["data_type"] == 1
    with Image.open(io.BytesIO(face["image"])) as image:
        assert image.format == "JPEG2000"
        assert image.size == (face["width"], face["height"])
    again = build_lds(profiles["le-hoang-minh"]).files["DG2"]
    assert again == built["le-hoang-minh"].files["DG2"]


# --- DG13 -----------------------------------------------------------------------------------


def dg13_entries(dg13: bytes) -> dict[int, list[Node]]:
    root = decode(dg13)
    assert root.tag == 0x6D
    seq = root.child(0x30)
    version, oid, entries = seq.children()
    assert (version.tag, version.value) == (0x02, b"\x01")
    assert core.ObjectIdentifier.load(oid.header + oid.value).dotted == "1.0.10646.1.0.8"
    assert entries.tag == 0x31
    out: dict[int, list[Node]] = {}
    for entry in entries.children():
        number, *values = entry.children()
        assert number.tag == 0x02
        out[int.from_bytes(number.value, "big")] = values
    return out


def test_dg13_fields_and_string_types(built, profiles) -> None:
    holder = profiles["tran-thi-bich-ngoc"].holder
    entries = dg13_entries(built["tran-thi-bich-ngoc"].files["DG13"])
    text = {n: (v[0].tag, v[0].value.decode("utf-8")) for n, v in entries.items() if n < 13}
    assert text[1] == (0x13, holder.id_number)
    assert text[2] == (0x0C, "Trần Thị Bích Ngọc")
    assert text[3] == (0x13, "22/11/1996")
    assert text[4] == (0x0C, "Nữ")
    assert text[5] == (0x0C, "Việt Nam")
    assert text[9] == (0x0C, holder.place_of_residence)
    assert text[11] == (0x13, "10/08/2022")
    assert text[12] == (0x0C, "22/11/2036")
    assert entries[15][0].tag == 0x13 and entries[15][0].value == b"025849173"
    assert 16 not in entries
    assert sorted(entries) == [*range(1, 16)]


def test_dg13_parents_separate_and_spouse_empty(built) -> None:
    dg13 = built["nguyen-van-an"].files["DG13"]
    entries = dg13_entries(dg13)
    father, mother = entries[13]
    assert father.tag == mother.tag == 0x30
    assert father.child(0x0C).value.decode() == "Nguyễn Văn Hùng"
    assert mother.child(0x0C).value.decode() == "Trần Thị Lan"
    assert entries[14] == []
    assert bytes.fromhex("3003 02010E") in dg13
    assert entries[16][0].value == b"3A7F2C91B04E6D15"


def test_dg13_parents_combined_spouse_and_no_expiry(built) -> None:
    entries = dg13_entries(built["pham-thi-hong"].files["DG13"])
    (both,) = entries[13]
    names = [c.value.decode() for c in both.children()]
    assert [c.tag for c in both.children()] == [0x0C, 0x0C]
    assert names == ["Phạm Văn Đức", "Nguyễn Thị Tâm"]
    (spouse,) = entries[14]
    assert spouse.child(0x0C).value.decode() == "Hoàng Văn Thắng"
    assert entries[12][0].value.decode() == "Không thời hạn"
    assert entries[15][0].value == b"186245913"


def test_dg13_absent_entries_are_left_out(built) -> None:
    entries = dg13_entries(built["le-hoang-minh"].files["DG13"])
    assert 14 not in entries and 15 not in entries and 13 in entries


def test_dg13_long_fields_use_long_lengths(profiles) -> None:
    holder = dataclasses.replace(
        profiles["nguyen-van-an"].holder,
        place_of_residence="Thôn Đông, Xã Phù Đổng, Huyện Gia Lâm, Thành phố Hà Nội, " * 3,
    )
    dg13 = build_dg13(holder)
    residence = dg13_entries(dg13)[9][0]
    assert residence.header[:2] == b"\x0c\x81"
    assert residence.value.decode() == holder.place_of_residence


# --- DG14, DG15 -----------------------------------------------------------------------------


def test_dg14_security_infos(built) -> None:
    lds = built["nguyen-van-an"]
    root = decode(lds.files["DG14"])
    assert root.tag == 0x6E
    infos = {}
    for info in root.child(0x31).children():
        oid_node, *rest = info.children()
        infos[core.ObjectIdentifier.load(oid_node.header + oid_node.value).dotted] = rest
    assert set(infos) == {"0.4.0.127.0.7.2.2.3.2.2", "0.4.0.127.0.7.2.2.1.2", "2.23.136.1.1.5"}
    assert infos["0.4.0.127.0.7.2.2.3.2.2"][0].value == b"\x01"
    spki = infos["0.4.0.127.0.7.2.2.1.2"][0]
    public = keys.PublicKeyInfo.load(spki.header + spki.value)
    assert public["algorithm"]["parameters"].chosen.dotted == "1.3.36.3.3.2.8.1.1.7"
    key = load_der_public_key(spki.header + spki.value)
    assert key == lds.keys.chip_authentication.public_key()


def test_dg15_is_the_active_authentication_key(built) -> None:
    lds = built["nguyen-van-an"]
    root = decode(lds.files["DG15"])
    assert root.tag == 0x6F
    spki = root.children()[0]
    key = load_der_public_key(spki.header + spki.value)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert key == lds.keys.active_authentication.public_key()


def test_chip_keys_differ_between_cards_and_repeat_for_one_card(built, profiles) -> None:
    a, b = built["nguyen-van-an"], built["pham-thi-hong"]
    assert a.files["DG15"] != b.files["DG15"]
    assert build_lds(profiles["nguyen-van-an"]).files == a.files


# --- EF.SOD and the chain -------------------------------------------------------------------


def test_sod_is_signed_cms_over_the_right_hashes(built, profiles) -> None:
    for name, lds in built.items():
        if profiles[name].attack and profiles[name].attack.kind == "portrait-swapped":
            continue  # its DG2 no longer matches: test_virtual_attack_profiles checks that
        if profiles[name].attack and profiles[name].attack.kind == "clone-groups-hidden":
            continue  # DG14 and DG15 taken off the chip: test_data_groups_from_the_sod
        files = lds.files
        root = decode(files["EF.SOD"])
        assert root.tag == 0x77
        content_info = cms.ContentInfo.load(root.value)
        assert content_info["content_type"].native == "signed_data"
        signed = content_info["content"]
        assert signed["encap_content_info"]["content_type"].dotted == "2.23.136.1.1.1"
        lso_der = signed["encap_content_info"]["content"].contents
        lso = LdsSecurityObject.load(lso_der)
        assert lso["version"].native == 0
        assert lso["hash_algorithm"]["algorithm"].native == "sha256"
        hashes_by_dg = {
            h["data_group_number"].native: h["data_group_hash_value"].native
            for h in lso["data_group_hash_values"]
        }
        # A real SOD hashes every data group present, DG3 (behind EAC) too (issue 11, item 8).
        for dg, number in (("DG1", 1), ("DG2", 2), ("DG3", 3), ("DG13", 13), ("DG14", 14),
                           ("DG15", 15)):
            assert hashes_by_dg[number] == hashlib.sha256(files[dg]).digest(), (name, dg)
        assert set(hashes_by_dg) == {1, 2, 3, 13, 14, 15}

        (signer_info,) = signed["signer_infos"]
        attrs = {a["type"].native: a["values"][0].native for a in signer_info["signed_attrs"]}
        assert attrs["content_type"] == "2.23.136.1.1.1"
        assert attrs["message_digest"] == hashlib.sha256(lso_der).digest()
        assert "signing_time" in attrs
        assert signer_info["signature_algorithm"]["algorithm"].native == "sha256_ecdsa"
        (cert_choice,) = signed["certificates"]
        ds_cert = x509.load_der_x509_certificate(cert_choice.chosen.dump())
        sid = signer_info["sid"].chosen
        assert sid["serial_number"].native == ds_cert.serial_number
        signed_bytes = b"\x31" + signer_info["signed_attrs"].dump()[1:]
        ds_cert.public_key().verify(  # raises if the signature is wrong
            signer_info["signature"].native, signed_bytes, ec.ECDSA(hashes.SHA256())
        )


def test_ds_certificate_chains_to_the_test_csca() -> None:
    csca = x509.load_pem_x509_certificate(pki.test_csca_pem())
    ds = pki.default_document_signer().certificate
    ds.verify_directly_issued_by(csca)
    csca.verify_directly_issued_by(csca)
    subject = csca.subject.rfc4514_string()
    assert subject == "CN=examdesk Test CSCA,O=examdesk test,C=VN"
    assert csca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert csca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert str(csca.not_valid_before_utc.date()) == "2020-01-01"
    assert str(csca.not_valid_after_utc.date()) == "2040-01-01"
    assert ds.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == (
        "examdesk Test Document Signer"
    )
    assert ds.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert str(ds.not_valid_before_utc.date()) == "2021-01-01"
    assert str(ds.not_valid_after_utc.date()) == "2031-01-01"


def test_pki_is_deterministic_and_reusable_for_other_signers() -> None:
    from datetime import UTC, datetime

    assert pki.test_csca_pem() == pki.test_csca_pem()
    rogue_csca = pki.make_csca("someone else")
    rogue = pki.make_document_signer(rogue_csca, "someone else")
    assert rogue.certificate.public_key() != pki.default_document_signer().certificate.public_key()
    expired = pki.make_document_signer(
        pki.default_csca(),
        not_before=datetime(2010, 1, 1, tzinfo=UTC),
        not_after=datetime(2011, 1, 1, tzinfo=UTC),
    )
    expired.certificate.verify_directly_issued_by(pki.default_csca().certificate)
    assert (
        expired.certificate.serial_number != pki.default_document_signer().certificate.serial_number
    )


def test_build_lds_with_another_signer(profiles) -> None:
    rogue = pki.make_document_signer(pki.make_csca("rogue"), "rogue")
    lds = build_lds(profiles["nguyen-van-an"], document_signer=rogue)
    signed = cms.ContentInfo.load(decode(lds.files["EF.SOD"]).value)["content"]
    cert = signed["certificates"][0].chosen
    assert cert.dump() == rogue.certificate_der
