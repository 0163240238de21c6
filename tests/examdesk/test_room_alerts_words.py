"""The header's room badge in words (issue 18), without a window: how many alerts nobody
acknowledged, with a symbol as well as a colour, Vietnamese first and English; nothing for a
session without seats; "?" (never an old count) when the read failed; the status line's
notice of a critical alert names the seat, what and who."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from examdesk.i18n import Catalog
from examdesk.services.room import Alert
from examdesk.views.room_alerts import (
    CLEAR,
    UNKNOWN,
    WAITING,
    RoomAlerts,
    describe_alerts,
    notice_text,
)
from examdesk.views.texts import Texts
from proctoring.models import IncidentKind, Severity


def alert(severity: Severity = Severity.CRITICAL, name: str | None = "Nguyễn Văn An") -> Alert:
    return Alert(uuid.uuid4(), "A07", name, "012", IncidentKind.FACE_MISMATCH, severity,
                 "monitor.different_person", {}, datetime(2026, 12, 4, 2, 0, tzinfo=UTC), None,
                 None, None, 1)


def test_the_badge_counts_the_alerts_nobody_acknowledged_in_words() -> None:
    vi, en = Texts(Catalog.load(), "vi"), Texts(Catalog.load(), "en")
    two = RoomAlerts(uuid.uuid4(), True, (alert(), alert(Severity.MEDIUM)))
    assert describe_alerts(vi, two) == (WAITING, "2 cảnh báo phòng thi chưa xử lý — F11")
    assert describe_alerts(en, two) == (WAITING, "2 room alerts not acknowledged — F11")
    assert two.critical == two.waiting[:1]
    none = RoomAlerts(uuid.uuid4(), True, ())
    assert describe_alerts(vi, none) == (CLEAR, "Phòng thi: không có cảnh báo chưa xử lý — F11")
    assert describe_alerts(vi, RoomAlerts(uuid.uuid4(), False, ())) is None  # no seats
    assert describe_alerts(vi, None) is None
    look, words = describe_alerts(en, two, failed=True) or (None, "")
    assert look is UNKNOWN and "could not be read" in words
    assert len({WAITING.symbol, CLEAR.symbol, UNKNOWN.symbol}) == 3  # never colour alone


def test_the_notice_names_the_seat_what_and_who() -> None:
    vi, en = Texts(Catalog.load(), "vi"), Texts(Catalog.load(), "en")
    assert notice_text(vi, alert()) == ("✖ Cảnh báo phòng thi — ghế A07: Người khác đang ngồi "
                                        "thi (Nguyễn Văn An, SBD 012). Nhấn F11 để xem.")
    assert notice_text(en, alert(name=None)).startswith(
        "✖ Room alert — seat A07: A different person is sitting the exam (")
