"""Rosters in and out: CSV and Excel (.xlsx) import with row-level errors, and export.

Import is all-or-nothing: every row is checked first (file problems and conflicts with what the
database already holds), and either the whole roster goes in in one transaction, or nothing does
and every problem comes back as a :class:`~.errors.RowError` (row number, column, message key).

Headers are matched without case and accents, in English or Vietnamese ("Số báo danh", "SBD",
"Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", …); unknown columns are ignored, so an exported
roster (which adds the attendance columns) imports again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import tempfile
import unicodedata
import uuid
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any
from xml.parsers import expat

from sqlmodel import Session, col, select

from examdesk.i18n import Catalog, Words, system_error
from examdesk.i18n.words import decision_key
from examdesk.timezone import VIETNAM
from reader.errors import InvalidKeyInput
from reader.keys import normalise_sex, validate_id_number

from .checkins import attendance
from .csvfile import csv_bytes, restore_cell
from .errors import (
    RosterFieldTooLong,
    RosterInvalid,
    RosterTooLarge,
    RosterTooManyColumns,
    RosterTooManyRows,
    RosterUnreadable,
    RowError,
)
from .models import Candidate, CheckIn, Decision, RosterEntry
from .sessions import find_session, require_open
from .store import Store

REQUIRED = ("registration_number", "id_number", "full_name", "date_of_birth", "sex")
OPTIONAL = ("seat", "vehicle")
# Accent-free, case-folded header spellings → column.
ALIASES: dict[str, str] = {
    **{a: "registration_number" for a in (
        "registration_number", "registration number", "registration no", "so bao danh", "sbd",
        "ma ho so", "ma hoc vien")},
    **{a: "id_number" for a in (
        "id_number", "id number", "id", "cccd", "so cccd", "so can cuoc", "so dinh danh",
        "so dinh danh ca nhan", "can cuoc cong dan")},
    **{a: "full_name" for a in ("full_name", "full name", "name", "ho va ten", "ho ten")},
    **{a: "date_of_birth" for a in ("date_of_birth", "date of birth", "dob", "ngay sinh")},
    **{a: "sex" for a in ("sex", "gender", "gioi tinh")},
    **{a: "seat" for a in ("seat", "cho ngoi", "ghe", "so ghe", "vi tri")},
    **{a: "vehicle" for a in ("vehicle", "xe", "so xe", "bien so xe", "xe sat hach")},
}
MAX_ROWS = 20_000  # a session, not a census: a bigger file is a mistake
# Limits checked *before* anything is materialised, so that a crafted file (a 5 KB .xlsx with
# one cell at XFD1048576 made openpyxl build a million 16384-wide rows) is refused in
# milliseconds. A roster has a few thousand rows and a dozen columns; these leave room.
MAX_SHEET_ROWS = MAX_ROWS + 1_000  # lines of the file: candidates, header, blanks, notes
MAX_COLUMNS = 100
MAX_FIELD = 1_000  # characters in one cell (a name is at most 200)
MAX_FILE_BYTES = 16 * 1024 * 1024  # the file as given (a 20 000-row roster is ~3 MB)
MAX_XLSX_UNPACKED = 32 * 1024 * 1024  # the .xlsx's parts unzipped (a big roster: ~12 MB)


def _fold(text: str) -> str:
    """Header matching: no accents (đ → d), no case, single spaces."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.replace("_", " ").casefold().split())


_FOLDED = {_fold(k): v for k, v in ALIASES.items()}


@dataclass(frozen=True)
class RosterLine:
    """One valid row."""

    row: int
    registration_number: str
    id_number: str
    full_name: str
    date_of_birth: date
    sex: str  # "M" / "F"
    seat: str | None
    vehicle: str | None


@dataclass(frozen=True)
class RawTable:
    header: list[Any]
    rows: list[tuple[int, list[Any]]]  # (1-based row number in the file, cells)
    sha256: str = ""  # of the bytes that were read (the audit event names the file by it)


# --- reading files ----------------------------------------------------------------------------


