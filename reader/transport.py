"""Moving APDU bytes: PC/SC through pyscard, or an in-process loopback to a virtual card.

A transport knows nothing about secure messaging or files. It maps the reader's failures
to typed errors: a card that left the field is :class:`CardRemoved`, an APDU the reader cannot
carry is :class:`TransportLimit`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

from .errors import (
    CardRemoved,
    NoCard,
    NoReader,
    PcscUnavailable,
    TransportError,
    TransportLimit,
)


@runtime_checkable
class CardTransport(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def atr(self) -> bytes: ...

    def transmit(self, apdu: bytes) -> bytes: ...

    def close(self) -> None: ...


# --- loopback --------------------------------------------------------------------------------


class CardLeftField(Exception):
    """Raised by an in-process card that has left the reader's field (the virtual card's
    ``CardPulled`` is one); the loopback transport turns it into :class:`CardRemoved`. A type,
    not a name: an unrelated exception that happens to share a class name stays what it is."""


class LoopbackCard(Protocol):
    """What an in-process card offers (reader.virtual.applet.VirtualCccd has these)."""

    atr: bytes

    def power_on(self) -> None: ...
    def process(self, apdu: bytes) -> bytes: ...  # raises CardLeftField when pulled out


class LoopbackTransport:
    """Talks to a card object in the same process; optionally imitates a small reader.

    ``max_command`` / ``max_response`` are the reader's limits in bytes (APDU with header /
    response with SW), like a CCID reader without extended-APDU support (261 / 258).
    """

    def __init__(
        self,
        card: LoopbackCard,
        *,
        max_command: int | None = None,
        max_response: int | None = None,
        name: str = "loopback",
    ) -> None:
        self._card = card
        self._max_command = max_command
        self._max_response = max_response
        self._name = name
        self._closed = False
        self.apdus = 0
        card.power_on()

    @property
    def name(self) -> str:
        return self._name

    @property
    def atr(self) -> bytes:
        return bytes(self._card.atr)

    def transmit(self, apdu: bytes) -> bytes:
        if self._closed:
            raise CardRemoved("transport closed")
        if self._max_command is not None and len(apdu) > self._max_command:
            raise TransportLimit(f"command of {len(apdu)} bytes exceeds {self._max_command}")
        self.apdus += 1
        try:
            resp = self._card.process(apdu)
        except CardLeftField as exc:
            self._closed = True
            raise CardRemoved("card left the field") from exc
        if self._max_response is not None and len(resp) > self._max_response:
            raise TransportLimit(f"response of {len(resp)} bytes exceeds {self._max_response}")
        return resp

    def close(self) -> None:
        self._closed = True


# --- PC/SC -----------------------------------------------------------------------------------

try:  # pyscard is a hard dependency, but keep the loopback usable where it cannot build.
    from smartcard import scard as _scard
except ImportError:  # pragma: no cover - exercised only on broken installs
    _scard = None

_REMOVED = {
    0x80100069,  # SCARD_W_REMOVED_CARD
    0x8010000C,  # SCARD_E_NO_SMARTCARD
    0x80100017,  # SCARD_E_READER_UNAVAILABLE
    0x80100068,  # SCARD_W_RESET_CARD
    0x80100066,  # SCARD_W_UNRESPONSIVE_CARD
    0x80100067,  # SCARD_W_UNPOWERED_CARD
    0x80100009,  # SCARD_E_UNKNOWN_READER
}
_NO_SERVICE = {
    0x8010001D,  # SCARD_E_NO_SERVICE
    0x8010001E,  # SCARD_E_SERVICE_STOPPED
    0x80100003,  # SCARD_E_INVALID_HANDLE (context lost: pcscd restarted)
}
_NO_READERS = 0x8010002E  # SCARD_E_NO_READERS_AVAILABLE
_TIMEOUT = 0x8010000A  # SCARD_E_TIMEOUT


def _need_pyscard() -> Any:
    if _scard is None:
        raise PcscUnavailable("pyscard is not installed")
    return _scard


def _message(hresult: int) -> str:
    sc = _need_pyscard()
    return f"{sc.SCardGetErrorMessage(hresult).strip()} (0x{hresult & 0xFFFFFFFF:08X})"


class PcscContext:
    """One PC/SC context: listing readers and waiting for card events."""

    def __init__(self) -> None:
        sc = _need_pyscard()
        hresult, self._ctx = sc.SCardEstablishContext(sc.SCARD_SCOPE_USER)
        if hresult != sc.SCARD_S_SUCCESS:
            raise PcscUnavailable(f"cannot reach pcscd: {_message(hresult)}")

    def readers(self) -> list[str]:
        sc = _need_pyscard()
        hresult, names = sc.SCardListReaders(self._ctx, [])
        if hresult == _NO_READERS or (hresult == sc.SCARD_S_SUCCESS and not names):
            return []
        if hresult != sc.SCARD_S_SUCCESS:
            if hresult & 0xFFFFFFFF in _NO_SERVICE:
                raise PcscUnavailable(_message(hresult))
            raise TransportError(f"cannot list readers: {_message(hresult)}")
        return list(names)

    def resolve(self, wanted: str | None) -> list[str]:
        """Readers matching ``wanted`` (exact name first, else case-insensitive substring)."""
        names = self.readers()
        if not names:
            raise NoReader("no PC/SC reader is attached")
        if wanted is None:
            return names
        if wanted in names:
            return [wanted]
        hits = [n for n in names if wanted.lower() in n.lower()]
        if not hits:
            raise NoReader(f"no reader matches {wanted!r}", available=names)
        return hits

    def _snapshot(self, names: list[str]) -> list[tuple[str, int, bytes]]:
        """Each reader's state flags and ATR now (no wait)."""
        sc = _need_pyscard()
        hresult, states = sc.SCardGetStatusChange(
            self._ctx, 0, [(n, sc.SCARD_STATE_UNAWARE) for n in names]
        )
        if hresult != sc.SCARD_S_SUCCESS:
            raise TransportError(f"reader state: {_message(hresult)}")
        return [(str(n), int(f), bytes(a)) for n, f, a in states]

    def _await_change(self, states: list[tuple[str, int, bytes]], left: float,
                      doing: str) -> None:
        """Sleep in pcscd until one of ``states`` changes, at most ``left`` s and at most
        500 ms, then the caller looks again: a reader plugged in meanwhile is seen (the caller
        re-resolves) and a missed event costs half a second, not the whole wait."""
        sc = _need_pyscard()
        watch = [(n, f) for n, f, _ in states]
        hresult, _ = sc.SCardGetStatusChange(self._ctx, int(min(left, 0.5) * 1000), watch)
        if hresult not in (sc.SCARD_S_SUCCESS, _TIMEOUT):
            raise TransportError(f"{doing}: {_message(hresult)}")

    def state(self, reader: str) -> ReaderState:
        sc = _need_pyscard()
        _, flags, atr = self._snapshot([reader])[0]
        return ReaderState(reader, bool(flags & sc.SCARD_STATE_PRESENT), atr, flags)

    def wait_for_card(self, wanted: str | None, timeout: float) -> str:
        """Block until a card is present on a matching reader; return that reader's name."""
        sc = _need_pyscard()
        deadline = time.monotonic() + timeout
        while True:
            names = self.resolve(wanted)
            states = self._snapshot(names)
            for name, flags, _atr in states:
                if flags & sc.SCARD_STATE_PRESENT and not flags & sc.SCARD_STATE_MUTE:
                    return name
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoCard("no card on the reader", readers=names)
            self._await_change(states, left, "waiting for a card")

    def wait_presence(self, reader: str, present: bool, timeout: float) -> bool:
        """Block until a card is on ``reader`` (``present``) or is not, up to ``timeout`` s;
        whether that state was reached. "On" is :attr:`ReaderState.present` (a mute card
        counts: this is about the card being in the field, not about talking to it)."""
        sc = _need_pyscard()
        deadline = time.monotonic() + timeout
        while True:
            states = self._snapshot([reader])
            if bool(states[0][1] & sc.SCARD_STATE_PRESENT) == present:
                return True
            left = deadline - time.monotonic()
            if not left > 0:  # also a NaN timeout: one look, no wait
                return False
            self._await_change(states, left, "waiting for the card to come or go")

    def events(self, reader: str, stop: Callable[[], bool]) -> Iterator[CardEvent]:
        """Yield insertions and removals on one reader until ``stop()`` is true."""
        sc = _need_pyscard()
        present = self.state(reader).present
        flags = sc.SCARD_STATE_UNAWARE
        while not stop():
            hresult, states = sc.SCardGetStatusChange(self._ctx, 250, [(reader, flags)])
            if hresult == _TIMEOUT:
                continue
            if hresult != sc.SCARD_S_SUCCESS:
                raise TransportError(f"watching the reader: {_message(hresult)}")
            _, new_flags, atr = states[0]
            flags = new_flags & ~sc.SCARD_STATE_CHANGED
            now = bool(new_flags & sc.SCARD_STATE_PRESENT)
            if now != present:
                present = now
                yield CardEvent(CardEventKind.INSERTED if now else CardEventKind.REMOVED,
                                reader, bytes(atr))

    def close(self) -> None:
        sc = _need_pyscard()
        sc.SCardReleaseContext(self._ctx)

    def __enter__(self) -> PcscContext:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


