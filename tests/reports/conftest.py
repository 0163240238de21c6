"""Fixtures for the report tests: an isolated home, a store with a fixed exam-day clock, the
centre's keys, and the poppler tools the acceptance checks read PDFs with.

Sessions are built once per module (they take a second or two with real photos): tests that
change the database build their own.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from proctoring.crypto import KeyStore
from proctoring.store import Store
from reports.keys import CreatedKeys, create_centre_keys
from reports.layout import Words, catalog_words
from tests.proctoring.helpers import isolate_home

from .builders import EXAM_START

PASSWORD = b"Mat-khau-2025!"


def exam_clock() -> Callable[[], datetime]:
    """Time on the exam morning, one second further at each call: overrides and incidents
    happen during the exam, so a fraud report for June finds them."""
    tick = itertools.count()
    return lambda: EXAM_START + timedelta(minutes=50, seconds=next(tick))


def open_store(folder: Path, url: str | None = None) -> Store:
    return Store.open(url or f"sqlite:///{folder / 'examdesk.db'}",
                      keys=KeyStore(folder / "keys", use_keyring=False), clock=exam_clock())


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return isolate_home(tmp_path, monkeypatch)


@pytest.fixture(scope="session")
def vi() -> Words:
    return catalog_words("vi")


@pytest.fixture(scope="session")
def en() -> Words:
    return catalog_words("en")


@pytest.fixture(scope="session")
def centre_keys(tmp_path_factory: pytest.TempPathFactory) -> CreatedKeys:
    """The centre's CA and signer (made once: RSA-3072 key generation is the slow part)."""
    return create_centre_keys(centre_code="HN01", centre_name="Trung tâm Khảo thí Hà Nội",
                              password=PASSWORD, folder=tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def stranger_keys(tmp_path_factory: pytest.TempPathFactory) -> CreatedKeys:
    """Another CA that nobody told us to trust."""
    return create_centre_keys(centre_code="XX99", centre_name="Trung tâm Không Rõ",
                              password=PASSWORD, folder=tmp_path_factory.mktemp("stranger"))


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install poppler-utils; make setup "
                    "installs it)")
    return path


def pdftotext(pdf: Path, first: int | None = None, last: int | None = None) -> str:
    args = [_tool("pdftotext"), "-enc", "UTF-8"]
    if first is not None:
        args += ["-f", str(first), "-l", str(last or first)]
    return subprocess.run([*args, str(pdf), "-"], capture_output=True, check=True,
                          timeout=60).stdout.decode("utf-8")


def pdftoppm(pdf: Path, prefix: Path, dpi: int = 100, first: int | None = None,
             last: int | None = None) -> list[Path]:
    args = [_tool("pdftoppm"), "-png", "-r", str(dpi)]
    if first is not None:
        args += ["-f", str(first), "-l", str(last or first)]
    subprocess.run([*args, str(pdf), str(prefix)], check=True, timeout=120)
    return sorted(prefix.parent.glob(f"{prefix.name}-*.png"))


def pdfimages(pdf: Path) -> list[tuple[int, int, str]]:
    """(width, height, encoding) of every image drawn in the PDF."""
    out = subprocess.run([_tool("pdfimages"), "-list", str(pdf)], capture_output=True,
                         check=True, timeout=60).stdout.decode()
    rows = []
    for line in out.splitlines()[2:]:
        cols = line.split()
        if len(cols) > 8 and cols[2] == "image":
            rows.append((int(cols[3]), int(cols[4]), cols[8]))
    return rows


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[Store]:
    store = open_store(tmp_path)
    try:
        yield store
    finally:
        store.close()
