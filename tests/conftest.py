"""Fixtures that start services: pcscd with the vpcd driver, and virtual cards inserted into it.

`.ci/run` (through `make test`) installs and starts pcscd; these fixtures skip only when pcscd
truly cannot exist on the machine (not installed and cannot be started).
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# The one-language scan over the outputs of the `examdesk` processes tests start (issue 13).
pytest_plugins = ["tests.cli_language"]

REPO = Path(__file__).resolve().parent.parent
READER = "Virtual PCD 00 00"
VPCD_PORT = 35963


def _reader_flags(name: str) -> int | None:
    """The reader's PC/SC state flags, or None when pcscd or the reader is not there."""
    try:
        from smartcard import scard
    except ImportError:
        return None
    hresult, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return None
    try:
        hresult, names = scard.SCardListReaders(ctx, [])
        if hresult != scard.SCARD_S_SUCCESS or name not in names:
            return None
        _, states = scard.SCardGetStatusChange(ctx, 0, [(name, scard.SCARD_STATE_UNAWARE)])
        return int(states[0][1])
    finally:
        scard.SCardReleaseContext(ctx)


def wait_for_reader_state(present: bool, timeout: float = 10.0) -> bool:
    from smartcard import scard

    flag = scard.SCARD_STATE_PRESENT if present else scard.SCARD_STATE_EMPTY
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        flags = _reader_flags(READER)
        if flags is not None and flags & flag:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="session")
def pcscd() -> str:
    """pcscd running with the vpcd driver; returns the reader name of slot 0."""
    pytest.importorskip("smartcard", reason="pyscard is not installed")
    if _reader_flags(READER) is not None:
        return READER
    if shutil.which("pcscd") is None and not Path("/usr/sbin/pcscd").exists():
        pytest.skip("pcscd is not installed on this machine (make setup installs it)")
    subprocess.run([str(REPO / "scripts" / "start-pcscd")], check=False, timeout=30)
    deadline = time.monotonic() + 10
    while _reader_flags(READER) is None:
        if time.monotonic() > deadline:
            pytest.skip(f"pcscd could not be started with the vpcd driver (no {READER!r})")
        time.sleep(0.2)
    return READER


@dataclass
class InsertedCard:
    card: Any  # reader.virtual.VirtualCccd
    link: Any  # reader.virtual.VpcdConnection
    profile: Any  # reader.virtual.CardProfile
    reader: str

    @property
    def access(self) -> dict[str, Any]:
        return dict(self.card.access_data())

    def remove(self) -> None:
        self.link.stop()
        assert wait_for_reader_state(present=False), "pcscd still sees the card"


@pytest.fixture
def insert_card(pcscd: str) -> Iterator[Callable[..., InsertedCard]]:
    """Factory: put a virtual card with a profile (and chip overrides / faults) on the reader."""
    from reader.virtual import Faults, VirtualCccd, VpcdConnection, load_profile

    inserted: list[InsertedCard] = []

    def insert(profile: str = "nguyen-van-an", *, faults: Faults | None = None,
               **chip: Any) -> InsertedCard:
        assert wait_for_reader_state(present=False), f"another card occupies {pcscd!r}"
        prof = load_profile(profile)
        if chip:
            prof = dataclasses.replace(prof, chip=dataclasses.replace(prof.chip, **chip))
        card = VirtualCccd(prof, faults=faults)
        link = VpcdConnection(card, port=VPCD_PORT)
        link.start()
        item = InsertedCard(card, link, prof, pcscd)
        inserted.append(item)
        assert wait_for_reader_state(present=True), "pcscd did not see the virtual card"
        return item

    yield insert
    for item in inserted:
        item.link.stop()
    wait_for_reader_state(present=False)


@pytest.fixture(scope="session")
def checkin_desk(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The check-in desk the e2e modules copy per test (tests/proctoring/test_checkin_e2e.py's
    ``desk``; test_checkin_cli_offline and test_roster_reasons_e2e use it too): made once per
    run, not once per module, as nothing in it is changed after it is made."""
    from tests.proctoring.test_checkin_e2e import prepare_desk

    return prepare_desk(tmp_path_factory.mktemp("desk"))
