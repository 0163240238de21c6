"""CMS SignedData (RFC 5652) as EF.SOD and CSCA master lists use it.

:func:`parse_signed_data` reads a ContentInfo into plain values (or raises
:class:`~reader.errors.MalformedData`); :func:`verify_signer` checks one SignerInfo against the
encapsulated content and a certificate: contentType and messageDigest signed attributes, then the
signature over the signed attributes exactly as they were encoded in the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import cms, core

from reader.errors import MalformedData, ReaderError

from .certificates import Certificate, as_utc, name_text, parse_certificate
from .signatures import (
    SIGNATURE_INVALID,
    UNSUPPORTED_ALGORITHM,
    UnsupportedAlgorithm,
    compute_digest,
    digest_name,
    error_text,
    hash_label,
)

SIGNED_DATA_OID = "1.2.840.113549.1.7.2"
CONTENT_TYPE_ATTR = "1.2.840.113549.1.9.3"
MESSAGE_DIGEST_ATTR = "1.2.840.113549.1.9.4"
SIGNING_TIME_ATTR = "1.2.840.113549.1.9.5"
_SINGLE_VALUED = {CONTENT_TYPE_ATTR, MESSAGE_DIGEST_ATTR, SIGNING_TIME_ATTR}


@dataclass(frozen=True, slots=True)
class SignedAttributes:
    der: bytes  # what the signature covers: the attributes re-tagged as SET OF (0x31)
    content_type: str | None
    message_digest: bytes | None
    signing_time: datetime | None
    types: tuple[str, ...]  # attribute OIDs in file order


@dataclass(frozen=True, slots=True)
class SignerInfo:
    version: int
    issuer: str | None  # sid = issuerAndSerialNumber
    issuer_id: str | None
    serial: int | None
    subject_key_identifier: bytes | None  # sid = subjectKeyIdentifier
    digest_algorithm: str  # "sha256", or the dotted OID of a digest we do not know
    signature_algorithm: bytes  # AlgorithmIdentifier DER
    signature: bytes
    signed_attributes: SignedAttributes | None

    def identifies(self, cert: Certificate) -> bool:
        if self.subject_key_identifier is not None:
            return cert.subject_key_identifier == self.subject_key_identifier
        return cert.issuer_id == self.issuer_id and cert.serial == self.serial

    def describe_sid(self) -> str:
        if self.subject_key_identifier is not None:
            return f"subject key identifier {self.subject_key_identifier.hex()}"
        return f"issuer {self.issuer}, serial {self.serial or 0:X}"


@dataclass(frozen=True, slots=True)
class SignedData:
    content_type: str  # eContentType, dotted
    content: bytes  # eContent
    signers: tuple[SignerInfo, ...]
    certificates: tuple[Certificate, ...]

    def certificate_for(self, signer: SignerInfo) -> Certificate | None:
        return next((c for c in self.certificates if signer.identifies(c)), None)


def parse_signed_data(content_info: bytes, *, what: str, content_type: str) -> SignedData:
    """A DER ContentInfo holding SignedData whose eContentType must be ``content_type``."""
    with _part(what, "ContentInfo"):
        return _parse(content_info, what, content_type)


@contextmanager
def _part(what: str, part: str) -> Iterator[None]:
    """Turn whatever asn1crypto raises while reading ``part`` into a precise MalformedData."""
    try:
        yield
    except ReaderError:
        raise
    except Exception as exc:  # asn1crypto raises ValueError, TypeError, KeyError, …
        raise MalformedData(f"{what}: {part}: {error_text(exc)}") from exc


def _parse(data: bytes, what: str, expected: str) -> SignedData:
    info = cms.ContentInfo.load(data, strict=True)
    outer = info["content_type"].dotted
    if outer != SIGNED_DATA_OID:
        raise MalformedData(f"{what}: content type {outer} is not SignedData")
    with _part(what, "SignedData"):
        sd = info["content"]
        if not isinstance(sd, cms.SignedData):
            raise MalformedData(f"{what}: no SignedData")
    with _part(what, "encapContentInfo"):
        encap = sd["encap_content_info"]
        inner = encap["content_type"].dotted
        if inner != expected:
            raise MalformedData(
                f"{what}: encapsulated content type {inner}, expected {expected}")
        content = encap["content"].native if encap["content"] is not None else None
        if not isinstance(content, bytes):
            raise MalformedData(f"{what}: no encapsulated content")
    certificates = []
    with _part(what, "certificates"):
        choices = list(sd["certificates"]) if sd["certificates"].native is not None else []
    for i, choice in enumerate(choices):
        with _part(what, f"certificate #{i + 1}"):
            if choice.name == "certificate":
                certificates.append(parse_certificate(choice.chosen.dump()))
    with _part(what, "signerInfos"):
        infos = list(sd["signer_infos"])
    signers = []
    for i, si in enumerate(infos):
        with _part(what, f"SignerInfo #{i + 1}"):
            signers.append(_signer(si, what))
    if not signers:
        raise MalformedData(f"{what}: no SignerInfo")
    return SignedData(inner, content, tuple(signers), tuple(certificates))


def _signer(si: Any, what: str) -> SignerInfo:
    sid = si["sid"]
    issuer = issuer_id = serial = ski = None
    if sid.name == "issuer_and_serial_number":
        name = sid.chosen["issuer"]
        issuer, issuer_id = name_text(name), name.hashable
        serial = sid.chosen["serial_number"].native
        if not isinstance(serial, int):
            raise MalformedData(f"{what}: SignerInfo without a serial number")
    else:
        ski = sid.chosen.native
        if not isinstance(ski, bytes):
            raise MalformedData(f"{what}: SignerInfo without a key identifier")
    digest_oid = si["digest_algorithm"]["algorithm"].dotted
    signature = si["signature"].native
    if not isinstance(signature, bytes):
        raise MalformedData(f"{what}: SignerInfo without a signature")
    version = si["version"].native
    return SignerInfo(
        version=int(version[1:]) if isinstance(version, str) else int(version),
        issuer=issuer,
        issuer_id=issuer_id,
        serial=serial,
        subject_key_identifier=ski,
        digest_algorithm=digest_name(digest_oid) or digest_oid,
        signature_algorithm=si["signature_algorithm"].dump(),
        signature=signature,
        signed_attributes=_signed_attributes(si["signed_attrs"], what),
    )


_ATTRIBUTE_NAMES = {CONTENT_TYPE_ATTR: "contentType", MESSAGE_DIGEST_ATTR: "messageDigest",
                    SIGNING_TIME_ATTR: "signingTime"}


def _signed_attributes(attrs: Any, what: str) -> SignedAttributes | None:
    with _part(what, "signedAttrs"):
        if isinstance(attrs, core.Void):
            return None
        raw = attrs.dump()
        items = list(attrs)
    if not raw or raw[0] != 0xA0:
        raise MalformedData(f"{what}: signed attributes are not tagged [0]")
    values: dict[str, Any] = {}
    types = []
    for attr in items:
        oid = attr["type"].dotted
        label = _ATTRIBUTE_NAMES.get(oid, oid)
        types.append(oid)
        with _part(what, f"signed attribute {label}"):
            if oid in _SINGLE_VALUED:
                if oid in values:
                    raise MalformedData(f"{what}: signed attribute {label} appears twice")
                if len(attr["values"]) != 1:
                    raise MalformedData(f"{what}: signed attribute {label} must have one value")
                values[oid] = attr["values"][0]
                values[oid].native  # noqa: B018 - parse now, so that breakage surfaces here
            else:
                attr["values"].native  # noqa: B018
    content_type = values[CONTENT_TYPE_ATTR].dotted if CONTENT_TYPE_ATTR in values else None
    digest = values[MESSAGE_DIGEST_ATTR].native if MESSAGE_DIGEST_ATTR in values else None
    if digest is not None and not isinstance(digest, bytes):
        raise MalformedData(f"{what}: messageDigest is not an OCTET STRING")
    when = None
    if SIGNING_TIME_ATTR in values:
        when = as_utc(values[SIGNING_TIME_ATTR].native, f"{what}: signingTime")
    return SignedAttributes(b"\x31" + raw[1:], content_type, digest, when, tuple(types))


@dataclass(frozen=True, slots=True)
class Finding:
    """One verified property of a SignerInfo."""

    name: str  # "content_type", "message_digest", "signature"
    ok: bool
    reason: str | None = None
    detail: str = ""
    algorithm: str = ""


def verify_signer(sd: SignedData, signer: SignerInfo, cert: Certificate) -> list[Finding]:
    """contentType and messageDigest (when signed attributes are present), then the signature."""
    findings: list[Finding] = []
    attrs = signer.signed_attributes
    if attrs is not None:
        if attrs.content_type is None:
            findings.append(Finding("content_type", False, "trust.content_type_mismatch",
                                    "signed attributes lack contentType"))
        elif attrs.content_type != sd.content_type:
            findings.append(Finding(
                "content_type", False, "trust.content_type_mismatch",
                f"signed contentType {attrs.content_type} ≠ eContentType {sd.content_type}"))
        else:
            findings.append(Finding("content_type", True))
        findings.append(_message_digest(sd, signer, attrs))
        signed = attrs.der
    else:
        signed = sd.content
    result = cert.verify(signed, signer.signature_algorithm, signer.signature,
                         digest_algorithm=signer.digest_algorithm)
    detail = result.detail
    if not result.ok and result.reason == SIGNATURE_INVALID and result.algorithm:
        detail = f"{result.algorithm}, {result.key}: {result.detail}"
    findings.append(Finding("signature", result.ok, result.reason, detail,
                            f"{result.algorithm} / {result.key}".strip(" /")))
    return findings


def _message_digest(sd: SignedData, signer: SignerInfo, attrs: SignedAttributes) -> Finding:
    if attrs.message_digest is None:
        return Finding("message_digest", False, "trust.message_digest_mismatch",
                       "signed attributes lack messageDigest")
    try:
        digest = compute_digest(signer.digest_algorithm, sd.content)
    except UnsupportedAlgorithm as exc:
        return Finding("message_digest", False, UNSUPPORTED_ALGORITHM, exc.detail)
    if digest != attrs.message_digest:
        return Finding("message_digest", False, "trust.message_digest_mismatch",
                       f"{hash_label(signer.digest_algorithm)} of the content "
                       f"{digest.hex()} ≠ signed {attrs.message_digest.hex()}")
    return Finding("message_digest", True, None, "", hash_label(signer.digest_algorithm))
