"""The TD1 machine-readable zone on the back of a CCCD, as the card's issuer would print it.

Layout (research notes §2, checked against real cards): line 1 = ``ID`` ``VNM`` document
number (last 9 digits of the ID) and its check digit, the full 12-digit ID, ``<<``, a check
digit over the 12-digit ID; line 2 = standard TD1; line 3 = the name without diacritics.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

MRZ_NO_EXPIRY = "991231"  # cards valid "Không thời hạn" (no expiry) carry this date
_WEIGHTS = (7, 3, 1)


def check_digit(field: str) -> str:
    """ICAO 9303-3 §4.9: weights 7 3 1, digits as themselves, A-Z as 10-35, ``<`` as 0."""
    total = 0
    for i, ch in enumerate(field):
        if ch.isdigit():
            value = int(ch)
        elif "A" <= ch <= "Z":
            value = ord(ch) - ord("A") + 10
        elif ch == "<":
            value = 0
        else:
            raise ValueError(f"not an MRZ character: {ch!r}")
        total += value * _WEIGHTS[i % 3]
    return str(total % 10)


def transliterate(text: str) -> str:
    """Vietnamese → MRZ letters: drop diacritics, Đ → D, upper case, anything else → ``<``."""
    base = "".join(
        ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn"
    )
    base = base.replace("Đ", "D").replace("đ", "d").upper()
    return "".join(ch if "A" <= ch <= "Z" else "<" for ch in base)


def mrz_name(full_name: str, width: int = 30) -> str:
    """``SURNAME<<GIVEN<NAMES`` with the first word as the surname, padded/cut to ``width``."""
    words = [transliterate(w) for w in full_name.split()]
    if not words:
        raise ValueError("empty name")
    name = words[0] + "<<" + "<".join(words[1:])
    return name[:width].ljust(width, "<")


def yymmdd(d: date | None) -> str:
    return MRZ_NO_EXPIRY if d is None else d.strftime("%y%m%d")


@dataclass(frozen=True, slots=True)
class Td1:
    line1: str
    line2: str
    line3: str

    @property
    def lines(self) -> tuple[str, str, str]:
        return (self.line1, self.line2, self.line3)

    @property
    def text(self) -> str:
        """The 90 characters as stored in DG1."""
        return self.line1 + self.line2 + self.line3

    @property
    def document_number(self) -> str:
        return self.line1[5:14]

    @property
    def mrz_information(self) -> str:
        """Document number, DOB, expiry with their check digits: the BAC key seed input."""
        return self.line1[5:15] + self.line2[0:7] + self.line2[8:15]


def build_td1(
    id_number: str,
    date_of_birth: date,
    sex: str,
    date_of_expiry: date | None,
    full_name: str,
) -> Td1:
    """``sex`` is the card's word, ``Nam`` or ``Nữ``; ``None`` expiry means no expiry."""
    if len(id_number) != 12 or not id_number.isdigit():
        raise ValueError("the ID number has 12 digits")
    sex_code = {"Nam": "M", "Nữ": "F"}[sex]
    doc = id_number[3:]
    line1 = "IDVNM" + doc + check_digit(doc) + id_number + "<<" + check_digit(id_number)
    dob, doe = yymmdd(date_of_birth), yymmdd(date_of_expiry)
    head = dob + check_digit(dob) + sex_code + doe + check_digit(doe) + "VNM" + "<" * 11
    composite = check_digit(line1[5:30] + head[0:7] + head[8:15] + head[18:29])
    return Td1(line1, head + composite, mrz_name(full_name))
