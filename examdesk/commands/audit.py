"""`examdesk audit …`: verify the tamper-evident log; sign a checkpoint now."""

from __future__ import annotations

import json

import typer

from examdesk.commands.common import JsonOption, LangOption
from examdesk.commands.session import EXIT_TAMPERED, stored
from examdesk.i18n import Catalog, default_language
from proctoring import audit
from proctoring.centres import list_centres

app = typer.Typer(help="Nhật ký kiểm toán — the hash-chained audit log.", no_args_is_help=True)


def _seqs(seqs: tuple[int, ...]) -> str:
    if len(seqs) > 2 and seqs == tuple(range(seqs[0], seqs[-1] + 1)):
        return f"{seqs[0]}–{seqs[-1]}"
    return ", ".join(str(s) for s in seqs) or "—"


@app.command("verify")
def verify_cmd(as_json: JsonOption = False, lang: LangOption = None) -> None:
    """Kiểm tra nhật ký — find modified, deleted, inserted or reordered events (exit 8)."""
    lang = lang or default_language()
    with stored(as_json) as store, store.read() as tx:
        report = audit.verify(tx, store.keys)
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        catalog = Catalog.load()
        if not report.chains:
            print(catalog.text("audit.none", lang))
        for chain in report.chains:
            key = "audit.chain_ok" if chain.ok else "audit.chain_bad"
            print(catalog.text(key, lang, centre=chain.centre_code, events=chain.events,
                               checkpoints=chain.checkpoints))
            for p in chain.problems:
                print("  ✗ " + catalog.text(p.key, lang, seqs=_seqs(p.seqs), detail=p.detail))
            if chain.key_source == "database" and chain.checkpoints:
                print("  " + catalog.text("audit.key_from_database", lang))
    if not report.ok:
        raise typer.Exit(EXIT_TAMPERED)


@app.command("checkpoint")
def checkpoint_cmd(as_json: JsonOption = False, lang: LangOption = None) -> None:
    """Ký điểm kiểm tra — sign the current end of every centre's chain now."""
    lang = lang or default_language()
    signed = []
    with stored(as_json) as store:
        for centre in list_centres(store):
            with store.write() as tx:
                cp = store.audit.checkpoint(tx, centre.id, store.now())
            signed.append((centre.code, cp.seq if cp is not None else None))
    if as_json:
        print(json.dumps([{"centre": c, "seq": s} for c, s in signed]))
        return
    catalog = Catalog.load()
    for code, seq in signed:
        key = "audit.checkpoint_signed" if seq is not None else "audit.checkpoint_empty"
        print(catalog.text(key, lang, centre=code, seq=seq))
