"""`examdesk roster print|verify`: the signed roster PDF and its verification.

The two commands join the existing `roster` group (examdesk/commands/roster.py registers them);
the helpers here (password input, errors → exit status) are shared with `keys` and `fraud`.

| exit | meaning |
|---|---|
| 0 | done; for `verify`: signed, valid, unmodified, trusted, not contradicted by the database |
| 2 | a value given is not valid (dates, stage, wrong key password, not a PDF, …) |
| 3 | the database, the signing key file or the font cannot be opened |
| 4 | no such session |
| 7 | the output cannot be written (or key files exist) |
| 8 | `verify`: broken, modified, contradicts the database, invalid data, other centre's key |
| 9 | `verify`: not tampered, but unsigned, or its certificate is untrusted or names no centre |
| 13 | `verify`: the file is damaged or incomplete (cut short): no longer a readable PDF |

`roster print --out` writes a PDF only (another suffix is refused, exit 2); a folder that does
not exist yet is created, and the command says so on stderr.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from examdesk.commands.common import JsonOption, LangOption, choices, fail
from examdesk.commands.errors import EXIT_DAMAGED, EXIT_TAMPERED, BadOption, cli_errors
from examdesk.i18n import Catalog, default_language, system_error
from examdesk.services.roster import RosterRequest, SigningKey, print_roster
from proctoring import errors as perrors
from proctoring.models import Stage
from reports.verify_text import quiet_pyhanko, verify_lines

if TYPE_CHECKING:
    from proctoring.store import Store
    from reports.verify import RosterVerification

# reportlab and pyHanko load only when a command needs them: `examdesk roster import` and
# every other command start as fast as before (they cost ~0.6 s to import).

EXIT_UNTRUSTED = 9


class OutNotPdf(BadOption):
    """``roster print --out`` names a file that is not a .pdf (context: ``path``)."""

    key = "roster.out_not_pdf"


class RosterFileMissing(BadOption):
    """``roster verify`` was given a path where no file is (context: ``path``)."""

    key = "reports.file_missing"


class RosterFileUnreadable(BadOption):
    """``roster verify``'s file exists but cannot be read (context: ``path``; ``reason``)."""

    key = "reports.file_unreadable"
    reasons = "reports.file_unreadable"
PASSWORD_ENV = "EXAMDESK_KEY_PASSWORD"


def read_password(file: Path | None, as_json: bool, *, confirm: bool = False,
                  prompt: str = "Mật khẩu / Password: ") -> bytes:
    """The first line of ``file``; else $EXAMDESK_KEY_PASSWORD; else a hidden prompt on a
    terminal. Never an option value: it would sit in the shell history and in ``ps``."""
    if file is not None:
        try:
            text = file.read_text("utf-8")
        except OSError as exc:
            fail("reports.key_unreadable", as_json, 3, system_error(exc), path=str(file))
        return text.splitlines()[0].encode("utf-8") if text else b""
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV].encode("utf-8")
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if confirm and getpass.getpass("Nhập lại / Again: ") != first:
            fail("reports.password_mismatch", as_json, 2)
        return first.encode("utf-8")
    fail("reports.password_missing", as_json, 2)


def write_output(path: Path, data: bytes) -> None:
    """Owner-only: a roster or a fraud report holds personal data (Decree 13/2023/ND-CP); a
    file that cannot be written is the typed ``OutputUnwritable`` (exit 7)."""
    from reports.keys import write_private

    write_private(path, data)


def parse_stages(text: str | None) -> tuple[Stage, ...] | None:
    """``--stage theory,yard``; an unknown stage is the store's ``InvalidInput`` (exit 2)."""
    if not text:
        return None
    try:
        return tuple(Stage(s.strip().lower()) for s in text.split(",") if s.strip())
    except ValueError:
        raise perrors.InvalidInput(f"--stage {text!r}: theory, simulation, yard, road",
                                   reason="choice", field="stage", option="--stage", value=text,
                                   choices=choices(*Stage)) from None


# --- roster print ---------------------------------------------------------------------------


