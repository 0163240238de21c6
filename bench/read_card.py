"""Reading a whole card through pcscd: our block strategy against fixed 0xDF-byte blocks.

The virtual CCCD is put on pcscd's vpcd reader in this process; each read opens the card
(SELECT, BAC) and reads EF.COM, DG1, DG13, DG2, DG14, DG15 and EF.SOD, as a check-in does.
Two chips: one with extended length (advertised in its ATR), one without.

    .venv/bin/python bench/read_card.py [--quick] [--reps N] [--profile NAME]

Prints one line per figure, then one JSON line (metric, unit, ours, baseline, ratio, results).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from typing import Any

from reader.files import ReadStrategy
from reader.keys import BacKey
from reader.session import read_card
from reader.transport import PcscContext, PcscTransport
from reader.virtual import VirtualCccd, VpcdConnection, load_profile

READER = "Virtual PCD 00 00"
CHIPS = {
    "extended": {"extended_length": True, "advertise_extended": True},
    "short": {"extended_length": False, "advertise_extended": False},
}
STRATEGIES = {"ours": ReadStrategy(), "baseline": ReadStrategy.baseline()}


def wait_present(present: bool, timeout: float = 10.0) -> None:
    ctx = PcscContext()
    try:
        deadline = time.monotonic() + timeout
        while ctx.state(READER).present != present:
            if time.monotonic() > deadline:
                raise SystemExit(f"pcscd did not see the card {'arrive' if present else 'go'}")
            time.sleep(0.02)
    finally:
        ctx.close()


def bench_chip(profile_name: str, chip: dict[str, Any], reps: int) -> dict[str, dict[str, Any]]:
    profile = load_profile(profile_name)
    profile = dataclasses.replace(profile, chip=dataclasses.replace(profile.chip, **chip))
    card = VirtualCccd(profile)
    key = BacKey.from_mrz(card.access_data()["mrz"])
    wait_present(False)
    link = VpcdConnection(card)
    link.start()
    out: dict[str, dict[str, Any]] = {}
    try:
        wait_present(True)
        transport = PcscTransport.open(READER, wait=5)
        try:
            for name, strategy in STRATEGIES.items():
                times, runs = [], []
                for _ in range(reps):
                    t0 = time.perf_counter()
                    result = read_card(transport, [key], strategy=strategy)
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
        finally:
            transport.close()
    finally:
        link.stop()
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
