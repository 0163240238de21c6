"""Roster import (CSV, Excel) with row-level errors, all or nothing; export; round trip."""

from __future__ import annotations

import csv
import unicodedata
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from sqlmodel import col, func, select

from proctoring.errors import RosterInvalid, RosterUnreadable, RowError
from proctoring.models import AuditEvent, Candidate, RosterEntry
from proctoring.roster import RawTable, export_roster, import_roster, read_table, validate_table
from proctoring.store import Store

from .helpers import ACTOR, PEOPLE, centre_and_session

HEADER = ["Số báo danh", "Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", "Chỗ ngồi"]


def _rows(people: list[tuple[str, str, date, str]] = PEOPLE) -> list[list[str]]:
    return [[f"{i:03d}", name, f"{dob:%d/%m/%Y}", {"M": "Nam", "F": "Nữ"}[sex], number, f"A{i}"]
            for i, (number, name, dob, sex) in enumerate(people, 1)]


def _csv(path: Path, rows: list[list[str]], header: list[str] = HEADER,
         delimiter: str = ",") -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _count(store: Store, model: type) -> int:
    with store.read() as tx:
        return int(tx.exec(select(func.count()).select_from(model)).one())


def _errors(rows: list[list[str]], header: list[str] = HEADER) -> list[tuple[int, str, str]]:
    _, errors = validate_table(RawTable(header, [(i, r) for i, r in enumerate(rows, 2)]))
    return [(e.row, e.column, e.key) for e in errors]


def test_csv_import_with_vietnamese_headers(store: Store, tmp_path: Path) -> None:
    session = centre_and_session(store)
    rows = _rows()
    rows[0][1] = unicodedata.normalize("NFD", rows[0][1])  # names typed on a Mac arrive NFD
    result = import_roster(store, "S1", _csv(tmp_path / "r.csv", rows, delimiter=";"),
                           actor=ACTOR)
    assert (result.added, result.new_candidates) == (4, 4)
    with store.read() as tx:
        entries = tx.exec(select(RosterEntry, Candidate)
                          .join(Candidate, col(Candidate.id) == col(RosterEntry.candidate_id))
                          .order_by(col(RosterEntry.position))).all()
        event = tx.exec(select(AuditEvent).where(AuditEvent.action == "roster.imported")).one()
    assert [(e.position, e.registration_number, e.seat) for e, _ in entries][:2] == [
        (1, "001", "A1"), (2, "002", "A2")]
    first = entries[0][1]
    assert (first.id_number, first.full_name, first.date_of_birth, first.sex) == (
        "001093014275", "Nguyễn Văn An", date(1993, 5, 14), "M")
    assert unicodedata.is_normalized("NFC", first.full_name)
    assert event.subject_id == session.id and result.file_sha256 in event.payload


def test_xlsx_import_with_number_and_date_cells(store: Store, tmp_path: Path) -> None:
    centre_and_session(store)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["SBD", "Họ tên", "Ngày sinh", "Giới tính", "CCCD", "Xe sát hạch"])
    # Excel drops the leading zeros of an ID typed as a number and stores dates as dates.
    sheet.append([1, "Nguyễn Văn An", datetime(1993, 5, 14), "Nam", 1093014275, "29A-123.45"])
    sheet.append([2, "Lê Thị Mai", "30/11/2001", "nữ", "048301001122", None])
    book.save(tmp_path / "r.xlsx")
    assert import_roster(store, "S1", tmp_path / "r.xlsx", actor=ACTOR).added == 2
    with store.read() as tx:
        numbers = tx.exec(select(Candidate.id_number).order_by(col(Candidate.id_number))).all()
        vehicles = tx.exec(select(RosterEntry.vehicle).order_by(col(RosterEntry.position))).all()
    assert list(numbers) == ["001093014275", "048301001122"]
    assert list(vehicles) == ["29A-123.45", None]


@pytest.mark.parametrize(("column", "value", "key"), [
    # Row 3 is Phạm Thị Hồng, born 03/02/1990, female: 001 1 90 012345.
    (4, "0011900123456", "roster.id_length"),
    (4, "00119001234", "roster.id_length"),  # 11 digits that no zero can repair
    (4, "00119001234X", "roster.id_digits"),
    (4, "003190012345", "roster.id_province"),
    (4, "001390012345", "roster.id_birth_year"),  # digit 4 = 3 → born 2090, in the future
    (4, "001301012345", "roster.id_birth_year"),  # digit 4 = 3 → born 2001, not 1990
    (4, "001191012345", "roster.id_birth_year"),  # year 91 ≠ 1990
    (4, "001090012345", "roster.id_sex"),  # even digit 4 = male
    (4, "", "roster.missing_value"),
    (1, "  ", "roster.missing_value"),
    (2, "31/02/1993", "roster.bad_date"),
    (2, "14-05", "roster.bad_date"),
    (2, "01/01/2999", "roster.bad_date"),
    (3, "Khác", "roster.bad_sex"),
    (0, "", "roster.missing_value"),
])
def test_each_bad_cell_is_named_with_row_column_and_key(column: int, value: str,
                                                        key: str) -> None:
    rows = _rows()
    rows[1][column] = value
    names = ["registration_number", "full_name", "date_of_birth", "sex", "id_number"]
    assert (3, names[column], key) in _errors(rows)
    assert all(row == 3 for row, _, _ in _errors(rows))


