"""The TD1 machine-readable zone (ICAO Doc 9303-5): 3 lines of 30 characters.

Read from DG1 on the chip or from the back of the card (OCR, typed). Every check digit is
verified; a bad one raises :class:`~reader.errors.CheckDigitError` naming the field, anything
else that does not fit the layout raises :class:`~reader.errors.MalformedData`.

Vietnamese CCCD cards put the full 12-digit ID in the line-1 optional data
(``IDVNM<9-digit doc no><cd><12-digit ID><<<cd>``), see ``shared/reference/cccd-chip.md`` §2.
"""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass
from datetime import date

from .errors import CheckDigitError, MalformedData

LINE_LENGTH = 30
TD1_LENGTH = 3 * LINE_LENGTH
FILLER = "<"

_WEIGHTS = (7, 3, 1)
_CHAR_VALUES = {
    **{c: i for i, c in enumerate(string.digits)},
    **{c: 10 + i for i, c in enumerate(string.ascii_uppercase)},
    FILLER: 0,
}
_MRZ_CHARS = frozenset(_CHAR_VALUES)
_NAME_STATE_CHARS = frozenset(string.ascii_uppercase + FILLER)

# 991231 is what one public sample shows for "Không thời hạn" cards (unconfirmed).
NO_EXPIRY_DATE = date(2099, 12, 31)


def check_digit(field: str) -> str:
    """ICAO 9303-3 §4.9 check digit: weights 7-3-1, digits as themselves, A=10…Z=35, ``<`` = 0."""
    total = 0
    for i, c in enumerate(field.upper() if field.isascii() else field):
        value = _CHAR_VALUES.get(c)
        if value is None:
            raise MalformedData(f"character {c!r} cannot appear in an MRZ", field=field)
        total += value * _WEIGHTS[i % 3]
    return str(total % 10)


@dataclass(frozen=True)
class Td1Mrz:
    document_code: str
    issuing_state: str
    document_number: str
    optional_data_1: str
    optional_data_2: str
    id_number: str | None
    date_of_birth: date
    sex: str
    date_of_expiry: date | None
    no_expiry: bool
    nationality: str
    surname: str
    given_names: str
    lines: tuple[str, str, str]

    @property
    def document_number_field(self) -> str:
        """The document number as BAC keys it: padded with ``<`` to at least 9 characters."""
        return self.document_number.ljust(9, FILLER)


def parse_td1(text: str, *, today: date | None = None) -> Td1Mrz:
    """Parse and verify a TD1 MRZ given as 3 lines or as one 90-character run.

    ``today`` decides the century of a birth date that has no CCCD ID to say it (tests pass it).
    """
    lines = _normalise(text)
    l1, l2, l3 = lines
    today = today or date.today()

    document_code = _field_text(l1[0:2], "document_code", letters_only=True)
    if not document_code or not document_code[0].isalpha():
        raise MalformedData("document code must start with a letter", field="document_code")
    issuing_state = _field_text(l1[2:5], "issuing_state", letters_only=True)

    # --- document number, including the ICAO long-number form (9303-5 §4.2.2 note j) ---
    optional_1 = l1[15:30]
    if l1[14] == FILLER:
        # The check digit slot holds '<': the number goes on at the start of the optional
        # data, followed by its check digit and a filler.
        end = optional_1.find(FILLER)
        if end == -1:
            end = len(optional_1)
        if end < 2:
            raise MalformedData(
                "document number overflow without continuation", field="document_number"
            )
        number_field = l1[5:14] + optional_1[: end - 1]
        number_cd = optional_1[end - 1]
        optional_1 = optional_1[end + 1 :]
        overflow = True
    else:
        number_field = l1[5:14]
        number_cd = l1[14]
        overflow = False
    _verify(number_field, number_cd, "document number", "document_number")
    document_number = number_field.rstrip(FILLER)
    if not document_number:
        raise MalformedData("empty document number", field="document_number")

    _verify(l2[0:6], l2[6], "date of birth", "date_of_birth")
    _verify(l2[8:14], l2[14], "date of expiry", "date_of_expiry")

    id_number = None if overflow else _cccd_id(optional_1)

    composite = l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29]
    _verify(composite, l2[29], "composite", "composite")

    date_of_birth = _birth_date(l2[0:6], id_number, today)
    date_of_expiry, no_expiry = _expiry_date(l2[8:14])

    sex = {"M": "M", "F": "F", FILLER: "X", "X": "X"}.get(l2[7])
    if sex is None:
        raise MalformedData(f"sex {l2[7]!r} is not M, F or <", field="sex")

    nationality = _field_text(l2[15:18], "nationality", letters_only=True)
    surname, given_names = _names(l3)

    return Td1Mrz(
        document_code=document_code,
        issuing_state=issuing_state,
        document_number=document_number,
        optional_data_1=optional_1.rstrip(FILLER),
        optional_data_2=l2[18:29].rstrip(FILLER),
        id_number=id_number,
        date_of_birth=date_of_birth,
        sex=sex,
        date_of_expiry=date_of_expiry,
        no_expiry=no_expiry,
        nationality=nationality,
        surname=surname,
        given_names=given_names,
        lines=lines,
    )


