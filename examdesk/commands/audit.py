"""`examdesk audit …`: verify the tamper-evident log; sign a checkpoint now; print the key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from examdesk.commands.common import JsonOption, LangOption
from examdesk.commands.errors import EXIT_TAMPERED, handles_errors
from examdesk.commands.session import stored
from examdesk.i18n import Catalog, Words, default_language
from proctoring import audit
from proctoring.audit_keys import anchor_key, read_key_file
from proctoring.audit_witness import Witness, district_witness
from proctoring.centres import list_centres
from proctoring.store import Store

app = typer.Typer(help="Nhật ký kiểm toán — the hash-chained audit log.", no_args_is_help=True)

KeyOption = Annotated[list[Path] | None, typer.Option(
    "--key", help="public key of the centre (file: 64 hex digits or PEM), from 'audit key'")]
DistrictOption = Annotated[bool, typer.Option(
    "--district", help="compare with the head and the key the district holds")]
CentralOption = Annotated[str | None, typer.Option(
    "--central", help="district database URL (default: EXAMDESK_CENTRAL_URL or the saved one)")]


def _seqs(seqs: tuple[int, ...]) -> str:
    if len(seqs) > 2 and seqs == tuple(range(seqs[0], seqs[-1] + 1)):
        return f"{seqs[0]}–{seqs[-1]}"
    return ", ".join(str(s) for s in seqs) or "—"


def _district_witnesses(store: Store, central: str | None) -> list[Witness]:
    from proctoring.central import central_engine, central_errors, central_url, safe_url
    from proctoring.sync import local_centre

    centre = local_centre(store)
    url = central_url(central, store.keys)
    engine = central_engine(url)
    try:
        with central_errors(safe_url(url)), engine.connect() as conn:
            return [district_witness(conn, centre.id)]
    finally:
        engine.dispose()


@app.command("verify")
@handles_errors()
def verify_cmd(key: KeyOption = None, district: DistrictOption = False,
               central: CentralOption = None, as_json: JsonOption = False,
               lang: LangOption = None) -> None:
    """Kiểm tra nhật ký — find modified, deleted, inserted, reordered or unsigned events and
    rows that differ from their events (exit 8)."""
    lang = lang or default_language()
    with stored() as store:
        key_files = [read_key_file(k) for k in key or []]
        witnesses = _district_witnesses(store, central) if district else []
        with store.read() as tx:
            report = audit.verify(tx, store.keys, key_files=key_files, witnesses=witnesses)
    if as_json:
        out = report.to_dict()
        out["witnesses"] = [w.to_dict() for w in witnesses]
        print(json.dumps(out, ensure_ascii=False))
    else:
        catalog = Catalog.load()
        if not report.chains:
            print(catalog.text("audit.none", lang))
        for chain in report.chains:
            key_name = ("audit.chain_ok" if chain.ok
                        # A lost key replaced on purpose is a visible break, not tampering.
                        else "audit.chain_key_replaced"
                        if all(p.kind == "key_replaced" for p in chain.problems)
                        else "audit.chain_bad")
            if chain.station_id is not None:  # a station's own chain (issue 17): named
                key_name = "audit.station_" + key_name.removeprefix("audit.")
            print(catalog.text(key_name, lang, centre=chain.centre_code, events=chain.events,
                               checkpoints=chain.checkpoints, station=chain.station_name))
            for p in chain.problems:
                print("  ✗ " + catalog.text(p.key, lang, seqs=_seqs(p.seqs),
                                                 **p.context()))
            # Where the key came from, in words (a code the catalogue lacks shows as it is).
            said = f"audit.key_from.{chain.key_source}"
            source = Words(said) if said in catalog.messages else chain.key_source
            print("  " + catalog.text("audit.key_source", lang, source=source))
            if chain.legacy_events:
                print("  " + catalog.text("audit.legacy", lang, events=chain.legacy_events,
                                          rows=chain.rows.get("legacy", 0)))
            for w in witnesses:
                if w.centre_id == chain.centre_id and chain.ok:
                    print("  " + catalog.text("audit.witness", lang, seq=w.seq))
    if not report.ok:
        raise typer.Exit(EXIT_TAMPERED)


@app.command("checkpoint")
@handles_errors()
def checkpoint_cmd(as_json: JsonOption = False, lang: LangOption = None) -> None:
    """Ký điểm kiểm tra — sign the current end of every centre's chain now."""
    lang = lang or default_language()
    signed = []
    with stored() as store:
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


@app.command("key")
@handles_errors()
def key_cmd(as_json: JsonOption = False) -> None:
    """Khoá công khai — print each centre's audit public key (hex) for 'audit verify --key'
    on another machine; keep a copy away from this one."""
    out = []
    with stored() as store:
        for centre in list_centres(store):
            out.append({"centre": centre.code, "centre_id": str(centre.id),
                        "public_key": anchor_key(store.keys, centre.id)})
    if as_json:
        print(json.dumps(out))
        return
    for item in out:
        print(f"{item['centre']}\t{item['public_key'] or '—'}")
