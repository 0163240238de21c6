"""The education office's review mode and the desk's sync badge, in the real window under Xvfb,
against a real district PostgreSQL with two centres (the district tests' fixtures: a private
cluster, a fresh district database per test, each centre's own SQLite database and keys).

One app for the module, as one office machine: the office signs in, filters, opens the
cross-centre proxy incident (both centres' chip portraits and live faces), is refused a
decision without notes, confirms with notes; PostgreSQL holds the decision and its audit event.
Then a centre's invigilator signs in at the same window and the header shows the background
sync. Screenshots: /tmp/examdesk-gui-shots/review-*.png.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import ImageGrab

from proctoring.checkins import CheckInInput, NewIncident, Reason, record_checkin
from proctoring.crypto import KeyStore
from proctoring.district import add_centre
from proctoring.models import Decision, IncidentKind, IncidentStatus, Role, Severity
from proctoring.store import Store
from proctoring.sync import sync_once
from tests.examdesk.gui.conftest import Desk, press_sign_in
from tests.proctoring.helpers import photo
from tests.sync import conftest as district_fixtures
from tests.sync.builders import admit, person, session_with_roster
from tests.sync.conftest import OFFICE_ROLE, DistrictEnv

# The district tests' fixtures, reused (not copied): pytest finds them in this module. The
# office's keys are this module's own (``office_keys`` below).
cluster = district_fixtures.cluster
_proxy = district_fixtures._proxy
proxy = district_fixtures.proxy
district = district_fixtures.district
centres = district_fixtures.centres
real_faces = district_fixtures.real_faces

OFFICER = "Lê Thị Thanh Tra"
NOTES = "Cùng một người thi hộ ở hai trung tâm; đã đối chiếu ảnh"


@pytest.fixture(scope="module")
def office_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("office-home")


@pytest.fixture(scope="module")
def office_keys(office_home: Path) -> KeyStore:
    """Overrides the district fixture's: the office's keys where the app looks for this
    machine's keys (``KeyStore.default()`` under EXAMDESK_HOME), as on the office's computer."""
    return KeyStore(office_home / "config" / "keys", use_keyring=False)


@pytest.fixture(scope="module")
def office_desk(xvfb: str, office_home: Path) -> Iterator[Desk]:
    from examdesk.app import AppOptions, ExamDeskApp

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXAMDESK_HOME", str(office_home))
        mp.setenv("EXAMDESK_KEYRING", "0")
        for name in ("EXAMDESK_DB_URL", "EXAMDESK_CENTRE", "EXAMDESK_CENTRAL_URL"):
            mp.delenv(name, raising=False)
        app = ExamDeskApp(AppOptions(demo=True, lang="vi", display=xvfb))
        try:
            d = Desk(app, xvfb)
            d.wait_until(lambda: app.services is not None, "the services to start", 90)
            yield d
        finally:
            app.close()


def _sit(store: Store, code: str, sitters: list[tuple[tuple[str, str, object, str], str]],
         faces: dict[str, np.ndarray]) -> None:
    session, entries = session_with_roster(store, code, [p for p, _ in sitters])  # type: ignore[misc]
    for (who, picture), entry in zip(sitters, entries, strict=True):
        admit(store, session, entry, who[0], faces[picture], frame=photo(picture))


def _forged_card(store: Store) -> None:
    """Another kind of incident at HP02, for the filters to leave out."""
    session, (entry,) = session_with_roster(store, "S2", [person(9)])
    record_checkin(store, CheckInInput(
        session_id=session.id, id_number=person(9)[0], decision=Decision.REJECT,
        reasons=[Reason("checkin.forged_card")], consent=True, started_at=datetime.now(UTC),
        roster_entry_id=entry.id, trust_verdict="FORGED",
        incidents=[NewIncident(IncidentKind.FORGED_CARD, Severity.HIGH,
                               "checkin.forged_card")]), actor="test:centre")


def _key(desk: Desk, widget: Any, keysym: str) -> None:
    """A key pressed while ``widget`` has the focus (a CTkEntry's inner Tk entry)."""
    inner = getattr(widget, "_entry", widget)
    inner.focus_set()
    desk.pump(0.05)
    desk.press(keysym, inner)


def _not_blank(desk: Desk, w: Any) -> bool:
    """Pixels on the X screen where a picture box is: a photo, not the empty dark box."""
    box = (w.winfo_rootx(), w.winfo_rooty(), w.winfo_rootx() + w.winfo_width(),
           w.winfo_rooty() + w.winfo_height())
    grabbed = np.asarray(ImageGrab.grab(bbox=box, xdisplay=desk.display).convert("L"))
    return float(grabbed.std()) > 20.0


def test_the_office_reviews_a_cross_centre_proxy(
        office_desk: Desk, district: DistrictEnv, centres: dict[str, Store],
        real_faces: dict[str, np.ndarray], capsys: pytest.CaptureFixture[str]) -> None:
    desk, app = office_desk, office_desk.app
    hn, hp = centres["HN01"], centres["HP02"]
    _sit(hn, "S1", [(person(1), "obama/obama.jpg"), (person(2), "person01/img26.jpg")],
         real_faces)
    _sit(hp, "S1", [(person(3), "obama/obama2.jpg"), (person(4), "person02/img1.jpg")],
         real_faces)
    _forged_card(hp)
    for code, store in centres.items():
        assert sync_once(store, district.centre_urls[code]).ok

    # No district address yet: the typed error, in words.
    press_sign_in(desk, Role.EDUCATION_OFFICE, OFFICER)
    review = app.views["review"]
    assert app.current is review and not app.side.winfo_ismapped()
    assert not app.sync_badge.winfo_ismapped()  # the office has no desk to sync
    for keysym in ("F2", "F5", "Control-Key-1"):  # the desk's keys: not for the office
        desk.press(keysym)
        assert app.current is review and app.views["checkin"].state.value == "idle"
    desk.wait_until(lambda: "Chưa có địa chỉ CSDL của sở" in review.message_text,
                    "the missing address")
    assert "dán vào ô bên phải" in app.status_text  # the whole sentence
    assert review.message_text.startswith("✖") and review.connection is None
    assert str(review.link.cget("text")).startswith("✖")

    # The address pasted in the (masked) field, Enter connects: the forged card's incident.
    review.url_entry.insert(0, district.office_url)
    _key(desk, review.url_entry, "Return")
    desk.wait_until(lambda: review.connection is not None and len(review.rows) == 1,
                    "the district's incidents")

    # The proxy screen from the office's desk (Ctrl+K): one face under two IDs, two centres.
    desk.press("Control-k")
    desk.wait_until(lambda: review.last_screen is not None and len(review.rows) == 2,
                    "the proxy screen's incident in the list")
    (proxy_id,) = review.last_screen.incidents
    assert "1 sự cố thi hộ mới" in review.message_text
    assert review.last_screen.screened == 4  # the four admitted check-ins of both centres
    assert review.connection is not None and review.connection.centres == ("HN01", "HP02")
    # Accepted, so kept like a key (this machine's store): the next sign-in needs no address.
    from proctoring.central import saved_central_url
    saved = saved_central_url(KeyStore.default())
    assert saved is not None and sa.make_url(saved).password == \
        sa.make_url(district.office_url).password
    assert "✔" in str(review.link.cget("text"))
    assert "Nghi thi hộ" in {r[2] for r in review.table.rows()}
    desk.shot("review-01-list")

    # A date that is not one: the typed error, in words, and the list stays as it was.
    review.from_entry.insert(0, "31/13/2026")
    _key(desk, review.from_entry, "Return")
    desk.wait_until(lambda: "“31/13/2026” không phải là một ngày" in review.message_text,
                    "the bad date refused")
    assert len(review.rows) == 2
    review.from_entry.delete(0, "end")

    # Filters: HN01's proxy cases (the office's incident names HN01's check-in), still open.
    review.set_filters(centre="HN01", kind=IncidentKind.PROXY_SUSPECTED,
                       status=IncidentStatus.OPEN)
    app.gaps.reset()
    _key(desk, review.session_entry, "Return")
    desk.wait_until(lambda: [r.incident.id for r in review.rows] == [proxy_id],
                    "the filtered list")
    desk.wait_until(lambda: review.dossier is not None and
                    review.dossier.incident.id == proxy_id, "the incident's evidence")
    with capsys.disabled():  # a figure to report, not a timed assertion
        print(f"\n[review] longest event-loop gap while filtering and opening the proxy case "
              f"(PostgreSQL, decryption, 4 JPEG decodes): {app.gaps.longest * 1000:.1f} ms "
              f"over {app.gaps.ticks} ticks")
    desk.pump(0.2)
    sides = review.side_texts()
    assert [s["heading"] for s in sides] == ["Trung tâm HN01 · kỳ thi S1",
                                             "Trung tâm HP02 · kỳ thi S1"]
    assert [s["Số định danh"] for s in sides] == [person(1)[0], person(3)[0]]
    assert all(s["portrait"] == s["live"] == "picture" for s in sides)
    assert "Nghi thi hộ" in str(review.headline.cget("text"))
    assert "hai trung tâm" in str(review.what.cget("text"))
    for card in review.cards:
        assert _not_blank(desk, card.portrait) and _not_blank(desk, card.live)
    desk.shot("review-02-proxy-both-sides")

    # No decision without notes: the backend's typed error, in words; nothing stored.
    _key(desk, review.notes, "F8")
    desk.wait_until(lambda: "ghi chú" in review.message_text, "the refusal")
    assert review.message_text.startswith("✖")
    assert district.count("incident", f"id = '{proxy_id}' AND status = 'OPEN'") == 1
    desk.shot("review-03-notes-required")

    desk.type_into(review.notes, NOTES)
    assert review.notes.get() == NOTES
    _key(desk, review.notes, "F8")
    desk.wait_until(lambda: "Đã ghi kết luận" in review.message_text, "the decision")
    # Decided: it leaves the list of open cases; shown again with any status.
    desk.wait_until(lambda: review.rows == [] and review.dossier is None, "the open list")
    assert "Không có sự cố nào" in str(review.headline.cget("text"))
    review.set_filters(centre="HN01", kind=IncidentKind.PROXY_SUSPECTED)
    _key(desk, review.session_entry, "Return")
    desk.wait_until(lambda: review.dossier is not None and
                    review.dossier.incident.status is IncidentStatus.CONFIRMED,
                    "the incident reloaded")
    assert review.table.rows()[0][3] == "✖ đã xác nhận"
    assert "Đã kết luận" in str(review.what.cget("text"))
    desk.shot("review-04-confirmed")

    engine = district.admin()
    try:
        with engine.connect() as conn:
            stored = conn.execute(sa.text(
                "SELECT status, reviewer_notes, reviewed_at FROM incident WHERE id = :id"),
                {"id": proxy_id}).one()
            audit = conn.execute(sa.text(
                "SELECT actor, payload FROM audit_event WHERE action = 'incident.reviewed' "
                "AND subject_id = :id"), {"id": proxy_id}).all()
    finally:
        engine.dispose()
    assert (stored.status, stored.reviewer_notes) == ("CONFIRMED", NOTES)
    assert stored.reviewed_at is not None
    assert [a.actor for a in audit] == [f"app:{OFFICER}"]
    payload = json.loads(audit[0].payload)  # canonical JSON text: the chain hashes it
    assert (payload["from"], payload["to"]) == ("OPEN", "CONFIRMED")

    # English on the same screen, then the district report of the filters' centre.
    app.set_language("en")
    assert "Suspected proxy" in str(review.headline.cget("text"))
    assert review.side_texts()[0]["heading"] == "Centre HN01 · session S1"
    app.set_language("vi")
    review.set_filters()  # every centre
    review.from_entry.insert(0, "01/01/2020")
    _key(desk, review.notes, "Control-s")
    desk.wait_until(lambda: review.last_export is not None, "the district report", 60)
    report = review.last_export
    assert report.path.suffix == ".pdf" and report.path.read_bytes().startswith(b"%PDF")
    assert report.path.stat().st_mode & 0o077 == 0 and report.findings >= 1

    # The district goes away under the office (its login disabled, its sessions cut): the
    # reload says so in words, as a district error, not an unexpected one.
    admin = district.admin()
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"ALTER ROLE {OFFICE_ROLE} NOLOGIN")
            conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 f"WHERE usename = '{OFFICE_ROLE}'")
        _key(desk, review.notes, "Control-r")
        desk.wait_until(lambda: "cơ sở dữ liệu" in review.message_text,
                        "the lost district in words")
        assert review.message_text.startswith("✖") and "mong đợi" not in review.message_text
        desk.shot("review-05-district-lost")
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"ALTER ROLE {OFFICE_ROLE} LOGIN")
        admin.dispose()


