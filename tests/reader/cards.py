"""Virtual-card profiles and their LDS, built once per test process (building signs an EF.SOD
and may convert a JPEG 2000 portrait), and the test CSCA's trust store."""

from __future__ import annotations

import functools

from reader.trust.store import TrustStore
from reader.virtual import BuiltLds, CardProfile, build_lds
from reader.virtual import load_profile as _load_profile
from reader.virtual.pki import test_csca_pem


@functools.cache
def load_profile(name: str) -> CardProfile:
    return _load_profile(name)


@functools.cache
def built(name: str) -> BuiltLds:
    return build_lds(load_profile(name))


@functools.cache
def store() -> TrustStore:
    return TrustStore.from_files({"csca.pem": test_csca_pem()})
