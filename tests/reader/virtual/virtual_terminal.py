"""A minimal terminal (the IFD half of BAC, PACE, CA, AA and secure messaging) for driving the
virtual card.

Test-only. It shares the card's 3DES primitives and BER-TLV writer, which the ICAO Appendix D
vectors pin down independently, but not the card's command/response logic: PACE (ECDH Generic
Mapping), chip authentication and AES secure messaging are written here again from ICAO Doc
9303-11, with python-ecdsa and ``cryptography`` used directly.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC
from ecdsa import curves
from ecdsa.ellipticcurve import PointJacobi

from reader.virtual.bac_responder import derive_bac_keys
from reader.virtual.ber import encode_length, read_all, tlv
from reader.virtual.sm_crypto import kdf_3des, pad, retail_mac, tdes_cbc_decrypt, tdes_cbc_encrypt
from reader.virtual.sm_crypto import unpad as sm_unpad

AID = bytes.fromhex("A0000002471001")

# --- PACE parameters, from 9303-11 §9.5.1 and the OID arcs of §9.2 -------------------------

CURVES = {
    8: curves.NIST192p,
    9: curves.BRAINPOOLP192r1,
    10: curves.NIST224p,
    11: curves.BRAINPOOLP224r1,
    12: curves.NIST256p,
    13: curves.BRAINPOOLP256r1,
    14: curves.BRAINPOOLP320r1,
    15: curves.NIST384p,
    16: curves.BRAINPOOLP384r1,
    17: curves.BRAINPOOLP512r1,
    18: curves.NIST521p,
}
# (last OID arc, key length in bytes)
CIPHERS = {"3DES": (1, 16), "AES-128": (2, 16), "AES-192": (3, 24), "AES-256": (4, 32)}
PACE_GM_PREFIX = bytes.fromhex("04007F000702020402")  # 0.4.0.127.0.7.2.2.4.2
CA_PREFIX = bytes.fromhex("04007F000702020302")  # 0.4.0.127.0.7.2.2.3.2
MRZ, CAN = 1, 2


def pace_oid(cipher: str) -> bytes:
    return PACE_GM_PREFIX + bytes([CIPHERS[cipher][0]])


def ca_oid(cipher: str) -> bytes:
    return CA_PREFIX + bytes([CIPHERS[cipher][0]])


def kdf(secret: bytes, counter: int, cipher: str) -> bytes:
    c = counter.to_bytes(4, "big")
    if cipher == "3DES":
        return kdf_3des(secret, counter)
    if cipher == "AES-128":
        return hashlib.sha1(secret + c).digest()[:16]
    return hashlib.sha256(secret + c).digest()[: CIPHERS[cipher][1]]


def mrz_password(mrz_information: str) -> bytes:
    return hashlib.sha1(mrz_information.encode("ascii")).digest()


def aes_cbc(key: bytes, data: bytes, iv: bytes, *, decrypt: bool = False) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
    op = cipher.decryptor() if decrypt else cipher.encryptor()
    return op.update(data) + op.finalize()


def aes_block(key: bytes, block: bytes) -> bytes:
    op = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return op.update(block) + op.finalize()


def cmac8(key: bytes, data: bytes) -> bytes:
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()[:8]


def point_bytes(curve, point) -> bytes:
    size = (curve.curve.p().bit_length() + 7) // 8
    return b"\x04" + int(point.x()).to_bytes(size, "big") + int(point.y()).to_bytes(size, "big")


def point_from(curve, data: bytes) -> PointJacobi:
    size = (curve.curve.p().bit_length() + 7) // 8
    assert len(data) == 1 + 2 * size and data[0] == 4, data.hex()
    x, y = int.from_bytes(data[1 : 1 + size], "big"), int.from_bytes(data[1 + size :], "big")
    assert curve.curve.contains_point(x, y), "the card's point is not on the curve"
    return PointJacobi(curve.curve, x, y, 1, curve.order)


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


class PaceFailed(AssertionError):
    def __init__(self, step: str, answer: Answer) -> None:
        super().__init__(f"PACE {step}: {answer.sw:04X}")
        self.step = step
        self.sw = answer.sw


@dataclass
class PaceTranscript:
    """What the terminal saw and computed, for comparing with published values."""

    nonce: bytes = b""
    pk_map_ic: bytes = b""
    mapped_generator: bytes = b""
    pk_eph_ic: bytes = b""
    shared_secret: bytes = b""
    k_enc: bytes = b""
    k_mac: bytes = b""
    t_ic: bytes = b""
    apdus: list[tuple[bytes, bytes]] = field(default_factory=list)


class Terminal:
    def __init__(self, card) -> None:
        self.card = card
        self.k_enc: bytes | None = None
        self.k_mac: bytes | None = None
        self.ssc = 0
        self.cipher = "3DES"  # of the current secure messaging

    @property
    def block(self) -> int:
        return 8 if self.cipher == "3DES" else 16

    def send(self, apdu: bytes | str) -> Answer:
        raw = bytes.fromhex(apdu) if isinstance(apdu, str) else apdu
        return split(self.card.process(raw))

    def select_applet(self) -> Answer:
        return self.send(short_apdu(0x00, 0xA4, 0x04, 0x0C, AID))

    def start_session(self, k_enc: bytes, k_mac: bytes, ssc: int, cipher: str) -> None:
        self.k_enc, self.k_mac, self.ssc, self.cipher = k_enc, k_mac, ssc, cipher

    # --- BAC --------------------------------------------------------------------------------

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
        self.start_session(
            kdf_3des(seed, 1),
            kdf_3des(seed, 2),
            int.from_bytes(challenge.data[4:] + rnd_ifd[4:], "big"),
            "3DES",
        )

    # --- PACE (9303-11 §4.4, ECDH Generic Mapping) -------------------------------------------

    def pace(
        self,
        password: bytes,
        reference: int,
        *,
        cipher: str = "AES-128",
        parameter_id: int = 13,
        send_parameter_id: bool = True,
        protocol_oid: bytes | None = None,
        scalars: Iterator[int] | None = None,
        tamper: Callable[[int, bytes], bytes] | None = None,
    ) -> PaceTranscript:
        """Run PACE; on success the terminal's secure messaging uses the new keys (SSC 0).

        ``password`` is π (``mrz_password(...)`` or the CAN's ASCII bytes); ``scalars`` injects
        SK_map,IFD and SK_eph,IFD; ``tamper(step, data)`` may change a command's data.
        """
        curve = CURVES[parameter_id]
        g, n = curve.generator, curve.order
        oid = protocol_oid or pace_oid(cipher)
        keys = scalars or iter(lambda: int.from_bytes(os.urandom(80), "big") % (n - 1) + 1, None)
        out = PaceTranscript()

        def step(number: int, cla: int, p1p2: bytes, data: bytes, le: int | None) -> Answer:
            if tamper is not None:
                data = tamper(number, data)
            apdu = short_apdu(cla, p1p2[0], p1p2[1], p1p2[2], data, le)
            answer = self.send(apdu)
            out.apdus.append((apdu, answer.raw))
            if answer.sw != 0x9000:
                raise PaceFailed(f"step {number}", answer)
            return answer

        def inner(answer: Answer, tag: int) -> bytes:
            (outer,) = read_all(answer.data)
            assert outer[0] == 0x7C, answer.raw.hex()
            dos = {t: v for t, v, _ in read_all(outer[1])}
            return dos[tag]

        mse = tlv(0x80, oid) + tlv(0x83, bytes([reference]))
        if send_parameter_id:
            mse += tlv(0x84, bytes([parameter_id]))
        step(0, 0x00, b"\x22\xc1\xa4", mse, None)

        # 1: the encrypted nonce
        z = inner(step(1, 0x10, b"\x86\x00\x00", tlv(0x7C, b""), 0), 0x80)
        k_pi = kdf(password, 3, cipher)
        if cipher == "3DES":
            s = tdes_cbc_decrypt(k_pi, z)
        else:
            s = aes_cbc(k_pi, z, bytes(16), decrypt=True)
        out.nonce = s

        # 2: mapping
        sk_map = next(keys)
        pk_map = point_bytes(curve, g * sk_map)
        out.pk_map_ic = inner(step(2, 0x10, b"\x86\x00\x00", tlv(0x7C, tlv(0x81, pk_map)), 0), 0x82)
        h = point_from(curve, out.pk_map_ic) * sk_map
        mapped = g * int.from_bytes(s, "big") + h
        out.mapped_generator = point_bytes(curve, mapped)

        # 3: key agreement on the mapped generator
        sk_eph = next(keys)
        pk_eph = point_bytes(curve, mapped * sk_eph)
        out.pk_eph_ic = inner(step(3, 0x10, b"\x86\x00\x00", tlv(0x7C, tlv(0x83, pk_eph)), 0), 0x84)
        assert out.pk_eph_ic != pk_eph
        shared = point_from(curve, out.pk_eph_ic) * sk_eph
        size = (curve.curve.p().bit_length() + 7) // 8
        out.shared_secret = int(shared.x()).to_bytes(size, "big")
        out.k_enc, out.k_mac = kdf(out.shared_secret, 1, cipher), kdf(out.shared_secret, 2, cipher)

        # 4: mutual authentication with tokens over the other side's ephemeral key
        def token(point: bytes) -> bytes:
            data = tlv(0x7F49, tlv(0x06, oid), tlv(0x86, point))
            return retail_mac(out.k_mac, data) if cipher == "3DES" else cmac8(out.k_mac, data)

        t_ifd = token(out.pk_eph_ic)
        out.t_ic = inner(step(4, 0x00, b"\x86\x00\x00", tlv(0x7C, tlv(0x85, t_ifd)), 0), 0x86)
        assert hmac.compare_digest(out.t_ic, token(pk_eph)), "T_IC: the card does not know π"
        self.start_session(out.k_enc, out.k_mac, 0, cipher)
        return out

    # --- chip authentication (9303-11 §6.2) --------------------------------------------------

    def chip_authenticate(
        self, chip_public: ec.EllipticCurvePublicKey, cipher: str, *, key_agreement: bool = False
    ) -> Answer:
        """CA-ECDH: MSE:Set AT + GENERAL AUTHENTICATE (AES, or 3DES when asked) or MSE:Set KAT
        (3DES). The answer comes under the old keys; then the terminal switches keys."""
        ephemeral = ec.generate_private_key(chip_public.curve)
        point = ephemeral.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        if key_agreement:
            answer = self.sm(0x22, 0x41, 0xA6, tlv(0x91, point))
        else:
            answer = self.sm(0x22, 0x41, 0xA4, tlv(0x80, ca_oid(cipher)))
            assert answer.sw == 0x9000, hex(answer.sw)
            answer = self.sm(0x86, 0x00, 0x00, tlv(0x7C, tlv(0x80, point)), le=0)
        if answer.sw == 0x9000:
            secret = ephemeral.exchange(ec.ECDH(), chip_public)
            self.start_session(kdf(secret, 1, cipher), kdf(secret, 2, cipher), 0, cipher)
        return answer

    # --- secure messaging -------------------------------------------------------------------

    def _encrypt(self, data: bytes) -> bytes:
        assert self.k_enc is not None
        if self.cipher == "3DES":
            return tdes_cbc_encrypt(self.k_enc, pad(data, 8))
        iv = aes_block(self.k_enc, self.ssc.to_bytes(16, "big"))
        return aes_cbc(self.k_enc, pad(data, 16), iv)

    def _decrypt(self, cryptogram: bytes) -> bytes:
        assert self.k_enc is not None
        if self.cipher == "3DES":
            return sm_unpad(tdes_cbc_decrypt(self.k_enc, cryptogram), 8)
        iv = aes_block(self.k_enc, self.ssc.to_bytes(16, "big"))
        return sm_unpad(aes_cbc(self.k_enc, cryptogram, iv, decrypt=True), 16)

    def _mac(self, data: bytes) -> bytes:
        assert self.k_mac is not None
        if self.cipher == "3DES":
            return retail_mac(self.k_mac, self.ssc.to_bytes(8, "big") + data)
        return cmac8(self.k_mac, pad(self.ssc.to_bytes(16, "big") + data, 16))

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
        self.ssc += 1
        dos = b""
        if data:
            cryptogram = self._encrypt(data)
            dos += tlv(0x85, cryptogram) if ins & 1 else tlv(0x87, b"\x01" + cryptogram)
        if le is not None:
            width = le_bytes or (2 if extended else 1)
            dos += tlv(0x97, (le % (256**width)).to_bytes(width, "big"))
        mac = self._mac(pad(header, self.block) + dos)
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
        assert hmac.compare_digest(self._mac(signed), dos[-1][1]), "response MAC"
        fields = {tag: value for tag, value, _ in dos[:-1]}
        sw = int.from_bytes(fields[0x99], "big")
        data = b""
        if 0x87 in fields:
            assert fields[0x87][0] == 1
            data = self._decrypt(fields[0x87][1:])
        elif 0x85 in fields:
            data = self._decrypt(fields[0x85])
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

    def internal_authenticate(self, challenge: bytes, *, extended: bool = False) -> Answer:
        """AA: ``INTERNAL AUTHENTICATE 00 88 00 00 08 <RND.IFD> 00`` under secure messaging."""
        return self.sm(0x88, 0x00, 0x00, challenge, le=256 if extended else 0, extended=extended)

    @staticmethod
    def odd_offset(offset: int) -> bytes:
        body = offset.to_bytes(max(1, (offset.bit_length() + 7) // 8), "big")
        return b"\x54" + encode_length(len(body)) + body
