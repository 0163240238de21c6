"""`examdesk keys`: the roster signing certificate (`create`), and the keys the database depends
on — the evidence data key and the centre's audit signing key: `status`, `backup`, `recover`,
`rotate`. The last three are a centre admin's explicit, audited actions: examdesk itself never
replaces a key that has existed."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from examdesk.commands.common import JsonOption, LangOption, choices
from examdesk.commands.errors import handles_errors
from examdesk.commands.reports import read_password
from examdesk.commands.session import CENTRE_ENV, actor, stored
from examdesk.i18n import Catalog, default_language
from proctoring.errors import InvalidInput, ProctoringError
from reports.keys import create_centre_keys

if TYPE_CHECKING:
    from proctoring.keyadmin import KeyChange
    from proctoring.models import Centre, KeyPurpose
    from proctoring.store import Store

app = typer.Typer(help="Khoá — signing keys for rosters; the data and audit keys.",
                  no_args_is_help=True)


def _known_centres() -> list[Centre]:
    """The database's centres when it opens, else none: `keys create` works without one (a
    signing certificate needs no database) and never creates anything in it."""
    from proctoring.centres import list_centres
    from proctoring.store import Store

    try:
        with Store.open() as store:
            return list_centres(store)
    except ProctoringError:
        return []


def _centre_name(code: str) -> str | None:
    """The centre's name from the database when it is there."""
    return next((c.name for c in _known_centres() if c.code == code), None)


def _name_centre(code: str, name: str) -> None:
    """A centre in the database still named by its code takes ``--name`` (audited); without a
    database, nothing (the certificate alone carries it)."""
    from proctoring.centre_name import name_centre
    from proctoring.store import Store

    from .session import actor

    try:
        with Store.open() as store:
            name_centre(store, code, name, actor=actor())
    except ProctoringError:
        return


def _only_centre() -> str | None:
    """Like the session commands: with one centre in the database, that is the one."""
    centres = _known_centres()
    return centres[0].code if len(centres) == 1 else None


@app.command("create")
@handles_errors()
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
        raise InvalidInput("--centre CODE is needed", field="centre")
    password = read_password(password_file, as_json, confirm=True)
    issuer_password = (read_password(issuer_password_file, as_json)
                       if issuer_password_file is not None else None)
    if name:
        _name_centre(code, name)  # the roster's header says the same name as the certificate
    made = create_centre_keys(centre_code=code, centre_name=name or _centre_name(code) or code,
                              password=password, folder=out, signer_name=signer,
                              issuer=issuer, issuer_password=issuer_password, force=force)
    if as_json:
        print(json.dumps(made.to_dict(), ensure_ascii=False))
    else:
        print(Catalog.load().text("keys.created", lang, centre=code, p12=made.signer_p12,
                                  ca=made.ca_cert))


# --- the keys the database depends on -----------------------------------------------------------

KeyOption = Annotated[str, typer.Option(
    "--key", help="data (the evidence encryption key) or signing (the centre's audit key)")]
CentreOption = Annotated[str | None, typer.Option(
    "--centre", help=f"centre code (default ${CENTRE_ENV}, or the only centre)")]


def _purpose(text: str) -> KeyPurpose:
    from proctoring.models import KeyPurpose

    chosen = {"data": KeyPurpose.DATA, "signing": KeyPurpose.SIGNING}.get(text.strip().lower())
    if chosen is None:
        raise InvalidInput(f"--key {text!r}: data or signing", reason="choice", field="key",
                           option="--key", value=text, choices=choices("data", "signing"))
    return chosen


def _admin_centre(store: Store, code: str | None) -> uuid.UUID:
    from proctoring.sync import local_centre

    return local_centre(store, code=code or os.environ.get(CENTRE_ENV)).id


def _change(key: str, centre: str | None, as_json: bool, lang: str | None,
            act: Callable[[Store, KeyPurpose, uuid.UUID], KeyChange]) -> None:
    """One audited change of the key named by ``--key`` for the centre, said afterwards."""

    purpose = _purpose(key)
    with stored() as store:
        change = act(store, purpose, _admin_centre(store, centre))
    _say(change, as_json, lang)


