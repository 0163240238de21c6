"""Reading a whole card through pcscd.

1. Block strategy: ours against fixed 0xDF-byte blocks. Each read opens the card with BAC and
   reads EF.COM, DG1, DG13, DG2, DG14, DG15 and EF.SOD. Two chips: one with extended length
   (advertised in its ATR), one without.
2. Access: a full check-in read with all three checks — PACE-CAN against BAC — chip
   authentication, active authentication and passive authentication (against the test CSCA).

The virtual CCCD is put on pcscd's vpcd reader in this process.

    .venv/bin/python bench/read_card.py [--quick] [--reps N] [--profile NAME]

Prints one line per figure, then one JSON line (metric, unit, ours, baseline, ratio, results).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from reader.files import ReadStrategy
from reader.keys import BacKey, Can
from reader.session import read_card
from reader.transport import PcscContext, PcscTransport
from reader.trust.policy import Policy, Verdict
from reader.trust.report import assess
from reader.trust.store import TrustStore
from reader.virtual import VirtualCccd, VpcdConnection, load_profile
from reader.virtual.pki import test_csca_pem

READER = "Virtual PCD 00 00"
CHIPS = {
    "extended": {"extended_length": True, "advertise_extended": True},
    "short": {"extended_length": False, "advertise_extended": False},
}
STRATEGIES = {"ours": ReadStrategy(), "baseline": ReadStrategy.baseline()}
TODAY = date(2026, 11, 28)


def wait_present(present: bool, timeout: float = 10.0) -> None:
    with PcscContext() as ctx:
        if not ctx.wait_presence(READER, present, timeout):
            raise SystemExit(f"pcscd did not see the card {'arrive' if present else 'go'}")


@contextmanager
def card_on_reader(profile_name: str, chip: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    profile = load_profile(profile_name)
    profile = dataclasses.replace(profile, chip=dataclasses.replace(profile.chip, **chip))
    card = VirtualCccd(profile)
    wait_present(False)
    link = VpcdConnection(card)
    link.start()
    try:
        wait_present(True)
        transport = PcscTransport.open(READER, wait=5)
        try:
            yield card, transport
        finally:
            transport.close()
    finally:
        link.stop()


def bench_access(profile_name: str, reps: int) -> dict[str, dict[str, Any]]:
    """Full read with PA + AA + CA, opened with PACE-CAN or with BAC."""
    store = TrustStore.from_files({"csca.pem": test_csca_pem()})
    policy = Policy()
    out: dict[str, dict[str, Any]] = {}
    for name, chip in (("PACE", {}), ("BAC", {"pace": False})):
        with card_on_reader(profile_name, chip) as (card, transport):
            access = card.access_data()
            keys = [Can(access["can"])] if name == "PACE" else [BacKey.from_mrz(access["mrz"])]
            times, pa_times = [], []
            for _ in range(reps):
                t0 = time.perf_counter()
                result = read_card(transport, keys)
                t1 = time.perf_counter()
                report = assess(result, store, policy, today=TODAY)
                t2 = time.perf_counter()
                if report.verdict.level is not Verdict.TRUSTED or result.access != name:
                    raise SystemExit(f"{name}: expected a trusted card, got {report.to_dict()}")
                times.append(t2 - t0)
                pa_times.append(t2 - t1)
            stats = result.stats
            opened = stats.seconds - sum(stats.file_seconds.values())
            out[name] = {
                "apdus": stats.apdus,
                "median_ms": statistics.median(times) * 1000,
                "open_ms": opened * 1000,
                "ca_ms": stats.file_seconds.get("CA", 0) * 1000,
                "aa_ms": stats.file_seconds.get("AA", 0) * 1000,
                "pa_ms": statistics.median(pa_times) * 1000,
            }
    return out


def bench_chip(profile_name: str, chip: dict[str, Any], reps: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    with card_on_reader(profile_name, chip) as (card, transport):
        key = BacKey.from_mrz(card.access_data()["mrz"])
        for name, strategy in STRATEGIES.items():
            times, runs = [], []
            for _ in range(reps):
                t0 = time.perf_counter()
                result = read_card(transport, [key], strategy=strategy, use_pace=False,
                                   authenticate=False)
                times.append(time.perf_counter() - t0)
                runs.append(result)
                if result.portrait is None or result.files["DG2"] != card.files["DG2"]:
                    raise SystemExit("read returned the wrong portrait")
            last = runs[-1].stats
            out[name] = {
                "apdus": last.apdus,
                "dg2_apdus": last.file_apdus["DG2"],
                "bytes": last.bytes_in + last.bytes_out,
                "median_ms": statistics.median(times) * 1000,
                "dg2_bytes": len(card.files["DG2"]),
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 reads per case (under a minute)")
    parser.add_argument("--reps", type=int, default=None, help="reads per case (default 30)")
    parser.add_argument("--profile", default="nguyen-van-an", help="virtual card profile")
    args = parser.parse_args()
    reps = args.reps or (5 if args.quick else 30)

    results: list[dict[str, Any]] = []
    headline: dict[str, Any] = {}
    for chip_name, chip in CHIPS.items():
        figures = bench_chip(args.profile, chip, reps)
        ours, base = figures["ours"], figures["baseline"]
        print(f"{chip_name:9s} DG2 {ours['dg2_bytes']} B, {reps} reads through pcscd:")
        for label, key, unit in (("APDUs per read", "apdus", ""),
                                 ("APDUs for DG2", "dg2_apdus", ""),
                                 ("bytes on the wire", "bytes", " B"),
                                 ("median time per read", "median_ms", " ms")):
            o, b = ours[key], base[key]
            ratio = b / o if o else float("inf")
            fmt = ".1f" if key == "median_ms" else ".0f"
            print(f"  {label:22s} ours {o:{fmt}}{unit:3s} baseline {b:{fmt}}{unit:3s} "
                  f"ratio {ratio:.2f}")
            results.append({"metric": f"{key}_{chip_name}", "unit": unit.strip() or "count",
                            "ours": round(o, 3), "baseline": round(b, 3),
                            "ratio": round(ratio, 3)})
        if chip_name == "extended":
            headline = results[0]
    access = bench_access(args.profile, reps)
    pace, bac = access["PACE"], access["BAC"]
    print(f"full read with CA + AA + PA (verdict TRUSTED), {reps} reads through pcscd:")
    for name, fig in access.items():
        print(f"  {name:4s} {fig['apdus']:3d} APDUs  median {fig['median_ms']:6.1f} ms  "
              f"(open {fig['open_ms']:.1f}, CA {fig['ca_ms']:.1f}, AA {fig['aa_ms']:.1f}, "
              f"PA {fig['pa_ms']:.1f} ms)")
    for key, unit in (("apdus", "count"), ("median_ms", "ms")):
        ratio = bac[key] / pace[key] if pace[key] else float("inf")
        results.append({"metric": f"full_read_{key}_pace_vs_bac", "unit": unit,
                        "ours": round(pace[key], 3), "baseline": round(bac[key], 3),
                        "ratio": round(ratio, 3), "note": "ours = PACE-CAN, baseline = BAC"})
    print(json.dumps({
        "metric": "apdus_per_read_extended",
        "unit": "count",
        "ours": headline["ours"],
        "baseline": headline["baseline"],
        "ratio": headline["ratio"],
        "reps": reps,
        "profile": args.profile,
        "results": results,
    }))


if __name__ == "__main__":
    main()
