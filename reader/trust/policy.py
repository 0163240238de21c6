"""From check results to a verdict an invigilator acts on: TRUSTED, SUSPICIOUS or FORGED.

Each check yields one *finding* ("passive.invalid", "chip.failed", "card.expired", …); a
decision table maps every finding to a verdict and the card gets the worst. The table is
configurable (a TOML file with a ``[verdicts]`` table) because the right answer depends on
what the centre can know: without the national CSCA every genuine card is only
"UNTRUSTED_SIGNER", which the default table calls suspicious rather than forged.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from .results import AuthResult, CheckStatus


class Verdict(StrEnum):
    TRUSTED = "TRUSTED"
    SUSPICIOUS = "SUSPICIOUS"
    FORGED = "FORGED"


_RANK = {Verdict.TRUSTED: 0, Verdict.SUSPICIOUS: 1, Verdict.FORGED: 2}

# finding → (default verdict, message key). Keys have Vietnamese/English text in the catalogue.
FINDINGS: dict[str, tuple[Verdict, str]] = {
    "passive.valid": (Verdict.TRUSTED, "verdict.passive_valid"),
    "passive.invalid": (Verdict.FORGED, "verdict.passive_invalid"),
    "passive.untrusted_signer": (Verdict.FORGED, "verdict.untrusted_signer"),
    "passive.no_csca": (Verdict.SUSPICIOUS, "verdict.no_csca"),
    "passive.not_run": (Verdict.SUSPICIOUS, "verdict.passive_not_run"),
    "active.passed": (Verdict.TRUSTED, "verdict.active_passed"),
    "active.failed": (Verdict.FORGED, "verdict.cloned"),
    "active.not_supported": (Verdict.SUSPICIOUS, "verdict.active_missing"),
    "active.error": (Verdict.SUSPICIOUS, "verdict.check_error"),
    "active.not_run": (Verdict.SUSPICIOUS, "verdict.active_not_run"),
    "active.unchecked": (Verdict.SUSPICIOUS, "verdict.active_unchecked"),
    "chip.passed": (Verdict.TRUSTED, "verdict.chip_passed"),
    "chip.failed": (Verdict.FORGED, "verdict.cloned"),
    "chip.not_supported": (Verdict.SUSPICIOUS, "verdict.chip_missing"),
    "chip.error": (Verdict.SUSPICIOUS, "verdict.check_error"),
    "chip.not_run": (Verdict.SUSPICIOUS, "verdict.chip_not_run"),
    "chip.unchecked": (Verdict.SUSPICIOUS, "verdict.chip_unchecked"),
    "card.expired": (Verdict.SUSPICIOUS, "verdict.expired"),
    "data.inconsistent": (Verdict.SUSPICIOUS, "verdict.inconsistent"),
    # EF.COM (not signed) and EF.SOD (signed) disagree on the data groups: shown, then review.
    "lds.com_sod_mismatch": (Verdict.SUSPICIOUS, "verdict.com_sod_mismatch"),
    # A data group EF.SOD hashes that the chip does not have or refuses to give (other than
    # those behind Extended Access Control): the issued chip has every group its SOD signs.
    "lds.signed_group_unreadable": (Verdict.FORGED, "verdict.signed_group_unreadable"),
}

# Data groups an inspection terminal without Extended Access Control cannot read (fingerprints,
# iris: ICAO 9303-11 §7, BSI TR-03110): refused by every genuine chip, so never held against it.
EAC_PROTECTED = frozenset({3, 4})


class PolicyError(ValueError):
    pass


@dataclass(frozen=True)
class Finding:
    name: str
    verdict: Verdict
    message: str  # message key
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"finding": self.name, "verdict": self.verdict.value, "message": self.message,
                "detail": self.detail}


@dataclass(frozen=True)
class TrustVerdict:
    level: Verdict
    """The card's verdict: the worst of its findings' (``level``, so that a report's verdict is
    ``report.verdict.level``, never ``report.verdict.verdict``)."""
    findings: tuple[Finding, ...]

    @property
    def reasons(self) -> tuple[Finding, ...]:
        """The findings that made the verdict what it is (the worst ones)."""
        return tuple(f for f in self.findings if f.verdict is self.level
                     and self.level is not Verdict.TRUSTED)

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.level.value,
                "reasons": [f.to_dict() for f in self.reasons],
                "findings": [f.to_dict() for f in self.findings]}


@dataclass(frozen=True)
class Policy:
    table: Mapping[str, Verdict] = field(
        default_factory=lambda: {k: v for k, (v, _) in FINDINGS.items()})
    eac_protected: frozenset[int] = EAC_PROTECTED

    @classmethod
    def load(cls, path: Path | None) -> Policy:
        """The default table, overridden by ``[verdicts]`` in ``path`` when it exists."""
        table = {k: v for k, (v, _) in FINDINGS.items()}
        if path is None or not path.exists():
            return cls(table)
        try:
            raw = tomllib.loads(path.read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise PolicyError(f"{path}: {exc}") from exc
        for name, value in raw.get("verdicts", {}).items():
            if name not in FINDINGS:
                raise PolicyError(f"{path}: unknown finding {name!r}")
            try:
                table[name] = Verdict(str(value).upper())
            except ValueError as exc:
                raise PolicyError(f"{path}: {name} = {value!r} is not a verdict") from exc
        eac = raw.get("eac_protected", sorted(EAC_PROTECTED))
        if not isinstance(eac, list) or not all(
                isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 16 for n in eac):
            raise PolicyError(f"{path}: eac_protected lists data group numbers 1..16")
        return cls(table, frozenset(eac))

    def finding(self, name: str, detail: str = "") -> Finding:
        return Finding(name, self.table[name], FINDINGS[name][1], detail)

    def decide(
        self,
        *,
        passive_status: str | None,
        passive_detail: str = "",
        store_has_csca: bool,
        active: AuthResult,
        chip: AuthResult,
        expired: bool,
        inconsistent: tuple[str, ...] = (),
        com_groups: tuple[int, ...] | None = None,
        signed_groups: tuple[int, ...] | None = None,
        unreadable: tuple[int, ...] = (),
    ) -> TrustVerdict:
        """``com_groups`` / ``signed_groups``: the data groups EF.COM lists and EF.SOD hashes
        (None: unknown); ``unreadable``: groups the chip did not have or refused."""
        findings: list[Finding] = []
        if passive_status is None:
            findings.append(self.finding("passive.not_run"))
        elif passive_status == "VALID":
            findings.append(self.finding("passive.valid"))
        elif passive_status == "UNTRUSTED_SIGNER":
            name = "passive.untrusted_signer" if store_has_csca else "passive.no_csca"
            findings.append(self.finding(name, passive_detail))
        else:
            findings.append(self.finding("passive.invalid", passive_detail))
        for prefix, result in (("active", active), ("chip", chip)):
            status = {CheckStatus.PASSED: "passed", CheckStatus.FAILED: "failed",
                      CheckStatus.NOT_SUPPORTED: "not_supported", CheckStatus.ERROR: "error",
                      CheckStatus.NOT_RUN: "not_run",
                      CheckStatus.UNCHECKED: "unchecked"}[result.status]
            findings.append(self.finding(f"{prefix}.{status}", result.detail))
        if expired:
            findings.append(self.finding("card.expired"))
        if inconsistent:
            findings.append(self.finding("data.inconsistent", ", ".join(inconsistent)))
        if com_groups is not None and signed_groups is not None:
            com_only = sorted(set(com_groups) - set(signed_groups))
            sod_only = sorted(set(signed_groups) - set(com_groups))
            if com_only or sod_only:
                findings.append(self.finding("lds.com_sod_mismatch", _mismatch(com_only, sod_only)))
        if signed_groups is not None:
            lost = sorted(set(unreadable) & set(signed_groups) - self.eac_protected)
            if lost:
                findings.append(self.finding("lds.signed_group_unreadable", _groups(lost)))
        worst = max((f.verdict for f in findings), key=_RANK.__getitem__)
        return TrustVerdict(worst, tuple(findings))


def _groups(numbers: list[int]) -> str:
    return ", ".join(f"DG{n}" for n in numbers)


def _mismatch(com_only: list[int], sod_only: list[int]) -> str:
    parts = []
    if com_only:
        parts.append(f"EF.COM: {_groups(com_only)}")
    if sod_only:
        parts.append(f"EF.SOD: {_groups(sod_only)}")
    return "; ".join(parts)
