"""The roster PDF as a person reads it: names exactly as on the card, thumbnails, totals, page
numbers, the header on every page, one section per driving-test stage, the QR code."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from proctoring.evidence import purge_evidence
from proctoring.models import Stage
from proctoring.store import Store
from reports.errors import FontMissing
from reports.facts import collect_facts, content_hash
from reports.fonts import find_fonts
from reports.layout import Words, catalog_words
from reports.pdfmeta import parse_qr_payload, qr_payload, read_embedded_facts
from reports.roster import RosterOptions, RosterPdf, roster_pdf

from . import builders
from .conftest import open_store, pdfimages, pdftoppm, pdftotext


@dataclass
class Printed:
    store: Store
    built: builders.Built
    made: RosterPdf
    path: Path


@pytest.fixture(scope="module")
def online(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Printed]:
    folder = tmp_path_factory.mktemp("online")
    store = open_store(folder)
    built = builders.online_exam(store, people=14)
    made = roster_pdf(store, built.session.code, catalog_words("vi"),
                      options=RosterOptions(room="Phòng 204, nhà A2"))
    path = folder / "roster.pdf"
    path.write_bytes(made.data)
    yield Printed(store, built, made, path)
    store.close()


def test_pdftotext_has_every_name_exactly_in_nfc(online: Printed) -> None:
    text = pdftotext(online.path)
    assert unicodedata.is_normalized("NFC", text)
    for cand in online.built.candidates:
        assert unicodedata.normalize("NFC", cand.full_name) in text, cand.full_name
        assert cand.id_number in text
        assert cand.date_of_birth.strftime("%d/%m/%Y") in text
    for needed in ("DANH SÁCH THÍ SINH DỰ THI", "Trung tâm Khảo thí Hà Nội (HN01)",
                   "Phòng 204, nhà A2", "Nguyễn Thị Lan", "Trần Văn Hùng", "12/06/2025 · 07:30",
                   "Thí sinh đã cắt tóc và bỏ kính", online.made.content_hash):
        assert needed in text, needed


def test_checkin_times_are_vietnam_time(online: Printed) -> None:
    text = pdftotext(online.path)
    first = online.built.checkins[(0, None)].checkin.decided_at  # 00:00 UTC
    assert first.hour == 0
    assert "07:00:00" in text  # shown at UTC+7


def test_totals_page_numbers_and_header_on_every_page(online: Printed) -> None:
    pages = online.made.pages
    assert pages >= 2
    for n in range(1, pages + 1):
        page = " ".join(pdftotext(online.path, n).split())
        assert f"Trang {n}/{pages}" in page
        assert "Số định danh" in page and "Ảnh chip" in page  # the repeated table header
    last = " ".join(pdftotext(online.path, pages).split())
    # rostered 14, admitted 10 (incl. the override), rejected 1, review 1, absent 2, stranger 1
    assert "Trong danh sách" in last and "14 10 1 1 2 1" in last
    facts = collect_facts(online.store, online.built.session.code)
    totals = facts.sections[0].totals
    assert (totals.rostered, totals.admitted, totals.rejected, totals.review, totals.absent,
            totals.not_on_roster) == (14, 10, 1, 1, 2, 1)


def test_thumbnails_are_small_jpegs_even_from_jpeg2000(online: Printed) -> None:
    images = pdfimages(online.path)
    checked_in = sum(1 for c in online.built.checkins)
    assert len(images) >= 2 * checked_in - 1  # identical pictures are stored once
    assert all(enc == "jpeg" and w <= 96 and h <= 128 for w, h, enc in images)
    # Candidate 2's chip portrait is JPEG 2000 and still has its thumbnail on the page.
    facts = collect_facts(online.store, online.built.session.code)
    row = facts.sections[0].rows[1]
    assert row.checkin is not None and row.checkin.portrait is not None
    assert row.checkin.portrait.sha256 is not None
    assert online.made.data.count(b"/Subtype /Image") >= len(images) - 1
    assert len(online.made.data) < 400_000


def test_qr_code_carries_the_content_hash(online: Printed, tmp_path: Path) -> None:
    zxingcpp = pytest.importorskip("zxingcpp", reason="zxing-cpp reads the QR code back")
    from PIL import Image

    page = pdftoppm(online.path, tmp_path / "p", dpi=150, first=1)[0]
    found = zxingcpp.read_barcodes(Image.open(page))
    texts = [b.text for b in found if b.format == zxingcpp.BarcodeFormat.QRCode]
    assert texts == [qr_payload(online.built.session.id, online.made.content_hash)]
    qr = parse_qr_payload(texts[0])
    assert qr is not None and qr.session_id == online.built.session.id


def test_embedded_facts_are_the_hashed_canonical_json(online: Printed) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    embedded = read_embedded_facts(PdfFileReader(online.path.open("rb")))
    assert embedded.canonical is not None
    assert embedded.content_hash == embedded.stated_hash == online.made.content_hash
    assert content_hash(embedded.canonical) == online.made.content_hash
    doc = json.loads(embedded.canonical)
    # Format 2 (issue 13): every check-in states its reasons, keys and shown context.
    assert doc["format"] == "examdesk-roster/2"
    assert [r["full_name"] for r in doc["sections"][0]["rows"]][:3] == [
        "Nguyễn Văn An", "Phạm Thị Hồng", "Trần Minh Khôi"]
    override = doc["sections"][0]["rows"][5]["checkin"]
    assert (override["machine_decision"], override["decision"]) == ("REJECT", "ADMIT")
    assert override["decided_at"].endswith("Z") and override["portrait"]["sha256"]
    assert override["reasons"] == [{"key": "checkin.face_review",
                                    "context": {"distance": "0.58"}}]
    # Recomputed from the database: the same bytes.
    facts = collect_facts(online.store, online.built.session.code)
    assert facts.canonical() == embedded.canonical


def test_driving_test_has_one_section_per_stage(tmp_path: Path, en: Words) -> None:
    store = open_store(tmp_path)
    try:
        built = builders.driving_test(store)
        made = roster_pdf(store, built.session.code, en)
        only_yard = roster_pdf(store, built.session.code, en, stages=[Stage.YARD])
    finally:
        store.close()
    path = tmp_path / "b2.pdf"
    path.write_bytes(made.data)
    text = pdftotext(path)
    assert "Driving test — theory" in text and "Driving test — yard" in text
    assert text.count("DRIVING TEST CANDIDATE ROSTER") == 2
    assert "Examiners" in text
    for cand in built.candidates:
        assert text.count(cand.full_name) == 2  # once per stage
    (tmp_path / "yard.pdf").write_bytes(only_yard.data)
    yard = pdftotext(tmp_path / "yard.pdf")
    assert "Driving test — yard" in yard and "Driving test — theory" not in yard
    assert "Absent" in yard


def test_evidence_deleted_on_retention_is_marked_not_hidden(tmp_path: Path, vi: Words) -> None:
    store = open_store(tmp_path)
    try:
        built = builders.online_exam(store, people=5)
        purged = purge_evidence(store, older_than=timedelta(0), actor="test")
        assert purged.purged > 0
        made = roster_pdf(store, built.session.code, vi)
    finally:
        store.close()
    path = tmp_path / "r.pdf"
    path.write_bytes(made.data)
    assert "đã xoá (hết hạn lưu)" in " ".join(pdftotext(path).split())


def test_no_vietnamese_font_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(FontMissing) as info:
        find_fonts([(tmp_path / "missing.ttf", tmp_path / "missing-bold.ttf")])
    assert info.value.context["package"] == "fonts-dejavu-core"
    assert info.value.key == "reports.font_missing"
    fonts = find_fonts()
    assert fonts.regular_path.is_file()


def test_roster_columns_are_described_once_and_fill_the_page() -> None:
    from examdesk.i18n import Catalog
    from reports.roster import COLUMNS, MARGIN, PAGE, TABLE_WIDTH

    # Header, width and value of a column are one entry: the three can no longer drift apart.
    assert [c.key for c in COLUMNS] == ["number", "chip", "live", "name", "id", "dob", "time",
                                        "result", "override", "signature"]
    assert TABLE_WIDTH == sum(c.width for c in COLUMNS)
    assert TABLE_WIDTH == pytest.approx(PAGE[0] - 2 * MARGIN, abs=1)  # 786 of 785.2 pt
    messages = Catalog.load().messages
    for c in COLUMNS:
        assert messages[f"roster.col.{c.key}"].keys() >= {"vi", "en"}, c.key
    assert [c.key for c in COLUMNS if c.centred] == ["number", "chip", "live"]
