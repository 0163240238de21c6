"""Every CSV examdesk writes goes through here: cells a spreadsheet cannot take for a formula.

Rosters and fraud reports carry text from outside — names from a centre's registration
system, reasons and notes typed at a desk — and the education office opens these files in
Excel or LibreOffice. A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return, which spreadsheets skip before looking for one of those) is *evaluated* there:
``=HYPERLINK("http://…", "Xem")`` becomes a live link, DDE payloads run programs. This is
"CSV injection" (OWASP); we follow OWASP's guidance:

- a text cell starting with one of ``= + - @ TAB CR`` gets a leading ``'`` — the spreadsheet's
  own "this is text" mark, so the cell shows the value unchanged (a script reading the CSV sees
  one extra character, and :func:`restore_cell` takes it off again on import); the same when
  those characters come after leading spaces (LibreOffice can trim them), and for NUL
  (ASVS 1.2.10);
- every cell is quoted, so a ``;`` or ``,`` inside a value cannot start a new cell in a
  spreadsheet that splits on another delimiter than ours (Vietnamese Excel uses ``;``);
- numbers the product itself writes as numbers (``int``/``float``, e.g. a duration) stay
  numbers: they are not text from outside and ``-3`` must remain a number.

Files are UTF-8 with a BOM (Excel otherwise reads them as the ANSI code page) and CRLF lines
(RFC 4180).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

# What makes a spreadsheet read a cell as a formula (OWASP: = + - @ TAB CR; ASVS adds NUL).
FORMULA_START = frozenset("=+-@\t\r\x00")
_AFTER_SPACES = frozenset("=+-@")
ESCAPE = "'"

Cell = str | int | float | None


def safe_cell(value: Cell) -> str | int | float:
    """The value as written: typed numbers unchanged, text neutralised, None as ""."""
    if value is None:
        return ""
    if isinstance(value, bool):  # a bool is an int to Python, but it is no number here
        return str(value)
    if isinstance(value, int | float):
        return value
    text = str(value)
    return ESCAPE + text if _needs_mark(text) else text


def _needs_mark(text: str) -> bool:
    # Marks already in front count too: "'=x" from outside is written "''=x", so that
    # restore_cell() gives back exactly the value (it takes off one mark, never more).
    text = text.lstrip(ESCAPE)
    return text[:1] in FORMULA_START or text.lstrip(" ")[:1] in _AFTER_SPACES


def restore_cell(text: str) -> str:
    """Import side: take off the mark :func:`safe_cell` added, so that an exported roster
    imports again with its names unchanged. A name never starts with ``'=`` or the like."""
    return text[1:] if text.startswith(ESCAPE) and _needs_mark(text[1:]) else text


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """The whole file: header and rows, every cell through :func:`safe_cell`."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return buf.getvalue().encode("utf-8-sig")
