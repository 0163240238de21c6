"""EF.SOD parser: genuine files read right; every malformation is MalformedData with a reason."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest
from asn1crypto import cms
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reader.errors import MalformedData
from reader.trust.sod import parse_sod
from reader.virtual.ber import tlv
from reader.virtual.sod_schema import DataGroupHash, LdsSecurityObject

from .builders import MASTER_LIST_OID, SIGNED_AT, Party, security_object, signed_data, sod


def test_genuine_virtual_card_sod(card_files: dict[str, bytes]) -> None:
    parsed = parse_sod(card_files["EF.SOD"])
    assert parsed.version == 0
    assert parsed.hash_algorithm == "sha256"
    assert dict(parsed.data_group_hashes) == {
        n: hashlib.sha256(card_files[f"DG{n}"]).digest() for n in (1, 2, 3, 13, 14, 15)
    }
    assert parsed.signing_time == datetime(2021, 6, 15, 9, 0, tzinfo=UTC)
    assert parsed.lds_version is None
    cert = parsed.signer_certificate()
    assert cert is not None
    assert cert.subject == "CN=examdesk Test Document Signer,O=examdesk test,C=VN"
    assert cert.issuer == "CN=examdesk Test CSCA,O=examdesk test,C=VN"
    assert parsed.signers[0].digest_algorithm == "sha256"
    attrs = parsed.signed_attributes
    assert attrs is not None and attrs.der[0] == 0x31
    assert attrs.message_digest == hashlib.sha256(parsed.encapsulated_content).digest()
    assert parsed.raw == card_files["EF.SOD"]


@pytest.mark.parametrize("hash_name", ["sha1", "sha224", "sha256", "sha384", "sha512"])
def test_every_hash_algorithm(data_groups: dict[str, bytes], ds: Party, hash_name: str) -> None:
    parsed = parse_sod(sod(data_groups, ds, hash_name))
    assert parsed.hash_algorithm == hash_name
    assert parsed.data_group_hashes[2] == hashlib.new(hash_name, data_groups["DG2"]).digest()
    assert parsed.signing_time == SIGNED_AT


def test_v1_with_lds_version_info(data_groups: dict[str, bytes], ds: Party) -> None:
    parsed = parse_sod(sod(data_groups, ds, version=1, lds_version=("0108", "040000")))
    assert (parsed.version, parsed.lds_version, parsed.unicode_version) == (1, "0108", "040000")


def test_unknown_hash_algorithm_is_kept_not_refused(data_groups: dict[str, bytes],
                                                     ds: Party) -> None:
    parsed = parse_sod(sod(data_groups, ds, hash_oid="1.2.840.113549.2.5"))  # MD5
    assert parsed.hash_algorithm == "1.2.840.113549.2.5"


def test_subject_key_identifier_sid_and_no_signing_time(data_groups: dict[str, bytes],
                                                        ds: Party) -> None:
    parsed = parse_sod(sod(data_groups, ds, sid="ski", signing_time=None))
    assert parsed.signing_time is None
    assert parsed.signers[0].subject_key_identifier is not None
    assert parsed.signer_certificate() is not None


def _content_info(data: bytes) -> bytes:
    return data[4:] if data[1] == 0x82 else data[2:]


def _malformed_cases(data_groups: dict[str, bytes], ds: Party) -> dict[str, tuple[bytes, str]]:
    genuine = sod(data_groups, ds)
    ci = signed_data(security_object(data_groups), ds)
    so_ok = security_object(data_groups)
    dup = LdsSecurityObject({
        "version": 0, "hash_algorithm": {"algorithm": "sha256"},
        "data_group_hash_values": [
            DataGroupHash({"data_group_number": 1, "data_group_hash_value": b"\x01" * 32}),
            DataGroupHash({"data_group_number": 1, "data_group_hash_value": b"\x02" * 32}),
        ]}).dump()

    def so_with(number: int = 1, version: int = 0, hashes: list[Any] | None = None) -> bytes:
        return LdsSecurityObject({
            "version": version, "hash_algorithm": {"algorithm": "sha256"},
            "data_group_hash_values": hashes if hashes is not None else [
                DataGroupHash({"data_group_number": number,
                               "data_group_hash_value": b"\x01" * 32})]}).dump()

    detached = cms.ContentInfo.load(ci)
    sd = detached["content"]
    sd["encap_content_info"] = {"content_type": "2.23.136.1.1.1"}
    no_signers = cms.ContentInfo.load(ci)
    no_signers["content"]["signer_infos"] = []
    data_ci = cms.ContentInfo({"content_type": "data", "content": b"hello"}).dump()
    return {
        "empty": (b"", "truncated"),
        "wrong outer tag": (b"\x30" + genuine[1:], "expected 77"),
        "truncated": (genuine[:-10], "claims"),
        "trailing garbage": (genuine + b"\x01\x02", "after the end"),
        "not CMS": (tlv(0x77, b"\x04\x03abc"), "EF.SOD"),
        "ContentInfo of data": (tlv(0x77, data_ci), "not SignedData"),
        "master list instead of SOD": (
            tlv(0x77, signed_data(so_ok, ds, content_type=MASTER_LIST_OID)), "expected 2.23.136"),
        "detached content": (tlv(0x77, detached.dump(force=True)), "no encapsulated content"),
        "no SignerInfo": (tlv(0x77, no_signers.dump(force=True)), "no SignerInfo"),
        "LDSSO not DER": (sod(data_groups, ds, content=b"\x30\x03\x02\x01\x00"), "LDSSecurity"),
        "LDSSO garbage": (sod(data_groups, ds, content=b"\x01\x02\x03"), "LDSSecurityObject"),
        "duplicate DG": (sod(data_groups, ds, content=dup), "DG1 hashed twice"),
        "DG 0": (sod(data_groups, ds, content=so_with(number=0)), "data group number 0"),
        "DG 17": (sod(data_groups, ds, content=so_with(number=17)), "data group number 17"),
        "version 2": (sod(data_groups, ds, content=so_with(version=2)), "version 2"),
        "no hashes": (sod(data_groups, ds, content=so_with(hashes=[])), "no data group hashes"),
    }


MALFORMED = ["empty", "wrong outer tag", "truncated", "trailing garbage", "not CMS",
             "ContentInfo of data", "master list instead of SOD", "detached content",
             "no SignerInfo", "LDSSO not DER", "LDSSO garbage", "duplicate DG", "DG 0", "DG 17",
             "version 2", "no hashes"]


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_sod(data_groups: dict[str, bytes], ds: Party, case: str) -> None:
    data, reason = _malformed_cases(data_groups, ds)[case]
    with pytest.raises(MalformedData) as info:
        parse_sod(data)
    assert reason in info.value.detail
    assert "\n" not in info.value.detail


def test_duplicated_signed_attribute_is_malformed(data_groups: dict[str, bytes],
                                                  ds: Party) -> None:
    ci = cms.ContentInfo.load(signed_data(security_object(data_groups), ds))
    si = ci["content"]["signer_infos"][0]
    attrs = list(si["signed_attrs"])
    md = next(a for a in attrs if a["type"].native == "message_digest")
    si["signed_attrs"] = cms.CMSAttributes([*attrs, md.copy()])
    with pytest.raises(MalformedData, match="messageDigest appears twice"):
        parse_sod(tlv(0x77, ci.dump(force=True)))


def test_signing_time_that_is_no_time_is_malformed(data_groups: dict[str, bytes],
                                                    ds: Party) -> None:
    genuine = sod(data_groups, ds)
    utc_time = b"\x17\x0d" + SIGNED_AT.strftime("%y%m%d%H%M%SZ").encode()
    assert genuine.count(utc_time) == 1
    with pytest.raises(MalformedData, match="signingTime"):
        parse_sod(genuine.replace(utc_time, b"\x04" + utc_time[1:]))


@pytest.fixture(scope="module")
def genuine_sod(card_files: dict[str, bytes]) -> bytes:
    return card_files["EF.SOD"]


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=600))
def test_random_bytes_only_raise_malformed(data: bytes) -> None:
    with pytest.raises(MalformedData):
        parse_sod(data)


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=600))
def test_random_body_in_a_77_wrapper_only_raises_malformed(body: bytes) -> None:
    with pytest.raises(MalformedData):
        parse_sod(tlv(0x77, body))


@settings(max_examples=600, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_single_byte_mutations_parse_or_raise_malformed(genuine_sod: bytes, data: Any) -> None:
    i = data.draw(st.integers(0, len(genuine_sod) - 1), label="index")
    value = data.draw(st.integers(0, 255).filter(lambda v: v != genuine_sod[i]), label="value")
    mutated = bytearray(genuine_sod)
    mutated[i] = value
    try:
        parsed = parse_sod(bytes(mutated))
    except MalformedData as exc:
        assert exc.detail and "\n" not in exc.detail
        return
    # Whatever parses must be fully materialised: no lazy parsing left to blow up later.
    assert parsed.data_group_hashes
    for cert in parsed.certificates:
        assert cert.subject is not None
        cert.summary()


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, 2000))
def test_truncations_raise_malformed(genuine_sod: bytes, cut: int) -> None:
    cut = cut % len(genuine_sod)
    with pytest.raises(MalformedData):
        parse_sod(genuine_sod[:cut])
