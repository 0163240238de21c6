"""Secure messaging, ICAO 9303-11 §9.8: a small state machine over bytes.

``wrap`` turns a plain command into a protected one, ``unwrap`` checks a protected answer and
returns the plain one. The answer's MAC is verified before any of its data is decrypted or
returned; an answer that is not protected is never taken as success.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import tlv
from .apdu import CommandApdu, ResponseApdu
from .crypto import CipherSuite, equal, pad, unpad
from .errors import MalformedData, SecureMessagingError

MAC_LEN = 8
_OK_SWS = (0x9000, 0x6282)


class UnprotectedResponse(SecureMessagingError):
    """The card answered without secure messaging: the session is over (ICAO 9303-11 §9.8.4).

    Carries the plain status word so the caller can still tell, say, 6700 from 6988.
    """

    key = "card.secure_messaging"

    def __init__(self, sw: int) -> None:
        super().__init__(f"unprotected answer {sw:04X}", sw=f"{sw:04X}")
        self.sw = sw


def _le_bytes(le: int) -> bytes:
    # 9303-11: DO'97' holds Le as on the wire; one byte (00 = 256) or two (0000 = 65536).
    if le <= 256:
        return bytes([le & 0xFF])
    return (le & 0xFFFF).to_bytes(2, "big")


def wrapped_response_size(plain_len: int, block: int) -> int:
    """Bytes of response data a chip sends for ``plain_len`` bytes under SM (without SW)."""
    size = 4 + 2 + MAC_LEN  # DO'99' + DO'8E'
    if plain_len:
        crypto_len = 1 + (plain_len // block + 1) * block  # padding indicator + padded data
        size += 1 + len(tlv.encode_length(crypto_len)) + crypto_len
    return size


def max_plain_for_response(limit: int, block: int) -> int:
    """Largest plaintext that fits in ``limit`` bytes of protected response data."""
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if wrapped_response_size(mid, block) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


@dataclass
class SecureMessaging:
    suite: CipherSuite
    ssc: int
    broken: bool = field(default=False)

    @classmethod
    def start(cls, suite: CipherSuite, ssc: bytes) -> SecureMessaging:
        if len(ssc) != suite.block:
            raise ValueError(f"SSC must be {suite.block} bytes for {suite.name}")
        return cls(suite, int.from_bytes(ssc, "big"))

    @property
    def ssc_bytes(self) -> bytes:
        return self.ssc.to_bytes(self.suite.block, "big")

    def _next_ssc(self) -> bytes:
        self.ssc = (self.ssc + 1) % (1 << (8 * self.suite.block))
        return self.ssc_bytes

    def wrap(self, cmd: CommandApdu) -> CommandApdu:
        if self.broken:
            raise SecureMessagingError("secure messaging session is closed")
        if cmd.cla & 0x0C:
            raise ValueError("command is already protected")
        cla = cmd.cla | 0x0C
        header = bytes([cla, cmd.ins, cmd.p1, cmd.p2])
        ssc = self._next_ssc()
        body = b""
        if cmd.data:
            crypt = self.suite.encrypt(ssc, pad(cmd.data, self.suite.block))
            if cmd.ins & 1:
                body += tlv.encode(0x85, crypt)  # odd INS: BER-TLV data, no indicator
            else:
                body += tlv.encode(0x87, b"\x01" + crypt)
        if cmd.le is not None:
            body += tlv.encode(0x97, _le_bytes(cmd.le))
        mac = self.suite.mac(ssc + pad(header, self.suite.block) + body)
        body += tlv.encode(0x8E, mac)
        # Extended only when the caller wants a long answer (a READ BINARY that the block
        # sizer made extended, Le > 256) or the command is long: a chip without extended
        # length answers anything else in plain 6700 and drops secure messaging.
        extended = cmd.extended or (cmd.le is not None and cmd.le > 256) or len(body) > 255
        return CommandApdu(cla, cmd.ins, cmd.p1, cmd.p2, body, 65536 if extended else 256,
                           extended)

    def unwrap(self, raw: ResponseApdu) -> ResponseApdu:
        """Check and open a protected answer. Raises on anything that is not clean."""
        if self.broken:
            raise SecureMessagingError("secure messaging session is closed")
        ssc = self._next_ssc()
        if not raw.data:
            self.broken = True
            if raw.sw in _OK_SWS or raw.sw >> 8 == 0x61:
                raise SecureMessagingError(f"unprotected success {raw.sw:04X} is not accepted")
            raise UnprotectedResponse(raw.sw)
        try:
            objs = tlv.decode_all(raw.data)
        except MalformedData as exc:
            self.broken = True
            raise SecureMessagingError(f"protected answer is not BER-TLV: {exc}") from exc
        crypto_do: tlv.Tlv | None = None
        sw_do: tlv.Tlv | None = None
        mac_do: tlv.Tlv | None = None
        for obj in objs:
            if obj.tag in (0x85, 0x87) and crypto_do is None and sw_do is None:
                crypto_do = obj
            elif obj.tag == 0x99 and sw_do is None and mac_do is None:
                sw_do = obj
            elif obj.tag == 0x8E and mac_do is None:
                mac_do = obj
            else:
                self.broken = True
                raise SecureMessagingError(f"unexpected data object {obj.tag:X} in answer")
        if mac_do is None or sw_do is None or len(sw_do.value) != 2:
            self.broken = True
            raise SecureMessagingError("answer lacks DO'99' or DO'8E'")
        macced = b""
        if crypto_do is not None:
            macced += tlv.encode(crypto_do.tag, crypto_do.value)
        macced += tlv.encode(0x99, sw_do.value)
        if not equal(self.suite.mac(ssc + macced), mac_do.value):
            self.broken = True
            raise SecureMessagingError("answer MAC does not verify")
        sw = int.from_bytes(sw_do.value, "big")
        data = b""
        if crypto_do is not None:
            value = crypto_do.value
            if crypto_do.tag == 0x87:
                if not value or value[0] != 0x01:
                    self.broken = True
                    raise SecureMessagingError("unknown padding indicator in DO'87'")
                value = value[1:]
            try:
                data = unpad(self.suite.decrypt(ssc, value))
            except SecureMessagingError:
                self.broken = True
                raise
        return ResponseApdu(data, sw)
