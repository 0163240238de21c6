"""Card-side secure messaging (ICAO Doc 9303-11 §9.8): unwrap commands, wrap responses.

Even INS carry data in DO'87' (padding indicator 01 ‖ cryptogram); odd INS (READ BINARY B1)
carry BER-TLV data in DO'85' (cryptogram only). Le travels in DO'97', the checksum in DO'8E'.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from .ber import BerError, encode_length, read_all, tlv
from .command import CommandApdu
from .sm_crypto import SmCipherSuite, pad, unpad

MAC_LENGTH = 8


class SmError(Exception):
    """The protected command is malformed or its checksum is wrong: the session must end."""


@dataclass
class SmSession:
    suite: SmCipherSuite
    ssc: int

    def ssc_bytes(self) -> bytes:
        return self.ssc.to_bytes(self.suite.ssc_length, "big")

    def _next_ssc(self) -> bytes:
        self.ssc = (self.ssc + 1) % (1 << (8 * self.suite.ssc_length))
        return self.ssc_bytes()

    def unwrap(self, cmd: CommandApdu) -> CommandApdu:
        """Verify and decrypt a protected command; the result has CLA 00 and the real Le."""
        try:
            dos = read_all(cmd.data)
        except BerError as exc:
            raise SmError(f"bad data objects: {exc}") from exc
        if not dos or dos[-1][0] != 0x8E:
            raise SmError("DO'8E' missing or not last")
        odd = bool(cmd.ins & 1)
        data_tag = 0x85 if odd else 0x87
        body = dos[:-1]
        allowed_order = [t for t in (data_tag, 0x97) if any(d[0] == t for d in body)]
        if [d[0] for d in body] != allowed_order:
            raise SmError("unexpected or misplaced data objects")
        bs = self.suite.block_size
        ssc = self._next_ssc()
        mac_input = ssc + pad(cmd.header, bs) + b"".join(raw for _, _, raw in body)
        if not hmac.compare_digest(self.suite.mac(mac_input), dos[-1][1]):
            raise SmError("checksum")
        fields = {tag: value for tag, value, _ in body}
        return CommandApdu(
            cmd.cla & 0xF3,
            cmd.ins,
            cmd.p1,
            cmd.p2,
            self._decrypt(fields.get(data_tag), ssc, odd),
            ne=_le(fields.get(0x97)),
            extended=cmd.extended,
        )

    def _decrypt(self, value: bytes | None, ssc: bytes, odd: bool) -> bytes:
        if value is None:
            return b""
        if not odd:
            if not value or value[0] != 0x01:
                raise SmError("padding-content indicator is not 01")
            value = value[1:]
        bs = self.suite.block_size
        if not value or len(value) % bs:
            raise SmError("cryptogram is not whole blocks")
        try:
            return unpad(self.suite.decrypt(value, ssc), bs)
        except ValueError as exc:
            raise SmError("padding") from exc

    def wrapped_size(self, data_length: int, *, odd: bool) -> int:
        """Length of the response data field :meth:`wrap` would build (SW not included)."""
        size = 4 + 2 + MAC_LENGTH  # DO'99' and DO'8E'
        if data_length:
            bs = self.suite.block_size
            value = (data_length // bs + 1) * bs + (0 if odd else 1)
            size += 1 + len(encode_length(value)) + value
        return size

    def wrap(self, data: bytes, sw: int, *, odd: bool) -> bytes:
        """Protect a response: [DO'87'/'85'] ‖ DO'99' ‖ DO'8E' (the caller appends the SW)."""
        ssc = self._next_ssc()
        out = b""
        if data:
            cryptogram = self.suite.encrypt(pad(data, self.suite.block_size), ssc)
            out = tlv(0x85, cryptogram) if odd else tlv(0x87, b"\x01" + cryptogram)
        out += tlv(0x99, sw.to_bytes(2, "big"))
        return out + tlv(0x8E, self.suite.mac(ssc + out))


def _le(value: bytes | None) -> int | None:
    if value is None or value == b"":
        return None
    if len(value) == 1:
        return value[0] or 256
    if len(value) == 2:
        return int.from_bytes(value, "big") or 65536
    raise SmError("DO'97' longer than 2 bytes")
