"""Read a chip ID card and, unless told not to, prove it genuine with this centre's trust files.

``examdesk card read`` is this use case; the check-in reads a card the same way and assesses it
with :class:`examdesk.services.trust.TrustFiles`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from reader.files import Progress
from reader.keys import AccessKey
from reader.session import CardRead, read_card
from reader.transport import CardTransport
from reader.trust.report import TrustReport

from .trust import TrustFiles


@dataclass(frozen=True)
class CardReading:
    """A card read, and its trust report (None when the chip was not to be verified)."""

    card: CardRead
    trust: TrustReport | None

    def to_dict(self) -> dict[str, Any]:
        """The card's data and, when verified, the passive check, expiry and verdict."""
        doc = self.card.to_dict()
        if self.trust is not None:
            doc["passive"] = self.trust.passive.to_dict()
            doc["expired"] = self.trust.expired
            doc["verdict"] = self.trust.verdict.to_dict()
        return doc


def read_and_verify(open_transport: Callable[[], CardTransport], keys: Sequence[AccessKey], *,
                    trust: TrustFiles | None, today: date,
                    progress: Progress | None = None) -> CardReading:
    """Open the card (``open_transport`` waits for it), read it with one of ``keys`` and, with
    ``trust``, run the chip's own proofs (active and chip authentication) and assess it with
    the trust files on ``today``; ``trust=None`` reads the data without proving anything.

    The connection is closed before the assessment: the trust files need no card."""
    transport = open_transport()
    try:
        card = read_card(transport, keys, progress=progress, authenticate=trust is not None)
    finally:
        transport.close()
    report = trust.assess(card, today=today) if trust is not None else None
    return CardReading(card, report)


def save_card(out: Path, reading: CardReading) -> None:
    """The portrait, the raw files and ``card.json`` in folder ``out``, owner-only (personal
    data). Everything or nothing: the files land in a temporary folder first, then move in.
    ``OSError`` when the folder cannot be written."""
    card = reading.card
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".examdesk-", dir=out))
    try:
        names: list[str] = []
        if card.portrait is not None:
            names.append("portrait" + card.portrait.extension)
            (tmp / names[-1]).write_bytes(card.portrait.data)
        for name, data in card.files.items():
            names.append(f"{name}.bin")
            (tmp / names[-1]).write_bytes(data)
        names.append("card.json")
        (tmp / "card.json").write_text(
            json.dumps(reading.to_dict(), ensure_ascii=False, indent=2), "utf-8")
        for name in names:
            # Personal data: readable by the invigilator's account only.
            os.chmod(tmp / name, 0o600)
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
