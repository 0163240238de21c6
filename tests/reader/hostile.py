"""Hostile virtual cards: the genuine test card with some of its files replaced, served by the
real virtual chip (reader/virtual) over the loopback transport, and the DER pieces to build them."""

from __future__ import annotations

import functools
from typing import Any

from reader import tlv
from reader.keys import BacKey
from reader.security_infos import encode_oid
from reader.session import CardRead, read_card
from reader.transport import LoopbackTransport
from reader.virtual import BuiltLds, CardProfile, build_lds, load_profile
from reader.virtual.applet import EmrtdApplet


def seq(*parts: bytes) -> bytes:
    return tlv.encode(0x30, b"".join(parts))


def integer(n: int) -> bytes:
    return tlv.encode(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big", signed=True))


def oid(dotted: str) -> bytes:
    return tlv.encode(0x06, encode_oid(dotted))


def long_arc_oid(arc_bytes: int) -> bytes:
    """1.2.<an arc of ``arc_bytes`` base-128 digits>."""
    return tlv.encode(0x06, b"\x2a" + b"\x81" * (arc_bytes - 1) + b"\x01")


@functools.cache
def profile() -> CardProfile:
    return load_profile("nguyen-van-an")


@functools.cache
def genuine() -> BuiltLds:
    return build_lds(profile())


class CountingCard(EmrtdApplet):
    """The virtual chip, counting the commands a test cares about."""

    def __init__(self, files: dict[str, bytes]) -> None:
        built = genuine()
        super().__init__(files, profile().mrz_information, can=profile().holder.can,
                         keys=built.keys, chip=profile().chip)
        self.internal_authenticates = 0
        self.chip_authentications = 0  # MSE:Set AT/KAT for CA, and GENERAL AUTHENTICATE

    def process(self, apdu: bytes) -> bytes:
        ins = apdu[1] if len(apdu) > 1 else -1
        if ins == 0x88:
            self.internal_authenticates += 1
        # Only under BAC (use_pace=False): PACE sends GENERAL AUTHENTICATE too.
        if ins == 0x86 or (ins == 0x22 and len(apdu) > 3 and apdu[3] in (0xA4, 0xA6)):
            self.chip_authentications += 1
        return super().process(apdu)


def hostile(**files: bytes) -> CountingCard:
    """The genuine card with some files replaced (``EF_CardAccess`` for ``EF.CardAccess``)."""
    contents = dict(genuine().files)
    contents.update({name.replace("_", "."): data for name, data in files.items()})
    return CountingCard(contents)


def read(card: EmrtdApplet, **kwargs: Any) -> CardRead:
    key = BacKey.from_mrz(profile().access_data()["mrz"])
    return read_card(LoopbackTransport(card), [key], **kwargs)
