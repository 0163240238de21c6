"""Deterministic EC keys: the same seed and label always give the same key."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.asymmetric import ec


def derive_ec_key(seed: str, label: str, curve: ec.EllipticCurve) -> ec.EllipticCurvePrivateKey:
    """``d = SHA-256(seed ‖ label)`` folded into [1, n-1] so every digest gives a valid key."""
    digest = hashlib.sha256((seed + label).encode("utf-8")).digest()
    order = curve.group_order
    return ec.derive_private_key(int.from_bytes(digest, "big") % (order - 1) + 1, curve)


def derive_serial(seed: str, label: str) -> int:
    """A positive X.509 serial number of at most 127 bits."""
    digest = hashlib.sha256((seed + "/serial/" + label).encode("utf-8")).digest()
    return int.from_bytes(digest[:16], "big") >> 1 | 1
