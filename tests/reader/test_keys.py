"""MRZ / QR / typed input → BAC key or PACE CAN."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reader.errors import CheckDigitError, InvalidKeyInput, MalformedData
from reader.keys import (
    PROVINCE_CODES,
    BacKey,
    Can,
    QrPayload,
    bac_keys_from_qr,
    expiry_candidates,
    normalise_sex,
    parse_qr,
    validate_id_number,
)

QR_SAMPLE = (
    "001158024485|110419092|Đinh Thị Huyền|08101958|Nữ|Khánh Vân, Khánh Hà, Thường Tín, Hà Nội"
    "|24042021"
)
QR_STANDARD = (
    "094083123451|3099789364|Nguyễn Gia Mạnh|21031983|Nam"
    "|165/7, Nguyễn Thị Minh Khai, Khóm 2, Phường 9, TP Sóc Trăng|06042021"
)
QR_ZALO = (
    "094083123451|Nguyễn Gia Mạnh|21/03/1983|Nam"
    "|165/7, Nguyễn Thị Minh Khai, Khóm 2, Phường 9, TP Sóc Trăng|06/04/2021"
)
MRZ_SAMPLE = (
    "IDVNM0930470641001093047064<<2\n9301054M3301052VNM<<<<<<<<<<<8\nUNG<<HOANG<HIEP<<<<<<<<<<<<<<<"
)
TODAY = date(2025, 6, 1)
NO_EXPIRY = date(2099, 12, 31)


# --- BAC key ----------------------------------------------------------------------------------


def test_icao_vector() -> None:
    key = BacKey("L898902C<", date(1969, 8, 6), date(1994, 6, 23))
    assert key.mrz_information == b"L898902C<369080619406236"


def test_short_document_number_is_padded() -> None:
    key = BacKey("l898902c", date(1969, 8, 6), date(1994, 6, 23))
    assert key.document_number == "L898902C<"
    assert key == BacKey("L898902C<", date(1969, 8, 6), date(1994, 6, 23))


@pytest.mark.parametrize(
    ("number", "dob", "doe", "expected"),
    [
        # ESP32 + PN532 examples, every check digit recomputed in the reference.
        ("179041213", date(1979, 8, 20), date(2039, 8, 20), b"179041213079082083908200"),
        ("203021621", date(2003, 9, 3), date(2028, 9, 3), b"203021621303090352809034"),
        ("199004922", date(1999, 6, 5), date(2039, 6, 5), None),  # Appota README
    ],
)
def test_published_cccd_keys(number: str, dob: date, doe: date, expected: bytes | None) -> None:
    key = BacKey.from_id_number(number, dob, doe)
    assert key.document_number == number
    if expected is not None:
        assert key.mrz_information == expected


def test_twelve_digit_id_is_cut_to_its_last_nine() -> None:
    key = BacKey.from_id_number("001093047064", date(1993, 1, 5), date(2033, 1, 5))
    assert key.document_number == "093047064"
    assert key.mrz_information == b"093047064193010543301052"
    # The known mistake (all 12 digits) would give a different seed.
    assert not key.mrz_information.startswith(b"001093047064")


def test_id_typed_with_spaces() -> None:
    key = BacKey.from_id_number(" 001 093 047 064 ", date(1993, 1, 5), date(2033, 1, 5))
    assert key.document_number == "093047064"


def test_from_mrz_matches_from_id_number() -> None:
    from_mrz = BacKey.from_mrz(MRZ_SAMPLE)
    assert from_mrz == BacKey.from_id_number("001093047064", date(1993, 1, 5), date(2033, 1, 5))


def test_from_mrz_keeps_check_digit_errors() -> None:
    with pytest.raises(CheckDigitError):
        BacKey.from_mrz(MRZ_SAMPLE.replace("9301054", "9301064"))


def test_from_mrz_without_expiry() -> None:
    icao = (
        "I<UTOD231458907<<<<<<<<<<<<<<<7408122F<<<<<<0UTO<<<<<<<<<<<6ERIKSSON<<ANNA<<<<<<<<<<<<<<<<"
    )
    with pytest.raises(InvalidKeyInput):
        BacKey.from_mrz(icao)


def test_datetime_is_reduced_to_its_date() -> None:
    key = BacKey("L898902C<", datetime(1969, 8, 6, 13, 0), date(1994, 6, 23))
    assert type(key.date_of_birth) is date


@pytest.mark.parametrize(
    ("number", "dob", "doe"),
    [
        ("00109304706", date(1993, 1, 5), date(2033, 1, 5)),  # 11 digits
        ("0010930470645", date(1993, 1, 5), date(2033, 1, 5)),  # 13 digits
        ("", date(1993, 1, 5), date(2033, 1, 5)),
        ("00109304706A", date(1993, 1, 5), date(2033, 1, 5)),
        ("001093047064", date(2033, 1, 5), date(1993, 1, 5)),  # DOB after expiry
        ("001093047064", date(1993, 1, 5), date(1993, 1, 5)),
        ("001093047064", date(1994, 1, 5), date(2033, 1, 5)),  # birth year digits
        ("001093047064", date(2093, 1, 5), date(2133, 1, 5)),  # century digit
        ("110419092", date(1958, 10, 8), date(2099, 12, 31)),  # the old CMND number
        ("093047064", date(1994, 1, 5), date(2033, 1, 5)),
        ("093-47064", date(1993, 1, 5), date(2033, 1, 5)),
        ("001093047064", "1993-01-05", date(2033, 1, 5)),
        ("001093047064", date(1993, 1, 5), None),
    ],
)
def test_bad_key_input(number: str, dob: object, doe: object) -> None:
    with pytest.raises(InvalidKeyInput):
        BacKey.from_id_number(number, dob, doe)  # type: ignore[arg-type]


@pytest.mark.parametrize("number", ["", "<<<<<<<<<", "ABC DEF-G", "Ä12345678", "1" * 23])
def test_bad_document_number(number: str) -> None:
    with pytest.raises(InvalidKeyInput):
        BacKey(number, date(1993, 1, 5), date(2033, 1, 5))


def test_long_document_number() -> None:
    key = BacKey("D23145890734", date(1974, 8, 12), date(2012, 4, 15))
    assert key.mrz_information == b"D23145890734" + b"9" + b"7408122" + b"1204159"


# --- the 12-digit ID ------------------------------------------------------------------------


def test_province_codes() -> None:
    assert len(PROVINCE_CODES) == 63
    assert {"001", "079", "048", "092", "096"} <= PROVINCE_CODES
    # Codes the 2004 administrative list never used, and the pre-2008 Hà Tây (105 → merged).
    assert not {"000", "003", "005", "013", "097", "099", "105"} & PROVINCE_CODES


def test_validate_id_number_ok() -> None:
    assert validate_id_number("001158024485", date(1958, 10, 8), "Nữ") == "001158024485"
    assert validate_id_number("001 158 024 485", sex="F") == "001158024485"
    assert validate_id_number("079203021621", date(2003, 9, 3), "M") == "079203021621"
    assert validate_id_number("001093047064", date(1993, 1, 5), "Nam") == "001093047064"


@pytest.mark.parametrize(
    ("number", "dob", "sex", "reason"),
    [
        ("00115802448", None, None, "12 digits"),
        ("00115802448x", None, None, "digits only"),
        ("00115802448５", None, None, "digits only"),  # full-width digit
        ("003158024485", None, None, "province"),
        ("001158024485", date(1959, 10, 8), None, "birth year"),
        ("001158024485", date(2058, 10, 8), None, "born 1900-1999"),
        ("001158024485", None, "Nam", "sex F"),
        ("001093047064", None, "F", "sex M"),
        ("001158024485", None, "?", "unknown sex"),
        ("001425024485", None, None, "future"),
    ],
)
def test_validate_id_number_reasons(
    number: str, dob: date | None, sex: str | None, reason: str
) -> None:
    with pytest.raises(InvalidKeyInput) as err:
        validate_id_number(number, dob, sex, today=TODAY)
    assert reason in str(err.value)


@pytest.mark.parametrize(
    ("text", "code"),
    [("Nam", "M"), ("Nữ", "F"), ("NỮ", "F"), (unicodedata.normalize("NFD", "Nữ"), "F"),
     (" nu ", "F"), ("m", "M"), ("F", "F"), ("Male", "M")],
)  # fmt: skip
def test_normalise_sex(text: str, code: str) -> None:
    assert normalise_sex(text) == code


def test_can() -> None:
    assert Can.from_id_number("001093047064") == Can("047064")
    for bad in ("04706", "0470644", "04706a", ""):
        with pytest.raises(InvalidKeyInput):
            Can(bad)
    with pytest.raises(InvalidKeyInput):
        Can.from_id_number("00109304706")


# --- QR code --------------------------------------------------------------------------------


def test_real_qr_sample() -> None:
    assert parse_qr(QR_SAMPLE) == QrPayload(
        id_number="001158024485",
        old_id_number="110419092",
        full_name="Đinh Thị Huyền",
        date_of_birth=date(1958, 10, 8),
        sex="Nữ",
        address="Khánh Vân, Khánh Hà, Thường Tín, Hà Nội",
        date_of_issue=date(2021, 4, 24),
    )
    assert parse_qr(QR_SAMPLE).sex_code == "F"


@pytest.mark.parametrize(
    "payload",
    [
        "\ufeff" + QR_SAMPLE + "\r\n",
        QR_SAMPLE + "  \n",
        ("\ufeff" + QR_SAMPLE + "\r\n").encode("utf-8"),
        QR_SAMPLE.encode("utf-8"),
        bytearray(QR_SAMPLE.encode("utf-8")),
        unicodedata.normalize("NFD", QR_SAMPLE),
        QR_SAMPLE.replace("08101958", "08/10/1958").replace("24042021", "24/04/2021"),
    ],
)
def test_qr_variants_of_the_sample(payload: str | bytes) -> None:
    qr = parse_qr(payload)
    assert qr.full_name == "Đinh Thị Huyền"
    assert unicodedata.is_normalized("NFC", qr.address)
    assert qr.date_of_birth == date(1958, 10, 8)
    assert qr.date_of_issue == date(2021, 4, 24)


def test_qr_empty_old_id() -> None:
    qr = parse_qr(QR_STANDARD.replace("|3099789364|", "||"))
    assert qr.old_id_number is None
    assert qr.full_name == "Nguyễn Gia Mạnh"


def test_qr_zalo_six_fields() -> None:
    zalo = parse_qr(QR_ZALO)
    standard = parse_qr(QR_STANDARD)
    assert zalo.old_id_number is None
    assert standard.old_id_number == "3099789364"
    assert zalo == replace(standard, old_id_number=None)
    assert zalo.date_of_birth == date(1983, 3, 21)
    assert zalo.date_of_issue == date(2021, 4, 6)


def test_qr_without_issue_date() -> None:
    assert parse_qr(QR_SAMPLE[: -len("24042021")]).date_of_issue is None


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "\r\n",
        "abc def ghi",
        "a|b|c|d|e|f|g|h",
        QR_SAMPLE.replace("001158024485", "00115802448"),  # 11 digits
        QR_SAMPLE.replace("001158024485", "0011580244A5"),
        QR_SAMPLE.replace("08101958", "31021958"),  # no such date
        QR_SAMPLE.replace("08101958", "0810195"),
        QR_SAMPLE.replace("08101958", ""),  # no DOB
        QR_SAMPLE.replace("08101958", "08101959"),  # disagrees with the ID
        QR_SAMPLE.replace("|Nữ|", "|Nam|"),  # disagrees with the ID
        QR_SAMPLE.replace("|Nữ|", "|Khác|"),
        QR_SAMPLE.replace("24042021", "24042O21"),
        QR_SAMPLE.replace("24042021", "24041921"),  # issued before birth
        QR_SAMPLE.replace("Đinh Thị Huyền", "  "),
        QR_SAMPLE.replace("110419092", "11041909x"),
        QR_SAMPLE.encode("utf-16"),
        b"\xff\xfe\x00",
        QR_SAMPLE.encode("utf-8")[:-30] + b"\xc3",
    ],
)
def test_bad_qr(payload: str | bytes) -> None:
    with pytest.raises(InvalidKeyInput):
        parse_qr(payload)


def test_qr_rejects_non_text() -> None:
    with pytest.raises(InvalidKeyInput):
        parse_qr(12345)  # type: ignore[arg-type]


# --- expiry ---------------------------------------------------------------------------------


def test_expiry_of_the_real_mrz_samples() -> None:
    # DOB 930105 → expiry 330105; kiosk sample: DOB 01/01/1991, issued 15/03/2022 → 01/01/2031.
    assert expiry_candidates(date(1993, 1, 5), date(2021, 5, 1))[0] == date(2033, 1, 5)
    assert expiry_candidates(date(1991, 1, 1), date(2022, 3, 15)) == [
        date(2031, 1, 1),
        date(2051, 1, 1),
        NO_EXPIRY,
    ]


def test_issued_within_two_years_of_a_milestone_lasts_to_the_next() -> None:
    dob = date(1998, 6, 1)
    assert expiry_candidates(dob, date(2021, 5, 31)) == [
        date(2023, 6, 1),
        date(2038, 6, 1),
        NO_EXPIRY,
    ]
    # From the 23rd birthday on, the card skips 25 (the skipped milestone comes second).
    assert expiry_candidates(dob, date(2021, 6, 1)) == [
        date(2038, 6, 1),
        date(2023, 6, 1),
        date(2058, 6, 1),
        NO_EXPIRY,
    ]


def test_issued_after_sixty_never_expires() -> None:
    assert expiry_candidates(date(1958, 10, 8), date(2021, 4, 24)) == [NO_EXPIRY]


def test_issued_just_before_sixty() -> None:
    assert expiry_candidates(date(1962, 3, 10), date(2020, 9, 1)) == [NO_EXPIRY, date(2022, 3, 10)]


def test_can_cuoc_cards_renew_at_fourteen() -> None:
    dob = date(2014, 5, 1)
    assert expiry_candidates(dob, date(2024, 8, 1))[:2] == [date(2028, 5, 1), date(2039, 5, 1)]
    # The same child within 2 years of 14 gets a card valid to 25.
    assert expiry_candidates(date(2012, 5, 1), date(2024, 8, 1))[:2] == [
        date(2037, 5, 1),
        date(2026, 5, 1),
    ]
    # Before 2024-07-01 there was no milestone at 14.
    assert expiry_candidates(date(2008, 5, 1), date(2024, 6, 30))[0] == date(2033, 5, 1)
    assert expiry_candidates(date(2008, 5, 1), date(2024, 7, 1))[0] == date(2033, 5, 1)


def test_29_february() -> None:
    assert expiry_candidates(date(2000, 2, 29), date(2018, 3, 1)) == [
        date(2025, 2, 28),
        date(2025, 3, 1),
        date(2040, 2, 29),
        NO_EXPIRY,
    ]


def test_without_issue_date_uses_current_age() -> None:
    dob = date(1993, 1, 5)
    assert expiry_candidates(dob, None, today=TODAY) == [
        date(2033, 1, 5),
        date(2053, 1, 5),
        date(2018, 1, 5),
        NO_EXPIRY,
    ]
    assert expiry_candidates(date(1960, 1, 1), None, today=TODAY) == [
        NO_EXPIRY,
        date(2020, 1, 1),
    ]
    assert expiry_candidates(date(2015, 9, 1), None, today=TODAY)[:2] == [
        date(2029, 9, 1),
        date(2040, 9, 1),
    ]


@pytest.mark.parametrize(
    ("dob", "doi"),
    [(date(2030, 1, 1), None), (date(1990, 1, 1), date(1989, 1, 1)), ("1990-01-01", None)],
)
def test_expiry_bad_input(dob: object, doi: object) -> None:
    with pytest.raises(InvalidKeyInput):
        expiry_candidates(dob, doi, today=TODAY)  # type: ignore[arg-type]


@given(
    st.dates(min_value=date(1920, 1, 1), max_value=date(2024, 12, 31)),
    st.one_of(st.none(), st.integers(0, 90 * 366)),
)
def test_expiry_candidates_properties(dob: date, issued_after: int | None) -> None:
    doi = None
    if issued_after is not None:
        doi = date.fromordinal(min(dob.toordinal() + issued_after, TODAY.toordinal()))
    candidates = expiry_candidates(dob, doi, today=TODAY)
    assert candidates
    assert len(set(candidates)) == len(candidates)
    assert NO_EXPIRY in candidates
    if NO_EXPIRY != candidates[0]:
        assert candidates[-1] == NO_EXPIRY
    for d in candidates:
        if doi is not None:
            assert d > doi
        if d != NO_EXPIRY:
            assert (d.month, d.day) == (dob.month, dob.day) or (dob.month, dob.day) == (2, 29)
            assert d.year - dob.year in (14, 25, 40, 60)


# --- QR → BAC keys ----------------------------------------------------------------------------


def test_bac_keys_from_the_real_qr() -> None:
    keys = bac_keys_from_qr(QR_SAMPLE)
    # Issued at 62: no expiry, written 991231 (the single public sample: …5810262M9912315…).
    assert [k.mrz_information for k in keys] == [b"158024485758100889912315"]


def test_bac_keys_from_qr_follow_the_candidates() -> None:
    qr = parse_qr(QR_STANDARD)
    keys = bac_keys_from_qr(qr)
    assert [k.date_of_expiry for k in keys] == expiry_candidates(qr.date_of_birth, qr.date_of_issue)
    assert {k.document_number for k in keys} == {"083123451"}
    # Issued 06/04/2021, 16 days after the 38th birthday: the card lasts to 60.
    assert keys[0].date_of_expiry == date(2043, 3, 21)


# --- properties -------------------------------------------------------------------------------


@given(st.text())
def test_parse_qr_random_text(text: str) -> None:
    try:
        parse_qr(text)
    except InvalidKeyInput:
        pass


@given(st.binary())
def test_parse_qr_random_bytes(data: bytes) -> None:
    try:
        parse_qr(data)
    except InvalidKeyInput:
        pass


@given(st.lists(st.text(max_size=20), min_size=6, max_size=7))
def test_parse_qr_random_fields(parts: list[str]) -> None:
    try:
        parse_qr("|".join(parts))
    except InvalidKeyInput:
        pass


@given(st.text(max_size=20), st.one_of(st.none(), st.dates()), st.one_of(st.none(), st.text()))
def test_validate_id_number_random(number: str, dob: date | None, sex: str | None) -> None:
    try:
        validate_id_number(number, dob, sex)
    except InvalidKeyInput:
        pass


@given(st.text(max_size=30), st.dates(), st.dates())
def test_bac_key_random(number: str, dob: date, doe: date) -> None:
    try:
        key = BacKey.from_id_number(number, dob, doe)
    except InvalidKeyInput:
        return
    assert len(key.mrz_information) == 24


@given(st.text())
def test_from_mrz_random(text: str) -> None:
    try:
        BacKey.from_mrz(text)
    except MalformedData:
        pass
