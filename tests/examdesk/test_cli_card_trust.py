"""Chip trust end to end: `examdesk trust import` + `examdesk card read` through pcscd + vpcd.

Genuine cards come out TRUSTED via PACE and via BAC; every attack profile gets its verdict and
a message an invigilator understands.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reader.virtual.pki import test_csca_pem

pytestmark = pytest.mark.pcsc

EXAMDESK = str(Path(sys.executable).parent / "examdesk")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An examdesk home whose trust store holds the test CSCA (imported through the CLI)."""
    csca = tmp_path / "examdesk-test-csca.pem"
    csca.write_bytes(test_csca_pem())
    result = run(tmp_path / "home", "trust", "import", str(csca))
    assert result.returncode == 0, result.stderr
    return tmp_path / "home"


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXAMDESK, *args], capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "EXAMDESK_HOME": str(home), "EXAMDESK_LANG": "vi",
             "PYTHONUTF8": "1", "COLUMNS": "200"},
    )


def read_json(home: Path, *key: str) -> dict[str, Any]:
    result = run(home, "card", "read", *key, "--json")
    doc = json.loads(result.stdout)
    # A FORGED chip is read and shown in full, and ends with its own status (issue 13).
    assert result.returncode == (12 if doc["verdict"]["verdict"] == "FORGED" else 0), result.stderr
    return doc


def reasons(doc: dict[str, Any]) -> set[str]:
    return {r["finding"] for r in doc["verdict"]["reasons"]}


def test_genuine_card_via_pace(insert_card, home: Path) -> None:
    inserted = insert_card("nguyen-van-an")
    doc = read_json(home, "--can", inserted.access["can"])
    assert (doc["access"], doc["password"]) == ("PACE", "CAN")
    assert doc["passive"]["status"] == "VALID"
    assert doc["active"]["status"] == "PASSED" and doc["chip"]["status"] == "PASSED"
    assert doc["verdict"]["verdict"] == "TRUSTED"
    assert doc["passive"]["data_groups"]["DG2"] == "match"


def test_genuine_card_via_bac_when_pace_is_off(insert_card, home: Path) -> None:
    """EF.CardAccess absent: the reader falls back to BAC and proves the chip all the same."""
    inserted = insert_card("nguyen-van-an", pace=False)
    a = inserted.access
    doc = read_json(home, "--id", a["id_number"], "--dob", a["date_of_birth"],
                    "--expiry", a["date_of_expiry"])
    assert doc["access"] == "BAC"
    assert "EF.CardAccess" not in doc["files"]
    assert (doc["passive"]["status"], doc["active"]["status"], doc["chip"]["status"]) == (
        "VALID", "PASSED", "PASSED")
    assert doc["verdict"]["verdict"] == "TRUSTED"


@pytest.mark.parametrize("profile", ["le-hoang-minh", "pham-thi-hong", "vo-minh-tuan"])
def test_other_genuine_cards(insert_card, home: Path, profile: str) -> None:
    """3DES chip authentication, RSA active authentication, a BAC-only chip."""
    inserted = insert_card(profile)
    a = inserted.access
    doc = read_json(home, "--id", a["id_number"], "--dob", a["date_of_birth"],
                    "--expiry", a["date_of_expiry"] or "none")
    assert doc["verdict"]["verdict"] == "TRUSTED", doc["verdict"]


def test_without_a_csca_a_genuine_card_is_only_suspicious(insert_card, tmp_path: Path) -> None:
    inserted = insert_card("nguyen-van-an")
    doc = read_json(tmp_path / "empty-home", "--can", inserted.access["can"])
    assert doc["passive"]["status"] == "UNTRUSTED_SIGNER"
    assert doc["verdict"]["verdict"] == "SUSPICIOUS"
    assert reasons(doc) == {"passive.no_csca"}


