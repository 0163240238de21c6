"""Signed rosters: a fresh one validates; any changed byte or appended update is caught; an
untrusted signer is reported; wrong passwords and damaged key files are typed errors."""

from __future__ import annotations

import binascii
import io
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from asn1crypto import cms
from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from proctoring.checkins import record_override
from proctoring.models import Decision
from proctoring.store import Store
from reports.errors import KeyFilesExist, PasswordTooShort, SigningKeyUnreadable, WrongKeyPassword
from reports.keys import CreatedKeys, create_centre_keys, load_pkcs12
from reports.layout import Words, catalog_words
from reports.roster import RosterPdf, roster_pdf
from reports.signing import load_signer, sign_pdf
from reports.verify import ContentStatus, Integrity, TrustRoots, load_trust_roots, verify_roster

from . import builders
from .conftest import PASSWORD, open_store, pdftoppm


@dataclass
class Signed:
    store: Store
    built: builders.Built
    unsigned: RosterPdf
    data: bytes
    roots: TrustRoots


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, centre_keys: CreatedKeys
           ) -> Iterator[Signed]:
    folder = tmp_path_factory.mktemp("signed")
    store = open_store(folder)
    built = builders.online_exam(store, people=6)
    words = catalog_words("vi")
    made = roster_pdf(store, built.session.code, words)
    data = sign_pdf(made.data, load_signer(centre_keys.signer_p12, PASSWORD), words,
                    reason="Xác nhận danh sách dự thi", location="Hà Nội")
    roots = load_trust_roots(key_folder=centre_keys.folder, trust_folder=folder / "none")
    yield Signed(store, built, made, data, roots)
    store.close()


def test_a_fresh_signed_roster_validates(signed: Signed) -> None:
    r = verify_roster(signed.data, roots=signed.roots, store=signed.store)
    assert (r.signed, r.valid, r.modified, r.trusted, r.ok) == (True, True, False, True, True)
    assert r.integrity is Integrity.INTACT
    assert r.signer is not None and r.signer.common_name == "Trung tâm Khảo thí Hà Nội"
    assert r.signing_time is not None
    assert abs(r.signing_time - datetime.now(UTC)) < timedelta(minutes=5)
    assert r.content.status is ContentStatus.MATCH
    assert r.content.content_hash == signed.unsigned.content_hash
    assert r.content.session_code == signed.built.session.code


def test_the_unsigned_roster_is_reported_unsigned(signed: Signed) -> None:
    r = verify_roster(signed.unsigned.data, roots=signed.roots, store=signed.store)
    assert (r.signed, r.integrity, r.ok) == (False, Integrity.UNSIGNED, False)
    assert r.content.status is ContentStatus.MATCH  # the facts still match the database


def _flip(data: bytes, pos: int) -> bytes:
    changed = bytearray(data)
    old = changed[pos]
    # Keep hex digits hex and digits digits: the change must be subtle, not a parse error.
    changed[pos] = (ord("1") if old != ord("1") else ord("2")) if chr(old).isalnum() \
        else old ^ 0x01
    return bytes(changed)


