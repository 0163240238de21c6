"""``python -m reader.virtual [PROFILE] [--slot N]``: present a virtual CCCD to pcscd."""

from __future__ import annotations

import argparse
import json

from .applet import VirtualCccd
from .profile import list_profiles, load_profile
from .vpcd import DEFAULT_PORT, VpcdConnection


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reader.virtual", description=__doc__)
    parser.add_argument("profile", nargs="?", default="nguyen-van-an", help="name or TOML path")
    parser.add_argument("--slot", type=int, default=0, choices=(0, 1), help="vpcd slot")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--list", action="store_true", help="list the shipped profiles")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(list_profiles()))
        return 0
    card = VirtualCccd(load_profile(args.profile))
    print(json.dumps(card.access_data(), ensure_ascii=False, indent=2), flush=True)
    link = VpcdConnection(card, args.host, DEFAULT_PORT + args.slot)
    link.serve_forever()
    if link.error is not None:
        print(f"link closed: {link.error!r}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
