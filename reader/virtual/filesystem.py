"""The elementary files of a CCCD chip: file identifiers, short EF identifiers, access rules."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Access(Enum):
    ALWAYS = "always"  # EF.CardAccess: readable in plain, before any access control
    BAC = "bac"  # LDS files: only over secure messaging
    EAC = "eac"  # DG3 (fingerprints): needs Terminal Authentication, which we do not offer


@dataclass(frozen=True, slots=True)
class ElementaryFile:
    name: str
    fid: int
    sfi: int
    access: Access


EF_CARD_ACCESS = ElementaryFile("EF.CardAccess", 0x011C, 0x1C, Access.ALWAYS)

ELEMENTARY_FILES: tuple[ElementaryFile, ...] = (
    EF_CARD_ACCESS,
    ElementaryFile("EF.COM", 0x011E, 0x1E, Access.BAC),
    ElementaryFile("EF.SOD", 0x011D, 0x1D, Access.BAC),
    ElementaryFile("DG1", 0x0101, 0x01, Access.BAC),
    ElementaryFile("DG2", 0x0102, 0x02, Access.BAC),
    ElementaryFile("DG3", 0x0103, 0x03, Access.EAC),
    ElementaryFile("DG13", 0x010D, 0x0D, Access.BAC),
    ElementaryFile("DG14", 0x010E, 0x0E, Access.BAC),
    ElementaryFile("DG15", 0x010F, 0x0F, Access.BAC),
)


def by_fid(fid: int) -> ElementaryFile | None:
    return next((ef for ef in ELEMENTARY_FILES if ef.fid == fid), None)


def by_sfi(sfi: int) -> ElementaryFile | None:
    return next((ef for ef in ELEMENTARY_FILES if ef.sfi == sfi), None)
