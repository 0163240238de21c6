"""Deterministic keys: the same seed and label always give the same key.

Nothing is written to disk; an RSA key (slow to find) is cached in memory for the process.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator

from cryptography.hazmat.primitives.asymmetric import ec, rsa

RSA_PUBLIC_EXPONENT = 65537
_SIEVE_LIMIT = 1 << 16
_SIEVE_WINDOW = 4096  # odd candidates per sieve pass
_MILLER_RABIN_ROUNDS = 12


def _small_primes(limit: int) -> list[int]:
    flags = bytearray([1]) * limit
    flags[0:2] = b"\0\0"
    for p in range(2, int(limit**0.5) + 1):
        if flags[p]:
            flags[p * p :: p] = bytes(len(range(p * p, limit, p)))
    return [p for p in range(3, limit) if flags[p]]


_SMALL_PRIMES = _small_primes(_SIEVE_LIMIT)


def derive_ec_key(seed: str, label: str, curve: ec.EllipticCurve) -> ec.EllipticCurvePrivateKey:
    """``d = SHA-256(seed ‖ label)`` folded into [1, n-1] so every digest gives a valid key."""
    digest = hashlib.sha256((seed + label).encode("utf-8")).digest()
    order = curve.group_order
    return ec.derive_private_key(int.from_bytes(digest, "big") % (order - 1) + 1, curve)


def derive_serial(seed: str, label: str) -> int:
    """A positive X.509 serial number of at most 127 bits."""
    digest = hashlib.sha256((seed + "/serial/" + label).encode("utf-8")).digest()
    return int.from_bytes(digest[:16], "big") >> 1 | 1


def _stream(seed: str, label: str) -> Iterator[bytes]:
    """SHA-256 in counter mode over ``seed ‖ label``: an endless deterministic byte stream."""
    counter = 0
    while True:
        yield hashlib.sha256(f"{seed}{label}/{counter}".encode()).digest()
        counter += 1


def _is_probable_prime(n: int) -> bool:
    """Miller-Rabin with the first few primes as bases (after sieving): ample for test keys."""
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in _SMALL_PRIMES[:_MILLER_RABIN_ROUNDS]:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(stream: Iterator[bytes], bits: int) -> int:
    """The first prime p >= a stream-drawn start (top two bits set, odd) with gcd(e, p-1) = 1.

    Candidates start, start+2, ... are sieved by every prime below 2^16 before Miller-Rabin.
    """
    nbytes = (bits + 7) // 8
    raw = b"".join(next(stream) for _ in range((nbytes + 31) // 32))[:nbytes]
    start = int.from_bytes(raw, "big") >> (8 * nbytes - bits)
    start |= (0b11 << (bits - 2)) | 1  # the product of two such primes has exactly 2·bits bits
    while True:
        sieve = bytearray([1]) * _SIEVE_WINDOW
        for p in _SMALL_PRIMES:
            # start + 2i ≡ 0 (mod p)  ⇔  i ≡ -start · 2⁻¹ (mod p)
            first = (-start * ((p + 1) // 2)) % p
            sieve[first::p] = bytes(len(range(first, _SIEVE_WINDOW, p)))
        for i in range(_SIEVE_WINDOW):
            candidate = start + 2 * i
            if sieve[i] and (candidate - 1) % RSA_PUBLIC_EXPONENT and _is_probable_prime(candidate):
                return candidate
        start += 2 * _SIEVE_WINDOW


@functools.lru_cache(maxsize=16)
def derive_rsa_key(seed: str, label: str, bits: int = 2048) -> rsa.RSAPrivateKey:
    """An RSA key whose primes come from a SHA-256 stream over ``seed ‖ label``."""
    stream = _stream(seed, label)
    p = _prime(stream, bits // 2)
    q = _prime(stream, bits // 2)
    while q == p:
        q = _prime(stream, bits // 2)
    e = RSA_PUBLIC_EXPONENT
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(e, p * q),
    )
    return numbers.private_key()
