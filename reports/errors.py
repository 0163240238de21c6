"""Typed errors of the reports package (rosters, fraud reports, signing, verification).

Same pattern as :mod:`proctoring.errors`: a message *key* (texts in
``examdesk/i18n/reports.toml``), a technical ``detail`` for logs, and ``context`` values the texts
may show. Nothing here knows any language.
"""

from __future__ import annotations

from examdesk.keyed_error import KeyedError


class ReportsError(KeyedError):
    """Base of every error the reports package raises on purpose."""

    key = "reports.error"


class FontMissing(ReportsError):
    """No TrueType font with Vietnamese glyphs was found (the fonts-dejavu-core apt package)."""

    key = "reports.font_missing"


class SigningKeyUnreadable(ReportsError):
    """The PKCS#12 file cannot be read: missing, not PKCS#12, or without a key and certificate."""

    key = "reports.key_unreadable"
    # The file is not a PKCS#12 / lacks a part: each cause worded (the OS's own errors keep
    # the key and show the system's words).
    reasons = "reports.key_unreadable"


class WrongKeyPassword(SigningKeyUnreadable):
    """The PKCS#12 file is fine but the password does not open it."""

    key = "reports.key_password"


class KeyFilesExist(ReportsError):
    """``keys create`` would overwrite keys that are already there."""

    key = "reports.key_exists"


class NotAPdf(ReportsError):
    """The file to verify is not a PDF at all (or cannot be read)."""

    key = "reports.not_a_pdf"


class OutputUnwritable(ReportsError):
    """The report file or the key files cannot be written."""

    key = "reports.output"


class InvalidPeriod(ReportsError):
    """A fraud report's dates are not dates, or end before they start."""

    key = "reports.bad_period"


class NotADate(InvalidPeriod):
    """A typed date is not one (context: ``value``)."""

    key = "reports.not_a_date"


class PeriodReversed(InvalidPeriod):
    """The period ends before it starts (context: ``start``, ``end``, as dd/mm/yyyy)."""

    key = "reports.period_reversed"


class PasswordTooShort(ReportsError):
    """A new PKCS#12 password is too short to protect a signing key."""

    key = "reports.password_short"


class NoSignatureField(ReportsError):
    """The PDF to sign has no empty signature field (it is not a roster, or already signed)."""

    key = "reports.no_signature_field"


class IssuerOfAnotherCentre(ReportsError):
    """``keys create --issuer``: that CA was made for another centre (context: ``centre``,
    ``issuer_centre``); a signer it issued could never verify for this one."""

    key = "reports.issuer_other_centre"


class InvalidRosterFacts(ReportsError):
    """The facts embedded in a roster PDF are not those of a roster examdesk made: ``roster
    verify`` reports "not a valid roster" instead of failing on them."""

    key = "reports.invalid_roster"


class FactsTooLarge(InvalidRosterFacts):
    """The embedded facts inflate past the cap (a Flate bomb): refused while inflating
    (context: ``limit``, in MB)."""

    key = "reports.facts_too_large"


class FactsIncomplete(InvalidRosterFacts):
    """The embedded facts lack a part every roster has, or a part has the wrong type
    (context: ``field``, the path of the first one)."""

    key = "reports.facts_incomplete"


class FactsFormatUnknown(InvalidRosterFacts):
    """The embedded facts name a format this version does not know (a newer examdesk's, or
    none): the database's facts cannot be recomputed in it."""

    key = "reports.facts_format"


class FactsOverLimit(InvalidRosterFacts):
    """A part of the embedded facts is larger than any roster's (context: ``field``,
    ``limit``): too many reasons, a reason key or value too long."""

    key = "reports.facts_over_limit"