def test_duplicates_in_the_file() -> None:
    rows = _rows()
    rows[3][4] = rows[0][4]  # same ID twice
    rows[3][1:4] = rows[0][1:4]
    rows[2][0] = rows[1][0]  # same registration number twice
    assert _errors(rows) == [(4, "registration_number", "roster.duplicate_registration"),
                             (5, "id_number", "roster.duplicate_id")]


def test_header_problems() -> None:
    assert _errors(_rows(), header=["SBD", "Họ và tên", "Ngày sinh", "Giới tính", "Chỗ ngồi"]) \
        == [(1, "id_number", "roster.missing_column")]
    assert _errors([], header=HEADER) == [(1, "", "roster.empty")]


def test_nothing_is_imported_when_one_row_is_wrong(store: Store, tmp_path: Path) -> None:
    centre_and_session(store)
    rows = _rows()
    rows[2][2] = "30/02/2005"
    with pytest.raises(RosterInvalid) as err:
        import_roster(store, "S1", _csv(tmp_path / "r.csv", rows), actor=ACTOR)
    assert [(e.row, e.column, e.key) for e in err.value.errors] == [
        (4, "date_of_birth", "roster.bad_date")]
    assert _count(store, RosterEntry) == 0 and _count(store, Candidate) == 0


def test_conflicts_with_the_database_import_nothing(store: Store, tmp_path: Path) -> None:
    centre_and_session(store)
    import_roster(store, "S1", _csv(tmp_path / "a.csv", _rows()[:2]), actor=ACTOR)
    rows = _rows()
    rows[0][0], rows[1][0] = "101", "102"  # the first two people are on S1 already
    rows[3][0] = "001"  # a registration number S1 already uses
    rows[2][2] = "30/02/2005"  # and a bad date: reported together with the rest
    with pytest.raises(RosterInvalid) as err:
        import_roster(store, "S1", _csv(tmp_path / "b.csv", rows), actor=ACTOR)
    assert [(e.row, e.key) for e in err.value.errors] == [
        (2, "roster.already_on_roster"), (3, "roster.already_on_roster"),
        (4, "roster.bad_date"), (5, "roster.registration_taken")]
    assert _count(store, RosterEntry) == 2
    # Another session: the same people are welcome, but not with another date of birth.
    centre_and_session(store, code="S2")
    rows = _rows()[:2]
    rows[1][2] = "04/02/1990"
    with pytest.raises(RosterInvalid) as err:
        import_roster(store, "S2", _csv(tmp_path / "c.csv", rows), actor=ACTOR)
    assert [(e.row, e.key) for e in err.value.errors] == [(3, "roster.candidate_conflict")]


def test_files_that_are_no_roster(tmp_path: Path) -> None:
    for name, data in [("r.pdf", b"%PDF-1.4"), ("r.csv", b"\xff\xfe\x00b\x00a\x00d"),
                       ("r.xlsx", b"PK\x03\x04 not really"), ("r.csv", b"\n\n")]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(RosterUnreadable):
            read_table(tmp_path / name)


def test_export_and_import_again(store: Store, tmp_path: Path) -> None:
    centre_and_session(store)
    import_roster(store, "S1", _csv(tmp_path / "r.csv", _rows()), actor=ACTOR)
    # English headers asked for (issue 13: Vietnamese by default; see test_roster_export.py).
    assert export_roster(store, "S1", tmp_path / "out.csv", lang="en") == 4
    assert export_roster(store, "S1", tmp_path / "out.xlsx") == 4
    with (tmp_path / "out.csv").open(encoding="utf-8-sig") as f:
        exported = list(csv.DictReader(f))
    assert exported[0]["ID number"] == "001093014275"
    # The status in words (issue 13), its code in the column named for software.
    assert exported[0]["Date of birth"] == "1993-05-14" and exported[0]["Status"] == "Absent"
    assert exported[0]["Status code (for software)"] == "ABSENT"
    sheet = load_workbook(tmp_path / "out.xlsx").worksheets[0]
    assert sheet.cell(2, 3).value == "001093014275"  # text: the zeros stay
    assert oct((tmp_path / "out.xlsx").stat().st_mode & 0o777) == "0o600"
    for i, name in enumerate(("out.csv", "out.xlsx"), 2):
        centre_and_session(store, code=f"S{i}")
        assert import_roster(store, f"S{i}", tmp_path / name, actor=ACTOR).added == 4


_cells = st.one_of(st.none(), st.text(max_size=20), st.integers(), st.floats(allow_nan=True),
                   st.dates(), st.datetimes())


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_cells, max_size=8), max_size=6))
def test_any_cells_give_lines_or_row_errors(rows: list[list[object]]) -> None:
    lines, errors = validate_table(RawTable(HEADER, [(i, r) for i, r in enumerate(rows, 2)]))
    assert all(isinstance(e, RowError) and e.key.startswith("roster.") for e in errors)
    assert len(lines) <= len(rows)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_as_csv_read_or_refuse(tmp_path_factory: pytest.TempPathFactory,
                                         data: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "r.csv"
    path.write_bytes(data)
    try:
        table = read_table(path)
    except RosterUnreadable:
        return
    validate_table(table)
