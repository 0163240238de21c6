"""“Read this card”: select the application, open it with a key, read and parse the files."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from . import lds
from .access import AccessKey, Opened, open_card
from .atr import parse_atr
from .authentication import active_authentication, chip_authentication
from .dg13 import Dg13Fields, parse_dg13
from .errors import (
    AccessDenied,
    FileNotFound,
    MalformedData,
    ReaderError,
    SecureMessagingError,
    UnreadableCard,
    is_card_fault,
)
from .files import Channel, EfId, FileReader, LinkStats, Progress, ReadStrategy
from .lds import EfCom, Portrait
from .mrz import Td1Mrz
from .security_infos import SecurityInfos, parse_dg14
from .sm import SecureMessaging
from .transport import CardTransport
from .trust.results import AuthResult, CheckStatus
from .trust.signatures import error_text
from .trust.sod import hashed_in_sod, parse_sod

T = TypeVar("T")
FileRead = Callable[[str, bytes], None]

# Files a check-in needs, in the order that shows the invigilator something soonest: the MRZ
# identity first, then the portrait (the long read; a check-in encodes it while the rest is
# still on the air, issue 16), DG13's identity text, then what the trust checks need.
DEFAULT_FILES = ("DG1", "DG2", "DG13", "DG15", "EF.SOD", "DG14")
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
    access: str  # "PACE" or "BAC"
    password: str  # "CAN" or "MRZ"
    reader: str
    com: EfCom
    document: Td1Mrz
    dg13: Dg13Fields | None
    portrait: Portrait | None
    files: dict[str, bytes]
    stats: ReadStats
    warnings: tuple[str, ...] = field(default=())
    chip: AuthResult = field(default=AuthResult(CheckStatus.NOT_RUN))
    active: AuthResult = field(default=AuthResult(CheckStatus.NOT_RUN))

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
            "password": self.password,
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
            "chip": self.chip.to_dict(),
            "active": self.active.to_dict(),
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
    keys: Sequence[AccessKey],
    *,
    files: Sequence[str] = DEFAULT_FILES,
    strategy: ReadStrategy | None = None,
    progress: Progress | None = None,
    rng: Callable[[int], bytes] = os.urandom,
    authenticate: bool = True,
    use_pace: bool = True,
    on_file: FileRead | None = None,
) -> CardRead:
    """Open the card with one of ``keys`` (tried in order) and read ``files``.

    ``on_file(name, data)`` hears each file as soon as its last byte arrived, before the rest
    of the read (the check-in encodes the chip portrait while DG15 and active authentication
    are still on the air). The data is the chip's, not yet checked by anyone: a listener
    treats it as hostile and never trusts it before passive authentication.

    With ``authenticate`` the chip also proves it is the original: chip authentication right
    after DG14 (so every later file comes under keys only the genuine chip can hold) and active
    authentication after DG15. Passive authentication needs no card and is done by the caller
    (``reader.trust``) on ``CardRead.files``.

    Raises :class:`~reader.errors.ReaderError` only: whatever else the card's data makes a
    parser or a library raise becomes :class:`~reader.errors.UnreadableCard`. A card-data
    failure (``is_card_fault``) carries the chip's ``id_number`` in its context when DG1 was
    read, so the check-in can record it against the candidate.
    """
    raw: dict[str, bytes] = {}
    try:
        return _read_card(transport, keys, raw, files=files, strategy=strategy,
                          progress=progress, rng=rng, authenticate=authenticate,
                          use_pace=use_pace, on_file=on_file)
    except ReaderError as exc:
        if is_card_fault(exc):
            _note_identity(exc, raw)
        raise
    except Exception as exc:  # the card chose this input: never a traceback
        error = UnreadableCard(f"the card's data broke the reader: {error_text(exc)}",
                               files=",".join(raw))
        _note_identity(error, raw)
        raise error from exc


def _note_identity(exc: ReaderError, raw: dict[str, bytes]) -> None:
    """Which file failed, when the error does not say (the last one read: files are parsed as
    they arrive, and before any, the failure is EF.CardAccess's, the only data opening the
    card parses), and the ID in DG1 when it was read and parses: whose card failed."""
    if not exc.context.get("file"):
        exc.context["file"] = next(reversed(raw), "EF.CardAccess")
    if "DG1" not in raw or "id_number" in exc.context:
        return
    try:
        number = lds.parse_dg1(raw["DG1"]).id_number
    except Exception:  # best effort, on data already known to be hostile
        return
    if number:
        exc.context["id_number"] = number


@dataclass
class _Reading:
    """One read in progress: the opened channel, its file reader, the files read so far and
    what each step cost (time and APDUs)."""

    channel: Channel
    reader: FileReader
    raw: dict[str, bytes]
    progress: Progress | None
    on_file: FileRead | None = None
    timings: dict[str, float] = field(default_factory=dict)
    apdu_counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Time and count the APDUs of one step (a file, CA, AA); a step that raises leaves
        no figure, as before."""
        t0, n0 = time.perf_counter(), self.channel.stats.apdus
        yield
        self.timings[name] = time.perf_counter() - t0
        self.apdu_counts[name] = self.channel.stats.apdus - n0

    def fetch(self, ef: EfId) -> bytes:
        with self.timed(ef.name):
            data = self.reader.read(ef, self.progress)
        self.raw[ef.name] = data
        if self.on_file is not None:
            self.on_file(ef.name, data)
        return data


