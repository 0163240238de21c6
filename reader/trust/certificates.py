"""X.509 certificates as passive authentication uses them: parsed once, plain values after.

asn1crypto parses lazily, so a broken certificate would otherwise fail wherever a field is first
touched. :func:`parse_certificate` reads every field the trust checks use inside one ``try`` and
raises :class:`~reader.errors.MalformedData` there, or returns a :class:`Certificate` that holds
only Python values and bytes.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asn1crypto import x509

from reader.errors import MalformedData, ReaderError

from .signatures import (
    PublicKey,
    UnsupportedAlgorithm,
    Verification,
    error_text,
    load_public_key,
    verify_signature,
)

# Attribute short names of RFC 4514 (and the ones ICAO certificates use).
_SHORT_NAMES = {
    "2.5.4.3": "CN",
    "2.5.4.4": "SN",
    "2.5.4.5": "serialNumber",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.9": "STREET",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.42": "GN",
    "2.5.4.97": "organizationIdentifier",
    "0.9.2342.19200300.100.1.1": "UID",
    "0.9.2342.19200300.100.1.25": "DC",
    "1.2.840.113549.1.9.1": "emailAddress",
}


def _escape(value: str) -> str:
    out = []
    for i, ch in enumerate(value):
        if ch in ',+"\\<>;=' or (i == 0 and ch in "# ") or (i == len(value) - 1 and ch == " "):
            out.append("\\" + ch)
        elif ord(ch) < 0x20:
            out.append(f"\\{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def name_text(name: Any) -> str:
    """An asn1crypto ``Name`` as an RFC 4514 string (``CN=…,O=…,C=VN``), NFC-normalised."""
    rdns = []
    for rdn in reversed(list(name.chosen)):
        parts = []
        for atv in rdn:
            oid = atv["type"].dotted
            value = atv["value"].native
            text = (
                _escape(unicodedata.normalize("NFC", value))
                if isinstance(value, str)
                else "#" + atv["value"].dump().hex()
            )
            parts.append(f"{_SHORT_NAMES.get(oid, oid)}={text}")
        rdns.append("+".join(parts))
    return ",".join(rdns)


def name_country(name: Any) -> str | None:
    for rdn in name.chosen:
        for atv in rdn:
            if atv["type"].dotted == "2.5.4.6" and isinstance(atv["value"].native, str):
                return str(atv["value"].native).upper()
    return None


def as_utc(value: object, what: str) -> datetime:
    """An asn1crypto time's native value as an aware UTC datetime."""
    if not isinstance(value, datetime):
        raise MalformedData(f"{what}: not a usable time ({value!r})")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class CertificateSummary:
    """What a person or a log needs to recognise a certificate."""

    subject: str
    issuer: str
    country: str | None
    serial: str  # hexadecimal
    not_before: datetime
    not_after: datetime
    key: str  # "EC brainpoolP512r1 (explicit parameters)", "RSA 4096", …
    fingerprint_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "country": self.country,
            "serial": self.serial,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "key": self.key,
            "fingerprint_sha256": self.fingerprint_sha256,
        }


