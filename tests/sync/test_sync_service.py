"""The sync use case both ``examdesk sync`` and the desk call (examdesk.services.sync), against
a real district PostgreSQL and the centres' own SQLite databases."""

from __future__ import annotations

import pytest

from examdesk.services.sync import (
    SyncRequest,
    background_sync,
    centre_to_sync,
    district_address,
    forget_address,
    sync_now,
    sync_state,
)
from proctoring.centres import ensure_centre
from proctoring.errors import InvalidInput
from proctoring.store import Store
from proctoring.sync_errors import CentreAmbiguous

from .builders import ACTOR, person, session_with_roster
from .conftest import DistrictEnv


@pytest.fixture(autouse=True)
def _no_address_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXAMDESK_CENTRAL_URL", raising=False)
    monkeypatch.delenv("EXAMDESK_CENTRE", raising=False)


def _a_session(store: Store) -> None:
    """Something for the district: a session and its roster (audit events waiting)."""
    session_with_roster(store, "S1", [person(0), person(1)])


def test_an_address_is_kept_only_once_the_district_accepted_it(
        district: DistrictEnv, centres: dict[str, Store]) -> None:
    hn = centres["HN01"]
    _a_session(hn)
    assert sync_state(hn).status.pending > 0
    assert background_sync(hn, centre_code=None, interval=3600,
                           on_result=lambda _r: None) is None  # offline: no worker
    wrong = district.url_as("centre_hn01", "not-the-password")
    refused = sync_now(hn, SyncRequest(wrong, save=True))
    assert refused.result.error is not None
    assert refused.result.error.key == "sync.access_refused"
    assert refused.saved_to is None and district_address(hn) is None

    synced = sync_now(hn, SyncRequest(district.centre_urls["HN01"], save=True))
    assert synced.result.ok and synced.saved_to is not None
    assert synced.to_dict(with_saved=True)["saved"] == synced.saved_to
    assert "saved" not in synced.to_dict()
    address = district_address(hn)
    assert address is not None and district.centre_passwords["HN01"] not in address

    state = sync_state(hn)
    assert state.address == address and state.status.pending == 0
    assert state.status.district_code == "SGD-HN"
    assert state.to_dict()["address"] == address

    # The saved address is what a run without one uses, and what the desk's worker needs.
    again = sync_now(hn, SyncRequest())
    assert again.result.ok and again.saved_to is None
    worker = background_sync(hn, centre_code="HN01", interval=3600, on_result=lambda _r: None)
    assert worker is not None and worker.centre_id == centre_to_sync(hn, "HN01")

    assert forget_address(hn) is True and forget_address(hn) is False
    assert district_address(hn) is None


def test_several_centres_need_a_code(district: DistrictEnv,
                                     centres: dict[str, Store]) -> None:
    hn = centres["HN01"]
    ensure_centre(hn, "HN09", "Trung tâm thứ hai", actor=ACTOR)
    url = district.centre_urls["HN01"]
    with pytest.raises(CentreAmbiguous):
        sync_now(hn, SyncRequest(url))
    with pytest.raises(CentreAmbiguous):
        sync_state(hn)
    with pytest.raises(InvalidInput):
        centre_to_sync(hn, "XX99")
    assert centre_to_sync(hn, None) is None
    synced = sync_now(hn, SyncRequest(url, centre_code="HN01"))
    assert synced.result.ok, synced.result.error
    assert synced.result.centre_id == centre_to_sync(hn, "HN01")
    assert sync_state(hn, "HN01").status.last_success_at is not None


def test_saving_needs_an_address(centres: dict[str, Store]) -> None:
    with pytest.raises(InvalidInput):
        sync_now(centres["HN01"], SyncRequest(None, save=True))
