"""DG13, the Vietnamese data group of the CCCD chip (``shared/reference/cccd-chip.md`` §3).

``6D { 30 { INTEGER version, OID 1.0.10646.1.0.8, SET { 30 { INTEGER n, value… } … } } }``

Entries are indexed by their INTEGER, never by position: cards leave some out (14, 15) and
sources disagree on the numbering of the last ones. Every structural problem raises
:class:`~reader.errors.MalformedData`; a date that cannot be read only costs that date (it
goes to ``warnings``), since the rest of the card is still worth showing.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field, fields
from datetime import date

from .errors import MalformedData
from .tlv import Tlv, decode_all, decode_file

DG13_TAG = 0x6D
_SEQUENCE = 0x30
_SET = 0x31
_INTEGER = 0x02
_OID = 0x06
# 1.0.10646.1.0.8: ISO/IEC 10646 (probably "UTF-8").
DG13_OID = bytes.fromhex("28D316010008")

_UTF8 = 0x0C
_PRINTABLE = 0x13
_T61 = 0x14
_IA5 = 0x16
_UNIVERSAL = 0x1C
_BMP = 0x1E
_STRING_TAGS = frozenset({_UTF8, _PRINTABLE, _T61, _IA5, _UNIVERSAL, _BMP})

KNOWN_ENTRIES = range(1, 17)

# Field 13 nests a SEQUENCE per parent; nothing real goes deeper than this.
_MAX_DEPTH = 4


@dataclass(frozen=True)
class Dg13Fields:
    id_number: str | None = None
    full_name: str | None = None
    date_of_birth: date | None = None
    sex: str | None = None
    nationality: str | None = None
    ethnicity: str | None = None
    religion: str | None = None
    place_of_origin: str | None = None
    place_of_residence: str | None = None
    identifying_features: str | None = None
    date_of_issue: date | None = None
    date_of_expiry: date | None = None
    no_expiry: bool = False
    father_name: str | None = None
    mother_name: str | None = None
    spouse_name: str | None = None
    old_id_number: str | None = None
    field_16: str | None = None
    entries: dict[int, tuple[str, ...]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: dates in ISO 8601, entry numbers as string keys."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, date):
                value = value.isoformat()
            elif f.name == "entries":
                value = {str(n): list(v) for n, v in sorted(value.items())}
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


def parse_dg13(data: bytes) -> Dg13Fields:
    """Decode DG13 as read from the chip (the whole ``6D`` object, trailing padding allowed)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedData("DG13 must be bytes")
    warnings: list[str] = []
    entries = _entries(_entry_set(bytes(data)), warnings)

    def text(n: int, index: int = 0) -> str | None:
        values = entries.get(n, ())
        if index >= len(values):
            return None
        value = values[index].strip(" \t\r\n\x00")
        return value or None

    def when(n: int, name: str) -> date | None:
        raw = text(n)
        if raw is None:
            return None
        parsed = _date(raw)
        if parsed is None:
            warnings.append(f"{name}: cannot read date {raw!r}")
        return parsed

    id_number = text(1)
    if id_number is not None and not (id_number.isascii() and id_number.isdigit()):
        raise MalformedData("DG13 ID number is not digits", field="id_number")
    if id_number is not None and len(id_number) != 12:
        raise MalformedData(
            f"DG13 ID number has {len(id_number)} digits, not 12", field="id_number"
        )

    no_expiry = False
    expiry_text = text(12)
    if expiry_text is not None and _fold(expiry_text) in _NO_EXPIRY_WORDS:
        no_expiry = True
        date_of_expiry = None
    else:
        date_of_expiry = when(12, "date_of_expiry")

    return Dg13Fields(
        id_number=id_number,
        full_name=text(2),
        date_of_birth=when(3, "date_of_birth"),
        sex=text(4),
        nationality=text(5),
        ethnicity=text(6),
        religion=text(7),
        place_of_origin=text(8),
        place_of_residence=text(9),
        identifying_features=text(10),
        date_of_issue=when(11, "date_of_issue"),
        date_of_expiry=date_of_expiry,
        no_expiry=no_expiry,
        father_name=text(13, 0),
        mother_name=text(13, 1),
        spouse_name=text(14),
        old_id_number=text(15),
        field_16=text(16),
        entries=entries,
        warnings=tuple(warnings),
    )