def _read_card(
    transport: CardTransport,
    keys: Sequence[AccessKey],
    raw: dict[str, bytes],
    *,
    files: Sequence[str],
    strategy: ReadStrategy | None,
    progress: Progress | None,
    rng: Callable[[int], bytes],
    authenticate: bool,
    use_pace: bool,
    on_file: FileRead | None = None,
) -> CardRead:
    started = time.perf_counter()
    opened, reading = _open(transport, keys, raw, strategy=strategy, progress=progress,
                            rng=rng, use_pace=use_pace)
    reading.on_file = on_file
    com = lds.parse_com(reading.fetch(lds.EF_COM))
    # DG1 is what every caller needs (the MRZ identity); read it even when not asked for.
    wanted = list(files) if "DG1" in files else ["DG1", *files]
    # Authenticating needs the signed list before chip authentication; otherwise EF.SOD comes
    # in the caller's order and groups only it names are read after it.
    signed = _signed_groups(reading.fetch, reading.warnings) if authenticate else None
    # EF.COM is not signed: a clone can leave DG14 and DG15 out of it to dodge chip and active
    # authentication. What to read and to authenticate comes from EF.SOD, which is signed;
    # a group EF.COM lists on top is read too (passive authentication then fails on it).
    present = set(com.data_groups) | set(signed or ())
    chip = active = AuthResult(CheckStatus.NOT_RUN)
    infos: SecurityInfos | None = None
    if authenticate:
        chip, infos = _authenticate_chip(reading, opened, present, wanted)
    _read_files(reading, wanted, present, sod_tried=authenticate)
    if authenticate:
        active = _authenticate_active(reading, infos, rng)
    return _parse_files(reading, opened, com, transport.name, started, chip=chip, active=active)


def _open(
    transport: CardTransport,
    keys: Sequence[AccessKey],
    raw: dict[str, bytes],
    *,
    strategy: ReadStrategy | None,
    progress: Progress | None,
    rng: Callable[[int], bytes],
    use_pace: bool,
) -> tuple[Opened, _Reading]:
    """Open the card with the first key that works, ready to read files."""
    channel = Channel(transport, LinkStats())
    opened = open_card(channel, keys, use_pace=use_pace, rng=rng)
    reader = FileReader(channel, strategy, extended_hint=parse_atr(transport.atr).extended_length)
    if opened.card_access_raw is not None:
        raw["EF.CardAccess"] = opened.card_access_raw
    return opened, _Reading(channel, reader, raw, progress)


def _authenticate_chip(
    reading: _Reading, opened: Opened, present: set[int], wanted: list[str]
) -> tuple[AuthResult, SecurityInfos | None]:
    """Chip authentication right after DG14, so every later file comes under keys only the
    genuine chip can hold. Adds DG14 and DG15 to ``wanted`` when the card has them."""
    for number in (14, 15):
        if number in present and f"DG{number}" not in wanted:
            wanted.append(f"DG{number}")
    if 14 not in present:
        return AuthResult(CheckStatus.NOT_SUPPORTED, "trust.ca_absent", "no DG14"), None
    wanted.remove("DG14")
    try:
        infos = parse_dg14(reading.fetch(lds.dg(14)))
    except FileNotFound:
        reading.warnings.append("missing.DG14")
        return AuthResult(CheckStatus.NOT_RUN), None
    except AccessDenied:
        reading.warnings.append("refused.DG14")
        return AuthResult(CheckStatus.NOT_RUN), None
    except MalformedData as exc:
        return AuthResult(CheckStatus.ERROR, "trust.ca_key_unusable", exc.detail), None
    if hashed_in_sod(reading.raw.get("EF.SOD"), 14, reading.raw["DG14"]) is False:
        # EF.SOD (when read already) does not vouch for this key: not worth a protocol.
        return AuthResult(CheckStatus.FAILED, "trust.ca_failed",
                          "DG14 does not match its hash in EF.SOD"), infos
    channel = reading.channel
    with reading.timed("CA"):
        chip = chip_authentication(channel, infos, proven=reading.reader.sizer.good)
    if chip.passed:
        channel.reopen_with(_with_ca(opened.reopen, infos))
    elif channel.sm is None or channel.broken:
        channel.recover()  # a clone: go on reading, without the proof
    return chip, infos