def test_the_desk_shows_the_sync_state(office_desk: Desk, district: DistrictEnv,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    desk, app = office_desk, office_desk.app
    badge = app.sync_badge
    monkeypatch.delenv("EXAMDESK_CENTRAL_URL", raising=False)
    press_sign_in(desk, Role.INVIGILATOR, "Giám thị demo")
    desk.wait_until(lambda: badge.text == "○ Ngoại tuyến", "offline mode on the badge", 30)
    assert app.current is not app.views["review"] and app.side.winfo_ismapped()
    assert badge.winfo_ismapped()

    # A wrong password: the badge says so in words, the full sentence goes to the status line.
    creds = add_centre(district.admin_url, "DEMO", password="pw-demo")
    monkeypatch.setenv("EXAMDESK_CENTRAL_URL", district.url_as(creds.role, "wrong-password"))
    press_sign_in(desk, Role.INVIGILATOR, "Giám thị demo")
    desk.wait_until(lambda: badge.text.startswith("✖ Sở từ chối tài khoản"),
                    "the refused login on the badge", 30)
    assert "từ chối" in app.status_text

    monkeypatch.setenv("EXAMDESK_CENTRAL_URL", district.url_as(creds.role, creds.password))
    press_sign_in(desk, Role.INVIGILATOR, "Giám thị demo")
    desk.wait_until(lambda: badge.text.startswith("✔ Đồng bộ"), "a successful sync", 60)
    assert badge.text.endswith("chờ 0"), badge.text
    desk.shot("review-06-desk-synced")
    centre_id = badge.status.centre_id
    assert district.count("audit_event", f"centre_id = '{centre_id}'") > 0
    assert district.count("exam_session", f"centre_id = '{centre_id}'") == 1
    assert uuid.UUID(str(centre_id))

    # No variable: a centre admin types the address in Settings. A refused login is not kept;
    # the accepted one is (as a secret), the badge syncs with it, and deleting it goes offline.
    monkeypatch.delenv("EXAMDESK_CENTRAL_URL")
    press_sign_in(desk, Role.CENTRE_ADMIN, "Quản trị demo")
    desk.wait_until(lambda: badge.text == "○ Ngoại tuyến", "offline mode on the badge", 30)
    desk.press("F6")
    settings = app.views["settings"]
    assert settings.district_url.cget("state") == "normal"

    def note() -> str:
        return str(settings.district_note.cget("text"))

    settings.district_url.insert(0, district.url_as(creds.role, "wrong-password"))
    _key(desk, settings.district_url, "Return")
    desk.wait_until(lambda: "Địa chỉ chưa được lưu" in note(), "the refused address", 30)
    assert settings.district_url.get() and "Chưa có địa chỉ" in note()
    settings.district_url.delete(0, "end")
    settings.district_url.insert(0, district.url_as(creds.role, creds.password))
    _key(desk, settings.district_url, "Return")
    desk.wait_until(lambda: "đã chấp nhận" in note(), "the accepted address", 60)
    assert "Đang dùng: postgresql+psycopg://" in note() and creds.password not in note()
    assert not settings.district_url.get()  # the password does not stay on the screen
    desk.wait_until(lambda: badge.text.startswith("✔ Đồng bộ"), "a sync with the saved address",
                    60)
    desk.shot("review-07-settings-district-saved")
    settings.forget_district()
    desk.wait_until(lambda: badge.text == "○ Ngoại tuyến", "offline once the address is gone",
                    30)
    assert "Chưa có địa chỉ" in note()
    badge.stop()


# --- the words, without a window ------------------------------------------------------------------


def _texts(lang: str = "vi") -> Any:
    from examdesk.i18n import Catalog
    from examdesk.views.texts import Texts

    return Texts(Catalog.load(), lang)


def test_filters_refuse_dates_that_are_not_dates() -> None:
    from examdesk.views.review_jobs import Filters
    from reports.errors import InvalidPeriod

    for start, end in (("31/02/2026", ""), ("hôm qua", ""), ("02/03/2026", "01/03/2026")):
        with pytest.raises(InvalidPeriod):
            Filters(start=start, end=end).query()
    q = Filters(centre="HN01", session=" S1 ", start="01/03/2026", end="01/03/2026").query()
    assert (q.centre, q.session) == ("HN01", "S1")
    assert q.since == datetime(2026, 2, 28, 17, tzinfo=UTC)  # midnight in Vietnam
    assert q.until == datetime(2026, 3, 1, 17, tzinfo=UTC)


def test_the_badge_says_the_state_in_words() -> None:
    from examdesk.views.sync_state import FAILED, OFFLINE, SYNCED, WAITING, describe
    from proctoring.sync import ErrorInfo, SyncStatus

    t, centre = _texts(), uuid.uuid4()
    assert describe(t, None, configured=False).look is OFFLINE
    assert describe(_texts("en"), None, configured=False).short == "Offline mode"
    never = SyncStatus(centre, "pg://x", None, None, None, 4, None)
    assert (describe(t, never, configured=True).look, describe(t, never, configured=True).short
            ) == (WAITING, "Chưa đồng bộ · chờ 4")
    done = SyncStatus(centre, "pg://x", "SGD-HN", datetime.now(UTC), datetime.now(UTC), 0, None,
                      witnessed_seq=42)
    shown = describe(t, done, configured=True)
    assert shown.look is SYNCED and shown.short.startswith("Đồng bộ ") and "SGD-HN" in shown.full
    assert "Sở đã xác nhận nhật ký kiểm toán đến sự kiện 42" in shown.full  # the last witness
    for key, words in (("sync.central_unavailable", "Mất kết nối sở"),
                       ("sync.chain_diverged", "Dừng: nhật ký lệch"),
                       ("sync.error", "Lỗi đồng bộ")):
        failed = SyncStatus(centre, "pg://x", "SGD-HN", datetime.now(UTC), None, 7,
                            ErrorInfo(key, "connection refused"))
        shown = describe(t, failed, configured=True)
        assert (shown.look, shown.short) == (FAILED, f"{words} · chờ 7")
        assert "chưa bao giờ" in shown.full and "7" in shown.full
