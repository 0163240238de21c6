#!/usr/bin/env python3
"""Every response limit from 32 to 65 536 bytes on every card profile (issue 11, item 2b).

Each case reads a virtual card through the in-process loopback with one limit: on the chip (its
I/O buffer, with extended length and without) or on the reader (it cannot carry a longer
answer), with all the chip checks, then asks the trust policy for a verdict. A genuine chip must
never come out FORGED nor any of its checks FAILED; a clone must never come out TRUSTED. A case
where nothing could be read (a typed reader error) gives no verdict, so it cannot be wrong; it
is counted as "unreadable".

The unit tests (tests/reader/test_response_limits_loopback.py) sweep the sizes where something
changes; this sweeps them all, which takes hours on two cores:

    .venv/bin/python scripts/response_limit_sweep.py                  # 32..65536, everything
    .venv/bin/python scripts/response_limit_sweep.py --quick          # ~40 sizes, ~1 minute
    .venv/bin/python scripts/response_limit_sweep.py --from 32 --to 400 --mode reader

Prints a line per failure and per profile, then one JSON line; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
import time
from collections import Counter
from datetime import date
from typing import Any

from reader.errors import ReaderError
from reader.keys import BacKey, Can
from reader.session import read_card
from reader.transport import LoopbackTransport
from reader.trust.policy import Policy, Verdict
from reader.trust.report import assess
from reader.trust.results import CheckStatus
from reader.trust.store import TrustStore
from reader.virtual import BuiltLds, VirtualCccd, build_lds, list_profiles, load_profile
from reader.virtual.pki import test_csca_pem

TODAY = date(2026, 12, 3)
CLONES = ("attack-clone", "attack-clone-claims-too-long")
REAL_RSA = "pham-thi-hong+real"  # the strict RSA chip as real CCCDs answer
VARIANTS = {REAL_RSA: ("pham-thi-hong", {"strict_short_response": False,
                                         "response_chaining": True})}
MODES = ("chip-extended", "chip-short", "reader")


@functools.cache
def built(name: str) -> BuiltLds:
    return build_lds(load_profile(name))


@functools.cache
def store() -> TrustStore:
    return TrustStore.from_files({"csca.pem": test_csca_pem()})


def make(name: str, **chip: Any) -> VirtualCccd:
    base, extra = VARIANTS.get(name, (name, {}))
    profile = load_profile(base)
    settings = {**extra, **chip}
    if settings:
        profile = dataclasses.replace(profile, chip=dataclasses.replace(profile.chip, **settings))
    return VirtualCccd(profile, lds=built(base))


def one(name: str, mode: str, limit: int) -> str:
    """"ok", "unreadable", or what went wrong."""
    if mode == "reader":
        card = make(name)
        transport = LoopbackTransport(card, max_response=limit + 2)
    else:
        extended = mode == "chip-extended"
        card = make(name, max_response=min(limit, 65533), extended_length=extended,
                     advertise_extended=extended)
        transport = LoopbackTransport(card)
    access = card.access_data()
    try:
        result = read_card(transport, [Can(access["can"]), BacKey.from_mrz(access["mrz"])],
                           files=("DG1", "EF.SOD"))
    except ReaderError:
        return "unreadable"
    verdict = assess(result, store(), Policy(), today=TODAY).verdict.level
    checks = {result.active.status, result.chip.status}
    if name in CLONES:
        if verdict is Verdict.TRUSTED or CheckStatus.PASSED in checks:
            return f"clone {verdict.value} (AA {result.active.status}, CA {result.chip.status})"
    elif verdict is Verdict.FORGED or CheckStatus.FAILED in checks:
        return (f"genuine {verdict.value} (AA {result.active.status}: {result.active.detail}; "
                f"CA {result.chip.status}: {result.chip.detail})")
    return "ok"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="start", type=int, default=32)
    parser.add_argument("--to", dest="stop", type=int, default=65536)
    parser.add_argument("--step", type=int, default=1)
    parser.add_argument("--mode", choices=[*MODES, "all"], default="all")
    parser.add_argument("--profile", action="append", help="repeatable; default: every one")
    parser.add_argument("--quick", action="store_true",
                        help="32..300 every 31st size and every 4099th above (about a minute)")
    args = parser.parse_args()
    step = args.step
    names = args.profile or [*list_profiles(attacks=False), REAL_RSA, *CLONES]
    modes = MODES if args.mode == "all" else (args.mode,)
    if args.quick:
        limits = sorted({*range(32, 301, 31), *range(301, 65537, 4099), 65536})
    else:
        limits = sorted({*range(args.start, args.stop + 1, step), args.stop})
    started = time.perf_counter()
    outcomes: Counter[str] = Counter()
    failures = 0
    for name in names:
        per_profile: Counter[str] = Counter()
        for mode in modes:
            for limit in limits:
                outcome = one(name, mode, limit)
                kind = outcome if outcome in ("ok", "unreadable") else "FAILED"
                per_profile[kind] += 1
                if kind == "FAILED":
                    failures += 1
                    print(f"FAIL {name} {mode} {limit}: {outcome}", flush=True)
        outcomes.update(per_profile)
        print(f"{name}: {dict(per_profile)}", flush=True)
    seconds = time.perf_counter() - started
    cases = sum(outcomes.values())
    print(json.dumps({"metric": "response-limit sweep failures", "unit": "cases",
                      "ours": failures, "baseline": 0, "ratio": None, "cases": cases,
                      "outcomes": dict(outcomes), "limits": [limits[0], limits[-1], step],
                      "seconds": round(seconds, 1)}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
