"""The fraud report: every kind of finding, counted once, statistics per centre and session,
evidence side by side; the CSV the office processes."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pytest

from proctoring.store import Store
from reports.errors import InvalidPeriod
from reports.fraud import CSV_COLUMNS, fraud_csv, fraud_pdf
from reports.incidents import Category, FraudData, Period, collect_fraud
from reports.layout import Words

from . import builders
from .conftest import open_store, pdfimages, pdftotext

JUNE = Period(date(2025, 6, 1), date(2025, 6, 30))


@dataclass
class Scenario:
    store: Store
    exam: builders.Built
    road: builders.Built
    data: FraudData


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    store = open_store(tmp_path_factory.mktemp("fraud"))
    exam, road = builders.fraud_scenario(store)
    yield Scenario(store, exam, road, collect_fraud(store, JUNE))
    store.close()


def test_every_kind_of_finding_once(scenario: Scenario) -> None:
    found = [(f.category, f.source) for f in scenario.data.findings]
    assert sorted(found) == sorted([
        (Category.PROXY, "incident"), (Category.FACE_MISMATCH, "incident"),
        (Category.FACE_MISMATCH, "checkin"),  # rejected, nobody opened an incident
        (Category.FORGED_CARD, "incident"), (Category.OVERRIDE, "incident"),
        (Category.ABSENCE, "incident"), (Category.SEVERAL_FACES, "incident")])
    proxy = next(f for f in scenario.data.findings if f.category is Category.PROXY)
    ids = {c.id_number for c in proxy.checkins}
    assert ids == {scenario.exam.candidates[6].id_number, scenario.exam.candidates[7].id_number}
    assert all(c.portrait and c.portrait.thumb and c.frame and c.frame.thumb
               for c in proxy.checkins)
    absence = next(f for f in scenario.data.findings if f.category is Category.ABSENCE)
    assert absence.frames and absence.ended_at is not None


def test_statistics_per_centre_and_session(scenario: Scenario) -> None:
    centres = {c.centre_code: c for c in scenario.data.centres}
    assert set(centres) == {"HN01", "HCM02"}
    hn = centres["HN01"]
    assert (hn.sessions, hn.rostered, hn.checked_in) == (1, 12, 10)
    assert hn.by_category == {Category.PROXY: 1, Category.FACE_MISMATCH: 1,
                              Category.OVERRIDE: 1, Category.ABSENCE: 1,
                              Category.SEVERAL_FACES: 1}
    hcm = centres["HCM02"]
    assert hcm.by_category == {Category.FORGED_CARD: 1, Category.FACE_MISMATCH: 1}
    assert [s.session_code for s in scenario.data.sessions] == ["B2-HCM", "TH-0612"]


def test_period_and_centre_filters(scenario: Scenario) -> None:
    may = collect_fraud(scenario.store, Period(date(2025, 5, 1), date(2025, 5, 31)))
    assert not may.findings and not may.sessions
    # The exam day in Vietnam time: 12/06 00:00 +07 is still 11/06 in UTC.
    one_day = collect_fraud(scenario.store, Period(date(2025, 6, 12), date(2025, 6, 12)))
    assert len(one_day.findings) == 7
    hcm = collect_fraud(scenario.store, JUNE, centre_code="HCM02")
    assert {f.centre_code for f in hcm.findings} == {"HCM02"} and len(hcm.findings) == 2
    with pytest.raises(InvalidPeriod) as caught:
        Period(date(2025, 6, 30), date(2025, 6, 1))
    # Both dates in the words an office reads, not an English detail inside Vietnamese.
    from examdesk.i18n import Catalog
    text = Catalog.load().both(caught.value.key, **caught.value.context)
    assert "kết thúc (01/06/2025) trước khi bắt đầu (30/06/2025)" in text
    assert "ends (01/06/2025) before it starts (30/06/2025)" in text


def test_pdf_reads_right(scenario: Scenario, tmp_path: Path, vi: Words) -> None:
    path = tmp_path / "fraud.pdf"
    path.write_bytes(fraud_pdf(scenario.data, vi))
    text = " ".join(pdftotext(path).split())
    assert unicodedata.is_normalized("NFC", text)
    for needed in ("BÁO CÁO CÁC TRƯỜNG HỢP NGHI VẤN GIAN LẬN THI CỬ",
                   "từ ngày 01/06/2025 đến ngày 30/06/2025",
                   "Thi hộ: một khuôn mặt dùng nhiều số định danh (1)",
                   "Khuôn mặt không khớp ảnh trong chip (2)",
                   "Thẻ giả hoặc chip bị sao chép (1)", "Giám thị thay đổi quyết định (1)",
                   "Vắng mặt trước webcam khi thi trực tuyến (1)",
                   "Thí sinh đã cắt tóc và bỏ kính",
                   # The forged card's check in words, not its code (issue 13: the report
                   # printed "passive.dg2_hash_mismatch").
                   "Thẻ không vượt qua kiểm tra chip. Không đạt: Dữ liệu trên chip đã bị sửa",
                   "Trung tâm Sát hạch lái xe TP. Hồ Chí Minh", "Thống kê theo kỳ thi",
                   "1 phút 35 giây"):
        assert needed in text, needed
    for i in (2, 5, 6, 7):
        assert scenario.exam.candidates[i].full_name in text
    # Chip portrait and live capture of every check-in, plus the monitor's frames.
    pairs = sum(len(f.checkins) for f in scenario.data.findings)
    frames = sum(len(f.frames) for f in scenario.data.findings)
    assert len(pdfimages(path)) >= 2 * pairs + frames - 4  # identical pictures stored once


def test_csv_for_the_office(scenario: Scenario) -> None:
    raw = fraud_csv(scenario.data)
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with the BOM
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 7
    override = next(r for r in rows if r["category"] == "override")
    assert override["override_reason"].startswith("Thí sinh đã cắt tóc")
    assert override["full_name"] == "Hoàng Ngọc Ánh"
    assert override["started_at"].startswith("2025-06-12T08:") and \
        override["started_at"].endswith("+07:00")
    absence = next(r for r in rows if r["category"] == "absence")
    assert absence["duration_s"] == "95" and absence["evidence_ids"]
    proxy = next(r for r in rows if r["category"] == "proxy")
    assert len(proxy["id_numbers"].split()) == 2


def test_csv_cells_from_outside_cannot_be_formulas(scenario: Scenario) -> None:
    # Names come from a centre's roster file, reasons and notes from a desk: all text from
    # outside. The office opens this CSV in Excel, where "=..." would run.
    override = next(f for f in scenario.data.findings if f.category is Category.OVERRIDE)
    hostile = replace(override, full_name='=HYPERLINK("http://evil.example","Xem")',
                      reviewer_notes="+1+cmd|' /C calc'!A0", session_title="@SUM(A1)",
                      details={**override.details, "reason": "-2+3"})
    raw = fraud_csv(replace(scenario.data, findings=(hostile,)))
    row = next(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert row["full_name"] == "'" + hostile.full_name
    assert row["reviewer_notes"] == "'+1+cmd|' /C calc'!A0"
    assert row["session_title"] == "'@SUM(A1)" and row["override_reason"] == "'-2+3"
    assert row["duration_s"] in ("", str(int(row["duration_s"] or 0)))  # numbers unmarked


def test_an_empty_period_says_so(scenario: Scenario, tmp_path: Path, en: Words) -> None:
    empty = collect_fraud(scenario.store, Period(date(2024, 1, 1), date(2024, 1, 31)))
    path = tmp_path / "empty.pdf"
    path.write_bytes(fraud_pdf(empty, en, lang="en"))
    assert "No suspected case in this period." in " ".join(pdftotext(path).split())
