"""What the invigilator scans or types → the key that opens the chip.

BAC is keyed by the document number, date of birth and date of expiry (ICAO 9303-11 §4.3);
PACE by the CAN. A CCCD's document number is the last 9 digits of its 12-digit ID and its
CAN the last 6 (``shared/reference/cccd-chip.md`` §1-2). The front-of-card QR code has no
expiry, so :func:`expiry_candidates` derives it from the renewal ages in the law (§5).

Bad input raises :class:`~reader.errors.InvalidKeyInput` with the precise reason.
:func:`access_keys` (the command line's options) and :func:`parse_card_key` (what the desk's
key field holds) turn what was given into the keys to try; both front ends share them here.
"""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass
from datetime import date

from .errors import CheckDigitError, InvalidKeyInput, MalformedData, MistypedCheckDigit
from .mrz import FILLER, NO_EXPIRY_DATE, check_digit, parse_td1

# Province / centrally-run city codes (Thông tư 07/2016/TT-BCA, which reuses the two-digit
# administrative codes of Quyết định 124/2004/QĐ-TTg with a leading 0). IDs keep the code of
# the birth registration, and as far as we know the 2025 merged provinces took their codes from
# this list, so it should still cover every ID issued.
PROVINCE_CODES: frozenset[str] = frozenset(
    f"{n:03d}"
    for n in (
        1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33, 34, 35,
        36, 37, 38, 40, 42, 44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70,
        72, 74, 75, 77, 79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96,
    )
)  # fmt: skip

# Luật Căn cước 2023 took effect on this day; cards issued from it renew at 14 as well.
CAN_CUOC_LAW_START = date(2024, 7, 1)
CCCD_RENEWAL_AGES = (25, 40, 60)
CAN_CUOC_RENEWAL_AGES = (14, 25, 40, 60)
# A card issued this many years or less before a renewal age lasts to the next one.
GRACE_YEARS = 2

_DOCUMENT_NUMBER_CHARS = frozenset(string.ascii_uppercase + string.digits + FILLER)

_SEX_WORDS = {
    "m": "M",
    "nam": "M",
    "male": "M",
    "f": "F",
    "nữ": "F",
    "nu": "F",
    "female": "F",
}


def normalise_sex(value: str) -> str:
    """``"Nam"``/``"Nữ"``/``"M"``/``"F"`` (any case, any Unicode form) → ``"M"`` or ``"F"``."""
    if not isinstance(value, str):
        raise InvalidKeyInput("sex must be text", reason="not_text", field="sex")
    key = unicodedata.normalize("NFC", value).strip().casefold()
    try:
        return _SEX_WORDS[key]
    except KeyError:
        raise InvalidKeyInput(f"unknown sex {value!r}", reason="sex", field="sex",
                              value=value) from None


def _ascii_digits(text: str) -> bool:
    # str.isdigit() also accepts '²' and Arabic-Indic digits, which no card carries.
    return text.isascii() and text.isdigit()