def read_table(path: Path) -> RawTable:
    """The file's non-blank rows, within the limits above (:class:`RosterTooLarge` if not).
    The file is read once, so the rows and the hash describe the same bytes."""
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".xlsm", ".csv", ".txt", ".tsv"):
        raise RosterUnreadable(f"{suffix or 'no extension'}: use .csv or .xlsx",
                               reason="suffix", file=str(path), suffix=suffix or "—")
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise RosterUnreadable(system_error(exc), file=str(path)) from exc
    if len(data) > MAX_FILE_BYTES:
        raise RosterTooLarge(f"more than {MAX_FILE_BYTES} bytes", file=str(path),
                             limit=f"{MAX_FILE_BYTES // (1024 * 1024)} MB")
    rows = _xlsx_rows(data, path) if suffix in (".xlsx", ".xlsm") else _csv_rows(data, path)
    return _table(rows, path, hashlib.sha256(data).hexdigest())


def _csv_rows(data: bytes, path: Path) -> Iterator[tuple[int, list[Any]]]:
    head = data[:8192].decode("utf-8-sig", errors="ignore")
    try:
        dialect: Any = csv.Sniffer().sniff(head[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    reader = csv.reader(text, dialect)
    try:
        # Row by row: the limits stop a hostile file at its first row too many.
        for i, cells in enumerate(reader, 1):
            yield i, _checked(i, cells, path)
    except UnicodeDecodeError:
        raise RosterUnreadable("not UTF-8 text (save as 'CSV UTF-8')", reason="encoding",
                               file=str(path)) from None
    except csv.Error as exc:  # NUL bytes, a stray carriage return, a field over csv's limit
        if "field limit" in str(exc):
            raise RosterFieldTooLong(str(exc), file=str(path), limit=MAX_FIELD,
                                     row=reader.line_num) from None
        raise RosterUnreadable(f"not a CSV table: {exc}", reason="csv", file=str(path),
                               row=reader.line_num) from None


def _xlsx_rows(data: bytes, path: Path) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    _scan_sheets(data, path)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is no workbook
        raise RosterUnreadable(f"not an Excel workbook: {exc}", reason="xlsx",
                               file=str(path)) from None
    try:
        sheet = book.worksheets[0]
        # The size the sheet declares (its <dimension>), read without touching a row.
        if (sheet.max_row or 0) > MAX_SHEET_ROWS:
            raise RosterTooManyRows(f"the sheet declares {sheet.max_row} rows", file=str(path),
                                    limit=MAX_ROWS, row=sheet.max_row)
        if (sheet.max_column or 0) > MAX_COLUMNS:
            raise RosterTooManyColumns(f"the sheet declares {sheet.max_column} columns",
                                       file=str(path), limit=MAX_COLUMNS)
        # A declared size can lie (or be absent): _scan_sheets counted what is there; forget
        # it, so that openpyxl reads the rows there are, never wider than the limit + 1.
        sheet.reset_dimensions()
        try:
            for i, cells in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS + 1,
                                                      values_only=True), 1):
                yield i, _checked(i, list(cells), path)
        except RosterUnreadable:
            raise
        except Exception as exc:  # a damaged sheet part inside a valid zip
            raise RosterUnreadable(f"not an Excel workbook: {exc}", reason="xlsx",
                               file=str(path)) from None
    finally:
        book.close()


