"""One case of the response-limit sweep (issue 11, 2b): a profile's card behind a chip buffer
or a reader limit, read and judged. Shared by tests/reader/test_response_limits_loopback.py
(a chosen set of limits) and scripts/response_limit_sweep.py (every limit, 32..65536)."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from reader.errors import ReaderError
from reader.keys import BacKey, Can
from reader.session import read_card
from reader.transport import LoopbackTransport
from reader.trust.policy import Policy, Verdict
from reader.trust.report import assess
from reader.trust.results import CheckStatus
from reader.virtual import VirtualCccd

from .cards import built, load_profile, store

TODAY = date(2026, 12, 3)
CLONES = ("attack-clone", "attack-clone-claims-too-long")
# pham-thi-hong is the strict chip (no answer over 256 bytes to a short command, no 61xx); the
# same chip as real CCCDs behave is swept too: RSA-2048 signatures are the longest answers.
REAL_RSA = "pham-thi-hong+real"
VARIANTS = {REAL_RSA: ("pham-thi-hong", {"strict_short_response": False,
                                         "response_chaining": True})}
MODES = ("chip-extended", "chip-short", "reader")
OK, UNREADABLE = "ok", "unreadable"




def make(name: str, **chip: Any) -> VirtualCccd:
    """The profile's card (or a VARIANTS chip) with chip settings changed."""
    base, extra = VARIANTS.get(name, (name, {}))
    profile = load_profile(base)
    settings = {**extra, **chip}
    if settings:
        profile = dataclasses.replace(profile, chip=dataclasses.replace(profile.chip, **settings))
    return VirtualCccd(profile, lds=built(base))


def one(name: str, mode: str, limit: int) -> str:
    """OK, UNREADABLE (no verdict at all, so never a wrong one), or what went wrong: a genuine
    card FORGED or a check FAILED, a clone TRUSTED or a check PASSED."""
    if mode == "reader":
        card = make(name)
        transport = LoopbackTransport(card, max_response=limit + 2)  # + SW
    else:
        extended = mode == "chip-extended"
        card = make(name, max_response=min(limit, 65533), extended_length=extended,
                    advertise_extended=extended)
        transport = LoopbackTransport(card)
    access = card.access_data()
    try:
        # DG2 and DG13 are left out to keep the sweep cheap: reading them at every block size
        # is test_session_loopback's business. The trust checks read DG14, DG15 and EF.SOD.
        result = read_card(transport, [Can(access["can"]), BacKey.from_mrz(access["mrz"])],
                           files=("DG1", "EF.SOD"))
    except ReaderError:
        return UNREADABLE
    verdict = assess(result, store(), Policy(), today=TODAY).verdict.level
    checks = {result.active.status, result.chip.status}
    if name in CLONES:
        if verdict is Verdict.TRUSTED or CheckStatus.PASSED in checks:
            return f"clone {verdict.value} (AA {result.active.status}, CA {result.chip.status})"
    elif verdict is Verdict.FORGED or CheckStatus.FAILED in checks:
        return (f"genuine {verdict.value} (AA {result.active.status}: {result.active.detail}; "
                f"CA {result.chip.status}: {result.chip.detail})")
    return OK
