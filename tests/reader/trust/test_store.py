"""The CSCA trust store: certificates, master lists and CRLs from a folder; import and remove."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reader.trust.passive import PassiveStatus, passive_authentication
from reader.trust.store import (
    TrustEntryNotFound,
    TrustFileUnreadable,
    TrustImportRefused,
    TrustNameTaken,
    TrustStore,
)

from .builders import (
    Party,
    certificate,
    crl,
    explicit_spki,
    flip_bit,
    master_list,
    resign_tbs_signature,
    sod,
)


@pytest.fixture(scope="module")
def pki(ec_keys: dict[str, Any], rsa2048: Any) -> dict[str, Party]:
    de_key = ec.generate_private_key(ec.BrainpoolP384R1())
    de = certificate("CSCA Germany", de_key, ca=True, country="DE")
    bp512 = ec_keys["brainpoolP512r1"]
    vn = certificate("CSCA ePassport Vietnam", bp512, ca=True, hash_name="sha512",
                     spki=explicit_spki(bp512.public_key(), "BRAINPOOLP512r1"))
    fr = certificate("CSCA France", rsa2048, ca=True, hash_name="sha256", country="FR")
    return {
        "de": de, "vn": vn, "fr": fr,
        "de_ml_signer": certificate("Master List Signer DE", ec_keys["P-256"], de, ca=False,
                                    country="DE"),
        "de_ds": certificate("DS Germany", ec_keys["P-384"], de, ca=False, country="DE"),
        "rogue_signer": certificate("Master List Signer X", ec_keys["P-256"],
                                    certificate("Nobody", ec_keys["P-521"], ca=True), ca=False),
    }


def write(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def test_missing_folder_is_an_empty_store(tmp_path: Path) -> None:
    store = TrustStore.load(tmp_path / "nope")
    assert store.entries() == [] and store.problems == ()


def test_folder_with_every_kind_of_file(tmp_path: Path, pki: dict[str, Party]) -> None:
    folder = write(tmp_path / "trust", {
        "bundle.pem": pki["de"].pem + b"\n" + pki["fr"].pem,
        "vietnam.cer": pki["vn"].cert,
        "others.ml": master_list([pki["de"].cert, pki["vn"].cert], pki["de_ml_signer"]),
        "germany.crl": crl(pki["de"], {pki["de_ds"].x509.serial_number:
                                       datetime(2024, 5, 1, tzinfo=UTC)}, pem=True),
        "notes.txt": b"ignored",
        ".hidden.pem": b"ignored",
    })
    store = TrustStore.load(folder)
    assert store.problems == ()
    entries = store.entries()
    assert [(e.country, e.subject.split(",")[0], e.source, e.origin) for e in entries] == [
        ("DE", "CN=CSCA Germany", "bundle.pem", "certificate"),
        ("FR", "CN=CSCA France", "bundle.pem", "certificate"),
        ("VN", "CN=CSCA ePassport Vietnam", "vietnam.cer", "certificate"),
    ]  # the master list's two CSCAs were already trusted: kept once
    de, fr, vn = entries
    assert de.key == "EC brainpoolP384r1" and fr.key == "RSA 2048"
    assert vn.key == "EC brainpoolP512r1 (explicit parameters)"
    assert vn.fingerprint_sha256 == hashlib.sha256(pki["vn"].cert).hexdigest()
    assert vn.serial == f"{pki['vn'].x509.serial_number:X}"
    assert (vn.not_before, vn.not_after) == (datetime(2020, 1, 1, tzinfo=UTC),
                                             datetime(2040, 1, 1, tzinfo=UTC))
    assert vn.self_signed
    (ml,) = store.master_lists
    assert (ml.source, ml.signer_chain, ml.certificates) == ("others.ml", "trusted_csca", 2)
    (revocations,) = store.crls
    assert revocations.source == "germany.crl"
    assert pki["de_ds"].x509.serial_number in revocations.revoked
    assert revocations.verified_by == de.fingerprint_sha256
    doc = store.to_dict()
    assert {e["source"] for e in doc["cscas"]} == {"bundle.pem", "vietnam.cer"}
    assert doc["crls"][0]["revoked"] == 1


def test_master_list_alone(pki: dict[str, Party]) -> None:
    store = TrustStore.from_files({"de.ml": master_list([pki["de"].cert, pki["vn"].cert],
                                                        pki["de_ml_signer"])})
    assert [(e.origin, e.source) for e in store.entries()] == [("master_list", "de.ml")] * 2
    (ml,) = store.master_lists
    assert ml.signer_chain == "csca_in_list" and ml.signer_issuer is not None
    assert "CSCA Germany" in ml.signer_issuer


def test_master_list_signed_by_nobody_we_know(pki: dict[str, Party]) -> None:
    store = TrustStore.from_files({"x.ml": master_list([pki["fr"].cert], pki["rogue_signer"])})
    (ml,) = store.master_lists
    assert ml.signer_chain == "unknown" and ml.signer_issuer is None
    assert [e.origin for e in store.entries()] == ["master_list"]


@pytest.mark.parametrize("defect", ["signature", "message_digest", "no_signer_cert", "version"])
def test_broken_master_list_is_ignored(pki: dict[str, Party], defect: str) -> None:
    defects: dict[str, dict[str, Any]] = {
        "signature": {"tamper_signature": True},
        "message_digest": {"message_digest": b"\x00" * 32},
        "no_signer_cert": {"include_signer_cert": False},
        "version": {"version": 1},
    }
    kw = defects[defect]
    store = TrustStore.from_files({"bad.ml": master_list([pki["fr"].cert], pki["de_ml_signer"],
                                                         **kw)})
    assert store.entries() == [] and store.master_lists == ()
    assert [p.reason for p in store.problems] == ["trust.master_list_invalid"]


def test_certificates_that_are_no_csca(pki: dict[str, Party]) -> None:
    broken_self_signature = resign_tbs_signature(pki["de"].cert, flip_bit(
        pki["de"].x509.signature, 10))
    store = TrustStore.from_files({
        "ds.pem": pki["de_ds"].pem,
        "broken.der": broken_self_signature,
        "garbage.cer": b"\x30\x03\x02\x01\x01",
    })
    assert store.entries() == []
    assert sorted(p.reason for p in store.problems) == [
        "trust.csca_self_signature_invalid", "trust.file_unusable", "trust.not_a_csca"]


def test_crl_problems(pki: dict[str, Party]) -> None:
    store = TrustStore.from_files({
        "fr.pem": pki["fr"].pem,
        "de.crl": crl(pki["de"]),  # issuer not in the store
        "fr-fake.crl": crl(pki["fr"], signing_key=ec.generate_private_key(ec.SECP256R1()),
                           hash_name="sha256"),
        "broken.crl": b"\x30\x00",
    })
    assert store.crls == ()
    assert sorted(p.reason for p in store.problems) == [
        "trust.crl_issuer_unknown", "trust.crl_signature_invalid", "trust.file_unusable"]


# --- import -------------------------------------------------------------------------------------


def test_import_copies_atomically_under_the_original_name(tmp_path: Path,
                                                          pki: dict[str, Party]) -> None:
    src = write(tmp_path / "downloads", {"VN CSCA.cer": pki["vn"].cert})
    store = TrustStore.load(tmp_path / "trust")
    result = store.import_file(src / "VN CSCA.cer")
    assert result.name == "VN CSCA.cer" and not result.already_present
    assert (tmp_path / "trust" / "VN CSCA.cer").read_bytes() == pki["vn"].cert
    assert [e.subject for e in result.added] == [
        "CN=CSCA ePassport Vietnam,O=examdesk trust tests,C=VN"]
    assert [e.source for e in store.entries()] == ["VN CSCA.cer"]  # the store reloaded
    assert [p.name for p in (tmp_path / "trust").iterdir()] == ["VN CSCA.cer"]  # no temp left
    # Again: identical file, nothing to do.
    again = store.import_file(src / "VN CSCA.cer")
    assert again.already_present and again.added == ()


def test_import_refuses_a_different_file_with_the_same_name(tmp_path: Path,
                                                           pki: dict[str, Party]) -> None:
    store = TrustStore.load(tmp_path / "trust")
    store.import_file(write(tmp_path / "a", {"csca.pem": pki["de"].pem}) / "csca.pem")
    with pytest.raises(TrustNameTaken) as info:
        store.import_file(write(tmp_path / "b", {"csca.pem": pki["fr"].pem}) / "csca.pem")
    assert info.value.context["file"] == "csca.pem"
    assert (tmp_path / "trust" / "csca.pem").read_bytes() == pki["de"].pem


def test_same_certificate_under_another_name_is_already_present(tmp_path: Path,
                                                                pki: dict[str, Party]) -> None:
    store = TrustStore.load(tmp_path / "trust")
    store.import_file(write(tmp_path / "a", {"de.pem": pki["de"].pem}) / "de.pem")
    copy = write(tmp_path / "b", {"de-copy.der": pki["de"].cert}) / "de-copy.der"
    result = store.import_file(copy)
    assert result.already_present
    assert not (tmp_path / "trust" / "de-copy.der").exists()


@pytest.mark.parametrize("content", [b"", b"hello", b"-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                     b"-----END PRIVATE KEY-----\n", bytes(range(256))])
def test_import_refuses_garbage(tmp_path: Path, content: bytes) -> None:
    src = write(tmp_path / "in", {"csca.pem": content})
    store = TrustStore.load(tmp_path / "trust")
    with pytest.raises(TrustImportRefused) as info:
        store.import_file(src / "csca.pem")
    assert info.value.context["file"] == "csca.pem" and "\n" not in info.value.detail
    assert not (tmp_path / "trust").exists() or not any((tmp_path / "trust").iterdir())


def test_import_refuses_a_ds_certificate_and_a_missing_file(tmp_path: Path,
                                                            pki: dict[str, Party]) -> None:
    store = TrustStore.load(tmp_path / "trust")
    src = write(tmp_path / "in", {"ds.pem": pki["de_ds"].pem})
    with pytest.raises(TrustImportRefused, match="not a CA"):
        store.import_file(src / "ds.pem")
    with pytest.raises(TrustFileUnreadable):
        store.import_file(tmp_path / "in" / "missing.pem")


def test_crl_needs_its_csca_first(tmp_path: Path, pki: dict[str, Party]) -> None:
    store = TrustStore.load(tmp_path / "trust")
    src = write(tmp_path / "in", {"de.crl": crl(pki["de"]), "de.pem": pki["de"].pem})
    with pytest.raises(TrustImportRefused, match="import it first"):
        store.import_file(src / "de.crl")
    store.import_file(src / "de.pem")
    result = store.import_file(src / "de.crl")
    assert [c.issuer for c in result.crls] == [
        "CN=CSCA Germany,O=examdesk trust tests,C=DE"]
    assert len(store.crls) == 1


def test_master_list_import_and_unknown_suffix(tmp_path: Path, pki: dict[str, Party]) -> None:
    store = TrustStore.load(tmp_path / "trust")
    ml = master_list([pki["de"].cert, pki["vn"].cert], pki["de_ml_signer"])
    src = write(tmp_path / "in", {"DE_ML_2026-05-05": ml}) / "DE_ML_2026-05-05"
    result = store.import_file(src)
    assert result.name == "DE_ML_2026-05-05.ml"
    assert result.master_list is not None and result.master_list.certificates == 2
    assert len(result.added) == 2
    assert (tmp_path / "trust" / "DE_ML_2026-05-05.ml").exists()


def test_remove(tmp_path: Path, pki: dict[str, Party]) -> None:
    store = TrustStore.load(tmp_path / "trust")
    store.import_file(write(tmp_path / "in", {"de.pem": pki["de"].pem}) / "de.pem")
    store.remove("de.pem")
    assert store.entries() == []
    with pytest.raises(TrustEntryNotFound):
        store.remove("de.pem")
    with pytest.raises(TrustEntryNotFound):
        store.remove("../etc/passwd")


def test_link_certificate_is_an_anchor_and_verifies_documents(
    data_groups: dict[str, bytes], ec_keys: dict[str, Any],
) -> None:
    old_key, new_key = ec.generate_private_key(ec.SECP384R1()), ec_keys["P-521"]
    old = certificate("CSCA Rollover", old_key, ca=True)
    new = certificate("CSCA Rollover", new_key, ca=True, hash_name="sha512")
    link = certificate("CSCA Rollover", new_key, old, ca=True)  # new key, signed by the old
    store = TrustStore.from_files({"old.pem": old.pem, "link.pem": link.pem})
    assert store.problems == ()
    assert len(store.entries()) == 2
    ds = certificate("DS after rollover", ec_keys["P-256"], new, ca=False)
    files = {**data_groups, "EF.SOD": sod(data_groups, ds)}
    result = passive_authentication(files, store)
    assert result.status is PassiveStatus.VALID, result.failures
    assert result.csca_source == "link.pem"


@pytest.fixture(scope="module")
def store_files(pki: dict[str, Party]) -> dict[str, bytes]:
    return {
        "de.pem": pki["de"].pem,
        "vn.cer": pki["vn"].cert,
        "list.ml": master_list([pki["fr"].cert, pki["vn"].cert], pki["de_ml_signer"]),
        "de.crl": crl(pki["de"], {5: datetime(2024, 1, 1, tzinfo=UTC)}),
    }


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_files_never_break_loading(store_files: dict[str, bytes], data: Any) -> None:
    files = store_files
    name = data.draw(st.sampled_from(sorted(files)), label="file")
    raw = bytearray(files[name])
    i = data.draw(st.integers(0, len(raw) - 1), label="index")
    raw[i] = data.draw(st.integers(0, 255), label="value")
    store = TrustStore.from_files({**files, name: bytes(raw)})
    json.dumps(store.to_dict())
    # A broken CSCA file also leaves its CRL without an issuer: problems may name other files.
    assert all("\n" not in p.detail and p.reason.startswith("trust.") for p in store.problems)
