"""`examdesk roster print|verify`, `keys create`, `fraud report`: what an operator types and
sees, and the exit statuses."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from examdesk.cli import app
from proctoring.store import Store

from . import builders
from .conftest import PASSWORD, exam_clock


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("EXAMDESK_DB_URL", url)
    store = Store.open(url, clock=exam_clock())  # the default key store, under EXAMDESK_HOME
    try:
        builders.fraud_scenario(store)
    finally:
        store.close()
    (tmp_path / "pw").write_text(PASSWORD.decode() + "\n", "utf-8")
    (tmp_path / "bad").write_text("sai mật khẩu\n", "utf-8")
    yield CliRunner()


def _run(cli: CliRunner, *args: str) -> tuple[int, str, str]:
    result = cli.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_keys_print_sign_verify(cli: CliRunner, tmp_path: Path) -> None:
    code, out, _ = _run(cli, "keys", "create", "--centre", "HN01", "--password-file",
                        str(tmp_path / "pw"), "--json")
    assert code == 0, out
    made = json.loads(out)
    assert "Trung tâm Khảo thí Hà Nội" in made["signer"]  # the name came from the database
    assert Path(made["signer_p12"]).parent == tmp_path / "home" / "config" / "keys" / "pdf"
    code, _, err = _run(cli, "keys", "create", "--centre", "HN01", "--password-file",
                        str(tmp_path / "pw"))
    assert code == 7 and "--force" in err

    pdf = tmp_path / "out" / "TH.pdf"
    code, out, err = _run(cli, "roster", "print", "--session", "TH-0612", "--out", str(pdf),
                          "--sign", made["signer_p12"], "--password-file",
                          str(tmp_path / "pw"), "--room", "Phòng 204", "--json")
    assert code == 0, err
    printed = json.loads(out)
    assert printed["signed"] and printed["candidates"] == 12 and printed["pages"] >= 2
    assert stat.S_IMODE(os.stat(pdf).st_mode) == 0o600  # personal data

    code, out, _ = _run(cli, "roster", "verify", str(pdf), "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["trusted"] and not report["modified"]
    assert report["content"]["status"] == "match"
    code, out, _ = _run(cli, "roster", "verify", str(pdf), "--lang", "vi")
    assert code == 0 and "✔ Chữ ký số hợp lệ." in out and "Không bị sửa đổi" in out
    assert "Nội dung khớp" in out

    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(pdf.read_bytes() + b"\n% one more line\n")
    code, out, _ = _run(cli, "roster", "verify", str(tampered), "--lang", "en")
    assert code == 8 and "MODIFIED after signing" in out

    unsigned = tmp_path / "unsigned.pdf"
    code, _, _ = _run(cli, "roster", "print", "--session", "TH-0612", "--out", str(unsigned))
    assert code == 0
    code, out, _ = _run(cli, "roster", "verify", str(unsigned), "--lang", "en")
    assert code == 9 and "not digitally signed" in out


def test_wrong_password_is_one_bilingual_line(cli: CliRunner, tmp_path: Path) -> None:
    code, out, _ = _run(cli, "keys", "create", "--centre", "HN01", "--password-file",
                        str(tmp_path / "pw"), "--json")
    p12 = json.loads(out)["signer_p12"]
    code, _, err = _run(cli, "roster", "print", "--session", "TH-0612", "--out",
                        str(tmp_path / "x.pdf"), "--sign", p12, "--password-file",
                        str(tmp_path / "bad"))
    assert code == 2
    line = err.strip()
    assert len(line.splitlines()) == 1
    assert "Sai mật khẩu của tệp khoá ký" in line and "Wrong password for the signing key" in line
    assert not (tmp_path / "x.pdf").exists()
    code, _, err = _run(cli, "roster", "print", "--session", "TH-0612", "--out",
                        str(tmp_path / "x.pdf"), "--sign", p12)  # no password anywhere
    assert code == 2 and "--password-file" in err
    code, _, err = _run(cli, "roster", "print", "--session", "nope", "--out",
                        str(tmp_path / "x.pdf"))
    assert code == 4


def test_fraud_report_command(cli: CliRunner, tmp_path: Path) -> None:
    code, out, err = _run(cli, "fraud", "report", "--from", "01/06/2025", "--to", "2025-06-30",
                          "--out", str(tmp_path / "f.csv"), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["findings"] == 7 and summary["centres"] == 2
    assert summary["by_category"]["face_mismatch"] == 2
    code, out, _ = _run(cli, "fraud", "report", "--from", "01/06/2025", "--to", "30/06/2025",
                        "--out", str(tmp_path / "f.pdf"), "--centre", "HCM02", "--lang", "en")
    assert code == 0 and "2 case(s)" in out
    assert (tmp_path / "f.pdf").read_bytes().startswith(b"%PDF-")
    code, _, err = _run(cli, "fraud", "report", "--from", "31/06/2025", "--to", "30/06/2025",
                        "--out", str(tmp_path / "f.pdf"))
    assert code == 2 and "không phải là một ngày" in err and "is not a date" in err
    code, _, err = _run(cli, "fraud", "report", "--from", "01/06/2025", "--to", "30/06/2025",
                        "--out", str(tmp_path / "f.docx"))
    assert code == 2 and ".pdf" in err


def test_a_signed_roster_witnesses_the_audit_head(cli: CliRunner, tmp_path: Path) -> None:
    """Issue 11: a roster carries the audit-chain head it was made at, under its signature;
    ``roster verify`` says the log was cut back when that event is gone from it."""
    import sqlalchemy as sa

    code, out, _ = _run(cli, "keys", "create", "--centre", "HN01", "--password-file",
                        str(tmp_path / "pw"), "--json")
    pdf = tmp_path / "TH.pdf"
    code, _, err = _run(cli, "roster", "print", "--session", "TH-0612", "--out", str(pdf),
                        "--sign", json.loads(out)["signer_p12"], "--password-file",
                        str(tmp_path / "pw"))
    assert code == 0, err
    code, out, _ = _run(cli, "roster", "verify", str(pdf), "--json")
    head = json.loads(out)["audit_head"]
    assert code == 0 and head["status"] == "in_chain" and head["head"]["seq"] > 1
    seq = head["head"]["seq"]
    # The insider cuts the log back to just before that event, signatures and head included:
    # a consistent, signed, shorter log that `audit verify` alone cannot tell from the truth.
    engine = sa.create_engine(os.environ["EXAMDESK_DB_URL"])
    with engine.begin() as conn:
        prev = conn.execute(sa.text("SELECT hash FROM audit_event WHERE seq = :s"),
                            {"s": seq - 1}).scalar_one()
        conn.execute(sa.text("DELETE FROM audit_checkpoint WHERE seq >= :s"), {"s": seq})
        conn.execute(sa.text("DELETE FROM audit_event WHERE seq >= :s"), {"s": seq})
        conn.execute(sa.text("UPDATE audit_head SET seq = :s, hash = :h"),
                     {"s": seq - 1, "h": prev})
    engine.dispose()
    code, out, _ = _run(cli, "roster", "verify", str(pdf), "--lang", "en")
    assert code == 8 and f"NO LONGER holds event {seq}" in out


def test_an_unknown_stage_is_refused_before_printing(cli: CliRunner, tmp_path: Path) -> None:
    pdf = tmp_path / "out" / "TH.pdf"
    code, out, err = _run(cli, "roster", "print", "--session", "TH-0612", "--out", str(pdf),
                          "--stage", "theory,swimming", "--json")
    assert code == 2, err
    assert json.loads(out)["error"]["context"]["field"] == "stage"
    assert "swimming" in err and not pdf.exists()


def test_a_roster_cut_short_is_damaged_not_tampered_and_a_missing_file_is_missing(
        cli: CliRunner, tmp_path: Path) -> None:
    # Issue 13: a truncated file exited 8 like a tampered one and printed the parser's English
    # ("EOF marker not found") and advice that does not apply; a missing file was "not a
    # readable PDF"; `--out x.docx` wrote a PDF; a missing folder was created silently.
    from examdesk.commands.errors import EXIT_DAMAGED

    code, out, _ = _run(cli, "keys", "create", "--centre", "HN01", "--password-file",
                        str(tmp_path / "pw"), "--json")
    made = json.loads(out)
    pdf = tmp_path / "new" / "folder" / "TH.pdf"
    code, out, err = _run(cli, "roster", "print", "--session", "TH-0612", "--out", str(pdf),
                          "--sign", made["signer_p12"], "--password-file", str(tmp_path / "pw"))
    assert code == 0 and pdf.exists()
    assert f"Đã tạo thư mục {pdf.parent}" in err  # said, not silent
    data = pdf.read_bytes()
    for size in (1000, len(data) // 2, len(data) - 2000):
        cut = tmp_path / f"cut{size}.pdf"
        cut.write_bytes(data[:size])
        code, out, err = _run(cli, "roster", "verify", str(cut), "--lang", "vi")
        assert code == EXIT_DAMAGED != EXIT_TAMPERED_STATUS, out
        assert "bị hỏng hoặc không đầy đủ" in out and "lấy lại bản gốc" in out
        assert "EOF" not in out and "CA" not in out and "--trust" not in out
        code, out, _ = _run(cli, "roster", "verify", str(cut), "--json")
        assert code == EXIT_DAMAGED and json.loads(out)["exit"] == EXIT_DAMAGED

    code, out, err = _run(cli, "roster", "verify", str(tmp_path / "nope.pdf"))
    assert code == 2
    assert "Không có tệp" in err and "does not exist" in err and "not a readable PDF" not in err

    docx = tmp_path / "x.docx"
    code, out, err = _run(cli, "roster", "print", "--session", "TH-0612", "--out", str(docx))
    assert code == 2 and not docx.exists()
    assert ".pdf" in err and "PDF" in err


EXIT_TAMPERED_STATUS = 8
