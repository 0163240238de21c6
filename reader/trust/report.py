"""Everything the chip proved (or failed to), and the verdict: one object per card read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from .passive import PassiveResult, passive_authentication
from .policy import Policy, TrustVerdict
from .results import AuthResult
from .store import TrustStore

if TYPE_CHECKING:
    from ..session import CardRead


@dataclass(frozen=True)
class TrustReport:
    access: str
    passive: PassiveResult
    active: AuthResult
    chip: AuthResult
    expired: bool
    verdict: TrustVerdict

    def to_dict(self) -> dict[str, Any]:
        return {
            "access": self.access,
            "passive": self.passive.to_dict(),
            "active": self.active.to_dict(),
            "chip": self.chip.to_dict(),
            "expired": self.expired,
            "verdict": self.verdict.to_dict(),
        }


def card_expired(card: CardRead, today: date) -> bool:
    """DG13's expiry when the card has one (it is what is printed), else the MRZ's."""
    dg13 = card.dg13
    if dg13 is not None and (dg13.no_expiry or dg13.date_of_expiry is not None):
        return not dg13.no_expiry and dg13.date_of_expiry is not None \
            and dg13.date_of_expiry < today
    doc = card.document
    return not doc.no_expiry and doc.date_of_expiry is not None and doc.date_of_expiry < today


def _signed_groups(passive: PassiveResult) -> tuple[int, ...] | None:
    """The data groups the SOD hashes (None when it could not be parsed)."""
    if not any(c.name == "sod" and c.passed for c in passive.checks):
        return None
    return tuple(sorted(int(name[2:]) for name in passive.data_groups))


def _unreadable(warnings: tuple[str, ...]) -> tuple[int, ...]:
    """Data groups the chip did not have ("missing.DG14") or refused ("refused.DG15")."""
    out = []
    for w in warnings:
        kind, _, name = w.partition(".")
        if kind in ("missing", "refused") and name.startswith("DG") and name[2:].isdigit():
            out.append(int(name[2:]))
    return tuple(out)


def assess(
    card: CardRead,
    store: TrustStore | None,
    policy: Policy,
    *,
    today: date,
) -> TrustReport:
    """Passive authentication of what was read, then the policy over all three checks."""
    issue = card.dg13.date_of_issue if card.dg13 is not None else None
    passive = passive_authentication(card.files, store, issue_date=issue)
    expired = card_expired(card, today)
    failure = passive.reason
    verdict = policy.decide(
        passive_status=passive.status.value,
        passive_detail=failure.detail if failure is not None else "",
        store_has_csca=bool(store is not None and store.anchors),
        active=card.active,
        chip=card.chip,
        expired=expired,
        inconsistent=tuple(w for w in card.warnings if w.startswith("dg1_dg13.")),
        com_groups=card.com.data_groups,
        signed_groups=_signed_groups(passive),
        unreadable=_unreadable(card.warnings),
    )
    return TrustReport(card.access, passive, card.active, card.chip, expired, verdict)