def _scan_sheets(data: bytes, path: Path) -> None:
    """Before openpyxl sees the file: its parts unzip to at most MAX_XLSX_UNPACKED (a zip
    states each member's size and Python's zipfile never inflates past it), and every
    worksheet has at most MAX_SHEET_ROWS rows of at most MAX_COLUMNS cells — counted with
    expat, in constant memory. openpyxl builds a whole row before dropping cells past
    ``max_col`` (one row of a million cells: 750 MiB), and without a <dimension> it parses a
    whole sheet just to open the workbook."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            unpacked = sum(info.file_size for info in members)
            if unpacked > MAX_XLSX_UNPACKED:
                raise RosterTooLarge(f"{unpacked} bytes unpacked", file=str(path),
                                     limit=f"{MAX_XLSX_UNPACKED // (1024 * 1024)} MB")
            for info in members:
                if _WORKSHEET_PART.fullmatch(info.filename):
                    with archive.open(info) as xml:
                        _count_cells(xml, path)
    except (zipfile.BadZipFile, expat.ExpatError, OSError, ValueError) as exc:
        raise RosterUnreadable(f"not an Excel workbook: {exc}", reason="xlsx",
                               file=str(path)) from None


_WORKSHEET_PART = re.compile(r"xl/worksheets/[^/]+\.xml", re.IGNORECASE)


def _count_cells(xml: IO[bytes], path: Path) -> None:
    rows = cells = 0

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal rows, cells
        local = name.rpartition(" ")[2]
        if local == "row":
            rows, cells = rows + 1, 0
            number = str(attributes.get("r", "0"))
            index = int(number) if number.isdigit() and len(number) < 10 else 0
            if rows > MAX_SHEET_ROWS or index > MAX_SHEET_ROWS:
                raise RosterTooManyRows(f"row {max(rows, index)}", file=str(path),
                                        limit=MAX_ROWS, row=max(rows, index))
        elif local == "c":
            cells += 1
            if cells > MAX_COLUMNS:
                raise RosterTooManyColumns(f"row {rows} has more than {MAX_COLUMNS} cells",
                                           file=str(path), limit=MAX_COLUMNS)

    def no_dtd(*_: Any) -> None:  # a worksheet never has one: no entity is ever expanded
        raise RosterUnreadable("a DTD in a worksheet", reason="dtd", file=str(path))

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = no_dtd
    while chunk := xml.read(1 << 16):
        parser.Parse(chunk, False)
    parser.Parse(b"", True)


def _checked(i: int, cells: list[Any], path: Path) -> list[Any]:
    """One row within the limits, with :func:`restore_cell` undoing our export's mark."""
    if i > MAX_SHEET_ROWS:
        raise RosterTooManyRows(f"row {i}", file=str(path), limit=MAX_ROWS, row=i)
    if len(cells) > MAX_COLUMNS:
        if any(not _blank(c) for c in cells[MAX_COLUMNS:]):
            raise RosterTooManyColumns(f"row {i} has {len(cells)} cells", file=str(path),
                                       limit=MAX_COLUMNS)
        cells = cells[:MAX_COLUMNS]
    out: list[Any] = []
    for c in cells:
        if isinstance(c, str):
            if len(c) > MAX_FIELD:
                raise RosterFieldTooLong(f"row {i}: {len(c)} characters", file=str(path),
                                         limit=MAX_FIELD, row=i)
            c = restore_cell(c)
        out.append(c)
    return out


def _table(rows: Iterable[tuple[int, list[Any]]], path: Path, sha256: str) -> RawTable:
    filled: list[tuple[int, list[Any]]] = []
    for i, cells in rows:
        if any(_blank(c) is False for c in cells):
            filled.append((i, cells))
            if len(filled) > MAX_ROWS + 1:  # the header and MAX_ROWS candidates
                raise RosterTooManyRows(f"more than {MAX_ROWS} rows", file=str(path),
                                        limit=MAX_ROWS, row=i)
    if not filled:
        raise RosterUnreadable("the file is empty", reason="empty", file=str(path))
    (_, header), body = filled[0], filled[1:]
    return RawTable(header, body, sha256)


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


# --- validating ----------------------------------------------------------------------------------


def _text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)  # Excel numbers: 12.0 → "12"
    return " ".join(unicodedata.normalize("NFC", str(cell)).split())


def _date(cell: Any) -> date:
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    text = _text(cell)
    for sep in ("/", "-", "."):
        parts = text.split(sep)
        if len(parts) == 3 and all(p.isascii() and p.isdigit() for p in parts):
            a, b, c = (int(p) for p in parts)
            # yyyy-mm-dd when the first part is a year, else dd/mm/yyyy as printed in Vietnam.
            return date(a, b, c) if len(parts[0]) == 4 else date(c, b, a)
    raise ValueError(f"{text!r} is not dd/mm/yyyy or yyyy-mm-dd")


def _id_text(cell: Any) -> str:
    text = _text(cell).replace(" ", "").replace(".", "")
    # Excel turns 001093014275 into the number 1093014275. Every province code starts with 0,
    # so padding a 10/11-digit number back to 12 restores exactly the lost zeros, when the
    # result is a well-formed ID; otherwise the row error names the length the file has.
    if text.isascii() and text.isdigit() and 10 <= len(text) < 12:
        padded = text.zfill(12)
        if _id_error(padded, None, None) is None:
            return padded
    return text


