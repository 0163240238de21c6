"""The invigilator's desk, the real window under Xvfb, in demo mode: virtual cards (through
pcscd's vpcd reader when it is free, in process otherwise), a file camera playing real ORL
photos, the demo session and roster.

One app for the module (starting one costs seconds), but no test relies on another: each
declares the state it starts from (``desk_state``: who is signed in, which screen, which demo
card is on the reader) and the ``desk`` fixture brings the app there through the keys and
screens a user would use (conftest.py), so any test passes alone and in any order. In file
order they read as a shift at the desk: sign in, open the session, check candidates in,
override, look at the roster and incidents, print and sign. Each state is saved as a
screenshot in /tmp/examdesk-gui-shots/.
"""

from __future__ import annotations

import json
import time

import pytest

from examdesk.app import POLL_MS
from examdesk.demo import SESSION_CODE, Scenario
from proctoring.checkin import CheckInCancelled
from proctoring.models import Role
from reports.verify import load_trust_roots, verify_roster
from tests.examdesk.gui.conftest import SHOTS, Desk

GAP_GOAL_S = 0.100  # the goal for the longest gap; reported by the test below
FROZEN_S = 1.0  # a sanity bound: a gap this long is a window that froze, on any machine

# What the tests start from (conftest.py's ``desk``): signed in, the demo session open, the
# check-in screen idle with an empty key entry, Vietnamese, the settings as at start.
# Nobody admitted yet (``absent``): a test that checks An in expects a fresh admission, and
# admitted stays admitted (issue 13) — An's card again would be "already admitted".
AT_THE_DESK = pytest.mark.desk_state(role=Role.INVIGILATOR, screen="checkin", absent=True)


@pytest.mark.desk_state(role=None, screen="signin")
def test_sign_in_and_open_the_session(desk: Desk) -> None:
    app = desk.app
    assert app.current is app.views["signin"]
    desk.shot("01-sign-in")
    signin = app.views["signin"]
    signin.name_entry.delete(0, "end")
    desk.type_into(signin.name_entry, "Trần Thị Giám Thị")
    desk.press("Return")
    assert app.operator is not None and app.operator.name == "Trần Thị Giám Thị"
    assert app.operator.role is Role.INVIGILATOR  # the role the screen offers first
    assert app.current is app.views["sessions"]
    desk.wait_until(lambda: app.views["sessions"].selected() is not None, "the session list")
    assert app.views["sessions"].selected().session.code == SESSION_CODE
    desk.shot("02-sessions")
    desk.press("Return")
    assert app.session is not None and app.session.code == SESSION_CODE
    assert app.current is desk.checkin
    desk.wait_until(lambda: desk.checkin.preview.showing, "the camera preview")
    desk.shot("03-check-in-ready")


@AT_THE_DESK
def test_the_right_person_is_admitted(desk: Desk) -> None:
    desk.press("Control-Key-1")  # demo: the right person's card on the reader
    desk.wait_until(lambda: desk.checkin.snapshot()["prompt"] != "", "the liveness prompt")
    assert "chớp mắt" in desk.checkin.snapshot()["prompt"]
    desk.shot("04-liveness-prompt")
    seen = desk.wait_decided()
    assert seen["decision"] == "ADMIT", seen
    assert "CHO VÀO" in seen["banner"] and "Nguyễn Văn An" in seen["banner"]
    assert seen["fields"]["Họ và tên"] == "Nguyễn Văn An"
    assert seen["fields"]["Số định danh"] == "001093014275"
    assert seen["trust"].startswith("✔ Thẻ thật")
    assert seen["face"].startswith("KHỚP")
    # The demo centre runs on its own people's (ORL) calibration, not the shipped East Asian
    # default: the desk says which point is in force.
    assert "Ngưỡng đã hiệu chỉnh" in seen["face"] and "mặc định" not in seen["face"]
    assert desk.checkin.chip_box.showing and desk.checkin.live_box.showing
    # The whole check-in screen fits a 1366×768 laptop screen.
    root, view = desk.app.root, desk.checkin
    assert (root.winfo_width(), root.winfo_height()) == (1366, 768)
    for widget in (view.banner, view.preview, view.chip_box, view.live_box, view.fields,
                   view.reasons_label, view.key_entry, view.admit_button,
                   view.override_button, view.cancel_button, view.consent,
                   desk.app.status_label, *desk.app.demo_buttons.values()):
        assert desk.fits(widget), widget
    desk.shot("05-admit")
    desk.press("Return")  # Enter admits and clears the desk for the next candidate
    after = desk.checkin.snapshot()
    assert after["state"] == "idle" and "Nguyễn Văn An" in after["banner"]


@pytest.mark.desk_state(role=Role.INVIGILATOR, screen="checkin", card=Scenario.RIGHT_PERSON,
                        absent=True)
