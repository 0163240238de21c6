"""Physical mishaps the virtual card can act out, and what it counts while doing so."""

from __future__ import annotations

from dataclasses import dataclass

from ..transport import CardLeftField


class CardPulled(CardLeftField):
    """The card has left the reader's field; whoever carries its APDUs must drop the link."""


@dataclass(frozen=True, slots=True)
class Faults:
    """When to leave the field. Each fault fires once per card object.

    ``pull_out_at_apdu`` counts APDUs since the last power-on or reset, from 1.
    ``pull_out_in_file`` fires on a READ BINARY of that file (e.g. ``"DG2"``) at an offset of
    at least ``pull_out_at_offset``.
    """

    pull_out_at_apdu: int | None = None
    pull_out_in_file: str | None = None
    pull_out_at_offset: int = 0


@dataclass(slots=True)
class CardStats:
    """Totals since the card object was made (they survive power cycles)."""

    apdus: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
