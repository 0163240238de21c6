"""`examdesk roster …`: import a roster (CSV / Excel) into a session, export it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from examdesk.commands.common import JsonOption, LangOption
from examdesk.commands.errors import OutputFailed, handles_errors, os_errors
from examdesk.commands.reports import print_cmd, verify_cmd
from examdesk.commands.session import actor, stored
from examdesk.i18n import Catalog, default_language
from proctoring import errors
from proctoring.roster import OPTIONAL, REQUIRED, export_roster, import_roster

app = typer.Typer(help="Danh sách thí sinh — rosters: import from CSV/Excel, export.",
                  no_args_is_help=True)

EXIT_INVALID = 2

SessionOption = Annotated[str, typer.Option("--session", help="session code or id")]


def _row_text(e: errors.RowError, catalog: Catalog, lang: str) -> str:
    text = catalog.text(e.key, lang, **e.context())
    column = catalog.text(f"column.{e.column}", lang) if e.column else "—"
    return catalog.text("roster.row", lang, row=e.row, column=column, text=text)


def _invalid(exc: errors.RosterInvalid, as_json: bool) -> NoReturn:
    """Every row error, one line each (Vietnamese then English), then the summary."""
    catalog = Catalog.load()
    if as_json:
        rows: list[dict[str, Any]] = [
            {**e.to_dict(), "vi": _row_text(e, catalog, "vi"), "en": _row_text(e, catalog, "en")}
            for e in exc.errors]
        print(json.dumps({"error": {
            "key": exc.key, "vi": catalog.text(exc.key, "vi", **exc.context),
            "en": catalog.text(exc.key, "en", **exc.context), "detail": exc.detail,
            "rows": rows}}, ensure_ascii=False))
    print(catalog.both(exc.key, **exc.context), file=sys.stderr)
    for e in exc.errors:
        print(f"  {_row_text(e, catalog, 'vi')} / {_row_text(e, catalog, 'en')}", file=sys.stderr)
    raise typer.Exit(EXIT_INVALID)


IMPORT_HELP = (
    "Nhập danh sách — add every row to the session's roster, or none if any row is wrong.\n\n"
    "Cột của dòng tiêu đề — the header row's columns (Vietnamese or English names): "
    + ", ".join(REQUIRED) + "; optional: " + ", ".join(OPTIONAL) + ". "
    "E.g. Số báo danh, Số định danh, Họ và tên, Ngày sinh (dd/mm/yyyy), Giới tính (Nam/Nữ), "
    "Chỗ ngồi, Xe. See the README's roster table.")


@app.command("import", help=IMPORT_HELP)
@handles_errors()
def import_cmd(
    file: Annotated[Path, typer.Argument(help=".csv (UTF-8) or .xlsx, one candidate per row")],
    session: SessionOption,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Nhập danh sách — add every row to the session's roster, or none if any row is wrong."""
    lang = lang or default_language()
    with stored() as store:
        try:
            result = import_roster(store, session, file, actor=actor())
        except errors.RosterInvalid as exc:
            _invalid(exc, as_json)
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        print(Catalog.load().text("roster.imported", lang, added=result.added,
                                  session=result.session_code, new=result.new_candidates))


@app.command("export")
@handles_errors()
def export_cmd(
    session: SessionOption,
    out: Annotated[Path, typer.Option("--out", help="file to write: .csv or .xlsx")],
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Xuất danh sách — the roster with each candidate's attendance, as CSV or Excel."""
    lang = lang or default_language()
    with stored() as store, os_errors(OutputFailed, path=str(out)):
        count = export_roster(store, session, out, lang=lang)  # headers in its words
    if as_json:
        print(json.dumps({"path": str(out), "rows": count}, ensure_ascii=False))
    else:
        print(Catalog.load().text("roster.exported", lang, count=count, path=str(out)))


# The signed roster PDF and its verification live in examdesk/commands/reports.py. Their
# stores end in the one error context (``stored`` no longer ends a command itself).
app.command("print")(handles_errors()(print_cmd))
app.command("verify")(handles_errors()(verify_cmd))
