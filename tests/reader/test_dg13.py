"""DG13 (Vietnamese data) parsing, on byte strings built here independently of reader.tlv."""

from __future__ import annotations

import json
import unicodedata
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reader.dg13 import Dg13Fields, parse_dg13
from reader.errors import MalformedData

OID = bytes.fromhex("060628D316010008")


# --- a tiny BER encoder, independent of reader.tlv ------------------------------------------


def tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    elif n <= 0xFF:
        length = bytes([0x81, n])
    else:
        length = bytes([0x82, n >> 8, n & 0xFF])
    return bytes([tag]) + length + value


def utf8(text: str) -> bytes:
    return tlv(0x0C, text.encode("utf-8"))


def printable(text: str) -> bytes:
    return tlv(0x13, text.encode("ascii"))


def seq(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


def entry(n: int, *values: bytes) -> bytes:
    return seq(tlv(0x02, bytes([n])), *values)


def dg13(*entries: bytes, oid: bytes = OID, version: bytes = b"\x02\x01\x01") -> bytes:
    return tlv(0x6D, seq(version, oid, tlv(0x31, b"".join(entries))))


# --- a full card ------------------------------------------------------------------------------

RESIDENCE = (
    "Số nhà 123, Ngõ 45, Đường Nguyễn Trãi, Phường Thượng Đình, Quận Thanh Xuân, "
    "Thành phố Hà Nội, Việt Nam"
)
ORIGIN = (
    "Xóm Đình, Thôn Đông, Xã Khánh Hà, Huyện Thường Tín, Thành phố Hà Nội, Việt Nam, "
    "gần đình làng Khánh Vân"
)

FULL_ENTRIES = [
    entry(1, printable("001093047064")),
    entry(2, utf8("Đinh Duy Tân")),
    entry(3, printable("05/01/1993")),
    entry(4, utf8("Nữ")),
    entry(5, utf8("Việt Nam")),
    entry(6, utf8("Kinh")),
    entry(7, utf8("Không")),
    entry(8, utf8(ORIGIN)),
    entry(9, utf8(RESIDENCE)),
    entry(10, utf8("Sẹo chấm C:1cm trên trước đầu lông mày trái")),
    entry(11, printable("15/03/2022")),
    entry(12, utf8("05/01/2033")),
    entry(13, seq(utf8("Đinh Văn Hùng")), seq(utf8("Nguyễn Thị Lan"))),
    entry(14, seq(utf8("Trần Văn Bình"))),
    entry(15, printable("212566766")),
    entry(16, printable("0A1B2C3D4E5F6071")),
]
FULL_CARD = dg13(*FULL_ENTRIES)


def test_full_card() -> None:
    assert len(RESIDENCE.encode()) > 127 and len(ORIGIN.encode()) > 127
    # Long-form lengths are really exercised, and the ID sits where khoa288 reads it.
    assert b"\x0c\x81" in FULL_CARD and FULL_CARD[:2] == b"\x6d\x82"
    assert FULL_CARD[30:42] == b"001093047064"

    fields = parse_dg13(FULL_CARD)
    assert fields == Dg13Fields(
        id_number="001093047064",
        full_name="Đinh Duy Tân",
        date_of_birth=date(1993, 1, 5),
        sex="Nữ",
        nationality="Việt Nam",
        ethnicity="Kinh",
        religion="Không",
        place_of_origin=ORIGIN,
        place_of_residence=RESIDENCE,
        identifying_features="Sẹo chấm C:1cm trên trước đầu lông mày trái",
        date_of_issue=date(2022, 3, 15),
        date_of_expiry=date(2033, 1, 5),
        no_expiry=False,
        father_name="Đinh Văn Hùng",
        mother_name="Nguyễn Thị Lan",
        spouse_name="Trần Văn Bình",
        old_id_number="212566766",
        field_16="0A1B2C3D4E5F6071",
        entries=fields.entries,
        warnings=(),
    )
    assert fields.entries[13] == ("Đinh Văn Hùng", "Nguyễn Thị Lan")
    assert sorted(fields.entries) == list(range(1, 17))


def test_to_dict_is_json_ready() -> None:
    d = parse_dg13(FULL_CARD).to_dict()
    text = json.dumps(d, ensure_ascii=False)
    back = json.loads(text)
    assert back["date_of_birth"] == "1993-01-05"
    assert back["date_of_expiry"] == "2033-01-05"
    assert back["no_expiry"] is False
    assert back["entries"]["2"] == ["Đinh Duy Tân"]
    assert back["warnings"] == []
    assert back["father_name"] == "Đinh Văn Hùng"


def test_entry_order_does_not_matter() -> None:
    shuffled = dg13(*reversed(FULL_ENTRIES))
    assert parse_dg13(shuffled) == parse_dg13(FULL_CARD)


# --- field 13, 14, 15 -------------------------------------------------------------------------


def _with(n: int, replacement: bytes | None) -> bytes:
    entries = [e for i, e in enumerate(FULL_ENTRIES, 1) if i != n]
    if replacement is not None:
        entries.append(replacement)
    return dg13(*entries)


def test_parents_in_one_sequence() -> None:
    fields = parse_dg13(_with(13, entry(13, seq(utf8("Đinh Văn Hùng"), utf8("Nguyễn Thị Lan")))))
    assert (fields.father_name, fields.mother_name) == ("Đinh Văn Hùng", "Nguyễn Thị Lan")


def test_parents_as_direct_strings() -> None:
    fields = parse_dg13(_with(13, entry(13, utf8("Đinh Văn Hùng"), utf8("Nguyễn Thị Lan"))))
    assert (fields.father_name, fields.mother_name) == ("Đinh Văn Hùng", "Nguyễn Thị Lan")


def test_unknown_father_keeps_the_mother_second() -> None:
    fields = parse_dg13(_with(13, entry(13, seq(), seq(utf8("Nguyễn Thị Lan")))))
    assert fields.father_name is None
    assert fields.mother_name == "Nguyễn Thị Lan"
    assert fields.entries[13] == ("", "Nguyễn Thị Lan")


def test_only_father() -> None:
    fields = parse_dg13(_with(13, entry(13, seq(utf8("Đinh Văn Hùng")), seq())))
    assert (fields.father_name, fields.mother_name) == ("Đinh Văn Hùng", None)


def test_empty_spouse() -> None:
    empty = entry(14)
    assert empty == bytes.fromhex("3003 02010E")
    fields = parse_dg13(_with(14, empty))
    assert fields.spouse_name is None
    assert fields.entries[14] == ()


def test_spouse_as_direct_string() -> None:
    assert parse_dg13(_with(14, entry(14, utf8("Trần Văn Bình")))).spouse_name == "Trần Văn Bình"


def test_spouse_empty_nested_sequence() -> None:
    assert parse_dg13(_with(14, entry(14, seq()))).spouse_name is None


def test_absent_14_and_15() -> None:
    card = dg13(*[e for i, e in enumerate(FULL_ENTRIES, 1) if i not in (14, 15)])
    fields = parse_dg13(card)
    assert fields.spouse_name is None and fields.old_id_number is None
    assert 14 not in fields.entries and 15 not in fields.entries
    assert fields.field_16 == "0A1B2C3D4E5F6071"  # indexed by number, not shifted


def test_unknown_entry_17_is_kept() -> None:
    fields = parse_dg13(dg13(*FULL_ENTRIES, entry(17, utf8("thêm"), printable("X"))))
    assert fields.entries[17] == ("thêm", "X")
    assert fields.warnings == ()


def test_unknown_entry_with_binary_value_is_kept_as_hex() -> None:
    fields = parse_dg13(dg13(*FULL_ENTRIES, entry(20, tlv(0x04, b"\x01\xab"))))
    assert fields.entries[20] == ("01AB",)
    assert len(fields.warnings) == 1


def test_only_some_entries() -> None:
    fields = parse_dg13(dg13(entry(2, utf8("Đinh Duy Tân"))))
    assert fields.full_name == "Đinh Duy Tân"
    assert fields.id_number is None and fields.date_of_birth is None
    assert parse_dg13(dg13()) == Dg13Fields()


# --- expiry and dates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["Không thời hạn", "KHÔNG THỜI HẠN", "Khong thoi han", " Không  thời hạn "]
)
def test_no_expiry(text: str) -> None:
    fields = parse_dg13(_with(12, entry(12, utf8(unicodedata.normalize("NFD", text)))))
    assert fields.no_expiry is True
    assert fields.date_of_expiry is None
    assert fields.warnings == ()


