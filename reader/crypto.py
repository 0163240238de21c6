"""Symmetric primitives of ICAO 9303-11 on top of `cryptography`.

Padding (ISO/IEC 9797-1 method 2), the key derivation function (§9.7.1), 3DES with the
ISO/IEC 9797-1 MAC algorithm 3 ("retail MAC"), AES with CMAC. Pure functions over bytes.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .errors import SecureMessagingError

# KDF counters (9303-11 §9.7.1)
KDF_ENC = 1
KDF_MAC = 2
KDF_PACE = 3


def pad(data: bytes, block: int) -> bytes:
    """ISO/IEC 9797-1 padding method 2: 80 then zeros to a whole block (always adds)."""
    n = len(data) + 1
    return data + b"\x80" + bytes((-n) % block)


def unpad(data: bytes) -> bytes:
    i = len(data) - 1
    while i >= 0 and data[i] == 0:
        i -= 1
    if i < 0 or data[i] != 0x80:
        raise SecureMessagingError("bad padding in a decrypted data object")
    return data[:i]


def adjust_des_parity(key: bytes) -> bytes:
    """Set odd parity on each byte, as DES keys have it (the ICAO vectors are parity-adjusted)."""
    return bytes((b & 0xFE) | ((bin(b >> 1).count("1") + 1) & 1) for b in key)


def kdf(secret: bytes, counter: int, *, cipher: str, key_bits: int = 128) -> bytes:
    """Derive a key from a shared secret or key seed (9303-11 §9.7.1)."""
    c = counter.to_bytes(4, "big")
    if cipher == "3DES":
        # Two-key 3DES: first 16 bytes of SHA-1, parity bits adjusted.
        return adjust_des_parity(hashlib.sha1(secret + c).digest()[:16])
    if cipher == "AES":
        if key_bits == 128:
            return hashlib.sha1(secret + c).digest()[:16]
        return hashlib.sha256(secret + c).digest()[: key_bits // 8]
    raise ValueError(f"unknown cipher {cipher}")


def _des3_key(key: bytes) -> bytes:
    if len(key) == 16:
        return key + key[:8]
    if len(key) in (8, 24):
        return key * (24 // len(key))
    raise ValueError("3DES key must be 8, 16 or 24 bytes")


def des3_cbc_encrypt(key: bytes, data: bytes, iv: bytes = bytes(8)) -> bytes:
    enc = Cipher(TripleDES(_des3_key(key)), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def des3_cbc_decrypt(key: bytes, data: bytes, iv: bytes = bytes(8)) -> bytes:
    if len(data) % 8:
        raise SecureMessagingError("3DES cryptogram is not a whole number of blocks")
    dec = Cipher(TripleDES(_des3_key(key)), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def retail_mac(key: bytes, data: bytes) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 with DES, over already padded data.

    Single-DES CBC with K1 over every block, then DES-decrypt with K2 and encrypt with K1 on
    the last block; the chain is one CBC pass, not a Python loop.
    """
    if len(data) % 8 or not data:
        raise ValueError("retail MAC input must be padded to whole blocks")
    k1, k2 = key[:8], key[8:16]
    chain = des3_cbc_encrypt(k1, data)[-8:]
    dec = Cipher(TripleDES(k2 * 3), modes.ECB()).decryptor()
    y = dec.update(chain) + dec.finalize()
    enc = Cipher(TripleDES(k1 * 3), modes.ECB()).encryptor()
    return enc.update(y) + enc.finalize()


def aes_cbc_encrypt(key: bytes, data: bytes, iv: bytes = bytes(16)) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def aes_cbc_decrypt(key: bytes, data: bytes, iv: bytes = bytes(16)) -> bytes:
    if len(data) % 16:
        raise SecureMessagingError("AES cryptogram is not a whole number of blocks")
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def aes_ecb_encrypt(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def aes_cmac(key: bytes, data: bytes) -> bytes:
    c = cmac.CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


class CipherSuite(Protocol):
    """What secure messaging needs from a cipher (9303-11 §9.8)."""

    @property
    def name(self) -> str: ...
    @property
    def block(self) -> int: ...

    def encrypt(self, ssc: bytes, data: bytes) -> bytes: ...
    def decrypt(self, ssc: bytes, data: bytes) -> bytes: ...
    def mac(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class Des3Suite:
    """3DES-CBC with IV 0 and retail MAC: BAC, and PACE/CA with 3DES."""

    k_enc: bytes
    k_mac: bytes
    name: str = "3DES"
    block: int = 8

    def encrypt(self, ssc: bytes, data: bytes) -> bytes:
        return des3_cbc_encrypt(self.k_enc, data)

    def decrypt(self, ssc: bytes, data: bytes) -> bytes:
        return des3_cbc_decrypt(self.k_enc, data)

    def mac(self, data: bytes) -> bytes:
        return retail_mac(self.k_mac, pad(data, 8))


@dataclass(frozen=True)
class AesSuite:
    """AES-CBC with IV = E(KSenc, SSC) and AES-CMAC truncated to 8 bytes (9303-11 §9.8.6.1)."""

    k_enc: bytes
    k_mac: bytes
    name: str = "AES"
    block: int = 16

    def encrypt(self, ssc: bytes, data: bytes) -> bytes:
        return aes_cbc_encrypt(self.k_enc, data, aes_ecb_encrypt(self.k_enc, ssc))

    def decrypt(self, ssc: bytes, data: bytes) -> bytes:
        return aes_cbc_decrypt(self.k_enc, data, aes_ecb_encrypt(self.k_enc, ssc))

    def mac(self, data: bytes) -> bytes:
        return aes_cmac(self.k_mac, pad(data, 16))[:8]


def equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
