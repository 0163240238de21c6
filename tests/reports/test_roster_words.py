"""The roster says things in words (issue 13): a forged card admitted by the centre admin is
marked; every reason of a REVIEW is printed; the header names the centre and the people on
duty; the totals and signatures never stand alone on a page; the CSV speaks the reader's
language and time."""

from __future__ import annotations

from pathlib import Path

from examdesk.services.override import override_checkin
from proctoring.models import Decision, Role, SessionKind
from reports.layout import Words
from reports.roster import roster_pdf

from . import builders
from .conftest import open_store, pdftotext


def _text(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "roster.pdf"
    path.write_bytes(data)
    return " ".join(pdftotext(path).split())


def test_a_forged_card_admitted_by_the_admin_is_marked(tmp_path: Path, vi: Words) -> None:
    store = open_store(tmp_path)
    try:
        centre, users = builders.make_centre(store)
        session, entries, cands = builders.make_session(
            store, centre, kind=SessionKind.ONLINE_EXAM, code="GM-01", title="Tin học",
            people=3)
        built = builders.Built(centre, session, entries, cands, users)
        forged = builders.check_in(store, built, 0, decision=Decision.REJECT, trust="FORGED")
        other = builders.check_in(store, built, 1, decision=Decision.REVIEW, face="review")
        override_checkin(store, forged.checkin.id, Decision.ADMIT, "Đối chiếu hộ chiếu",
                         actor="t", role=Role.CENTRE_ADMIN, confirmed_forged=True)
        override_checkin(store, other.checkin.id, Decision.ADMIT, "Đối chiếu giấy tờ",
                         actor="t")
        text = _text(tmp_path, roster_pdf(store, "GM-01", vi).data)
    finally:
        store.close()
    # Issue 13: printed like any other override.
    assert text.count("THẺ GIẢ MẠO — quản trị viên trung tâm cho vào") == 1, text


def test_the_fraud_report_says_which_chip_check_failed_in_words(vi: Words, en: Words) -> None:
    from reports.findings import findings_sentence

    # Issue 13: "Thẻ không vượt qua kiểm tra chip: active.passed, chip.passed, passive.invalid."
    said = findings_sentence(["active.passed", "chip.passed", "passive.invalid"], vi)
    failed, _, passed = said.partition("Đã đạt:")
    assert failed.startswith("Không đạt: Dữ liệu trên chip đã bị sửa sau khi cấp")
    assert "xác thực chủ động" in passed and "xác thực chip" in passed
    assert "xác thực" not in failed  # a passed check is never listed as a failure
    assert not any(code in said for code in ("passive.", "active.", "chip."))  # no codes
    cloned = findings_sentence(["passive.valid", "active.failed", "chip.failed"], en)
    assert cloned.startswith("Failed: The chip could not prove it holds the issued private key")
    assert cloned.count("cloned chip") == 1  # two findings, one meaning: said once
    assert "The chip data carry a valid signature" in cloned.partition("Passed:")[2]


def _eight(store, code: str = "TT-08"):  # type: ignore[no-untyped-def]
    centre, users = builders.make_centre(store)
    session, entries, cands = builders.make_session(
        store, centre, kind=SessionKind.ONLINE_EXAM, code=code, title="Tin học cơ bản",
        people=8)
    built = builders.Built(centre, session, entries, cands, users)
    for i in range(8):
        builders.check_in(store, built, i)
    return built


def test_totals_and_signatures_never_stand_alone_on_a_page(tmp_path: Path, vi: Words) -> None:
    store = open_store(tmp_path)
    try:
        built = _eight(store)
        made = roster_pdf(store, "TT-08", vi)
    finally:
        store.close()
    path = tmp_path / "roster.pdf"
    path.write_bytes(made.data)
    last = " ".join(pdftotext(path, made.pages).split())
    assert "Tổng hợp" in last
    # Issue 13: with 8 candidates the totals and the signature boxes fell alone onto page 2.
    names = [c.full_name for c in built.candidates]
    assert any(name in last for name in names), last[:400]


def test_the_header_names_the_centre_and_who_was_on_duty(tmp_path: Path, vi: Words,
                                                        monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from examdesk.cli import app
    from proctoring.centres import ensure_centre
    from proctoring.operators import operator_user
    from proctoring.store import Store

    url = f"sqlite:///{tmp_path / 'examdesk.db'}"
    store = Store.open(url)  # the keys where the command line finds them
    try:
        # A centre made by the first command that needed one: named by its code.
        centre = ensure_centre(store, "local", None, actor="t")
        session, entries, cands = builders.make_session(
            store, centre, kind=SessionKind.ONLINE_EXAM, code="SBD-T", title="Toán",
            people=2)
        with store.write() as tx:  # numbers as centres write them: "SBD001"
            for n, entry in enumerate(entries, 1):
                row = tx.get(type(entry), entry.id)
                row.registration_number = f"SBD{n:03d}"
                tx.add(row)
        built = builders.Built(centre, session, entries, cands, [])
        # Signed in at the desk as a name and a role: a user row of the centre.
        on_duty = operator_user(store, centre_id=centre.id, full_name="Lê Thị Giám Thị",
                                role=Role.INVIGILATOR, actor="app:Lê Thị Giám Thị")
        assert operator_user(store, centre_id=centre.id, full_name="Lê  Thị Giám Thị",
                             role=Role.INVIGILATOR, actor="x") == on_duty  # found again
        item = builders.check_in  # the builder's check-in, by the signed-in operator
        built.invigilators.append(type("U", (), {"id": on_duty})())  # type: ignore[arg-type]
        item(store, built, 0)
    finally:
        store.close()
    password = tmp_path / "password"
    password.write_text("mật khẩu đủ dài 2026\n", "utf-8")
    monkeypatch.setenv("EXAMDESK_DB_URL", url)
    made = CliRunner().invoke(app, ["keys", "create", "--centre", "local", "--name",
                                    "Trung tâm Sát hạch Cầu Giấy", "--password-file",
                                    str(password), "--out", str(tmp_path / "pdfkeys")])
    assert made.exit_code == 0, made.stderr
    store = Store.open(url)
    try:
        text = _text(tmp_path, roster_pdf(store, "SBD-T", vi).data)
    finally:
        store.close()
    # Issue 13: "Trung tâm: local (local)", "Cán bộ coi thi: —", "SBD SBD001".
    assert "Trung tâm: Trung tâm Sát hạch Cầu Giấy (local)" in text, text[:300]
    assert "Cán bộ coi thi: Lê Thị Giám Thị" in text
    assert "SBD001" in text and "SBD SBD001" not in text


def test_a_review_row_prints_every_reason(tmp_path: Path, vi: Words) -> None:
    from proctoring.models import CheckIn

    store = open_store(tmp_path)
    try:
        centre, users = builders.make_centre(store)
        session, entries, cands = builders.make_session(
            store, centre, kind=SessionKind.ONLINE_EXAM, code="LV-01", title="Tin học",
            people=2)
        built = builders.Built(centre, session, entries, cands, users)
        # The row: the face matches (0,33), the card is genuine, liveness failed.
        done = builders.check_in(store, built, 0, decision=Decision.REVIEW, distance=0.33)
        with store.write() as tx:
            row = tx.get(CheckIn, done.checkin.id)
            row.liveness = "failed"
            tx.add(row)
        text = _text(tmp_path, roster_pdf(store, "LV-01", vi).data)
    finally:
        store.close()
    # Issue 13: "Khuôn mặt: khớp (0,33) / Thẻ: …" and never that liveness failed.
    assert "Khuôn mặt: khớp (0,33)" in text and "Người thật: KHÔNG ĐẠT" in text, text
