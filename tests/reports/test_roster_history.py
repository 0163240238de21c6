"""Issue 13: the signed roster prints each candidate's attendance state and its history — the
first admission, then any later attempt — never "the last check-in wins". Read back from the
PDF's text (pdftotext) and from the facts it embeds and hashes."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from pyhanko.pdf_utils.reader import PdfFileReader

from examdesk.timezone import VIETNAM
from proctoring.models import Decision, SessionKind
from reports.layout import Words
from reports.pdfmeta import read_embedded_facts
from reports.roster import roster_pdf

from . import builders
from .conftest import open_store, pdftotext


def test_a_later_forged_card_does_not_unadmit_and_is_listed(tmp_path: Path, vi: Words) -> None:
    store = open_store(tmp_path)
    try:
        centre, users = builders.make_centre(store)
        session, entries, candidates = builders.make_session(
            store, centre, kind=SessionKind.ONLINE_EXAM, code="TH-LAI", title="Toán — ca sáng",
            people=2)
        built = builders.Built(centre, session, entries, candidates, users)
        first = builders.check_in(store, built, 0, desk="Cửa 1")
        when = first.checkin.decided_at + timedelta(minutes=3)
        later = builders.check_in(store, built, 0, decision=Decision.REJECT, trust="FORGED",
                                  at=when, desk="Cửa 2", operator=1)
        made = roster_pdf(store, session.code, vi)
    finally:
        store.close()
    path = tmp_path / "roster.pdf"
    path.write_bytes(made.data)
    text = " ".join(pdftotext(path).split())
    admitted_at = first.checkin.decided_at.astimezone(VIETNAM).strftime("%H:%M")
    later_at = later.checkin.decided_at.astimezone(VIETNAM).strftime("%H:%M")
    assert f"Cho vào lúc {admitted_at} (bàn Cửa 1)" in text, text
    assert f"Lần sau lúc {later_at}: Không được vào – Thẻ: GIẢ MẠO (bàn Cửa 2)" in text, text
    # His row's state is the admission: "Được vào thi" on his row and as the totals' label
    # (today's code printed "Không được vào" there: the last row won); the other is absent.
    assert text.count("Được vào thi") == 2, text
    with path.open("rb") as f:
        embedded = read_embedded_facts(PdfFileReader(f))
    assert embedded.canonical is not None
    section = json.loads(embedded.canonical)["sections"][0]
    assert section["totals"]["admitted"] == 1 and section["totals"]["rejected"] == 0
    row = section["rows"][0]
    assert row["status"] == "ADMIT" and row["checkin"]["id"] == str(first.checkin.id)
    assert row["checkin"]["desk"] == "Cửa 1"
    assert [(h["when"], h["decision"], h["desk"]) for h in row["history"]] == [
        ("later", "REJECT", "Cửa 2")]
    # A row without other attempts keeps the shape it always had (old rosters still verify).
    assert "history" not in section["rows"][1]
    # Who decided the later attempt is among the invigilators too.
    assert sorted(section["invigilators"]) == sorted(u.full_name for u in users)