def print_cmd(
    session: Annotated[str, typer.Option("--session", help="session code or id")],
    out: Annotated[Path, typer.Option("--out", help="the PDF to write")],
    sign: Annotated[Path | None, typer.Option(
        "--sign", help="PKCS#12 (.p12/.pfx) to sign with (examdesk keys create makes one)")]
    = None,
    password_file: Annotated[Path | None, typer.Option(
        "--password-file", help=f"file whose first line is the PKCS#12 password "
        f"(else ${PASSWORD_ENV}, else asked)")] = None,
    stage: Annotated[str | None, typer.Option(
        "--stage", help="driving test: only these stages (theory,yard,…); default all")] = None,
    room: Annotated[str | None, typer.Option("--room", help="room or vehicle line")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="reason shown in the signature")]
    = None,
    location: Annotated[str | None, typer.Option("--location", help="where it is signed")]
    = None,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """In danh sách — the session's roster as PDF with photos, totals, QR, signature box;
    signed (PAdES) with --sign."""
    from proctoring.store import Store

    lang = lang or default_language()
    with cli_errors(as_json):
        if out.suffix.lower() != ".pdf":
            raise OutNotPdf(f"{out} is not a .pdf", path=str(out), suffix=out.suffix or "—")
        created = next((p for p in reversed(out.parents) if not p.exists()), None)
        request = RosterRequest(session, out, lang, parse_stages(stage), room=room,
                                reason=reason, location=location)
        key = (SigningKey(sign, read_password(password_file, as_json)) if sign is not None
               else None)
        with Store.open() as store:
            printed = print_roster(store, request, sign=key)
    if created is not None:
        # The folder did not exist: made for the roster (what a user expects), and said.
        print(Catalog.load().text("roster.folder_created", lang, folder=out.parent),
              file=sys.stderr)
    if as_json:
        print(json.dumps(printed.to_dict(), ensure_ascii=False))
        return
    catalog = Catalog.load()
    print(catalog.text("roster.printed", lang, path=out, session=printed.session_code,
                       pages=printed.pages, candidates=printed.candidates))
    if printed.signer is not None:
        print(catalog.text("roster.signed_by", lang, signer=printed.signer))
    print(f"SHA-256 {printed.content_hash}")


# --- roster verify --------------------------------------------------------------------------


def verify_exit(result: RosterVerification) -> int:
    from reports.verify import ContentStatus, Integrity, SignerBinding

    # Cut short or garbled on the way (a copy, a download): not proof of tampering, and not
    # something a CA would fix — get the file again.
    if result.integrity is Integrity.UNREADABLE:
        return EXIT_DAMAGED
    # Invalid facts: a roster examdesk made never has them, so the file was forged or damaged.
    if result.modified or (result.signed and not result.valid) \
            or result.content.status in (ContentStatus.MISMATCH, ContentStatus.INVALID) \
            or result.binding is SignerBinding.MISMATCH:
        return EXIT_TAMPERED
    if not result.ok:
        return EXIT_UNTRUSTED
    return 0


def verify_cmd(
    file: Annotated[Path, typer.Argument(help="the roster PDF")],
    trust: Annotated[list[Path] | None, typer.Option(
        "--trust", help="another CA certificate to trust (PEM/DER); repeatable")] = None,
    no_database: Annotated[bool, typer.Option(
        "--no-database", help="do not compare with the check-ins stored here")] = False,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Kiểm tra danh sách — signature valid? signer, time, modified after signing? trusted?
    does the content match the check-ins stored here?"""
    from proctoring.store import Store
    from reports.audit_head import HeadStatus, check_head
    from reports.verify import load_trust_roots, verify_roster

    quiet_pyhanko()
    lang = lang or default_language()
    with cli_errors(as_json):
        data = _read_roster_file(file)
    store: Store | None = None
    if not no_database:
        try:
            store = Store.open()
        except perrors.ProctoringError:
            store = None  # verifying the signature needs no database: say "not checked"
    # A typed error here: the trust roots are unreadable, or the database failed while the
    # content was compared.
    with cli_errors(as_json):
        try:
            result = verify_roster(data, path=str(file),
                                   roots=load_trust_roots(extra=trust or []), store=store)
            # The audit head the roster carried when it was made must still be in the chain.
            head = check_head(store, data)
        finally:
            if store is not None:
                store.close()
    code = verify_exit(result)
    if head.status is HeadStatus.MISSING and code != EXIT_DAMAGED:
        code = EXIT_TAMPERED
    if code == EXIT_DAMAGED and not as_json:
        # Nothing else can be said about a file that no longer parses: one sentence.
        print(Catalog.load().text("verify.damaged", lang, path=file))
        raise typer.Exit(code)
    if as_json:
        print(json.dumps({**result.to_dict(), "audit_head": head.to_dict(), "exit": code},
                         ensure_ascii=False))
    else:
        catalog = Catalog.load()
        for line in verify_lines(result, catalog, lang):
            print(line)
        print(catalog.text(f"verify.audit_head.{head.status.value}", lang,
                           seq=head.witness.seq if head.witness else "—"))
    raise typer.Exit(code)


def _read_roster_file(file: Path) -> bytes:
    """The roster file's bytes; a path with no file, or one that cannot be read, is said as
    such (not "not a readable PDF")."""
    try:
        return file.read_bytes()
    except FileNotFoundError:
        raise RosterFileMissing("no such file", path=str(file)) from None
    except IsADirectoryError:
        raise RosterFileUnreadable("a folder", reason="folder", path=str(file)) from None
    except PermissionError:
        raise RosterFileUnreadable("permission denied", reason="permission",
                                   path=str(file)) from None
    except OSError as exc:
        raise RosterFileUnreadable(exc.strerror or str(exc), path=str(file)) from None