def test_dates_without_slashes() -> None:
    card = dg13(entry(3, printable("05011993")), entry(11, printable("15032022")))
    fields = parse_dg13(card)
    assert (fields.date_of_birth, fields.date_of_issue) == (date(1993, 1, 5), date(2022, 3, 15))


@pytest.mark.parametrize(
    "raw", ["31/02/1993", "1993-01-05", "5/1/1993", "xx/yy/zzzz", "٠٥/٠١/١٩٩٣"]
)
def test_unreadable_date_is_a_warning(raw: str) -> None:
    fields = parse_dg13(_with(3, entry(3, utf8(raw))))
    assert fields.date_of_birth is None
    assert fields.entries[3] == (raw,)
    assert len(fields.warnings) == 1 and "date_of_birth" in fields.warnings[0]
    assert fields.full_name == "Đinh Duy Tân"  # the rest of the card survives


# --- string types -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (tlv(0x0C, "Đinh Duy Tân".encode()), "Đinh Duy Tân"),
        (tlv(0x0C, unicodedata.normalize("NFD", "Đinh Duy Tân").encode()), "Đinh Duy Tân"),
        (tlv(0x13, b"DINH DUY TAN"), "DINH DUY TAN"),
        (tlv(0x16, b"Dinh Duy Tan"), "Dinh Duy Tan"),
        (tlv(0x14, b"Dinh Duy T\xe2n"), "Dinh Duy Tân"),
        (tlv(0x14, "Đinh Duy Tân".encode()), "Đinh Duy Tân"),
        (tlv(0x1E, "Đinh Duy Tân".encode("utf-16-be")), "Đinh Duy Tân"),
        (tlv(0x1C, "Đinh Duy Tân".encode("utf-32-be")), "Đinh Duy Tân"),
    ],
)
def test_string_types(value: bytes, expected: str) -> None:
    name = parse_dg13(dg13(entry(2, value))).full_name
    assert name == expected
    assert unicodedata.is_normalized("NFC", name)


