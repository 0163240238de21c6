"""Errors that blame the right thing, in one language at a time (issue 13).

A key typed wrong is the invigilator's mistake, not the card's: it ends with exit 2 before any
card or store is touched, and says which field is wrong and how, in words. Every message the
command line prints has a Vietnamese half with no English in it; the parser's own errors too.
The commands run in process (typer's runner) with the catalogue's lookups recorded, so the scan
sees the Vietnamese text of each message apart from its English.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from examdesk.cli import app
from examdesk.i18n import Catalog
from tests.examdesk.language import BILINGUAL_BY_DESIGN, DETAIL_IN_VIETNAMESE, english_words

MRZ = ("IDVNM0930470641001093047064<<2\n9301054M3301052VNM<<<<<<<<<<<8\n"
       "UNG<<HOANG<HIEP<<<<<<<<<<<<<<<")
MRZ_TWO_LINES = "\n".join(MRZ.splitlines()[:2])
MRZ_TYPO = MRZ.replace("093047064", "093047065", 1)  # one digit of the document number


class Recorded:
    """Every text the catalogue gave during a command, by language."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str, str]] = []

    def vietnamese(self) -> list[tuple[str, str]]:
        return [(key, text) for key, lang, text in self.texts if lang == "vi"]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorded]:
    seen = Recorded()
    original = Catalog.text

    def text(self: Catalog, key: str, lang: str = "vi", **context: object) -> str:
        out = original(self, key, lang, **context)
        seen.texts.append((key, lang, out))
        return out

    monkeypatch.setattr(Catalog, "text", text)
    yield seen


@pytest.fixture
def no_card_no_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """An input error must end the command before a reader or the store is opened."""
    from examdesk.commands import card, checkin

    def touched(*_: Any, **__: Any) -> Any:
        raise AssertionError("a card or the store was touched before the input was checked")

    monkeypatch.setattr(card.PcscTransport, "open", touched)
    monkeypatch.setattr(checkin, "stored", touched)


