"""BER-TLV, EF.COM, DG1, DG2 (ISO 19794-5) and ATR parsers: the virtual card's real files,
hand-made malformed files, and random or mutated bytes (only MalformedData may come out)."""

from __future__ import annotations

import dataclasses
import io
import struct
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from reader import tlv
from reader.atr import AtrInfo, historical_bytes, parse_atr
from reader.errors import CheckDigitError, MalformedData
from reader.lds import (
    JPEG,
    JPEG2000,
    EfCom,
    Portrait,
    parse_com,
    parse_dg1,
    parse_dg2,
    parse_facial_record,
    sniff_image_format,
)
from reader.virtual import VirtualCccd, list_profiles

from .cards import built, load_profile

PROFILES = list_profiles()




def files(name: str) -> dict[str, bytes]:
    return built(name).files


# The everyday card (JPEG) and the JPEG 2000 one: every parser path with real bytes.
COM = files("nguyen-van-an")["EF.COM"]
DG1 = files("nguyen-van-an")["DG1"]
DG2 = files("nguyen-van-an")["DG2"]
DG2_JP2 = files("le-hoang-minh")["DG2"]
JPEG_IMAGE = built("nguyen-van-an").portrait.data
JP2_IMAGE = built("le-hoang-minh").portrait.data


def facial_record_of(dg2: bytes) -> bytes:
    """The ISO 19794-5 record inside a DG2, found with the reader's own TLV walk."""
    template = tlv.decode_file(dg2, 0x75).child(0x7F61).child(0x7F60)
    return template.child(0x5F2E).value


RECORD = facial_record_of(DG2)


def only_malformed(parser: Callable[[bytes], Any], data: bytes) -> Any:
    """Run a parser: it may succeed or raise MalformedData (or a subclass), nothing else."""
    try:
        return parser(data)
    except MalformedData:
        return None


# --- hand-made files ---------------------------------------------------------------------------


def facial_block(image: bytes, *, image_type: int = 0, width: int = 480, height: int = 640,
                 gender: int = 1, points: int = 0, block_len: int | None = None,
                 claimed_points: int | None = None) -> bytes:
    info = struct.pack(">IHBBB3sH3s3s",
                       20 + 8 * points + 12 + len(image) if block_len is None else block_len,
                       points if claimed_points is None else claimed_points,
                       gender, 0, 0, b"\0\0\0", 0, b"\0\0\0", b"\0\0\0")
    feature_points = bytes(8 * points)
    image_info = struct.pack(">BBHHBBHH", 1, image_type, width, height, 1, 2, 0, 0)
    return info + feature_points + image_info + image


def facial_record(*blocks: bytes, count: int | None = None, length: int | None = None,
                  magic: bytes = b"FAC\x00", version: bytes = b"010\x00") -> bytes:
    body = b"".join(blocks)
    n = len(blocks) if count is None else count
    size = 14 + len(body) if length is None else length
    return magic + version + struct.pack(">IH", size, n) + body


def dg2_of(*records: bytes, declared: int | None = None, bdb_tag: int = 0x5F2E) -> bytes:
    templates = b"".join(
        tlv.encode(0x7F60, tlv.encode(0xA1, tlv.encode(0x81, b"\x02")) + tlv.encode(bdb_tag, r))
        for r in records
    )
    count = b"" if declared == -1 else tlv.encode(0x02, bytes([declared or len(records)]))
    return tlv.encode(0x75, tlv.encode(0x7F61, count + templates))


def com_of(tags: bytes, lds: bytes = b"0107", uni: bytes = b"040000") -> bytes:
    return tlv.encode(0x60, tlv.encode(0x5F01, lds) + tlv.encode(0x5F36, uni)
                      + tlv.encode(0x5C, tags))


def dg1_of(mrz: bytes) -> bytes:
    return tlv.encode(0x61, tlv.encode(0x5F1F, mrz))


MRZ = tlv.decode_file(DG1, 0x61).child(0x5F1F).value


# --- the virtual card's files parse ---------------------------------------------------------------


