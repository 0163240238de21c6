"""Reading elementary files: the command channel and the block-size strategy.

The strategy: address the file by its short EF identifier so the first READ BINARY also
selects it, read a few header bytes to learn the exact file length, then read the rest in the
largest blocks the chip and the reader accept. Extended length is used when the card and the
reader carry it; when they do not (6700, 6Cxx, an unprotected answer, a reader limit) the
channel recovers and the sizer steps down, remembering what it learned for the next file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from . import apdu, tlv
from .apdu import CommandApdu, ResponseApdu, raise_for_status
from .errors import (
    EndOfFile,
    MalformedData,
    OverLimit,
    SecureMessagingError,
    TransportError,
    TransportLimit,
    WrongLength,
)
from .limits import max_file_size
from .sm import SecureMessaging, UnprotectedResponse, max_plain_for_response, wrapped_response_size
from .transport import CardTransport

Progress = Callable[[str, int, int], None]

# Largest response data field (without SW) we ever ask for: the vpcd frame and many CCID
# readers top out just under 64 KiB.
MAX_EXTENDED_RESPONSE = 65533
SHORT_RESPONSE = 256


@dataclass(frozen=True)
class EfId:
    name: str
    fid: int
    sfi: int | None
    tag: int | None = None


@dataclass
class LinkStats:
    apdus: int = 0
    bytes_out: int = 0
    bytes_in: int = 0
    recoveries: int = 0
    by_ins: dict[int, int] = field(default_factory=dict)

    def sent(self, command: bytes) -> None:
        # Counted before the answer: a command the reader failed to deliver back still cost
        # an exchange with the card.
        self.apdus += 1
        self.bytes_out += len(command)
        if len(command) > 1:
            self.by_ins[command[1]] = self.by_ins.get(command[1], 0) + 1

    def received(self, response: bytes) -> None:
        self.bytes_in += len(response)


class Channel:
    """Sends commands to the card, through secure messaging once access control is done.

    The channel is the one owner of the session state (h11's rule): the secure-messaging keys,
    how to re-open the card when the session is lost, and the generation that tells file
    readers the card forgot its current EF. Only its methods change them; the access-control
    and authentication code calls ``establish``, ``rekey``, ``mark_broken`` and ``recover``.
    """

    def __init__(self, transport: CardTransport, stats: LinkStats | None = None) -> None:
        self._transport = transport
        self._stats = stats or LinkStats()
        self._sm: SecureMessaging | None = None
        self._reopen: Callable[[Channel], SecureMessaging] | None = None
        self._generation = 0  # bumps on every new session key: the card forgot its current EF

    @property
    def transport(self) -> CardTransport:
        """What carries the APDUs (a PC/SC reader or the loopback)."""
        return self._transport

    @property
    def broken(self) -> bool:
        """A session that must be re-opened before the next protected command."""
        return self._sm is not None and self._sm.broken

    @property
    def stats(self) -> LinkStats:
        """What crossed the reader so far (the stats object's own counters change)."""
        return self._stats

    @property
    def can_recover(self) -> bool:
        """Whether ``recover`` knows how to re-open the card."""
        return self._reopen is not None

    @property
    def sm(self) -> SecureMessaging | None:
        """The session's secure messaging, None while commands go in plain."""
        return self._sm

    def establish(self, sm: SecureMessaging) -> None:
        """Access control (PACE or BAC) just agreed ``sm``: protect every command with it."""
        self._sm = sm

    def drop_session(self) -> None:
        """Back to plain commands: before access control, or after it failed."""
        self._sm = None

    def reopen_with(self, reopen: Callable[[Channel], SecureMessaging]) -> None:
        """How ``recover`` re-opens the card: the way it was opened (and authenticated)."""
        self._reopen = reopen

    @property
    def generation(self) -> int:
        """Bumps whenever the card may have forgotten its current EF (new keys, a recovery)."""
        return self._generation

    def rekey(self, sm: SecureMessaging) -> None:
        """Chip authentication restarted secure messaging with new keys: the card starts
        afresh, with no current file."""
        self._sm = sm
        self._generation += 1

    def mark_broken(self) -> None:
        """The chip may have counted an exchange we did not see (the reader failed to carry
        it): the session must be re-opened before the next command."""
        if self._sm is not None:
            self._sm.broken = True

    def exchange(self, raw: bytes, part: int = 256) -> ResponseApdu:
        """Send ``raw``; a 61xx answer is completed with GET RESPONSE (ISO 7816-4 §5.3.4),
        asking for at most ``part`` bytes at a time."""
        self._stats.sent(raw)
        resp_bytes = self._transport.transmit(raw)
        self._stats.received(resp_bytes)
        resp = ResponseApdu.from_bytes(resp_bytes)
        data = resp.data
        # T=0 style chaining: 61xx means "more bytes, ask with GET RESPONSE".
        guard = 0
        while resp.sw1 == 0x61 and guard < 64:
            guard += 1
            le = min(resp.sw2 or 256, part)
            more = apdu.CommandApdu(0x00, 0xC0, 0x00, 0x00, b"", le).to_bytes()
            self._stats.sent(more)
            resp_bytes = self._transport.transmit(more)
            self._stats.received(resp_bytes)
            resp = ResponseApdu.from_bytes(resp_bytes)
            data += resp.data
        return ResponseApdu(data, resp.sw)

    def send_plain(self, cmd: CommandApdu) -> ResponseApdu:
        resp = self.exchange(cmd.to_bytes())
        if resp.sw1 == 0x6C and cmd.le is not None and resp.sw2:
            # Wrong Le: the card tells us the exact length; ask again with it.
            resp = self.exchange(cmd.with_le(resp.sw2).to_bytes())
        return resp

    def send(self, cmd: CommandApdu, *, part: int | None = None) -> ResponseApdu:
        """``part``: ask for the (protected) answer in parts of at most that many bytes (a
        short outer Le, then GET RESPONSE), for a reader that cannot carry it whole."""
        if self.broken:
            self.recover()
        sm = self._sm
        if sm is None:
            return self.send_plain(cmd)
        wrapped = sm.wrap(cmd)
        if part is not None and not wrapped.is_extended:
            # The outer Le is outside the MAC (9303-11 §9.8): only the transport sees it.
            wrapped = wrapped.with_le(max(1, min(part, 255)))
            return sm.unwrap(self.exchange(wrapped.to_bytes(), part))
        return sm.unwrap(self.exchange(wrapped.to_bytes()))

    def recover(self) -> None:
        """Re-establish secure messaging after the card or the reader dropped it."""
        if self._reopen is None:
            raise SecureMessagingError("secure messaging was lost and cannot be re-established")
        self._sm = None
        self._generation += 1
        self._stats.recoveries += 1
        self._sm = self._reopen(self)


@dataclass(frozen=True)
class ReadStrategy:
    """How to read files. The default is ours; ``baseline()`` is the common fixed 0xDF scheme."""

    use_sfi: bool = True
    extended: bool | None = None  # None: as the ATR says, tried once when it says nothing
    block: int | None = None  # fixed plaintext bytes per READ BINARY; None: largest accepted
    header: int = 6

    @classmethod
    def baseline(cls) -> ReadStrategy:
        return cls(use_sfi=False, extended=False, block=0xDF, header=4)


class BlockSizer:
    """Chooses Le for each READ BINARY and learns the card's and reader's limits.

    It works in *protected response bytes* (what crosses the reader) because that is what
    a chip buffer or a reader limits; ``cipher_block`` converts to plaintext (0 = no SM).
    It starts at the ceiling (the extended or the short maximum). After a refusal it drops to
    a short response, then probes upwards — doubling, then bisecting between the largest size
    seen to work and the smallest seen to fail — while a larger block still pays for the risk
    of one more refused APDU. What it learns is kept for the rest of the session.
    """

    def __init__(self, strategy: ReadStrategy, extended_hint: bool | None) -> None:
        self.fixed = strategy.block
        # None means nobody told us: extended is tried first and dropped if it fails.
        self.extended = strategy.extended if strategy.extended is not None else extended_hint
        self.ceiling = SHORT_RESPONSE if self.extended is False else MAX_EXTENDED_RESPONSE
        self.good = 0
        self.bad: int | None = None
        self.cipher_block = 0

    def _wrapped(self, plain: int) -> int:
        if not self.cipher_block:
            return plain
        return wrapped_response_size(plain, self.cipher_block)

    def _max_plain(self, limit: int) -> int:
        if not self.cipher_block:
            return limit
        return max_plain_for_response(limit, self.cipher_block)

    def _limit(self, remaining: int) -> int:
        if self.bad is None:
            return self.ceiling
        if self.good == 0:
            # Refused at the ceiling: a short response is what most chips and readers take.
            return min(SHORT_RESPONSE, self.bad // 2)
        # Grow by doubling, then bisect: few refusals whether the limit is near or far.
        probe = min(2 * self.good, (self.good + self.bad) // 2)
        now, then = self._max_plain(self.good), self._max_plain(probe)
        if then <= now:
            # Block padding makes sizes discrete: the midpoint may add nothing while the size
            # just under the refused one still would.
            probe = self.bad - 1
            then = self._max_plain(probe)
            if then <= now:
                return self.good  # nothing larger fits below the smallest refused size
        # Probe upwards only while it pays: a refused probe costs one APDU, a successful one
        # saves remaining/now - remaining/then APDUs on this file; take even odds.
        if now <= 0 or (remaining / now - remaining / then) / 2 <= 1:
            return self.good
        return probe

    def next_le(self, remaining: int) -> int:
        if self.fixed is not None:
            return min(remaining, self.fixed)
        limit = self._limit(remaining)
        if limit < 16:
            raise WrongLength(0x6700, "the card accepts no usable read size")
        return max(1, min(remaining, self._max_plain(limit), 65536))

    def needs_extended(self, le: int) -> bool:
        return le > 256 or self._wrapped(le) > SHORT_RESPONSE

    def succeeded(self, le: int) -> None:
        size = self._wrapped(le)
        self.good = max(self.good, size)
        if size > SHORT_RESPONSE:
            self.extended = True

    def too_long(self, le: int) -> None:
        size = self._wrapped(le)
        self.bad = size if self.bad is None else min(self.bad, size)
        if self.good >= self.bad:
            self.good = 0  # a size that worked before fails now: forget it

    def no_extended(self) -> None:
        """The card or the reader cannot do extended length: the short maximum is untested."""
        self.extended = False
        self.ceiling = SHORT_RESPONSE
        self.good = min(self.good, SHORT_RESPONSE)
        if self.bad is not None and self.bad > SHORT_RESPONSE:
            self.bad = None


class FileReader:
    """Reads whole LDS files over a channel with a given strategy."""

    MAX_RETRIES = 24

    def __init__(
        self,
        channel: Channel,
        strategy: ReadStrategy | None = None,
        *,
        extended_hint: bool | None = None,
    ) -> None:
        self.channel = channel
        self.strategy = strategy or ReadStrategy()
        self.sizer = BlockSizer(self.strategy, extended_hint)
        self._current: tuple[int, int] | None = None  # (fid, channel generation)

    def _select(self, ef: EfId) -> None:
        resp = self.channel.send(apdu.select_ef(ef.fid))
        raise_for_status(resp, during="select-file", file=ef.name)
        self._current = (ef.fid, self.channel.generation)

    def mark_selected(self, ef: EfId) -> None:
        """The caller selected ``ef`` itself (e.g. EF.CardAccess before the application)."""
        self._current = (ef.fid, self.channel.generation)

    def _is_current(self, ef: EfId) -> bool:
        return self._current == (ef.fid, self.channel.generation)

    def _command(self, ef: EfId, offset: int, le: int) -> CommandApdu:
        if not self._is_current(ef):
            if self.strategy.use_sfi and ef.sfi is not None and offset <= 0xFF:
                return apdu.read_binary(offset, le, sfi=ef.sfi)
            self._select(ef)
        return apdu.read_binary(offset, le)

    def _read_once(self, ef: EfId, offset: int, le: int) -> bytes:
        if self.channel.broken:
            # Re-open before building the command: the new session has no current file, so
            # a READ BINARY without an SFI, built before, would be refused (6986).
            self.channel.recover()
        cmd = self._command(ef, offset, le)
        if self.sizer.needs_extended(le) and self.channel.sm is not None:
            # The protected answer will not fit a short response.
            cmd = cmd.with_le(le, extended=True)
        resp = self.channel.send(cmd)
        if cmd.p1 & 0x80 and cmd.ins == 0xB0 and resp.sw in (0x9000, 0x6282):
            self._current = (ef.fid, self.channel.generation)
        raise_for_status(resp, during="read", file=ef.name)
        data = resp.data
        if cmd.ins == 0xB1:
            # Odd INS answers wrap the bytes in DO'53'.
            data = tlv.decode_one(data)[0].value if data else b""
        if len(data) > le:
            raise MalformedData(f"{ef.name}: asked {le} bytes, card sent {len(data)}")
        return data

    def read_chunk(self, ef: EfId, offset: int, want: int) -> bytes:
        """Up to ``want`` bytes at ``offset``, in one block as large as the sizer allows,
        stepping down and recovering as the card and the reader require."""
        sm_retries = 0
        exact: int | None = None  # a length the card named with 6Cxx
        for _ in range(self.MAX_RETRIES):
            le = exact if exact is not None else self.sizer.next_le(want)
            try:
                data = self._read_once(ef, offset, le)
            except WrongLength as exc:
                if exc.sw >> 8 == 0x6C and exc.sw & 0xFF:
                    exact = min(le, exc.sw & 0xFF)  # the card names the length it has
                else:
                    self.sizer.too_long(le)
                continue
            except UnprotectedResponse as exc:
                if exc.sw == 0x6700 or exc.sw >> 8 == 0x6C:
                    # Dropped SM over a length: it could not even parse the APDU.
                    self._after_length_failure(le)
                    continue
                if exc.sw in (0x6987, 0x6988) and sm_retries < 2:
                    sm_retries += 1
                    self.channel.recover()
                    continue
                raise_for_status(ResponseApdu(b"", exc.sw), during="read", file=ef.name)
                raise
            except TransportLimit:
                self._after_length_failure(le)
                continue
            except TransportError as exc:
                if type(exc) is not TransportError or not self.sizer.needs_extended(le):
                    raise
                self._after_length_failure(le)
                continue
            except SecureMessagingError:
                # A garbled answer (noise, a glitch): its data was never used. Start SM
                # afresh and ask again, but do not loop on a chip that keeps failing.
                if sm_retries >= 2 or not self.channel.can_recover:
                    raise
                sm_retries += 1
                self.channel.recover()
                continue
            self.sizer.succeeded(len(data) if data else le)
            return data
        raise WrongLength(0x6700, f"{ef.name}: no read size worked", file=ef.name)

    def _after_length_failure(self, le: int) -> None:
        if self.sizer.needs_extended(le):
            self.sizer.no_extended()
        else:
            self.sizer.too_long(le)
        if self.channel.sm is not None:
            self.channel.recover()

    def read(self, ef: EfId, progress: Progress | None = None) -> bytes:
        if self.channel.sm is not None:
            self.sizer.cipher_block = self.channel.sm.suite.block
        head = self.read_chunk(ef, 0, self.strategy.header)
        try:
            hdr, value_len = tlv.header_length(head)
        except MalformedData as exc:
            raise MalformedData(f"{ef.name}: {exc}", file=ef.name) from exc
        if ef.tag is not None and head and tlv.read_tag(head, 0)[0] != ef.tag:
            raise MalformedData(f"{ef.name} starts with the wrong tag", file=ef.name)
        total = hdr + value_len
        limit = max_file_size(ef.name)
        if total > limit:
            # Before a single block is read or a buffer grown: the header's length is the
            # card's word, and a 4-byte length field can claim 4 GiB.
            raise OverLimit(f"{ef.name} claims {total} bytes; a genuine card's is at most "
                            f"{limit}", file=ef.name)
        buf = bytearray(head[:total])
        if progress:
            progress(ef.name, len(buf), total)
        while len(buf) < total:
            # Above 32 KiB the odd-INS READ BINARY counts its DO'53' header (up to 4 bytes)
            # in Le: ask for that much more so the last block is not split in two.
            extra = 4 if len(buf) > 0x7FFF else 0
            try:
                chunk = self.read_chunk(ef, len(buf), total - len(buf) + extra)
            except EndOfFile as exc:
                raise MalformedData(f"{ef.name} is shorter than its header says",
                                    file=ef.name) from exc
            if not chunk:
                raise MalformedData(f"{ef.name} is shorter than its header says", file=ef.name)
            buf += chunk[: total - len(buf)]
            if progress:
                progress(ef.name, len(buf), total)
        return bytes(buf)
