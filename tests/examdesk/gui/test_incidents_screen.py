"""The incidents screen (F4) says who, with the evidence, nothing cut off, and moves with the
arrow keys (issue 13: no name, no ID, no photo; "nghiêm trọ"; arrows did nothing). Its
screenshot is kept as a test artefact (incidents-screen.png in the shots folder)."""

from __future__ import annotations

from tkinter import font as tkfont

import pytest

from proctoring.models import Role
from tests.examdesk.gui.conftest import Desk


@pytest.mark.desk_state(role=Role.INVIGILATOR, screen="checkin")
def test_incidents_say_who_with_the_picture_and_move_with_the_arrows(desk: Desk) -> None:
    app = desk.app
    for key in ("Control-Key-3", "Control-Key-5"):  # a forged card; a stranger to the roster
        desk.press("Escape")
        desk.press(key)
        assert desk.wait_decided()["decision"] == "REJECT"
    desk.press("F4")
    view = app.views["incidents"]
    assert app.current is view
    desk.wait_until(lambda: len(view.table.rows()) >= 2, "the incidents")
    rows = view.table.rows()
    who = [r[1] for r in rows]
    assert any(w.startswith("Nguyễn Văn An · 001093014275") for w in who), who
    assert any(w.isdigit() and len(w) == 12 for w in who), who  # a stranger: the ID
    # Nothing cut off: every fixed column is as wide as its widest text.
    cell = tkfont.Font(font=app.fonts.tk_base)
    tree = view.table.tree
    for i, column in enumerate(view.table.columns):
        if column.stretch:
            continue
        width = int(tree.column(column.key, "width"))
        for r in rows:
            assert cell.measure(r[i]) <= width, (column.key, r[i], width)
    # …and every column is inside the window (the last ones fell off its edge).
    total = sum(int(tree.column(c.key, "width")) for c in view.table.columns)
    assert int(tree.column("app.col.what", "width")) >= 200  # what happened: readable
    assert total <= tree.winfo_width() and desk.fits(view.table), (total, tree.winfo_width())
    # The forged card's row: the chip portrait as the evidence, who in words.
    forged = next(iid for iid, r in zip(tree.get_children(), rows, strict=True)
                  if r[1].startswith("Nguyễn Văn An"))
    view.table.select(forged)
    desk.wait_until(lambda: "Nguyễn Văn An" in view.snapshot()["detail"]
                    and view.snapshot()["photo"], "the forged card's evidence picture")
    seen = view.snapshot()
    assert "Nguyễn Văn An" in seen["detail"] and "001093014275" in seen["detail"]
    # Arrow keys move the selection (the table has the keyboard focus on F4).
    tree.focus_set()
    first = tree.get_children()[0]
    view.table.select(first)
    desk.press("Down", tree)
    assert view.table.selected() == tree.get_children()[1]
    desk.press("Up", tree)
    assert view.table.selected() == first
    desk.shot("incidents-screen")
