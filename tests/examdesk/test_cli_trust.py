"""`examdesk trust import|list|remove`: the CSCA trust store from the command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from examdesk.commands.trust import app
from examdesk.i18n import Catalog

from ..reader.trust.builders import Party, certificate, crl, explicit_spki, master_list


@pytest.fixture(scope="module")
def pki() -> dict[str, Party]:
    csca_key = ec.generate_private_key(ec.SECP384R1())
    csca = certificate("Test CSCA", csca_key, ca=True)
    bp512 = ec.generate_private_key(ec.BrainpoolP512R1())
    vn = certificate("CSCA ePassport Vietnam", bp512, ca=True, hash_name="sha512",
                     spki=explicit_spki(bp512.public_key(), "BRAINPOOLP512r1"))
    ds_key = ec.generate_private_key(ec.SECP256R1())
    return {
        "csca": csca, "vn": vn,
        "ds": certificate("Test DS", ds_key, csca, ca=False),
        "ml_signer": certificate("Master List Signer", ec.generate_private_key(ec.SECP256R1()),
                                 csca, ca=False),
    }


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EXAMDESK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EXAMDESK_LANG", "vi")
    return tmp_path / "home"


@pytest.fixture
def files(tmp_path: Path, pki: dict[str, Party]) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "test-csca.pem").write_bytes(pki["csca"].pem)
    (folder / "vietnam.cer").write_bytes(pki["vn"].cert)
    (folder / "vn-master-list.ml").write_bytes(master_list([pki["vn"].cert, pki["csca"].cert],
                                                           pki["ml_signer"]))
    (folder / "test-csca.crl").write_bytes(crl(pki["csca"], {pki["ds"].x509.serial_number:
                                                             datetime(2024, 3, 1, tzinfo=UTC)}))
    (folder / "garbage.pem").write_bytes(b"this is not a certificate\n")
    (folder / "other").mkdir()
    (folder / "other" / "test-csca.pem").write_bytes(pki["vn"].pem)
    return folder


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_import_every_kind_then_list(home: Path, files: Path, pki: dict[str, Party]) -> None:
    r = invoke("import", str(files / "test-csca.pem"))
    assert r.exit_code == 0, r.output
    assert "Đã nhập test-csca.pem: 1 chứng thư CSCA, 0 CRL." in r.stdout
    assert "CN=Test CSCA" in r.stdout
    assert (home / "data" / "trust" / "test-csca.pem").read_bytes() == pki["csca"].pem

    r = invoke("import", str(files / "vietnam.cer"), "--lang", "en")
    assert r.exit_code == 0, r.output
    assert "Imported vietnam.cer: 1 CSCA certificate(s), 0 CRL(s)." in r.stdout
    assert "EC brainpoolP512r1 (explicit parameters)" in r.stdout

    r = invoke("import", str(files / "test-csca.crl"), "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["name"] == "test-csca.crl" and doc["crls"][0]["revoked"] == 1

    r = invoke("import", str(files / "vn-master-list.ml"))
    # Both CSCAs of the list are already trusted: nothing new to copy.
    assert r.exit_code == 0, r.output
    assert "đã có trong kho" in r.stdout

    r = invoke("list")
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "Chứng thư CSCA (2):" in out
    assert "CN=CSCA ePassport Vietnam,O=examdesk trust tests,C=VN" in out
    assert "01/01/2020 → 01/01/2040" in out
    assert "Danh sách thu hồi (CRL) (1):" in out and "1 chứng thư bị thu hồi" in out
    assert r.stderr == ""

    r = invoke("list", "--json")
    doc = json.loads(r.stdout)
    assert sorted(e["source"] for e in doc["cscas"]) == ["test-csca.pem", "vietnam.cer"]
    vn = next(e for e in doc["cscas"] if e["source"] == "vietnam.cer")
    assert vn["country"] == "VN" and vn["key"] == "EC brainpoolP512r1 (explicit parameters)"
    assert vn["fingerprint_sha256"] and vn["not_after"] == "2040-01-01T00:00:00+00:00"
    assert doc["crls"][0]["source"] == "test-csca.crl"
    assert doc["problems"] == []


def test_import_a_master_list_into_an_empty_store(home: Path, files: Path) -> None:
    r = invoke("import", str(files / "vn-master-list.ml"), "--lang", "en")
    assert r.exit_code == 0, r.output
    assert "Imported vn-master-list.ml: 2 CSCA certificate(s)" in r.stdout
    assert "Master list vn-master-list.ml: 2 certificate(s)" in r.stdout
    assert "inside the list itself" in r.stdout  # its signer chains to a CSCA in the list
    doc = json.loads(invoke("list", "--json").stdout)
    assert {e["origin"] for e in doc["cscas"]} == {"master_list"}
    assert doc["master_lists"][0]["signer_chain"] == "csca_in_list"


def _one_bilingual_line(stderr: str, key: str) -> None:
    lines = stderr.strip("\n").split("\n")
    assert len(lines) == 1, stderr
    entry = Catalog.load().messages[key]
    vi, en = (entry[lang].split("{")[0][:18] for lang in ("vi", "en"))
    assert vi in lines[0] and en in lines[0] and " / " in lines[0], lines[0]


def test_garbage_is_refused_with_exit_code_2(home: Path, files: Path) -> None:
    r = invoke("import", str(files / "garbage.pem"))
    assert r.exit_code == 2
    assert r.stdout == ""
    _one_bilingual_line(r.stderr, "trust.import_unusable")
    assert "garbage.pem" in r.stderr
    assert not (home / "data" / "trust" / "garbage.pem").exists()

    r = invoke("import", str(files / "garbage.pem"), "--json")
    assert r.exit_code == 2
    error = json.loads(r.stdout)["error"]
    assert error["key"] == "trust.import_unusable" and error["vi"] and error["en"]


def test_name_taken_missing_file_and_crl_before_csca(home: Path, files: Path) -> None:
    r = invoke("import", str(files / "test-csca.crl"))
    assert r.exit_code == 2
    _one_bilingual_line(r.stderr, "trust.import_unusable")
    assert "import it first" in r.stderr

    assert invoke("import", str(files / "test-csca.pem")).exit_code == 0
    r = invoke("import", str(files / "other" / "test-csca.pem"))
    assert r.exit_code == 2
    _one_bilingual_line(r.stderr, "trust.import_name_taken")

    r = invoke("import", str(files / "nope.pem"))
    assert r.exit_code == 2
    _one_bilingual_line(r.stderr, "trust.import_unreadable")


def test_remove(home: Path, files: Path) -> None:
    assert invoke("import", str(files / "test-csca.pem")).exit_code == 0
    r = invoke("remove", "test-csca.pem")
    assert r.exit_code == 0 and "Đã xoá test-csca.pem" in r.stdout
    r = invoke("list")
    assert "chưa có chứng thư CSCA nào" in r.stdout
    r = invoke("remove", "test-csca.pem")
    assert r.exit_code == 2
    _one_bilingual_line(r.stderr, "trust.remove_not_found")


def test_problems_in_the_folder_are_warnings(home: Path, files: Path) -> None:
    folder = home / "data" / "trust"
    folder.mkdir(parents=True)
    (folder / "broken.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\n!!!\n"
                                        b"-----END CERTIFICATE-----\n")
    r = invoke("list")
    assert r.exit_code == 0
    assert "broken.pem" in r.stderr