def _compact(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidKeyInput(f"{what} must be text", reason="not_text", field=what)
    # People type IDs in groups ("001 093 047 064"); the spaces carry nothing.
    return "".join(unicodedata.normalize("NFC", value).split())


def _require_date(value: object, what: str) -> date:
    if not isinstance(value, date):
        raise InvalidKeyInput(f"{what} must be a date", reason="not_date", field=what)
    # A datetime would compare and format differently; keep only the calendar day.
    return date(value.year, value.month, value.day)


def birth_century(century_sex_digit: int) -> int:
    """First year of the birth century coded by ID digit 4: 0/1 → 1900, 2/3 → 2000, …"""
    return 1900 + (century_sex_digit // 2) * 100


def validate_id_number(
    number: str,
    date_of_birth: date | None = None,
    sex: str | None = None,
    *,
    today: date | None = None,
) -> str:
    """Check a 12-digit CCCD ID ``PPP G YY NNNNNN`` and return it without spaces.

    ``G`` codes century and sex (even = male), ``YY`` the birth year (Thông tư 07/2016/TT-BCA).
    """
    value = _compact(number, "id_number")
    if not value:
        raise InvalidKeyInput("no ID given", reason="empty", field="id_number")
    if not _ascii_digits(value):
        raise InvalidKeyInput("the ID may contain digits only", reason="digits_only",
                              field="id_number")
    if len(value) != 12:
        raise InvalidKeyInput(
            f"the ID has 12 digits, got {len(value)}", reason="id_length", field="id_number",
            length=len(value)
        )
    if value[:3] not in PROVINCE_CODES:
        raise InvalidKeyInput(
            f"{value[:3]} is not a province code", reason="province", field="id_number",
            province=value[:3]
        )
    g = int(value[3])
    century = birth_century(g)
    birth_year = century + int(value[4:6])
    today = today or date.today()
    if birth_year > today.year:
        raise InvalidKeyInput(
            f"digits 4-6 ({value[3:6]}) give birth year {birth_year}, in the future",
            reason="id_birth_future", field="id_number", year=birth_year,
        )
    if date_of_birth is not None:
        dob = _require_date(date_of_birth, "date_of_birth")
        if dob.year // 100 * 100 != century:
            raise InvalidKeyInput(
                f"digit 4 ({g}) means born {century}-{century + 99}, date of birth is {dob.year}",
                reason="id_century", field="id_number", digit=g, first=century,
                last=century + 99, year=dob.year,
            )
        if dob.year % 100 != int(value[4:6]):
            raise InvalidKeyInput(
                f"digits 5-6 ({value[4:6]}) do not match the birth year {dob.year}",
                reason="id_year", field="id_number", digits=value[4:6], year=dob.year,
            )
    if sex is not None:
        code = normalise_sex(sex)
        coded = "F" if g % 2 else "M"
        if code != coded:
            raise InvalidKeyInput(
                f"digit 4 ({g}) means sex {coded}, given {sex!r}", reason="id_sex",
                field="id_number", digit=g
            )
    return value


# --- BAC -------------------------------------------------------------------------------------


def _yymmdd(d: date) -> str:
    return f"{d.year % 100:02d}{d.month:02d}{d.day:02d}"


@dataclass(frozen=True)
class BacKey:
    """The BAC key material; ``document_number`` is kept padded with ``<`` to 9 characters."""

    document_number: str
    date_of_birth: date
    date_of_expiry: date

    def __post_init__(self) -> None:
        number = _compact(self.document_number, "document_number").upper()
        if not set(number) <= _DOCUMENT_NUMBER_CHARS:
            raise InvalidKeyInput(
                "the document number may contain A-Z, 0-9 and < only", reason="document_chars",
                field="document_number"
            )
        significant = number.rstrip(FILLER)
        # 9 in the number field + at most 13 continued in the TD1 optional data.
        if not 1 <= len(significant) <= 22:
            raise InvalidKeyInput(
                f"document number of {len(significant)} characters", reason="document_length",
                field="document_number", length=len(significant)
            )
        dob = _require_date(self.date_of_birth, "date_of_birth")
        doe = _require_date(self.date_of_expiry, "date_of_expiry")
        if dob >= doe:
            raise InvalidKeyInput("date of birth is not before date of expiry",
                                  reason="dates_order", field="date_of_expiry")
        object.__setattr__(self, "document_number", significant.ljust(9, FILLER))
        object.__setattr__(self, "date_of_birth", dob)
        object.__setattr__(self, "date_of_expiry", doe)

    @property
    def mrz_information(self) -> bytes:
        """ICAO 9303-11 §9.7.1 MRZ_information: the input to the key seed's SHA-1."""
        parts = (self.document_number, _yymmdd(self.date_of_birth), _yymmdd(self.date_of_expiry))
        return "".join(p + check_digit(p) for p in parts).encode("ascii")

    @classmethod
    def from_id_number(cls, number: str, date_of_birth: date, date_of_expiry: date) -> BacKey:
        """From the 12-digit CCCD ID (keyed by its last 9 digits) or the 9-digit document number.

        Feeding all 12 digits as the document number gives a key the chip rejects, which is
        why the 12-digit form is cut here rather than by the caller.
        """
        value = _compact(number, "id_number").upper()
        dob = _require_date(date_of_birth, "date_of_birth")
        if len(value) == 12:
            document_number = validate_id_number(value, dob)[3:]
        elif len(value) == 9:
            document_number = value
            if _ascii_digits(value):
                _check_cccd_document_number(value, dob)
        else:
            raise InvalidKeyInput(
                f"expected the 12-digit ID or the 9-character document number, got {len(value)}",
                reason="id_or_document_length", field="id_number",
                length=len(value),
            )
        return cls(document_number, dob, date_of_expiry)

    @classmethod
    def from_mrz(cls, text: str) -> BacKey:
        """From the MRZ on the back. What ``parse_td1`` finds wrong is a typing or scanning
        mistake here, not bad data on a card: it becomes :class:`InvalidKeyInput` naming the
        field (a check digit, the layout, a character)."""
        try:
            mrz = parse_td1(text)
        except CheckDigitError as exc:
            raise MistypedCheckDigit(exc.detail, reason="mrz_check_digit",
                                     field=exc.context.get("field", "mrz")) from None
        except MalformedData as exc:
            raise _mrz_input_error(exc) from None
        if mrz.date_of_expiry is None:
            raise InvalidKeyInput("the MRZ has no date of expiry", reason="mrz_no_expiry",
                                  field="date_of_expiry")
        return cls(mrz.document_number, mrz.date_of_birth, mrz.date_of_expiry)


def _mrz_input_error(exc: MalformedData) -> InvalidKeyInput:
    """A layout or character error of a typed MRZ, in the words of what to fix."""
    context = exc.context
    if "lengths" in context:
        return InvalidKeyInput(exc.detail, reason="mrz_lines", field="mrz",
                               lines=len(context["lengths"]))  # type: ignore[arg-type]
    if "length" in context:
        return InvalidKeyInput(exc.detail, reason="mrz_length", field="mrz",
                               length=context["length"])
    if "field" in context:
        return InvalidKeyInput(exc.detail, reason="mrz_field", field=context["field"])
    return InvalidKeyInput(exc.detail, reason="mrz_characters", field="mrz")


def _check_cccd_document_number(number: str, dob: date) -> None:
    # A CCCD document number starts with the century/sex digit and the birth year; a 9-digit
    # number that does not is most likely the old CMND number, which cannot open the chip.
    same_century = birth_century(int(number[0])) == dob.year // 100 * 100
    if not same_century or number[1:3] != f"{dob.year % 100:02d}":
        raise InvalidKeyInput(
            f"document number {number} does not start with the birth century and year "
            f"of {dob.isoformat()} (an old CMND number?)",
            reason="old_cmnd", field="id_number",
        )


# --- PACE ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Can:
    """Card access number for PACE: on a CCCD, the last 6 digits of the ID."""

    value: str

    def __post_init__(self) -> None:
        value = _compact(self.value, "can")
        if not (_ascii_digits(value) and len(value) == 6):
            raise InvalidKeyInput("a CAN is 6 digits", reason="can", field="can",
                                  length=len(value))
        object.__setattr__(self, "value", value)

    @classmethod
    def from_id_number(cls, id_number: str) -> Can:
        return cls(validate_id_number(id_number)[6:])


# --- the front-of-card QR code -----------------------------------------------------------------


@dataclass(frozen=True)
class QrPayload:
    id_number: str
    old_id_number: str | None
    full_name: str
    date_of_birth: date
    sex: str  # as printed: "Nam" / "Nữ"
    address: str
    date_of_issue: date | None

    @property
    def sex_code(self) -> str:
        return normalise_sex(self.sex)


def _qr_date(raw: str, what: str) -> date:
    text = raw.strip()
    if len(text) == 10 and text[2] == text[5] == "/":
        text = text[0:2] + text[3:5] + text[6:10]
    if not (_ascii_digits(text) and len(text) == 8):
        raise InvalidKeyInput(f"{what} {raw!r} is not ddmmyyyy or dd/mm/yyyy",
                              reason="qr_date", field=what, value=raw)
    try:
        return date(int(text[4:8]), int(text[2:4]), int(text[0:2]))
    except ValueError:
        raise InvalidKeyInput(f"{what} {raw!r} is not a calendar date",
                              reason="not_calendar_date", field=what, value=raw) from None


def parse_qr(text: str | bytes, *, today: date | None = None) -> QrPayload:
    """Parse the CCCD front QR code.

    Standard, 7 fields: ``ID|oldID|name|DOB|sex|address|issue``.
    "Zalo" variant, 6 fields: ``ID|name|DOB|sex|address|issue`` (no old ID, dd/mm/yyyy dates).
    Either date form (``ddmmyyyy``, ``dd/mm/yyyy``) is accepted in both.
    """
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidKeyInput("the QR code is not UTF-8", reason="qr_encoding",
                                  field="qr") from None
    if not isinstance(text, str):
        raise InvalidKeyInput("the QR code must be text or bytes", reason="not_text",
                              field="qr")
    text = unicodedata.normalize("NFC", text).strip().lstrip("\ufeff").strip()
    fields = text.split("|")
    if len(fields) == 7:
        id_raw, old_raw, name, dob_raw, sex_raw, address, issue_raw = fields
    elif len(fields) == 6:
        id_raw, name, dob_raw, sex_raw, address, issue_raw = fields
        old_raw = ""
    else:
        raise InvalidKeyInput(
            f"a CCCD QR code has 7 (or 6) fields, got {len(fields)}",
            reason="qr_fields", field="qr",
            fields=len(fields),
        )
    if not dob_raw.strip():
        raise InvalidKeyInput("the QR code has no date of birth", reason="missing",
                              field="date_of_birth")
    date_of_birth = _qr_date(dob_raw, "date_of_birth")
    date_of_issue = _qr_date(issue_raw, "date_of_issue") if issue_raw.strip() else None
    sex = sex_raw.strip()
    id_number = validate_id_number(id_raw, date_of_birth, sex, today=today)
    old_id = "".join(old_raw.split())
    if old_id and not (_ascii_digits(old_id) and len(old_id) <= 12):
        raise InvalidKeyInput(f"old ID {old_raw!r} is not a number", reason="old_id",
                              field="old_id_number", value=old_raw)
    full_name = " ".join(name.split())
    if not full_name:
        raise InvalidKeyInput("the QR code has no name", reason="missing", field="full_name")
    if date_of_issue is not None and date_of_issue < date_of_birth:
        raise InvalidKeyInput("issued before the date of birth", reason="issued_before_birth",
                              field="date_of_issue")
    return QrPayload(
        id_number=id_number,
        old_id_number=old_id or None,
        full_name=full_name,
        date_of_birth=date_of_birth,
        sex=sex,
        address=" ".join(address.split()),
        date_of_issue=date_of_issue,
    )


# --- expiry from the renewal ages ------------------------------------------------------------


def _birthdays(date_of_birth: date, year: int) -> list[date]:
    """The holder's birthday in ``year``; 29 February gives 28 February then 1 March."""
    try:
        return [date_of_birth.replace(year=year)]
    except ValueError:
        return [date(year, 2, 28), date(year, 3, 1)]


def expiry_candidates(
    date_of_birth: date, date_of_issue: date | None, *, today: date | None = None
) -> list[date]:
    """Possible card expiry dates, most likely first.

    The card expires on the birthday of the first renewal age (25/40/60; 14/25/40/60 for
    cards issued from 2024-07-01) whose birthday comes more than 2 years after the issue
    date; past the last one it never expires, which the MRZ is believed to write as 991231
    (:data:`NO_EXPIRY_DATE`). Order: the rule's answer, the milestone the 2-year rule
    skipped, the next milestone, then 2099-12-31. Without an issue date the upcoming
    milestones of the holder's current age come first, then the last one passed (an expired
    card), then 2099-12-31. ``today`` only matters without an issue date (tests pass it).
    """
    dob = _require_date(date_of_birth, "date_of_birth")
    doi = None if date_of_issue is None else _require_date(date_of_issue, "date_of_issue")
    today = _require_date(today or date.today(), "today")
    if dob > today:
        raise InvalidKeyInput("date of birth is in the future", reason="birth_future",
                              field="date_of_birth")
    if doi is not None and doi < dob:
        raise InvalidKeyInput("issued before the date of birth", reason="issued_before_birth",
                              field="date_of_issue")

    ages = _ages_by_issue(dob, doi) if doi is not None else _ages_by_current_age(dob, today)
    result: list[date] = []
    for age in [*ages, None]:
        for d in [NO_EXPIRY_DATE] if age is None else _birthdays(dob, dob.year + age):
            if d not in result:
                result.append(d)
    return result


def _milestone(dob: date, age: int) -> date:
    return _birthdays(dob, dob.year + age)[0]


def _ages_by_issue(dob: date, doi: date) -> list[int | None]:
    """Renewal ages, most likely first, for a card issued on ``doi``; None = never expires."""
    ages = CAN_CUOC_RENEWAL_AGES if doi >= CAN_CUOC_LAW_START else CCCD_RENEWAL_AGES
    upcoming: list[int | None] = [a for a in ages if _milestone(dob, a) > doi]
    upcoming.append(None)
    first = upcoming[0]
    if first is not None and doi >= _milestone(dob, first - GRACE_YEARS):
        # Issued within 2 years before `first`: valid to the milestone after it. `first`
        # stays the runner-up in case the issue date or the rule is off by a little.
        return [upcoming[1], first, *upcoming[2:3]]
    return upcoming[:2]


def _ages_by_current_age(dob: date, today: date) -> list[int | None]:
    """Renewal ages, most likely first, when only the holder's age is known."""
    # A Căn cước can have been issued before 14 only under the 2023 law.
    ages = [a for a in CAN_CUOC_RENEWAL_AGES if a != 14 or _milestone(dob, 14) > CAN_CUOC_LAW_START]
    upcoming: list[int | None] = [a for a in ages if _milestone(dob, a) > today]
    passed = [a for a in ages if _milestone(dob, a) <= today]
    if not upcoming:
        return [None, *passed[-1:]]
    # The nearest milestone, the one after (issued within its grace period), then an
    # expired card.
    return [*upcoming[:2], *passed[-1:]]


def bac_keys_from_qr(
    payload: QrPayload | str | bytes, *, today: date | None = None
) -> list[BacKey]:
    """One BAC key per expiry candidate, most likely first."""
    qr = payload if isinstance(payload, QrPayload) else parse_qr(payload, today=today)
    return [
        BacKey.from_id_number(qr.id_number, qr.date_of_birth, expiry)
        for expiry in expiry_candidates(qr.date_of_birth, qr.date_of_issue, today=today)
    ]


# --- what was given → the keys to try ----------------------------------------------------------

# The two kinds of key a chip opens with (reader.access tries them in the order given).
AccessKey = BacKey | Can


def _parse_date(text: str, what: str) -> date:
    text = text.strip()
    try:
        if "/" in text:
            d, m, y = text.split("/")
            return date(int(y), int(m), int(d))
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidKeyInput(f"{what} {text!r} is not a date (YYYY-MM-DD)", reason="date",
                              field=what, value=text) from exc


def access_keys(id_number: str | None, dob: str | None, expiry: str | None, mrz: str | None,
          qr: str | None, can: str | None) -> list[AccessKey]:
    """The keys to try, most direct first. A CAN needs no expiry date, so whenever the CAN is
    known (typed, or the last 6 digits of the ID) PACE-CAN comes before any guessed BAC key."""
    given = [id_number is not None or dob is not None or expiry is not None, mrz is not None,
             qr is not None, can is not None]
    if sum(given) != 1:
        raise InvalidKeyInput(
            "give exactly one of --id [--dob --expiry], --mrz, --qr or --can",
            reason="one_key")
    if can is not None:
        return [Can(can)]
    if mrz is not None:
        return [BacKey.from_mrz(mrz)]
    if qr is not None:
        payload = parse_qr(qr)
        return [Can.from_id_number(payload.id_number), *bac_keys_from_qr(payload)]
    assert id_number is not None
    if dob is None and expiry is None:
        return [Can.from_id_number(id_number)]
    if not (dob and expiry):
        raise InvalidKeyInput("--dob and --expiry go together", reason="dob_expiry",
                              field="--expiry" if dob else "--dob")
    if expiry.strip().lower() in ("none", "khong-thoi-han", "không thời hạn"):
        exp = date(2099, 12, 31)
    else:
        exp = _parse_date(expiry, "--expiry")
    key = BacKey.from_id_number(id_number, _parse_date(dob, "--dob"), exp)
    keys: list[AccessKey] = [key]
    if len(id_number.strip()) == 12:
        keys.append(Can.from_id_number(id_number))
    return keys


def parse_card_key(text: str) -> list[AccessKey]:
    """What the invigilator typed or scanned → the keys to try (the command line's rules):
    a QR payload (has "|"), an MRZ (has "<"), a 6-digit CAN, or the 12-digit ID."""
    text = text.strip()
    if "|" in text:
        return access_keys(None, None, None, None, text, None)
    if "<" in text:
        return access_keys(None, None, None, text, None, None)
    digits = "".join(text.split())
    if digits.isdigit() and len(digits) == 6:
        return access_keys(None, None, None, None, None, digits)
    if digits.isdigit() and len(digits) == 12:
        return access_keys(digits, None, None, None, None, None)
    raise InvalidKeyInput("type the 6-digit CAN, the 12-digit ID, or scan the QR / MRZ",
                          reason="unrecognised")
