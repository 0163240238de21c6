"""The answer-to-reset a PC/SC reader reports for a contactless ISO 14443-4 card."""

from __future__ import annotations

from functools import reduce

# Card capabilities (ISO/IEC 7816-4 §8.1.1.2.7): first software function table = selection by
# full DF name (80) and by file identifier (10), short EF identifiers supported (04); data coding
# byte 01 = one-byte data units; third byte b7 (40) = extended Lc and Le fields.
_SELECTION_METHODS = 0x94
_DATA_CODING = 0x01
_EXTENDED_LENGTH = 0x40


def build_atr(advertise_extended: bool | None) -> bytes:
    """``3B 8n 80 01 <historical bytes> TCK`` (PC/SC part 3 for contactless cards).

    ``None`` leaves out the card-capabilities object, so a reader cannot tell whether the card
    takes extended-length APDUs.
    """
    historical = bytes([0x80])  # category indicator: compact-TLV objects follow
    if advertise_extended is not None:
        third = _EXTENDED_LENGTH if advertise_extended else 0x00
        historical += bytes([0x73, _SELECTION_METHODS, _DATA_CODING, third])
    # T0 = TD1 present + number of historical bytes; TD1 = T=0, TD2 present; TD2 = T=1.
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = reduce(lambda a, b: a ^ b, body, 0)
    return b"\x3b" + body + bytes([tck])
