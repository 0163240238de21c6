"""What an ATR tells us about the card's length support (ISO/IEC 7816-3 and -4 §12.1.1).

For contactless cards PC/SC readers build the ATR from the ATS historical bytes
(PC/SC part 3, 3B 8n 80 01 …), so the card-capabilities byte reaches us when the chip sends it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AtrInfo:
    historical: bytes
    extended_length: bool | None  # None: the card does not say


def historical_bytes(atr: bytes) -> bytes:
    if len(atr) < 2 or atr[0] not in (0x3B, 0x3F):
        return b""
    t0 = atr[1]
    k = t0 & 0x0F
    y = t0 >> 4
    pos = 2
    while True:
        # Each interface-byte indicator says which of TA/TB/TC/TD follow.
        count = bin(y & 0x0F).count("1")
        has_td = bool(y & 0x08)
        pos += count
        if not has_td or pos - 1 >= len(atr):
            break
        y = atr[pos - 1] >> 4
    hist = atr[pos : pos + k]
    return bytes(hist) if len(hist) == k else b""


def _compact_tlv(data: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    pos = 0
    while pos < len(data):
        tag, length = data[pos] >> 4, data[pos] & 0x0F
        pos += 1
        if pos + length > len(data):
            break
        out.setdefault(tag, data[pos : pos + length])
        pos += length
    return out


def parse_atr(atr: bytes) -> AtrInfo:
    hist = historical_bytes(atr)
    ext: bool | None = None
    if hist and hist[0] in (0x00, 0x80):
        # Category 00 ends with a 3-byte status indicator that is not compact-TLV.
        body = hist[1:-3] if hist[0] == 0x00 else hist[1:]
        caps = _compact_tlv(body).get(0x7)
        if caps is not None and len(caps) >= 3:
            ext = bool(caps[2] & 0x40)
    return AtrInfo(hist, ext)