@pytest.mark.parametrize("name", PROFILES)
def test_real_files_parse(name: str) -> None:
    card = VirtualCccd(load_profile(name), lds=built(name))
    holder = card.profile.holder

    # The attack profiles of issue 11, item 2 tamper with EF.COM (which is not signed).
    listed = {"clone-com-stripped": (1, 2, 3, 13), "clone-groups-hidden": (1, 2, 3, 13),
              "clone-groups-refused": (1, 2, 3, 13),
              "com-lists-unsigned": (1, 2, 3, 13, 14, 15, 11)}
    kind = card.profile.attack.kind if card.profile.attack else ""
    assert parse_com(card.files["EF.COM"]) == EfCom("1.7", "4.0.0",
                                                    listed.get(kind, (1, 2, 3, 13, 14, 15)))

    mrz = parse_dg1(card.files["DG1"])
    assert mrz.id_number == holder.id_number
    assert mrz.document_number == holder.document_number
    assert mrz.date_of_birth == holder.date_of_birth
    assert mrz.sex == {"Nam": "M", "Nữ": "F"}[holder.sex]
    assert "\n".join(mrz.lines) == card.access_data()["mrz"]
    assert mrz.no_expiry == (holder.date_of_expiry is None)

    (portrait,) = parse_dg2(card.files["DG2"])
    assert portrait.data == card.lds.portrait.data
    assert portrait.format == card.profile.portrait.format
    assert portrait.gender == {"Nam": 1, "Nữ": 2}[holder.sex]
    with Image.open(io.BytesIO(portrait.data)) as image:
        assert (portrait.width, portrait.height) == image.size
        assert image.format == {JPEG: "JPEG", JPEG2000: "JPEG2000"}[portrait.format]
    assert portrait.extension == (".jpg" if portrait.format == JPEG else ".jp2")


def test_jpeg_portrait_is_the_photo_file_unchanged() -> None:
    from reader.virtual import faces_dir

    profile = load_profile("nguyen-van-an")
    (portrait,) = parse_dg2(DG2)
    assert portrait.data == (faces_dir() / profile.portrait.file).read_bytes()
    assert portrait.mime_type == "image/jpeg"
    (jp2,) = parse_dg2(DG2_JP2)
    assert jp2.format == JPEG2000 and jp2.mime_type == "image/jp2"


def test_trailing_padding_after_a_file_is_allowed() -> None:
    assert parse_dg2(DG2 + b"\x00\xff\x00") == parse_dg2(DG2)
    assert parse_com(COM + b"\xff") == parse_com(COM)
    assert parse_dg1(DG1 + b"\x00") == parse_dg1(DG1)


def test_hand_made_files_parse() -> None:
    record = facial_record(facial_block(JPEG_IMAGE, width=10, height=20, gender=2),
                           facial_block(JP2_IMAGE, image_type=1, points=3, gender=1))
    portraits = parse_facial_record(record)
    assert portraits == [
        Portrait(JPEG_IMAGE, JPEG, 10, 20, 2, "010"),
        Portrait(JP2_IMAGE, JPEG2000, 480, 640, 1, "010"),
    ]
    assert parse_dg2(dg2_of(record)) == portraits
    # Two templates, one image each; a constructed BDB (7F2E); no instance count.
    two = dg2_of(facial_record(facial_block(JPEG_IMAGE)), facial_record(facial_block(JP2_IMAGE,
                 image_type=1)), bdb_tag=0x7F2E, declared=-1)
    assert [p.format for p in parse_dg2(two)] == [JPEG, JPEG2000]
    assert parse_com(com_of(b"\x61\x75")).data_groups == (1, 2)
    assert parse_com(tlv.encode(0x60, tlv.encode(0x5C, b""))) == EfCom("", "", ())


# --- hand-made malformed files ----------------------------------------------------------------


