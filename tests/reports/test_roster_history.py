"""Issue 13: the signed roster prints each candidate's attendance state and its history — the
first admission, then any later attempt — never "the last check-in wins". Read back from the
PDF's text (pdftotext) and from the facts it embeds and hashes. The page with the second
attempt is kept as a test artefact, rendered to PNG (``roster-pdf-second-attempt.png`` in the
GUI tests' shots folder, /tmp/examdesk-gui-shots/ unless ``EXAMDESK_GUI_SHOTS`` says)."""

from __future__ import annotations

import json
import os
import shutil
from datetime import timedelta
from pathlib import Path

from pyhanko.pdf_utils.reader import PdfFileReader

from examdesk.timezone import VIETNAM
from proctoring.models import Decision, SessionKind
from reports.layout import Words
from reports.pdfmeta import read_embedded_facts
from reports.roster import roster_pdf

from . import builders
from .conftest import open_store, pdftoppm, pdftotext

SHOTS = Path(os.environ.get("EXAMDESK_GUI_SHOTS", "/tmp/examdesk-gui-shots"))


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
    _keep_page_as_artefact(path, tmp_path)
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


def _keep_page_as_artefact(pdf: Path, tmp_path: Path) -> None:
    """Issue 13's acceptance: a roster with a second attempt, kept as a picture a person can
    look at. The first page (the row and its later attempt are on it) at 110 dpi."""
    from PIL import Image

    [page] = pdftoppm(pdf, tmp_path / "page", dpi=110, first=1)
    with Image.open(page) as image:
        assert min(image.size) > 800 and max(image.size) > 1200  # an A4 page (landscape)
        assert image.convert("L").getextrema()[0] < 64  # it has ink on it
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(page, SHOTS / "roster-pdf-second-attempt.png")
