"""What the roster and the fraud report share on paper: words, styles, page furniture, QR.

The words come from the caller (a :data:`Words` function, normally the i18n catalogue): the
reports package depends on no user-interface package, and the tests can print either language.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable

from examdesk.i18n import Catalog
from examdesk.timezone import VIETNAM  # Asia/Ho_Chi_Minh: UTC+7 all year
from proctoring.models import RosterStatus
from reader.trust.policy import Verdict

from .fonts import PdfFonts

GREY = colors.HexColor("#666666")
LIGHT = colors.HexColor("#E8EEF4")
RULE = colors.HexColor("#9AA7B4")
ALERT = colors.HexColor("#B00020")


class Words(Protocol):
    """``words("reports.page", page=1, pages=3)`` → the text for this key, in the report's
    language."""

    def __call__(self, key: str, /, **context: object) -> str: ...


def catalog_words(lang: str = "vi") -> Words:
    """Words from examdesk's i18n catalogue (``examdesk/i18n/reports.toml``)."""
    catalog = Catalog.load()

    def words(key: str, /, **context: object) -> str:
        return catalog.text(key, lang, **context)

    return words


def nfc(text: str | None) -> str:
    return unicodedata.normalize("NFC", text or "")


def markup(text: str | None) -> str:
    """NFC text made safe for a reportlab Paragraph (which reads a little XML)."""
    return escape(nfc(text))


def vn_time(when: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """A UTC instant as Vietnam local time (conventions: times shown in Asia/Ho_Chi_Minh)."""
    return "—" if when is None else when.astimezone(VIETNAM).strftime(fmt)


def vn_date(day: date | None) -> str:
    return "—" if day is None else day.strftime("%d/%m/%Y")


def decimal(value: float | None, lang: str, digits: int = 2) -> str:
    """Vietnamese writes 0,31 where English writes 0.31."""
    if value is None:
        return "—"
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "vi" else text


# The words each stored value has (label() upper-cases the face outcome's lower-case values).
# The face outcomes are biometrics.FaceOutcome's names, spelled out: importing biometrics would
# load OpenCV into every report and verification.
FACE_OUTCOMES = frozenset({"MATCH", "NO_MATCH", "REVIEW"})
VERDICTS = frozenset(v.value for v in Verdict)
STATUSES = frozenset(s.value for s in RosterStatus)


def label(words: Words, family: str, value: str | None, known: frozenset[str]) -> str:
    """The words for a value we know; an unexpected one (from a newer workflow) is printed as
    it is rather than as the family's generic error text."""
    if not value:
        return "—"
    # The workflow stores biometrics' lower-case values ("no_match"), the chip's upper-case.
    key = value.upper()
    return words(f"{family}.{key}") if key in known else value


@dataclass(frozen=True)
class Styles:
    title: ParagraphStyle
    heading: ParagraphStyle
    body: ParagraphStyle
    bold: ParagraphStyle
    small: ParagraphStyle
    cell: ParagraphStyle
    cell_bold: ParagraphStyle
    cell_small: ParagraphStyle
    head_cell: ParagraphStyle


def styles(fonts: PdfFonts) -> Styles:
    r, b = fonts.regular, fonts.bold
    return Styles(
        title=ParagraphStyle("title", fontName=b, fontSize=14, leading=17, spaceAfter=4),
        heading=ParagraphStyle("heading", fontName=b, fontSize=11, leading=14, spaceBefore=6,
                               spaceAfter=4),
        body=ParagraphStyle("body", fontName=r, fontSize=9, leading=11.5),
        bold=ParagraphStyle("bold", fontName=b, fontSize=9, leading=11.5),
        small=ParagraphStyle("small", fontName=r, fontSize=7, leading=8.5, textColor=GREY),
        cell=ParagraphStyle("cell", fontName=r, fontSize=8, leading=9.6),
        cell_bold=ParagraphStyle("cell_bold", fontName=b, fontSize=8.5, leading=10),
        cell_small=ParagraphStyle("cell_small", fontName=r, fontSize=7, leading=8.4),
        head_cell=ParagraphStyle("head_cell", fontName=b, fontSize=7.5, leading=9,
                                 textColor=colors.black),
    )


def qr_drawing(payload: str, size: float) -> Drawing:
    """A QR code (reportlab's own encoder, level M) scaled to ``size`` points square."""
    widget = QrCodeWidget(payload, barLevel="M")
    x1, y1, x2, y2 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x2 - x1), 0, 0, size / (y2 - y1), 0, 0])
    drawing.add(widget)
    return drawing


@contextmanager
def binary_streams() -> Iterator[None]:
    """Write streams as binary instead of ASCII85 while a document is built.

    reportlab ASCII85-encodes every stream by default (for 7-bit mail transports of the
    1990s): +25 % size, and without its optional C accelerator the pure-Python encoder takes
    half the time of a 500-candidate roster. The switch is reportlab's process-wide setting;
    it is restored when the block ends.
    """
    previous = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = previous


# Called at the end of every page with the canvas, its number and the page count.
PageFooter = Callable[[Canvas, int, int], None]


def numbered_canvas(footer: PageFooter) -> type[Canvas]:
    """A canvas class that knows the page count when it draws each page's footer ("3/12").

    reportlab writes a page as soon as it is finished; we keep each page's state until
    ``save`` and draw the footers then (the standard two-pass-free recipe).
    """

    class _Numbered(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, 1):
                self.__dict__.update(state)
                footer(self, number, total)
                super().showPage()
            super().save()

    return _Numbered


@dataclass
class BoxPosition:
    """Where a :class:`SignatureBox` landed: 1-based page number and its rectangle in points."""

    page: int = 0
    rect: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)


class SignatureBox(Flowable):
    """An empty framed box that remembers where it was drawn, so the digital signature's
    visible appearance can be put exactly there afterwards."""

    def __init__(self, width: float, height: float, label: str, font: str) -> None:
        super().__init__()
        self.width, self.height = width, height
        self.label, self.font = label, font
        self.where = BoxPosition()

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return self.width, self.height

    def drawOn(self, canvas: Canvas, x: float, y: float, _sW: float = 0) -> None:
        self.where.page = canvas.getPageNumber()
        left = self._hAlignAdjust(x, _sW)  # where hAlign really puts it
        self.where.rect = (left, y, left + self.width, y + self.height)
        super().drawOn(canvas, x, y, _sW)

    def draw(self) -> None:
        c = self.canv
        c.saveState()
        c.setStrokeColor(RULE)
        c.setDash(3, 2)
        # Inset, so the signature's appearance (drawn over exactly this box) hides it all.
        c.rect(1, 1, self.width - 2, self.height - 2)
        c.setFillColor(GREY)
        c.setFont(self.font, 8)
        c.drawCentredString(self.width / 2, self.height / 2 - 3, self.label)
        c.restoreState()