# --- malformed --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x6d",
        b"\x6d\x00",
        FULL_CARD[:-1],
        FULL_CARD + b"\x01",
        b"\x61" + FULL_CARD[1:],  # wrong outer tag
        dg13(*FULL_ENTRIES, oid=bytes.fromhex("060628D316010009")),  # wrong OID
        dg13(*FULL_ENTRIES, oid=tlv(0x04, bytes.fromhex("28D316010008"))),
        dg13(*FULL_ENTRIES, version=tlv(0x04, b"\x01")),
        tlv(0x6D, seq(tlv(0x02, b"\x01"), OID)),  # no SET
        tlv(0x6D, seq(tlv(0x02, b"\x01"), OID, tlv(0x31, b""), tlv(0x31, b""))),
        tlv(0x6D, seq(tlv(0x02, b"\x01"), OID, seq(*FULL_ENTRIES))),  # SEQUENCE, not SET
        tlv(0x6D, seq(tlv(0x02, b"\x01"), OID, tlv(0x31, b""))) + b"\x30\x00",
        tlv(0x6D, seq(tlv(0x02, b"\x01"), OID, tlv(0x31, b"")) + seq()),  # two bodies
        tlv(0x6D, tlv(0x31, b"")),
        dg13(printable("001093047064")),  # entry that is not a SEQUENCE
        dg13(seq(printable("001093047064"))),  # entry without its number
        dg13(seq()),
        dg13(entry(1, printable("001093047064")), entry(1, printable("001093047064"))),
        dg13(seq(tlv(0x02, b"\xff"), utf8("x"))),  # negative entry number
        dg13(seq(tlv(0x02, b""), utf8("x"))),
        dg13(entry(2, tlv(0x0C, b"\xc3\x28"))),  # invalid UTF-8
        dg13(entry(2, tlv(0x1E, b"\x00\x41\x00"))),  # odd-length BMPString
        dg13(entry(2, tlv(0x1E, b"\xd8\x00"))),  # lone surrogate
        dg13(entry(1, printable("00109304706"))),  # 11-digit ID
        dg13(entry(1, printable("00109304706A"))),
        dg13(entry(1, utf8("００１０９３０４７０６４"))),  # full-width digits
        dg13(entry(2, tlv(0x04, b"\x01"))),  # a known field with binary data
        dg13(entry(2, tlv(0x02, b"\x01"))),
        dg13(entry(13, seq(seq(seq(seq(seq(utf8("deep")))))))),
        dg13(entry(2, tlv(0x0C, b"ab") + b"\x0c\x05abc")),  # child overruns its entry
        bytes.fromhex("6D84FFFFFFFF30"),  # a length larger than the data
        bytes.fromhex("6D80"),  # indefinite length
    ],
)
def test_malformed(data: bytes) -> None:
    with pytest.raises(MalformedData):
        parse_dg13(data)


def test_not_bytes() -> None:
    with pytest.raises(MalformedData):
        parse_dg13("6D00")  # type: ignore[arg-type]


def test_bytearray_and_memoryview() -> None:
    assert (
        parse_dg13(bytearray(FULL_CARD))
        == parse_dg13(memoryview(FULL_CARD))
        == parse_dg13(FULL_CARD)
    )


def test_trailing_padding_is_allowed() -> None:
    assert parse_dg13(FULL_CARD + b"\x00\x00\xff") == parse_dg13(FULL_CARD)


# --- properties -------------------------------------------------------------------------------


@given(st.binary(max_size=512))
def test_random_bytes(data: bytes) -> None:
    try:
        parse_dg13(data)
    except MalformedData:
        pass


@given(st.binary(max_size=256))
def test_random_bytes_after_a_valid_header(data: bytes) -> None:
    try:
        parse_dg13(dg13(data))
    except MalformedData:
        pass


@given(st.integers(0, len(FULL_CARD) - 1), st.integers(0, 255))
def test_any_byte_change(pos: int, byte: int) -> None:
    data = bytearray(FULL_CARD)
    data[pos] = byte
    try:
        parse_dg13(bytes(data))
    except MalformedData:
        pass


@given(st.integers(0, len(FULL_CARD)))
def test_any_truncation(length: int) -> None:
    try:
        parse_dg13(FULL_CARD[:length])
    except MalformedData:
        pass


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=150)


@given(st.dictionaries(st.integers(2, 127), st.lists(_TEXT, max_size=3), max_size=20))
def test_entries_round_trip(values: dict[int, list[str]]) -> None:
    card = dg13(*(entry(n, *(utf8(v) for v in texts)) for n, texts in values.items()))
    fields = parse_dg13(card)
    assert fields.entries == {
        n: tuple(unicodedata.normalize("NFC", v) for v in texts) for n, texts in values.items()
    }
    json.dumps(fields.to_dict())
