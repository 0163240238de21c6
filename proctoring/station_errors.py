"""Typed errors of the stations of a centre (texts: ``examdesk/i18n/stations.toml``)."""

from __future__ import annotations

from .errors import InvalidInput, KeyUnavailable, NotFound, ProctoringError


class StationRefused(ProctoringError):
    """This desk may not write to the centre's database (context: ``station``)."""

    key = "station.refused"


class StationRevoked(StationRefused):
    """This desk's station was revoked (a stolen or retired desk): every write is refused
    (context: ``station``, ``by``, ``at``)."""

    key = "station.revoked"


class StationPending(StationRefused):
    """This desk is enrolled but no desk holding the data key has approved it yet (context:
    ``station``, ``fingerprint``)."""

    key = "station.pending"


class StationKeysExist(KeyUnavailable):
    """This desk already holds station keys for the centre (context: ``where``): enrolling
    again would replace them, which examdesk never does."""

    key = "station.keys_exist"


class StationNameTaken(InvalidInput):
    """Another station of the centre has this name (context: ``name``)."""

    key = "station.name_taken"


class StationStageUnknown(InvalidInput):
    """A stage a station cannot serve (context: ``stage``, ``allowed``)."""

    key = "station.stage_unknown"


class StationNotFound(NotFound):
    """No station of the centre with this name or id prefix (context: ``ref``)."""

    key = "station.not_found"


class StationNoDataKey(KeyUnavailable):
    """This desk cannot open the centre's data key, so it cannot seal it to another station
    (context: ``station``)."""

    key = "station.no_data_key"


class StationSelf(InvalidInput):
    """A desk cannot revoke its own station (someone else must: the desk may be the stolen
    one)."""

    key = "station.revoke_self"


class StationsRotateData(InvalidInput):
    """``keys rotate --key data`` on a centre with stations (context: ``station``): the new key
    would reach no station; ``station rotate-data-key`` seals it to each."""

    key = "station.rotate_with_stations"


class StationLastHolder(InvalidInput):
    """Revoking this station would leave no desk able to open the current data key (context:
    ``station``): enrol and approve another desk first."""

    key = "station.last_holder"


class StationFingerprintMismatch(InvalidInput):
    """The fingerprint the admin read on the new desk is not the one of the station's keys at
    the centre (context: ``station``, ``expected``, ``seen``): a row whose keys were swapped
    must not be given the data key."""

    key = "station.fingerprint_mismatch"
