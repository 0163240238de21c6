"""Passive authentication (ICAO Doc 9303-11 §5.1): were these data groups signed by the state?

Given the files read from a chip (``CardRead.files``: ``"DG1"``, ``"DG2"``, …, ``"EF.SOD"``)
and a CSCA trust store, :func:`passive_authentication` checks, in order:

1. EF.SOD parses (``trust.sod_missing`` / ``trust.sod_malformed``);
2. every data group read is hashed in the SOD, with the same digest (``trust.hash_missing`` /
   ``trust.hash_mismatch``; a data group in the SOD that was not read is fine);
3. the SignerInfo's signed attributes: contentType is the LDS security object, messageDigest is
   the hash of the encapsulated content;
4. the document signer (DS) certificate is in the SOD and its key verifies the signature;
5. the DS certificate was valid when it signed: at the signingTime signed attribute when there is
   one, else on the document's issue date given by the caller, else at ``at`` (now). This, not
   "now", is the right instant: a CCCD stays valid for decades, far longer than its DS
   certificate, and 9303-12 ties the DS validity to its key usage period;
6. the chain DS → CSCA: a CSCA of the store with the DS's issuer name (and a subject key
   identifier equal to the DS's authority key identifier when both are present) whose key
   verifies the DS certificate; that CSCA valid at the same instant; basicConstraints/keyUsage
   sane on both;
7. revocation: when the store holds (verified) CRLs of that CSCA, neither the DS nor the CSCA may
   be on them, whatever the revocation date (a revoked DS key may have signed anything); no CRL
   is a note, not a failure.

Verdict: ``INVALID`` when any check fails, ``UNTRUSTED_SIGNER`` when the only failure is that no
CSCA of the store issued the DS (no store, no CSCA of that name, or only CSCAs of that name with
another key), ``VALID`` otherwise. A CSCA *of the DS's issuer name and key identifier* whose key
does not verify the DS certificate is a forgery, so ``INVALID``. An algorithm we cannot verify is
``INVALID`` with ``trust.unsupported_algorithm``: nothing was proven.

It never raises: garbage in any file is an ``INVALID`` result with a reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from examdesk.timezone import VIETNAM  # Asia/Ho_Chi_Minh: UTC+7 all year
from reader.errors import MalformedData

from .certificates import Certificate, CertificateSummary
from .signatures import (
    UNSUPPORTED_ALGORITHM,
    UnsupportedAlgorithm,
    compute_digest,
    error_text,
    hash_label,
)
from .signed_data import verify_signer
from .sod import Sod, parse_sod
from .store import Anchor, TrustStore

_DG_NAME = re.compile(r"DG([1-9]|1[0-6])")


class PassiveStatus(StrEnum):
    VALID = "VALID"
    UNTRUSTED_SIGNER = "UNTRUSTED_SIGNER"
    INVALID = "INVALID"


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NOTE = "note"  # worth showing, not a failure (no CRL, old CRL, …)


@dataclass(frozen=True)
class Check:
    name: str  # "sod", "hash.DG2", "message_digest", "signature", "chain", …
    outcome: Outcome
    reason: str | None = None  # message key (examdesk/i18n/trust.toml); None for a plain pass
    detail: str = ""  # for logs and experts, English
    context: Mapping[str, str] = field(default_factory=dict)  # placeholders of the message

    @property
    def passed(self) -> bool:
        return self.outcome is not Outcome.FAIL

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "detail": self.detail,
            "context": dict(self.context),
        }


@dataclass(frozen=True)
class PassiveResult:
    status: PassiveStatus
    checks: tuple[Check, ...]
    signer: CertificateSummary | None = None  # the document signer certificate
    csca: CertificateSummary | None = None  # the trust anchor that issued it
    csca_source: str | None = None  # its file in the trust store
    csca_master_list: str | None = None  # the master list it came from, if any
    hash_algorithm: str | None = None
    signature_algorithm: str | None = None
    signing_time: datetime | None = None
    time_basis: str | None = None  # "signing_time", "issue_date" or "now"
    data_groups: Mapping[str, str] = field(default_factory=dict)  # "DG2" → "match", …

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.outcome is Outcome.FAIL)

    @property
    def notes(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.outcome is Outcome.NOTE)

    @property
    def reasons(self) -> list[str]:
        """Message keys of the failures, most telling first, without repeats."""
        out: list[str] = []
        for c in self.failures:
            if c.reason and c.reason not in out:
                out.append(c.reason)
        return out

    @property
    def status_key(self) -> str:
        """Message key of the verdict: ``trust.status_valid``, ``…_untrusted_signer``, …"""
        return f"trust.status_{self.status.value.lower()}"

    @property
    def reason(self) -> Check | None:
        """The failure to show first (``None`` when VALID)."""
        return self.failures[0] if self.failures else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "status_key": self.status_key,
            "reasons": self.reasons,
            "checks": [c.to_dict() for c in self.checks],
            "signer": self.signer.to_dict() if self.signer else None,
            "csca": (
                {**self.csca.to_dict(), "source": self.csca_source,
                 "master_list": self.csca_master_list}
                if self.csca else None
            ),
            "hash_algorithm": self.hash_algorithm,
            "signature_algorithm": self.signature_algorithm,
            "signing_time": self.signing_time.isoformat() if self.signing_time else None,
            "time_basis": self.time_basis,
            "data_groups": dict(self.data_groups),
        }


def passive_authentication(
    files: Mapping[str, bytes],
    store: TrustStore | None,
    *,
    at: datetime | None = None,
    issue_date: date | None = None,
) -> PassiveResult:
    """Check ``files`` (names as in ``CardRead.files``) against ``store``; never raises.

    ``at`` is "now" (default: the clock); ``issue_date`` (DG13 field 11) is the instant of
    signing when the SOD carries no signingTime.
    """
    now = at or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    run = _Run(files, store, now, issue_date)
    try:
        run.execute()
    except Exception as exc:  # the contract: garbage never escapes as an exception
        run.fail("verification", "trust.verification_error", error_text(exc))
    return run.result()


class _Run:
    def __init__(self, files: Mapping[str, bytes], store: TrustStore | None, now: datetime,
                 issue_date: date | None) -> None:
        self.files = files
        self.store = store
        self.now = now
        self.issue_date = issue_date
        self.checks: list[Check] = []
        self.sod: Sod | None = None
        self.signer: Certificate | None = None
        self.anchor: Anchor | None = None
        self.signature_algorithm: str | None = None
        self.time_basis: str | None = None
        self.data_groups: dict[str, str] = {}

    # recording

    def add(self, name: str, outcome: Outcome, reason: str | None = None, detail: str = "",
            **context: str) -> None:
        self.checks.append(Check(name, outcome, reason, detail, context))

    def ok(self, name: str, detail: str = "", **context: str) -> None:
        self.add(name, Outcome.PASS, None, detail, **context)

    def fail(self, name: str, reason: str, detail: str = "", **context: str) -> None:
        self.add(name, Outcome.FAIL, reason, detail, **context)

    def note(self, name: str, reason: str, detail: str = "", **context: str) -> None:
        self.add(name, Outcome.NOTE, reason, detail, **context)

    def result(self) -> PassiveResult:
        failures = [c for c in self.checks if c.outcome is Outcome.FAIL]
        if any(c.reason != "trust.untrusted_signer" for c in failures):
            status = PassiveStatus.INVALID
        elif failures:
            status = PassiveStatus.UNTRUSTED_SIGNER
        else:
            status = PassiveStatus.VALID
        sod = self.sod
        anchor = self.anchor
        return PassiveResult(
            status=status,
            checks=tuple(self.checks),
            signer=self.signer.summary() if self.signer else None,
            csca=anchor.certificate.summary() if anchor else None,
            csca_source=anchor.source if anchor else None,
            csca_master_list=anchor.master_list if anchor else None,
            hash_algorithm=hash_label(sod.hash_algorithm) if sod else None,
            signature_algorithm=self.signature_algorithm,
            signing_time=sod.signing_time if sod else None,
            time_basis=self.time_basis,
            data_groups=dict(self.data_groups),
        )

    # the checks

    def execute(self) -> None:
        raw = self.files.get("EF.SOD")
        if raw is None:
            self.fail("sod", "trust.sod_missing", "EF.SOD was not read")
            return
        try:
            sod = parse_sod(raw)
        except MalformedData as exc:
            self.fail("sod", "trust.sod_malformed", exc.detail)
            return
        self.sod = sod
        self.ok("sod", f"LDSSecurityObject v{sod.version}, {hash_label(sod.hash_algorithm)}, "
                       f"DG{', DG'.join(str(n) for n in sod.data_group_hashes)}")
        self.check_hashes(sod)
        self.check_signer(sod)

    def check_hashes(self, sod: Sod) -> None:
        read = sorted(
            (int(m.group(1)), name) for name in self.files
            if (m := _DG_NAME.fullmatch(name))
        )
        for n in sod.data_group_hashes:
            self.data_groups[f"DG{n}"] = "not_read"
        if not read:
            self.note("hashes", "trust.no_data_groups", "no data group was read")
            return
        algorithm = sod.hash_algorithm
        try:
            compute_digest(algorithm, b"")
        except UnsupportedAlgorithm as exc:
            self.fail("hash_algorithm", UNSUPPORTED_ALGORITHM, exc.detail)
            return
        for n, name in read:
            dg = f"DG{n}"
            expected = sod.data_group_hashes.get(n)
            if expected is None:
                self.data_groups[dg] = "not_in_sod"
                self.fail(f"hash.{dg}", "trust.hash_missing",
                          f"{dg} was read but the SOD has no hash for it", dg=dg)
                continue
            actual = compute_digest(algorithm, self.files[name])
            if actual != expected:
                self.data_groups[dg] = "mismatch"
                self.fail(f"hash.{dg}", "trust.hash_mismatch",
                          f"{hash_label(algorithm)} of {dg} is {actual.hex()}, "
                          f"the SOD says {expected.hex()}", dg=dg)
            else:
                self.data_groups[dg] = "match"
                self.ok(f"hash.{dg}", f"{hash_label(algorithm)} {actual.hex()}", dg=dg)

    def check_signer(self, sod: Sod) -> None:
        if len(sod.signers) != 1:
            self.fail("signer_info", "trust.sod_malformed",
                      f"{len(sod.signers)} SignerInfos; ICAO 9303-10 requires exactly one")
        signer_info = sod.signers[0]
        if signer_info.signed_attributes is None:
            self.note("signed_attributes", "trust.no_signed_attributes",
                      "no signed attributes: the signature covers the content directly")
        cert = sod.signer_certificate(signer_info)
        if cert is None:
            self.fail("signer_certificate", "trust.signer_certificate_missing",
                      f"the SOD does not carry the certificate of {signer_info.describe_sid()}")
            return
        self.signer = cert
        for finding in verify_signer(sod.signed_data, signer_info, cert):
            if finding.name == "signature":
                self.signature_algorithm = finding.algorithm or None
            if finding.ok:
                self.ok(finding.name, finding.algorithm)
            else:
                self.fail(finding.name, finding.reason or "trust.signature_invalid",
                          finding.detail)
        start, end = self.signing_window(sod)
        self.check_signer_certificate(cert, start, end)
        self.check_chain(cert, start, end)

    def signing_window(self, sod: Sod) -> tuple[datetime, datetime]:
        when = sod.signing_time
        if when is not None:
            self.time_basis = "signing_time"
            if when > self.now + timedelta(days=1):
                self.note("signing_time", "trust.signing_time_future",
                          f"signingTime {when.isoformat()} is after now ({self.now.isoformat()})",
                          date=_dmy(when))
            else:
                self.ok("signing_time", f"signingTime {when.isoformat()}", date=_dmy(when))
            return when, when
        if self.issue_date is not None:
            self.time_basis = "issue_date"
            start = datetime.combine(self.issue_date, time(0), tzinfo=VIETNAM)
            self.note("signing_time", "trust.signing_time_from_issue_date",
                      f"no signingTime; the issue date {self.issue_date.isoformat()} is used",
                      date=self.issue_date.strftime("%d/%m/%Y"))
            return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)
        self.time_basis = "now"
        self.note("signing_time", "trust.signing_time_unknown",
                  "no signingTime and no issue date: validity is checked now",
                  date=_dmy(self.now))
        return self.now, self.now

    def check_signer_certificate(self, cert: Certificate, start: datetime, end: datetime) -> None:
        validity = f"{cert.not_before.isoformat()} → {cert.not_after.isoformat()}"
        if end < cert.not_before:
            self.fail("signer_validity", "trust.signer_not_yet_valid",
                      f"signed {start.isoformat()}, DS valid {validity}",
                      date=_dmy(start), not_before=_dmy(cert.not_before))
        elif start > cert.not_after:
            self.fail("signer_validity", "trust.signer_expired",
                      f"signed {start.isoformat()}, DS valid {validity}",
                      date=_dmy(start), not_after=_dmy(cert.not_after))
        else:
            self.ok("signer_validity", validity)
        if cert.key_usage is not None and "digital_signature" not in cert.key_usage:
            self.fail("signer_usage", "trust.certificate_usage",
                      f"DS keyUsage {sorted(cert.key_usage)} lacks digitalSignature")

    def check_chain(self, ds: Certificate, start: datetime, end: datetime) -> None:
        store = self.store
        if store is None or not store.anchors:
            self.untrusted_signer(ds, "no CSCA in the trust store")
            return
        named = store.issuers_named(ds.issuer_id)
        if not named:
            self.untrusted_signer(ds, f"no CSCA named {ds.issuer} in the trust store")
            return
        aki = ds.authority_key_identifier
        candidates = [a for a in named if a.certificate.may_hold_key(aki)]
        if not candidates:
            self.untrusted_signer(
                ds, f"the trust store's CSCA {ds.issuer} has another key "
                    f"(the DS names key {aki.hex() if aki else '?'})")
            return
        verdicts = []
        for anchor in candidates:
            verdict = anchor.certificate.issued(ds)
            if verdict.ok:
                self.anchor = anchor
                origin = (f", from master list {anchor.master_list}"
                          if anchor.master_list else "")
                self.ok("chain", f"issued by {anchor.certificate.subject} "
                                 f"({anchor.source}{origin})",
                        csca=anchor.certificate.subject)
                self.check_csca(anchor.certificate, start, end)
                self.check_revocation(ds, anchor.certificate)
                return
            verdicts.append(verdict)
        if all(v.unsupported for v in verdicts):
            self.fail("chain", UNSUPPORTED_ALGORITHM, verdicts[0].detail)
        else:
            detail = next(v.detail for v in verdicts if not v.unsupported)
            self.fail("chain", "trust.chain_signature_invalid",
                      f"the DS certificate names {ds.issuer} as issuer, but that CSCA's key "
                      f"does not verify it ({detail})", csca=ds.issuer)

    def untrusted_signer(self, ds: Certificate, detail: str) -> None:
        self.fail("chain", "trust.untrusted_signer", detail, issuer=ds.issuer)

    def check_csca(self, csca: Certificate, start: datetime, end: datetime) -> None:
        validity = f"{csca.not_before.isoformat()} → {csca.not_after.isoformat()}"
        if not csca.valid_during(start, end):
            self.fail("csca_validity", "trust.csca_not_valid",
                      f"signed {start.isoformat()}, CSCA valid {validity}",
                      date=_dmy(start), csca=csca.subject)
        else:
            self.ok("csca_validity", validity)
        if csca.is_ca is False or (csca.key_usage is not None
                                   and "key_cert_sign" not in csca.key_usage):
            self.fail("csca_usage", "trust.certificate_usage",
                      f"CSCA basicConstraints cA={csca.is_ca}, keyUsage "
                      f"{sorted(csca.key_usage or ())}")

    def check_revocation(self, ds: Certificate, csca: Certificate) -> None:
        assert self.store is not None
        crls = self.store.crls_for(ds.issuer_id)
        if not crls:
            self.note("revocation", "trust.no_crl", f"no CRL of {ds.issuer} in the trust store")
            return
        revoked = False
        for crl in crls:
            if ds.serial in crl.revoked:
                when = crl.revoked[ds.serial]
                revoked = True
                self.fail("revocation", "trust.revoked",
                          f"the DS certificate (serial {ds.serial:X}) is on the CRL {crl.source}"
                          f" since {when.isoformat() if when else '?'}",
                          date=_dmy(when) if when else "?")
        for crl in self.store.crls_for(csca.issuer_id):
            if csca.serial in crl.revoked:
                revoked = True
                self.fail("revocation", "trust.revoked",
                          f"the CSCA certificate (serial {csca.serial:X}) is on the CRL "
                          f"{crl.source}")
        if revoked:
            return
        newest = max(crls, key=lambda c: c.this_update)
        if all(c.stale_at(self.now) for c in crls):
            self.note("revocation", "trust.crl_outdated",
                      f"not revoked, but the newest CRL ({newest.source}) expired "
                      f"{newest.next_update.isoformat() if newest.next_update else '?'}",
                      date=_dmy(newest.next_update) if newest.next_update else "?")
        else:
            self.ok("revocation", f"not on the CRL {newest.source} of "
                                  f"{newest.this_update.isoformat()}")


def _dmy(when: datetime) -> str:
    return when.astimezone(VIETNAM).strftime("%d/%m/%Y")

