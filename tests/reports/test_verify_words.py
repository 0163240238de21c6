"""`roster verify`'s content findings in words, each language whole (issue 13, verify13): the
data and the QR code disagreeing, data that cannot be read, a database that cannot give its
facts, and each field that differs — never the English detail inside the Vietnamese. A
hostile file's odd, huge or control-character values give a bounded, worded finding."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from typer.testing import CliRunner

from examdesk.cli import app
from examdesk.i18n import Catalog
from proctoring.store import Store
from reports.facts import canonical_bytes, content_hash
from reports.keys import CreatedKeys
from reports.layout import catalog_words
from reports.pdfmeta import FACTS_FILE, qr_payload
from reports.signing import load_signer, sign_pdf
from reports.verify import (
    MAX_SHOWN_TEXT,
    ContentStatus,
    RosterVerification,
    TrustRoots,
    load_trust_roots,
    verify_roster,
)
from reports.verify_text import verify_lines
from tests.examdesk.language import english_words

from . import builders
from .conftest import PASSWORD, exam_clock, open_store


@dataclass
class Made:
    store: Store
    unsigned: bytes
    facts: dict[str, Any]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Made]:
    store = open_store(tmp_path_factory.mktemp("words"))
    built = builders.driving_test(store, people=3)
    yield Made(store, *builders.roster_and_facts(store, built.session.code))
    store.close()


def _roster(facts: Any, *, stated: str | None = None, session_id: str | None = None) -> bytes:
    """An unsigned roster stating ``facts``; its QR states ``stated`` (default: their hash).
    The text ``"NaN!"`` becomes the bare ``NaN`` Python's JSON reads (no canonical JSON
    writes it; a forger's file may)."""
    canonical = canonical_bytes(facts).replace(b'"NaN!"', b"NaN")
    digest = content_hash(canonical)
    sid = uuid.UUID(session_id or facts["session"]["id"])
    return builders.unsigned_roster(canonical, qr_payload(sid, stated or digest))


def _copy(made: Made) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(made.facts))
    return copied


def _lines(r: RosterVerification, lang: str) -> list[str]:
    return verify_lines(r, Catalog.load(), lang)


def _one_language(r: RosterVerification) -> tuple[str, str]:
    """Both languages' lines; no Vietnamese line carries English, and no placeholder is left."""
    vi, en = _lines(r, "vi"), _lines(r, "en")
    for line in vi:
        assert not english_words(line), line
    for line in vi + en:
        assert "{" not in line and "?" not in line.replace("?”", ""), line
    return "\n".join(vi), "\n".join(en)


# --- verify.content.mismatch: the data and the QR code disagree ---------------------------------


def test_data_changed_under_the_qr_code_is_said_in_words(made: Made) -> None:
    facts = _copy(made)
    facts["sections"][0]["rows"][0]["full_name"] = "Người Khác"
    was = content_hash(canonical_bytes(made.facts))
    r = verify_roster(_roster(facts, stated=was), roots=TrustRoots(()), store=made.store)
    assert r.content.status is ContentStatus.MISMATCH and not r.content.differences
    vi, en = _one_language(r)  # was: "… 0 điểm khác. the embedded facts do not hash to …"
    assert r.content.problem == "verify.problem.hash_differs"
    assert "Dữ liệu danh sách gắn trong tệp đã bị thay" in vi
    assert f"mã QR của danh sách ghi {was[:16]}…" in vi, vi
    assert f"the roster's QR code states {was[:16]}…" in en, en
    assert "do not hash" not in vi  # the English detail stays in --json
    assert "do not hash" in r.content.detail


def test_data_without_a_stated_hash_is_said_in_words(made: Made) -> None:
    canonical = canonical_bytes(made.facts)
    data = builders.unsigned_roster(canonical, "x")
    r = verify_roster(data, roots=TrustRoots(()), store=made.store)
    assert r.content.status is ContentStatus.MISMATCH
    assert r.content.problem == "verify.problem.no_hash"
    vi, en = _one_language(r)
    assert "không có mã QR của examdesk" in vi and "no examdesk QR code" in en


