"""Card-side cryptography of BAC and secure messaging (ICAO Doc 9303-11 §4.3, §9.7, §9.8).

The cipher suite is abstract so that AES (PACE, CA) can be added next to 3DES without touching
the secure-messaging code: it supplies the block size, the IV rule, encryption and the MAC.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes


def pad(data: bytes, block_size: int) -> bytes:
    """ISO/IEC 9797-1 padding method 2: 80, then 00 up to a block boundary."""
    data += b"\x80"
    return data + b"\x00" * (-len(data) % block_size)


def unpad(data: bytes, block_size: int) -> bytes:
    """Undo :func:`pad`; raise ``ValueError`` if the padding is not there."""
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80 or len(data) - len(stripped) >= block_size:
        raise ValueError("bad padding")
    return stripped[:-1]


def adjust_parity(key: bytes) -> bytes:
    """Set each byte's low bit so the byte has odd parity, as DES keys are published."""
    return bytes((b & 0xFE) | ((bin(b >> 1).count("1") + 1) & 1) for b in key)


def kdf_3des(seed: bytes, counter: int) -> bytes:
    """ICAO 9303-11 §9.7.1: SHA-1(seed ‖ counter)[0:16], parity adjusted (1 = ENC, 2 = MAC)."""
    digest = hashlib.sha1(seed + counter.to_bytes(4, "big")).digest()
    return adjust_parity(digest[:16])


def _tdes(key16: bytes) -> TripleDES:
    # Two-key 3DES as K1 ‖ K2 ‖ K1; 8- and 16-byte keys are deprecated in cryptography.
    return TripleDES(key16[:8] + key16[8:16] + key16[:8])


def _des(key8: bytes) -> TripleDES:
    # Single DES is 3DES with three equal keys.
    return TripleDES(key8 * 3)


def tdes_cbc_encrypt(key16: bytes, data: bytes, iv: bytes = bytes(8)) -> bytes:
    enc = Cipher(_tdes(key16), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def tdes_cbc_decrypt(key16: bytes, data: bytes, iv: bytes = bytes(8)) -> bytes:
    dec = Cipher(_tdes(key16), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def retail_mac(key16: bytes, message: bytes) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 (DES, then 3DES on the last block), padding method 2."""
    padded = pad(message, 8)
    chained = Cipher(_des(key16[:8]), modes.CBC(bytes(8))).encryptor().update(padded)[-8:]
    step = Cipher(_des(key16[8:16]), modes.ECB()).decryptor().update(chained)
    return Cipher(_des(key16[:8]), modes.ECB()).encryptor().update(step)


class SmCipherSuite(ABC):
    """What secure messaging needs from a cipher: block size, IV rule, encryption, MAC."""

    block_size: int
    ssc_length: int

    def __init__(self, k_enc: bytes, k_mac: bytes) -> None:
        self.k_enc = k_enc
        self.k_mac = k_mac

    @abstractmethod
    def encrypt(self, padded: bytes, ssc: bytes) -> bytes: ...

    @abstractmethod
    def decrypt(self, cryptogram: bytes, ssc: bytes) -> bytes: ...

    @abstractmethod
    def mac(self, message: bytes) -> bytes:
        """8-byte MAC over ``message``; the suite applies padding method 2 itself."""


class Des3Suite(SmCipherSuite):
    """BAC secure messaging: 3DES-CBC with a zero IV, retail MAC, 8-byte SSC."""

    block_size = 8
    ssc_length = 8

    def encrypt(self, padded: bytes, ssc: bytes) -> bytes:
        return tdes_cbc_encrypt(self.k_enc, padded)

    def decrypt(self, cryptogram: bytes, ssc: bytes) -> bytes:
        return tdes_cbc_decrypt(self.k_enc, cryptogram)

    def mac(self, message: bytes) -> bytes:
        return retail_mac(self.k_mac, message)
