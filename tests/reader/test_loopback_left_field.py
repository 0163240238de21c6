"""Issue 12, item 2: the loopback transport knows a card left the field by a type
(``CardLeftField``), never by an exception's class name."""

from __future__ import annotations

import pytest

from reader.errors import CardRemoved
from reader.transport import CardLeftField, LoopbackTransport
from reader.virtual import CardPulled


class _Card:
    atr = bytes.fromhex("3B80800101")

    def __init__(self, error: Exception) -> None:
        self.error = error

    def power_on(self) -> None:
        pass

    def process(self, apdu: bytes) -> bytes:
        raise self.error


def test_the_virtual_cards_pulled_signal_is_a_card_left_field() -> None:
    assert issubclass(CardPulled, CardLeftField)
    transport = LoopbackTransport(_Card(CardPulled("out")))
    with pytest.raises(CardRemoved):
        transport.transmit(b"\x00\xa4\x04\x00")
    with pytest.raises(CardRemoved):  # and the link stays closed
        transport.transmit(b"\x00\xa4\x04\x00")


def test_any_card_left_field_closes_the_link_whatever_its_name() -> None:
    class Gone(CardLeftField):
        pass

    with pytest.raises(CardRemoved):
        LoopbackTransport(_Card(Gone())).transmit(b"\x00\xb0\x00\x00\x01")


def test_an_unrelated_exception_named_cardpulled_is_not_taken_for_a_removed_card() -> None:
    # A bug in an in-process card must surface as itself, not pass as a card taken away.
    CardPulledLookalike = type("CardPulled", (RuntimeError,), {})
    transport = LoopbackTransport(_Card(CardPulledLookalike("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):
        transport.transmit(b"\x00\xa4\x04\x00")
