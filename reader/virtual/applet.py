"""The card side of a CCCD chip: ICAO eMRTD application with BAC and 3DES secure messaging.

Behaviour copies what is known of the real card (research notes §1): SELECT MF is answered
6D00, EF.CardAccess is readable in plain, LDS files need BAC, DG3 needs EAC (never granted).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .atr import build_atr
from .bac_responder import BacFailed, BacResponder, SessionKeys
from .ber import BerError, encode_length, read_all, tlv
from .command import SW, CommandApdu, MalformedApdu, parse_command, response
from .faults import CardPulled, CardStats, Faults
from .filesystem import Access, ElementaryFile, by_fid, by_sfi
from .lds_builder import BuiltLds, build_lds
from .profile import CardProfile, ChipSettings
from .secure_channel import SmError, SmSession
from .sm_crypto import Des3Suite

EMRTD_AID = bytes.fromhex("A0000002471001")
SHORT_LIMIT = 256

INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_READ_BINARY_ODD = 0xB1
INS_GET_CHALLENGE = 0x84
INS_EXTERNAL_AUTHENTICATE = 0x82

Reply = tuple[bytes, int]  # response data, status word


@dataclass
class _Volatile:
    """What a power cycle or reset forgets."""

    current: ElementaryFile | None = None
    sm: SmSession | None = None


class EmrtdApplet:
    """A contactless eMRTD chip over a set of files and the MRZ information that keys BAC.

    ``process`` takes a command APDU and returns response data + SW1SW2; it raises
    :class:`CardPulled` when a fault makes the card leave the field.
    """

    def __init__(
        self,
        files: Mapping[str, bytes],
        mrz_information: str,
        *,
        chip: ChipSettings | None = None,
        faults: Faults | None = None,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.files = dict(files)
        self.chip = chip or ChipSettings()
        self.faults = faults or Faults()
        self.stats = CardStats()
        self.atr = build_atr(self.chip.advertise_extended)
        self._rng = rng
        self._bac = BacResponder(mrz_information, rng)
        self._state = _Volatile()
        self._powered = True
        self._pulled = False
        self._apdus_since_power_on = 0
        self._fired: set[str] = set()

    # --- the physical card ------------------------------------------------------------------

    def power_on(self) -> None:
        """Entering the field: a fresh start; a pulled card is back."""
        self._powered = True
        self._pulled = False
        self._restart()

    def power_off(self) -> None:
        self._powered = False
        self._restart()

    def reset(self) -> None:
        self._restart()

    def _restart(self) -> None:
        self._state = _Volatile()
        self._bac.forget_challenge()
        self._apdus_since_power_on = 0

    @property
    def sm_session(self) -> SmSession | None:
        """The live secure-messaging session (keys and SSC), for tests and diagnostics."""
        return self._state.sm

    # --- APDU processing --------------------------------------------------------------------

    def process(self, apdu: bytes) -> bytes:
        if self._pulled:
            raise CardPulled("the card is out of the field")
        if not self._powered:  # a contactless card is powered whenever a reader talks to it
            self.power_on()
        self._apdus_since_power_on += 1
        self.stats.apdus += 1
        self.stats.bytes_in += len(apdu)
        if self.faults.pull_out_at_apdu == self._apdus_since_power_on:
            self._pull("apdu")
        reply = self._dispatch(apdu)
        self.stats.bytes_out += len(reply)
        return reply

    def _pull(self, which: str) -> None:
        if which in self._fired:
            return
        self._fired.add(which)
        self._pulled = True
        self._restart()
        raise CardPulled(f"fault {which}: the card left the field")

    def _abort_sm(self) -> None:
        self._state.sm = None

    def _dispatch(self, raw: bytes) -> bytes:
        try:
            cmd = parse_command(raw)
        except MalformedApdu:
            self._abort_sm()
            return response(b"", SW.WRONG_LENGTH)
        if cmd.extended and not self.chip.extended_length:
            # Such a chip cannot even parse the command, let alone keep its session.
            self._abort_sm()
            return response(b"", SW.WRONG_LENGTH)
        if cmd.cla not in (0x00, 0x0C):
            return response(b"", SW.CLA_NOT_SUPPORTED)
        if cmd.cla == 0x0C:
            return self._dispatch_protected(cmd)
        if self._state.sm is not None and not self._is_select_aid(cmd):
            self._abort_sm()  # a plain command ends secure messaging (9303-11 §9.8.6)
            return response(b"", SW.SM_DATA_WRONG)
        data, sw = self._execute(cmd, secured=False)
        if len(data) > self._response_limit(cmd):
            data, sw = b"", SW.WRONG_LENGTH
        return response(data, sw)

    def _dispatch_protected(self, cmd: CommandApdu) -> bytes:
        session = self._state.sm
        if session is None:
            return response(b"", SW.SM_DATA_WRONG)
        try:
            inner = session.unwrap(cmd)
        except SmError:
            self._abort_sm()
            return response(b"", SW.SM_DATA_WRONG)
        data, sw = self._execute(inner, secured=True)
        odd = bool(inner.ins & 1)
        # The session object, not self._state.sm: SELECT of the applet may just have ended it.
        if session.wrapped_size(len(data), odd=odd) > self._response_limit(cmd):
            data, sw = b"", SW.WRONG_LENGTH
        return response(session.wrap(data, sw, odd=odd), sw)

    def _response_limit(self, cmd: CommandApdu) -> int:
        limit = self.chip.max_response
        return limit if cmd.extended else min(limit, SHORT_LIMIT)

    def _execute(self, cmd: CommandApdu, *, secured: bool) -> Reply:
        if not self.chip.applet:  # not an ID card: no eMRTD application, no files
            return b"", SW.NOT_FOUND if cmd.ins == INS_SELECT else SW.INS_NOT_SUPPORTED
        handlers: dict[int, Callable[[CommandApdu, bool], Reply]] = {
            INS_SELECT: self._select,
            INS_READ_BINARY: self._read_binary,
            INS_READ_BINARY_ODD: self._read_binary_odd,
            INS_GET_CHALLENGE: self._get_challenge,
            INS_EXTERNAL_AUTHENTICATE: self._external_authenticate,
        }
        handler = handlers.get(cmd.ins)
        if handler is None:
            return b"", SW.INS_NOT_SUPPORTED
        return handler(cmd, secured)

    # --- SELECT -----------------------------------------------------------------------------

    @staticmethod
    def _is_select_aid(cmd: CommandApdu) -> bool:
        return cmd.ins == INS_SELECT and cmd.p1 == 0x04

    def _select(self, cmd: CommandApdu, secured: bool) -> Reply:
        if cmd.p1 == 0x04:
            if cmd.data != EMRTD_AID or cmd.p2 not in (0x00, 0x0C):
                return b"", SW.NOT_FOUND
            self._state = _Volatile()  # selecting the application resets its security state
            self._bac.forget_challenge()
            return b"", SW.OK
        if cmd.p1 != 0x02:
            return b"", SW.INS_NOT_SUPPORTED  # the real card answers SELECT MF with 6D00
        if cmd.p2 not in (0x00, 0x04, 0x0C):
            return b"", SW.WRONG_P1P2
        if len(cmd.data) != 2:
            return b"", SW.WRONG_LENGTH
        ef, sw = self._resolve(by_fid(int.from_bytes(cmd.data, "big")), secured)
        if ef is None:
            return b"", sw
        self._state.current = ef
        return b"", SW.OK

    def _resolve(
        self, ef: ElementaryFile | None, secured: bool
    ) -> tuple[ElementaryFile | None, SW]:
        """The file if it exists and the current access rights allow it, else the error."""
        if ef is None or (ef.access is not Access.EAC and ef.name not in self.files):
            return None, SW.NOT_FOUND
        if ef.access is Access.EAC or (ef.access is Access.BAC and not secured):
            return None, SW.SECURITY_NOT_SATISFIED
        return ef, SW.OK

    # --- READ BINARY ------------------------------------------------------------------------

    def _read_binary(self, cmd: CommandApdu, secured: bool) -> Reply:
        if cmd.p1 & 0x80:  # short EF identifier in P1, offset in P2
            if cmd.p1 & 0x60:
                return b"", SW.WRONG_P1P2
            ef, sw = self._resolve(by_sfi(cmd.p1 & 0x1F), secured)
            if ef is None:
                return b"", sw
            self._state.current = ef
            offset = cmd.p2
        else:
            offset = (cmd.p1 << 8) | cmd.p2
        return self._read(cmd, offset, secured, wrap_53=False)

    def _read_binary_odd(self, cmd: CommandApdu, secured: bool) -> Reply:
        """INS B1: P1P2 = 0000 (current EF), 00xx (SFI) or a file ID; offset in DO'54'."""
        if cmd.p1 or cmd.p2:
            if cmd.p1 == 0 and cmd.p2 < 0x20:
                target = by_sfi(cmd.p2)
            else:
                target = by_fid((cmd.p1 << 8) | cmd.p2)
            ef, sw = self._resolve(target, secured)
            if ef is None:
                return b"", sw
            self._state.current = ef
        try:
            dos = read_all(cmd.data)
        except BerError:
            return b"", SW.WRONG_DATA
        if len(dos) != 1 or dos[0][0] != 0x54 or not 1 <= len(dos[0][1]) <= 4:
            return b"", SW.WRONG_DATA
        return self._read(cmd, int.from_bytes(dos[0][1], "big"), secured, wrap_53=True)

    def _read(self, cmd: CommandApdu, offset: int, secured: bool, *, wrap_53: bool) -> Reply:
        current = self._state.current
        if current is None:
            return b"", SW.NO_CURRENT_EF
        ef, sw = self._resolve(current, secured)  # rights may have changed since SELECT
        if ef is None:
            return b"", sw
        if self.faults.pull_out_in_file == ef.name and offset >= self.faults.pull_out_at_offset:
            self._pull("file")
        content = self.files[ef.name]
        if cmd.ne is None:
            return b"", SW.WRONG_LENGTH
        if offset >= len(content):
            return b"", SW.WRONG_OFFSET
        left = len(content) - offset
        if not wrap_53:
            chunk = content[offset : offset + min(cmd.ne, left)]
            return chunk, SW.END_OF_FILE if len(chunk) < cmd.ne else SW.OK
        # Ne counts the whole DO'53', header included.
        n = min(left, cmd.ne - 2)
        while n > 0 and 1 + len(encode_length(n)) + n > cmd.ne:
            n -= 1
        if n <= 0:
            return b"", SW.WRONG_LENGTH
        data = tlv(0x53, content[offset : offset + n])
        return data, SW.END_OF_FILE if n == left and len(data) < cmd.ne else SW.OK

    # --- BAC --------------------------------------------------------------------------------

    def _get_challenge(self, cmd: CommandApdu, secured: bool) -> Reply:
        if cmd.p1 or cmd.p2:
            return b"", SW.WRONG_P1P2
        if cmd.ne != 8:
            return b"", SW.WRONG_LENGTH
        return self._bac.get_challenge(), SW.OK

    def _external_authenticate(self, cmd: CommandApdu, secured: bool) -> Reply:
        if secured:
            return b"", SW.CONDITIONS_NOT_SATISFIED  # BAC is not run inside a session
        if cmd.p1 or cmd.p2:
            return b"", SW.WRONG_P1P2
        if len(cmd.data) != 40 or (cmd.ne is not None and cmd.ne < 40):
            return b"", SW.WRONG_LENGTH
        if not self._bac.has_challenge:
            return b"", SW.CONDITIONS_NOT_SATISFIED
        try:
            reply, keys = self._bac.external_authenticate(cmd.data)
        except BacFailed:
            return b"", SW.AUTH_FAILED
        self._state.sm = _open_session(keys)
        return reply, SW.OK


def _open_session(keys: SessionKeys) -> SmSession:
    return SmSession(Des3Suite(keys.k_enc, keys.k_mac), int.from_bytes(keys.ssc, "big"))


class VirtualCccd(EmrtdApplet):
    """A Vietnamese chip ID card built from a :class:`CardProfile`."""

    def __init__(
        self,
        profile: CardProfile,
        *,
        faults: Faults | None = None,
        rng: Callable[[int], bytes] = os.urandom,
        lds: BuiltLds | None = None,
    ) -> None:
        self.profile = profile
        self.lds = lds or build_lds(profile)  # also holds the chip's AA and CA private keys
        super().__init__(
            self.lds.files, profile.mrz_information, chip=profile.chip, faults=faults, rng=rng
        )

    def access_data(self) -> dict[str, Any]:
        return self.profile.access_data()