@pytest.mark.parametrize(
    "parser,data",
    [(parse_com, COM), (parse_dg1, DG1), (parse_dg2, DG2), (parse_dg2, DG2_JP2)],
    ids=["EF.COM", "DG1", "DG2", "DG2-jpeg2000"],
)
def test_truncated_at_every_length(parser: Callable[[bytes], Any], data: bytes) -> None:
    # Every length for the small files; for a portrait every length of its first and last
    # 600 bytes (the headers and the image end) and every 97th in between.
    lengths = range(len(data)) if len(data) < 2000 else sorted(
        {*range(600), *range(600, len(data) - 600, 97), *range(len(data) - 600, len(data))})
    for n in lengths:
        with pytest.raises(MalformedData):
            parser(data[:n])


def test_facial_record_truncated_at_every_length() -> None:
    record = facial_record(facial_block(JPEG_IMAGE[:200]))
    for n in range(len(record)):
        with pytest.raises(MalformedData):
            parse_facial_record(record[:n])
        # Truncated inside an honest container: the lengths still claim the whole record.
        with pytest.raises(MalformedData):
            parse_dg2(dg2_of(record[:n]))


WRONG_TAGS = [
    (parse_com, b"\x61" + COM[1:]),  # EF.COM with DG1's tag
    (parse_dg1, b"\x60" + DG1[1:]),
    (parse_dg2, b"\x61" + DG2[1:]),
    (parse_com, tlv.encode(0x60, tlv.encode(0x5F01, b"0107"))),  # no tag list
    (parse_dg1, tlv.encode(0x61, tlv.encode(0x5F20, MRZ))),  # MRZ under the wrong tag
    (parse_dg2, tlv.encode(0x75, tlv.encode(0x7F62, b""))),  # no 7F61 group
    (parse_dg2, tlv.encode(0x75, tlv.encode(0x7F61, tlv.encode(0x02, b"\x01")))),  # no 7F60
    (parse_dg2, dg2_of(RECORD, bdb_tag=0x5F2F)),  # no biometric data block
    (parse_dg2, tlv.encode(0x75, tlv.encode(0x5F61, b"\x01"))),  # 5F61 is not 7F61
    (parse_dg2, tlv.encode(0x75, tlv.encode(0x7F61, tlv.encode(0x7F60, tlv.encode(0xA1, b""))
                                            + tlv.encode(0x02, b"\x01")))),  # BDB missing
]


@pytest.mark.parametrize("parser,data", WRONG_TAGS)
def test_wrong_tags(parser: Callable[[bytes], Any], data: bytes) -> None:
    with pytest.raises(MalformedData):
        parser(data)


def _grow(data: bytes, delta: int) -> bytes:
    """The same file with its outer length field changed by ``delta`` (same encoding width)."""
    _, pos = tlv.read_tag(data, 0)
    length, start = tlv.read_length(data, pos)
    width = start - pos
    field = tlv.encode_length(length + delta)
    if len(field) != width:
        field = bytes([0x80 | (width - 1)]) + (length + delta).to_bytes(width - 1, "big")
    return data[:pos] + field + data[start:]


LYING = [
    (parse_com, _grow(COM, 1)),
    (parse_com, _grow(COM, -1)),
    (parse_dg1, _grow(DG1, 1)),
    (parse_dg1, _grow(DG1, -1)),
    (parse_dg2, _grow(DG2, 1)),
    (parse_dg2, _grow(DG2, -1)),
    (parse_dg2, _grow(DG2, 1000)),
    (parse_dg2, bytes.fromhex("7584FFFFFFFF7F61")),
    (parse_dg2, bytes.fromhex("758500000000017F61")),  # a 5-byte length field
    (parse_dg2, bytes.fromhex("75807F6100")),  # indefinite length
    (parse_dg2, dg2_of(RECORD, declared=2)),  # says two images, holds one
    (parse_dg2, dg2_of(RECORD, RECORD, declared=1)),
    # The facial record's own lengths lie:
    (parse_facial_record, facial_record(facial_block(JPEG_IMAGE), length=len(RECORD) + 1)),
    (parse_facial_record, facial_record(facial_block(JPEG_IMAGE), length=13)),
    (parse_facial_record, facial_record(facial_block(JPEG_IMAGE), count=2)),
    (parse_facial_record, facial_record(facial_block(JPEG_IMAGE, block_len=10**6))),
    (parse_facial_record, facial_record(facial_block(JPEG_IMAGE, block_len=32))),  # no image
    (parse_facial_record, facial_record(facial_block(JPEG_IMAGE, block_len=0))),
    (parse_facial_record, facial_record(facial_block(JPEG_IMAGE, block_len=0xFFFFFFFF))),
    (parse_facial_record, facial_record(facial_block(JPEG_IMAGE, claimed_points=0xFFFF))),
    (parse_facial_record, facial_record(facial_block(JPEG_IMAGE, points=2, claimed_points=3))),
    (parse_facial_record, facial_record(facial_block(JPEG_IMAGE, points=3))[:200]),
]


