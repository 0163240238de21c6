"""Standardized elliptic-curve domain parameters of PACE (ICAO 9303-11 §9.5.1, BSI TR-03110-3
Table 4), card side, with python-ecdsa for the arithmetic.

The Generic Mapping makes a new generator G~ = s·G + H; ``cryptography`` can only multiply a
curve's own generator, so the point arithmetic here uses ``ecdsa.ellipticcurve.PointJacobi``.
Every point a terminal sends is checked to lie on the curve before it is used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ecdsa import curves
from ecdsa.ellipticcurve import INFINITY, PointJacobi


class InvalidPoint(ValueError):
    """Not an uncompressed point of this curve (wrong length or form, off the curve, infinity)."""


@dataclass(frozen=True)
class EcDomain:
    parameter_id: int
    name: str
    curve: Any  # ecdsa.curves.Curve

    @property
    def order(self) -> int:
        return int(self.curve.order)

    @property
    def prime(self) -> int:
        return int(self.curve.curve.p())

    @property
    def field_size(self) -> int:
        """Bytes of a coordinate (and of the shared secret, FE2OS)."""
        return (self.prime.bit_length() + 7) // 8

    @property
    def generator(self) -> PointJacobi:
        return self.curve.generator

    def point(self, x: int, y: int) -> PointJacobi:
        """An affine point, checked to lie on the curve."""
        if not (0 <= x < self.prime and 0 <= y < self.prime):
            raise InvalidPoint("coordinate out of range")
        if not self.curve.curve.contains_point(x, y):
            raise InvalidPoint("not on the curve")
        return PointJacobi(self.curve.curve, x, y, 1, self.order)

    def decode_point(self, data: bytes) -> PointJacobi:
        """``04 ‖ x ‖ y`` (uncompressed, X9.62) → a point on this curve."""
        size = self.field_size
        if len(data) != 1 + 2 * size or data[0] != 0x04:
            raise InvalidPoint("not an uncompressed point of the right length")
        x = int.from_bytes(data[1 : 1 + size], "big")
        y = int.from_bytes(data[1 + size :], "big")
        return self.point(x, y)

    def encode_point(self, point: PointJacobi) -> bytes:
        if is_infinity(point):
            raise InvalidPoint("the point at infinity has no encoding")
        size = self.field_size
        return b"\x04" + int(point.x()).to_bytes(size, "big") + int(point.y()).to_bytes(size, "big")

    def x_bytes(self, point: PointJacobi) -> bytes:
        """The x-coordinate as a field-size octet string: the ECDH shared secret."""
        if is_infinity(point):
            raise InvalidPoint("the shared point is the point at infinity")
        return int(point.x()).to_bytes(self.field_size, "big")

    def random_scalar(self, rng: Callable[[int], bytes]) -> int:
        """Uniform in [1, n-1] by rejection; an injected in-range value comes out unchanged."""
        n = self.order
        size = (n.bit_length() + 7) // 8
        mask = (1 << n.bit_length()) - 1
        while True:
            k = int.from_bytes(rng(size), "big") & mask
            if 0 < k < n:
                return k


def is_infinity(point: Any) -> bool:
    return bool(point == INFINITY)


STANDARD_DOMAINS: dict[int, EcDomain] = {
    d.parameter_id: d
    for d in (
        EcDomain(8, "NIST P-192 (secp192r1)", curves.NIST192p),
        EcDomain(9, "brainpoolP192r1", curves.BRAINPOOLP192r1),
        EcDomain(10, "NIST P-224 (secp224r1)", curves.NIST224p),
        EcDomain(11, "brainpoolP224r1", curves.BRAINPOOLP224r1),
        EcDomain(12, "NIST P-256 (secp256r1)", curves.NIST256p),
        EcDomain(13, "brainpoolP256r1", curves.BRAINPOOLP256r1),
        EcDomain(14, "brainpoolP320r1", curves.BRAINPOOLP320r1),
        EcDomain(15, "NIST P-384 (secp384r1)", curves.NIST384p),
        EcDomain(16, "brainpoolP384r1", curves.BRAINPOOLP384r1),
        EcDomain(17, "brainpoolP512r1", curves.BRAINPOOLP512r1),
        EcDomain(18, "NIST P-521 (secp521r1)", curves.NIST521p),
    )
}
