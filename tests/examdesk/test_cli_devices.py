"""The camera given to `checkin` is checked before the card, and said in words (issue 13)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.examdesk.language import english_words
from tests.examdesk.test_cli_messages import invoke


@pytest.fixture
def nothing_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    from examdesk.commands import checkin

    def touched(*_: Any, **__: Any) -> Any:
        raise AssertionError("the store (and then the card) was opened before the camera check")

    monkeypatch.setattr(checkin, "stored", touched)


def test_a_camera_folder_that_does_not_exist_is_said_before_the_card(
        tmp_path: Path, nothing_opened: None) -> None:
    missing = tmp_path / "no-such-folder"
    result = invoke(tmp_path, "checkin", "--session", "S1", "--consent", "yes", "--camera",
                    str(missing), "--can", "123456")
    assert result.exit_code == 3
    assert str(missing) in result.stderr and "đường dẫn" in result.stderr
    assert "dây cắm" not in result.stderr  # not "check the cable": the path is what is wrong
    vietnamese = result.stderr.split(" / There is no")[0]
    assert not english_words(vietnamese.replace(str(missing), ""))


def test_a_folder_without_pictures_is_said_too(tmp_path: Path, nothing_opened: None) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke(tmp_path, "checkin", "--session", "S1", "--consent", "yes", "--camera",
                    str(empty), "--can", "123456")
    assert result.exit_code == 3 and "không có ảnh" in result.stderr


@pytest.mark.skipif(Path("/dev/video0").exists(), reason="this machine has a webcam")
def test_no_webcam_is_said_in_words_before_the_card(tmp_path: Path, nothing_opened: None) -> None:
    result = invoke(tmp_path, "checkin", "--session", "S1", "--consent", "yes", "--camera", "0",
                    "--can", "123456")
    assert result.exit_code == 3 and "camera số 0" in result.stderr


@pytest.mark.skipif(Path("/dev/video0").exists(), reason="this machine has a webcam")
def test_opening_a_missing_webcam_leaks_no_opencv_log_lines() -> None:
    # OpenCV writes "[ WARN:0@0.02] global cap_v4l.cpp… can't open camera by index" on fd 2,
    # past Python; only a child process shows what a terminal would.
    probe = ("from biometrics.camera import OpenCvCamera\n"
             "from biometrics.errors import CameraUnavailable\n"
             "try:\n    OpenCvCamera(0)\nexcept CameraUnavailable as e:\n    print(e.key)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).parents[2])
    assert done.stdout.strip() == "face.camera.no_device"
    assert "WARN" not in done.stderr and "ERROR" not in done.stderr, done.stderr


def test_trust_import_of_a_roster_csv_says_what_to_give_without_python_s_words(
        tmp_path: Path) -> None:
    # Issue 13: `trust import good.csv` printed "ValueError: Insufficient data - <a long number>
    # bytes requested…" in both halves.
    roster = tmp_path / "good.csv"
    roster.write_text("registration_number,id_number,full_name\n" + "SBD001,001093014275,An\n"
                      * 40, "utf-8")
    result = invoke(tmp_path, "trust", "import", str(roster))
    assert result.exit_code == 2
    assert "ValueError" not in result.stderr and "Insufficient" not in result.stderr
    assert ".pem" in result.stderr and "CSCA" in result.stderr
    vietnamese = result.stderr.split(" / ")[0]
    assert not english_words(vietnamese.replace(str(roster), ""))
