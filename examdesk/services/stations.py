"""The centre admin's station use cases, for the desk's station screen: the same calls
``examdesk station`` makes (proctoring/stations.py), with the centre found the same way
(``$EXAMDESK_CENTRE`` or the database's only centre) and one result the screen renders."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from proctoring.centres import CENTRE_ENV
from proctoring.stations import (
    DataKeyRotation,
    StationInfo,
    approve,
    enrol,
    list_stations,
    revoke,
    rotate_data_key,
)
from proctoring.store import Store
from proctoring.sync import local_centre


@dataclass(frozen=True)
class CentreStations:
    """The centre's stations, oldest enrolment first, and which one is this desk (None: this
    desk is not enrolled at the centre)."""

    centre_code: str
    centre_name: str
    stations: tuple[StationInfo, ...]

    @property
    def this_desk(self) -> StationInfo | None:
        return next((s for s in self.stations if s.this_desk), None)


def _centre_id(store: Store, code: str | None) -> tuple[uuid.UUID, str, str]:
    centre = local_centre(store, code=code or os.environ.get(CENTRE_ENV))
    return centre.id, centre.code, centre.name


def centre_stations(store: Store, *, centre: str | None = None) -> CentreStations:
    centre_id, code, name = _centre_id(store, centre)
    return CentreStations(code, name, tuple(list_stations(store, centre_id)))


def enrol_this_desk(store: Store, *, name: str, stages: Sequence[str], actor: str,
                    centre: str | None = None) -> StationInfo:
    """This desk becomes a station of the centre (active at once on a desk holding the data
    key, else waiting for approval on one that does)."""
    centre_id, _code, _name = _centre_id(store, centre)
    return enrol(store, centre_id=centre_id, name=name, stages=",".join(stages) or None,
                 actor=actor)


def approve_station(store: Store, *, station_id: uuid.UUID, fingerprint_seen: str, actor: str,
                    centre: str | None = None) -> StationInfo:
    """Give a pending station the data keys, only if ``fingerprint_seen`` (what the admin read
    on the new desk) is its keys' fingerprint at the centre (checked as it seals)."""
    centre_id, _code, _name = _centre_id(store, centre)
    return approve(store, centre_id=centre_id, ref=str(station_id), actor=actor,
                   expect_fingerprint=fingerprint_seen)


def revoke_station(store: Store, *, station_id: uuid.UUID, reason: str, actor: str,
                   centre: str | None = None) -> StationInfo:
    """Refuse the station's later writes and take its copies of the data keys (a written
    reason is required)."""
    centre_id, _code, _name = _centre_id(store, centre)
    return revoke(store, centre_id=centre_id, ref=str(station_id), actor=actor, reason=reason)


def rotate_centre_data_key(store: Store, *, reason: str, actor: str,
                           centre: str | None = None) -> DataKeyRotation:
    """A new data key for the centre, sealed to its active stations only, so a revoked desk
    cannot open evidence stored from now on; the old key is kept (sealed to the current
    stations) for older evidence. A written reason is required. ``examdesk station
    rotate-data-key`` and the station screen both call this."""
    centre_id, _code, _name = _centre_id(store, centre)
    return rotate_data_key(store, centre_id=centre_id, actor=actor, reason=reason)
