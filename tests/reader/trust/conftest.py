"""Keys, certificates and genuine card files shared by the passive-authentication tests.

Key generation is the slow part (RSA above all), so every key is made once per session.
"""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from reader.virtual import build_lds, load_profile

from .builders import Party, certificate


@pytest.fixture(scope="session")
def rsa1024() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 1024)


@pytest.fixture(scope="session")
def rsa2048() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


@pytest.fixture(scope="session")
def ec_keys() -> dict[str, Any]:
    curves = {
        "P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1(),
        "brainpoolP256r1": ec.BrainpoolP256R1(), "brainpoolP384r1": ec.BrainpoolP384R1(),
        "brainpoolP512r1": ec.BrainpoolP512R1(),
    }
    return {name: ec.generate_private_key(curve) for name, curve in curves.items()}


@pytest.fixture(scope="session")
def csca(ec_keys: dict[str, Any]) -> Party:
    """A P-384 CSCA (ecdsa-with-SHA384), the shape most CSCAs have."""
    return certificate("Test CSCA", ec_keys["P-384"], ca=True)


@pytest.fixture(scope="session")
def ds(csca: Party, ec_keys: dict[str, Any]) -> Party:
    """A P-256 document signer of ``csca``."""
    return certificate("Test DS", ec_keys["P-256"], csca, ca=False)


@pytest.fixture(scope="session")
def card_files() -> dict[str, bytes]:
    """Genuine data groups of a virtual CCCD (its EF.SOD is the virtual card's own)."""
    return dict(build_lds(load_profile("nguyen-van-an")).files)


@pytest.fixture(scope="session")
def data_groups(card_files: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in card_files.items() if k.startswith("DG")}
