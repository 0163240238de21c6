"""Card profiles: who the virtual CCCD belongs to and how its chip behaves, from TOML.

The MRZ, CAN and QR payload are derived from the holder data, the way the issuer derives them,
so a profile cannot contradict itself.

A profile may extend another (``[card] base = "nguyen-van-an"``): the base's tables are merged
with the file's, key by key. Attack profiles (``attack-*.toml``) do so and add an ``[attack]``
table naming the defect the card carries.
"""

from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import dataclass, field, fields
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from .td1 import Td1, build_td1

NO_EXPIRY = "Không thời hạn"
SEXES = ("Nam", "Nữ")
_MILESTONE_AGES = (25, 40, 60)

CIPHER_NAMES = ("AES-128", "AES-192", "AES-256", "3DES")
PACE_PARAMETER_IDS = tuple(range(8, 19))  # the standardized ECDH domain parameters
PACE_PASSWORDS = ("can", "mrz")
AA_KINDS = ("ecdsa", "rsa", "none")
ATTACK_KINDS = (
    "portrait-swapped",  # DG2 replaced after the SOD was signed: a hash mismatch
    "unknown-signer",  # re-signed by a document signer under another CSCA
    "clone",  # the genuine files in a chip without the genuine AA/CA private keys
    # Clones that hide their keys' files to dodge CA and AA (issue 11, item 2): EF.COM without
    # DG14 and DG15 (EF.COM is not signed); DG14 and DG15 absent from the chip as well (6A82);
    # DG14 and DG15 present but refused (6982). EF.SOD still hashes both.
    "clone-com-stripped",
    "clone-groups-hidden",
    "clone-groups-refused",
    "com-lists-unsigned",  # genuine, but EF.COM (unsigned) lists DG11, which EF.SOD does not hash
    # A clone that answers chip and active authentication with 6700 ("too long for me") to be
    # sent to review as "could not check" instead of being called a clone (issue 11, item 2b).
    "clone-claims-too-long",
    "expired-card",  # genuine and properly signed, but past its expiry date
    "signer-outside-validity",  # the DS certificate's validity excludes the signing time
)


class ProfileError(ValueError):
    """A profile file is missing a field, has a wrong type, or contradicts itself."""


@dataclass(frozen=True, slots=True)
class Holder:
    """The 16 DG13 fields (research notes §3), by name."""

    id_number: str
    full_name: str
    date_of_birth: date
    sex: str
    nationality: str
    ethnicity: str
    religion: str
    place_of_origin: str
    place_of_residence: str
    identifying_features: str
    date_of_issue: date
    date_of_expiry: date | None  # None: "Không thời hạn"
    father_name: str
    mother_name: str
    spouse_name: str | None = None
    old_id_number: str | None = None
    field_16: str | None = None

    @property
    def document_number(self) -> str:
        return self.id_number[3:]

    @property
    def can(self) -> str:
        return self.id_number[6:]


@dataclass(frozen=True, slots=True)
class Portrait:
    file: str  # relative to faces_dir()
    format: Literal["jpeg", "jpeg2000"] = "jpeg"


