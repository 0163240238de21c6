"""Shipped card profiles: realistic holders, consistent access data, strict loading."""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path

import pytest

from reader.virtual.faces import ENV_VAR, faces_dir
from reader.virtual.profile import (
    ProfileError,
    list_profiles,
    load_profile,
    milestone_expiry,
)
from reader.virtual.td1 import check_digit

SHIPPED = ("nguyen-van-an", "le-hoang-minh", "tran-thi-bich-ngoc", "pham-thi-hong")
PROVINCES = {"001": "Hà Nội", "048": "Đà Nẵng", "079": "Thành phố Hồ Chí Minh", "040": "Nghệ An"}


def test_the_four_profiles_are_shipped() -> None:
    assert set(SHIPPED) <= set(list_profiles())


@pytest.mark.parametrize("name", SHIPPED)
def test_profile_is_a_plausible_cccd(name: str) -> None:
    profile = load_profile(name)
    h = profile.holder
    assert profile.description
    # PPP G YY NNNNNN
    assert h.id_number[:3] in PROVINCES
    assert PROVINCES[h.id_number[:3]] in h.place_of_origin + h.place_of_residence
    century_sex = 2 * (h.date_of_birth.year // 100 - 19) + (h.sex == "Nữ")
    assert h.id_number[3] == str(century_sex)
    assert h.id_number[4:6] == f"{h.date_of_birth.year % 100:02d}"
    assert h.date_of_expiry == milestone_expiry(h.date_of_birth, h.date_of_issue)
    for text in (h.full_name, h.place_of_residence, h.place_of_origin):
        assert unicodedata.is_normalized("NFC", text)
        assert text != unicodedata.normalize("NFD", text)  # it has diacritics
    assert (faces_dir() / profile.portrait.file).is_file()


@pytest.mark.parametrize("name", SHIPPED)
def test_access_data_is_consistent(name: str) -> None:
    profile = load_profile(name)
    h = profile.holder
    data = profile.access_data()
    assert data["id_number"] == h.id_number
    assert data["document_number"] == h.id_number[3:]
    assert data["can"] == h.id_number[-6:]
    assert data["date_of_birth"] == h.date_of_birth.isoformat()
    qr = data["qr"].split("|")
    assert len(qr) == 7
    assert qr[0] == h.id_number and qr[1] == (h.old_id_number or "")
    assert qr[2] == h.full_name and qr[4] == h.sex and qr[5] == h.place_of_residence
    assert qr[3] == h.date_of_birth.strftime("%d%m%Y")
    assert qr[6] == h.date_of_issue.strftime("%d%m%Y")
    l1, l2, l3 = data["mrz"].split("\n")
    assert len(l1) == len(l2) == len(l3) == 30
    assert l1[5:14] == data["document_number"]
    assert l2[0:6] == h.date_of_birth.strftime("%y%m%d")
    doe = "991231" if h.date_of_expiry is None else h.date_of_expiry.strftime("%y%m%d")
    assert l2[8:14] == doe
    info = data["mrz_information"]
    assert info == (
        data["document_number"]
        + check_digit(data["document_number"])
        + l2[0:6]
        + check_digit(l2[0:6])
        + doe
        + check_digit(doe)
    )


def test_the_special_cases_are_where_the_brief_put_them() -> None:
    hong = load_profile("pham-thi-hong")
    assert hong.holder.date_of_expiry is None
    assert hong.access_data()["date_of_expiry"] is None
    assert hong.holder.spouse_name and hong.holder.old_id_number
    assert hong.chip.parents_encoding == "combined"
    assert hong.holder.date_of_birth.year == 1958
    assert load_profile("le-hoang-minh").access_data()["qr"].split("|")[1] == ""
    assert load_profile("le-hoang-minh").chip.extended_length is False


def test_milestone_expiry_rule() -> None:
    dob = date(1993, 1, 5)
    assert milestone_expiry(dob, date(2016, 6, 1)) == date(2033, 1, 5)  # within 2 years of 25
    assert milestone_expiry(dob, date(2016, 1, 1)) == date(2018, 1, 5)  # 2 years and 4 days
    assert milestone_expiry(dob, date(2051, 6, 1)) is None  # within 2 years of 60
    assert milestone_expiry(dob, date(2040, 1, 1)) == date(2053, 1, 5)


TOML_OK = """
[holder]
id_number = "001093047064"
full_name = "Ưng Hoàng Hiệp"
date_of_birth = 1993-01-05
sex = "Nam"
nationality = "Việt Nam"
ethnicity = "Kinh"
religion = "Không"
place_of_origin = "Hà Nội"
place_of_residence = "Hà Nội"
identifying_features = "Không"
date_of_issue = 2021-01-01
date_of_expiry = 2033-01-05
father_name = "A"
mother_name = "B"

[portrait]
file = "people/person13/img25.jpg"
"""


def test_load_by_path_and_nfc(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text(unicodedata.normalize("NFD", TOML_OK), encoding="utf-8")
    profile = load_profile(path)
    assert profile.name == "x"
    assert profile.holder.full_name == unicodedata.normalize("NFC", "Ưng Hoàng Hiệp")
    assert profile.chip.advertise_extended is None and profile.chip.max_response == 65533
    assert profile.td1.line1 == "IDVNM0930470641001093047064<<2"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('id_number = "001093047064"', 'id_number = "001193047064"', "digit 4"),
        ('id_number = "001093047064"', 'id_number = "001094047064"', "birth year"),
        ('id_number = "001093047064"', 'id_number = "00109304706"', "12 digits"),
        ('sex = "Nam"', 'sex = "M"', "Nam or Nữ"),
        ("father_name", "fathers_name", "unknown keys"),
        ("date_of_birth = 1993-01-05", 'date_of_birth = "05/01/1993"', "TOML date"),
        ('[portrait]\nfile = "people/person13/img25.jpg"', "", "[portrait]"),
        ('file = "people/person13/img25.jpg"', 'file = "x.jpg"\nformat = "png"', "format"),
        ("[portrait]", "[chip]\nmax_response = 70000\n[portrait]", "max_response"),
        ("[portrait]", '[chip]\nparents_encoding = "both"\n[portrait]', "parents_encoding"),
        ("[portrait]", "[chip]\ndg13_absent = [17]\n[portrait]", "dg13_absent"),
        ("[portrait]", '[chip]\napplet = "yes"\n[portrait]', "wrong type"),
    ],
)
def test_bad_profiles_are_refused(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in TOML_OK
    path = tmp_path / "bad.toml"
    path.write_text(TOML_OK.replace(old, new), encoding="utf-8")
    with pytest.raises(ProfileError, match=message.replace("[", r"\[")):
        load_profile(path)


def test_unknown_profile_name_lists_the_shipped_ones() -> None:
    with pytest.raises(FileNotFoundError, match="nguyen-van-an"):
        load_profile("no-such-card")


def test_faces_dir_environment_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert faces_dir() == tmp_path
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match=ENV_VAR):
        faces_dir()
    monkeypatch.delenv(ENV_VAR)
    assert (faces_dir() / "people").is_dir()