def test_policy_file_can_accept_what_the_centre_cannot_check(insert_card, tmp_path: Path) -> None:
    inserted = insert_card("nguyen-van-an")
    policy = tmp_path / "policy.toml"
    policy.write_text('[verdicts]\n"passive.no_csca" = "trusted"\n', "utf-8")
    doc = read_json(tmp_path / "empty-home", "--can", inserted.access["can"],
                    "--policy", str(policy))
    assert doc["verdict"]["verdict"] == "TRUSTED"


ATTACKS = {
    # profile: (verdict, findings that decide it, words the invigilator reads)
    "attack-portrait-swapped": ("FORGED", {"passive.invalid"}, "DG2"),
    "attack-unknown-signer": ("FORGED", {"passive.untrusted_signer"}, "CSCA"),
    "attack-clone": ("FORGED", {"active.failed", "chip.failed"}, "sao chép"),
    "attack-expired-card": ("SUSPICIOUS", {"card.expired"}, "hết hạn"),
    "attack-signer-outside-validity": ("FORGED", {"passive.invalid"}, "chứng thư người ký"),
    # Issue 11, item 2: EF.COM is not signed; EF.SOD decides what is read and checked.
    "attack-clone-com-stripped": ("FORGED", {"active.failed", "chip.failed"}, "sao chép"),
    "attack-com-lists-unsigned": ("SUSPICIOUS", {"lds.com_sod_mismatch"}, "EF.COM: DG11"),
}


@pytest.mark.parametrize("profile", sorted(ATTACKS))
def test_attack_profiles(insert_card, home: Path, profile: str) -> None:
    verdict, findings, words = ATTACKS[profile]
    inserted = insert_card(profile)
    doc = read_json(home, "--can", inserted.access["can"])
    assert doc["verdict"]["verdict"] == verdict
    assert reasons(doc) == findings
    # The same read on screen, in Vietnamese.
    shown = run(home, "card", "read", "--can", inserted.access["can"])
    # Issue 13: `card read` exited 0 on FORGED; a forged chip now has its own status, 12.
    assert shown.returncode == (12 if verdict == "FORGED" else 0), shown.stderr
    assert words in shown.stdout


@pytest.mark.parametrize("limit", [80, 64])
def test_a_chip_answering_in_small_blocks_is_not_a_clone(insert_card, home: Path,
                                                          limit: int) -> None:
    """Issue 11, item 2b: `card emulate --profile nguyen-van-an --no-extended --max-response 80`
    then `card read --can 014275` said "chip sao chép" (80) or failed (64)."""
    inserted = insert_card("nguyen-van-an", extended_length=False, advertise_extended=False,
                           max_response=limit)
    doc = read_json(home, "--can", inserted.access["can"])
    assert (doc["active"]["status"], doc["chip"]["status"]) == ("PASSED", "PASSED")
    assert doc["verdict"]["verdict"] == "TRUSTED"


def test_a_signature_that_cannot_be_carried_is_could_not_check(insert_card, home: Path) -> None:
    """The strict chip with a small buffer cannot send its RSA signature at all: review, with
    the reason in words, never "forged"."""
    inserted = insert_card("pham-thi-hong", max_response=128)
    a = inserted.access
    key = ("--id", a["id_number"], "--dob", a["date_of_birth"], "--expiry", "none")
    doc = read_json(home, *key)
    assert doc["active"]["status"] == "UNCHECKED"
    assert doc["verdict"]["verdict"] == "SUSPICIOUS"
    assert reasons(doc) == {"active.unchecked"}
    shown = run(home, "card", "read", *key)
    assert shown.returncode == 0, shown.stderr
    assert "Không kiểm tra được xác thực chủ động" in shown.stdout
    assert "Thẻ giả" not in shown.stdout


def test_trust_list_shows_the_imported_csca(home: Path) -> None:
    result = run(home, "trust", "list", "--json")
    assert result.returncode == 0, result.stderr
    assert "examdesk Test CSCA" in result.stdout
