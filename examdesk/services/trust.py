"""The centre's trust files — the CSCA store and the trust policy — and the assessment of a card
against them: one home for the command line (`card read --verify`, `checkin`) and the desk.

Both files are read again for every card: an import done meanwhile counts at once, and both
are small.
"""

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
    """Where the centre's trust files are: the CSCA store folder and the policy file."""

    trust_dir: Path
    policy_file: Path

    @classmethod
    def user(cls, policy_file: Path | None = None) -> TrustFiles:
        """This computer's files (``EXAMDESK_HOME`` or the XDG folders); ``policy_file``
        instead of the settings' one (``--policy``)."""
        return cls(trust_dir(), policy_file or config_dir() / POLICY_FILE)

    def policy(self) -> Policy:
        """The trust policy (the default table when the file does not exist). A file that
        cannot be read or holds an unknown finding or verdict is the typed card error
        ``MalformedData`` with the file's problem as detail — never a bare ``PolicyError`` (the
        desk once showed one raw) — as the command line always said."""
        try:
            return Policy.load(self.policy_file)
        except PolicyError as exc:
            raise MalformedData(f"trust policy: {exc}", file=self.policy_file.name) from exc

    def store(self) -> TrustStore | None:
        """The CSCA store; None when the centre never imported one (the verdict then says the
        chip's issuer is unknown, rather than failing)."""
        return TrustStore.load(self.trust_dir) if self.trust_dir.exists() else None

    def assess(self, card: CardRead, *, today: date | None = None) -> TrustReport:
        """The trust report of ``card`` read on ``today`` (Vietnam's date: the expiry check)."""
        policy = self.policy()
        return assess(card, self.store(), policy, today=today or datetime.now(VIETNAM).date())
