"""Is this chip genuine? The trust files of this centre applied to a card that was read.

Both the CSCA trust store and the trust policy are read again for every card: an import done
meanwhile counts at once, and both are small.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from examdesk.paths import config_dir
from reader import errors
from reader.session import CardRead
from reader.trust.policy import Policy, PolicyError
from reader.trust.report import TrustReport, assess
from reader.trust.store import TrustStore

POLICY_FILE_NAME = "trust-policy.toml"


def default_policy_file() -> Path:
    """The centre's trust policy (``[verdicts]`` overriding the default table), if it made one."""
    return config_dir() / POLICY_FILE_NAME


def load_policy(policy_file: Path) -> Policy:
    """The policy in ``policy_file`` (the default table when the file does not exist); a file
    that cannot be read or holds an unknown finding or verdict is the card error
    ``MalformedData`` with the file's problem as detail, as the command line always said."""
    try:
        return Policy.load(policy_file)
    except PolicyError as exc:
        raise errors.MalformedData(f"trust policy: {exc}") from exc


def load_trust_store(trust_dir: Path) -> TrustStore | None:
    """The CSCA store in ``trust_dir``; None when the centre never imported one (the verdict
    then says the chip's issuer is unknown, rather than failing)."""
    return TrustStore.load(trust_dir) if trust_dir.exists() else None


def assess_card(card: CardRead, store: Path, policy: Path, today: date) -> TrustReport:
    """The trust report of ``card`` with the CSCA store in folder ``store`` and the policy file
    ``policy``, for a card read on ``today`` (Vietnam's date: the expiry check)."""
    return assess(card, load_trust_store(store), load_policy(policy), today=today)