@dataclass(frozen=True, eq=False)
class Certificate:
    der: bytes
    tbs: bytes  # the signed part, as it stands in the file
    signature_algorithm: bytes  # AlgorithmIdentifier DER
    signature: bytes
    serial: int
    subject: str  # RFC 4514, for people
    issuer: str
    subject_id: str  # canonical form (RFC 5280 §7.1 comparison), for matching names
    issuer_id: str
    country: str | None
    not_before: datetime
    not_after: datetime
    spki: bytes
    subject_key_identifier: bytes | None
    authority_key_identifier: bytes | None
    is_ca: bool | None  # None: no basicConstraints extension
    key_usage: frozenset[str] | None  # None: no keyUsage extension
    public_key: PublicKey | None  # None: see key_problem
    key_problem: tuple[str, str] | None  # (reason key, detail) when the key cannot be used

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.der).hexdigest()

    @property
    def self_issued(self) -> bool:
        return self.subject_id == self.issuer_id

    @property
    def key_description(self) -> str:
        if self.public_key is not None:
            return self.public_key.description
        return f"unusable key ({self.key_problem[1] if self.key_problem else '?'})"

    def valid_during(self, start: datetime, end: datetime) -> bool:
        """Does the validity period overlap [start, end]?"""
        return self.not_before <= end and self.not_after >= start

    def summary(self) -> CertificateSummary:
        return CertificateSummary(
            self.subject, self.issuer, self.country, f"{self.serial:X}", self.not_before,
            self.not_after, self.key_description, self.fingerprint,
        )

    def verify(
        self, data: bytes, algorithm: bytes, signature: bytes, *,
        digest_algorithm: str | None = None,
    ) -> Verification:
        """Verify a signature made with this certificate's key. Never raises."""
        if self.public_key is None:
            reason, detail = self.key_problem or ("trust.signature_invalid", "no key")
            return Verification(False, reason, detail, "", self.key_description)
        return verify_signature(self.public_key, algorithm, signature, data,
                                digest_algorithm=digest_algorithm)

    def may_hold_key(self, key_id: bytes | None) -> bool:
        """Can this be the issuer whose key ``key_id`` names (a child's authorityKeyIdentifier)?
        Only two identifiers present and different rule it out: either extension is optional,
        and a CSCA with a new key keeps its name, so the name alone does not decide."""
        return not (key_id and self.subject_key_identifier
                    and key_id != self.subject_key_identifier)

    def issued(self, child: Certificate) -> Verification:
        """Does this certificate's key verify ``child``'s signature?"""
        return self.verify(child.tbs, child.signature_algorithm, child.signature)


def parse_certificate(der: bytes) -> Certificate:
    """DER → :class:`Certificate`; :class:`~reader.errors.MalformedData` if it is not one."""
    try:
        cert = x509.Certificate.load(der, strict=True)
        tbs = cert["tbs_certificate"]
        validity = tbs["validity"]
        subject, issuer = tbs["subject"], tbs["issuer"]
        serial = tbs["serial_number"].native
        if not isinstance(serial, int):
            raise ValueError("no serial number")
        signature = cert["signature_value"].native
        if not isinstance(signature, bytes):
            raise ValueError("no signature")
        basic = cert.basic_constraints_value
        usage = cert.key_usage_value
        ski = cert.key_identifier_value
        aki = cert.authority_key_identifier_value
        aki_id = aki["key_identifier"].native if aki is not None else None
        fields: dict[str, Any] = {
            "der": bytes(der),
            "tbs": tbs.dump(),
            "signature_algorithm": cert["signature_algorithm"].dump(),
            "signature": signature,
            "serial": serial,
            "subject": name_text(subject),
            "issuer": name_text(issuer),
            "subject_id": subject.hashable,
            "issuer_id": issuer.hashable,
            "country": name_country(subject),
            "not_before": as_utc(validity["not_before"].native, "notBefore"),
            "not_after": as_utc(validity["not_after"].native, "notAfter"),
            "spki": tbs["subject_public_key_info"].dump(),
            "subject_key_identifier": ski.native if ski is not None else None,
            "authority_key_identifier": aki_id if isinstance(aki_id, bytes) else None,
            "is_ca": bool(basic["ca"].native) if basic is not None else None,
            "key_usage": frozenset(usage.native) if usage is not None else None,
        }
    except ReaderError:
        raise
    except Exception as exc:
        raise MalformedData(f"certificate: {error_text(exc)}") from exc
    key: PublicKey | None = None
    problem: tuple[str, str] | None = None
    try:
        key = load_public_key(fields["spki"])
    except UnsupportedAlgorithm as exc:
        problem = (exc.key, exc.detail)
    except ReaderError as exc:
        problem = ("trust.signature_invalid", f"public key: {exc.detail}")
    return Certificate(**fields, public_key=key, key_problem=problem)
