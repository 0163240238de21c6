"""Print and sign a roster through the use case both the CLI and the desk call
(examdesk.services.roster.print_roster): render, sign, write owner-only, verify, preview."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from examdesk.services.roster import (
    PrintedRoster,
    RootFolders,
    RosterRequest,
    SigningKey,
    print_roster,
)
from proctoring.errors import NotFound
from proctoring.store import Store
from reports.errors import WrongKeyPassword
from reports.keys import CreatedKeys
from reports.verify import ContentStatus

from . import builders
from .conftest import PASSWORD, open_store, pdftotext

SESSION = "TH-0612"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = open_store(tmp_path_factory.mktemp("print-service"))
    builders.online_exam(store, people=4, code=SESSION)
    yield store
    store.close()


def _roots(keys: CreatedKeys, tmp_path: Path) -> RootFolders:
    return RootFolders(keys.folder, tmp_path / "no-other-cas")


def test_signed_verified_and_previewed(store: Store, centre_keys: CreatedKeys,
                                       tmp_path: Path) -> None:
    out = tmp_path / "rosters" / "TH.pdf"
    request = RosterRequest(SESSION, out, "vi", room="Phòng 204", location="Hà Nội")
    printed = print_roster(store, request, sign=SigningKey(centre_keys.signer_p12, PASSWORD),
                           verify_with=_roots(centre_keys, tmp_path), preview=True)
    assert printed.signer == "Trung tâm Khảo thí Hà Nội"
    assert (printed.session_code, printed.candidates) == (SESSION, 4)
    assert printed.size == out.stat().st_size
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600  # personal data
    assert "Phòng 204" in pdftotext(out, 1, 1)
    v = printed.verification
    assert v is not None and v.ok and v.content.status is ContentStatus.MATCH
    assert v.content.content_hash == printed.content_hash
    if shutil.which("pdftoppm"):
        assert printed.first_page is not None and printed.first_page.width > 0
    doc = printed.to_dict()
    assert doc["signed"] is True and doc["bytes"] == printed.size and doc["path"] == str(out)


def test_unsigned_is_neither_verified_nor_previewed_unless_asked(
        store: Store, centre_keys: CreatedKeys, tmp_path: Path) -> None:
    out = tmp_path / "TH.pdf"
    printed = print_roster(store, RosterRequest(SESSION, out, "en"),
                           verify_with=_roots(centre_keys, tmp_path))
    assert isinstance(printed, PrintedRoster)
    assert (printed.signer, printed.verification, printed.first_page) == (None, None, None)
    assert printed.to_dict()["signed"] is False and out.exists()


def test_a_wrong_password_stops_before_anything_is_written(
        store: Store, centre_keys: CreatedKeys, tmp_path: Path) -> None:
    out = tmp_path / "TH.pdf"
    with pytest.raises(WrongKeyPassword):
        print_roster(store, RosterRequest(SESSION, out, "vi"),
                     sign=SigningKey(centre_keys.signer_p12, b"sai mat khau"))
    assert not out.exists()


def test_no_such_session_writes_nothing(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "none.pdf"
    with pytest.raises(NotFound):
        print_roster(store, RosterRequest("KHONG-CO", out, "vi"))
    assert not out.exists()