def invoke(tmp_path: Path, *args: str) -> Any:
    env = {"EXAMDESK_HOME": str(tmp_path), "EXAMDESK_LANG": "vi", "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


def assert_one_language(recorded: Recorded) -> None:
    assert recorded.vietnamese(), "nothing was worded through the catalogue"
    for key, text in recorded.vietnamese():
        if key not in BILINGUAL_BY_DESIGN:
            assert not english_words(text), (key, text, english_words(text))


CHECKIN = ("checkin", "--session", "S1", "--camera", "0", "--consent", "yes")

# (arguments, exit status, message key, words the Vietnamese text must hold)
INPUT_ERRORS = [
    (("card", "read", "--mrz", MRZ_TWO_LINES), 2, "card.input.mrz_length", ["3 dòng", "60"]),
    ((*CHECKIN, "--mrz", MRZ_TWO_LINES), 2, "card.input.mrz_length", ["3 dòng"]),
    (("card", "read", "--mrz", MRZ_TYPO), 2, "card.input.mrz_check_digit", ["Số thẻ"]),
    ((*CHECKIN, "--mrz", MRZ_TYPO), 2, "card.input.mrz_check_digit", ["Số thẻ"]),
    (("card", "read", "--can", "12345"), 2, "card.input.can", ["6 chữ số", "5"]),
    (("card", "read", "--can", "12a456"), 2, "card.input.can", ["6 chữ số"]),
    ((*CHECKIN, "--can", "1234567"), 2, "card.input.can", ["6 chữ số", "7"]),
    (("card", "read", "--id", "001093047", "--dob", "1993-01-05", "--expiry", "2033-01-05"), 2,
     "card.input.old_cmnd", ["CMND"]),
    (("card", "read", "--id", "0010930470"), 2, "card.input.id_length", ["12 chữ số", "10"]),
    (("card", "read", "--id", "0010930", "--dob", "1993-01-05", "--expiry", "2033-01-05"), 2,
     "card.input.id_or_document_length", ["12 chữ số", "7"]),
    (("card", "read", "--qr", "001093047|x"), 2, "card.input.qr_fields", ["7"]),
    (("card", "read", "--id", "001093047064", "--dob", "1993-01-05"), 2, "card.input.dob_expiry",
     ["--expiry"]),
    (("card", "read", "--id", "001093047064", "--dob", "1993-02-30", "--expiry", "2033-01-05"), 2,
     "card.input.date", ["Ngày sinh", "1993-02-30"]),
    (("card", "read", "--can", "123456", "--mrz", MRZ), 2, "card.input.one_key", ["một"]),
    (("card", "read", "--qr", "0010930470|"), 2, "card.input.qr_fields", ["Mã QR"]),
    ((*CHECKIN, "--can", "123456", "--stage", "yrd"), 2, "checkin.option.stage", ["yrd", "yard"]),
    ((*CHECKIN, "--can", "123456", "--challenge", "wink"), 2, "checkin.option.challenge",
     ["wink", "blink"]),
    # Consent is asked, never presumed (Decree 13/2023): said either way, before anything opens.
    (("checkin", "--session", "S1", "--camera", "0", "--can", "123456"), 2,
     "checkin.option.consent_missing", ["«--consent yes»", "Nghị định 13/2023"]),
    (("checkin", "--session", "S1", "--camera", "0", "--consent", "maybe"), 2,
     "checkin.option.consent", ["maybe", "'yes', 'no'"]),
    (("checkin", "--session", "S1", "--consent", "yes", "--can", "123456"), 2,
     "checkin.option.camera_missing", ["--camera 0"]),
    (("override", "not-a-uuid", "--decision", "ADMIT", "--reason", "x"), 2,
     "checkin.option.checkin_id", ["not-a-uuid"]),
    (("override", "12345678-1234-1234-1234-123456789012", "--decision", "yes", "--reason", "x"),
     2, "checkin.option.decision", ["ADMIT"]),
    (("session", "list", "--status", "maybe"), 2, "proctoring.input.choice", ["maybe", "open"]),
    (("session", "create", "--title", "T", "--starts", "2026-02-30 07:30", "--json"), 2,
     "proctoring.input.datetime", ["2026-02-30 07:30", "Giờ bắt đầu"]),
]


@pytest.mark.parametrize(("args", "status", "key", "words"), INPUT_ERRORS,
                         ids=[" ".join(a[:2]) + f" {k}" for a, _, k, _ in INPUT_ERRORS])
def test_an_input_error_names_the_field_in_words_before_anything_is_opened(
        tmp_path: Path, recorded: Recorded, no_card_no_store: None, args: tuple[str, ...],
        status: int, key: str, words: list[str]) -> None:
    result = invoke(tmp_path, *args, *(() if "--json" in args else ("--json",)))
    assert result.exit_code == status, result.output
    error = json.loads(result.stdout)["error"]
    assert error["key"] == key
    for word in words:
        assert word in error["vi"], (word, error["vi"])
    assert not english_words(error["vi"]), error["vi"]
    assert error["en"] and error["en"] != error["vi"]
    assert len(result.stderr.strip().splitlines()) == 1
    assert_one_language(recorded)


def test_a_check_digit_typo_names_the_field_that_holds_it(tmp_path: Path) -> None:
    result = invoke(tmp_path, "card", "read", "--mrz",
                    MRZ.replace("9301054", "9301064", 1), "--json")  # the date of birth
    error = json.loads(result.stdout)["error"]
    assert result.exit_code == 2 and "Ngày sinh" in error["vi"] and "Date of birth" in error["en"]
    assert "date_of_birth" not in result.stderr  # the field in words, not its code


PARSER_ERRORS = [
    (("checkin", "--camera", "0"), "Thiếu tùy chọn", "Missing option '--session'"),
    (("override",), "Thiếu tham số", "Missing argument"),
    (("card", "read", "--wait", "soon"), "không hợp lệ", "Invalid value for '--wait'"),
    (("card", "read", "--bogus"), "không có tùy chọn", "No such option: --bogus"),
    (("session", "nope"), "Câu lệnh không đúng", "No such command 'nope'"),
    (("card", "read", "--lang", "fr"), "không hợp lệ", "Invalid value for '--lang'"),
]


@pytest.mark.parametrize(("args", "vietnamese", "english"), PARSER_ERRORS)
def test_the_parser_s_own_errors_come_in_both_languages(
        tmp_path: Path, recorded: Recorded, args: tuple[str, ...], vietnamese: str,
        english: str) -> None:
    result = invoke(tmp_path, *args)
    assert result.exit_code == 2
    shown = " ".join(result.stderr.replace("│", " ").split())
    assert vietnamese in shown and english in shown, shown
    assert shown.index(vietnamese) < shown.index(english)  # Vietnamese first
    assert_one_language(recorded)


def test_every_message_of_the_catalogue_has_both_languages_and_no_english_in_vietnamese(
        ) -> None:
    leaks = {}
    for item in resources.files("examdesk.i18n").iterdir():
        if not item.name.endswith(".toml"):
            continue
        for key, entry in tomllib.loads(item.read_text("utf-8")).items():
            assert entry.get("vi") and entry.get("en"), (item.name, key)
            found = english_words(entry["vi"])
            if found and key not in BILINGUAL_BY_DESIGN:
                leaks[key] = found
    assert leaks == {}


@pytest.mark.parametrize("text", [
    "Thông tin nhập để mở thẻ không hợp lệ: the ID has 12 digits, got 9.",
    "Giá trị không hợp lệ: a CAN is 6 digits.",
    "--dob and --expiry go together",
    "Tuỳ chọn không hợp lệ: 'yrd' is not a valid Stage.",
    "Không đọc được tệp danh sách x.csv: the file is empty.",
    "Không đọc được tệp danh sách x.csv: not UTF-8 text (save as 'CSV UTF-8').",
    "Tuỳ chọn không hợp lệ: badly formed hexadecimal UUID string.",
    "Giá trị không hợp lệ (starts): '2026-02-30 07:30' is not a date and time (YYYY-MM-DD HH:MM).",
])
def test_the_scan_finds_the_english_the_issue_found(text: str) -> None:
    assert english_words(text)


@pytest.mark.parametrize("text", [
    "Chưa có thẻ trên đầu đọc. Hãy đặt thẻ căn cước lên đầu đọc.",
    "Số CAN phải có đúng 6 chữ số; xem examdesk card read --help hoặc tệp /tmp/a b.pdf.",
    "Thẻ CCCD, vùng MRZ, tệp PDF, khoá CSCA: trong thư mục ~/.local/share/examdesk.",
    "In danh sách cho kỳ thi «Sát hạch lái xe» trên máy tính, phím F3.",
])
def test_the_scan_lets_vietnamese_names_and_paths_through(text: str) -> None:
    assert english_words(text) == []


# --- small things a user notices -----------------------------------------------------------------


def test_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    result = invoke(tmp_path, "--version")
    assert result.exit_code == 0
    assert version("examdesk") in result.stdout and "phiên bản" in result.stdout


def _leaves(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, command in group.commands.items():
        out += _leaves(command, (*path, name)) if hasattr(command, "commands") else [(*path, name)]
    return out


def test_help_has_no_type_placeholders(tmp_path: Path) -> None:
    import re

    import typer

    leaves = _leaves(typer.main.get_command(app))
    assert len(leaves) > 30
    for path in [(), *leaves]:
        shown = invoke(tmp_path, *path, "--help")
        assert shown.exit_code == 0, path
        assert not re.search(r"<(bool|str|int|float|path|list\[[a-z]+\])>", shown.stdout), path
        assert "{" not in shown.stdout.split("\n\n")[0], path  # usage: CHECKIN_ID, not {checkin_id}


def test_one_lang_rule_for_every_command(tmp_path: Path) -> None:
    # Every --lang: not given means EXAMDESK_LANG (else vi), read when the command runs; the
    # help says so in the same words, and a language that does not exist is refused.
    import typer

    group = typer.main.get_command(app)
    helps = set()
    for path in _leaves(group):
        command = group
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        for param in command.params:
            if "--lang" in getattr(param, "opts", ()):
                assert param.default is None, path  # not frozen at import time
                helps.add(param.help)
    assert len(helps) == 1, helps
    env = {"EXAMDESK_HOME": str(tmp_path), "EXAMDESK_LANG": "en", "COLUMNS": "200"}
    shown = CliRunner().invoke(app, ["override", "x", "--decision", "maybe", "--reason", "r"],
                               env=env)
    assert shown.exit_code == 2 and "is not a check-in id" in shown.stderr


def test_english_counts_say_one_candidate_not_one_candidates() -> None:
    catalog = Catalog.load()
    one = catalog.text("roster.printed", "en", session="S", path="x.pdf", candidates=1, pages=1)
    assert "(1 candidate, 1 page)" in one
    many = catalog.text("roster.printed", "en", session="S", path="x.pdf", candidates=8, pages=2)
    assert "(8 candidates, 2 pages)" in many
    assert "1 thí sinh" in catalog.text("roster.printed", "vi", session="S", path="x.pdf",
                                        candidates=1, pages=1)
    assert catalog.text("roster.imported", "en", added=1, session="S", new=1).count(
        "1 candidate ") == 1


README = Path(__file__).parents[2] / "README.md"


def test_the_roster_columns_are_in_the_readme_and_in_import_help(tmp_path: Path) -> None:
    import re

    from proctoring.roster import _FOLDED, OPTIONAL, REQUIRED, _fold

    readme = README.read_text("utf-8")
    start = readme.index("<!-- roster-columns")
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \| (yes|no) \|", readme[start:], re.M)
    assert [(c, r == "yes") for c, _, r in rows] == (
        [(c, True) for c in REQUIRED] + [(c, False) for c in OPTIONAL])
    for column, headers, _ in rows:
        for header in re.split(r"[()]", headers):
            if header.strip():
                assert _FOLDED.get(_fold(header.strip())) == column, (column, header)
    shown = " ".join(invoke(tmp_path, "roster", "import", "--help").stdout.split())
    for column in (*REQUIRED, *OPTIONAL):
        assert column in shown


def test_the_readme_says_where_the_demo_s_test_csca_is(tmp_path: Path) -> None:
    from examdesk.demo import prepare_demo_home

    home = prepare_demo_home(tmp_path / "demo", actor="test")
    assert (home.root / "test-csca.pem").is_file()
    assert "~/.local/share/examdesk/demo/test-csca.pem" in README.read_text("utf-8")


def _error_paths(tmp: Path) -> list[tuple[tuple[str, ...], int]]:
    (tmp / "empty.csv").write_bytes(b"")
    (tmp / "latin1.csv").write_bytes("Số báo danh,CCCD\n".encode("cp1258", "replace") + b"\xff\n")
    (tmp / "damaged.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (tmp / "roster.doc").write_bytes(b"x")
    (tmp / "not-a-pdf.pdf").write_bytes(b"a text file named .pdf")
    missing = str(tmp / "missing")
    return [
        (("roster", "import", str(tmp / "damaged.xlsx"), "--session", "X"), 2),
        (("roster", "import", str(tmp / "roster.doc"), "--session", "X"), 2),
        (("roster", "verify", str(tmp / "not-a-pdf.pdf")), 2),
        (("session", "show", "NOPE"), 4),
        (("session", "create", "--title", "", "--starts", "2026-12-01 07:30"), 2),
        (("session", "create", "--title", "T", "--starts", "2026-13-01"), 2),
        (("roster", "import", str(tmp / "empty.csv"), "--session", "X"), 2),
        (("roster", "import", str(tmp / "latin1.csv"), "--session", "X"), 2),
        (("roster", "import", missing + ".csv", "--session", "X"), 2),
        (("roster", "verify", str(tmp)), 2),
        (("roster", "verify", missing + ".pdf"), 2),
        (("trust", "import", missing + ".pem"), 2),
        (("trust", "import", str(tmp / "empty.csv")), 2),
        (("trust", "remove", "nothing.pem"), 2),
        (("keys", "create", "--password-file", missing), 3),
        (("face", "calibrate", missing), 2),
        (("face", "calibrate"), 2),
        (("face", "verify", missing + ".jpg", missing + "2.jpg"), 2),
        (("data", "purge", "--older-than", "soon"), 2),
        (("fraud", "report", "--out", "x.txt", "--from", "01/13/2025", "--to", "30/06/2025"), 2),
        (("review", "list", "--kind", "theft"), 2),
        (("override", "12345678-1234-1234-1234-123456789012", "--decision", "ADMIT",
          "--reason", "r"), 4),
        (("audit", "verify"), 0),
    ]


def test_every_error_path_here_speaks_one_language_at_a_time(
        tmp_path: Path, recorded: Recorded) -> None:
    # The catalogue's lookups of every command below are recorded; no Vietnamese text may
    # carry English (a system error, a parser's words, a code instead of words).
    for args, status in _error_paths(tmp_path):
        recorded.texts.clear()
        result = invoke(tmp_path, *args)
        assert result.exit_code == status, (args, result.output)
        assert "Traceback" not in result.output
        for key, text in recorded.vietnamese():
            assert not english_words(text), (args, key, text)




def test_no_new_vietnamese_text_shows_an_english_detail() -> None:
    showing = {key for key, entry in Catalog.load().messages.items()
               if "{detail}" in entry.get("vi", "")}
    assert showing <= DETAIL_IN_VIETNAMESE, sorted(showing - DETAIL_IN_VIETNAMESE)
    assert DETAIL_IN_VIETNAMESE <= showing, sorted(DETAIL_IN_VIETNAMESE - showing)  # no stale


ROSTER_HEADER = "Số báo danh,Họ và tên,Ngày sinh,Giới tính,Số CCCD\n"


def test_roster_row_errors_say_which_row_and_what_is_on_record_in_words(
        tmp_path: Path, recorded: Recorded) -> None:
    # Each cause in Vietnamese with only the values filled in: the row an ID first appeared
    # in, the date of birth and sex already on record (the sex in words, not "M").
    for code in ("A", "B"):
        created = invoke(tmp_path, "session", "create", "--title", code, "--code", code,
                         "--starts", "2026-12-20 07:30")
        assert created.exit_code == 0, created.output
    first = tmp_path / "first.csv"
    first.write_text(ROSTER_HEADER + "SBD1,Nguyễn Văn An,05/01/1993,Nam,001093047064\n",
                     "utf-8")
    assert invoke(tmp_path, "roster", "import", str(first), "--session", "A").exit_code == 0
    twice = tmp_path / "twice.csv"
    twice.write_text(ROSTER_HEADER + "SBD1,Nguyễn Văn An,05/01/1993,Nam,001093047064\n"
                     "SBD1,Trần Bình,05/01/1993,Nam,001093047064\n", "utf-8")
    recorded.texts.clear()
    result = invoke(tmp_path, "roster", "import", str(twice), "--session", "B", "--json")
    assert result.exit_code == 2, result.output
    rows = {e["key"]: e for e in json.loads(result.stdout)["error"]["rows"]}
    assert "dòng 2 của tệp" in rows["roster.duplicate_id"]["vi"]
    assert "dòng 2 của tệp" in rows["roster.duplicate_registration"]["vi"]
    assert_one_language(recorded)
    other = tmp_path / "other.csv"
    other.write_text(ROSTER_HEADER + "SBD9,Nguyễn Văn An,06/01/1993,Nam,001093047064\n",
                     "utf-8")
    recorded.texts.clear()
    result = invoke(tmp_path, "roster", "import", str(other), "--session", "B", "--json")
    assert result.exit_code == 2, result.output
    row = json.loads(result.stdout)["error"]["rows"][0]
    assert row["key"] == "roster.candidate_conflict"
    assert "ngày sinh 05/01/1993, giới tính Nam" in row["vi"], row["vi"]
    assert "date of birth 05/01/1993, sex Male" in row["en"], row["en"]
    assert_one_language(recorded)


def test_a_chip_portrait_problem_is_said_in_words_even_from_a_stored_reason() -> None:
    # Stored decision reasons keep the face error's key as text; the Vietnamese shows words.
    catalog = Catalog.load()
    for problem in ("face.no_face", "face.cut_off", "face.embedder.error"):
        vi = catalog.text("checkin.chip_portrait_unusable", "vi", problem=problem,
                          detail="no face found in the image")
        assert problem not in vi and not english_words(vi), vi
    assert "không thấy khuôn mặt" in catalog.text("checkin.chip_portrait_unusable", "vi",
                                                  problem="face.no_face")


def test_chip_data_that_disagree_are_named_in_words_even_from_a_stored_reason() -> None:
    # The finding (and the stored reason) keep the codes; the texts name the fields.
    catalog = Catalog.load()
    detail = "dg1_dg13.id_number, dg1_dg13.date_of_birth"
    vi = catalog.text("verdict.inconsistent", "vi", detail=detail)
    assert "Số định danh, Ngày sinh" in vi and "dg1" not in vi and not english_words(vi)
    assert "ID number, Date of birth" in catalog.text("verdict.inconsistent", "en", detail=detail)


def test_a_tampered_audit_log_is_said_in_vietnamese_with_only_values_filled_in(
        tmp_path: Path, recorded: Recorded) -> None:
    # Issue 13: each finding's Vietnamese sentence carried the code's English detail
    # ("… đã bị sửa (its content does not give its hash)").
    import sqlite3

    for code in ("A", "B"):
        made = invoke(tmp_path, "session", "create", "--title", code, "--code", code,
                      "--starts", "2026-12-20 07:30")
        assert made.exit_code == 0, made.output
    (db,) = tmp_path.rglob("*.db")
    with sqlite3.connect(db) as raw:  # the insider, with the file and sqlite3
        raw.execute("UPDATE audit_event SET payload = replace(payload, '\"A\"', '\"Z\"') "
                    "WHERE action = 'session.created' AND payload LIKE '%\"A\"%'")
    recorded.texts.clear()
    result = invoke(tmp_path, "audit", "verify")
    assert result.exit_code != 0, result.output
    shown = [(k, t) for k, t in recorded.vietnamese() if k.startswith("audit.")]
    assert any(k == "audit.modified" for k, _ in shown), shown
    assert "its content" not in result.output.split(" / ")[0]
    assert_one_language(recorded)
    catalog = Catalog.load()
    replaced = catalog.text("audit.key_replaced", "vi", seqs="7", admin="admin:lan",
                            reason="ổ đĩa hỏng", new_key="ab12cd34ef56ab12…",
                            detail="admin: admin:lan; reason: ổ đĩa hỏng; …")
    assert "«admin:lan»" in replaced and "«ổ đĩa hỏng»" in replaced
    assert not english_words(replaced), replaced
    row = catalog.text("audit.row_unrecorded", "vi", what="checkin", row="1f2e…",
                       detail="checkin 1f2e… has no audit event")
    assert row.startswith("lượt kiểm tra 1f2e…") and not english_words(row), row


def test_a_sealed_key_that_does_not_open_says_so_in_words() -> None:
    # The district's copy of a centre's data key, sealed to another office key (or altered).
    import os
    import uuid

    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from proctoring.crypto import DataKey
    from proctoring.errors import KeyUnavailable
    from proctoring.keywrap import public_hex, unwrap_data_key, wrap_data_key

    centre, key = uuid.uuid4(), DataKey(os.urandom(32))
    sealed = wrap_data_key(key, public_hex(X25519PrivateKey.generate()), district_code="SGD",
                           centre_id=centre)
    catalog = Catalog.load()
    for attempt in (lambda: unwrap_data_key(sealed, X25519PrivateKey.generate(),
                                            district_code="SGD", centre_id=centre,
                                            key_id=key.key_id),
                    lambda: wrap_data_key(key, "zz" * 32, district_code="SGD",
                                          centre_id=centre)):
        with pytest.raises(KeyUnavailable) as caught:
            attempt()
        assert caught.value.key.startswith("proctoring.key_unavailable.")
        vi = catalog.text(caught.value.key, "vi", detail=caught.value.detail,
                          **caught.value.context)
        assert "?" not in vi and not english_words(vi), vi


def test_a_database_address_that_is_none_says_so_in_words(tmp_path: Path,
                                                          recorded: Recorded) -> None:
    # Issue 13: "Không mở được cơ sở dữ liệu (?): not a database URL: Could not parse …".
    for url, key in (("not a url", "proctoring.database_unavailable.url"),
                     ("mysql://u@h/db", "proctoring.database_unavailable.backend")):
        recorded.texts.clear()
        env = {"EXAMDESK_HOME": str(tmp_path), "EXAMDESK_LANG": "vi", "COLUMNS": "200",
               "EXAMDESK_DB_URL": url}
        result = CliRunner().invoke(app, ["session", "list", "--json"], env=env)
        assert result.exit_code == 3, result.output
        error = json.loads(result.stdout)["error"]
        assert error["key"] == key and "?" not in error["vi"], error
        assert_one_language(recorded)


def test_a_key_file_that_cannot_be_used_says_why_in_words(tmp_path: Path) -> None:
    # Issue 13: "Không đọc hoặc tạo được khoá mã hoá (…): …key is readable by other users
    # (chmod 600 it)." The causes a user meets are worded; the exit status stays 3.
    import os

    from examdesk.commands.errors import exit_code, exit_code_for_key
    from proctoring.crypto import KeyStore
    from proctoring.errors import KeyUnavailable

    catalog = Catalog.load()
    shared = tmp_path / "data.key"
    shared.write_bytes(b"k" * 32)
    os.chmod(shared, 0o644)
    short = tmp_path / "short.key"
    short.write_bytes(b"k" * 5)
    os.chmod(short, 0o600)
    seen = []
    for path, key in ((shared, "proctoring.key_unavailable.readable_by_others"),
                      (short, "proctoring.key_unavailable.file_size")):
        with pytest.raises(KeyUnavailable) as caught:
            KeyStore._read_file(path)
        assert caught.value.key == key
        assert exit_code(caught.value) == 3 and exit_code_for_key(key) == 3
        vi = catalog.text(key, "vi", detail=caught.value.detail, **caught.value.context)
        assert str(path) in vi and not english_words(vi), vi
        seen.append(vi)
    assert "«chmod 600»" in seen[0] and "5 byte" in seen[1]


def test_settings_and_signing_key_files_say_what_is_wrong_in_words(tmp_path: Path) -> None:
    from examdesk.settings import SettingsError, read_section, write_section
    from reports.errors import SigningKeyUnreadable
    from reports.keys import load_pkcs12

    catalog = Catalog.load()
    broken = tmp_path / "settings.json"
    broken.write_text("{ not json", "utf-8")
    with pytest.raises(SettingsError) as caught:
        read_section("reader", broken)
    assert caught.value.key == "settings.not_json" and caught.value.context["line"] == 1
    broken.write_text('{"reader": 3}', "utf-8")
    with pytest.raises(SettingsError) as section:
        read_section("reader", broken)
    broken.write_text("[1]", "utf-8")
    with pytest.raises(SettingsError) as not_object:
        write_section("reader", {}, broken)
    text_file = tmp_path / "key.p12"
    text_file.write_text("a text file", "utf-8")
    with pytest.raises(SigningKeyUnreadable) as key:
        load_pkcs12(text_file, b"password")
    assert key.value.key == "reports.key_unreadable.not_pkcs12"
    for error in (caught.value, section.value, not_object.value, key.value):
        vi = catalog.text(error.key, "vi", detail=error.detail, **error.context)
        assert not english_words(vi) and "?" not in vi, vi
