"""A contactless link's time on air, for benchmarks: the virtual card answers at once, a real
CCCD does not.

No CCCD timing is published (see ../shared/reference). The model is the simplest that keeps the
shape of ISO/IEC 14443: every exchange costs a fixed time (the frame overhead and the chip's
own processing) plus a time per byte on air. :meth:`RadioModel.spread` sets both from one
figure, the time of a whole read: half of it fixed per exchange, half per byte, over the
exchanges and bytes of a reference read. A read that needs more exchanges or bytes (BAC's
short blocks) then costs more air time, as it would on a real card.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .vpcd import VpcdCard


@dataclass(frozen=True, slots=True)
class RadioModel:
    per_exchange_s: float = 0.0
    per_byte_s: float = 0.0

    @classmethod
    def spread(cls, total_s: float, exchanges: int, byte_count: int) -> RadioModel:
        """``total_s`` for a read of ``exchanges`` command/response pairs carrying
        ``byte_count`` bytes both ways: half per exchange, half per byte."""
        if total_s <= 0 or exchanges <= 0:
            return cls()
        return cls(total_s / 2 / exchanges, total_s / 2 / max(1, byte_count))

    def cost(self, command: int, response: int) -> float:
        return self.per_exchange_s + self.per_byte_s * (command + response)


class Radio:
    """A card behind a simulated radio: each APDU's answer comes after its time on air. Counts
    what went over the air and when the last answer left (``time.perf_counter``)."""

    def __init__(self, card: VpcdCard, model: RadioModel,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.card = card
        self._sleep = sleep
        self.atr = card.atr  # the card's, fixed at its making
        self.model = model
        self._lock = threading.Lock()
        self.exchanges = 0
        self.bytes = 0
        self.last_answer_at = float("nan")

    def power_on(self) -> None:
        self.card.power_on()

    def power_off(self) -> None:
        self.card.power_off()

    def reset(self) -> None:
        self.card.reset()

    def process(self, apdu: bytes) -> bytes:
        response = self.card.process(apdu)
        delay = self.model.cost(len(apdu), len(response))
        if delay > 0:
            self._sleep(delay)
        with self._lock:
            self.exchanges += 1
            self.bytes += len(apdu) + len(response)
            self.last_answer_at = time.perf_counter()
        return response
