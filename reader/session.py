"""“Read this card”: select the application, open it with a key, read and parse the files."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from . import apdu, lds
from .apdu import raise_for_status
from .atr import parse_atr
from .bac import BacInitiator
from .dg13 import Dg13Fields, parse_dg13
from .errors import FileNotFound, MalformedData, ReaderError, WrongCardKey
from .files import Channel, EfId, FileReader, LinkStats, Progress, ReadStrategy
from .keys import BacKey
from .lds import EfCom, Portrait
from .mrz import Td1Mrz
from .sm import SecureMessaging
from .transport import CardTransport

T = TypeVar("T")

EMRTD_AID = bytes.fromhex("A0000002471001")

# Files a check-in needs, in the order that shows the invigilator something soonest:
# identity text first, then the portrait (the long read), then what the trust checks need.
DEFAULT_FILES = ("DG1", "DG13", "DG2", "DG14", "DG15", "EF.SOD")
# DG3/DG4 need Extended Access Control, which inspection terminals at exams do not hold.
_NEVER_READ = {3, 4}


@dataclass(frozen=True)
class ReadStats:
    apdus: int
    bytes_out: int
    bytes_in: int
    recoveries: int
    seconds: float
    file_seconds: dict[str, float]
    file_apdus: dict[str, int]
    key_attempts: int

    def to_dict(self) -> dict[str, object]:
        return {
            "apdus": self.apdus,
            "bytes_out": self.bytes_out,
            "bytes_in": self.bytes_in,
            "recoveries": self.recoveries,
            "seconds": round(self.seconds, 4),
            "file_seconds": {k: round(v, 4) for k, v in self.file_seconds.items()},
            "file_apdus": dict(self.file_apdus),
            "key_attempts": self.key_attempts,
        }


@dataclass(frozen=True)
class CardRead:
    access: str
    reader: str
    com: EfCom
    document: Td1Mrz
    dg13: Dg13Fields | None
    portrait: Portrait | None
    files: dict[str, bytes]
    stats: ReadStats
    warnings: tuple[str, ...] = field(default=())

    @property
    def id_number(self) -> str | None:
        if self.dg13 is not None and self.dg13.id_number:
            return self.dg13.id_number
        return self.document.id_number

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: keys named as in the code, dates ISO 8601, no image bytes."""
        doc = self.document
        out: dict[str, Any] = {
            "access": self.access,
            "reader": self.reader,
            "lds_version": self.com.lds_version,
            "data_groups": list(self.com.data_groups),
            "document": {
                "document_code": doc.document_code,
                "issuing_state": doc.issuing_state,
                "document_number": doc.document_number,
                "id_number": doc.id_number,
                "date_of_birth": doc.date_of_birth.isoformat(),
                "sex": doc.sex,
                "date_of_expiry": doc.date_of_expiry.isoformat() if doc.date_of_expiry else None,
                "no_expiry": doc.no_expiry,
                "nationality": doc.nationality,
                "surname": doc.surname,
                "given_names": doc.given_names,
                "mrz": "\n".join(doc.lines),
            },
            "dg13": self.dg13.to_dict() if self.dg13 is not None else None,
            "portrait": None,
            "files": {
                name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                for name, data in self.files.items()
            },
            "stats": self.stats.to_dict(),
            "warnings": list(self.warnings),
        }
        if self.portrait is not None:
            p = self.portrait
            out["portrait"] = {
                "format": p.format,
                "width": p.width,
                "height": p.height,
                "bytes": len(p.data),
                "sha256": hashlib.sha256(p.data).hexdigest(),
            }
        return out


def _open_with_bac(channel: Channel, key: BacKey, rng: Callable[[int], bytes]) -> SecureMessaging:
    challenge = channel.send_plain(apdu.get_challenge())
    raise_for_status(challenge, during="get-challenge")
    bac = BacInitiator(key.mrz_information, rnd_ifd=rng(8), k_ifd=rng(16))
    answer = channel.send_plain(bac.authenticate(challenge.data))
    return bac.finish(answer)


def _select_applet(channel: Channel) -> None:
    raise_for_status(channel.send_plain(apdu.select_aid(EMRTD_AID)), during="select-applet")