# --- verify.content.no_facts: the data cannot be read, or were taken out ------------------------


def _without_ef() -> bytes:
    """A file naming the roster's data whose file specification has no stream (/EF)."""
    page = io.BytesIO(builders.roster_page("x"))
    writer = copy_into_new_writer(PdfFileReader(page, strict=False))
    spec = generic.DictionaryObject({generic.NameObject("/Type"):
                                     generic.NameObject("/Filespec")})
    names = generic.ArrayObject([generic.TextStringObject(FACTS_FILE),
                                 writer.add_object(spec)])
    writer.root[generic.NameObject("/Names")] = generic.DictionaryObject({
        generic.NameObject("/EmbeddedFiles"): generic.DictionaryObject({
            generic.NameObject("/Names"): names})})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_damaged_data_is_said_in_words() -> None:
    r = verify_roster(_without_ef(), roots=TrustRoots(()))
    assert r.content.status is ContentStatus.NO_FACTS
    vi, en = _one_language(r)  # was: "✘ Tệp không chứa … examdesk. KeyError: '/EF'"
    assert r.content.problem == "verify.problem.facts_unreadable"
    assert "KeyError" in r.content.detail  # for logs and --json
    assert "Phần dữ liệu gắn trong tệp bị hỏng, không đọc được." in vi
    assert "KeyError" not in vi + en


def test_data_taken_out_of_a_roster_is_said_in_words(made: Made) -> None:
    digest = content_hash(canonical_bytes(made.facts))
    data = builders.roster_page(qr_payload(uuid.UUID(made.facts["session"]["id"]), digest))
    r = verify_roster(data, roots=TrustRoots(()), store=made.store)
    assert r.content.status is ContentStatus.NO_FACTS
    assert r.content.problem == "verify.problem.facts_removed"
    vi, en = _one_language(r)
    assert "dữ liệu đó đã bị gỡ khỏi tệp" in vi and "taken out of the file" in en
    # A plain PDF (no QR either) is simply no roster: nothing more to say.
    r = verify_roster(builders.roster_page("x"), roots=TrustRoots(()), store=made.store)
    assert r.content.status is ContentStatus.NO_FACTS and r.content.problem is None
    assert _lines(r, "vi")[-1] == "✘ Tệp không chứa dữ liệu danh sách của examdesk."


# --- differences, field by field ---------------------------------------------------------------


def test_each_difference_names_the_field_and_values_in_words(made: Made) -> None:
    facts = _copy(made)
    theory = facts["sections"][0]
    row = next(r for r in theory["rows"] if r["checkin"])
    row["full_name"] = "Người Khác"
    row["status"] = "REJECT" if row["status"] != "REJECT" else "ADMIT"
    row["checkin"]["trust_verdict"] = "FORGED"
    theory["totals"]["absent"] += 1
    r = verify_roster(_roster(facts), roots=TrustRoots(()), store=made.store)
    assert r.content.status is ContentStatus.MISMATCH
    fields = {d.field for d in r.content.differences}
    assert {"full_name", "status", "checkin.trust_verdict", "totals.absent"} <= fields
    vi, en = _one_language(r)
    assert f"STT {row['position']} ({row['id_number']}) · họ và tên: trên tệp “Người Khác”" \
        in vi, vi
    assert "kết quả kiểm tra thẻ: trên tệp “GIẢ MẠO”" in vi, vi
    assert "lý thuyết · số vắng mặt: trên tệp" in vi.lower(), vi
    assert "full name: file says “Người Khác”" in en and "card check: file says" in en, en
    for code in ("full_name", "trust_verdict", "totals.absent", "REJECT", "ADMIT"):
        assert code not in vi + en, code


