"""A minimal terminal (the IFD half of BAC and secure messaging) for driving the virtual card.

Test-only: it shares the card's cipher primitives, which the ICAO Appendix D vectors pin down
independently, but not the card's command/response logic.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass

from reader.virtual.bac_responder import derive_bac_keys
from reader.virtual.ber import encode_length, read_all, tlv
from reader.virtual.sm_crypto import kdf_3des, pad, retail_mac, tdes_cbc_decrypt, tdes_cbc_encrypt
from reader.virtual.sm_crypto import unpad as sm_unpad

AID = bytes.fromhex("A0000002471001")


@dataclass
class Answer:
    data: bytes
    sw: int
    raw: bytes


def split(raw: bytes) -> Answer:
    return Answer(raw[:-2], int.from_bytes(raw[-2:], "big"), raw)


def short_apdu(
    cla: int,
    ins: int,
    p1: int,
    p2: int,
    data: bytes = b"",
    le: int | None = None,
    *,
    extended: bool = False,
) -> bytes:
    out = bytes([cla, ins, p1, p2])
    if extended:
        if data:
            out += b"\x00" + len(data).to_bytes(2, "big") + data
        if le is not None:
            le_bytes = (le % 65536).to_bytes(2, "big")
            out += le_bytes if data else b"\x00" + le_bytes
        return out
    if data:
        out += bytes([len(data)]) + data
    if le is not None:
        out += bytes([le % 256])
    return out


class Terminal:
    def __init__(self, card) -> None:
        self.card = card
        self.k_enc: bytes | None = None
        self.k_mac: bytes | None = None
        self.ssc = 0

    def send(self, apdu: bytes | str) -> Answer:
        raw = bytes.fromhex(apdu) if isinstance(apdu, str) else apdu
        return split(self.card.process(raw))

    def select_applet(self) -> Answer:
        return self.send(short_apdu(0x00, 0xA4, 0x04, 0x0C, AID))

    def bac(self, mrz_information: str, *, select: bool = True) -> None:
        if select:
            assert self.select_applet().sw == 0x9000
        keys = derive_bac_keys(mrz_information)
        challenge = self.send("0084000008")
        assert challenge.sw == 0x9000, hex(challenge.sw)
        rnd_ifd, k_ifd = os.urandom(8), os.urandom(16)
        e_ifd = tdes_cbc_encrypt(keys.k_enc, rnd_ifd + challenge.data + k_ifd)
        answer = self.send(
            short_apdu(0x00, 0x82, 0, 0, e_ifd + retail_mac(keys.k_mac, e_ifd), 0x28)
        )
        assert answer.sw == 0x9000, hex(answer.sw)
        e_ic, m_ic = answer.data[:32], answer.data[32:]
        assert retail_mac(keys.k_mac, e_ic) == m_ic
        plain = tdes_cbc_decrypt(keys.k_enc, e_ic)
        assert plain[:8] == challenge.data and plain[8:16] == rnd_ifd
        seed = bytes(a ^ b for a, b in zip(k_ifd, plain[16:32], strict=True))
        self.k_enc, self.k_mac = kdf_3des(seed, 1), kdf_3des(seed, 2)
        self.ssc = int.from_bytes(challenge.data[4:] + rnd_ifd[4:], "big")

    def protect(
        self,
        ins: int,
        p1: int,
        p2: int,
        data: bytes = b"",
        le: int | None = None,
        *,
        extended: bool = False,
        le_bytes: int | None = None,
    ) -> bytes:
        assert self.k_enc is not None and self.k_mac is not None
        header = bytes([0x0C, ins, p1, p2])
        dos = b""
        if data:
            cryptogram = tdes_cbc_encrypt(self.k_enc, pad(data, 8))
            dos += tlv(0x85, cryptogram) if ins & 1 else tlv(0x87, b"\x01" + cryptogram)
        if le is not None:
            width = le_bytes or (2 if extended else 1)
            dos += tlv(0x97, (le % (256**width)).to_bytes(width, "big"))
        self.ssc += 1
        mac = retail_mac(self.k_mac, self.ssc.to_bytes(8, "big") + pad(header, 8) + dos)
        body = dos + tlv(0x8E, mac)
        if extended:
            return header + b"\x00" + len(body).to_bytes(2, "big") + body + b"\x00\x00"
        return header + bytes([len(body)]) + body + b"\x00"

    def unprotect(self, answer: Answer) -> Answer:
        """Check the response MAC and decrypt; returns the inner data and the DO'99' SW."""
        assert self.k_enc is not None and self.k_mac is not None
        self.ssc += 1
        dos = read_all(answer.data)
        assert dos[-1][0] == 0x8E, answer.raw.hex()
        signed = b"".join(raw for _, _, raw in dos[:-1])
        expected = retail_mac(self.k_mac, self.ssc.to_bytes(8, "big") + signed)
        assert hmac.compare_digest(expected, dos[-1][1]), "response MAC"
        fields = {tag: value for tag, value, _ in dos[:-1]}
        sw = int.from_bytes(fields[0x99], "big")
        data = b""
        if 0x87 in fields:
            assert fields[0x87][0] == 1
            data = sm_unpad(tdes_cbc_decrypt(self.k_enc, fields[0x87][1:]), 8)
        elif 0x85 in fields:
            data = sm_unpad(tdes_cbc_decrypt(self.k_enc, fields[0x85]), 8)
        return Answer(data, sw, answer.raw)

    def sm(
        self, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None, **kw
    ) -> Answer:
        answer = self.send(self.protect(ins, p1, p2, data, le, **kw))
        if len(answer.data) == 0:  # a plain error such as 6988
            return answer
        inner = self.unprotect(answer)
        assert inner.sw == answer.sw, "outer SW mirrors DO'99'"
        return inner

    def select(self, fid: int) -> Answer:
        return self.sm(0xA4, 0x02, 0x0C, fid.to_bytes(2, "big"))

    def read_file(self, fid: int, *, chunk: int = 0xE0) -> bytes:
        assert self.select(fid).sw == 0x9000
        out = b""
        while True:
            answer = self.sm(0xB0, len(out) >> 8, len(out) & 0xFF, le=chunk)
            if answer.sw == 0x6B00:
                return out
            assert answer.sw in (0x9000, 0x6282), hex(answer.sw)
            out += answer.data
            if answer.sw == 0x6282 or len(out) > 0x7FFF - chunk:
                return out

    @staticmethod
    def odd_offset(offset: int) -> bytes:
        body = offset.to_bytes(max(1, (offset.bit_length() + 7) // 8), "big")
        return b"\x54" + encode_length(len(body)) + body
