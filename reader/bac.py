"""Basic Access Control, ICAO 9303-11 §4.3, as pure functions and a two-step state machine.

The caller sends GET CHALLENGE, hands the card's nonce to :meth:`BacInitiator.authenticate`,
sends the returned EXTERNAL AUTHENTICATE and hands the answer to :meth:`BacInitiator.finish`,
which yields the secure-messaging session. Randomness is injected so tests can replay the
worked example of 9303-11 Appendix D.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from .apdu import CommandApdu, ResponseApdu, raise_for_status
from .crypto import (
    KDF_ENC,
    KDF_MAC,
    Des3Suite,
    des3_cbc_decrypt,
    des3_cbc_encrypt,
    equal,
    kdf,
    pad,
    retail_mac,
)
from .errors import MalformedData, SecureMessagingError
from .sm import SecureMessaging


@dataclass(frozen=True)
class BacKeys:
    k_enc: bytes
    k_mac: bytes


def key_seed(mrz_information: bytes) -> bytes:
    return hashlib.sha1(mrz_information).digest()[:16]


def derive_bac_keys(mrz_information: bytes) -> BacKeys:
    seed = key_seed(mrz_information)
    return BacKeys(kdf(seed, KDF_ENC, cipher="3DES"), kdf(seed, KDF_MAC, cipher="3DES"))


def _mac(key: bytes, data: bytes) -> bytes:
    return retail_mac(key, pad(data, 8))


class BacInitiator:
    """The terminal's side of BAC for one attempt."""

    def __init__(
        self,
        mrz_information: bytes,
        *,
        rnd_ifd: bytes | None = None,
        k_ifd: bytes | None = None,
    ) -> None:
        self.keys = derive_bac_keys(mrz_information)
        self.rnd_ifd = rnd_ifd if rnd_ifd is not None else os.urandom(8)
        self.k_ifd = k_ifd if k_ifd is not None else os.urandom(16)
        if len(self.rnd_ifd) != 8 or len(self.k_ifd) != 16:
            raise ValueError("RND.IFD is 8 bytes and K.IFD 16 bytes")
        self._rnd_ic: bytes | None = None

    def authenticate(self, rnd_ic: bytes) -> CommandApdu:
        if len(rnd_ic) != 8:
            raise MalformedData(f"GET CHALLENGE answered {len(rnd_ic)} bytes, expected 8")
        self._rnd_ic = rnd_ic
        s = self.rnd_ifd + rnd_ic + self.k_ifd
        e_ifd = des3_cbc_encrypt(self.keys.k_enc, s)
        m_ifd = _mac(self.keys.k_mac, e_ifd)
        return CommandApdu(0x00, 0x82, 0x00, 0x00, e_ifd + m_ifd, 0x28)

    def finish(self, resp: ResponseApdu) -> SecureMessaging:
        if self._rnd_ic is None:
            raise RuntimeError("authenticate() first")
        raise_for_status(resp, during="external-authenticate")
        data = resp.data
        if len(data) != 40:
            raise SecureMessagingError(f"EXTERNAL AUTHENTICATE answered {len(data)} bytes")
        e_ic, m_ic = data[:32], data[32:]
        # The card proved it knows the key only if its MAC verifies and it echoes our nonce.
        if not equal(_mac(self.keys.k_mac, e_ic), m_ic):
            raise SecureMessagingError("card's authentication cryptogram has a bad MAC")
        r = des3_cbc_decrypt(self.keys.k_enc, e_ic)
        if not (equal(r[:8], self._rnd_ic) and equal(r[8:16], self.rnd_ifd)):
            raise SecureMessagingError("card did not echo the challenge")
        k_ic = r[16:32]
        seed = bytes(a ^ b for a, b in zip(self.k_ifd, k_ic, strict=True))
        suite = Des3Suite(kdf(seed, KDF_ENC, cipher="3DES"), kdf(seed, KDF_MAC, cipher="3DES"))
        ssc = self._rnd_ic[4:] + self.rnd_ifd[4:]
        return SecureMessaging.start(suite, ssc)