def _say(change: KeyChange, as_json: bool, lang: str | None) -> None:
    if as_json:
        print(json.dumps(change.to_dict(), ensure_ascii=False))
        return
    catalog, lang = Catalog.load(), lang or default_language()
    ctx = {"key_id": change.key_id, "old": change.old_key_id, "where": change.where,
           "n": change.unreadable, "displaced": change.displaced_key_id,
           "what": catalog.text(f"keys.purpose.{change.purpose.value.lower()}", lang)}
    print(catalog.text(f"keys.{change.action}", lang, **ctx))
    if change.action == "rotated":
        if change.purpose.value == "DATA":
            follow = "keys.old_kept" if change.old_kept else "keys.old_lost"
        else:  # signed by the old key, or (lost) a replacement audit verify reports
            follow = "keys.old_signing" if change.old_kept else "keys.signing_lost"
        print(catalog.text(follow, lang, **ctx))
    if change.displaced_key_id:
        print(catalog.text("keys.displaced", lang, **ctx))


@app.command("status")
@handles_errors()
def status_cmd(as_json: JsonOption = False, lang: LangOption = None) -> None:
    """Các khoá của cơ sở dữ liệu — the keys this database records, and whether this machine
    holds each (never makes one)."""
    from proctoring.keyadmin import key_states

    lang = lang or default_language()
    with stored() as store:
        states = key_states(store)
    if as_json:
        print(json.dumps({"keys": [s.to_dict() for s in states]}, ensure_ascii=False))
        return
    catalog = Catalog.load()
    if not states:
        print(catalog.text("keys.none", lang))
    for s in states:
        r = s.record
        state = r.status.value.lower()
        if state == "retired" and r.purpose.value == "SIGNING":
            state = "retired_signing"  # it opens nothing: it signed, and signed the change
        print(catalog.text("keys.status_line", lang,
                           what=catalog.text(f"keys.purpose.{r.purpose.value.lower()}", lang),
                           key_id=r.key_id,
                           status=catalog.text(f"keys.state.{state}", lang),
                           here=catalog.text(f"keys.here.{s.here}", lang)))


@app.command("backup")
@handles_errors()
def backup_cmd(
    key: KeyOption,
    out: Annotated[Path, typer.Option("--out", help="the backup file to write (mode 0600; "
                                      "keep it offline, it opens the evidence)")],
    centre: CentreOption = None,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Sao lưu khoá — write the current key to a new private file (audited)."""
    from proctoring.keyadmin import backup_key

    _change(key, centre, as_json, lang, lambda store, purpose, owner: backup_key(
        store, purpose, centre_id=owner, out=out, actor=actor()))


@app.command("recover")
@handles_errors()
def recover_cmd(
    key: KeyOption,
    source: Annotated[Path, typer.Option("--from", help="a backup (from `examdesk keys backup` "
                                         "or the old key file)")],
    centre: CentreOption = None,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Khôi phục khoá — put a key this database recorded back on this machine (audited). A
    different key found in its place is kept, not deleted."""
    from proctoring.keyadmin import read_backup, recover_key

    _change(key, centre, as_json, lang, lambda store, purpose, owner: recover_key(
        store, purpose, read_backup(source), centre_id=owner, actor=actor()))


@app.command("rotate")
@handles_errors()
def rotate_cmd(
    key: KeyOption,
    reason: Annotated[str, typer.Option("--reason", help="why (kept in the audit log)")],
    lost: Annotated[bool, typer.Option(
        "--lost", help="the old key is gone for good: what only it opens stays unreadable")]
    = False,
    centre: CentreOption = None,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Thay khoá — make a new key and record it (audited). The old data key stays on this
    machine to open what it sealed; the old signing key signs the change, so `audit verify`
    follows it. With --lost the old key is recorded as lost (for the signing key, `audit
    verify` then reports the unsigned change)."""
    from proctoring.keyadmin import rotate_key

    _change(key, centre, as_json, lang, lambda store, purpose, owner: rotate_key(
        store, purpose, centre_id=owner, actor=actor(), reason=reason, lost=lost))
