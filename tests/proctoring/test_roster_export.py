"""The roster export speaks the reader's language and time (issue 13): Vietnamese headers by
default and English ones on request, each read back by the import; check-in times in
Vietnam time to the second (it wrote UTC with microseconds)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from openpyxl import load_workbook
from typer.testing import CliRunner

from examdesk.cli import app
from proctoring.checkins import CheckInInput, Reason, record_checkin
from proctoring.models import Decision
from proctoring.roster import export_roster, import_roster
from proctoring.store import Store

from .helpers import ACTOR, add_roster, centre_and_session

DECIDED = datetime(2025, 6, 12, 0, 42, 5, 123456, tzinfo=UTC)  # 07:42:05.123456 in Hanoi


def _checked_in(store: Store) -> None:
    session = centre_and_session(store)
    (entry, *_) = add_roster(store, session)
    record_checkin(store, CheckInInput(
        session_id=session.id, id_number="001093014275", decision=Decision.REVIEW,
        reasons=[Reason("checkin.no_consent")], consent=False, started_at=DECIDED,
        decided_at=DECIDED, roster_entry_id=entry.id), actor=ACTOR)


def _read(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))


def test_vietnamese_headers_local_time_and_an_english_option(store: Store,
                                                              tmp_path: Path) -> None:
    _checked_in(store)
    export_roster(store, "S1", tmp_path / "vi.csv")
    (first, *_) = _read(tmp_path / "vi.csv")
    assert list(first)[:4] == ["STT", "Số báo danh", "Số định danh", "Họ và tên"]
    assert first["Giờ kiểm tra (giờ Việt Nam)"] == "2025-06-12 07:42:05"  # not …00:42:05.123456
    export_roster(store, "S1", tmp_path / "en.csv", lang="en")
    (first, *_) = _read(tmp_path / "en.csv")
    assert first["ID number"] == "001093014275"
    assert first["Checked at (Vietnam time)"] == "2025-06-12 07:42:05"
    export_roster(store, "S1", tmp_path / "vi.xlsx")
    sheet = load_workbook(tmp_path / "vi.xlsx").worksheets[0]
    assert sheet.cell(1, 2).value == "Số báo danh"
    assert sheet.cell(2, 10).value == datetime(2025, 6, 12, 7, 42, 5)
    # Both languages' headers import again.
    for i, name in enumerate(("vi.csv", "en.csv", "vi.xlsx"), 2):
        centre_and_session(store, code=f"S{i}")
        assert import_roster(store, f"S{i}", tmp_path / name, actor=ACTOR).added == 4


def test_the_status_is_in_words_and_its_code_only_in_a_column_named_for_software(
        store: Store, tmp_path: Path) -> None:
    # Issue 13: the status column said "REVIEW" / "ABSENT", internal codes, to the people
    # who read the export. Words in the export's language; the code kept last, named so.
    _checked_in(store)
    export_roster(store, "S1", tmp_path / "vi.csv")
    rows = _read(tmp_path / "vi.csv")
    assert [r["Kết quả"] for r in rows] == ["Cần xem xét", "Vắng mặt", "Vắng mặt", "Vắng mặt"]
    assert [r["Mã kết quả (cho phần mềm)"] for r in rows] == ["REVIEW", *["ABSENT"] * 3]
    assert list(rows[0])[-1] == "Mã kết quả (cho phần mềm)"
    export_roster(store, "S1", tmp_path / "en.csv", lang="en")
    rows = _read(tmp_path / "en.csv")
    assert [r["Status"] for r in rows] == ["To review", "Absent", "Absent", "Absent"]
    assert rows[0]["Status code (for software)"] == "REVIEW"
    export_roster(store, "S1", tmp_path / "vi.xlsx")
    sheet = load_workbook(tmp_path / "vi.xlsx").worksheets[0]
    assert sheet.cell(2, 9).value == "Cần xem xét" and sheet.cell(2, 14).value == "REVIEW"


def test_the_command_takes_the_language(db_url: str, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("EXAMDESK_DB_URL", db_url)
    with Store.open(db_url) as store:
        _checked_in(store)
    cli = CliRunner()
    assert cli.invoke(app, ["roster", "export", "--session", "S1", "--out",
                            str(tmp_path / "a.csv"), "--lang", "en"]).exit_code == 0
    assert "Full name" in _read(tmp_path / "a.csv")[0]


def test_the_readme_export_table_is_the_code_s_columns_and_headers(store: Store,
                                                                   tmp_path: Path) -> None:
    # Issue 13 acceptance: the README's tables match the code. The export's columns, in
    # order, with the headers each language writes (the catalogue's, as the file has them).
    import re

    from examdesk.i18n import Catalog
    from proctoring.roster import EXPORT_COLUMNS

    readme = (Path(__file__).parents[2] / "README.md").read_text("utf-8")
    start = readme.index("<!-- export-columns")
    table = readme[start:readme.index("\n\n", start)]
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \| ([^|]+) \| [^|]+ \|$", table, re.M)
    catalog = Catalog.load()
    assert [(c, vi.strip(), en.strip()) for c, vi, en in rows] == [
        (c, catalog.text(f"roster.export.col.{c}", "vi"),
         catalog.text(f"roster.export.col.{c}", "en")) for c in EXPORT_COLUMNS]
    _checked_in(store)
    for lang, column in (("vi", 1), ("en", 2)):
        export_roster(store, "S1", tmp_path / f"{lang}.csv", lang=lang)
        header = next(csv.reader(io.StringIO(
            (tmp_path / f"{lang}.csv").read_bytes().decode("utf-8-sig"))))
        assert header == [r[column].strip() for r in rows]