@pytest.mark.parametrize("parser,data", LYING)
def test_lengths_that_lie(parser: Callable[[bytes], Any], data: bytes) -> None:
    with pytest.raises(MalformedData):
        parser(data)


@pytest.mark.parametrize(
    "record",
    [
        facial_record(count=0),
        facial_record(facial_block(JPEG_IMAGE), count=0),
        facial_record(),
        b"FAC\x00010\x00" + struct.pack(">I", 14),  # count missing
        b"",
    ],
)
def test_zero_images(record: bytes) -> None:
    with pytest.raises(MalformedData):
        parse_facial_record(record)
    with pytest.raises(MalformedData):
        parse_dg2(dg2_of(record))


def test_no_template_at_all() -> None:
    with pytest.raises(MalformedData, match="no biometric information template"):
        parse_dg2(tlv.encode(0x75, tlv.encode(0x7F61, tlv.encode(0x02, b"\x00"))))
    with pytest.raises(MalformedData):
        parse_dg2(tlv.encode(0x75, tlv.encode(0x7F61, b"")))


@pytest.mark.parametrize("image_type", [2, 3, 0x7F, 0xFF])
def test_unknown_image_type(image_type: int) -> None:
    with pytest.raises(MalformedData, match="image data type"):
        parse_facial_record(facial_record(facial_block(JPEG_IMAGE, image_type=image_type)))


@pytest.mark.parametrize(
    "image,image_type",
    [
        (JPEG_IMAGE, 1),  # JPEG bytes declared JPEG 2000
        (JP2_IMAGE, 0),  # JPEG 2000 bytes declared JPEG
        (b"\x89PNG\r\n\x1a\n" + bytes(64), 0),
        (b"\x89PNG\r\n\x1a\n" + bytes(64), 1),
        (bytes(100), 0),
        (b"\xff\xd8", 0),  # two bytes of a JPEG marker
        (JPEG_IMAGE[1:], 0),
    ],
)
def test_image_bytes_not_of_the_declared_type(image: bytes, image_type: int) -> None:
    with pytest.raises(MalformedData, match="bytes are not"):
        parse_facial_record(facial_record(facial_block(image, image_type=image_type)))


def test_facial_record_header() -> None:
    with pytest.raises(MalformedData):
        parse_facial_record(facial_record(facial_block(JPEG_IMAGE), magic=b"FIR\x00"))
    with pytest.raises(MalformedData):
        parse_facial_record(facial_record(facial_block(JPEG_IMAGE), version=b"030\x00"))


def test_sniffing_image_formats() -> None:
    assert sniff_image_format(JPEG_IMAGE) == JPEG
    assert sniff_image_format(JP2_IMAGE) == JPEG2000
    assert sniff_image_format(b"\xff\x4f\xff\x51" + bytes(8)) == JPEG2000  # raw codestream
    assert sniff_image_format(b"") is None


@pytest.mark.parametrize("length", [0, 1, 30, 60, 89, 91, 120])
def test_wrong_mrz_length(length: int) -> None:
    with pytest.raises(MalformedData, match="characters"):
        parse_dg1(dg1_of((MRZ * 2)[:length]))