def test_a_stage_the_session_does_not_have_is_a_difference_not_an_error(made: Made) -> None:
    # Was: "the check-ins could not be read: proctoring.invalid_input: stage(s) road not in
    # this driving test (theory,yard)" — a forged section blamed on the database, in English.
    facts = _copy(made)
    extra = json.loads(json.dumps(facts["sections"][1]))
    extra["stage"] = "road"
    facts["sections"].append(extra)
    r = verify_roster(_roster(facts), roots=TrustRoots(()), store=made.store)
    assert r.content.status is ContentStatus.MISMATCH, r.content
    assert [(d.stage, d.field) for d in r.content.differences] == [("road", "section")]
    vi, en = _one_language(r)
    assert "Phần thi đường trường: có trên tệp nhưng không có trong cơ sở dữ liệu" in vi, vi
    assert "on the file but not in the database" in en


# --- verify.content.error: the database cannot give its facts ----------------------------------


def test_evidence_that_no_longer_decrypts_is_said_in_words_on_the_command_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("EXAMDESK_DB_URL", url)
    store = Store.open(url, clock=exam_clock())
    try:
        builders.online_exam(store, people=2)
    finally:
        store.close()
    cli = CliRunner()
    pdf = tmp_path / "TH.pdf"
    assert cli.invoke(app, ["roster", "print", "--session", "TH-0612", "--out", str(pdf)]
                      ).exit_code == 0
    # The insider: one picture's ciphertext altered in the database.
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        blob = conn.execute(sa.text("SELECT id, ciphertext FROM evidence_blob LIMIT 1")).one()
        conn.execute(sa.text("UPDATE evidence_blob SET ciphertext = :c WHERE id = :i"),
                     {"c": bytes([blob[1][0] ^ 1]) + blob[1][1:], "i": blob[0]})
    engine.dispose()
    vi = cli.invoke(app, ["roster", "verify", str(pdf), "--lang", "vi"]).stdout
    line = next(x for x in vi.splitlines() if x.startswith("✘ Không đọc được dữ liệu điểm danh"))
    # Was: "…để đối chiếu: proctoring.evidence_unreadable: authentication tag mismatch: …"
    assert not english_words(line), line
    assert "Không giải mã được dữ liệu sinh trắc" in line and "khoá khác" in line, line
    result = cli.invoke(app, ["roster", "verify", str(pdf), "--json"])
    content = json.loads(result.stdout)["content"]
    assert content["status"] == "error"
    assert content["problem"] == "proctoring.evidence_unreadable"
    assert "authentication tag" in content["detail"]  # the English stays in --json
    en = cli.invoke(app, ["roster", "verify", str(pdf), "--lang", "en"]).stdout
    assert "does not decrypt: another key, or the data were altered" in en, en
    assert "authentication tag" not in vi + en and "proctoring." not in vi + en


# --- hostile values ----------------------------------------------------------------------------

HUGE = 2_000_000  # characters: far past anything a line can show


def _hostile(made: Made) -> dict[str, Any]:
    facts = _copy(made)
    theory = facts["sections"][0]
    row = next(r for r in theory["rows"] if r["checkin"])
    # A name of two million characters steering the terminal (clear screen, right-to-left
    # override, a bell, a new line that forges a finding of its own).
    row["full_name"] = "\x1b[2J\u202e\a\n✔ Nội dung khớp " + "A" * HUGE
    row["id_number"] = "9" * HUGE
    row["seat"] = {"nested": {"deeper": ["x" * HUGE]}}
    row["vehicle"] = ["x" * 10] * 10_000
    row["checkin"]["override_reason"] = "\u0000" * 1000
    row["checkin"]["face_distance"] = "NaN!"
    row["checkin"]["decided_at"] = "2025-13-45T99:99:99Z" + "9" * HUGE
    row["checkin"]["x" * HUGE] = "a part no roster has"
    nested: dict[str, Any] = {}
    cursor = nested
    for _ in range(400):  # JSON allows it; no roster nests so
        cursor["x"] = {}
        cursor = cursor["x"]
    row["extra"] = nested
    theory["totals"]["rostered"] = 10**4000
    row["history"] = [{"id": str(uuid.uuid4()), "decided_at": "z" * HUGE,
                       "decision": "D" * HUGE, "when": "later", "reasons": []}]
    return facts


