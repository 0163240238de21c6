"""Sync with the district: ``examdesk sync`` and the desk (its background sync, the badge, the
Settings screen's "test and save the address") run these functions.

The district's address is the one given, else ``EXAMDESK_CENTRAL_URL``, else the one saved on
this machine (OS keyring or an owner-only file) after the district accepted it. Which centre:
the code given, else the database's only centre.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from proctoring.central import configured_central, forget_central_url, has_central
from proctoring.errors import InvalidInput
from proctoring.store import Store
from proctoring.sync import (
    SyncResult,
    SyncStatus,
    SyncWorker,
    local_centre,
    sync_and_save,
    sync_once,
    sync_status,
)


@dataclass(frozen=True)
class SyncRequest:
    """One sync run. ``central``: the district URL with this centre's login (None: the
    variable, else the saved address); ``save``: keep ``central`` once the district accepted
    it; ``district_key``: the office's public key (hex) to trust instead of the first seen;
    ``register_as``: the code the office gave this centre, when not its local code."""

    central: str | None = None
    centre_code: str | None = None
    register_as: str | None = None
    district_key: str | None = None
    save: bool = False


@dataclass(frozen=True)
class Synced:
    """What the run did (its ``error`` says what went wrong, if anything: a sync never raises
    for a failure it can name), and where the address was saved (None: not saved)."""

    result: SyncResult
    saved_to: str | None = None

    def to_dict(self, *, with_saved: bool = False) -> dict[str, Any]:
        doc = self.result.to_dict()
        if with_saved:
            doc["saved"] = self.saved_to
        return doc


@dataclass(frozen=True)
class SyncState:
    """The last sync and what waits (a local read, no network), and the address a sync would
    use now (its password hidden; None: none configured)."""

    status: SyncStatus
    address: str | None

    def to_dict(self) -> dict[str, Any]:
        return {**self.status.to_dict(), "address": self.address}


def centre_to_sync(store: Store, code: str | None) -> uuid.UUID | None:
    """The centre called ``code``; None without a code (the sync takes the only centre).
    ``InvalidInput`` when no centre has that code."""
    return local_centre(store, code=code).id if code else None


def sync_now(store: Store, request: SyncRequest) -> Synced:
    """One run: push what the district lacks, pull the office's review decisions; with
    ``request.save``, keep the address only if the district accepted it (a typo is never
    saved). Raises only when the database names no single centre (``InvalidInput``,
    ``CentreAmbiguous``) or ``save`` comes without an address."""
    if request.save and not request.central:
        raise InvalidInput("saving needs the district's address", field="central")
    options: dict[str, Any] = {"centre_id": centre_to_sync(store, request.centre_code),
                               "district_key": request.district_key,
                               "register_as": request.register_as}
    if request.save and request.central:
        result, saved_to = sync_and_save(store, request.central, **options)
        return Synced(result, saved_to)
    return Synced(sync_once(store, request.central, **options))


def sync_state(store: Store, centre_code: str | None = None) -> SyncState:
    """The sync's state for the centre (``centre_code``, else the only one)."""
    return SyncState(sync_status(store, centre_to_sync(store, centre_code)),
                     configured_central(store.keys))


def district_address(store: Store) -> str | None:
    """The address a sync would use now, password hidden; None when none is configured."""
    return configured_central(store.keys)


def forget_address(store: Store) -> bool:
    """Delete the saved district address; False when none was saved."""
    return forget_central_url(store.keys)


def background_sync(store: Store, *, centre_code: str | None, interval: float,
                    on_result: Callable[[SyncResult], None]) -> SyncWorker | None:
    """The desk's sync every ``interval`` s (not started), or None when no address is
    configured (the desk works offline). Each run resolves the address again (the variable,
    then the saved one), so an address saved later needs no new worker."""
    if not has_central(store.keys):
        return None
    return SyncWorker(store, None, interval=interval,
                      centre_id=centre_to_sync(store, centre_code), on_result=on_result)