@pytest.mark.parametrize(
    "mrz",
    [
        MRZ[:10] + "É".encode() + MRZ[12:],  # UTF-8: two bytes for one letter
        MRZ[:10] + b"\xc9" + MRZ[11:],  # Latin-1 É
        MRZ[:89] + b"\x80",
        b"\xff" * 90,
    ],
)
def test_non_ascii_mrz(mrz: bytes) -> None:
    assert len(mrz) == 90
    with pytest.raises(MalformedData, match="ASCII"):
        parse_dg1(dg1_of(mrz))


@pytest.mark.parametrize(
    "mrz",
    [
        MRZ[:29] + b"A" + MRZ[30:],  # line 1 ID check digit
        MRZ[:36] + b"X" + MRZ[37:],  # date-of-birth check digit
        MRZ[:30] + b"991399" + MRZ[36:],  # month 13 (and a wrong check digit)
        MRZ.replace(b"<", b" ", 1),  # a space inside: 89 MRZ characters
        MRZ[:60] + b"\n" + MRZ[61:],
        MRZ[:60] + b"a#" + MRZ[62:],  # not an MRZ character
    ],
)
def test_broken_mrz_contents(mrz: bytes) -> None:
    assert len(mrz) == 90
    with pytest.raises(MalformedData):
        parse_dg1(dg1_of(mrz))


def test_bad_check_digit_is_named() -> None:
    bad = MRZ[:36] + bytes([(MRZ[36] - 0x30 + 1) % 10 + 0x30]) + MRZ[37:]
    with pytest.raises(CheckDigitError) as info:
        parse_dg1(dg1_of(bad))
    assert info.value.context["field"] == "date_of_birth"


@pytest.mark.parametrize(
    "data",
    [
        com_of(b"\x61\x99"),  # unknown data-group tag
        com_of(b"\x61", lds=b"01"),
        com_of(b"\x61", lds=b"01x7"),
        com_of(b"\x61", uni=b"0400"),
        com_of(b"\x61", uni="０４００００".encode()[:6]),
        com_of(b"\x61", lds="٠١٠٧".encode()[:4]),  # Arabic-Indic digits are not digits here
    ],
)
def test_bad_ef_com(data: bytes) -> None:
    with pytest.raises(MalformedData):
        parse_com(data)


# --- BER-TLV ------------------------------------------------------------------------------------

# Valid BER tags: one byte (not xx1F), or a 1F-class first byte with 1 or 2 more bytes.
_TAGS = st.one_of(
    st.integers(0x01, 0xFE).filter(lambda t: t & 0x1F != 0x1F),
    st.builds(lambda a, b: (a << 8) | b, st.sampled_from([0x1F, 0x5F, 0x7F, 0x9F, 0xBF, 0xDF]),
              st.integers(0x1F, 0x7F)),
    st.builds(lambda a, b, c: (a << 16) | (b << 8) | c, st.sampled_from([0x5F, 0x7F]),
              st.integers(0x81, 0xFF), st.integers(0x00, 0x7F)),
)


@given(tag=_TAGS, value=st.binary(max_size=300), extra=st.binary(max_size=8))
def test_tlv_round_trip(tag: int, value: bytes, extra: bytes) -> None:
    encoded = tlv.encode(tag, value)
    obj, end = tlv.decode_one(encoded + extra)
    assert obj == tlv.Tlv(tag, value) and end == len(encoded)
    assert tlv.header_length(encoded) == (len(encoded) - len(value), len(value))
    assert tlv.decode_file(encoded + b"\x00\xff") == obj
    assert tlv.decode_all(b"\x00" + encoded + b"\xff" + encoded) == [obj, obj]


@given(st.integers(0, 2**32 - 1))
def test_length_round_trip(n: int) -> None:
    field = tlv.encode_length(n)
    assert tlv.read_length(field + b"\x00", 0) == (n, len(field))
    assert len(field) == (1 if n < 0x80 else 1 + (n.bit_length() + 7) // 8)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x5f", b"\x5f\x81", b"\x7f\x81\x81\x81\x01", b"\x04", b"\x04\x81", b"\x04\x82\x01",
     b"\x04\x80", b"\x04\x85\x00\x00\x00\x00\x01", b"\x04\x02\x00", b"\x04\x84\xff\xff\xff\xff"],
)
def test_tlv_malformed(data: bytes) -> None:
    with pytest.raises(MalformedData):
        tlv.decode_one(data)
    with pytest.raises(MalformedData):
        tlv.decode_file(data)