def _entry_set(data: bytes) -> Tlv:
    outer = decode_file(data, DG13_TAG)
    body = _only(outer.children(), _SEQUENCE, "DG13 body")
    parts = body.children()
    if len(parts) != 3:
        raise MalformedData(f"DG13 body has {len(parts)} parts, expected 3")
    version, oid, entry_set = parts
    # The version is 1 on every known card; another value is kept readable rather than refused.
    if version.tag != _INTEGER or not version.value:
        raise MalformedData("DG13 version is not an INTEGER")
    if oid.tag != _OID or oid.value != DG13_OID:
        raise MalformedData("DG13 does not carry OID 1.0.10646.1.0.8", oid=oid.value.hex())
    if entry_set.tag != _SET:
        raise MalformedData(f"DG13 entries are in tag {entry_set.tag:X}, not a SET")
    return entry_set


def _only(children: list[Tlv], tag: int, what: str) -> Tlv:
    if len(children) != 1 or children[0].tag != tag:
        raise MalformedData(f"{what}: expected one object of tag {tag:X}")
    return children[0]


def _entries(entry_set: Tlv, warnings: list[str]) -> dict[int, tuple[str, ...]]:
    entries: dict[int, tuple[str, ...]] = {}
    for entry in entry_set.children():
        if entry.tag != _SEQUENCE:
            raise MalformedData(f"DG13 entry of tag {entry.tag:X}, not a SEQUENCE")
        parts = entry.children()
        if not parts or parts[0].tag != _INTEGER or not 1 <= len(parts[0].value) <= 4:
            raise MalformedData("DG13 entry does not start with its number")
        number = int.from_bytes(parts[0].value, "big", signed=True)
        if number < 0:
            raise MalformedData(f"DG13 entry number {number}")
        if number in entries:
            raise MalformedData(f"DG13 entry {number} appears twice", entry=number)
        values: list[str] = []
        for part in parts[1:]:
            values.extend(_strings(part, number, 1, warnings))
        entries[number] = tuple(values)
    return entries


def _strings(tlv: Tlv, number: int, depth: int, warnings: list[str]) -> list[str]:
    """The strings in one entry value, in order.

    A nested SEQUENCE holding nothing yields ``""`` so that field 13's "father unknown,
    mother known" keeps the mother in second place.
    """
    if tlv.tag in _STRING_TAGS:
        return [_decode(tlv, number)]
    if tlv.tag in (_SEQUENCE, _SET):
        if depth >= _MAX_DEPTH:
            raise MalformedData(f"DG13 entry {number} nested too deep", entry=number)
        children = decode_all(tlv.value)
        if not children:
            return [""]
        out: list[str] = []
        for child in children:
            out.extend(_strings(child, number, depth + 1, warnings))
        return out
    if number in KNOWN_ENTRIES or tlv.constructed:
        raise MalformedData(f"DG13 entry {number} holds tag {tlv.tag:X}", entry=number)
    # An entry we do not know yet must not make the whole card unreadable: keep it as hex.
    warnings.append(f"entry {number}: tag {tlv.tag:X} kept as hex")
    return [tlv.value.hex().upper()]


def _decode(tlv: Tlv, number: int) -> str:
    raw = tlv.value
    try:
        if tlv.tag == _BMP:
            text = raw.decode("utf-16-be")
        elif tlv.tag == _UNIVERSAL:
            text = raw.decode("utf-32-be")
        elif tlv.tag == _T61:
            # T.61 proper is rarely what writers mean; UTF-8 first, Latin-1 as the fallback.
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
        else:
            # Printable/IA5 are ASCII, a subset of UTF-8; reading them as UTF-8 also keeps
            # a card that put Vietnamese text in the wrong string type readable.
            text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedData(f"DG13 entry {number}: undecodable text", entry=number) from None
    return unicodedata.normalize("NFC", text)


def _date(text: str) -> date | None:
    """``dd/mm/yyyy`` (as on the card) or ``ddmmyyyy``."""
    if len(text) == 10 and text[2] == text[5] == "/":
        text = text[0:2] + text[3:5] + text[6:10]
    if not (len(text) == 8 and text.isascii() and text.isdigit()):
        return None
    try:
        return date(int(text[4:8]), int(text[2:4]), int(text[0:2]))
    except ValueError:
        return None


def _fold(text: str) -> str:
    """Lowercase, no diacritics, single spaces: ``"Không Thời  hạn"`` → ``"khong thoi han"``."""
    decomposed = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split())


_NO_EXPIRY_WORDS = frozenset({"khong thoi han", "vo thoi han", "khong xac dinh thoi han"})