def test_hostile_values_give_a_bounded_worded_finding(made: Made) -> None:
    r = verify_roster(_roster(_hostile(made)), roots=TrustRoots(()), store=made.store)
    assert r.content.status is ContentStatus.MISMATCH
    for lang in ("vi", "en"):
        for line in _lines(r, lang):
            # A line holds at most two values cut to MAX_SHOWN_TEXT and the words around them.
            assert len(line) < 2 * MAX_SHOWN_TEXT + 300, (len(line), line[:200])
    vi, en = _one_language(r)
    for text in (vi, en):
        for bad in ("\x1b", "\u202e", "\a", "\x00"):
            assert bad not in text
        assert "\n✔ Nội dung khớp" not in text  # the forged line stays inside its value
    assert "một mục mà phiên bản examdesk này không biết" in vi, vi
    assert "a part this version of examdesk does not know" in en
    assert "xxxxxxxxxx" not in vi  # the unknown part's name is not printed
    assert "…" in vi
    # --json keeps what differs, also bounded: no value of the file's megabytes.
    dumped = json.dumps(r.to_dict(), ensure_ascii=False)
    assert len(dumped) < 200_000, len(dumped)
    assert "\x1b" not in dumped and "\u202e" not in dumped


def test_a_check_in_on_one_side_only_is_one_difference_in_words(made: Made) -> None:
    facts = _copy(made)
    row = next(r for r in facts["sections"][0]["rows"] if r["checkin"])
    row["checkin"] = None  # the printer hides that the candidate was ever checked in
    r = verify_roster(_roster(facts), roots=TrustRoots(()), store=made.store)
    assert [d.field for d in r.content.differences] == ["checkin"]
    vi, en = _one_language(r)
    assert "lượt kiểm tra: trên tệp “không có”, trong cơ sở dữ liệu “lượt kiểm tra lúc " in vi
    assert "check-in: file says “none”, database says “a check-in at " in en, en


# --- what changed in a signed roster ---------------------------------------------------------


def test_what_changed_after_signing_is_said_in_words(made: Made, centre_keys: CreatedKeys,
                                                     tmp_path: Path) -> None:
    import re

    words = catalog_words("vi")
    data = sign_pdf(made.unsigned, load_signer(centre_keys.signer_p12, PASSWORD), words)
    contents = re.search(rb"/Contents <([0-9a-fA-F]+)>", data)
    assert contents is not None
    padding = contents.end(1) - 4  # in the zeros after the CMS blob
    changed = bytearray(data)
    changed[padding] = ord("1")
    roots = load_trust_roots(key_folder=centre_keys.folder, trust_folder=tmp_path)
    r = verify_roster(bytes(changed), roots=roots, store=made.store)
    assert r.modified
    # Was: "  (bytes after the signature in /Contents)", and the issuer as "Common Name: …,
    # Organization Identifier: …, Country: VN" (asn1crypto's English labels).
    vi, en = _one_language(r)
    assert r.integrity_problem == "verify.why.padding"
    assert "cấp bởi: Trung tâm Khảo thí Hà Nội — CA" in vi, vi
    assert "Có byte lạ được thêm sau chữ ký" in vi and "Bytes were added after the sig" in en
    assert "/Contents" not in vi + en and "/Contents" in r.detail


def test_why_a_signer_is_not_trusted_is_said_in_words(made: Made,
                                                      centre_keys: CreatedKeys) -> None:
    data = sign_pdf(made.unsigned, load_signer(centre_keys.signer_p12, PASSWORD),
                    catalog_words("vi"))
    r = verify_roster(data, roots=TrustRoots(()), store=made.store)  # its CA not given
    assert r.valid and not r.trusted and r.trust_problem == "NO_CERTIFICATE_CHAIN_FOUND"
    vi, en = _one_language(r)
    # Was: "KHÔNG được tin cậy (NO_CERTIFICATE_CHAIN_FOUND)": pyHanko's code on the screen.
    assert "NO_CERTIFICATE" not in vi + en
    assert "(không tìm được chuỗi chứng thư dẫn tới một CA được tin cậy)" in vi, vi
    assert "(no certificate chain leads to a trusted CA)" in en, en
