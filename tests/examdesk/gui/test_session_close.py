"""Closing and reopening a session at the desk (issue 13, "dates"): the sessions screen (F7)
does what `session close` / `session reopen --reason` do, through the same use case
(examdesk/services/sessions.py), by keyboard: Ctrl+D asks before closing (Enter closes, Esc
does not), Ctrl+M asks for the reason of a reopen (none: refused, said on the panel), and
both are in the audit log."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import select

from proctoring.models import AuditEvent, Role, SessionKind, SessionStatus
from proctoring.sessions import create_session, session_info
from tests.examdesk.gui.conftest import Desk

REASON = "Thí sinh SBD 12 đến muộn có giấy xác nhận"


@pytest.mark.desk_state(role=Role.INVIGILATOR, screen="checkin")
def test_close_asks_first_and_reopen_needs_a_reason_by_keyboard(desk: Desk) -> None:
    app = desk.app
    store = app.services.store
    made = create_session(store, centre_id=app.session.centre_id, kind=SessionKind.ONLINE_EXAM,
                          title="Lý — ca chiều", starts_at=store.now() + timedelta(hours=2),
                          code="DONG-MO", actor="test")
    ref = str(made.id)

    def status() -> SessionStatus:
        return session_info(store, ref).session.status

    desk.press("F7")
    view = app.views["sessions"]
    assert app.current is view
    view.refresh(select=ref)
    desk.wait_until(lambda: view.selected() is not None
                    and view.selected().session.code == "DONG-MO", "the new session selected")
    tree = view.table.tree
    assert "Ctrl+D" in view.close_button.cget("text") and "Ctrl+M" in view.reopen_button.cget(
        "text")

    # Ctrl+D asks; Esc leaves the session open.
    desk.press("Control-d", tree)
    assert view.confirm_panel.winfo_ismapped()
    assert "DONG-MO" in view.confirm_title.cget("text")
    assert "Enter" in view.confirm_text.cget("text") and "Esc" in view.confirm_text.cget("text")
    assert desk.fits(view.confirm_panel)
    desk.shot("46-session-close-asks")
    desk.press("Escape")
    assert not view.confirm_panel.winfo_ismapped() and status() is SessionStatus.OPEN
    assert "Chưa đóng ca thi DONG-MO" in app.status_text

    # Ctrl+D, Enter: closed, audited, the list says so.
    desk.press("Control-d", tree)
    desk.press("Return")
    desk.wait_until(lambda: status() is SessionStatus.CLOSED, "the session closed")
    desk.wait_until(lambda: not view.confirm_panel.winfo_ismapped(), "the panel gone")
    assert "Đã đóng ca thi DONG-MO" in app.status_text
    desk.wait_until(lambda: view.selected() is not None
                    and view.selected().session.status is SessionStatus.CLOSED, "the list")
    # Closing it again is not offered: it says how to reopen instead.
    desk.press("Control-d", tree)
    assert not view.confirm_panel.winfo_ismapped() and "Ctrl+M" in app.status_text

    # Ctrl+M asks for a reason; none is refused on the panel, the session stays closed.
    desk.press("Control-m", tree)
    assert view.confirm_panel.winfo_ismapped() and view.reason_entry.winfo_ismapped()
    assert app.root.focus_get() is not None
    desk.press("Return")
    desk.wait_until(lambda: bool(view.confirm_message.cget("text")), "the refusal")
    refusal = view.confirm_message.cget("text")
    assert "lý do" in refusal and "--reason" not in refusal  # the desk's words, not the CLI's
    assert status() is SessionStatus.CLOSED and view.confirm_panel.winfo_ismapped()
    desk.type_into(view.reason_entry, REASON)
    desk.shot("47-session-reopen-reason")
    desk.press("Return", view.reason_entry)
    desk.wait_until(lambda: status() is SessionStatus.OPEN, "the session reopened")
    desk.wait_until(lambda: not view.confirm_panel.winfo_ismapped(), "the panel gone")
    assert "Đã mở lại ca thi DONG-MO" in app.status_text

    with store.read() as tx:
        actions = [(e.action, e.payload) for e in tx.exec(
            select(AuditEvent).where(AuditEvent.subject_id == made.id)
            .order_by(AuditEvent.seq)).all()]
    assert [a for a, _ in actions][-2:] == ["session.closed", "session.reopened"]
    assert json.loads(actions[-1][1])["reason"] == REASON
