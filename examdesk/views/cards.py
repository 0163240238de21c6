"""Where the check-in gets its card connection: a PC/SC reader, or the demo's in-process chip.

The check-in job only asks for "a transport to the card on the reader, waiting up to N s";
which reader that is (the one chosen in the settings, the demo's virtual PCD, or a virtual
card in this process) is decided once, when the application starts.
"""

from __future__ import annotations

import threading
from typing import Protocol

from examdesk.services.cards import CardSource as Opens
from examdesk.services.cards import PcscCards
from reader.errors import NoCard
from reader.transport import CardTransport, LoopbackCard, LoopbackTransport

__all__ = ["CardSource", "LoopbackCards", "PcscCards"]


class CardSource(Opens, Protocol):
    """What the check-in service asks of a reader (``open``), and what the status bar shows."""

    @property
    def label(self) -> str:
        """Shown in the status bar: which reader."""
        ...


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
