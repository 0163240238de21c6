"""TD1 MRZ parsing against the real CCCD samples and the ICAO 9303 specimen."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reader.errors import CheckDigitError, MalformedData
from reader.mrz import Td1Mrz, check_digit, parse_td1

CCCD_1 = (
    "IDVNM0930470641001093047064<<2",
    "9301054M3301052VNM<<<<<<<<<<<8",
    "UNG<<HOANG<HIEP<<<<<<<<<<<<<<<",
)
CCCD_2 = (
    "IDVNM0910055134051091005513<<0",
    "9101014M3101012VNM<<<<<<<<<<<8",
    "NGUYEN<<VAN<AN<<<<<<<<<<<<<<<<",
)
ICAO_SPECIMEN = (
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
)
TODAY = date(2025, 6, 1)


def _cd(field: str) -> str:
    # Written out again here so the builder does not trust the code under test.
    values = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")} | {"<": 0}
    return str(sum(values[c] * (7, 3, 1)[i % 3] for i, c in enumerate(field)) % 10)


def build_td1(
    *,
    number: str = "093047064",
    id_number: str | None = "001093047064",
    dob: str = "930105",
    sex: str = "M",
    expiry: str = "330105",
    state: str = "VNM",
    name: str = "UNG<<HOANG<HIEP",
    optional_1: str | None = None,
    optional_2: str = "",
) -> tuple[str, str, str]:
    if len(number) > 9:
        # ICAO long document number: '<' in the check digit slot, the rest in the optional data.
        head = number[:9] + "<"
        optional = number[9:] + _cd(number) + "<" + (optional_1 or "")
    else:
        head = number.ljust(9, "<") + _cd(number.ljust(9, "<"))
        if optional_1 is not None:
            optional = optional_1
        elif id_number is not None:
            optional = id_number + "<<" + _cd(id_number)
        else:
            optional = ""
    l1 = ("ID" + state + head + optional).ljust(30, "<")
    l2_start = dob + _cd(dob) + sex + expiry + _cd(expiry) + state + optional_2.ljust(11, "<")
    composite = l1[5:30] + l2_start[0:7] + l2_start[8:15] + l2_start[18:29]
    l2 = l2_start + _cd(composite)
    l3 = name.ljust(30, "<")
    assert len(l1) == len(l2) == len(l3) == 30
    return l1, l2, l3


# --- check digits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "digit"),
    [
        ("L898902C<", "3"),  # ICAO 9303-11 D.2
        ("690806", "1"),
        ("940623", "6"),
        ("D23145890", "7"),  # ICAO 9303-5 TD1 specimen
        ("740812", "2"),
        ("120415", "9"),
        ("001093047064", "2"),  # CCCD ID check digit from the real sample
        ("<<<<<<", "0"),
        ("", "0"),
        ("l898902c<", "3"),
    ],
)
def test_check_digit_published_values(field: str, digit: str) -> None:
    assert check_digit(field) == digit


@pytest.mark.parametrize("field", ["12 34", "A-B", "é", "12#"])
def test_check_digit_rejects_non_mrz_characters(field: str) -> None:
    with pytest.raises(MalformedData):
        check_digit(field)


# --- real samples ---------------------------------------------------------------------------


def test_real_cccd_sample() -> None:
    mrz = parse_td1("\n".join(CCCD_1))
    assert mrz == Td1Mrz(
        document_code="ID",
        issuing_state="VNM",
        document_number="093047064",
        optional_data_1="001093047064<<2",
        optional_data_2="",
        id_number="001093047064",
        date_of_birth=date(1993, 1, 5),
        sex="M",
        date_of_expiry=date(2033, 1, 5),
        no_expiry=False,
        nationality="VNM",
        surname="UNG",
        given_names="HOANG HIEP",
        lines=CCCD_1,
    )
    assert mrz.document_number_field == "093047064"


def test_second_real_cccd_sample() -> None:
    mrz = parse_td1("".join(CCCD_2))
    assert mrz.id_number == "051091005513"
    assert mrz.document_number == "091005513"
    assert mrz.date_of_birth == date(1991, 1, 1)
    assert mrz.date_of_expiry == date(2031, 1, 1)
    assert (mrz.surname, mrz.given_names) == ("NGUYEN", "VAN AN")


def test_icao_specimen_has_no_cccd_id() -> None:
    mrz = parse_td1("\n".join(ICAO_SPECIMEN), today=TODAY)
    assert mrz.id_number is None
    assert mrz.document_code == "I"
    assert mrz.issuing_state == "UTO"
    assert mrz.document_number == "D23145890"
    assert mrz.date_of_birth == date(1974, 8, 12)
    assert mrz.date_of_expiry == date(2012, 4, 15)
    assert mrz.sex == "F"
    assert (mrz.surname, mrz.given_names) == ("ERIKSSON", "ANNA MARIA")
    assert mrz.optional_data_1 == ""


@pytest.mark.parametrize(
    "text",
    [
        "".join(CCCD_1),
        "\r\n".join(CCCD_1) + "\r\n",
        "  \n" + "\n".join(CCCD_1) + "\n\n  ",
        "\n".join(line.lower() for line in CCCD_1),
        "IDVNM 093047064 1 001093047064<<2\n9301054 M 3301052 VNM<<<<<<<<<<<8\n"
        "UNG<<HOANG<HIEP<<<<<<<<<<<<<<<",
        "\t".join(CCCD_1),
        " ".join(CCCD_1),
    ],
)
def test_scanner_noise_is_tolerated(text: str) -> None:
    assert parse_td1(text).lines == CCCD_1


# --- dates ----------------------------------------------------------------------------------


def test_century_from_cccd_id_2000s() -> None:
    # ESP32 example: doc no. 203021621, DOB 030903, expiry 280903.
    lines = build_td1(number="203021621", id_number="079203021621", dob="030903", expiry="280903")
    mrz = parse_td1("".join(lines))
    assert mrz.date_of_birth == date(2003, 9, 3)
    assert mrz.date_of_expiry == date(2028, 9, 3)


def test_century_from_cccd_id_beats_the_today_rule() -> None:
    # YY=10 would be 2010 by the "in the past" rule; the ID's digit 0 says 1910.
    lines = build_td1(number="010123456", id_number="001010123456", dob="100203", expiry="991231")
    assert parse_td1("".join(lines), today=TODAY).date_of_birth == date(1910, 2, 3)


def test_century_from_cccd_id_2100s() -> None:
    lines = build_td1(number="401123456", id_number="001401123456", dob="010203", expiry="260203")
    assert parse_td1("".join(lines), today=TODAY).date_of_birth == date(2101, 2, 3)


@pytest.mark.parametrize(("yy", "year"), [("25", 2025), ("26", 1926), ("00", 2000), ("99", 1999)])
def test_century_without_cccd_id_is_in_the_past(yy: str, year: int) -> None:
    lines = build_td1(number="C01X00T47", id_number=None, dob=yy + "0101", state="D<<")
    assert parse_td1("".join(lines), today=TODAY).date_of_birth == date(year, 1, 1)


def test_expiry_991231_means_no_expiry() -> None:
    lines = build_td1(number="158024485", id_number="001158024485", dob="581008", expiry="991231")
    mrz = parse_td1("".join(lines))
    assert mrz.date_of_expiry == date(2099, 12, 31)
    assert mrz.no_expiry is True
    assert mrz.sex == "M"


def test_expiry_all_fillers() -> None:
    mrz = parse_td1("".join(build_td1(expiry="<<<<<<")))
    assert mrz.date_of_expiry is None
    assert mrz.no_expiry is True


@pytest.mark.parametrize(("dob", "expiry"), [("930230", "330105"), ("931305", "330105")])
def test_impossible_dates(dob: str, expiry: str) -> None:
    with pytest.raises(MalformedData) as err:
        parse_td1("".join(build_td1(dob=dob, expiry=expiry)))
    assert not isinstance(err.value, CheckDigitError)
    assert err.value.context["field"] == "date_of_birth"


def test_impossible_expiry() -> None:
    with pytest.raises(MalformedData) as err:
        parse_td1("".join(build_td1(expiry="330231")))
    assert err.value.context["field"] == "date_of_expiry"


def test_letters_in_birth_date_with_valid_check_digit() -> None:
    with pytest.raises(MalformedData) as err:
        parse_td1("".join(build_td1(dob="93O105")))
    assert not isinstance(err.value, CheckDigitError)


# --- the ICAO long document number ----------------------------------------------------------


def test_long_document_number_overflow() -> None:
    lines = build_td1(number="D23145890734", id_number=None, optional_1="XY")
    assert lines[0][14] == "<"
    mrz = parse_td1("".join(lines), today=TODAY)
    assert mrz.document_number == "D23145890734"
    assert mrz.optional_data_1 == "XY"
    assert mrz.id_number is None


def test_long_document_number_without_continuation() -> None:
    l1 = "I<UTOD23145890<<<<<<<<<<<<<<<<"
    with pytest.raises(MalformedData):
        parse_td1(l1 + ICAO_SPECIMEN[1] + ICAO_SPECIMEN[2])


# --- check digit failures -------------------------------------------------------------------


def _replace(line: str, pos: int, char: str) -> str:
    return line[:pos] + char + line[pos + 1 :]


@pytest.mark.parametrize(
    ("line", "pos", "field"),
    [
        (0, 14, "document_number"),
        (1, 6, "date_of_birth"),
        (1, 14, "date_of_expiry"),
        (0, 29, "id_number"),
        (1, 29, "composite"),
        (0, 8, "document_number"),  # a digit of the number itself
        (1, 2, "date_of_birth"),
        (0, 20, "id_number"),
    ],
)
def test_each_check_digit_is_verified(line: int, pos: int, field: str) -> None:
    lines = list(CCCD_1)
    old = lines[line][pos]
    lines[line] = _replace(lines[line], pos, str((int(old) + 1) % 10))
    with pytest.raises(CheckDigitError) as err:
        parse_td1("".join(lines))
    assert err.value.context["field"] == field
    assert err.value.key == "card.check_digit"


def test_composite_catches_a_change_in_optional_data_2() -> None:
    lines = list(CCCD_1)
    lines[1] = _replace(lines[1], 20, "B")  # not A: 10 × weight ≡ 0 (mod 10)
    with pytest.raises(CheckDigitError) as err:
        parse_td1("".join(lines))
    assert err.value.context["field"] == "composite"


# --- malformed ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n  ",
        "".join(CCCD_1)[:-1],
        "".join(CCCD_1) + "<",
        CCCD_1[0][:-1] + "\n" + CCCD_1[1] + "<\n" + CCCD_1[2],  # a character moved a line
        "".join(CCCD_1).replace("U", "Ü"),
        "".join(CCCD_1).replace("UNG", "U#G"),
        "".join(CCCD_1).replace("IDVNM", "IDV1M"),  # issuing state with a digit
        "".join(CCCD_1).replace("4M33", "4Q33"),  # sex
        "<" + "".join(CCCD_1)[1:],  # document code
        "\n".join(CCCD_1) + "\n" + CCCD_1[2],
    ],
)
def test_malformed_input(text: str) -> None:
    with pytest.raises(MalformedData):
        parse_td1(text)


def test_non_text_input() -> None:
    with pytest.raises(MalformedData):
        parse_td1(b"".join(line.encode() for line in CCCD_1))  # type: ignore[arg-type]


def test_cccd_like_optional_data_with_a_bad_digit_is_an_error_not_silence() -> None:
    lines = build_td1(optional_1="001093047064<<7")
    with pytest.raises(CheckDigitError):
        parse_td1("".join(lines))


def test_optional_data_without_cccd_layout_gives_no_id() -> None:
    lines = build_td1(optional_1="ABC123")
    mrz = parse_td1("".join(lines))
    assert mrz.id_number is None
    assert mrz.optional_data_1 == "ABC123"
    # Without the ID the century comes from the "in the past" rule.
    assert mrz.date_of_birth == date(1993, 1, 5)


# --- properties -----------------------------------------------------------------------------

MRZ_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<"


@given(st.text())
def test_random_text_raises_only_malformed(text: str) -> None:
    try:
        parse_td1(text)
    except MalformedData:
        pass


@given(st.text(alphabet=MRZ_ALPHABET + "\n ", min_size=85, max_size=95))
def test_random_mrz_like_text_raises_only_malformed(text: str) -> None:
    try:
        parse_td1(text, today=TODAY)
    except MalformedData:
        pass


@given(st.integers(0, 89), st.sampled_from(MRZ_ALPHABET + "a#\n é"))
def test_any_single_change_is_parsed_or_refused_cleanly(pos: int, char: str) -> None:
    run = "".join(CCCD_1)
    try:
        parse_td1(run[:pos] + char + run[pos + 1 :])
    except MalformedData:
        pass


@given(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    st.sampled_from(["M", "F"]),
    st.sampled_from(["001", "079", "096"]),
    st.integers(0, 999_999),
)
def test_round_trip(dob: date, expiry: date, sex: str, province: str, serial: int) -> None:
    g = (dob.year - 1900) // 100 * 2 + (sex == "F")
    id_number = f"{province}{g}{dob.year % 100:02d}{serial:06d}"
    lines = build_td1(
        number=id_number[3:],
        id_number=id_number,
        dob=dob.strftime("%y%m%d"),
        sex=sex,
        expiry=expiry.strftime("%y%m%d"),
    )
    mrz = parse_td1("\n".join(lines))
    assert (mrz.id_number, mrz.document_number) == (id_number, id_number[3:])
    assert (mrz.date_of_birth, mrz.date_of_expiry, mrz.sex) == (dob, expiry, sex)


@given(st.sampled_from([0, 1, 2, 3, 4, 5]), st.integers(1, 9))
def test_every_digit_change_in_the_birth_date_is_caught(pos: int, delta: int) -> None:
    # 7-3-1 weights are coprime to 10, so any single-digit change moves the check digit.
    lines = list(CCCD_1)
    lines[1] = _replace(lines[1], pos, str((int(lines[1][pos]) + delta) % 10))
    with pytest.raises(CheckDigitError):
        parse_td1("".join(lines))