@dataclass(frozen=True, slots=True)
class ChipSettings:
    applet: bool = True  # False: a card without the eMRTD application (bank card, ...)
    extended_length: bool = True
    advertise_extended: bool | None = None  # None: the ATR says nothing about it
    max_response: int = 65533  # vpcd frames are at most 65535 bytes including SW
    # Issue 11, item 8. A real CCCD answers a short protected command with Le=00 with the whole
    # protected answer, ~283 bytes for 256 plain bytes or a 2048-bit RSA signature (readers
    # written against real cards, e.g. khoa288/id-chip-reader, expect up to 285 bytes). True:
    # the strict reading of ISO 7816-4 this card had before, a short answer never exceeds 256
    # bytes (6700 instead): readers must meet either.
    strict_short_response: bool = False
    # An authentication answer (INTERNAL / GENERAL / EXTERNAL AUTHENTICATE) longer than the chip
    # sends at once (max_response, or a short Le below 256) comes in parts: SW 61xx, then GET
    # RESPONSE (ISO/IEC 7816-4 §5.3.4 and §11.6.4). READ BINARY instead answers 6700: the
    # reader asks for less. False: 6700 for those too.
    response_chaining: bool = True
    # SELECT of the MF (00 A4 00 0C 02 3F00): "refused" answers 6D00 as real CCCDs are reported
    # to (AndyQ/NFCPassportReader#219, research notes §1: readers must select EF.CardAccess by
    # its file identifier); "iso" selects the MF as ISO/IEC 7816-4 §11.2.2 says (9000).
    select_mf: Literal["refused", "iso"] = "refused"
    parents_encoding: Literal["separate", "combined"] = "separate"
    dg13_absent: tuple[int, ...] = ()
    seed: str | None = None
    # Access control and authentication (research notes §1, §4): the real CCCD's defaults.
    pace: bool = True  # False: no EF.CardAccess, MSE:Set AT for PACE is refused
    pace_cipher: str = "AES-128"
    pace_parameter_id: int = 13  # brainpoolP256r1
    pace_passwords: tuple[str, ...] = PACE_PASSWORDS  # a password left out is refused with 6982
    bac: bool = True  # False: GET CHALLENGE / EXTERNAL AUTHENTICATE answer 6982
    active_authentication: Literal["ecdsa", "rsa", "none"] = "ecdsa"
    chip_authentication: bool = True
    ca_cipher: str = "AES-128"


@dataclass(frozen=True, slots=True)
class Attack:
    """How an attack profile's card differs from a genuine one (see ``ATTACK_KINDS``)."""

    kind: str
    portrait: Portrait | None = None  # the impostor's photo (portrait-swapped, unknown-signer)
    signer_seed: str = "examdesk-unknown-issuer"  # unknown-signer: seed of the other CSCA
    ds_not_before: date | None = None  # signer-outside-validity: the DS certificate validity
    ds_not_after: date | None = None
    clone_seed: str = "examdesk-clone"  # clone: seed of the keys the cloned chip really has


@dataclass(frozen=True, slots=True)
class CardProfile:
    name: str
    description: str
    holder: Holder
    portrait: Portrait
    chip: ChipSettings = field(default_factory=ChipSettings)
    attack: Attack | None = None

    @property
    def td1(self) -> Td1:
        h = self.holder
        return build_td1(h.id_number, h.date_of_birth, h.sex, h.date_of_expiry, h.full_name)

    @property
    def mrz_information(self) -> str:
        return self.td1.mrz_information

    @property
    def seed(self) -> str:
        """Seed of the chip's own keys (AA, CA)."""
        return self.chip.seed or f"examdesk-virtual-cccd:{self.holder.id_number}"

    def access_data(self) -> dict[str, Any]:
        """What an invigilator could read off the card: MRZ, CAN, QR, and their parts.

        ``date_of_expiry`` is ``None`` for a card valid "Không thời hạn"; its MRZ says 991231.
        """
        h = self.holder
        qr = "|".join(
            [
                h.id_number,
                h.old_id_number or "",
                h.full_name,
                h.date_of_birth.strftime("%d%m%Y"),
                h.sex,
                h.place_of_residence,
                h.date_of_issue.strftime("%d%m%Y"),
            ]
        )
        td1 = self.td1
        return {
            "id_number": h.id_number,
            "document_number": h.document_number,
            "date_of_birth": h.date_of_birth.isoformat(),
            "date_of_expiry": h.date_of_expiry.isoformat() if h.date_of_expiry else None,
            "can": h.can,
            "mrz": "\n".join(td1.lines),
            "mrz_information": td1.mrz_information,
            "qr": qr,
            "attack": self.attack.kind if self.attack else None,
        }