def _id_error(number: str, dob: date | None, sex: str | None) -> tuple[str, str] | None:
    """(message key, detail) of the first problem :func:`validate_id_number` finds, checking
    the structure alone, then with the date of birth, then with the sex."""
    stages: list[tuple[str, date | None, str | None]] = [("structure", None, None)]
    if dob is not None:
        stages.append(("birth_year", dob, None))
    if dob is not None and sex is not None:
        stages.append(("sex", dob, sex))
    for stage, d, s in stages:
        try:
            validate_id_number(number, d, s)
        except InvalidKeyInput as exc:
            if stage != "structure":
                return f"roster.id_{stage}", exc.detail
            if "length" in exc.context:
                return "roster.id_length", exc.detail
            if "province" in exc.context:
                return "roster.id_province", exc.detail
            if "future" in exc.detail:  # digits 4-6 give a birth year still to come
                return "roster.id_birth_year", exc.detail
            if "digits only" in exc.detail:
                return "roster.id_digits", exc.detail
            return "roster.id_invalid", exc.detail
    return None


def _columns(header: Sequence[Any]) -> tuple[dict[str, int], list[RowError]]:
    found: dict[str, int] = {}
    errors: list[RowError] = []
    for i, cell in enumerate(header):
        name = _FOLDED.get(_fold(_text(cell)))
        if name is None:
            continue
        if name in found:
            errors.append(RowError(1, name, "roster.duplicate_column", _text(cell)))
        found.setdefault(name, i)
    errors += [RowError(1, name, "roster.missing_column") for name in REQUIRED
               if name not in found]
    return found, errors


def validate_table(table: RawTable) -> tuple[list[RosterLine], list[RowError]]:
    """Every row checked on its own and against the others in the file."""
    columns, errors = _columns(table.header)
    if errors:
        return [], errors
    lines: list[RosterLine] = []
    seen_id: dict[str, int] = {}
    seen_reg: dict[str, int] = {}
    if not table.rows:
        return [], [RowError(1, "", "roster.empty")]
    for row, cells in table.rows:
        def cell(name: str, cells: list[Any] = cells) -> Any:
            i = columns.get(name)
            return cells[i] if i is not None and i < len(cells) else None

        problems: list[RowError] = []
        reg = _text(cell("registration_number"))
        if not reg:
            problems.append(RowError(row, "registration_number", "roster.missing_value"))
        elif len(reg) > 32:
            problems.append(RowError(row, "registration_number", "roster.too_long", reg))
        name = _text(cell("full_name"))
        if not name:
            problems.append(RowError(row, "full_name", "roster.missing_value"))
        elif len(name) > 200:
            problems.append(RowError(row, "full_name", "roster.too_long", name[:40]))
        dob: date | None = None
        raw_dob = cell("date_of_birth")
        if _blank(raw_dob):
            problems.append(RowError(row, "date_of_birth", "roster.missing_value"))
        else:
            try:
                dob = _date(raw_dob)
                if dob > date.today():
                    raise ValueError("in the future")
            except ValueError as exc:
                dob = None
                problems.append(RowError(row, "date_of_birth", "roster.bad_date",
                                         _text(raw_dob), str(exc)))
        sex: str | None = None
        raw_sex = _text(cell("sex"))
        if not raw_sex:
            problems.append(RowError(row, "sex", "roster.missing_value"))
        else:
            try:
                sex = normalise_sex(raw_sex)
            except InvalidKeyInput as exc:
                problems.append(RowError(row, "sex", "roster.bad_sex", raw_sex, exc.detail))
        number = _id_text(cell("id_number"))
        if not number:
            problems.append(RowError(row, "id_number", "roster.missing_value"))
        else:
            bad = _id_error(number, dob, sex)
            if bad is not None:
                problems.append(RowError(row, "id_number", bad[0], number, bad[1]))
        if number and number in seen_id:
            problems.append(RowError(row, "id_number", "roster.duplicate_id", number,
                                     str(seen_id[number]), (("first_row", seen_id[number]),)))
        if reg and reg in seen_reg:
            problems.append(RowError(row, "registration_number",
                                     "roster.duplicate_registration", reg,
                                     str(seen_reg[reg]), (("first_row", seen_reg[reg]),)))
        seen_id.setdefault(number, row)
        seen_reg.setdefault(reg, row)
        if problems:
            errors += problems
            continue
        assert dob is not None and sex is not None
        lines.append(RosterLine(row, reg, number, name, dob, sex,
                                _text(cell("seat")) or None, _text(cell("vehicle")) or None))
    return lines, errors


# --- importing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    session_id: uuid.UUID
    session_code: str
    added: int
    new_candidates: int
    renamed_candidates: int
    file_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"session_id": str(self.session_id), "session": self.session_code,
                "added": self.added, "new_candidates": self.new_candidates,
                "renamed_candidates": self.renamed_candidates, "file_sha256": self.file_sha256}


