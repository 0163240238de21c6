"""Typed errors of the proctoring store and services.

Same pattern as :mod:`reader.errors`: a message *key* (texts in ``examdesk/i18n/proctoring.toml``),
a technical ``detail`` for logs, and ``context`` values the texts may show.
"""

from __future__ import annotations

from dataclasses import dataclass

from examdesk.keyed_error import KeyedError


class ProctoringError(KeyedError):
    """Base of every error the proctoring package raises on purpose."""

    key = "proctoring.error"


class DatabaseUnavailable(ProctoringError):
    """The database cannot be opened or reached (bad URL, server down, locked file)."""

    key = "proctoring.database_unavailable"
    # A URL that is none, or names another database, is worded; the driver's refusal (server
    # down, a locked file) is shown in its own words after the sentence.
    reasons = "proctoring.database_unavailable"


class DatabaseLoginRefused(ProctoringError):
    """The database server refused this desk's login (a wrong password, a dropped or unknown
    role: SQLSTATE 28P01 / 28000). Deliberately not a :class:`DatabaseUnavailable`: the server
    answered, so this is no outage — a desk must not keep check-ins in its offline outbox for a
    centre that will never let it in, but show it and stop."""

    key = "proctoring.login_refused"


class KeyUnavailable(ProctoringError):
    """The data key or the centre's signing key cannot be read or created."""

    key = "proctoring.key_unavailable"
    # The causes a user meets (a key file's permissions or size, a damaged keyring entry, the
    # OS refusing the file) are worded each (proctoring.key_unavailable.<reason>).
    reasons = "proctoring.key_unavailable"


class KeyringUnavailable(KeyUnavailable):
    """The OS keyring did not answer (locked, its service down, a backend error). Never read as
    "no key": a key made now would replace the one the keyring holds."""

    key = "proctoring.keyring_unavailable"


class KeyMissing(KeyUnavailable):
    """The database records a key (context: ``key_id``) that is neither in the keyring nor in
    its file. examdesk does not make a new one: what it sealed or signed would be orphaned."""

    key = "proctoring.key_missing"


class KeyMismatch(KeyUnavailable):
    """This machine holds a key (``found``) other than the one the database records
    (``key_id``): another installation's, or one made while the right one was unreachable."""

    key = "proctoring.key_mismatch"


class EvidenceUnreadable(ProctoringError):
    """An evidence blob does not decrypt: another data key, or the blob or its row was changed."""

    key = "proctoring.evidence_unreadable"


class EvidencePurged(ProctoringError):
    """The evidence existed but was deleted by the retention purge."""

    key = "proctoring.evidence_purged"


class NotFound(ProctoringError):
    """No row with this id (or code)."""

    key = "proctoring.not_found"


class SessionNotFound(NotFound):
    """No exam session with this id or code."""

    key = "proctoring.session_not_found"


class AmbiguousReference(ProctoringError):
    """A short id or code matches several rows."""

    key = "proctoring.ambiguous"


class InvalidInput(ProctoringError):
    """A value given to a service does not fit (a stage a session lacks, a bad time, ...)."""

    key = "proctoring.invalid_input"
    reasons = "proctoring.input"


class SessionCodeTaken(InvalidInput):
    """Another session of the centre already has this code (context: ``code``)."""

    key = "proctoring.session_code_taken"


class SessionClosed(ProctoringError):
    """The exam session is closed: no more roster changes or check-ins."""

    key = "proctoring.session_closed"


class ConsentRequired(ProctoringError):
    """Biometric evidence was given for a check-in whose candidate did not consent."""

    key = "proctoring.consent_required"


class OverrideNeedsReason(ProctoringError):
    """An invigilator tried to override a decision without a written reason."""

    key = "proctoring.override_needs_reason"


@dataclass(frozen=True)
class RowError:
    """One problem in one row of an imported roster file (row 1 = the header)."""

    row: int
    column: str
    key: str
    value: str = ""
    detail: str = ""  # technical, English, for logs and --json
    # Values the texts show (the row an ID first appeared in, ...): (name, value) pairs.
    facts: tuple[tuple[str, object], ...] = ()

    def context(self) -> dict[str, object]:
        """What the message texts may show: the value, the facts and the detail."""
        return {"value": self.value, "detail": self.detail, **dict(self.facts)}

    def to_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "key": self.key, "value": self.value,
                "detail": self.detail, **({"facts": dict(self.facts)} if self.facts else {})}


class RosterInvalid(ProctoringError):
    """The roster file has errors; nothing was imported."""

    key = "roster.invalid"

    def __init__(self, errors: list[RowError], detail: str = "", **context: object) -> None:
        super().__init__(detail or f"{len(errors)} error(s) in the roster", count=len(errors),
                         **context)
        self.errors = errors


class RosterUnreadable(ProctoringError):
    """The roster file cannot be read at all (not CSV/XLSX, no header, unreadable)."""

    key = "roster.unreadable"
    reasons = "roster.unreadable"


class AuditKeyInvalid(ProctoringError):
    """A public key given to verify the audit log with (``--key FILE``) is not an Ed25519 key
    (context: ``path``)."""

    key = "proctoring.audit_key_invalid"


class RosterTooLarge(RosterUnreadable):
    """The roster file is bigger than any roster (context: ``file``, ``limit``): refused
    before it is read into memory, so a crafted file cannot exhaust it."""

    key = "roster.too_large"


class RosterTooManyRows(RosterTooLarge):
    """More rows than a session can have (context: ``file``, ``limit``, ``row``)."""

    key = "roster.too_many_rows"


class RosterTooManyColumns(RosterTooLarge):
    """More columns than a roster has (context: ``file``, ``limit``)."""

    key = "roster.too_many_columns"


class RosterFieldTooLong(RosterTooLarge):
    """One cell longer than any roster value (context: ``file``, ``limit``, ``row``)."""

    key = "roster.field_too_long"


class ForgedOverrideNeedsAdmin(ProctoringError):
    """Admitting a candidate whose card the chip checks found FORGED is the centre admin's
    decision, not an invigilator's (context: ``role``, the role that asked)."""

    key = "proctoring.forged_override_needs_admin"


class ForgedOverrideNotConfirmed(ProctoringError):
    """Admitting on a FORGED card needs a second, explicit confirmation."""

    key = "proctoring.forged_override_not_confirmed"


class CheckInNotFound(NotFound):
    """No check-in with this id or id prefix (context: ``ref``)."""

    key = "proctoring.checkin_not_found"


class CheckInAmbiguous(AmbiguousReference):
    """The id prefix matches several check-ins (context: ``ref``)."""

    key = "proctoring.checkin_ambiguous"


class CheckInRefInvalid(InvalidInput):
    """What was typed is neither a check-in id nor its first hex digits (context: ``ref``)."""

    key = "proctoring.checkin_ref_invalid"


class MomentNeedsTime(InvalidInput):
    """A session's start or end given as a date without a time (context: ``field``,
    ``value``): refused rather than silently read as midnight."""

    key = "proctoring.moment_needs_time"


class SessionStartImplausible(InvalidInput):
    """A session start no exam can have (context: ``value``, ``earliest``, ``latest``):
    before chip ID cards existed, or years ahead — a mistyped year."""

    key = "proctoring.session_start_implausible"


class SessionReopenNeedsReason(InvalidInput):
    """Reopening a closed session needs a written reason (it is audited)."""

    key = "proctoring.reopen_needs_reason"


class SessionNotClosed(InvalidInput):
    """Only a closed session can be reopened (context: ``session``)."""

    key = "proctoring.session_not_closed"
