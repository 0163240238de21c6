"""Issue 17 at the desk, the real window under Xvfb: a driving test whose stages are checked at
several desks of one centre. The roster (F3) lists under each candidate the stages they passed,
at which desk and when (Vietnam time), whichever desk admitted them: the theory room's
admission shows at the track's desk. Screenshot: ``stages-01-roster``."""

from __future__ import annotations

from datetime import timedelta
from tkinter import font as tkfont

import pytest

from examdesk.timezone import moment
from proctoring.checkins import CheckInInput, attendance, record_checkin
from proctoring.models import Decision, Role, RosterEntry, SessionKind, Stage
from proctoring.sessions import create_session, session_info
from tests.examdesk.gui.conftest import Desk

pytestmark = pytest.mark.pcsc


@pytest.mark.desk_state(role=Role.INVIGILATOR, screen="checkin")
def test_the_roster_shows_the_stages_passed_where_and_when(desk: Desk) -> None:
    app = desk.app
    demo = app.session
    store = app.services.store
    people = [r.candidate for r in attendance(store, demo.id).rows[:2]]
    driving = create_session(store, centre_id=demo.centre_id, kind=SessionKind.DRIVING_TEST,
                             title="Sát hạch B2", starts_at=store.now() - timedelta(hours=1),
                             code="B2-17", stages=["theory", "yard"], actor="test")
    with store.write() as tx:
        entries = [RosterEntry(centre_id=demo.centre_id, session_id=driving.id,
                               candidate_id=c.id, registration_number=f"{i:03d}",
                               position=i) for i, c in enumerate(people, 1)]
        tx.add_all(entries)
    made = {}
    for entry, person, stage, where in (
            (entries[0], people[0], Stage.THEORY, "Phòng lý thuyết"),
            (entries[0], people[0], Stage.YARD, "Sân 1"),
            (entries[1], people[1], Stage.THEORY, "Phòng lý thuyết")):
        made[(person.id_number, stage)] = record_checkin(store, CheckInInput(
            session_id=driving.id, id_number=person.id_number, decision=Decision.ADMIT,
            reasons=(), consent=True, started_at=store.now(), roster_entry_id=entry.id,
            stage=stage, desk=where), actor="test").checkin
    try:
        app.open_session(driving)
        desk.pump(0.1)
        desk.press("F3")
        roster = app.views["roster"]
        first, second = (str(e.id) for e in entries)
        desk.wait_until(lambda: len(roster.history(first)) == 2, "the stages under the row")
        theory = moment(made[(people[0].id_number, Stage.THEORY)].decided_at)
        yard = moment(made[(people[0].id_number, Stage.YARD)].decided_at)
        assert roster.history(first) == [
            f"↳ đã qua vòng lý thuyết · ✔ bàn Phòng lý thuyết · {theory}",
            f"↳ đã qua vòng sa hình · ✔ bàn Sân 1 · {yard}"], roster.history(first)
        assert roster.history(second) == [
            "↳ đã qua vòng lý thuyết · ✔ bàn Phòng lý thuyết · "
            + moment(made[(people[1].id_number, Stage.THEORY)].decided_at)]
        # Each line fits its columns at the smallest laptop screen: nothing cut off.
        tree = roster.table.tree
        font = tkfont.Font(root=tree, font=roster.fonts.tk_base)
        for child in tree.get_children(first):
            for column, text in zip(tree["columns"], tree.item(child, "values"), strict=True):
                room = tree.column(column, "width") - 8  # the cell's padding
                assert font.measure(str(text)) <= room, (column, text)
        desk.shot("stages-01-roster")
    finally:
        app.open_session(session_info(store, demo.code).session)
        desk.pump(0.1)