def milestone_expiry(date_of_birth: date, date_of_issue: date) -> date | None:
    """Expiry by Luật CCCD 2014 Art. 21: the birthday at 25, 40 or 60, the first one at least
    two years after issue; a card issued less than two years before 60 never expires."""
    for age in _MILESTONE_AGES:
        birthday = _birthday(date_of_birth, date_of_birth.year + age)
        if birthday >= _birthday(date_of_issue, date_of_issue.year + 2):
            return birthday
    return None


def _birthday(d: date, year: int) -> date:
    try:
        return d.replace(year=year)
    except ValueError:  # 29 February in a common year
        return date(year, 3, 1)


# --- loading ------------------------------------------------------------------------------


ATTACK_PREFIX = "attack-"
CLONE_KINDS = ("clone", "clone-com-stripped", "clone-groups-hidden", "clone-groups-refused",
               "clone-claims-too-long")


def list_profiles(*, attacks: bool = True) -> list[str]:
    """Names of the profiles shipped in ``reader/virtual/profiles``, sorted; attack profiles
    (``attack-*``) are included unless ``attacks`` is false."""
    folder = resources.files(__package__).joinpath("profiles")
    names = sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))
    return [n for n in names if attacks or not n.startswith(ATTACK_PREFIX)]


def load_profile(name_or_path: str | Path) -> CardProfile:
    """A shipped profile by name (``"nguyen-van-an"``) or any TOML file by path."""
    raw, name = _load_raw(name_or_path, ())
    return parse_profile(raw, name)


