"""Where a check-in gets its card connection: the one thing the use case asks of a reader."""

from __future__ import annotations

from typing import Protocol

from reader.transport import CardTransport, PcscTransport


class CardSource(Protocol):
    def open(self, wait: float) -> CardTransport:
        """A connection to the card on the reader; ``NoCard`` when none came in ``wait`` s."""
        ...


class PcscCards:
    """A reader through pcscd (``reader=None``: the first reader with a card): the command
    line's ``--reader``, the desk's reader setting."""

    def __init__(self, reader: str | None) -> None:
        self.reader = reader

    @property
    def label(self) -> str:
        return self.reader or "PC/SC"

    def open(self, wait: float) -> CardTransport:
        return PcscTransport.open(self.reader, wait=wait)
