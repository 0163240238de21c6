"""The centre's trust files — the CSCA store and the trust policy — and the assessment of a card
against them, the same for the command line and the desk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from examdesk.paths import config_dir, trust_dir
from examdesk.timezone import VIETNAM
from reader.errors import MalformedData
from reader.session import CardRead
from reader.trust.policy import Policy, PolicyError
from reader.trust.report import TrustReport, assess
from reader.trust.store import TrustStore

POLICY_FILE = "trust-policy.toml"


@dataclass(frozen=True)
class TrustFiles:
    """The CSCA trust store and the trust policy, read again for every card (an import done
    meanwhile counts at once; both are small)."""

    trust_dir: Path
    policy_file: Path

    @classmethod
    def user(cls, policy_file: Path | None = None) -> TrustFiles:
        """This computer's files (``EXAMDESK_HOME`` or the XDG folders)."""
        return cls(trust_dir(), policy_file or config_dir() / POLICY_FILE)

    def policy(self) -> Policy:
        """The trust policy; a file that is not a valid policy is a typed error with the
        bilingual message, never a bare ``ValueError`` (the desk once showed one raw)."""
        try:
            return Policy.load(self.policy_file)
        except PolicyError as exc:
            raise MalformedData(f"trust policy: {exc}", file=self.policy_file.name) from exc

    def assess(self, card: CardRead, *, today: date | None = None) -> TrustReport:
        policy = self.policy()
        store = TrustStore.load(self.trust_dir) if self.trust_dir.exists() else None
        return assess(card, store, policy, today=today or datetime.now(VIETNAM).date())
