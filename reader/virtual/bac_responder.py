"""The card's half of Basic Access Control (ICAO Doc 9303-11 §4.3)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from .sm_crypto import kdf_3des, retail_mac, tdes_cbc_decrypt, tdes_cbc_encrypt


class BacFailed(Exception):
    """EXTERNAL AUTHENTICATE did not prove knowledge of the MRZ keys."""


@dataclass(frozen=True, slots=True)
class SessionKeys:
    k_enc: bytes
    k_mac: bytes
    ssc: bytes


@dataclass(frozen=True, slots=True)
class BacKeys:
    k_enc: bytes
    k_mac: bytes


def derive_bac_keys(mrz_information: str) -> BacKeys:
    """Kenc/Kmac from the MRZ information (doc no ‖ cd ‖ DOB ‖ cd ‖ expiry ‖ cd)."""
    seed = hashlib.sha1(mrz_information.encode("ascii")).digest()[:16]
    return BacKeys(kdf_3des(seed, 1), kdf_3des(seed, 2))


class BacResponder:
    """GET CHALLENGE / EXTERNAL AUTHENTICATE for one card; one challenge serves one attempt."""

    def __init__(self, mrz_information: str, rng: Callable[[int], bytes]) -> None:
        self.keys = derive_bac_keys(mrz_information)
        self._rng = rng
        self._rnd_ic: bytes | None = None

    @property
    def has_challenge(self) -> bool:
        return self._rnd_ic is not None

    def forget_challenge(self) -> None:
        self._rnd_ic = None

    def get_challenge(self) -> bytes:
        self._rnd_ic = self._rng(8)
        return self._rnd_ic

    def external_authenticate(self, data: bytes) -> tuple[bytes, SessionKeys]:
        """Check E.IFD ‖ M.IFD; return E.IC ‖ M.IC and the session keys, or raise BacFailed."""
        rnd_ic, self._rnd_ic = self._rnd_ic, None  # whatever happens, the challenge is spent
        if rnd_ic is None or len(data) != 40:
            raise BacFailed("no challenge or wrong length")
        e_ifd, m_ifd = data[:32], data[32:]
        if not hmac.compare_digest(retail_mac(self.keys.k_mac, e_ifd), m_ifd):
            raise BacFailed("MAC")
        plain = tdes_cbc_decrypt(self.keys.k_enc, e_ifd)
        rnd_ifd, echoed, k_ifd = plain[:8], plain[8:16], plain[16:32]
        if not hmac.compare_digest(echoed, rnd_ic):
            raise BacFailed("RND.IC")
        k_ic = self._rng(16)
        e_ic = tdes_cbc_encrypt(self.keys.k_enc, rnd_ic + rnd_ifd + k_ic)
        reply = e_ic + retail_mac(self.keys.k_mac, e_ic)
        seed = bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True))
        session = SessionKeys(kdf_3des(seed, 1), kdf_3des(seed, 2), rnd_ic[4:] + rnd_ifd[4:])
        return reply, session
