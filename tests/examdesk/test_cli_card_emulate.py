"""`examdesk card emulate`: a virtual card a tester can read with the access data it prints."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_for_reader_state

EXAMDESK = str(Path(sys.executable).parent / "examdesk")
ENV = {"PATH": "/usr/bin:/bin", "PYTHONUTF8": "1"}


def test_list_profiles() -> None:
    result = subprocess.run([EXAMDESK, "card", "emulate", "--list-profiles"],
                            capture_output=True, text=True, timeout=30, env=ENV)
    assert result.returncode == 0
    names = result.stdout.split()
    assert {"nguyen-van-an", "le-hoang-minh", "tran-thi-bich-ngoc", "pham-thi-hong"} <= set(names)


@pytest.fixture
def emulator(pcscd: str) -> Iterator[subprocess.Popen[str]]:
    assert wait_for_reader_state(present=False)
    proc = subprocess.Popen([EXAMDESK, "card", "emulate", "--profile", "pham-thi-hong"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    yield proc
    proc.terminate()
    proc.wait(timeout=10)
    assert wait_for_reader_state(present=False)


@pytest.mark.pcsc
def test_emulated_card_reads_with_the_printed_access_data(emulator: subprocess.Popen[str]) -> None:
    assert emulator.stdout is not None
    access = json.loads(emulator.stdout.readline())
    assert access["id_number"] == "040158006732"
    assert access["can"] == "040158006732"[-6:]
    assert access["date_of_expiry"] is None  # "Không thời hạn"
    assert access["qr"].count("|") == 6
    assert wait_for_reader_state(present=True)
    result = subprocess.run([EXAMDESK, "card", "read", "--mrz", access["mrz"], "--json"],
                            capture_output=True, text=True, timeout=60, env=ENV)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["dg13"]["full_name"] == "Phạm Thị Hồng"
    assert doc["dg13"]["no_expiry"] is True
    assert doc["document"]["no_expiry"] is True


def test_emulate_without_pcscd_listening_is_a_clear_error() -> None:
    result = subprocess.run(
        [EXAMDESK, "card", "emulate", "--profile", "nguyen-van-an", "--port", "1",
         "--wait", "0.5"],
        capture_output=True, text=True, timeout=60, env=ENV,
    )
    assert result.returncode == 3
    assert "pcscd" in result.stderr
