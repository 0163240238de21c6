"""`examdesk fraud report`: suspected fraud over a period, for the education office."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from examdesk.commands.common import JsonOption, LangOption
from examdesk.commands.errors import BadOption, handles_errors
from examdesk.commands.reports import write_output
from examdesk.commands.session import stored
from examdesk.i18n import Catalog, default_language
from reports.incidents import parse_day

if TYPE_CHECKING:
    from proctoring.store import Store
    from reports.incidents import FraudData, Period

app = typer.Typer(help="Gian lận — fraud reports for the education office.",
                  no_args_is_help=True)

# The report's options, the same for a centre's report and the district's (`review report`).
FirstDay = Annotated[str, typer.Option("--from", help="first day, dd/mm/yyyy (Vietnam time)")]
LastDay = Annotated[str, typer.Option("--to", help="last day, included")]
ReportFile = Annotated[Path, typer.Option("--out", help="FILE.pdf or FILE.csv")]
CentreFilter = Annotated[str | None, typer.Option("--centre", help="only this centre's code")]


class BadFormat(BadOption):
    """``--out`` names neither a PDF nor a CSV file (context: ``path``)."""

    key = "fraud.bad_format"


def report_setup(out: Path, start: str, end: str) -> tuple[str, Period]:
    """The report's format from ``--out`` (".pdf" or ".csv") and its period (``--from``,
    ``--to``); a wrong one raises its typed error (exit 2)."""
    from reports.incidents import Period

    suffix = out.suffix.lower()
    if suffix not in (".pdf", ".csv"):
        raise BadFormat(str(out), path=str(out))
    return suffix, Period(parse_day(start, "--from"), parse_day(end, "--to"))


def render_report(store: Store, period: Period, centre: str | None, suffix: str,
                  lang: str) -> tuple[FraudData, bytes]:
    """The period's findings (of one centre if given) and the file's bytes, CSV or PDF."""
    # Imported here: reportlab costs ~0.5 s, which no other command should pay at start-up.
    from reports.fraud import fraud_csv, fraud_pdf
    from reports.incidents import EVIDENCE_THUMB, collect_fraud
    from reports.layout import catalog_words

    # The CSV lists evidence by id: no picture needs decrypting for it.
    data = collect_fraud(store, period, centre_code=centre,
                         pictures=None if suffix == ".csv" else EVIDENCE_THUMB)
    payload = (fraud_csv(data) if suffix == ".csv"
               else fraud_pdf(data, catalog_words(lang), lang=lang))
    return data, payload


def deliver(out: Path, payload: bytes, period: Period, data: FraudData, as_json: bool,
            lang: str) -> None:
    """Write the report (owner-only) and say what it holds: a JSON summary or one line."""
    write_output(out, payload)
    if as_json:
        print(json.dumps({"path": str(out), "from": period.start.isoformat(),
                          "to": period.end.isoformat(), "findings": len(data.findings),
                          "by_category": {c.value: n for c, n in data.by_category().items()},
                          "sessions": len(data.sessions), "centres": len(data.centres)},
                         ensure_ascii=False))
    else:
        print(Catalog.load().text("fraud.written", lang, start=f"{period.start:%d/%m/%Y}",
                                  end=f"{period.end:%d/%m/%Y}", count=len(data.findings),
                                  path=out))


@app.command("report")
@handles_errors()
def report_cmd(
    start: FirstDay,
    end: LastDay,
    out: ReportFile,
    centre: CentreFilter = None,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Báo cáo gian lận — face mismatches, overrides, proxies, forged cards, absences in
    online exams, with statistics per centre and session and the evidence side by side."""
    lang = lang or default_language()
    suffix, period = report_setup(out, start, end)
    with stored() as store:
        data, payload = render_report(store, period, centre, suffix, lang)
    deliver(out, payload, period, data, as_json, lang)