def test_the_window_never_freezes_during_a_check_in(desk: Desk,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The longest gap between two ticks of the event loop (after(10)) over a whole check-in
    typed at the keyboard: card read, trust, liveness, face, duplicates, storage."""
    desk.checkin.key_entry.delete(0, "end")
    desk.press("F8")  # the candidate consents to face matching (asked of each one)
    desk.type_into(desk.checkin.key_entry, "014275")  # the CAN of An's card on the reader
    desk.app.gaps.reset()
    desk.press("Return")
    seen = desk.wait_decided()
    longest, ticks = desk.app.gaps.longest, desk.app.gaps.ticks
    assert seen["decision"] == "ADMIT", seen
    (SHOTS / "event-loop-gap.json").write_text(json.dumps(
        {"longest_gap_ms": round(longest * 1000, 1), "ticks": ticks,
         "goal_ms": GAP_GOAL_S * 1000}))
    with capsys.disabled():
        print(f"\n[event loop] longest gap during a full check-in: {longest * 1000:.1f} ms "
              f"over {ticks} ticks of after({POLL_MS}) (goal < {GAP_GOAL_S * 1000:.0f} ms)")
    # The figure is reported, not asserted (a loaded CI machine may be slower); only a
    # window that froze outright fails here.
    assert ticks > 0 and longest < FROZEN_S


@AT_THE_DESK
def test_escape_cancels_a_running_check_in(desk: Desk,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Esc during the liveness check: the screen is cleared at once, and the job stops at the
    camera's next frame (the feed honours the cancel flag), not after its 45 frames."""
    view = desk.checkin
    desk.press("Escape")
    desk.press("Control-Key-1")
    desk.wait_until(lambda: "chớp mắt" in view.snapshot()["prompt"], "the liveness prompt")
    job = view._job
    assert job is not None and not job.done()
    pressed = time.monotonic()
    desk.press("Escape")  # (pumps the event loop for 50 ms)
    seen = view.snapshot()
    assert seen["state"] == "idle" and "Đã huỷ lượt kiểm tra" in seen["banner"]
    desk.wait_until(job.done, "the cancelled check-in to stop", 30)
    stopped = time.monotonic() - pressed
    assert isinstance(job.exception(), CheckInCancelled)
    with capsys.disabled():
        print(f"\n[cancel] Esc during liveness: the check-in stopped {stopped * 1000:.0f} ms "
              "later")
    desk.pump(0.3)  # whatever the cancelled job still reported must not reach the screen
    assert view.snapshot()["state"] == "idle" and view.snapshot()["prompt"] == ""
    desk.shot("05b-cancelled")
    # Back to ready: the key box is empty (issue 13: every return to ready clears it, so the
    # next key typed or scanned is never appended to the cancelled one's).
    assert view.key_entry.get() == ""
    desk.press("F8")  # consent again: a cancelled check-in took the answer with it
    desk.type_into(view.key_entry, "014275")  # the card is still on the reader: check it again
    desk.press("Return")
    assert desk.wait_decided()["decision"] == "ADMIT"


@AT_THE_DESK
def test_someone_elses_face_is_not_admitted(desk: Desk) -> None:
    desk.press("Escape")
    desk.press("Control-Key-2")  # An's card, someone else (ORL s12) in front of the camera
    # The first try fails: its reason stays, in words, under the second try's prompt.
    view = desk.checkin
    desk.wait_until(lambda: "Lần 1 không đạt" in view.snapshot()["failed_try"],
                    "the first try's reason under the retry prompt")
    retry = view.snapshot()
    assert "lần 2/2" in retry["prompt"] and "chớp mắt" in retry["prompt"], retry
    assert retry["failed_try"].startswith("✖") and "face.liveness" not in retry["failed_try"]
    desk.shot("06-retry-with-reason")
    seen = desk.wait_decided()
    assert seen["failed_try"] == "", seen  # the check-in is over: the verdict says why
    assert seen["decision"] in ("REJECT", "REVIEW"), seen
    assert "KHÔNG CHO VÀO" in seen["banner"] or "CẦN KIỂM TRA" in seen["banner"]
    assert "Khuôn mặt" in seen["reasons"] or "người thật" in seen["reasons"]
    # ORL s12 never blinks (the demo camera adds a webcam's sensor noise, so their looped
    # photos are not a frozen feed, which they were named before; which of their six photos a
    # busy check-in skips decides whether a jump between two of them is seen, a cut): the
    # liveness reason is on the screen in words, never as its key.
    outcome = desk.checkin.current.outcome
    assert outcome is not None
    liveness = outcome.liveness
    assert liveness is not None and not liveness.passed
    assert liveness.reason in ("face.liveness.no_blink", "face.liveness.cut"), liveness.reason
    assert desk.checkin.t(liveness.reason) in seen["reasons"]
    assert "face.liveness" not in seen["reasons"]
    # Every challenge asked is listed, with ✔/✖ and in words (never colour alone).
    lines = seen["liveness"].splitlines()
    assert lines[0] == "Chưa xác nhận người thật", lines
    asked = (*liveness.previous, liveness)
    assert len(lines) == 1 + len(asked) and lines[-1] == "✖ chớp mắt: không đạt", lines
    desk.shot("06-someone-else")
    desk.press("Return")  # Enter must not admit a refused candidate
    assert desk.checkin.snapshot()["state"] == "decided"
    assert "ghi đè" in desk.checkin.step_label.cget("text")


@AT_THE_DESK
def test_an_override_needs_a_written_reason(desk: Desk) -> None:
    view = desk.checkin
    desk.press("Control-Key-2")  # a refused candidate to override: An's card, another face
    refused = desk.wait_decided()
    assert refused["decision"] in ("REJECT", "REVIEW"), refused
    machine = view.snapshot()["decision"]
    desk.press("Control-o")
    assert view.override_panel.winfo_ismapped()
    desk.press("Return")  # no reason: refused, nothing changes
    assert "lý do" in view.override_message.cget("text")
    assert view.snapshot()["decision"] == machine
    desk.type_into(view.reason_entry, "Đã đối chiếu giấy khai sinh và thẻ dự thi: đúng người")
    assert view.reason_entry.get() == "Đã đối chiếu giấy khai sinh và thẻ dự thi: đúng người"
    desk.shot("07-override-reason")
    desk.press("Return")
    desk.wait_until(lambda: not view.override_panel.winfo_ismapped(), "the override to save")
    seen = view.snapshot()
    assert seen["decision"] == "ADMIT"
    assert "Ghi đè" in seen["banner"] and "giấy khai sinh" in seen["banner"]
    desk.shot("08-overridden")

    desk.press("F4")
    incidents = desk.app.views["incidents"]
    # (any cell: the kind moved right of the new "who" column, issue 13)
    desk.wait_until(lambda: any("Ghi đè" in " ".join(r) for r in incidents.table.rows()),
                    "the override incident")
    desk.shot("09-incidents")

    desk.press("Control-f")  # Ctrl+F: the roster, the cursor in its search box
    roster = desk.app.views["roster"]
    assert desk.app.current is roster
    desk.wait_until(lambda: len(roster.table.rows()) == 5, "the roster")
    assert str(desk.app.root.focus_get()).startswith(str(roster.search))
    desk.type_into(roster.search, "nguyen van an")  # no diacritics
    rows = roster.table.rows()
    assert len(rows) == 1 and rows[0][2] == "Nguyễn Văn An"
    assert "có mặt" in rows[0][6] and "(ghi đè)" in rows[0][6]
    desk.shot("10-roster-search")
    roster.search.delete(0, "end")
    desk.press("KeyRelease", roster.search)


@AT_THE_DESK
@pytest.mark.parametrize(("key", "name", "reason"), [
    ("Control-Key-3", "11-forged-card", "Dữ liệu trên chip đã bị sửa"),
    ("Control-Key-4", "12-cloned-chip", "chip"),
    ("Control-Key-5", "13-not-on-roster", "không có trong danh sách"),
], ids=["forged", "cloned", "not-on-roster"])
def test_forged_cloned_and_strangers_are_rejected(desk: Desk, key: str, name: str,
                                                  reason: str) -> None:
    desk.press("F2")
    desk.press("Escape")
    desk.press(key)
    seen = desk.wait_decided()
    assert seen["decision"] == "REJECT", seen
    assert reason.lower() in seen["reasons"].lower(), seen["reasons"]
    desk.shot(name)


@AT_THE_DESK
def test_printing_a_signed_roster(desk: Desk) -> None:
    desk.press("Escape")
    desk.press("Control-p")  # Ctrl+P: to the print screen, print and sign
    view = desk.app.views["print"]
    assert desk.app.current is view
    desk.wait_until(lambda: view.printed is not None, "the signed roster", 90)
    text = view.result_text
    assert "Đã ký số bởi" in text and "✔ Chữ ký số hợp lệ." in text
    assert "✔ Nội dung khớp" in text
    printed = view.printed
    services = desk.app.services
    result = verify_roster(printed.path.read_bytes(), store=services.store,
                           roots=load_trust_roots(key_folder=services.places.pdf_keys,
                                                  trust_folder=services.places.pdf_trust))
    assert result.ok and result.valid and result.trusted and not result.modified
    assert printed.path.stat().st_mode & 0o077 == 0  # personal data: owner-only
    desk.shot("14-print-signed")


@AT_THE_DESK
def test_thresholds_are_for_admins_and_english_works(desk: Desk) -> None:
    app = desk.app
    desk.press("F6")
    settings = app.views["settings"]
    assert settings.threshold.cget("state") == "disabled"
    app.show("signin")
    signin = app.views["signin"]
    signin.choose_role(Role.CENTRE_ADMIN)
    desk.press("Return", signin.name_entry)
    assert app.operator is not None and app.operator.is_admin
    desk.press("F6")
    assert settings.threshold.cget("state") == "normal"
    assert settings.threshold.get() == "0.3594"
    desk.shot("15-settings-admin")
    settings.language.set("English")
    settings._language("English")
    desk.press("F2")
    desk.press("Control-Key-1")
    seen = desk.wait_decided()
    assert seen["banner"].startswith("ADMIT · The right person")
    assert seen["fields"]["Full name"] == "Nguyễn Văn An"
    assert seen["fields"]["Sex"] == "Male (Nam)"  # glossed; the chip's own word kept
    desk.shot("16-english-admit")
    app.set_language("vi")


@AT_THE_DESK
def test_check_in_rules_are_for_admins_only(desk: Desk) -> None:
    """The centre's check-in rules: an invigilator does not see them; an admin sees each in
    words, changes one (kept in the settings file, applied to the next check-in) and gets the
    rule's bilingual error for a bad value instead of a save."""
    from examdesk.settings import read_section
    from proctoring.models import Decision
    from proctoring.policy import CheckInRules

    app = desk.app
    services = app.services
    settings = app.views["settings"]
    signin = app.views["signin"]

    def sign_in(role: Role) -> None:
        app.show("signin")
        signin.choose_role(role)
        desk.press("Return", signin.name_entry)
        assert app.operator is not None and app.operator.role is role
        desk.press("F6")
        assert app.current is settings

    sign_in(Role.INVIGILATOR)
    assert not settings.rules.winfo_ismapped()
    sign_in(Role.CENTRE_ADMIN)
    assert desk.fits(settings.rules) and desk.fits(settings.save_button)
    rules = settings.rules.widgets
    assert set(rules) == set(CheckInRules().to_dict())
    assert rules["suspicious_card"].get() == "Kiểm tra"  # REVIEW, in words
    assert rules["liveness_frames"].get() == "45" and rules["require_liveness"].get() == 1
    desk.shot("15b-settings-rules-admin")

    rules["liveness_frames"].delete(0, "end")
    rules["liveness_frames"].insert(0, "5")
    settings.save()
    desk.pump(0.2)
    said = str(settings.message.cget("text"))
    assert "liveness_frames" in said and "10–600" in said  # the rule's own message, no save
    assert services.checkins.rules == CheckInRules()

    rules["liveness_frames"].delete(0, "end")
    rules["liveness_frames"].insert(0, "45")
    rules["suspicious_card"].set("Từ chối")
    settings.save()
    desk.wait_until(lambda: services.checkins.rules.suspicious_card is Decision.REJECT,
                    "the saved rules")
    assert read_section("checkin", services.places.settings_file)["suspicious_card"] == "REJECT"
    rules["suspicious_card"].set("Kiểm tra")  # back to the default for the tests after
    settings.save()
    desk.wait_until(lambda: services.checkins.rules == CheckInRules(), "the default rules")


@AT_THE_DESK
def test_a_card_whose_data_breaks_the_read_is_rejected_and_recorded(desk: Desk) -> None:
    """A hostile chip (its DG13 claims 4 GiB) on the reader: the desk says REJECT in words,
    and the attempt is a stored check-in with a FORGED_CARD incident, not a lost one."""
    from proctoring.checkins import incidents
    from tests.reader.hostile import hostile

    app = desk.app
    app.show("checkin")
    desk.press("Escape")
    deck = app.services.deck
    chip = hostile(DG13=b"\x6D\x84\xff\xff\xff\xf0" + b"\x30\x00" * 200)
    with deck._lock:  # the demo deck's reader, with our card instead of a demo one
        if deck.use_vpcd:
            deck._swap_vpcd(chip)
        else:
            deck._loopback.put(chip)
    view = desk.checkin
    view.key_entry.delete(0, "end")
    desk.type_into(view.key_entry, "001093014275")
    desk.press("Return", view.key_entry)
    desk.wait_until(lambda: view.snapshot()["state"] == "failed", "the rejected card")
    banner = view.snapshot()["banner"]
    assert "KHÔNG CHO VÀO" in banner and "lớn hơn mọi thẻ thật" in banner, banner
    desk.shot("17-hostile-card")
    found = incidents(app.services.store, session_id=app.session.id)
    assert any(i.kind == "FORGED_CARD" and i.message_key == "checkin.card_rejected" and linked
               for i, linked in found), found
