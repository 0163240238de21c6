"""The card side of a CCCD chip: ICAO eMRTD application with BAC, PACE, active and chip
authentication, and 3DES or AES secure messaging.

Behaviour copies what is known of the real card (research notes §1): SELECT MF is answered
6D00, EF.CardAccess is readable in plain, LDS files need BAC or PACE, DG3 needs EAC (never
granted).

PACE runs in plain (usually before the application is selected); the application may then be
selected under secure messaging without losing the session. Chip authentication runs under the
current secure messaging; its answer is protected with the old keys, then the new keys apply.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .atr import build_atr
from .bac_responder import BacFailed, BacResponder, SessionKeys
from .ber import BerError, encode_length, read_all, tlv
from .chip_keys import ChipKeys, active_authentication_signature, chip_authentication_secret
from .command import SW, CommandApdu, MalformedApdu, parse_command, response
from .faults import CardPulled, CardStats, Faults
from .filesystem import Access, ElementaryFile, by_fid, by_sfi
from .lds_builder import BuiltLds, build_lds
from .pace_responder import PaceConfig, PaceError, PaceResponder, PaceResult
from .profile import CardProfile, ChipSettings
from .secure_channel import SmError, SmSession
from .security_infos import PASSWORD_REFERENCES, ca_oid, oid_value
from .sm_crypto import CIPHERS, KDF_ENC, KDF_MAC, Des3Suite

EMRTD_AID = bytes.fromhex("A0000002471001")
SHORT_LIMIT = 256

INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_READ_BINARY_ODD = 0xB1
INS_GET_CHALLENGE = 0x84
INS_EXTERNAL_AUTHENTICATE = 0x82
INS_INTERNAL_AUTHENTICATE = 0x88
INS_MANAGE_SECURITY_ENVIRONMENT = 0x22
INS_GENERAL_AUTHENTICATE = 0x86
INS_GET_RESPONSE = 0xC0
# Answers that cannot be made shorter by asking for less: given in parts when they do not fit.
_CHAINABLE = (INS_EXTERNAL_AUTHENTICATE, INS_INTERNAL_AUTHENTICATE, INS_GENERAL_AUTHENTICATE)
MF_FID = b"\x3f\x00"

MSE_SET_AT_PACE = 0xC1A4  # P1P2: set for computation/verification + authentication template
MSE_SET_AT_CA = 0x41A4  # set for computation + authentication template
MSE_SET_KAT_CA = 0x41A6  # set for computation + key agreement template (CA with 3DES)
CLA_CHAINING = 0x10

Reply = tuple[bytes, int]  # response data, status word


@dataclass
class _Volatile:
    """What a power cycle or reset forgets."""

    current: ElementaryFile | None = None
    sm: SmSession | None = None
    access: str | None = None  # "BAC" or "PACE" once access control succeeded
    pace: PaceResponder | None = None  # a PACE attempt between MSE:Set AT and its last step
    ca_pending: bool = False  # MSE:Set AT for chip authentication seen, GA expected
    chip_authenticated: bool = False
    pending: tuple[bytes, int] | None = None  # the rest of a chained answer, and its final SW


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
        can: str = "",
        keys: ChipKeys | None = None,
        chip: ChipSettings | None = None,
        faults: Faults | None = None,
        rng: Callable[[int], bytes] = os.urandom,
        refused: frozenset[str] = frozenset(),
        too_long: frozenset[int] = frozenset(),
    ) -> None:
        self.files = dict(files)
        self.refused = refused  # files answered 6982 whatever the access rights (an attack)
        self.too_long = too_long  # protected INS answered 6700 whatever their size (an attack)
        self.chip = chip or ChipSettings()
        self.keys = keys or ChipKeys(None, None)
        self.faults = faults or Faults()
        self.stats = CardStats()
        self.atr = build_atr(self.chip.advertise_extended)
        self._rng = rng
        self._bac = BacResponder(mrz_information, rng)
        self._pace_config = PaceConfig(
            cipher=CIPHERS[self.chip.pace_cipher],
            parameter_id=self.chip.pace_parameter_id,
            passwords=frozenset(PASSWORD_REFERENCES[p] for p in self.chip.pace_passwords),
            mrz_information=mrz_information,
            can=can,
        )
        self.pace_result: PaceResult | None = None  # the last PACE that succeeded, for tests
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

    @property
    def access_control(self) -> str | None:
        """``"BAC"`` or ``"PACE"`` while a session opened by it lives, else ``None``."""
        return self._state.access if self._state.sm is not None else None

    @property
    def chip_authenticated(self) -> bool:
        """Whether the live session's keys come from chip authentication."""
        return self._state.sm is not None and self._state.chip_authenticated

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
        # Any command but GET RESPONSE abandons the rest of a chained answer.
        pending, self._state.pending = self._state.pending, None
        if cmd.cla == 0x00 and cmd.ins == INS_GET_RESPONSE and pending is not None:
            # A transport-level command (ISO 7816-4 §11.6.4): not protected, and it does not
            # end secure messaging; the parts are the bytes of the protected answer.
            return self._get_response(cmd, pending)
        if cmd.extended and not self.chip.extended_length:
            # Such a chip cannot even parse the command, let alone keep its session.
            self._abort_sm()
            return response(b"", SW.WRONG_LENGTH)
        if cmd.cla not in (0x00, 0x0C, CLA_CHAINING, CLA_CHAINING | 0x0C):
            return response(b"", SW.CLA_NOT_SUPPORTED)
        if cmd.cla & CLA_CHAINING and (cmd.ins != INS_GENERAL_AUTHENTICATE or cmd.cla & 0x0C):
            # Only PACE's GENERAL AUTHENTICATE steps are chained, and PACE runs in plain.
            return response(b"", SW.CHAINING_NOT_SUPPORTED)
        if cmd.cla == 0x0C:
            return self._dispatch_protected(cmd)
        if self._state.sm is not None and not self._is_select_aid(cmd):
            self._abort_sm()  # a plain command ends secure messaging (9303-11 §9.8.6)
            return response(b"", SW.SM_DATA_WRONG)
        data, sw = self._execute(cmd, secured=False)
        chainable = self._chainable(cmd)
        limit = self._response_limit(cmd, protected=False, chainable=chainable)
        if len(data) > limit:
            if not chainable:
                return response(b"", SW.WRONG_LENGTH)
            return self._chain(data, sw, limit)
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
        if inner.ins in self.too_long:
            return response(session.wrap(b"", SW.WRONG_LENGTH, odd=False), SW.WRONG_LENGTH)
        state = self._state
        was = (state.sm, state.chip_authenticated)
        data, sw = self._execute(inner, secured=True)
        odd = bool(inner.ins & 1)
        chainable = self._chainable(inner)
        limit = self._response_limit(cmd, protected=True, chainable=chainable)
        # The session object, not self._state.sm: SELECT of the applet may just have ended it.
        if session.wrapped_size(len(data), odd=odd) > limit and not chainable:
            data, sw = b"", SW.WRONG_LENGTH
            if self._state is state:
                # An answer that could not be sent did not happen: chip authentication's new
                # keys do not apply when the terminal never got the answer.
                state.sm, state.chip_authenticated = was
        body = session.wrap(data, sw, odd=odd)
        if len(body) > limit:
            return self._chain(body, sw, limit)
        return response(body, sw)

    def _chainable(self, cmd: CommandApdu) -> bool:
        return self.chip.response_chaining and cmd.ins in _CHAINABLE

    def _response_limit(self, cmd: CommandApdu, *, protected: bool, chainable: bool) -> int:
        """Most response data bytes sent at once for ``cmd`` (the command as received)."""
        limit = self.chip.max_response
        if cmd.extended:
            return limit
        if protected and cmd.ne == SHORT_LIMIT and not self.chip.strict_short_response:
            return limit  # a real CCCD: Le=00 under SM takes the whole protected answer
        if chainable and cmd.ne is not None:
            return min(limit, cmd.ne)  # a smaller Le asks for the answer in parts
        return min(limit, SHORT_LIMIT)

    def _chain(self, body: bytes, sw: int, limit: int) -> bytes:
        """The first ``limit`` bytes and 61xx; GET RESPONSE fetches the rest."""
        first, rest = body[:limit], body[limit:]
        self._state.pending = (rest, sw)
        return response(first, 0x6100 | (min(len(rest), 256) & 0xFF))

    def _get_response(self, cmd: CommandApdu, pending: tuple[bytes, int]) -> bytes:
        rest, sw = pending
        if cmd.p1 or cmd.p2:
            self._state.pending = pending
            return response(b"", SW.WRONG_P1P2)
        if cmd.data or cmd.ne is None:
            self._state.pending = pending
            return response(b"", SW.WRONG_LENGTH)
        n = min(len(rest), cmd.ne, self.chip.max_response)
        part, rest = rest[:n], rest[n:]
        if rest:
            self._state.pending = (rest, sw)
            return response(part, 0x6100 | (min(len(rest), 256) & 0xFF))
        return response(part, sw)

    def _execute(self, cmd: CommandApdu, *, secured: bool) -> Reply:
        if not self.chip.applet:  # not an ID card: no eMRTD application, no files
            return b"", SW.NOT_FOUND if cmd.ins == INS_SELECT else SW.INS_NOT_SUPPORTED
        handlers: dict[int, Callable[[CommandApdu, bool], Reply]] = {
            INS_SELECT: self._select,
            INS_READ_BINARY: self._read_binary,
            INS_READ_BINARY_ODD: self._read_binary_odd,
            INS_GET_CHALLENGE: self._get_challenge,
            INS_EXTERNAL_AUTHENTICATE: self._external_authenticate,
            INS_INTERNAL_AUTHENTICATE: self._internal_authenticate,
            INS_MANAGE_SECURITY_ENVIRONMENT: self._manage_security_environment,
            INS_GENERAL_AUTHENTICATE: self._general_authenticate,
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
            if secured and self._state.access == "PACE":
                # PACE was run before the application was selected (at the MF, as 9303-11
                # has it): selecting the application under its secure messaging keeps it.
                self._state.current = None
                return b"", SW.OK
            self._state = _Volatile()  # selecting the application resets its security state
            self._bac.forget_challenge()
            return b"", SW.OK
        if cmd.p1 == 0x00 and cmd.data in (b"", MF_FID):
            if self.chip.select_mf == "iso":  # ISO/IEC 7816-4 §11.2.2: the MF, no current EF
                self._state.current = None
                return b"", SW.OK
            # Real CCCDs answer 6D00 (AndyQ/NFCPassportReader#219; profile setting select_mf).
            return b"", SW.INS_NOT_SUPPORTED
        if cmd.p1 != 0x02:
            return b"", SW.INS_NOT_SUPPORTED
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
        if ef.name in self.refused:
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
        if not self.chip.bac and not secured:
            return b"", SW.SECURITY_NOT_SATISFIED  # a PACE-only chip refuses to start BAC
        if cmd.p1 or cmd.p2:
            return b"", SW.WRONG_P1P2
        if cmd.ne != 8:
            return b"", SW.WRONG_LENGTH
        return self._bac.get_challenge(), SW.OK

    def _external_authenticate(self, cmd: CommandApdu, secured: bool) -> Reply:
        if secured:
            return b"", SW.CONDITIONS_NOT_SATISFIED  # BAC is not run inside a session
        if not self.chip.bac:
            return b"", SW.SECURITY_NOT_SATISFIED
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
        self._state.access = "BAC"
        return reply, SW.OK

    # --- MSE:Set AT / Set KAT ---------------------------------------------------------------

    def _manage_security_environment(self, cmd: CommandApdu, secured: bool) -> Reply:
        p1p2 = (cmd.p1 << 8) | cmd.p2
        if p1p2 == MSE_SET_AT_PACE:
            return self._pace_set_at(cmd, secured)
        if p1p2 in (MSE_SET_AT_CA, MSE_SET_KAT_CA):
            return self._ca_set(cmd, secured, key_agreement=p1p2 == MSE_SET_KAT_CA)
        return b"", SW.WRONG_P1P2

    # --- PACE -------------------------------------------------------------------------------

    def _pace_set_at(self, cmd: CommandApdu, secured: bool) -> Reply:
        self._state.pace = None  # a new MSE:Set AT abandons an attempt under way
        if secured:
            return b"", SW.CONDITIONS_NOT_SATISFIED  # PACE starts from plain
        if not self.chip.pace:
            return b"", SW.WRONG_DATA  # no PACEInfo: the protocol is not supported
        try:
            self._state.pace = PaceResponder.start(cmd.data, self._pace_config, self._rng)
        except PaceError as exc:
            return b"", exc.sw
        return b"", SW.OK

    def _general_authenticate(self, cmd: CommandApdu, secured: bool) -> Reply:
        if secured:
            return self._ca_general_authenticate(cmd)
        pace = self._state.pace
        if pace is None:
            return b"", SW.CONDITIONS_NOT_SATISFIED
        if cmd.p1 or cmd.p2:
            self._state.pace = None
            return b"", SW.WRONG_P1P2
        try:
            data, result = pace.general_authenticate(cmd.data, chained=bool(cmd.cla & CLA_CHAINING))
        except PaceError as exc:
            self._state.pace = None  # any failure ends the attempt: start again at MSE:Set AT
            return b"", exc.sw
        if result is not None:
            self._state = _Volatile(
                current=self._state.current,
                sm=SmSession(result.cipher.suite(result.k_enc, result.k_mac), 0),
                access="PACE",
            )
            self.pace_result = result
        return data, SW.OK

    # --- chip authentication ----------------------------------------------------------------

    def _ca_set(self, cmd: CommandApdu, secured: bool, *, key_agreement: bool) -> Reply:
        self._state.ca_pending = False
        if not secured:
            return b"", SW.SECURITY_NOT_SATISFIED  # only after BAC or PACE
        key = self.keys.chip_authentication
        if key is None:
            return b"", SW.WRONG_DATA  # no ChipAuthenticationInfo in DG14
        try:
            fields = _unique_dos(cmd.data)
        except BerError:
            return b"", SW.WRONG_DATA
        allowed = {0x91, 0x84} if key_agreement else {0x80, 0x84}
        if not fields or set(fields) - allowed:
            return b"", SW.WRONG_DATA
        if 0x84 in fields:  # DG14 names no key ID: there is only one key, and it has none
            return b"", SW.REFERENCED_DATA_NOT_FOUND
        cipher = CIPHERS[self.chip.ca_cipher]
        if key_agreement:
            # MSE:Set KAT carries the terminal's key itself: CA with 3DES (9303-11 §6.2.4).
            if cipher.is_aes or 0x91 not in fields:
                return b"", SW.WRONG_DATA
            return self._ca_agree(fields[0x91], b"")
        if fields.get(0x80) != oid_value(ca_oid(cipher)):
            return b"", SW.WRONG_DATA
        self._state.ca_pending = True
        return b"", SW.OK

    def _ca_general_authenticate(self, cmd: CommandApdu) -> Reply:
        if not self._state.ca_pending:
            return b"", SW.CONDITIONS_NOT_SATISFIED
        self._state.ca_pending = False
        if cmd.p1 or cmd.p2:
            return b"", SW.WRONG_P1P2
        try:
            outer = _unique_dos(cmd.data)
            if set(outer) != {0x7C}:
                return b"", SW.WRONG_DATA
            inner = _unique_dos(outer[0x7C])
        except BerError:
            return b"", SW.WRONG_DATA
        if set(inner) != {0x80}:
            return b"", SW.WRONG_DATA
        return self._ca_agree(inner[0x80], tlv(0x7C, b""))

    def _ca_agree(self, terminal_point: bytes, answer: bytes) -> Reply:
        """Key agreement; the answer still goes out under the old keys (the caller wraps it
        with the session it unwrapped the command with), the next command uses the new ones."""
        key = self.keys.chip_authentication
        assert key is not None
        try:
            secret = chip_authentication_secret(key, terminal_point)
        except ValueError:
            return b"", SW.WRONG_DATA
        cipher = CIPHERS[self.chip.ca_cipher]
        suite = cipher.suite(cipher.kdf(secret, KDF_ENC), cipher.kdf(secret, KDF_MAC))
        self._state.sm = SmSession(suite, 0)
        self._state.chip_authenticated = True
        return answer, SW.OK

    # --- active authentication --------------------------------------------------------------

    def _internal_authenticate(self, cmd: CommandApdu, secured: bool) -> Reply:
        key = self.keys.active_authentication
        if key is None:
            return b"", SW.INS_NOT_SUPPORTED  # no DG15: no active authentication
        if not secured:
            return b"", SW.SECURITY_NOT_SATISFIED
        if cmd.p1 or cmd.p2:
            return b"", SW.WRONG_P1P2
        if len(cmd.data) != 8:
            return b"", SW.WRONG_LENGTH
        return active_authentication_signature(key, cmd.data, self._rng), SW.OK


def _unique_dos(data: bytes) -> dict[int, bytes]:
    """Data objects by tag; a repeated tag is malformed."""
    fields: dict[int, bytes] = {}
    for tag, value, _ in read_all(data):
        if tag in fields:
            raise BerError(f"DO'{tag:X}' twice")
        fields[tag] = value
    return fields


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
            self.lds.files,
            profile.mrz_information,
            can=profile.holder.can,
            keys=self.lds.keys,
            chip=profile.chip,
            faults=faults,
            rng=rng,
            refused=self.lds.refused,
            too_long=self.lds.too_long,
        )

    def access_data(self) -> dict[str, Any]:
        return self.profile.access_data()