def _read_files(reading: _Reading, wanted: list[str], present: set[int], *,
                sod_tried: bool) -> None:
    """Read ``wanted`` in order; groups neither EF.COM nor EF.SOD lists are skipped, and groups
    only EF.SOD lists wait for it when it comes later."""
    present = set(present)
    queue = list(wanted)
    deferred: list[str] = []
    while queue:
        name = queue.pop(0)
        if name in reading.raw:
            continue
        ef = lds.ef_by_name(name)
        if name == "EF.SOD":
            if sod_tried:
                continue
            sod_tried = True
            present |= set(_signed_groups(reading.fetch, reading.warnings) or ())
            queue.extend(deferred)  # groups EF.COM left out but EF.SOD hashes
            continue
        if name.startswith("DG"):
            n = int(name[2:])
            if n in _NEVER_READ:
                continue
            if n not in present:
                if not sod_tried and "EF.SOD" in queue:
                    deferred.append(name)
                continue
        try:
            reading.fetch(ef)
        except FileNotFound:
            # EF.COM or EF.SOD promised it: worth telling (the trust policy weighs it against
            # EF.SOD), not worth failing the read.
            reading.warnings.append(f"missing.{name}")
        except AccessDenied:
            if not name.startswith("DG"):
                raise
            reading.warnings.append(f"refused.{name}")


def _authenticate_active(reading: _Reading, infos: SecurityInfos | None,
                         rng: Callable[[int], bytes]) -> AuthResult:
    """Active authentication with the DG15 key, once every file is read."""
    raw = reading.raw
    if infos is None and "DG14" in raw:
        try:
            infos = parse_dg14(raw["DG14"])
        except MalformedData:
            infos = None
    if "DG15" in raw and hashed_in_sod(raw.get("EF.SOD"), 15, raw["DG15"]) is False:
        # ICAO 9303-11 §6.1 trusts the DG15 key through passive authentication: a key the
        # SOD does not vouch for proves nothing, and is not put into any arithmetic.
        return AuthResult(CheckStatus.FAILED, "trust.aa_failed",
                          "DG15 does not match its hash in EF.SOD")
    sizer = reading.reader.sizer
    with reading.timed("AA"):
        return active_authentication(reading.channel, raw.get("DG15"), infos, rng=rng,
                                     extended=sizer.extended, part=sizer.good or None,
                                     proven=sizer.good)


def _parse_files(
    reading: _Reading,
    opened: Opened,
    com: EfCom,
    reader_name: str,
    started: float,
    *,
    chip: AuthResult,
    active: AuthResult,
) -> CardRead:
    """Parse what was read into the result, with the cross-checks' warnings and the figures."""
    raw, warnings = reading.raw, reading.warnings
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
    stats = reading.channel.stats
    return CardRead(
        access=opened.method,
        password=opened.password,
        reader=reader_name,
        com=com,
        document=document,
        dg13=dg13,
        portrait=portrait,
        files=raw,
        stats=ReadStats(
            stats.apdus, stats.bytes_out, stats.bytes_in, stats.recoveries, elapsed,
            reading.timings, reading.apdu_counts, opened.attempts,
        ),
        warnings=tuple(warnings),
        chip=chip,
        active=active,
    )


def _signed_groups(fetch: Callable[[EfId], bytes], warnings: list[str]) -> tuple[int, ...] | None:
    """The data groups EF.SOD hashes, or None when it cannot be read or parsed (passive
    authentication then reports why)."""
    try:
        raw = fetch(lds.EF_SOD)
    except (FileNotFound, AccessDenied):
        warnings.append("missing.EF.SOD")
        return None
    try:
        return tuple(sorted(parse_sod(raw).data_group_hashes))
    except (ReaderError, ValueError, TypeError):  # garbage: passive authentication says why
        return None


def _with_ca(
    reopen: Callable[[Channel], SecureMessaging], infos: SecurityInfos
) -> Callable[[Channel], SecureMessaging]:
    """Re-opening a card that passed chip authentication must pass it again."""

    def again(channel: Channel) -> SecureMessaging:
        reopen(channel)
        result = chip_authentication(channel, infos)
        if not result.passed or channel.sm is None:
            raise SecureMessagingError("chip authentication failed on re-opening the card")
        return channel.sm

    return again


def _parse(name: str, parser: Callable[[bytes], T], raw: dict[str, bytes]) -> T:
    try:
        return parser(raw[name])
    except ReaderError as exc:
        if not exc.context.get("file"):
            exc.context["file"] = name
        raise
