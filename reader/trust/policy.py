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
}


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
    verdict: Verdict
    findings: tuple[Finding, ...]

    @property
    def reasons(self) -> tuple[Finding, ...]:
        """The findings that made the verdict what it is (the worst ones)."""
        return tuple(f for f in self.findings if f.verdict is self.verdict
                     and self.verdict is not Verdict.TRUSTED)

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict.value,
                "reasons": [f.to_dict() for f in self.reasons],
                "findings": [f.to_dict() for f in self.findings]}


@dataclass(frozen=True)
class Policy:
    table: Mapping[str, Verdict] = field(
        default_factory=lambda: {k: v for k, (v, _) in FINDINGS.items()})

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
        return cls(table)

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
    ) -> TrustVerdict:
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
        worst = max((f.verdict for f in findings), key=_RANK.__getitem__)
        return TrustVerdict(worst, tuple(findings))
