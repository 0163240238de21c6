"""`examdesk trust …`: the CSCA trust store — import certificates, master lists and CRLs; list."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from examdesk.commands.common import JsonOption, LangOption, day
from examdesk.commands.errors import handles_errors, os_errors
from examdesk.i18n import Catalog, Words, default_language
from examdesk.keyed_error import KeyedError
from examdesk.paths import trust_dir
from reader.errors import ReaderError
from reader.trust.store import ImportResult, StoreEntry, TrustStore

app = typer.Typer(
    help="Kho chứng thư CSCA — the CSCA trust store (certificates, master lists, CRLs).",
    no_args_is_help=True,
)

EXIT_REFUSED = 2  # the file or name given cannot be used
EXIT_WRITE = 7  # the trust store folder cannot be written


class StoreUnwritable(KeyedError):
    """The trust store folder cannot be written (context: ``path``)."""

    key = "trust.store_write"


# Every card-side error of these commands is about the file or the name given.
TRUST_EXITS = ((StoreUnwritable, EXIT_WRITE), (ReaderError, EXIT_REFUSED))


@contextmanager
def _changing() -> Iterator[TrustStore]:
    """The trust store, for a change to its folder: a folder that cannot be written is
    StoreUnwritable (exit 7)."""
    folder = trust_dir()
    store = TrustStore.load(folder)
    with os_errors(StoreUnwritable, path=str(folder)):
        yield store


def _entry_lines(e: StoreEntry, catalog: Catalog, lang: str) -> list[str]:
    where = e.source
    if e.origin == "master_list":
        where = f"{catalog.text('trust.label.from_master_list', lang)} {e.source}"
    return [
        f"  {e.subject}",
        f"    {e.country or '??'} · {e.serial} · {e.key} · "
        f"{day(e.not_before)} → {day(e.not_after)} · {where}",
        f"    SHA-256 {e.fingerprint_sha256}",
    ]


def _warn_problems(problems: Any, lang: str) -> None:
    catalog = Catalog.load()
    for p in problems:
        print("! " + catalog.text("trust.problem", lang, file=p.source,
                                   cause=Words(p.reason)),
              file=sys.stderr)


def _show_import(result: ImportResult, lang: str) -> None:
    catalog = Catalog.load()
    if result.already_present:
        print(catalog.text("trust.already_present", lang, file=result.name))
        return
    print(catalog.text("trust.imported", lang, file=result.name, count=len(result.added),
                       crls=len(result.crls)))
    for e in result.added:
        print("\n".join(_entry_lines(e, catalog, lang)))
    for c in result.crls:
        print(f"  CRL {c.issuer} · {day(c.this_update)} → {day(c.next_update)} · "
              + catalog.text("trust.label.revoked_count", lang, count=len(c.revoked)))
    ml = result.master_list
    if ml is not None:
        print(catalog.text("trust.imported_master_list", lang, file=ml.source,
                           count=ml.certificates, signer=ml.signer.subject))
        print("  " + catalog.text(f"trust.ml_signer.{ml.signer_chain}", lang,
                                  issuer=ml.signer_issuer))


@app.command("import")
@handles_errors(TRUST_EXITS)
def import_cmd(
    file: Annotated[Path, typer.Argument(help="CSCA certificate (PEM/DER), master list .ml, CRL")],
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Nhập chứng thư — add a CSCA certificate, a master list or a CRL to the trust store."""
    lang = lang or default_language()
    with _changing() as store:
        result = store.import_file(file)
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        _show_import(result, lang)
    _warn_problems(result.problems, lang)


@app.command("list")
def list_cmd(
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Liệt kê — show the CSCAs, master lists and CRLs of the trust store."""
    lang = lang or default_language()
    folder = trust_dir()
    store = TrustStore.load(folder)
    if as_json:
        print(json.dumps(store.to_dict(), ensure_ascii=False))
        return
    catalog = Catalog.load()
    entries = store.entries()
    if not entries:
        print(catalog.text("trust.list_empty", lang, folder=str(folder)))
    else:
        print(f"{catalog.text('trust.label.csca', lang)} ({len(entries)}):")
        for e in entries:
            print("\n".join(_entry_lines(e, catalog, lang)))
    if store.master_lists:
        print(f"{catalog.text('trust.label.master_list', lang)} ({len(store.master_lists)}):")
        for ml in store.master_lists:
            print(f"  {ml.source} · {ml.certificates} CSCA · {ml.signer.subject}")
            print("    " + catalog.text(f"trust.ml_signer.{ml.signer_chain}", lang,
                                        issuer=ml.signer_issuer))
    if store.crls:
        print(f"{catalog.text('trust.label.crl', lang)} ({len(store.crls)}):")
        for c in store.crls:
            print(f"  {c.issuer} · {day(c.this_update)} → {day(c.next_update)} · "
                  + catalog.text("trust.label.revoked_count", lang, count=len(c.revoked))
                  + f" · {c.source}")
    _warn_problems(store.problems, lang)


@app.command("remove")
@handles_errors(TRUST_EXITS)
def remove_cmd(
    name: Annotated[str, typer.Argument(help="file name in the trust store (see trust list)")],
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Xoá — remove one file (certificate, master list or CRL) from the trust store."""
    lang = lang or default_language()
    with _changing() as store:
        store.remove(name)
    if as_json:
        print(json.dumps({"removed": name}, ensure_ascii=False))
    else:
        print(Catalog.load().text("trust.removed", lang, file=name))