def test_tlv_structure_errors() -> None:
    with pytest.raises(MalformedData, match="after the end"):
        tlv.decode_file(tlv.encode(0x04, b"ab") + b"\x04\x00")
    with pytest.raises(MalformedData, match="expected"):
        tlv.decode_file(tlv.encode(0x04, b"ab"), 0x05)
    with pytest.raises(MalformedData, match="primitive"):
        tlv.Tlv(0x04, b"\x04\x00").children()
    with pytest.raises(MalformedData, match="missing"):
        tlv.Tlv(0x30, b"\x04\x00").child(0x05)
    assert tlv.Tlv(0x30, b"\x04\x00").find(0x05) is None
    assert tlv.Tlv(0x7F61, b"").constructed and not tlv.Tlv(0x5F1F, b"").constructed
    assert tlv.Tlv(0x5F8101, b"").constructed is False


def _walk(obj: tlv.Tlv, depth: int = 0) -> int:
    """Visit every constructed object the way the LDS parsers do."""
    if depth > 50 or not obj.constructed:
        return 1
    return 1 + sum(_walk(c, depth + 1) for c in obj.children())


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_tlv_random_bytes(data: bytes) -> None:
    for parse in (tlv.decode_all, tlv.decode_file, tlv.header_length,
                  lambda d: [_walk(o) for o in tlv.decode_all(d)]):
        only_malformed(parse, data)


# --- random and mutated files ---------------------------------------------------------------------

PARSERS = {"com": parse_com, "dg1": parse_dg1, "dg2": parse_dg2,
           "facial": parse_facial_record}


@settings(max_examples=300)
@given(st.sampled_from(sorted(PARSERS)), st.binary(max_size=400))
def test_random_bytes_never_crash(which: str, data: bytes) -> None:
    only_malformed(PARSERS[which], data)


@given(tag=st.sampled_from([0x60, 0x61, 0x75]), body=st.binary(max_size=300))
def test_random_bodies_under_the_right_tag(tag: int, body: bytes) -> None:
    data = tlv.encode(tag, body)
    for parser in (parse_com, parse_dg1, parse_dg2):
        only_malformed(parser, data)


@given(st.binary(max_size=200), st.integers(0, 3))
def test_random_facial_records_inside_dg2(rest: bytes, prefix: int) -> None:
    head = [b"", b"FAC\x00", b"FAC\x00010\x00", RECORD[:14]][prefix]
    only_malformed(parse_dg2, dg2_of(head + rest))


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    image_type=st.integers(0, 255),
    points=st.integers(0, 5),
    count=st.integers(0, 3),
    length_delta=st.integers(-40, 40),
    block_delta=st.integers(-40, 40),
    image=st.sampled_from([JPEG_IMAGE[:64], JP2_IMAGE[:64], b"", b"\xff\xd8\xff"]),
)
def test_facial_record_fields(image_type: int, points: int, count: int, length_delta: int,
                              block_delta: int, image: bytes) -> None:
    block = facial_block(image, image_type=image_type, points=points)
    declared = 20 + 8 * points + 12 + len(image) + block_delta
    block = struct.pack(">I", max(declared, 0)) + block[4:]
    record = facial_record(block, count=count)
    record = record[:8] + struct.pack(">I", max(len(record) + length_delta, 0)) + record[12:]
    portraits = only_malformed(parse_facial_record, record)
    for p in portraits or []:
        assert sniff_image_format(p.data) == p.format
        assert record.find(p.data) >= 14


_FILES = {"com": COM, "dg1": DG1, "dg2-head": DG2[:400], "record-head": RECORD[:200]}


