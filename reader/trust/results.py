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
    # Could not be completed for a reason that says nothing about the chip: the answer did not
    # fit what the reader or the chip's buffer can carry (6700, 6Cxx, a reader limit). Never a
    # verdict of cloning (issue 11, item 2b); the policy sends it to review.
    UNCHECKED = "UNCHECKED"


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
