"""Typed errors of the district: sync, its set-up, the proxy screen and the office's review.

Texts are in ``examdesk/i18n/sync.toml``; like :mod:`.errors`, each carries a message key, a
technical detail and context values.
"""

from __future__ import annotations

from .errors import ProctoringError


class SyncError(ProctoringError):
    """Base of the district errors."""

    key = "sync.error"


class CentralUnavailable(SyncError):
    """The district database cannot be reached (network down, server stopped, bad URL).

    Nothing is lost: the next sync starts where the district's copy ends."""

    key = "sync.central_unavailable"


class NotConfigured(SyncError):
    """No district database URL given (``--central`` or ``EXAMDESK_CENTRAL_URL``)."""

    key = "sync.not_configured"


class AccessRefused(SyncError):
    """The district database refused these credentials or this operation (wrong password, a
    centre account reading the office's tables, a row of another centre)."""

    key = "sync.access_refused"


class SchemaMismatch(SyncError):
    """The district database has another schema version than this examdesk."""

    key = "sync.schema_mismatch"


class ChainDiverged(SyncError):
    """The local audit chain does not continue the copy the district holds: the local database
    was restored from an old backup, replaced, or its log was altered. Nothing is sent."""

    key = "sync.chain_diverged"


class DistrictKeyChanged(SyncError):
    """The office's public key in the district database is not the one this centre pinned:
    evidence keys are not sent to an unknown key."""

    key = "sync.district_key_changed"


class NotADistrict(SyncError):
    """The database has no district (``examdesk district init`` was not run on it)."""

    key = "sync.not_a_district"


class CentreAmbiguous(SyncError):
    """The local database holds several centres: say which one syncs."""

    key = "sync.centre_ambiguous"


class ReviewNeedsNotes(SyncError):
    """A confirm or dismiss decision without written notes."""

    key = "review.needs_notes"


class SyncNeedsCentreKey(SyncError):
    """This desk never signed the centre's own chain (a station enrolled later, issue 17): the
    district recognises a centre by the key that chain is signed with, so the sync of the
    whole centre runs on the desk that holds it (context: ``centre``)."""

    key = "sync.needs_centre_key"


class StationChainDiverged(ChainDiverged):
    """A station's own chain (issue 17) does not continue the district's copy of it: cut back,
    restored from an old copy, or altered (context: ``station``, ``district_seq``,
    ``local_seq``). The sync stops there."""

    key = "sync.station_chain_diverged"
