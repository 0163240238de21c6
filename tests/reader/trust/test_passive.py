"""Passive authentication: genuine cards are VALID, every attack gets its verdict and reason."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

import ecdsa
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from examdesk.i18n import Catalog
from reader.trust.passive import Outcome, PassiveResult, PassiveStatus, passive_authentication
from reader.trust.store import TrustStore
from reader.virtual import build_lds, list_profiles, load_profile
from reader.virtual.pki import test_csca_pem

from .builders import (
    SIGNED_AT,
    Party,
    certificate,
    crl,
    explicit_spki,
    iso_p256_curve,
    master_list,
    security_object,
    sod,
)

NOW = datetime(2025, 5, 1, tzinfo=UTC)
VALID, UNTRUSTED, INVALID = (PassiveStatus.VALID, PassiveStatus.UNTRUSTED_SIGNER,
                             PassiveStatus.INVALID)


def check(result: PassiveResult, name: str) -> Any:
    return next(c for c in result.checks if c.name == name)


def run(files: dict[str, bytes], store: TrustStore | None, **kw: Any) -> PassiveResult:
    kw.setdefault("at", NOW)
    result = passive_authentication(files, store, **kw)
    json.dumps(result.to_dict())  # always JSON-ready
    return result


def assert_clear_messages(result: PassiveResult) -> None:
    """Every failure and note has a Vietnamese and an English text with no gaps."""
    catalog = Catalog.load()
    for c in (*result.failures, *result.notes):
        assert c.reason in catalog.messages, c.reason
        for lang in ("vi", "en"):
            text = catalog.text(c.reason, lang, **c.context)
            assert "?" not in text and "{" not in text, (c.reason, lang, text)


@pytest.fixture(scope="module")
def store(csca: Party) -> TrustStore:
    return TrustStore.from_files({"test-csca.pem": csca.pem})


@pytest.fixture(scope="module")
def genuine(data_groups: dict[str, bytes], ds: Party) -> dict[str, bytes]:
    return {**data_groups, "EF.SOD": sod(data_groups, ds)}


# --- genuine --------------------------------------------------------------------------------


def test_genuine_card_is_valid(genuine: dict[str, bytes], store: TrustStore, ds: Party,
                               csca: Party) -> None:
    result = run(genuine, store)
    assert result.status is VALID, result.failures
    assert result.reasons == []
    assert [c.name for c in result.checks if c.outcome is Outcome.PASS] == [
        "sod", "hash.DG1", "hash.DG2", "hash.DG3", "hash.DG13", "hash.DG14", "hash.DG15",
        "content_type", "message_digest", "signature", "signing_time", "signer_validity", "chain",
        "csca_validity",
    ]
    assert [(c.name, c.reason) for c in result.notes] == [("revocation", "trust.no_crl")]
    assert result.signer is not None and result.csca is not None
    assert result.signer.subject == "CN=Test DS,O=examdesk trust tests,C=VN"
    assert result.signer.serial == f"{ds.x509.serial_number:X}"
    assert result.signer.not_after == datetime(2031, 1, 1, tzinfo=UTC)
    assert result.csca.subject == "CN=Test CSCA,O=examdesk trust tests,C=VN"
    assert (result.csca_source, result.csca_master_list) == ("test-csca.pem", None)
    assert result.hash_algorithm == "SHA-256"
    assert result.signature_algorithm == "ECDSA SHA-256 / EC P-256"
    assert result.signing_time == SIGNED_AT and result.time_basis == "signing_time"
    # DG3 too: the virtual card has it and its SOD hashes it, as a real SOD does (issue 11, 8).
    assert result.data_groups == {f"DG{n}": "match" for n in (1, 2, 3, 13, 14, 15)}
    doc = result.to_dict()
    assert doc["status"] == "VALID" and doc["csca"]["source"] == "test-csca.pem"
    assert_clear_messages(result)


def test_virtual_card_with_the_project_test_csca(card_files: dict[str, bytes]) -> None:
    store = TrustStore.from_files({"examdesk-test-csca.pem": test_csca_pem()})
    result = run(card_files, store)
    assert result.status is VALID, result.failures
    assert "EF.CardAccess" not in result.data_groups and "EF.COM" not in result.data_groups


def test_no_store_or_an_empty_store_gives_untrusted_signer(genuine: dict[str, bytes]) -> None:
    for store in (None, TrustStore.from_files({})):
        result = run(genuine, store)
        assert result.status is UNTRUSTED
        assert result.reasons == ["trust.untrusted_signer"]
        assert check(result, "signature").outcome is Outcome.PASS
        assert_clear_messages(result)


def test_data_group_in_sod_but_not_read_is_fine(genuine: dict[str, bytes],
                                                 store: TrustStore) -> None:
    files = {k: v for k, v in genuine.items() if k != "DG2"}
    result = run(files, store)
    assert result.status is VALID
    assert result.data_groups["DG2"] == "not_read"


def test_no_data_group_read_is_a_note(genuine: dict[str, bytes], store: TrustStore) -> None:
    result = run({"EF.SOD": genuine["EF.SOD"]}, store)
    assert result.status is VALID
    assert check(result, "hashes").reason == "trust.no_data_groups"


# --- every algorithm --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chains(rsa1024: Any, rsa2048: Any, ec_keys: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """name → {"csca": Party, "ds": Party, "sod": {kwargs for builders.sod}}."""
    p384_csca = certificate("EC CSCA", ec_keys["P-384"], ca=True)
    rsa_csca = certificate("RSA CSCA", rsa2048, ca=True, hash_name="sha256")
    pss_csca = certificate("RSA-PSS CSCA", rsa2048, ca=True, hash_name="sha256", pss=True)
    bp512 = ec_keys["brainpoolP512r1"]
    vn_csca = certificate(  # the real "CSCA ePassport Vietnam" format
        "CSCA ePassport Vietnam", bp512, ca=True, hash_name="sha512",
        spki=explicit_spki(bp512.public_key(), "BRAINPOOLP512r1"))
    iso_key = ecdsa.SigningKey.from_secret_exponent(0xBADC0DE, curve=iso_p256_curve())
    out: dict[str, dict[str, Any]] = {
        "RSA-1024 PKCS#1 under RSA-2048": {
            "csca": rsa_csca, "ds": certificate("RSA DS", rsa1024, rsa_csca, ca=False,
                                                hash_name="sha256"), "sod": {}},
        "RSA-1024 PSS under RSA-2048 PSS": {
            "csca": pss_csca, "ds": certificate("PSS DS", rsa1024, pss_csca, ca=False,
                                                hash_name="sha256", pss=True),
            "sod": {"scheme": "pss", "salt": 20}},
        "RSA rsaEncryption OID": {
            "csca": rsa_csca, "ds": certificate("RSA DS 2", rsa1024, rsa_csca, ca=False,
                                                hash_name="sha256"),
            "sod": {"scheme": "rsaEncryption"}},
        "VN explicit brainpoolP512r1 CSCA, bp256 DS": {
            "csca": vn_csca, "ds": certificate("DS bp256", ec_keys["brainpoolP256r1"], vn_csca,
                                               ca=False, hash_name="sha512"), "sod": {}},
        "VN explicit CSCA, explicit bp512 DS": {
            "csca": vn_csca,
            "ds": certificate("DS bp512 explicit", bp512, vn_csca, ca=False, hash_name="sha512",
                              spki=explicit_spki(bp512.public_key(), "BRAINPOOLP512r1")),
            "sod": {}},
        "DS on a curve no table knows": {
            "csca": p384_csca, "ds": certificate("DS iso", iso_key, p384_csca, ca=False),
            "sod": {}},
        "plain ECDSA (BSI TR-03111)": {
            "csca": p384_csca, "ds": certificate("DS plain", ec_keys["brainpoolP384r1"],
                                                 p384_csca, ca=False), "sod": {"scheme": "plain"}},
    }
    for curve in ("P-256", "P-384", "P-521", "brainpoolP256r1", "brainpoolP384r1",
                  "brainpoolP512r1"):
        out[f"ECDSA {curve}"] = {
            "csca": p384_csca, "ds": certificate(f"DS {curve}", ec_keys[curve], p384_csca,
                                                 ca=False), "sod": {}}
    return out


CHAINS = ["RSA-1024 PKCS#1 under RSA-2048", "RSA-1024 PSS under RSA-2048 PSS",
          "RSA rsaEncryption OID", "VN explicit brainpoolP512r1 CSCA, bp256 DS",
          "VN explicit CSCA, explicit bp512 DS", "DS on a curve no table knows",
          "plain ECDSA (BSI TR-03111)", "ECDSA P-256", "ECDSA P-384", "ECDSA P-521",
          "ECDSA brainpoolP256r1", "ECDSA brainpoolP384r1", "ECDSA brainpoolP512r1"]


@pytest.mark.parametrize("hash_name", ["sha1", "sha224", "sha256", "sha384", "sha512"])
@pytest.mark.parametrize("chain", CHAINS)
def test_every_algorithm_and_hash_is_valid(chains: dict[str, dict[str, Any]],
                                           data_groups: dict[str, bytes], chain: str,
                                           hash_name: str) -> None:
    c = chains[chain]
    files = {**data_groups, "EF.SOD": sod(data_groups, c["ds"], hash_name, **c["sod"])}
    store = TrustStore.from_files({"csca.pem": c["csca"].pem})
    assert not store.problems, store.problems
    result = run(files, store)
    assert result.status is VALID, result.failures
    # ... and a flipped signature is caught whatever the algorithm.
    bad = {**data_groups, "EF.SOD": sod(data_groups, c["ds"], hash_name, tamper_signature=True,
                                        **c["sod"])}
    result = run(bad, store)
    assert result.status is INVALID and result.reasons == ["trust.signature_invalid"]


def test_vn_csca_lists_with_its_explicit_key(chains: dict[str, dict[str, Any]]) -> None:
    csca = chains["VN explicit CSCA, explicit bp512 DS"]["csca"]
    store = TrustStore.from_files({"vn.pem": csca.pem})
    (entry,) = store.entries()
    assert entry.key == "EC brainpoolP512r1 (explicit parameters)"
    assert entry.subject == "CN=CSCA ePassport Vietnam,O=examdesk trust tests,C=VN"


# --- attacks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dg", ["DG1", "DG2", "DG13", "DG14", "DG15"])
def test_each_tampered_data_group_is_invalid(genuine: dict[str, bytes], store: TrustStore,
                                             dg: str) -> None:
    files = dict(genuine)
    files[dg] = files[dg][:-1] + bytes([files[dg][-1] ^ 0x01])
    result = run(files, store)
    assert result.status is INVALID
    assert result.reasons == ["trust.hash_mismatch"]
    failed = check(result, f"hash.{dg}")
    assert failed.context == {"dg": dg}
    assert result.data_groups[dg] == "mismatch"
    assert dg in Catalog.load().text("trust.hash_mismatch", "vi", **failed.context)
    assert_clear_messages(result)


def test_data_group_read_but_not_in_sod(data_groups: dict[str, bytes], ds: Party,
                                         store: TrustStore) -> None:
    signed = {k: v for k, v in data_groups.items() if k != "DG15"}
    files = {**data_groups, "EF.SOD": sod(signed, ds)}
    result = run(files, store)
    assert result.status is INVALID
    assert result.reasons == ["trust.hash_missing"]
    assert result.data_groups["DG15"] == "not_in_sod"


def test_signature_bit_flip(data_groups: dict[str, bytes], ds: Party, store: TrustStore) -> None:
    result = run({**data_groups, "EF.SOD": sod(data_groups, ds, tamper_signature=True)}, store)
    assert result.status is INVALID and result.reasons == ["trust.signature_invalid"]
    assert_clear_messages(result)


def test_wrong_message_digest(data_groups: dict[str, bytes], ds: Party, store: TrustStore) -> None:
    files = {**data_groups, "EF.SOD": sod(data_groups, ds, message_digest=b"\x00" * 32)}
    result = run(files, store)
    assert result.status is INVALID and result.reasons == ["trust.message_digest_mismatch"]


def test_hashes_changed_and_resigned_with_another_content_signed(
    data_groups: dict[str, bytes], ds: Party, store: TrustStore,
) -> None:
    # The forger edits the LDSSecurityObject for a new portrait but cannot sign: the signed
    # messageDigest still names the old object.
    old = security_object(data_groups)
    forged = {**data_groups, "DG2": data_groups["DG2"] + b"\x00"}
    content = security_object(forged)
    files = {**forged, "EF.SOD": sod(forged, ds, content=content,
                                     message_digest=hashlib.sha256(old).digest())}
    result = run(files, store)
    assert result.status is INVALID and result.reasons == ["trust.message_digest_mismatch"]


def test_wrong_content_type_attribute(data_groups: dict[str, bytes], ds: Party,
                                      store: TrustStore) -> None:
    data = "1.2.840.113549.1.7.1"
    files = {**data_groups, "EF.SOD": sod(data_groups, ds, attr_content_type=data)}
    result = run(files, store)
    assert result.status is INVALID and result.reasons == ["trust.content_type_mismatch"]


def test_no_signed_attributes_still_verifies(data_groups: dict[str, bytes], ds: Party,
                                             store: TrustStore) -> None:
    files = {**data_groups, "EF.SOD": sod(data_groups, ds, signed_attrs=False)}
    result = run(files, store)
    assert result.status is VALID
    assert check(result, "signed_attributes").reason == "trust.no_signed_attributes"
    assert result.time_basis == "now"


@pytest.mark.parametrize(("signed", "reason"), [
    (datetime(2032, 6, 1, tzinfo=UTC), "trust.signer_expired"),
    (datetime(2020, 6, 1, tzinfo=UTC), "trust.signer_not_yet_valid"),
])
def test_signer_outside_its_validity_at_signing_time(data_groups: dict[str, bytes], ds: Party,
                                                     store: TrustStore, signed: datetime,
                                                     reason: str) -> None:
    result = run({**data_groups, "EF.SOD": sod(data_groups, ds, signing_time=signed)}, store,
                 at=datetime(2033, 1, 1, tzinfo=UTC))
    assert result.status is INVALID
    assert result.reasons == [reason]
    assert check(result, "signer_validity").context["date"] == signed.strftime("%d/%m/%Y")
    assert_clear_messages(result)


def test_an_expired_signer_certificate_does_not_matter_now(genuine: dict[str, bytes],
                                                           store: TrustStore) -> None:
    # Cards outlive their signer's certificate: what counts is the signing time.
    result = run(genuine, store, at=datetime(2036, 1, 1, tzinfo=UTC))
    assert result.status is VALID


def test_issue_date_stands_in_for_a_missing_signing_time(data_groups: dict[str, bytes],
                                                         ds: Party, store: TrustStore) -> None:
    files = {**data_groups, "EF.SOD": sod(data_groups, ds, signing_time=None)}
    result = run(files, store, issue_date=date(2021, 1, 1))  # the DS's first day
    assert result.status is VALID, result.failures
    assert result.time_basis == "issue_date"
    assert check(result, "signing_time").reason == "trust.signing_time_from_issue_date"
    result = run(files, store, issue_date=date(2031, 6, 1))
    assert result.reasons == ["trust.signer_expired"]
    # Neither: checked at `at`.
    result = run(files, store, at=datetime(2032, 1, 1, tzinfo=UTC))
    assert result.reasons == ["trust.signer_expired"] and result.time_basis == "now"


def test_signing_time_in_the_future_is_a_note(data_groups: dict[str, bytes], ds: Party,
                                              store: TrustStore) -> None:
    files = {**data_groups, "EF.SOD": sod(data_groups, ds,
                                          signing_time=datetime(2026, 1, 1, tzinfo=UTC))}
    result = run(files, store)
    assert result.status is VALID
    assert check(result, "signing_time").reason == "trust.signing_time_future"


@pytest.fixture(scope="module")
def forger(ec_keys: dict[str, Any]) -> dict[str, Party]:
    key = ec.generate_private_key(ec.SECP384R1())
    other = certificate("CSCA VN", key, ca=True)
    same_name = certificate("Test CSCA", key, ca=True)  # impersonates the trusted CSCA's name
    return {
        "other_name_ds": certificate("DS VN", ec_keys["P-256"], other, ca=False),
        "same_name_ds": certificate("Test DS", ec_keys["P-256"], same_name, ca=False),
        "same_name_no_aki_ds": certificate("Test DS", ec_keys["P-256"], same_name, ca=False,
                                           aki=False),
    }


def test_signer_of_an_unknown_csca_is_untrusted(data_groups: dict[str, bytes], store: TrustStore,
                                                forger: dict[str, Party]) -> None:
    for who in ("other_name_ds", "same_name_ds"):
        files = {**data_groups, "EF.SOD": sod(data_groups, forger[who])}
        result = run(files, store)
        assert result.status is UNTRUSTED, (who, result.failures)
        assert result.reasons == ["trust.untrusted_signer"]
        assert result.csca is None
        assert_clear_messages(result)


def test_signer_impersonating_a_trusted_csca_is_invalid(
    data_groups: dict[str, bytes], store: TrustStore, forger: dict[str, Party],
) -> None:
    # Same issuer name as the trusted CSCA and no key identifier to tell them apart: the trusted
    # CSCA's key must verify the DS certificate, and it does not.
    files = {**data_groups, "EF.SOD": sod(data_groups, forger["same_name_no_aki_ds"])}
    result = run(files, store)
    assert result.status is INVALID
    assert result.reasons == ["trust.chain_signature_invalid"]
    assert_clear_messages(result)


def test_revoked_signer_is_invalid(genuine: dict[str, bytes], csca: Party, ds: Party) -> None:
    revoked_at = datetime(2024, 2, 1, tzinfo=UTC)
    store = TrustStore.from_files({
        "csca.pem": csca.pem,
        "csca.crl": crl(csca, {ds.x509.serial_number: revoked_at, 12345: revoked_at}),
    })
    assert not store.problems
    result = run(genuine, store)
    assert result.status is INVALID
    assert result.reasons == ["trust.revoked"]
    assert check(result, "revocation").context == {"date": "01/02/2024"}
    assert_clear_messages(result)


def test_crl_without_the_signer_passes(genuine: dict[str, bytes], csca: Party) -> None:
    store = TrustStore.from_files({"csca.pem": csca.pem,
                                   "csca.crl": crl(csca, {777: datetime(2024, 1, 1, tzinfo=UTC)})})
    result = run(genuine, store)
    assert result.status is VALID
    assert check(result, "revocation").outcome is Outcome.PASS


def test_outdated_crl_is_a_note(genuine: dict[str, bytes], csca: Party) -> None:
    old = crl(csca, {}, this_update=datetime(2023, 1, 1, tzinfo=UTC),
              next_update=datetime(2023, 2, 1, tzinfo=UTC))
    result = run(genuine, TrustStore.from_files({"csca.pem": csca.pem, "old.crl": old}))
    assert result.status is VALID
    assert check(result, "revocation").reason == "trust.crl_outdated"


def test_crl_signed_by_someone_else_is_not_used(genuine: dict[str, bytes], csca: Party,
                                                ds: Party) -> None:
    fake = crl(csca, {ds.x509.serial_number: datetime(2024, 1, 1, tzinfo=UTC)},
               signing_key=ec.generate_private_key(ec.SECP384R1()))
    store = TrustStore.from_files({"csca.pem": csca.pem, "fake.crl": fake})
    assert [p.reason for p in store.problems] == ["trust.crl_signature_invalid"]
    result = run(genuine, store)
    assert result.status is VALID
    assert check(result, "revocation").reason == "trust.no_crl"


def test_csca_from_a_master_list(genuine: dict[str, bytes], csca: Party,
                                 ec_keys: dict[str, Any]) -> None:
    ml_signer = certificate("Master List Signer", ec_keys["P-256"], csca, ca=False)
    store = TrustStore.from_files({"VN.ml": master_list([csca.cert], ml_signer)})
    result = run(genuine, store)
    assert result.status is VALID, result.failures
    assert (result.csca_source, result.csca_master_list) == ("VN.ml", "VN.ml")
    assert result.to_dict()["csca"]["master_list"] == "VN.ml"


def test_csca_not_valid_at_signing_time(data_groups: dict[str, bytes],
                                        ec_keys: dict[str, Any]) -> None:
    short = certificate("Short CSCA", ec_keys["P-384"], ca=True,
                        validity=(datetime(2020, 1, 1, tzinfo=UTC),
                                  datetime(2022, 1, 1, tzinfo=UTC)))
    ds = certificate("DS", ec_keys["P-256"], short, ca=False)
    files = {**data_groups, "EF.SOD": sod(data_groups, ds)}  # signed 2022-03-04
    result = run(files, TrustStore.from_files({"short.pem": short.pem}))
    assert result.status is INVALID and result.reasons == ["trust.csca_not_valid"]


def test_signer_certificate_not_for_signing(data_groups: dict[str, bytes], csca: Party,
                                            store: TrustStore, ec_keys: dict[str, Any]) -> None:
    usage = x509.KeyUsage(digital_signature=False, content_commitment=False,
                          key_encipherment=True, data_encipherment=False, key_agreement=False,
                          key_cert_sign=False, crl_sign=False, encipher_only=False,
                          decipher_only=False)
    ds = certificate("Encryption only", ec_keys["P-256"], csca, ca=False, key_usage=usage)
    result = run({**data_groups, "EF.SOD": sod(data_groups, ds)}, store)
    assert result.status is INVALID and result.reasons == ["trust.certificate_usage"]


def test_signer_certificate_missing(data_groups: dict[str, bytes], ds: Party,
                                    store: TrustStore) -> None:
    result = run({**data_groups, "EF.SOD": sod(data_groups, ds, include_signer_cert=False)}, store)
    assert result.status is INVALID and result.reasons == ["trust.signer_certificate_missing"]


def test_two_signer_infos(data_groups: dict[str, bytes], ds: Party, store: TrustStore) -> None:
    result = run({**data_groups, "EF.SOD": sod(data_groups, ds, signers=2)}, store)
    assert result.status is INVALID and result.reasons == ["trust.sod_malformed"]


def test_unsupported_hash_algorithm(data_groups: dict[str, bytes], ds: Party,
                                    store: TrustStore) -> None:
    files = {**data_groups, "EF.SOD": sod(data_groups, ds, hash_oid="1.2.840.113549.2.5",
                                          digest="sha256")}
    result = run(files, store)
    assert result.status is INVALID and result.reasons == ["trust.unsupported_algorithm"]
    assert_clear_messages(result)


def test_missing_sod(data_groups: dict[str, bytes], store: TrustStore) -> None:
    result = run(data_groups, store)
    assert result.status is INVALID and result.reasons == ["trust.sod_missing"]


# --- the virtual card's attack profiles ---------------------------------------------------------

ATTACKS = {
    "attack-portrait-swapped": (INVALID, ["trust.hash_mismatch"]),
    "attack-unknown-signer": (UNTRUSTED, ["trust.untrusted_signer"]),
    "attack-signer-outside-validity": (INVALID, ["trust.signer_expired"]),
    # Passive authentication cannot see these two: the clone's files are genuine (active and
    # chip authentication catch it), and an expired card was genuinely signed (policy's call).
    "attack-clone": (VALID, []),
    "attack-expired-card": (VALID, []),
}


@pytest.mark.parametrize("profile", sorted(ATTACKS))
def test_attack_profiles(profile: str) -> None:
    if profile not in list_profiles():
        pytest.skip(f"the virtual card has no {profile} profile yet")
    files = build_lds(load_profile(profile)).files
    store = TrustStore.from_files({"examdesk-test-csca.pem": test_csca_pem()})
    result = run(files, store)
    status, reasons = ATTACKS[profile]
    assert (result.status, result.reasons) == (status, reasons), result.failures
    if profile == "attack-portrait-swapped":
        assert result.data_groups["DG2"] == "mismatch"
    assert_clear_messages(result)


# --- garbage ----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400))
def test_garbage_sod_is_invalid_never_an_exception(data: bytes) -> None:
    result = passive_authentication({"DG1": b"x", "EF.SOD": data}, None, at=NOW)
    assert result.status is INVALID
    assert result.reasons == ["trust.sod_malformed"]
    json.dumps(result.to_dict())


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_sod_never_raises(genuine: dict[str, bytes], store: TrustStore, data: Any) -> None:
    raw = genuine["EF.SOD"]
    i = data.draw(st.integers(0, len(raw) - 1), label="index")
    value = data.draw(st.integers(0, 255).filter(lambda v: v != raw[i]), label="value")
    mutated = bytearray(raw)
    mutated[i] = value
    result = passive_authentication({**genuine, "EF.SOD": bytes(mutated)}, store, at=NOW)
    json.dumps(result.to_dict())
    assert result.status in (VALID, UNTRUSTED, INVALID)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_change_to_the_signed_content_is_invalid(genuine: dict[str, bytes],
                                                     store: TrustStore, data: Any) -> None:
    raw = genuine["EF.SOD"]
    content = security_object({k: v for k, v in genuine.items() if k.startswith("DG")})
    start = raw.index(content)
    i = data.draw(st.integers(start, start + len(content) - 1), label="index")
    value = data.draw(st.integers(0, 255).filter(lambda v: v != raw[i]), label="value")
    mutated = bytearray(raw)
    mutated[i] = value
    result = passive_authentication({**genuine, "EF.SOD": bytes(mutated)}, store, at=NOW)
    assert result.status is INVALID


@settings(max_examples=100, deadline=None)
@given(files=st.dictionaries(st.sampled_from(["DG1", "DG2", "DG13", "DG99", "EF.COM", "x"]),
                             st.binary(max_size=50)))
def test_files_without_sod_never_raise(files: dict[str, bytes]) -> None:
    result = passive_authentication(files, None)
    assert result.status is INVALID and result.reasons == ["trust.sod_missing"]
