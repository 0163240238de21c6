"""`examdesk keys create`: a signing certificate for a centre that has none (own CA + signer)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from examdesk.commands.common import JsonOption, LangOption
from examdesk.commands.reports import read_password, report_fail
from examdesk.commands.session import CENTRE_ENV
from examdesk.i18n import Catalog, default_language
from reports import errors
from reports.keys import create_centre_keys

app = typer.Typer(help="Khoá ký số — signing keys for rosters.", no_args_is_help=True)


def _centre_name(code: str) -> str | None:
    """The centre's name from the database when it is there (never creates anything)."""
    from proctoring.centres import list_centres
    from proctoring.errors import ProctoringError
    from proctoring.store import Store

    try:
        with Store.open() as store:
            return next((c.name for c in list_centres(store) if c.code == code), None)
    except ProctoringError:
        return None


def _only_centre() -> str | None:
    """Like the session commands: with one centre in the database, that is the one."""
    from proctoring.centres import list_centres
    from proctoring.errors import ProctoringError
    from proctoring.store import Store

    try:
        with Store.open() as store:
            centres = list_centres(store)
    except ProctoringError:
        return None
    return centres[0].code if len(centres) == 1 else None


@app.command("create")
def create_cmd(
    centre: Annotated[str | None, typer.Option(
        "--centre", help=f"centre code (default ${CENTRE_ENV})")] = None,
    name: Annotated[str | None, typer.Option(
        "--name", help="the centre's full name (default: from the database)")] = None,
    signer: Annotated[str | None, typer.Option(
        "--signer", help="who signs (an invigilator's name); default the centre")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="folder for the files (default config_dir()/keys/pdf)")] = None,
    password_file: Annotated[Path | None, typer.Option(
        "--password-file", help="first line: the password protecting the new PKCS#12 files")]
    = None,
    issuer: Annotated[Path | None, typer.Option(
        "--issuer", help="the centre's CA .p12: issue a signer from it instead of a new CA")]
    = None,
    issuer_password_file: Annotated[Path | None, typer.Option(
        "--issuer-password-file", help="the CA .p12's password (default: the same)")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace existing files")] = False,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Tạo khoá ký — a self-signed CA and a signer certificate for the centre, as
    password-protected PKCS#12 files (mode 0600)."""
    lang = lang or default_language()
    code = centre or os.environ.get(CENTRE_ENV) or _only_centre()
    if not code:
        from examdesk.commands.common import fail

        fail("proctoring.invalid_input", as_json, 2, "--centre CODE is needed", field="centre")
    password = read_password(password_file, as_json, confirm=True)
    issuer_password = (read_password(issuer_password_file, as_json)
                       if issuer_password_file is not None else None)
    try:
        made = create_centre_keys(centre_code=code,
                                  centre_name=name or _centre_name(code) or code,
                                  password=password, folder=out, signer_name=signer,
                                  issuer=issuer, issuer_password=issuer_password, force=force)
    except errors.ReportsError as exc:
        report_fail(exc, as_json)
    if as_json:
        print(json.dumps(made.to_dict(), ensure_ascii=False))
    else:
        print(Catalog.load().text("keys.created", lang, centre=code, p12=made.signer_p12,
                                  ca=made.ca_cert))
