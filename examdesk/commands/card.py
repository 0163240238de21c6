"""`examdesk card …`: list readers, read a card, emulate one."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn
from rich.table import Table

from examdesk.commands.common import LangOption, today
from examdesk.commands.errors import EXIT_FORGED, EXIT_OUTPUT, handles_errors
from examdesk.i18n import Catalog, default_language, system_error
from examdesk.i18n.words import verdict_key
from examdesk.services.card import read_and_verify, save_card
from examdesk.services.trust import TrustFiles
from reader import errors
from reader.keys import access_keys
from reader.session import CardRead
from reader.transport import PcscTransport, list_readers
from reader.trust.policy import Verdict
from reader.trust.report import TrustReport

app = typer.Typer(help="Thẻ căn cước gắn chip — the chip ID card.", no_args_is_help=True)


DG13_ORDER = (
    "id_number", "full_name", "date_of_birth", "sex", "nationality", "ethnicity", "religion",
    "place_of_origin", "place_of_residence", "identifying_features", "date_of_issue",
    "date_of_expiry", "father_name", "mother_name", "spouse_name", "old_id_number", "field_16",
)


@contextlib.contextmanager
def _progress(enabled: bool, lang: str) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    catalog = Catalog.load()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
        console=Console(stderr=True), transient=True,
    ) as bar:
        task = bar.add_task(catalog.text("progress.waiting", lang), total=None)

        current = [""]

        def update(name: str, done: int, total: int) -> None:
            # Redraw at once when a new file starts, so even a fast read names each file.
            bar.update(task, description=catalog.text("progress.reading", lang, file=name),
                       completed=done, total=total, refresh=name != current[0])
            current[0] = name

        yield update


def _show_verdict(report: TrustReport, lang: str, console: Console) -> None:
    catalog = Catalog.load()
    v = report.verdict.level
    style = {"TRUSTED": "bold green", "SUSPICIOUS": "bold yellow", "FORGED": "bold white on red"}
    console.print(f"[{style[v.value]}]{catalog.text(verdict_key(v), lang)}[/]")
    for finding in report.verdict.reasons:
        console.print(f"  • {catalog.text(finding.message, lang, detail=finding.detail)}")
    passive = report.passive
    checks = [
        (catalog.text("trust.label_passive", lang), passive.status.value),
        (catalog.text("trust.label_active", lang), report.active.status.value),
        (catalog.text("trust.label_chip", lang), report.chip.status.value),
    ]
    console.print("[dim]" + " · ".join(f"{k}: {v}" for k, v in checks) + "[/dim]")
    for check in passive.failures:
        if check.reason:
            console.print(f"  [red]✗[/red] {catalog.text(check.reason, lang, **check.context)}")


def _show(card: CardRead, lang: str, report: TrustReport | None = None) -> None:
    catalog = Catalog.load()
    console = Console()
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    fields = card.dg13.to_dict() if card.dg13 is not None else {}
    for name in DG13_ORDER:
        value = fields.get(name)
        if value in (None, "") and not (name == "date_of_expiry" and fields.get("no_expiry")):
            continue
        if name == "date_of_expiry" and fields.get("no_expiry"):
            # Already words ("Không thời hạn"), not an ISO date: it crashed the screen.
            value = catalog.text("field.no_expiry", lang)
        elif name.startswith("date_") and isinstance(value, str):
            value = date.fromisoformat(value).strftime("%d/%m/%Y")
        table.add_row(catalog.text("field." + name, lang), str(value))
    table.add_row(catalog.text("field.document_number", lang), card.document.document_number)
    if card.portrait is not None:
        p = card.portrait
        table.add_row(catalog.text("field.portrait", lang),
                      f"{p.format.upper()} {p.width}×{p.height}, {len(p.data)} B")
    console.print(table)
    s = card.stats
    console.print(f"[dim]{card.access}-{card.password} · {s.apdus} APDU · {s.bytes_in} B · "
                  f"{s.seconds * 1000:.0f} ms · {card.reader}[/dim]")
    for w in card.warnings:
        console.print(f"[yellow]! {w}[/yellow]")
    if report is not None:
        _show_verdict(report, lang, console)


@app.command("readers")
@handles_errors()
def readers_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """Liệt kê đầu đọc — list PC/SC readers and whether a card is present."""
    states = list_readers()
    if as_json:
        print(json.dumps([{"name": s.reader, "card": s.present, "atr": s.atr.hex().upper()}
                          for s in states]))
        return
    if not states:
        raise errors.NoReader("no reader")
    for s in states:
        mark = "●" if s.present else "○"
        print(f"{mark} {s.reader}" + (f"  ATR {s.atr.hex().upper()}" if s.present else ""))


@app.command("read")
@handles_errors()
def read_cmd(
    id_number: Annotated[str | None, typer.Option("--id", help="12-digit ID (or 9-char doc no.)")]
    = None,
    dob: Annotated[str | None, typer.Option("--dob", help="date of birth, YYYY-MM-DD")] = None,
    expiry: Annotated[str | None, typer.Option("--expiry", help="expiry, YYYY-MM-DD or none")]
    = None,
    mrz: Annotated[str | None, typer.Option("--mrz", help="the 3 MRZ lines on the back")] = None,
    qr: Annotated[str | None, typer.Option("--qr", help="the QR code text on the front")] = None,
    can: Annotated[str | None, typer.Option("--can", help="6-digit CAN (PACE)")] = None,
    reader: Annotated[str | None, typer.Option("--reader", help="reader name or part")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="write portrait + raw files here")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
    wait: Annotated[float, typer.Option("--wait", help="seconds to wait for a card")] = 10.0,
    lang: LangOption = None,
    verify: Annotated[bool, typer.Option("--verify/--no-verify",
                                         help="prove the chip genuine (PA, AA, CA)")] = True,
    policy: Annotated[Path | None, typer.Option("--policy", help="trust policy TOML")] = None,
) -> None:
    """Đọc thẻ — read a chip ID card: fields, portrait, raw data groups, and whether the chip
    is genuine (passive, active and chip authentication)."""
    lang = lang or default_language()
    keys = access_keys(id_number, dob, expiry, mrz, qr, can)
    trust = TrustFiles.user(policy) if verify else None
    with _progress(sys.stderr.isatty(), lang) as progress:
        reading = read_and_verify(lambda: PcscTransport.open(reader, wait=wait), keys,
                                  trust=trust, today=today(), progress=progress)
    doc = reading.to_dict()
    if out is not None:
        try:
            save_card(out, reading)
        except OSError as exc:
            print(Catalog.load().both("io.output", path=str(out), detail=system_error(exc)),
                  file=sys.stderr)
            raise typer.Exit(EXIT_OUTPUT) from exc
    if as_json:
        print(json.dumps(doc, ensure_ascii=False))
    else:
        _show(reading.card, lang, reading.trust)
    if reading.trust is not None and reading.trust.verdict.level is Verdict.FORGED:
        raise typer.Exit(EXIT_FORGED)  # shown in full; the status says it too


@app.command("emulate")
def emulate_cmd(
    profile: Annotated[str | None, typer.Option("--profile", help="profile name or TOML file")]
    = None,
    port: Annotated[int, typer.Option("--port", help="vpcd port (35963 = slot 0)")] = 35963,
    host: Annotated[str, typer.Option("--host")] = "localhost",
    list_profiles: Annotated[bool, typer.Option("--list-profiles")] = False,
    extended: Annotated[bool | None, typer.Option("--extended/--no-extended")] = None,
    max_response: Annotated[int | None, typer.Option("--max-response")] = None,
    pull_out_at: Annotated[int | None, typer.Option("--pull-out-at", help="APDU number")] = None,
    no_applet: Annotated[bool, typer.Option("--no-applet", help="a card that is no ID")] = False,
    wait: Annotated[float, typer.Option("--wait", help="seconds to wait for pcscd")] = 5.0,
) -> None:
    """Thẻ ảo — run the virtual CCCD on the vpcd reader until interrupted."""
    from reader.virtual.applet import Faults, VirtualCccd
    from reader.virtual.profile import list_profiles as available
    from reader.virtual.profile import load_profile
    from reader.virtual.vpcd import VpcdConnection

    if list_profiles:
        for name in available():
            print(name)
        return
    if profile is None:
        raise typer.BadParameter("--profile is required (see --list-profiles)")
    prof = load_profile(profile)
    overrides: dict[str, Any] = {"extended_length": extended, "max_response": max_response,
                                 "applet": False if no_applet else None}
    if extended is not None:
        overrides["advertise_extended"] = extended
    chip = dataclasses.replace(prof.chip, **{k: v for k, v in overrides.items() if v is not None})
    prof = dataclasses.replace(prof, chip=chip)
    card = VirtualCccd(prof, faults=Faults(pull_out_at_apdu=pull_out_at))
    print(json.dumps(card.access_data(), ensure_ascii=False), flush=True)
    conn = VpcdConnection(card, host=host, port=port, connect_timeout=wait)
    try:
        conn.serve_forever()
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(Catalog.load().both("card.emulate_refused", detail=system_error(exc)),
              file=sys.stderr)
        raise typer.Exit(3) from exc
