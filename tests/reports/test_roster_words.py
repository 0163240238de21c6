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
