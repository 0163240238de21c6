"""The signed roster prints every reason of each decision in words (issue 13: a REVIEW row
showed "Khuôn mặt: khớp (0,33) / Thẻ: xác thực" and never that liveness failed): Vietnamese,
or English, never a code; long lists wrap without breaking the pagination rules."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from proctoring.checkins import CheckInInput, Reason, record_checkin
from proctoring.models import Decision, SessionKind
from proctoring.reason_keys import REASON_KEYS
from proctoring.store import Store
from reports.layout import Words
from reports.roster import RosterOptions, roster_pdf

from . import builders
from .conftest import open_store, pdftotext

# --- printed in words --------------------------------------------------------------------------


def _text(tmp_path: Path, data: bytes, name: str = "roster.pdf") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return " ".join(pdftotext(path).split())


def _record(store: Store, built: builders.Built, i: int, decision: Decision,
            reasons: list[Reason], **fields: Any) -> uuid.UUID:
    """A check-in stored as the decision code stores one (its reasons with their context)."""
    cand, entry = built.candidates[i], built.entries[i]
    when = built.session.starts_at - timedelta(minutes=30 - i)
    item = CheckInInput(
        session_id=built.session.id, id_number=cand.id_number, decision=decision,
        reasons=reasons, consent=True, started_at=when - timedelta(seconds=20),
        decided_at=when, roster_entry_id=entry.id, trust_verdict="TRUSTED",
        operator_id=built.invigilators[0].id, evidence=builders.evidence_for(i, at=when),
        **fields)
    return record_checkin(store, item, actor=builders.ACTOR).checkin.id


def _session(store: Store, code: str, people: int) -> builders.Built:
    centre, users = builders.make_centre(store)
    session, entries, cands = builders.make_session(
        store, centre, kind=SessionKind.ONLINE_EXAM, code=code, title="Tin học", people=people)
    return builders.Built(centre, session, entries, cands, users)


def test_a_review_for_failed_liveness_prints_that_reason_in_words(
        tmp_path: Path, vi: Words, en: Words) -> None:
    store = open_store(tmp_path)
    try:
        built = _session(store, "LV-02", 2)
        # The row, as proctoring/checkin.py records it: the face matches (0,33), the
        # card is genuine, the blink was not seen.
        _record(store, built, 0, Decision.REVIEW,
                [Reason("face.liveness.no_blink", "no blink in 40 frames",
                        {"challenge": "blink", "attempts": 2})],
                face_outcome="match", face_distance=0.33, liveness="failed")
        vi_text = _text(tmp_path, roster_pdf(store, "LV-02", vi).data, "vi.pdf")
        en_text = _text(tmp_path, roster_pdf(store, "LV-02", en).data, "en.pdf")
    finally:
        store.close()
    assert "Lý do: • Kiểm tra người thật không đạt: không thấy chớp mắt" in vi_text, vi_text
    assert "Reasons: • Liveness check failed: no blink seen" in en_text, en_text
    for text in (vi_text, en_text):
        assert "face.liveness" not in text and "no blink in 40 frames" not in text


def test_every_reason_is_printed_with_its_context_in_words(tmp_path: Path, vi: Words,
                                                           en: Words) -> None:
    store = open_store(tmp_path)
    try:
        built = _session(store, "LV-03", 3)
        _record(store, built, 0, Decision.REVIEW, [
            Reason("checkin.liveness_failed", "", {"challenge": "turn_left", "attempts": 2}),
            Reason("checkin.card_expired"),
            Reason("verdict.no_csca", "", {"finding": "passive.no_csca"}),
            Reason("checkin.face_review", "", {"distance": 0.4512}),
            Reason("checkin.chip_portrait_unusable", "too dark", {"problem": "face.too_dark"}),
            Reason("checkin.made_up_by_a_newer_desk"),
        ])
        _record(store, built, 1, Decision.REVIEW, [Reason("checkin.no_consent")])
        vi_text = _text(tmp_path, roster_pdf(store, "LV-03", vi).data, "vi.pdf")
        en_text = _text(tmp_path, roster_pdf(store, "LV-03", en,
                                             options=RosterOptions(lang="en")).data, "en.pdf")
    finally:
        store.close()
    for said in ("Kiểm tra người thật không đạt (thử thách: quay đầu sang trái)",
                 "Thẻ căn cước đã hết hạn", "Chưa có chứng thư gốc (CSCA)",
                 "chưa chắc chắn (khoảng cách 0,45)",
                 "Ảnh chân dung trên chip không dùng được để đối chiếu: Chất lượng ảnh thấp: "
                 "quá tối", "một lý do mà phiên bản examdesk này chưa biết",
                 "Không đối chiếu khuôn mặt: thí sinh không đồng ý"):
        assert said in vi_text, (said, vi_text)
    assert "(challenge: turn the head left)" in en_text and "(distance 0.45)" in en_text, en_text
    for text in (vi_text, en_text):
        assert not re.search(r"\b(checkin|verdict|face)\.[a-z_]", text), text


def test_long_reason_lists_wrap_and_keep_the_totals_with_rows(tmp_path: Path,
                                                              vi: Words) -> None:
    every = sorted(k for k in REASON_KEYS if not k.startswith("checkin.already"))
    store = open_store(tmp_path)
    try:
        built = _session(store, "LV-08", 8)
        for i in range(8):  # each row with a long list: the decision's worst case and more
            _record(store, built, i, Decision.REVIEW,
                    [Reason(k) for k in every[i * 3:i * 3 + 16]])
        made = roster_pdf(store, "LV-08", vi)
    finally:
        store.close()
    path = tmp_path / "roster.pdf"
    path.write_bytes(made.data)
    assert made.pages >= 2
    last = " ".join(pdftotext(path, made.pages).split())
    assert "Tổng hợp" in last
    assert any(c.full_name in last for c in built.candidates), last[:400]
    text = " ".join(pdftotext(path).split())
    assert text.count("Lý do:") == 8
    for i in range(8):  # every reason of every row is on the page (none cut off)
        for k in every[i * 3:i * 3 + 16]:
            said = " ".join(vi(f"roster.reason.{k}").split())
            assert said.split(":")[0].split("(")[0].strip()[:30] in text, k


def test_a_later_attempts_reasons_are_printed_under_the_admission(tmp_path: Path,
                                                                  vi: Words) -> None:
    store = open_store(tmp_path)
    try:
        built = _session(store, "LV-04", 2)
        builders.check_in(store, built, 0)  # admitted, no reason
        # A cloned card presented for him later, as the decision records it.
        later = built.session.starts_at - timedelta(minutes=5)
        record_checkin(store, CheckInInput(
            session_id=built.session.id, id_number=built.candidates[0].id_number,
            decision=Decision.REJECT, consent=True, started_at=later, decided_at=later,
            roster_entry_id=built.entries[0].id, trust_verdict="FORGED",
            reasons=[Reason("verdict.cloned", "", {"finding": "active.failed"}),
                     Reason("verdict.cloned", "", {"finding": "chip.failed"}),
                     Reason("checkin.already_admitted", "",
                            {"at": "07:00", "date": "12/06/2025", "desk": "Cửa 1"})]),
            actor=builders.ACTOR)
        text = _text(tmp_path, roster_pdf(store, "LV-04", vi).data)
    finally:
        store.close()
    assert "Lần sau lúc 07:25: Không được vào — • Chip không chứng minh được khoá bí mật: " \
           "chip sao chép • Đã được cho vào lúc 07:00 ngày 12/06/2025 tại bàn Cửa 1" in text, text
    assert text.count("chip sao chép") == 1  # two findings, one meaning: said once
