"""Card-side cryptography of BAC and secure messaging (ICAO Doc 9303-11 §4.3, §9.7, §9.8).

The cipher suite is abstract: 3DES (BAC, and PACE/CA with 3DES) and AES (PACE, CA) share the
secure-messaging code; a suite supplies the block size, the IV rule, encryption and the MAC.
:class:`CipherSpec` adds what PACE and CA need on top: the KDF, nonce encryption and tokens.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC


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


# --- AES (PACE and chip authentication; ICAO 9303-11 §9.8.4 and §9.7.1) ----------------------


def aes_cbc_encrypt(key: bytes, data: bytes, iv: bytes = bytes(16)) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def aes_cbc_decrypt(key: bytes, data: bytes, iv: bytes = bytes(16)) -> bytes:
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def aes_cmac(key: bytes, message: bytes) -> bytes:
    """The full 16-byte AES-CMAC (NIST SP 800-38B); callers truncate to 8."""
    mac = CMAC(algorithms.AES(key))
    mac.update(message)
    return mac.finalize()


class AesSuite(SmCipherSuite):
    """PACE/CA secure messaging: AES-CBC with IV = E(KSenc, SSC), CMAC truncated to 8 bytes,
    a 16-byte SSC."""

    block_size = 16
    ssc_length = 16

    def _iv(self, ssc: bytes) -> bytes:
        enc = Cipher(algorithms.AES(self.k_enc), modes.ECB()).encryptor()
        return enc.update(ssc) + enc.finalize()

    def encrypt(self, padded: bytes, ssc: bytes) -> bytes:
        return aes_cbc_encrypt(self.k_enc, padded, self._iv(ssc))

    def decrypt(self, cryptogram: bytes, ssc: bytes) -> bytes:
        return aes_cbc_decrypt(self.k_enc, cryptogram, self._iv(ssc))

    def mac(self, message: bytes) -> bytes:
        return aes_cmac(self.k_mac, pad(message, 16))[:8]


KDF_ENC, KDF_MAC, KDF_PI = 1, 2, 3


@dataclass(frozen=True, slots=True)
class CipherSpec:
    """One of the four symmetric suites of PACE and CA (ICAO 9303-11 §9.7.1, §9.2.1).

    ``oid_suffix`` is the last arc of the protocol OIDs: id-PACE-ECDH-GM-… and id-CA-ECDH-…
    end in 1 (3DES-CBC-CBC), 2 (AES-CBC-CMAC-128), 3 (-192) and 4 (-256).
    """

    name: str
    key_length: int
    oid_suffix: int

    @property
    def is_aes(self) -> bool:
        return self.name != "3DES"

    @property
    def block_size(self) -> int:
        return 16 if self.is_aes else 8

    def kdf(self, secret: bytes, counter: int) -> bytes:
        """KDF(K, c): SHA-1 for 3DES (parity adjusted) and AES-128, SHA-256 for AES-192/256."""
        if not self.is_aes:
            return kdf_3des(secret, counter)
        algorithm = hashlib.sha1 if self.key_length == 16 else hashlib.sha256
        return algorithm(secret + counter.to_bytes(4, "big")).digest()[: self.key_length]

    def encrypt_nonce(self, key: bytes, nonce: bytes) -> bytes:
        """E(K_π, s): CBC with a zero IV (the nonce is a whole number of blocks)."""
        if self.is_aes:
            return aes_cbc_encrypt(key, nonce)
        return tdes_cbc_encrypt(key, nonce)

    def decrypt_nonce(self, key: bytes, encrypted: bytes) -> bytes:
        if self.is_aes:
            return aes_cbc_decrypt(key, encrypted)
        return tdes_cbc_decrypt(key, encrypted)

    def token(self, k_mac: bytes, data: bytes) -> bytes:
        """PACE authentication token: CMAC/8 without padding (AES), retail MAC (3DES)."""
        if self.is_aes:
            return aes_cmac(k_mac, data)[:8]
        return retail_mac(k_mac, data)

    def suite(self, k_enc: bytes, k_mac: bytes) -> SmCipherSuite:
        return AesSuite(k_enc, k_mac) if self.is_aes else Des3Suite(k_enc, k_mac)


CIPHERS: dict[str, CipherSpec] = {
    spec.name: spec
    for spec in (
        CipherSpec("3DES", 16, 1),
        CipherSpec("AES-128", 16, 2),
        CipherSpec("AES-192", 24, 3),
        CipherSpec("AES-256", 32, 4),
    )
}
