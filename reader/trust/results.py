"""The outcome of one chip check (active or chip authentication)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CheckStatus(StrEnum):
    PASSED = "PASSED"
    FAILED = "FAILED"  # the chip could not prove it holds the key: a clone
    NOT_SUPPORTED = "NOT_SUPPORTED"  # the card does not offer the check
    NOT_RUN = "NOT_RUN"  # not asked for, or impossible (e.g. the file was not read)
    ERROR = "ERROR"  # the check could not finish (malformed data, card error)


@dataclass(frozen=True)
class AuthResult:
    status: CheckStatus
    reason: str = ""  # message key, e.g. "trust.aa_signature_invalid"
    detail: str = ""
    algorithm: str = ""

    @property
    def passed(self) -> bool:
        return self.status is CheckStatus.PASSED

    def to_dict(self) -> dict[str, str]:
        return {"status": self.status.value, "reason": self.reason, "detail": self.detail,
                "algorithm": self.algorithm}