def open_card(
    channel: Channel,
    keys: Sequence[BacKey],
    *,
    rng: Callable[[int], bytes] = os.urandom,
) -> tuple[str, BacKey, int]:
    """Select the eMRTD application and establish secure messaging with the first key that works.

    Returns (access method, the key that worked, attempts made).
    """
    if not keys:
        raise WrongCardKey(0x6300, "no key to try")
    _select_applet(channel)
    last: WrongCardKey | None = None
    for attempt, key in enumerate(keys, 1):
        try:
            channel.sm = _open_with_bac(channel, key, rng)
        except WrongCardKey as exc:
            last = exc
            continue

        def again(ch: Channel, key: BacKey = key) -> SecureMessaging:
            _select_applet(ch)
            return _open_with_bac(ch, key, rng)

        channel.reauthenticate = again
        return "BAC", key, attempt
    assert last is not None
    raise WrongCardKey(last.sw, "the card refused every key", tried=len(keys))


def _cross_check(doc: Td1Mrz, dg13: Dg13Fields | None) -> list[str]:
    """Fields that appear in both DG1 and DG13 must agree; disagreement is a warning sign."""
    if dg13 is None:
        return []
    out = []
    if doc.id_number and dg13.id_number and doc.id_number != dg13.id_number:
        out.append("dg1_dg13.id_number")
    if dg13.date_of_birth and doc.date_of_birth != dg13.date_of_birth:
        out.append("dg1_dg13.date_of_birth")
    if dg13.date_of_expiry and doc.date_of_expiry and not getattr(doc, "no_expiry", False):
        if doc.date_of_expiry != dg13.date_of_expiry:
            out.append("dg1_dg13.date_of_expiry")
    sex = {"Nam": "M", "Nữ": "F"}.get(dg13.sex or "")
    if sex and doc.sex in ("M", "F") and sex != doc.sex:
        out.append("dg1_dg13.sex")
    return out


def read_card(
    transport: CardTransport,
    keys: Sequence[BacKey],
    *,
    files: Sequence[str] = DEFAULT_FILES,
    strategy: ReadStrategy | None = None,
    progress: Progress | None = None,
    rng: Callable[[int], bytes] = os.urandom,
) -> CardRead:
    """Open the card with one of ``keys`` (tried in order) and read ``files``."""
    started = time.perf_counter()
    stats = LinkStats()
    channel = Channel(transport, stats)
    access, _key, attempts = open_card(channel, keys, rng=rng)
    reader = FileReader(channel, strategy, extended_hint=parse_atr(transport.atr).extended_length)

    raw: dict[str, bytes] = {}
    timings: dict[str, float] = {}
    apdu_counts: dict[str, int] = {}
    warnings: list[str] = []

    def fetch(ef: EfId) -> bytes:
        t0, n0 = time.perf_counter(), stats.apdus
        data = reader.read(ef, progress)
        timings[ef.name] = time.perf_counter() - t0
        apdu_counts[ef.name] = stats.apdus - n0
        raw[ef.name] = data
        return data

    com = lds.parse_com(fetch(lds.EF_COM))
    present = set(com.data_groups)
    # DG1 is what every caller needs (the MRZ identity); read it even when not asked for.
    wanted = list(files) if "DG1" in files else ["DG1", *files]
    for name in wanted:
        ef = lds.ef_by_name(name)
        if name.startswith("DG"):
            n = int(name[2:])
            if n in _NEVER_READ or n not in present:
                continue
        try:
            fetch(ef)
        except FileNotFound:
            # EF.COM promised it; a missing file is worth telling, not worth failing the read.
            warnings.append(f"missing.{name}")

    if "DG1" not in raw:
        raise MalformedData("the card has no DG1 (MRZ data)", file="DG1")
    document = _parse("DG1", lds.parse_dg1, raw)
    dg13 = _parse("DG13", parse_dg13, raw) if "DG13" in raw else None
    portrait = None
    if "DG2" in raw:
        portraits = _parse("DG2", lds.parse_dg2, raw)
        portrait = portraits[0]
    if dg13 is not None:
        warnings.extend(f"dg13.{w}" for w in dg13.warnings)
    warnings.extend(_cross_check(document, dg13))

    elapsed = time.perf_counter() - started
    return CardRead(
        access=access,
        reader=transport.name,
        com=com,
        document=document,
        dg13=dg13,
        portrait=portrait,
        files=raw,
        stats=ReadStats(
            stats.apdus, stats.bytes_out, stats.bytes_in, stats.recoveries, elapsed, timings,
            apdu_counts, attempts,
        ),
        warnings=tuple(warnings),
    )


def _parse(name: str, parser: Callable[[bytes], T], raw: dict[str, bytes]) -> T:
    try:
        return parser(raw[name])
    except ReaderError as exc:
        if not exc.context.get("file"):
            exc.context["file"] = name
        raise
