"""`examdesk card read` end to end: the real CLI → pyscard → pcscd → vpcd → the virtual CCCD."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from reader.virtual import Faults, faces_dir

pytestmark = pytest.mark.pcsc

EXAMDESK = str(Path(sys.executable).parent / "examdesk")
PROFILES = ["nguyen-van-an", "le-hoang-minh", "tran-thi-bich-ngoc", "pham-thi-hong"]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXAMDESK, "card", *args], capture_output=True, text=True, timeout=timeout,
        env={"PATH": "/usr/bin:/bin", "EXAMDESK_LANG": "vi", "PYTHONUTF8": "1"},
    )


def expected_dg13(holder: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(holder):
        value = getattr(holder, f.name)
        out[f.name] = value.isoformat() if isinstance(value, date) else value
    return out


def id_args(access: dict[str, Any]) -> list[str]:
    return ["--id", access["id_number"], "--dob", access["date_of_birth"],
            "--expiry", access["date_of_expiry"] or "none"]


def check_read(result: subprocess.CompletedProcess[str], inserted: Any, out: Path,
               access: str = "PACE") -> None:
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["access"] == access
    dg13 = doc["dg13"]
    for name, value in expected_dg13(inserted.profile.holder).items():
        assert dg13[name] == value, name
    assert dg13["no_expiry"] == (inserted.profile.holder.date_of_expiry is None)
    assert doc["document"]["id_number"] == inserted.profile.holder.id_number
    assert doc["warnings"] == []
    portrait = inserted.profile.portrait
    written = (out / ("portrait.jpg" if portrait.format == "jpeg" else "portrait.jp2")).read_bytes()
    if portrait.format == "jpeg":
        # The chip carries the photo file unchanged, and so must we.
        assert written == (faces_dir() / portrait.file).read_bytes()
    assert written == inserted.card.lds.portrait.data
    for name in ("DG1", "DG2", "DG13", "DG14", "DG15", "EF.SOD"):
        assert (out / f"{name}.bin").read_bytes() == inserted.card.files[name], name
    assert doc["portrait"]["bytes"] == len(written)


@pytest.mark.parametrize("profile", PROFILES)
def test_read_with_id_dob_expiry(insert_card, tmp_path: Path, profile: str) -> None:
    inserted = insert_card(profile)
    result = run("read", *id_args(inserted.access), "--json", "--out", str(tmp_path))
    check_read(result, inserted, tmp_path)


@pytest.mark.parametrize("profile", ["nguyen-van-an", "pham-thi-hong"])
def test_read_with_mrz(insert_card, tmp_path: Path, profile: str) -> None:
    inserted = insert_card(profile)
    result = run("read", "--mrz", inserted.access["mrz"], "--json", "--out", str(tmp_path))
    check_read(result, inserted, tmp_path)


@pytest.mark.parametrize("profile", ["le-hoang-minh", "tran-thi-bich-ngoc", "pham-thi-hong"])
def test_read_with_qr(insert_card, tmp_path: Path, profile: str) -> None:
    inserted = insert_card(profile)
    # As a scanner delivers it: a BOM in front and CR/LF behind.
    qr = "\ufeff" + inserted.access["qr"] + "\r\n"
    result = run("read", "--qr", qr, "--json", "--out", str(tmp_path))
    check_read(result, inserted, tmp_path)


def test_human_output_shows_vietnamese_labels(insert_card) -> None:
    inserted = insert_card("nguyen-van-an")
    result = run("read", *id_args(inserted.access))
    assert result.returncode == 0, result.stderr
    assert "Họ và tên" in result.stdout and "Nguyễn Văn An" in result.stdout
    assert "14/05/1993" in result.stdout  # dd/mm/yyyy on screen


# --- errors ------------------------------------------------------------------------------


def test_wrong_key(insert_card, tmp_path: Path) -> None:
    inserted = insert_card("nguyen-van-an")
    access = inserted.access
    wrong_id = access["id_number"][:-1] + str((int(access["id_number"][-1]) + 1) % 10)
    result = run("read", "--id", wrong_id, "--dob", access["date_of_birth"],
                 "--expiry", access["date_of_expiry"], "--json", "--out", str(tmp_path))
    assert result.returncode == 4
    assert "không khớp" in result.stderr and "does not match" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert json.loads(result.stdout)["error"]["key"] == "card.wrong_key"
    assert list(tmp_path.iterdir()) == []


def test_a_refused_key_says_which_kind_was_refused(insert_card) -> None:
    # A mistyped CAN and a wrong date are fixed apart: the message names the kind refused.
    access = insert_card("nguyen-van-an").access
    can = access["can"]
    wrong_can = can[:-1] + str((int(can[-1]) + 1) % 10)
    refused_can = run("read", "--can", wrong_can, "--json")
    assert refused_can.returncode == 4
    error = json.loads(refused_can.stdout)["error"]
    assert error["key"] == "card.wrong_can" and "CAN" in error["vi"] and "CAN" in error["en"]
    wrong_doc = access["document_number"][:-1] + str((int(access["document_number"][-1]) + 1) % 10)
    refused_mrz = run("read", "--id", wrong_doc, "--dob", access["date_of_birth"],
                      "--expiry", access["date_of_expiry"] or "none", "--json")
    assert refused_mrz.returncode == 4
    error = json.loads(refused_mrz.stdout)["error"]
    assert error["key"] == "card.wrong_mrz_key" and "MRZ" in error["vi"] and "MRZ" in error["en"]


def test_card_pulled_out_during_the_portrait(insert_card, tmp_path: Path) -> None:
    insert_card("tran-thi-bich-ngoc", faults=Faults(pull_out_in_file="DG2", pull_out_at_offset=1),
                extended_length=False, advertise_extended=False)
    out = tmp_path / "out"
    result = run("read", "--id", "079196004518", "--dob", "1996-11-22", "--expiry", "2036-11-22",
                 "--out", str(out))
    assert result.returncode == 5, result.stderr
    assert "nhấc ra" in result.stderr and "left the reader" in result.stderr
    # Nothing half-written: not the portrait, not the files read before the pull.
    assert not out.exists() or list(out.iterdir()) == []


def test_card_without_the_id_application(insert_card) -> None:
    insert_card("nguyen-van-an", applet=False)
    result = run("read", "--id", "001093014275", "--dob", "1993-05-14", "--expiry", "2033-05-14")
    assert result.returncode == 6
    assert "không phải thẻ căn cước" in result.stderr


@pytest.mark.parametrize("limit", [128, 300])
def test_tiny_response_limit(insert_card, tmp_path: Path, limit: int) -> None:
    inserted = insert_card("nguyen-van-an", max_response=limit)
    result = run("read", *id_args(inserted.access), "--json", "--out", str(tmp_path))
    check_read(result, inserted, tmp_path)


def test_bac_when_the_card_has_no_pace(insert_card, tmp_path: Path) -> None:
    inserted = insert_card("vo-minh-tuan")
    result = run("read", *id_args(inserted.access), "--json", "--out", str(tmp_path))
    check_read(result, inserted, tmp_path, access="BAC")
    assert "EF.CardAccess.bin" not in {p.name for p in tmp_path.iterdir()}


def test_can_alone_on_a_card_without_pace(insert_card) -> None:
    insert_card("vo-minh-tuan")
    result = run("read", "--can", "003161")
    assert result.returncode == 4
    assert "ngày sinh" in result.stderr and "date of birth" in result.stderr


def test_can_only_card_2024(insert_card, tmp_path: Path) -> None:
    """A 2024 "Căn cước" chip that refuses BAC and PACE-MRZ: the CAN from the ID opens it."""
    inserted = insert_card("do-thu-trang")
    result = run("read", "--id", inserted.access["id_number"], "--json", "--out", str(tmp_path))
    check_read(result, inserted, tmp_path)
    assert json.loads(result.stdout)["password"] == "CAN"
    # With the MRZ data only, PACE-MRZ and BAC are both refused.
    result = run("read", "--mrz", inserted.access["mrz"])
    assert result.returncode == 4


def test_extended_length_off(insert_card, tmp_path: Path) -> None:
    inserted = insert_card("tran-thi-bich-ngoc", extended_length=False, advertise_extended=False)
    result = run("read", *id_args(inserted.access), "--json", "--out", str(tmp_path))
    check_read(result, inserted, tmp_path)
    stats = json.loads(result.stdout)["stats"]
    # 36 KB in short blocks, odd-INS above 32 KiB, no recovery needed.
    assert stats["recoveries"] == 0
    assert stats["file_apdus"]["DG2"] <= 36_055 // 223 + 2  # AES: 223 bytes per short read


def test_extended_length_advertised_but_refused(insert_card, tmp_path: Path) -> None:
    """The ATR promises extended length, the chip refuses it: fall back cleanly."""
    inserted = insert_card("nguyen-van-an", extended_length=False, advertise_extended=True)
    result = run("read", *id_args(inserted.access), "--json", "--out", str(tmp_path))
    check_read(result, inserted, tmp_path)
    assert json.loads(result.stdout)["stats"]["recoveries"] == 1


def test_no_card_on_the_reader(pcscd: str) -> None:
    result = run("read", "--id", "001093014275", "--dob", "1993-05-14", "--expiry", "2033-05-14",
                 "--wait", "0.3")
    assert result.returncode == 3
    assert "Chưa có thẻ" in result.stderr


def test_bad_key_input_is_refused_before_touching_the_card() -> None:
    result = run("read", "--id", "12345", "--dob", "1993-05-14", "--expiry", "2033-05-14")
    assert result.returncode == 2
    assert "không hợp lệ" in result.stderr


def test_readers_lists_the_virtual_reader(insert_card) -> None:
    insert_card("nguyen-van-an")
    result = run("readers", "--json")
    assert result.returncode == 0, result.stderr
    readers = {r["name"]: r for r in json.loads(result.stdout)}
    assert readers["Virtual PCD 00 00"]["card"] is True


def test_progress_is_shown_on_a_terminal(insert_card) -> None:
    """On a terminal the invigilator sees which file is being read (the portrait is slow)."""
    import os
    import pty

    inserted = insert_card("tran-thi-bich-ngoc", extended_length=False, advertise_extended=False)
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [EXAMDESK, "card", "read", *id_args(inserted.access)],
        stdin=secondary, stdout=secondary, stderr=secondary, close_fds=True,
        env={"PATH": "/usr/bin:/bin", "EXAMDESK_LANG": "vi", "PYTHONUTF8": "1",
             "TERM": "xterm", "COLUMNS": "100"},
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    assert proc.wait(timeout=60) == 0
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert "Đang đọc DG2" in screen
    assert "Trần Thị Bích Ngọc" in screen