def _load_raw(name_or_path: str | Path, chain: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    """The TOML tables with the base profile (if any) merged in."""
    text, name, folder = _read(name_or_path)
    if name in chain:
        raise ProfileError(f"{name}: [card] base forms a cycle: {' → '.join((*chain, name))}")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{name}: {exc}") from exc
    card = raw.get("card")
    base = card.get("base") if isinstance(card, dict) else None
    if base is None:
        return raw, name
    if not isinstance(base, str):
        raise ProfileError(f"{name} [card]: base must be a profile name or a TOML path")
    if folder is not None and (base.endswith(".toml") or "/" in base):
        base_ref: str | Path = folder / base  # relative to the extending file
    else:
        base_ref = base
    try:
        base_raw, _ = _load_raw(base_ref, (*chain, name))
    except FileNotFoundError as exc:
        raise ProfileError(f"{name} [card]: base: {exc}") from exc
    return _merge(base_raw, raw), name


def _merge(base: dict[str, Any], extension: dict[str, Any]) -> dict[str, Any]:
    """Table by table: the extension's keys win; ``[card] base`` itself is not inherited."""
    merged: dict[str, Any] = {}
    for key in {*base, *extension}:
        below, above = base.get(key), extension.get(key)
        if isinstance(below, dict) and isinstance(above, dict):
            merged[key] = {**below, **above}
        else:
            merged[key] = above if key in extension else below
    if isinstance(merged.get("card"), dict):
        card = dict(merged["card"])
        card.pop("base", None)
        merged["card"] = card
    return merged


def _read(name_or_path: str | Path) -> tuple[str, str, Path | None]:
    as_text = str(name_or_path)
    if isinstance(name_or_path, Path) or as_text.endswith(".toml") or "/" in as_text:
        path = Path(name_or_path)
        return path.read_text(encoding="utf-8"), path.stem, path.parent
    resource = resources.files(__package__).joinpath("profiles", f"{as_text}.toml")
    if not resource.is_file():
        known = ", ".join(list_profiles())
        raise FileNotFoundError(f"no card profile {as_text!r}; shipped profiles: {known}")
    return resource.read_text(encoding="utf-8"), as_text, None


def parse_profile(raw: dict[str, Any], name: str) -> CardProfile:
    _only_keys(raw, {"card", "holder", "portrait", "chip", "attack"}, name)
    card = _table(raw, "card", name, required=False)
    _only_keys(card, {"description", "base"}, f"{name} [card]")
    holder = _holder(_table(raw, "holder", name), name)
    attack_table = _table(raw, "attack", name, required=False)
    return CardProfile(
        name=name,
        description=_nfc(card.get("description", "")),
        holder=holder,
        portrait=_portrait(_table(raw, "portrait", name), name),
        chip=_chip(_table(raw, "chip", name, required=False), name),
        attack=_attack(attack_table, holder, name) if attack_table else None,
    )


def _holder(t: dict[str, Any], name: str) -> Holder:
    where = f"{name} [holder]"
    spec = {f.name: f for f in fields(Holder)}
    _only_keys(t, set(spec), where)
    values: dict[str, Any] = {}
    for key in spec:
        if key not in t:
            if spec[key].default is None:
                continue
            raise ProfileError(f"{where}: {key} is missing")
        value = t[key]
        if key in ("date_of_birth", "date_of_issue"):
            values[key] = _date(value, key, where)
        elif key == "date_of_expiry":
            values[key] = None if value == NO_EXPIRY else _date(value, key, where)
        elif isinstance(value, str):
            values[key] = _nfc(value)
        else:
            raise ProfileError(f"{where}: {key} must be a string")
    holder = Holder(**values)
    _check_holder(holder, where)
    return holder


def _check_holder(h: Holder, where: str) -> None:
    if len(h.id_number) != 12 or not h.id_number.isdigit():
        raise ProfileError(f"{where}: id_number must be 12 digits")
    if h.sex not in SEXES:
        raise ProfileError(f"{where}: sex must be Nam or Nữ")
    # PPP G YY NNNNNN: G = century and sex (0/1 = 19xx, 2/3 = 20xx, even = male), YY = year.
    century = (h.date_of_birth.year // 100) - 19
    expected = str(2 * century + (0 if h.sex == "Nam" else 1))
    if not 0 <= century <= 2 or h.id_number[3] != expected:
        raise ProfileError(f"{where}: digit 4 of the ID must be {expected} for this sex and DOB")
    if h.id_number[4:6] != f"{h.date_of_birth.year % 100:02d}":
        raise ProfileError(f"{where}: digits 5-6 of the ID must be the birth year")
    if h.old_id_number is not None and not h.old_id_number.isdigit():
        raise ProfileError(f"{where}: old_id_number must be digits")


def _portrait(t: dict[str, Any], name: str) -> Portrait:
    where = f"{name} [portrait]"
    _only_keys(t, {"file", "format"}, where)
    if not isinstance(t.get("file"), str):
        raise ProfileError(f"{where}: file is missing")
    return Portrait(t["file"], _portrait_format(t.get("format", "jpeg"), where))


def _portrait_format(fmt: Any, where: str) -> Literal["jpeg", "jpeg2000"]:
    if fmt == "jpeg":
        return "jpeg"
    if fmt == "jpeg2000":
        return "jpeg2000"
    raise ProfileError(f"{where}: format must be jpeg or jpeg2000")


def _attack(t: dict[str, Any], holder: Holder, name: str) -> Attack:
    where = f"{name} [attack]"
    _only_keys(
        t,
        {
            "kind",
            "portrait",
            "portrait_format",
            "signer_seed",
            "ds_not_before",
            "ds_not_after",
            "clone_seed",
        },
        where,
    )
    kind = t.get("kind")
    if kind not in ATTACK_KINDS:
        raise ProfileError(f"{where}: kind must be one of {', '.join(ATTACK_KINDS)}")
    for key in ("portrait", "portrait_format", "signer_seed", "clone_seed"):
        if key in t and not isinstance(t[key], str):
            raise ProfileError(f"{where}: {key} must be a string")
    portrait = None
    if "portrait" in t:
        fmt = _portrait_format(t.get("portrait_format", "jpeg"), where)
        portrait = Portrait(t["portrait"], fmt)
    elif kind == "portrait-swapped":
        raise ProfileError(f"{where}: portrait-swapped needs the impostor's portrait")
    ds_not_before, ds_not_after = (
        _date(t[key], key, where) if key in t else None for key in ("ds_not_before", "ds_not_after")
    )
    if kind == "signer-outside-validity":
        if ds_not_before is None or ds_not_after is None or ds_not_before >= ds_not_after:
            raise ProfileError(f"{where}: ds_not_before < ds_not_after are both needed")
        if ds_not_before <= holder.date_of_issue < ds_not_after:
            raise ProfileError(f"{where}: the DS validity must exclude the signing (issue) date")
    if kind == "expired-card" and holder.date_of_expiry is None:
        raise ProfileError(f"{where}: an expired card needs an expiry date")
    defaults = Attack(kind)
    return Attack(
        kind=kind,
        portrait=portrait,
        signer_seed=t.get("signer_seed", defaults.signer_seed),
        ds_not_before=ds_not_before,
        ds_not_after=ds_not_after,
        clone_seed=t.get("clone_seed", defaults.clone_seed),
    )


def _chip(t: dict[str, Any], name: str) -> ChipSettings:
    where = f"{name} [chip]"
    _only_keys(t, {f.name for f in fields(ChipSettings)}, where)
    kinds: dict[str, type | tuple[type, ...]] = {
        "applet": bool,
        "extended_length": bool,
        "advertise_extended": bool,
        "max_response": int,
        "strict_short_response": bool,
        "response_chaining": bool,
        "select_mf": str,
        "parents_encoding": str,
        "dg13_absent": list,
        "seed": str,
        "pace": bool,
        "pace_cipher": str,
        "pace_parameter_id": int,
        "pace_passwords": list,
        "bac": bool,
        "active_authentication": str,
        "chip_authentication": bool,
        "ca_cipher": str,
    }
    for key, value in t.items():
        is_int = key in ("max_response", "pace_parameter_id")
        if not isinstance(value, kinds[key]) or (is_int and isinstance(value, bool)):
            raise ProfileError(f"{where}: {key} has the wrong type")
    for key in ("pace_cipher", "ca_cipher"):
        if t.get(key, "AES-128") not in CIPHER_NAMES:
            raise ProfileError(f"{where}: {key} must be one of {', '.join(CIPHER_NAMES)}")
    if t.get("pace_parameter_id", 13) not in PACE_PARAMETER_IDS:
        raise ProfileError(f"{where}: pace_parameter_id must be 8..18 (ECDH)")
    passwords = t.get("pace_passwords", list(PACE_PASSWORDS))
    if not passwords or not all(p in PACE_PASSWORDS for p in passwords):
        raise ProfileError(f'{where}: pace_passwords lists "can" and/or "mrz"')
    if t.get("active_authentication", "ecdsa") not in AA_KINDS:
        raise ProfileError(f"{where}: active_authentication must be ecdsa, rsa or none")
    if not t.get("bac", True) and not t.get("pace", True):
        raise ProfileError(f"{where}: a chip without BAC needs PACE")
    if t.get("select_mf", "refused") not in ("refused", "iso"):
        raise ProfileError(f'{where}: select_mf must be "refused" or "iso"')
    if t.get("parents_encoding", "separate") not in ("separate", "combined"):
        raise ProfileError(f"{where}: parents_encoding must be separate or combined")
    if not 1 <= t.get("max_response", 65533) <= 65533:
        raise ProfileError(f"{where}: max_response must be 1..65533")
    absent = t.get("dg13_absent", [])
    if not all(isinstance(n, int) and 1 <= n <= 16 for n in absent):
        raise ProfileError(f"{where}: dg13_absent lists entry numbers 1..16")
    return ChipSettings(
        **{**t, "dg13_absent": tuple(absent), "pace_passwords": tuple(dict.fromkeys(passwords))}
    )


def _table(raw: dict[str, Any], key: str, name: str, *, required: bool = True) -> dict[str, Any]:
    value = raw.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise ProfileError(f"{name}: [{key}] table is missing")
    return value


def _only_keys(t: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(t) - allowed
    if unknown:  # a typo would otherwise silently give a default
        raise ProfileError(f"{where}: unknown keys {sorted(unknown)}")


def _date(value: Any, key: str, where: str) -> date:
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    raise ProfileError(f"{where}: {key} must be a TOML date (yyyy-mm-dd)")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)