@given(st.sampled_from(sorted(_FILES)), st.data())
def test_single_byte_mutations_of_real_files(which: str, data: st.DataObject) -> None:
    original = _FILES[which]
    pos = data.draw(st.integers(0, len(original) - 1), label="pos")
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != original[pos]), label="byte")
    mutated = original[:pos] + bytes([byte]) + original[pos + 1:]
    if which == "com":
        only_malformed(parse_com, mutated)
    elif which == "dg1":
        only_malformed(parse_dg1, mutated)
    elif which == "dg2-head":
        # Mutate the headers of the real DG2, keep its image.
        only_malformed(parse_dg2, mutated + DG2[400:])
    else:
        result = only_malformed(parse_facial_record, mutated + RECORD[200:])
        for p in result or []:
            assert sniff_image_format(p.data) == p.format


@settings(max_examples=50)
@given(pos=st.integers(0, len(DG2) - 1), byte=st.integers(0, 255))
def test_single_byte_mutations_anywhere_in_dg2(pos: int, byte: int) -> None:
    mutated = DG2[:pos] + bytes([byte]) + DG2[pos + 1:]
    only_malformed(parse_dg2, mutated)


# --- ATR ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("advertise", [True, False, None])
@pytest.mark.parametrize("name", PROFILES)
def test_virtual_card_atr(name: str, advertise: bool | None) -> None:
    profile = load_profile(name)
    profile = dataclasses.replace(profile, chip=dataclasses.replace(profile.chip,
                                                                    advertise_extended=advertise))
    card = VirtualCccd(profile, lds=built(name))
    info = parse_atr(card.atr)
    assert info.extended_length is advertise
    assert info.historical[0] == 0x80
    assert info.historical == historical_bytes(card.atr)


@pytest.mark.parametrize(
    "atr,historical,extended",
    [
        # A typical ICAO passport through a PC/SC contactless reader: no capabilities object.
        ("3B 8E 80 01 80318066B1840C016E0183009000 1C", "80318066B1840C016E0183009000", None),
        # Category 80 with the capabilities object, third byte without / with b7.
        ("3B 85 80 01 80 73 940100 00", "8073940100", False),
        ("3B 85 80 01 80 73 940140 40", "8073940140", True),
        # Category 00: compact-TLV, then a 3-byte status indicator that is not TLV.
        ("3B 08 00 73 940140 009000", "00739401400 09000", True),
        ("3B 08 00 73 940100 009000", "00739401000 09000", False),
        # TA1, TB1, TC1 and TD1 before the historical bytes.
        ("3B F5 11 00 00 81 01 80 73 940140 00", "8073940140", True),
        # Category 10 (DIR data reference): nothing said.
        ("3B 05 10 73 940140", "10739401 40", None),
        ("", "", None),
        ("3B", "", None),
        ("3A 8F", "", None),  # not an ATR
        ("3B 8F 80", "", None),  # fewer historical bytes than T0 says
    ],
)
def test_atr_samples(atr: str, historical: str, extended: bool | None) -> None:
    info = parse_atr(bytes.fromhex(atr.replace(" ", "")))
    assert info == AtrInfo(bytes.fromhex(historical.replace(" ", "")), extended)


@settings(max_examples=500)
@given(st.binary(max_size=40))
def test_atr_random_bytes_never_raise(atr: bytes) -> None:
    info = parse_atr(atr)
    assert info.extended_length in (True, False, None)
    assert len(info.historical) <= 15


@given(st.binary(max_size=15), st.sampled_from([0x3B, 0x3F]), st.integers(0, 15))
def test_atr_with_random_historical_bytes(hist: bytes, ts: int, y: int) -> None:
    # T0 = Y1 (no interface bytes here) and K; then TCK.
    atr = bytes([ts, len(hist)]) + hist
    assert parse_atr(atr).historical == hist
    interface = bytes(bin(y).count("1"))  # TA/TB/TC/TD all 0: TD (if any) ends the chain
    atr = bytes([ts, (y << 4) | len(hist)]) + interface + hist + b"\x00"
    assert parse_atr(atr).historical == hist
