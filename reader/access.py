"""Opening the chip: PACE when EF.CardAccess offers it, BAC otherwise (ICAO 9303-11 §4).

EF.CardAccess is selected directly by its file identifier (the CCCD answers SELECT MF with
6D00). Keys are tried in the order given; a CAN only works with PACE, an MRZ key works with
both (PACE first). A chip that refuses PACE with the MRZ password (seen on CCCDs: 6982 to
MSE:Set AT) gets BAC with the same key.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import apdu, lds
from .apdu import raise_for_status
from .bac import BacInitiator
from .errors import (
    AccessDenied,
    CardStatusError,
    MalformedData,
    NeedsMrzKey,
    ReaderError,
    SecureMessagingError,
    WrongCan,
    WrongCardKey,
    WrongMrzKey,
)
from .files import Channel, FileReader, ReadStrategy
from .keys import AccessKey, BacKey, Can
from .pace import PaceInitiator, PacePassword, supported
from .security_infos import PaceInfo, SecurityInfos, parse_security_infos
from .sm import SecureMessaging

EMRTD_AID = bytes.fromhex("A0000002471001")


@dataclass(frozen=True)
class Opened:
    """How the chip was opened, and the means to open it again the same way."""

    method: str  # "PACE" or "BAC"
    password: str  # "CAN" or "MRZ"
    key: AccessKey
    attempts: int
    card_access: SecurityInfos | None
    card_access_raw: bytes | None
    reopen: Callable[[Channel], SecureMessaging]


def select_applet(channel: Channel) -> None:
    resp = channel.send(apdu.select_aid(EMRTD_AID))
    if resp.sw in (0x6987, 0x6988) and channel.sm is None:
        resp = channel.send(apdu.select_aid(EMRTD_AID))  # an old session, ended by this SELECT
    raise_for_status(resp, during="select-applet")


def read_card_access(channel: Channel) -> tuple[bytes, SecurityInfos] | None:
    """EF.CardAccess in plain, or None when the card has none (no PACE)."""
    resp = channel.send_plain(apdu.select_ef(lds.EF_CARD_ACCESS.fid))
    if resp.sw in (0x6987, 0x6988):
        # The chip still had a secure-messaging session from an earlier program; our plain
        # command ended it. Ask again.
        resp = channel.send_plain(apdu.select_ef(lds.EF_CARD_ACCESS.fid))
    if resp.sw in (0x6A82, 0x6A86, 0x6D00, 0x6982):
        return None
    raise_for_status(resp, during="select-file", file="EF.CardAccess")
    reader = FileReader(channel, ReadStrategy(use_sfi=False, extended=False))
    reader.mark_selected(lds.EF_CARD_ACCESS)
    raw = reader.read(lds.EF_CARD_ACCESS)
    return raw, parse_security_infos(raw)


class PaceRefused(Exception):
    """The chip will not run PACE with this password type: fall back to BAC."""


def run_pace(
    channel: Channel,
    info: PaceInfo,
    password: PacePassword,
    random_scalar: Callable[[int], int] | None = None,
) -> SecureMessaging:
    pace = PaceInitiator(info, password, random_scalar=random_scalar)
    resp = channel.send_plain(pace.set_at())
    if resp.sw in (0x6987, 0x6988):
        # Re-opening a card that still had our secure-messaging session (a reader that lost an
        # answer): this plain command ended that session. Ask again.
        resp = channel.send_plain(pace.set_at())
    if resp.sw != 0x9000:
        raise PaceRefused(f"MSE:Set AT answered {resp.sw:04X}")
    step = channel.send_plain(pace.get_nonce())
    step = channel.send_plain(pace.map_nonce(step))
    step = channel.send_plain(pace.key_agreement(step))
    step = channel.send_plain(pace.mutual_auth(step))
    sm = pace.finish(step)
    channel.establish(sm)
    # 9303-11 §4.4: after PACE the application is selected under secure messaging.
    select_applet(channel)
    return sm


def run_bac(channel: Channel, key: BacKey, rng: Callable[[int], bytes]) -> SecureMessaging:
    channel.drop_session()
    select_applet(channel)
    challenge = channel.send_plain(apdu.get_challenge())
    if challenge.sw in (0x6982, 0x6D00, 0x6985):
        raise AccessDenied(challenge.sw, "the chip does not offer BAC", during="bac")
    raise_for_status(challenge, during="get-challenge")
    bac = BacInitiator(key.mrz_information, rnd_ifd=rng(8), k_ifd=rng(16))
    answer = channel.send_plain(bac.authenticate(challenge.data))
    sm = bac.finish(answer)
    channel.establish(sm)
    return sm


def _pace_info(infos: SecurityInfos | None) -> PaceInfo | None:
    if infos is None:
        return None
    usable = [p for p in infos.pace if supported(p)]
    return usable[0] if usable else None


def open_card(
    channel: Channel,
    keys: Sequence[AccessKey],
    *,
    use_pace: bool = True,
    rng: Callable[[int], bytes] = os.urandom,
    random_scalar: Callable[[int], int] | None = None,
) -> Opened:
    """Establish secure messaging with the first key that works.

    The channel is left under secure messaging and knows how to re-open the card the same way
    (``channel.reopen_with``) when a session is lost.
    """
    if not keys:
        raise WrongCardKey(0x6300, "no key to try")
    channel.drop_session()
    card_access = read_card_access(channel) if use_pace else None
    raw, infos = card_access if card_access is not None else (None, None)
    pace_info = _pace_info(infos)
    if pace_info is None and all(isinstance(k, Can) for k in keys):
        raise NeedsMrzKey(0x6A82, "this card has no PACE, so a CAN cannot open it",
                          during="pace")
    last: ReaderError | None = None
    attempts = 0
    can_refused = 0  # CANs the chip would not run PACE with at all (not: a wrong CAN)
    for key in keys:
        if pace_info is not None:
            password = (PacePassword.can(key.value) if isinstance(key, Can)
                        else PacePassword.mrz(key.mrz_information))
            attempts += 1
            try:
                run_pace(channel, pace_info, password, random_scalar)
            except PaceRefused:
                # This password type is not accepted: BAC below if the key allows.
                can_refused += isinstance(key, Can)
            except (WrongCardKey, SecureMessagingError, MalformedData) as exc:
                # A wrong password shows up as a refused or unverifiable token.
                last = exc
                channel.drop_session()
                continue
            else:
                def reopen_pace(ch: Channel, password: PacePassword = password) -> SecureMessaging:
                    ch.drop_session()
                    assert pace_info is not None
                    return run_pace(ch, pace_info, password, random_scalar)

                channel.reopen_with(reopen_pace)
                return Opened("PACE", password.name, key, attempts, infos, raw, reopen_pace)
        if isinstance(key, Can):
            continue
        attempts += 1
        try:
            run_bac(channel, key, rng)
        except WrongCardKey as exc:
            last = exc
            continue
        except AccessDenied as exc:
            last = exc
            continue

        def reopen_bac(ch: Channel, key: BacKey = key) -> SecureMessaging:
            return run_bac(ch, key, rng)

        channel.reopen_with(reopen_bac)
        return Opened("BAC", "MRZ", key, attempts, infos, raw, reopen_bac)
    raise _refused(keys, last, attempts, can_refused)


def _refused(keys: Sequence[AccessKey], last: ReaderError | None, attempts: int,
             can_refused: int) -> WrongCardKey:
    """The error when no key opened the card: which kind of key it refused, said apart (a
    mistyped CAN and a wrong date are fixed apart)."""
    if can_refused == len(keys):
        # Every key a CAN, and PACE with a CAN refused outright (6982 to MSE:Set AT): no CAN
        # opens this chip, only the MRZ data (BAC or PACE-MRZ) can — not a mistyped CAN.
        return NeedsMrzKey(0x6982, "the chip refuses PACE with a CAN", during="pace")
    refused: type[WrongCardKey] = (WrongCan if all(isinstance(k, Can) for k in keys)
                                   else WrongMrzKey if not any(isinstance(k, Can) for k in keys)
                                   else WrongCardKey)
    if isinstance(last, AccessDenied):
        return refused(last.sw, "the chip refused BAC and PACE with these keys", tried=attempts)
    sw = last.sw if isinstance(last, CardStatusError) else 0x6300
    return refused(sw, "the card refused every key", tried=attempts)

