"""Where the check-in gets its card connection: a PC/SC reader, or the demo's in-process chip.

The check-in job only asks for "a transport to the card on the reader, waiting up to N s";
which reader that is (the one chosen in the settings, the demo's virtual PCD, or a virtual
card in this process) is decided once, when the application starts.
"""

from __future__ import annotations

import threading
from typing import Protocol

from reader.errors import NoCard
from reader.transport import CardTransport, LoopbackCard, LoopbackTransport, PcscTransport


class CardSource(Protocol):
    def open(self, wait: float) -> CardTransport:
        """A connection to the card on the reader; ``NoCard`` when none came in ``wait`` s."""
        ...

    @property
    def label(self) -> str:
        """Shown in the status bar: which reader."""
        ...


class PcscCards:
    """A real reader through pcscd (``reader=None``: the first reader with a card)."""

    def __init__(self, reader: str | None) -> None:
        self.reader = reader

    @property
    def label(self) -> str:
        return self.reader or "PC/SC"

    def open(self, wait: float) -> CardTransport:
        return PcscTransport.open(self.reader, wait=wait)


class LoopbackCards:
    """The demo without pcscd: the card "on the reader" is an object in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._card: LoopbackCard | None = None

    @property
    def label(self) -> str:
        return "loopback"

    def put(self, card: LoopbackCard | None) -> None:
        with self._lock:
            self._card = card

    def open(self, wait: float) -> CardTransport:
        with self._lock:
            card = self._card
        if card is None:
            raise NoCard("no virtual card presented")
        return LoopbackTransport(card, name="Virtual CCCD (loopback)")
