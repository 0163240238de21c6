"""The one place where a typed error ends a command: its bilingual line and its exit status.

Every package raises errors derived from :class:`examdesk.keyed_error.KeyedError` (a message key,
a detail, a context). A command runs its body inside :func:`cli_errors` (or is decorated with
:func:`handles_errors`); whatever typed error escapes is printed once — Vietnamese then English
on stderr, and with ``--json`` an error object on stdout — and the process exits with the status
below. A command whose options give an error a different meaning passes its own ``extra`` rows,
looked up before the shared table. A command that worked but decided against the candidate or
the card ends with a decision's own status (10-12), so a script can tell them from errors.

:data:`EXIT_MEANINGS` is the one table of what each status means; the README's exit-status
table is the same (a test compares them).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn, ParamSpec, TypeVar

from biometrics import errors as face_errors
from examdesk.commands.common import fail
from examdesk.i18n import system_error
from examdesk.keyed_error import KeyedError
from examdesk.settings import SettingsError
from proctoring import errors as store_errors
from proctoring import station_errors, sync_errors
from reader import errors as card_errors
from reports import errors as report_errors

ExitTable = Sequence[tuple[type[Exception], int]]

EXIT_OUTPUT = 7
EXIT_TAMPERED = 8
# Decisions, not errors: the command did its work and printed (or, with --json, wrote) it.
EXIT_REVIEW = 10
EXIT_REJECT = 11
EXIT_FORGED = 12
EXIT_DAMAGED = 13

EXIT_MEANINGS: tuple[tuple[int, str], ...] = (
    (0, "done: read, admitted, written, verified"),
    (1, "any other failure (the message says what)"),
    (2, "a value given is not valid (an option, a file, a key typed, a rule in the settings)"),
    (3, "something needed is not there: the reader, the card, the database, a key, a font, "
        "a face, the camera"),
    (4, "the card refused its key / the record named does not exist or is ambiguous / "
        "`face drift`: the operating point drifted, recalibrate"),
    (5, "the card was taken away / the session is closed"),
    (6, "not an ID card / the district refused these credentials"),
    (7, "the output cannot be written"),
    (8, "refused for safety: tampering found, or the district's chain or key changed"),
    (9, "the district database has another schema version / a document is not trusted"),
    (10, "`checkin`: REVIEW, the candidate waits for an invigilator's decision"),
    (11, "`checkin`: REJECT, the candidate is refused entry"),
    (12, "`card read`: the chip is FORGED"),
    (13, "`roster verify`: the file is damaged or incomplete (cut short), not a readable PDF"),
)


class BadOption(KeyedError):
    """An option's value a command cannot use (exit 2). A command's own kinds subclass it with
    their message key, so parsing an option raises instead of ending the command itself."""

    key = "proctoring.invalid_input"


class OutputFailed(KeyedError):
    """The file a command writes cannot be written (exit 7; context: ``path``)."""

    key = "io.output"


@contextmanager
def os_errors(kind: type[KeyedError], **context: Any) -> Iterator[None]:
    """An ``OSError`` in the body becomes *kind*, its detail the system's words, with
    *context*: the one conversion for a file a command reads or writes itself."""
    try:
        yield
    except OSError as exc:
        raise kind(system_error(exc), **context) from exc

# Most specific first: the first row whose type the error is decides.
EXIT_CODES: ExitTable = (
    # the district (sync, office)
    (sync_errors.NotConfigured, 2),
    (sync_errors.CentreAmbiguous, 2),
    (sync_errors.ReviewNeedsNotes, 2),
    (sync_errors.CentralUnavailable, 3),
    (sync_errors.AccessRefused, 6),
    (sync_errors.NotADistrict, 6),
    (sync_errors.ChainDiverged, EXIT_TAMPERED),
    (sync_errors.DistrictKeyChanged, EXIT_TAMPERED),
    (sync_errors.SchemaMismatch, 9),
    # the store
    (station_errors.StationRefused, EXIT_TAMPERED),  # a revoked or unapproved desk writing
    (store_errors.InvalidInput, 2),
    (store_errors.AuditKeyInvalid, 2),
    (store_errors.RosterInvalid, 2),
    (store_errors.RosterUnreadable, 2),
    (store_errors.OverrideNeedsReason, 2),
    (store_errors.ConsentRequired, 2),
    (store_errors.DatabaseUnavailable, 3),
    (store_errors.DatabaseLoginRefused, 6),  # as the district's AccessRefused
    (store_errors.KeyUnavailable, 3),
    (store_errors.NotFound, 4),
    (store_errors.AmbiguousReference, 4),
    (store_errors.SessionClosed, 5),
    # the card
    (card_errors.InvalidKeyInput, 2),
    (card_errors.NoReader, 3),
    (card_errors.PcscUnavailable, 3),
    (card_errors.NoCard, 3),
    (card_errors.WrongCardKey, 4),
    (card_errors.CardRemoved, 5),
    (card_errors.NotAnIdCard, 6),
    # the face
    (face_errors.ImageUnreadable, 2),
    (face_errors.DatasetError, 2),
    (face_errors.NoFace, 3),
    (face_errors.SeveralFaces, 3),
    (face_errors.PoorImage, 3),
    # documents
    (report_errors.WrongKeyPassword, 2),  # before its base class
    (report_errors.PasswordTooShort, 2),
    (report_errors.InvalidPeriod, 2),
    (report_errors.NotAPdf, 2),
    (report_errors.NoSignatureField, 2),
    (report_errors.IssuerOfAnotherCentre, 2),
    (report_errors.SigningKeyUnreadable, 3),
    (report_errors.FontMissing, 3),
    (report_errors.KeyFilesExist, EXIT_OUTPUT),
    (report_errors.OutputUnwritable, EXIT_OUTPUT),
    # the command's own
    (BadOption, 2),
    (OutputFailed, EXIT_OUTPUT),
)

# What a command stops on: the project's typed errors and the settings file's.
Handled = (KeyedError, SettingsError)


def exit_code(exc: BaseException, extra: ExitTable = ()) -> int:
    """The status a command ends with for *exc*: the command's own rows, then the shared table;
    1 when neither names it."""
    return next((code for kind, code in (*extra, *EXIT_CODES) if isinstance(exc, kind)), 1)


def exit_code_for_key(key: str, extra: ExitTable = ()) -> int:
    """The same status for an error reported as a message key rather than raised (a background
    sync's result records the key of what went wrong)."""
    # A kind worded by reason records "<its reasons>.<reason>": the same kind, the same status.
    return next((code for kind, code in (*extra, *EXIT_CODES) if _is_kind(kind, key)), 1)


def _is_kind(kind: type[Exception], key: str) -> bool:
    reasons = getattr(kind, "reasons", "")
    return getattr(kind, "key", None) == key or bool(reasons and key.startswith(reasons + "."))


def fail_error(exc: KeyedError | SettingsError, as_json: bool,
               extra: ExitTable = ()) -> NoReturn:
    """End the command on *exc*: its own key, detail and context, the status of the table."""
    fail(exc.key, as_json, exit_code(exc, extra), exc.detail, **exc.context)


@contextmanager
def cli_errors(as_json: bool, extra: ExitTable = ()) -> Iterator[None]:
    """Run a command's body; a typed error escaping it ends the command as the table says."""
    try:
        yield
    except Handled as exc:
        fail_error(exc, as_json, extra)


P = ParamSpec("P")
R = TypeVar("R")


def handles_errors(extra: ExitTable = ()) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a typer command so its whole body runs in :func:`cli_errors`; ``--json`` is read
    from the command's ``as_json`` parameter. Typer reads the wrapped signature."""

    def decorate(command: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(command)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with cli_errors(bool(kwargs.get("as_json", False)), extra):
                return command(*args, **kwargs)

        return run

    return decorate