def test_any_changed_byte_is_detected(signed: Signed) -> None:
    data = signed.data
    contents = re.search(rb"/Contents <([0-9a-fA-F]+)>", data)
    assert contents is not None
    start, end = contents.span(1)
    stream = data.index(b"stream", len(data) // 3)
    positions = sorted({*range(0, len(data), max(1, len(data) // 23)),
                        start + 20, end - 4,  # the CMS blob, and its zero padding
                        stream + 40,  # inside a compressed stream
                        data.rindex(b"startxref") + 12, len(data) - 3})
    for pos in positions:
        r = verify_roster(_flip(data, pos), roots=signed.roots)
        assert r.modified, (pos, r.integrity, r.detail)
        assert not r.ok


def _unsigned_cms_fields(der: bytes) -> list[int]:
    """Byte offsets in the CMS blob of the fields no signature covers: the versions, the
    digest algorithm list, the content type, each embedded certificate's names and key
    identifiers, the signer's identifier and algorithms (CI found a flipped byte in the CA
    copy's issuer name that passed as intact)."""
    signed_data = cms.ContentInfo.load(der)["content"]
    info = signed_data["signer_infos"][0]
    fields = [signed_data["version"], signed_data["digest_algorithms"],
              signed_data["encap_content_info"], info["version"], info["sid"],
              info["digest_algorithm"], info["signature_algorithm"]]
    for cert in signed_data["certificates"]:
        tbs = cert.chosen["tbs_certificate"]
        fields += [tbs["issuer"], tbs["subject"], tbs["extensions"]]
    offsets = set()
    for value in fields:
        encoded = value.dump()
        at = der.index(encoded)
        # the tag, the first content byte, the last byte (an OID's last arc, a NULL, a name)
        offsets |= {at, at + len(encoded) - len(value.contents), at + len(encoded) - 1}
    return sorted(offsets)


def test_a_changed_byte_in_the_unsigned_part_of_the_signature_is_detected(
        signed: Signed) -> None:
    data = signed.data
    contents = re.search(rb"/Contents <([0-9a-fA-F]+)>", data)
    assert contents is not None
    start = contents.start(1)
    der = binascii.unhexlify(contents.group(1))
    der = der[:len(cms.ContentInfo.load(der).dump())]
    for offset in _unsigned_cms_fields(der):
        for nibble in (0, 1):
            pos = start + 2 * offset + nibble
            r = verify_roster(_flip(data, pos), roots=signed.roots)
            assert r.modified, (offset, nibble, r.integrity, r.detail)


def test_an_appended_incremental_update_is_detected(signed: Signed) -> None:
    """The update swaps the embedded facts for doctored ones and renames a candidate in the
    document information: still reported modified, and the content check reads the signed
    revision, so the doctored facts are not believed."""
    writer = IncrementalPdfFileWriter(io.BytesIO(signed.data), strict=False)
    info = writer.trailer["/Info"].get_object() if "/Info" in writer.trailer else None
    if info is not None:
        info["/Title"] = generic.TextStringObject("Danh sách đã sửa")
        writer.update_container(info)
    names = writer.root["/Names"]["/EmbeddedFiles"]["/Names"]
    spec = names[1].get_object()
    stream = spec["/EF"]["/F"].get_object()
    stream._data = stream.data.replace("Trần Minh Khôi".encode(), "Trần Minh Khải".encode())
    stream._encoded_data = None
    writer.update_container(stream)
    out = io.BytesIO()
    writer.write(out)
    tampered = out.getvalue()
    assert tampered.startswith(signed.data) and len(tampered) > len(signed.data)
    r = verify_roster(tampered, roots=signed.roots, store=signed.store)
    assert r.modified and r.integrity is Integrity.APPENDED
    assert r.valid  # the signature over the original revision still holds
    assert not r.ok
    assert r.content.status is ContentStatus.MATCH  # the signed revision's facts, not the new
    # Plain bytes appended after %%EOF are caught as well.
    r = verify_roster(signed.data + b"\n% added later\n", roots=signed.roots)
    assert r.modified and not r.ok


def test_untrusted_signer_is_reported(signed: Signed, stranger_keys: CreatedKeys) -> None:
    words = catalog_words("vi")
    data = sign_pdf(signed.unsigned.data, load_signer(stranger_keys.signer_p12, PASSWORD), words)
    r = verify_roster(data, roots=signed.roots, store=signed.store)
    assert r.valid and not r.modified
    assert not r.trusted and not r.ok
    assert r.trust_problem is not None
    assert r.signer is not None and r.signer.common_name == "Trung tâm Không Rõ"
    # Told to trust that CA, the same file is fine.
    trusting = load_trust_roots(key_folder=stranger_keys.folder,
                                trust_folder=Path("/nonexistent"))
    assert verify_roster(data, roots=trusting, store=signed.store).trusted


def test_a_changed_database_contradicts_the_roster(tmp_path: Path, centre_keys: CreatedKeys,
                                                   vi: Words) -> None:
    store = open_store(tmp_path)
    try:
        built = builders.online_exam(store, people=5)
        made = roster_pdf(store, built.session.code, vi)
        data = sign_pdf(made.data, load_signer(centre_keys.signer_p12, PASSWORD), vi)
        admitted = built.checkins[(0, None)].checkin
        record_override(store, admitted.id, decision=Decision.REJECT,
                        reason="Đổi sau khi đã in", operator_id=None, actor="test")
        roots = load_trust_roots(key_folder=centre_keys.folder, trust_folder=tmp_path / "x")
        r = verify_roster(data, roots=roots, store=store)
    finally:
        store.close()
    assert r.valid and not r.modified and r.trusted
    assert r.content.status is ContentStatus.MISMATCH and not r.ok
    fields = {(d.position, d.field) for d in r.content.differences}
    assert (1, "status") in fields and (1, "checkin.decision") in fields
    assert (None, "totals.admitted") in fields


def test_the_signature_box_is_drawn_where_the_layout_left_it(signed: Signed,
                                                             tmp_path: Path) -> None:
    from pyhanko.sign.fields import enumerate_sig_fields

    reader = PdfFileReader(io.BytesIO(signed.data))
    (name, value, ref), = list(enumerate_sig_fields(reader))
    assert name == "Signature" and value is not None
    x1, y1, x2, y2 = (float(v) for v in ref.get_object()["/Rect"])
    path = tmp_path / "s.pdf"
    path.write_bytes(signed.data)
    pages = signed.unsigned.pages
    page = pdftoppm(path, tmp_path / "s", dpi=72, first=pages)[0]
    with Image.open(page) as im:
        height = im.height
        box = im.convert("RGB").crop((int(x1) + 2, int(height - y2) + 2, int(x2) - 2,
                                      int(height - y1) - 2))
        rgb = np.asarray(box, dtype=np.int16)
        r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        greens = int(((g > r + 25) & (g > b + 10) & (g < 150)).sum())
    assert greens > 50  # the stamp's green text and frame are inside the field's box


def test_wrong_password_and_damaged_key_files_are_typed(centre_keys: CreatedKeys,
                                                        tmp_path: Path) -> None:
    with pytest.raises(WrongKeyPassword) as info:
        load_signer(centre_keys.signer_p12, b"not the password")
    assert info.value.key == "reports.key_password"
    not_p12 = tmp_path / "x.p12"
    not_p12.write_bytes(b"%PDF-1.7 surely not a key")
    with pytest.raises(SigningKeyUnreadable) as other:
        load_signer(not_p12, PASSWORD)
    assert not isinstance(other.value, WrongKeyPassword)
    with pytest.raises(SigningKeyUnreadable):
        load_signer(tmp_path / "missing.p12", PASSWORD)


def test_keys_create_writes_owner_only_files_and_refuses_to_overwrite(
        tmp_path: Path, centre_keys: CreatedKeys) -> None:
    folder = centre_keys.folder
    for p in (centre_keys.signer_p12, centre_keys.signer_cert, centre_keys.ca_cert,
              centre_keys.ca_p12):
        assert p is not None and stat.S_IMODE(os.stat(p).st_mode) == 0o600
    loaded = load_pkcs12(centre_keys.signer_p12, PASSWORD)
    assert len(loaded.chain) == 1  # the CA travels with the signer
    with pytest.raises(KeyFilesExist):
        create_centre_keys(centre_code="HN01", centre_name="x", password=PASSWORD,
                           folder=folder)
    with pytest.raises(PasswordTooShort):
        create_centre_keys(centre_code="HN02", centre_name="x", password=b"short",
                           folder=tmp_path)
    fresh = create_centre_keys(centre_code="DN03", centre_name="Trung tâm Đà Nẵng",
                               password=PASSWORD, folder=tmp_path / "k")
    assert stat.S_IMODE(os.stat(tmp_path / "k").st_mode) == 0o700
    assert fresh.ca_p12 is not None
    # An invigilator's certificate from the centre's CA: trusted through the same root.
    person = create_centre_keys(centre_code="DN03", centre_name="Trung tâm Đà Nẵng",
                                password=PASSWORD, folder=tmp_path / "k",
                                signer_name="Nguyễn Văn Bình", issuer=fresh.ca_p12)
    assert person.signer_p12.name == "dn03-nguyen-van-binh.p12"
    assert person.ca_cert == fresh.ca_cert
    cert = load_pkcs12(person.signer_p12, PASSWORD).certificate
    ca = load_pkcs12(fresh.ca_p12, PASSWORD).certificate
    assert cert.issuer == ca.subject