def import_roster(store: Store, session_ref: str, path: Path, *, actor: str) -> ImportResult:
    """Add every row of the file to the session's roster, or none (:class:`RosterInvalid`)."""
    table = read_table(path)
    lines, errors = validate_table(table)
    digest = table.sha256
    with store.write() as tx:
        session = find_session(tx, session_ref)
        require_open(session)
        plan = _plan(tx, session.id, session.centre_id, lines)
        if errors or plan.errors:
            # Everything wrong at once: the file's own problems and the conflicts of its
            # valid rows with the database, in row order.
            merged = sorted([*errors, *plan.errors], key=lambda e: e.row)
            raise RosterInvalid(merged, file=str(path))
        start = tx.exec(select(RosterEntry.position).where(RosterEntry.session_id == session.id)
                        .order_by(col(RosterEntry.position).desc())).first() or 0
        renamed = 0
        for offset, line in enumerate(lines, 1):
            candidate = plan.existing.get(line.id_number)
            if candidate is None:
                candidate = Candidate(centre_id=session.centre_id, id_number=line.id_number,
                                      full_name=line.full_name, date_of_birth=line.date_of_birth,
                                      sex=line.sex)
                tx.add(candidate)
            elif candidate.full_name != line.full_name:
                candidate.full_name = line.full_name  # names change; the chip will tell
                tx.add(candidate)
                renamed += 1
            tx.flush()
            tx.add(RosterEntry(centre_id=session.centre_id, session_id=session.id,
                               candidate_id=candidate.id,
                               registration_number=line.registration_number,
                               seat=line.seat, vehicle=line.vehicle,
                               position=start + offset))
        tx.flush()
        store.audit.append(tx, centre_id=session.centre_id, actor=actor,
                           action="roster.imported", subject_id=session.id,
                           payload={"file": path.name, "file_sha256": digest,
                                    "rows": len(lines), "new_candidates":
                                    len(lines) - len(plan.existing), "renamed": renamed},
                           at=store.now())
        return ImportResult(session.id, session.code, len(lines),
                            len(lines) - len(plan.existing), renamed, digest)


@dataclass(frozen=True)
class _Plan:
    existing: dict[str, Candidate]
    errors: list[RowError]


def _plan(tx: Session, session_id: uuid.UUID, centre_id: uuid.UUID,
          lines: Sequence[RosterLine]) -> _Plan:
    """Conflicts with the database: already on this roster, registration number taken, or a
    known candidate whose date of birth or sex differs (the same ID cannot be two people)."""
    ids = [line.id_number for line in lines]
    existing: dict[str, Candidate] = {}
    for chunk in range(0, len(ids), 500):
        for c in tx.exec(select(Candidate).where(Candidate.centre_id == centre_id)
                         .where(col(Candidate.id_number).in_(ids[chunk:chunk + 500]))):
            existing[c.id_number] = c
    on_roster = set(tx.exec(select(RosterEntry.candidate_id)
                            .where(RosterEntry.session_id == session_id)).all())
    taken = set(tx.exec(select(RosterEntry.registration_number)
                        .where(RosterEntry.session_id == session_id)).all())
    errors: list[RowError] = []
    for line in lines:
        known = existing.get(line.id_number)
        if known is not None and known.id in on_roster:
            errors.append(RowError(line.row, "id_number", "roster.already_on_roster",
                                   line.id_number))
        elif known is not None and (known.date_of_birth, known.sex) != (line.date_of_birth,
                                                                         line.sex):
            errors.append(RowError(line.row, "id_number", "roster.candidate_conflict",
                                   line.id_number,
                                   f"{known.date_of_birth:%d/%m/%Y}, {known.sex}",
                                   (("known_dob", f"{known.date_of_birth:%d/%m/%Y}"),
                                    ("known_sex", Words("app.sex.female" if known.sex == "F"
                                                        else "app.sex.male")))))
        if line.registration_number in taken:
            errors.append(RowError(line.row, "registration_number",
                                   "roster.registration_taken", line.registration_number))
    return _Plan(existing, errors)


# --- exporting -----------------------------------------------------------------------------------