def _normalise(text: str) -> tuple[str, str, str]:
    if not isinstance(text, str):
        raise MalformedData("MRZ must be text")
    # Scanners and OCR add CR/LF, spaces inside lines and lowercase; none of it is MRZ data.
    rows = ["".join(row.split()) for row in text.splitlines()]
    rows = [row for row in rows if row]
    run = "".join(rows)
    if len(run) != TD1_LENGTH:
        raise MalformedData(f"a TD1 MRZ has 90 characters, got {len(run)}", length=len(run))
    if len(rows) > 1 and any(len(row) % LINE_LENGTH for row in rows):
        # Line breaks in the wrong place mean characters were lost or added somewhere.
        raise MalformedData(
            "MRZ lines must be 30 characters each", lengths=[len(row) for row in rows]
        )
    if not run.isascii():
        raise MalformedData("MRZ contains non-ASCII characters")
    run = run.upper()
    bad = sorted(set(run) - _MRZ_CHARS)
    if bad:
        raise MalformedData(f"characters {''.join(bad)!r} cannot appear in an MRZ")
    return run[0:30], run[30:60], run[60:90]


def _verify(field: str, digit: str, what: str, key: str) -> None:
    if check_digit(field) != digit:
        raise CheckDigitError(f"{what} check digit", field=key, data=field, check_digit=digit)


def _field_text(raw: str, key: str, *, letters_only: bool = False) -> str:
    if letters_only and not set(raw) <= _NAME_STATE_CHARS:
        raise MalformedData(f"{key} must be letters", field=key, data=raw)
    return raw.rstrip(FILLER)


def _cccd_id(optional_1: str) -> str | None:
    """The 12-digit ID when the optional data has the CCCD layout ``<12 digits><<<cd>``."""
    candidate = optional_1[:12]
    if not (
        len(optional_1) == 15
        and candidate.isdigit()
        and optional_1[12:14] == FILLER * 2
        and optional_1[14].isdigit()
    ):
        return None
    _verify(candidate, optional_1[14], "ID number", "id_number")
    return candidate


def _yymmdd(raw: str, year: int, key: str) -> date:
    try:
        return date(year, int(raw[2:4]), int(raw[4:6]))
    except ValueError as exc:
        raise MalformedData(f"{raw} is not a calendar date", field=key, data=raw) from exc


def _birth_date(raw: str, id_number: str | None, today: date) -> date:
    if not raw.isdigit():
        raise MalformedData("date of birth must be digits", field="date_of_birth", data=raw)
    yy = int(raw[0:2])
    if id_number is not None:
        # Thông tư 07/2016: digit 4 of the ID is century*2 + sex, 0/1 = 1900s, 2/3 = 2000s, …
        year = 1900 + (int(id_number[3]) // 2) * 100 + yy
    else:
        # An MRZ date of birth is in the past, so take the latest century that keeps it there.
        year = today.year // 100 * 100 + yy
        if year > today.year:
            year -= 100
    return _yymmdd(raw, year, "date_of_birth")


def _expiry_date(raw: str) -> tuple[date | None, bool]:
    if raw == FILLER * 6:
        return None, True
    if not raw.isdigit():
        raise MalformedData("date of expiry must be digits", field="date_of_expiry", data=raw)
    expiry = _yymmdd(raw, 2000 + int(raw[0:2]), "date_of_expiry")
    return expiry, expiry == NO_EXPIRY_DATE


def _names(line: str) -> tuple[str, str]:
    surname, _, given = line.partition(FILLER * 2)

    def clean(part: str) -> str:
        return unicodedata.normalize("NFC", " ".join(part.replace(FILLER, " ").split()))

    return clean(surname), clean(given)
