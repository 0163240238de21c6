"""The one-language scan reaches the `examdesk` processes tests start (tests/cli_language.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cli_language import Traced, is_examdesk, leaks

EXAMDESK = str(Path(sys.executable).parent / "examdesk")


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXAMDESK, *args], capture_output=True, text=True, timeout=60, env={
        "PATH": "/usr/bin:/bin", "EXAMDESK_HOME": str(tmp_path / "home"), "PYTHONUTF8": "1",
        "EXAMDESK_KEYRING": "0", "EXAMDESK_LANG": "vi"})


def test_a_command_s_texts_are_traced_and_scanned(tmp_path: Path,
                                                  cli_subprocess_language: Traced) -> None:
    # Issue 13: "roster verify" on a file that is no PDF printed the code's English reason
    # inside the Vietnamese sentence ("…: no %PDF- header and no trailer").
    (tmp_path / "a.pdf").write_bytes(b"a text file named .pdf")
    done = _run(tmp_path, "roster", "verify", str(tmp_path / "a.pdf"))
    assert done.returncode == 2, done.stderr
    trace = cli_subprocess_language.path
    assert trace is not None
    seen = [json.loads(line) for line in trace.read_text("utf-8").splitlines()]
    assert ["reports.not_a_pdf", "vi"] in [s[:2] for s in seen]
    assert leaks(trace) == []


def test_the_scan_finds_english_in_a_trace_and_lets_a_known_detail_through(
        tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    lines = [
        ["reports.not_a_pdf", "vi", "a.pdf không phải tệp PDF: no %PDF- header and no trailer",
         "no %PDF- header and no trailer", {}],
        ["reports.not_a_pdf", "en", "a.pdf is not a PDF file: English is fine here", "", {}],
        ["io.output", "vi", "Không ghi được kết quả vào x.pdf: Broken pipe.", "Broken pipe", {}],
        ["signing.stamp.title", "vi", "Ký số / Digitally signed", "", {}],
        # A desk's name (by default the machine's host name) is the owner's word for it.
        ["checkin.already_admitted", "vi", "Thí sinh này đã được cho vào lúc 09:50 tại bàn "
         "front-desk; lần này được ghi lại riêng.", "", {"desk": "front-desk"}],
    ]
    trace.write_text("".join(json.dumps(x) + "\n" for x in lines) + '["cut', "utf-8")
    found = leaks(trace)
    # Only the first line: English in the English text, a system's words given as the detail
    # of a key whose detail is another system's, a stamp bilingual by design and a desk's
    # given name pass.
    assert [(k, w) for k, _, w in found] == [("reports.not_a_pdf", ["header", "and", "trailer"])]


def test_which_processes_are_examdesk() -> None:
    assert is_examdesk([EXAMDESK, "card", "read"])
    assert is_examdesk([sys.executable, "-m", "examdesk.cli", "session", "list"])
    assert is_examdesk(EXAMDESK)
    assert not is_examdesk(["pcscd", "-f"]) and not is_examdesk([sys.executable, "-c", "1"])
    assert not is_examdesk([])
