"""The TrueType fonts every PDF we make embeds: found on the system at run time, never shipped.

Debian packages the fonts we need (``fonts-dejavu-core``, or ``fonts-noto-core``); a copy in this
repository would be a second, unpatched one. A font without the Vietnamese letters would print
boxes instead of "Nguyễn", so a candidate font is only accepted when it has every glyph of
:data:`VIETNAMESE_SAMPLE`.

``EXAMDESK_PDF_FONT=/path/Regular.ttf[:/path/Bold.ttf]`` points at another font (other distros).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

from .errors import FontMissing

FONT_ENV = "EXAMDESK_PDF_FONT"
APT_PACKAGE = "fonts-dejavu-core"
_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
_NOTO = Path("/usr/share/fonts/truetype/noto")
DEFAULT_CANDIDATES: tuple[tuple[Path, Path], ...] = (
    (_DEJAVU / "DejaVuSans.ttf", _DEJAVU / "DejaVuSans-Bold.ttf"),  # fonts-dejavu-core
    (_NOTO / "NotoSans-Regular.ttf", _NOTO / "NotoSans-Bold.ttf"),  # fonts-noto-core
)
# Every precomposed letter Vietnamese needs, both cases (NFC text uses exactly these).
VIETNAMESE_SAMPLE = (
    "ÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝĂĐĨŨƠƯẠẢẤẦẨẪẬẮẰẲẴẶẸẺẼẾỀỂỄỆỈỊỌỎỐỒỔỖỘỚỜỞỠỢỤỦỨỪỬỮỰỲỴỶỸ"
)
VIETNAMESE_SAMPLE += VIETNAMESE_SAMPLE.lower() + "—·“”"


@dataclass(frozen=True)
class PdfFonts:
    """Names registered with reportlab, and the files (pyHanko's stamp embeds them again)."""

    regular: str
    bold: str
    regular_path: Path
    bold_path: Path


def _register(path: Path) -> str | None:
    """Register ``path`` under a name derived from it; None when it lacks Vietnamese glyphs.

    reportlab keeps registered fonts in a process-wide table (its design, not ours): the name is
    a function of the path, so registering twice is harmless and two fonts never clash.
    """
    name = "ExamdeskFont-" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    try:
        pdfmetrics.getFont(name)
        return name
    except KeyError:
        pass
    try:
        font = TTFont(name, str(path))
    except (TTFError, OSError):
        return None
    glyphs = font.face.charToGlyph
    if any(ord(ch) not in glyphs for ch in VIETNAMESE_SAMPLE):
        return None
    pdfmetrics.registerFont(font)
    return name


def _from_env() -> tuple[tuple[Path, Path], ...]:
    value = os.environ.get(FONT_ENV, "").strip()
    if not value:
        return ()
    regular, _, bold = value.partition(":")
    return ((Path(regular), Path(bold or regular)),)


def find_fonts(candidates: Sequence[tuple[Path, Path]] | None = None) -> PdfFonts:
    """The first (regular, bold) pair that exists and covers Vietnamese, registered.

    Raises :class:`FontMissing` naming the apt package to install when none does.
    """
    pairs = tuple(candidates) if candidates is not None else _from_env() + DEFAULT_CANDIDATES
    for regular_path, bold_path in pairs:
        if not regular_path.is_file():
            continue
        regular = _register(regular_path)
        if regular is None:
            continue
        bold = _register(bold_path) if bold_path.is_file() else None
        if bold is None:  # a regular face alone still prints every letter correctly
            bold, bold_path = regular, regular_path
        # <b> in a Paragraph needs to know the bold face of the family.
        pdfmetrics.registerFontFamily(regular, normal=regular, bold=bold, italic=regular,
                                      boldItalic=bold)
        return PdfFonts(regular, bold, regular_path, bold_path)
    raise FontMissing("no TrueType font with Vietnamese glyphs in "
                      + ", ".join(str(r) for r, _ in pairs),
                      package=APT_PACKAGE, searched=", ".join(str(r) for r, _ in pairs))