# status: the attendance state (admitted stays admitted); decided_at: when the check-in it
# stands on was decided (the first admission); attempts: how many there were; other_attempts:
# the rest, oldest first, each "time decision desk" (a card presented after the admission too).
# status is in words, in the export's language (issue 13: no internal codes for people);
# status_code, last and named for what it is, keeps the code for a spreadsheet formula or a
# script (ADMIT, REJECT, REVIEW, ABSENT), the same in both languages.
EXPORT_COLUMNS = ("position", "registration_number", "id_number", "full_name", "date_of_birth",
                  "sex", "seat", "vehicle", "status", "decided_at", "desk", "attempts",
                  "other_attempts", "status_code")


def _attempt_text(c: CheckIn, desk: str | None, lang: str) -> str:
    """"07:03:12 03/12/2026 KHÔNG CHO VÀO Cửa 2": Vietnam time, the decision in words."""
    when = _local(c.decided_at).strftime("%H:%M:%S %d/%m/%Y") if c.decided_at else ""
    said = Catalog.load().text(decision_key(Decision(c.decision)), lang)
    return " ".join(x for x in (when, said, desk or "") if x)


def export_rows(store: Store, session_ref: str,
                lang: str = "vi") -> tuple[str, list[list[Any]]]:
    """(session code, rows) in print order with the attendance state of each candidate and
    the history it stands on."""
    with store.read() as tx:
        session = find_session(tx, session_ref)
    rows: list[list[Any]] = []
    catalog = Catalog.load()
    for r in attendance(store, session.id).rows:
        c = r.candidate
        others = [a for a in r.history.attempts if a is not r.checkin]
        rows.append([r.entry.position, r.entry.registration_number, c.id_number, c.full_name,
                     c.date_of_birth, c.sex, r.entry.seat or "", r.entry.vehicle or "",
                     catalog.text(f"roster.status.{r.status.value}", lang),
                     r.checkin.decided_at if r.checkin else None,
                     r.history.desk(r.checkin) or "", len(r.history.attempts),
                     "; ".join(_attempt_text(a, r.history.desk(a), lang) for a in others),
                     r.status.value])
    return session.code, rows


def export_header(lang: str = "vi") -> list[str]:
    """The export's column headers in the reader's language (Vietnamese unless asked): each
    one a header the import reads back."""
    catalog = Catalog.load()
    return [catalog.text(f"roster.export.col.{c}", lang) for c in EXPORT_COLUMNS]


def _local(value: datetime) -> datetime:
    """A stored UTC time as the centre's clock shows it, to the second (issue 13: the
    export wrote UTC with microseconds)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(VIETNAM).replace(tzinfo=None, microsecond=0)


def export_roster(store: Store, session_ref: str, out: Path, *, lang: str = "vi") -> int:
    """Write the roster as .csv (UTF-8 with BOM, for Excel) or .xlsx; returns the row count.
    Headers in ``lang``, times in Vietnam time to the second. Written to a temporary file
    first and moved into place: never a half-written roster."""
    code, rows = export_rows(store, session_ref, lang)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise RosterUnreadable(f"{suffix or 'no extension'}: export to .csv or .xlsx",
                               reason="export_suffix", file=str(out), suffix=suffix or "—")
    rows = [[_local(v) if isinstance(v, datetime) else v for v in row] for row in rows]
    header = export_header(lang)
    data = (_xlsx_bytes(code, header, rows) if suffix == ".xlsx"
            else _csv_bytes(header, rows))
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".roster-")  # 0600: personal data
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(rows)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else value


def _csv_bytes(header: Sequence[str], rows: list[list[Any]]) -> bytes:
    return csv_bytes(header, ([_plain(v) for v in row] for row in rows))


_SHEET_FORBIDDEN = re.compile(r"[\\/?*\[\]:]")


def sheet_title(code: str) -> str:
    """A session code as an Excel sheet name: Excel forbids ``\\ / ? * [ ] :`` there (a code
    like "TH/2026-1" made openpyxl raise), at most 31 characters, no ``'`` at either end."""
    title = _SHEET_FORBIDDEN.sub("-", code)[:31].strip("'").strip()
    return title or "roster"


def _xlsx_bytes(code: str, header: Sequence[str], rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = sheet_title(code)
    sheet.append(list(header))
    for row in rows:
        sheet.append(["" if v is None else v for v in row])
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, even for "=…" text
                cell.number_format = "@"  # IDs keep their leading zeros when edited
            elif isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm:ss"  # Vietnam time
            elif isinstance(cell.value, date):
                cell.number_format = "dd/mm/yyyy"
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()