@dataclass(frozen=True)
class ReaderState:
    reader: str
    present: bool
    atr: bytes
    flags: int


class CardEventKind(Enum):
    INSERTED = "inserted"
    REMOVED = "removed"


@dataclass(frozen=True)
class CardEvent:
    kind: CardEventKind
    reader: str
    atr: bytes


def _is_extended(apdu: bytes) -> bool:
    # A short APDU never has a zero byte in the Lc/Le position followed by two more bytes.
    return len(apdu) >= 7 and apdu[4] == 0


def list_readers() -> list[ReaderState]:
    ctx = PcscContext()
    try:
        return [ctx.state(n) for n in ctx.readers()]
    finally:
        ctx.close()


class PcscTransport:
    """A card connection through pcscd."""

    def __init__(self, context: PcscContext, reader: str) -> None:
        sc = _need_pyscard()
        self._ctx = context
        self._reader = reader
        hresult, self._card, self._protocol = sc.SCardConnect(
            context._ctx, reader, sc.SCARD_SHARE_SHARED,
            sc.SCARD_PROTOCOL_T1 | sc.SCARD_PROTOCOL_T0,
        )
        if hresult != sc.SCARD_S_SUCCESS:
            if hresult & 0xFFFFFFFF in _REMOVED:
                raise NoCard(f"no card on {reader}: {_message(hresult)}", reader=reader)
            raise TransportError(f"cannot connect to {reader}: {_message(hresult)}")
        self._pci = sc.SCARD_PCI_T1 if self._protocol == sc.SCARD_PROTOCOL_T1 else sc.SCARD_PCI_T0
        hresult, _name, _state, _proto, atr = sc.SCardStatus(self._card)
        self._atr = bytes(atr) if hresult == sc.SCARD_S_SUCCESS else b""
        self._closed = False

    @classmethod
    def open(cls, reader: str | None = None, *, wait: float = 0.0) -> PcscTransport:
        """Connect to the card on ``reader`` (a name or part of one), waiting up to ``wait`` s."""
        ctx = PcscContext()
        try:
            name = ctx.wait_for_card(reader, wait)
            return cls(ctx, name)
        except BaseException:
            ctx.close()
            raise

    @property
    def name(self) -> str:
        return self._reader

    @property
    def atr(self) -> bytes:
        return self._atr

    def transmit(self, apdu: bytes) -> bytes:
        sc = _need_pyscard()
        if self._closed:
            raise CardRemoved("connection closed")
        hresult, resp = sc.SCardTransmit(self._card, self._pci, list(apdu))
        if hresult == sc.SCARD_S_SUCCESS and len(resp) >= 2:
            return bytes(resp)
        code = hresult & 0xFFFFFFFF
        if code in _NO_SERVICE:
            raise PcscUnavailable(_message(hresult))
        if code in _REMOVED or self._card_gone():
            raise CardRemoved(f"card left the reader: {_message(hresult)}", reader=self._reader)
        if _is_extended(apdu) or hresult == sc.SCARD_S_SUCCESS:
            # An extended APDU the reader would not carry, or an empty answer to one.
            raise TransportLimit(f"reader could not carry {len(apdu)} bytes: {_message(hresult)}")
        raise TransportError(f"transmit failed: {_message(hresult)}")

    def _card_gone(self, settle: float = 1.0) -> bool:
        """After a failed exchange: did the card leave? Readers notice a removal late
        (pcscd polls), so watch the reader for up to ``settle`` seconds before saying no."""
        sc = _need_pyscard()
        deadline = time.monotonic() + settle
        while True:
            hresult, *_ = sc.SCardStatus(self._card)
            if hresult != sc.SCARD_S_SUCCESS:
                return True
            if not self._ctx.state(self._reader).present:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def close(self) -> None:
        if self._closed:
            return
        sc = _need_pyscard()
        self._closed = True
        # Reset on the way out: the next program finds the chip without our session.
        sc.SCardDisconnect(self._card, sc.SCARD_RESET_CARD)
        self._ctx.close()
