"""Typed errors of the chip reader.

Each error carries a message *key*; the application turns the key into Vietnamese or English
text (``examdesk/i18n``), logs keep the key and the details. Nothing here knows any language.
"""

from __future__ import annotations

from examdesk.keyed_error import KeyedError


class ReaderError(KeyedError):
    """Base of every error the reader raises on purpose."""

    key = "card.error"


# --- the reader and the card as physical things -------------------------------------------


class NoReader(ReaderError):
    """No PC/SC reader is attached, or none matches the requested name."""

    key = "card.no_reader"


class PcscUnavailable(ReaderError):
    """The PC/SC service (pcscd) is not running or cannot be reached."""

    key = "card.pcsc_unavailable"


class NoCard(ReaderError):
    """The reader is there but no card was presented in time."""

    key = "card.no_card"


class CardRemoved(ReaderError):
    """The card left the reader while we were talking to it."""

    key = "card.removed"


class TransportError(ReaderError):
    """The reader failed to carry an APDU (not a card answer)."""

    key = "card.transport"


class TransportLimit(TransportError):
    """The reader cannot carry an APDU this long (e.g. no extended length)."""

    key = "card.transport_limit"


# --- what the card answered ----------------------------------------------------------------


class CardStatusError(ReaderError):
    """The card answered with a status word that means failure."""

    key = "card.status"

    def __init__(self, sw: int, detail: str = "", **context: object) -> None:
        super().__init__(detail or f"status word {sw:04X}", sw=f"{sw:04X}", **context)
        self.sw = sw


class NotAnIdCard(CardStatusError):
    """The card has no eMRTD application: a bank card, a transit card, ..."""

    key = "card.not_an_id_card"


class WrongCardKey(CardStatusError):
    """Access control failed: the MRZ / QR / CAN data does not belong to this card."""

    key = "card.wrong_key"


class WrongCan(WrongCardKey):
    """Every key given was a CAN, and the card refused it."""

    key = "card.wrong_can"


class WrongMrzKey(WrongCardKey):
    """Every key given was an MRZ key (document number, birth, expiry), and the card refused it."""

    key = "card.wrong_mrz_key"


class NeedsMrzKey(WrongCardKey):
    """Only a CAN was given, but the card offers no PACE: BAC needs the MRZ data."""

    key = "card.needs_mrz_key"


class AccessDenied(CardStatusError):
    """The file needs an access right we do not have (e.g. DG3 without EAC)."""

    key = "card.access_denied"


class FileNotFound(CardStatusError):
    """The file is not on the card."""

    key = "card.file_not_found"


class WrongLength(CardStatusError):
    """The card refused the length of the command or of the expected answer (67xx / 6Cxx)."""

    key = "card.wrong_length"


class EndOfFile(CardStatusError):
    """The card read past the end of the file (6B00, or 6282 with no data)."""

    key = "card.end_of_file"


class SecureMessagingError(ReaderError):
    """Secure messaging broke: the card reported 6987/6988, or its answer failed our checks.

    Data from such an answer is never used.
    """

    key = "card.secure_messaging"


# --- what we read ----------------------------------------------------------------------------


class MalformedData(ReaderError):
    """A file or an input does not have the structure the standard says."""

    key = "card.malformed"


class OverLimit(MalformedData):
    """The card declares something larger than any genuine card carries (a file length, a key
    size, curve parameters, an image's pixels): refused before the work it would cost."""

    key = "card.over_limit"


class UnreadableCard(MalformedData):
    """The card's data made a parser or a library fail in a way nothing anticipated.

    ``read_card`` turns every such failure into this error, so a hostile card always ends in a
    typed error that the check-in can record, never in a traceback.
    """

    key = "card.unreadable"


def is_card_fault(exc: ReaderError) -> bool:
    """Did the card's own data fail (a forged or broken chip), rather than the invigilator's
    input, the reader or the link? Such a failure is recorded as a rejected check-in."""
    return isinstance(exc, MalformedData | InconsistentCard) and not isinstance(
        exc, InvalidKeyInput)


class CheckDigitError(MalformedData):
    """An MRZ check digit does not match."""

    key = "card.check_digit"


class InvalidKeyInput(MalformedData):
    """What the invigilator typed or scanned cannot give a card key: a mistake in the input,
    found before any card is touched.

    ``reason`` picks the words (message key ``card.input.<reason>``); ``field`` in the context
    names the field the catalogue shows in words (``field.<field>``). The English ``detail`` is
    for logs only and never shown inside a message.
    """

    key = "card.invalid_key_input"
    reasons = "card.input"


class MistypedCheckDigit(InvalidKeyInput, CheckDigitError):
    """A check digit of an MRZ that was typed or scanned does not match: an input mistake (exit
    2, naming the field), still a :class:`CheckDigitError` for code that asks for one."""


class InconsistentCard(ReaderError):
    """Data groups on one card disagree with each other (e.g. DG1 and DG13 IDs)."""

    key = "card.inconsistent"
