"""Fixtures for the virtual CCCD tests (card side; pcscd fixtures are in tests/conftest.py)."""

from __future__ import annotations

import pytest

from reader.virtual.applet import VirtualCccd
from reader.virtual.lds_builder import BuiltLds, build_lds
from reader.virtual.profile import CardProfile, list_profiles, load_profile


@pytest.fixture(scope="session")
def profiles() -> dict[str, CardProfile]:
    return {name: load_profile(name) for name in list_profiles()}


@pytest.fixture(scope="session")
def built(profiles: dict[str, CardProfile]) -> dict[str, BuiltLds]:
    # Building is pure; one build per profile keeps the suite fast.
    return {name: build_lds(p) for name, p in profiles.items()}


@pytest.fixture
def make_card(profiles, built):
    def make(name: str = "nguyen-van-an", **kwargs) -> VirtualCccd:
        return VirtualCccd(profiles[name], lds=built[name], **kwargs)

    return make
