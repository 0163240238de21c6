"""PAdES signatures on rosters (pyHanko), with a visible signature box.

The signature is PAdES baseline B-B (``/ETSI.CAdES.detached``, SHA-256) and a *certification*
signature that allows no changes (DocMDP P=1): the roster is a finished legal record, so any
viewer (Acrobat included) flags whatever is appended later, not only ``roster verify``.

The visible box is drawn with reportlab in the same Vietnamese font as the roster and imported
as the signature's appearance: pyHanko's own text stamps need HarfBuzz for TrueType fonts,
and its built-in Courier has no "ễ".
"""

from __future__ import annotations

import binascii
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import content
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import AxisAlignment, Margins, SimpleBoxLayoutRule
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.stamp.static import StaticStampStyle
from reportlab.pdfgen.canvas import Canvas

from .asn1names import refresh_oid_names
from .errors import NoSignatureField
from .fonts import PdfFonts, find_fonts
from .keys import LoadedKey, load_pkcs12
from .layout import Words, nfc, vn_time
from .pdfmeta import SIGNATURE_FIELD


@dataclass(frozen=True)
class Signer:
    """A loaded PKCS#12: pyHanko's signer and who it names."""

    pyhanko: signers.SimpleSigner
    certificate: x509.Certificate

    @property
    def common_name(self) -> str:
        return _attr(self.certificate.subject, NameOID.COMMON_NAME)

    @property
    def organisation(self) -> str:
        return _attr(self.certificate.subject, NameOID.ORGANIZATION_NAME)


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    found = name.get_attributes_for_oid(oid)
    return nfc(str(found[0].value)) if found else ""


def load_signer(p12: Path, password: bytes) -> Signer:
    """Open the PKCS#12 (typed errors for a wrong password or a file that is not one)."""
    loaded: LoadedKey = load_pkcs12(p12, password)
    data = p12.read_bytes()
    simple = signers.SimpleSigner.load_pkcs12_data(data, other_certs=[],
                                                   passphrase=password or None)
    return Signer(simple, loaded.certificate)


class _Appearance(content.PdfContent):
    """The first page of an in-memory PDF as the signature's appearance (pyHanko's
    ``ImportedPdfPage`` only reads files from disk)."""

    def __init__(self, pdf: bytes) -> None:
        super().__init__()
        self.pdf = pdf

    def render(self) -> bytes:
        writer = self._ensure_writer
        xobj = writer.import_page_as_xobject(PdfFileReader(io.BytesIO(self.pdf)), page_ix=0)
        name = b"/Stamp" + binascii.hexlify(uuid.uuid4().bytes)
        self.resources.xobject[name.decode("ascii")] = xobj
        x1, y1, x2, y2 = xobj.get_object()["/BBox"]
        self.box = content.BoxConstraints(width=abs(x2 - x1), height=abs(y2 - y1))
        return name + b" Do"


def appearance_pdf(signer: Signer, fonts: PdfFonts, words: Words, size: tuple[float, float],
                   signed_at: datetime, reason: str | None) -> bytes:
    """The visible box: who signed, for whom, when (Vietnam time) and why."""
    width, height = size
    out = io.BytesIO()
    c = Canvas(out, pagesize=(width, height))
    c.setFillColorRGB(1, 1, 1)
    c.rect(0, 0, width, height, stroke=0, fill=1)
    c.setStrokeColorRGB(0.1, 0.35, 0.2)
    c.setLineWidth(1.2)
    c.rect(0.6, 0.6, width - 1.2, height - 1.2)
    lines = [(fonts.bold, words("signing.stamp.title")),
             (fonts.bold, signer.common_name),
             (fonts.regular, signer.organisation),
             (fonts.regular, words("signing.stamp.time", when=vn_time(signed_at,
                                                                     "%d/%m/%Y %H:%M:%S")))]
    if reason:
        lines.append((fonts.regular, nfc(reason)))
    size_pt = min(8.5, (height - 8) / (len(lines) * 1.2))
    y = height - 4 - size_pt
    c.setFillColorRGB(0.1, 0.35, 0.2)
    for font, text in lines:
        fitted = size_pt
        while fitted > 4 and c.stringWidth(text, font, fitted) > width - 8:
            fitted -= 0.25
        c.setFont(font, fitted)
        c.drawString(4, y, text)
        y -= size_pt * 1.2
    c.showPage()
    c.save()
    return out.getvalue()


def _field_size(pdf: bytes, name: str) -> tuple[float, float]:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    for found, value, ref in fields.enumerate_sig_fields(reader):
        if found == name and value is None:
            x1, y1, x2, y2 = (float(v) for v in ref.get_object()["/Rect"])
            return abs(x2 - x1), abs(y2 - y1)
    raise NoSignatureField(f"no empty signature field {name!r}", field=name)


def sign_pdf(pdf: bytes, signer: Signer, words: Words, *, reason: str | None = None,
             location: str | None = None, fonts: PdfFonts | None = None,
             field: str = SIGNATURE_FIELD) -> bytes:
    """Sign the roster's empty signature field (PAdES B-B, certification, no changes)."""
    refresh_oid_names()
    fonts = fonts or find_fonts()
    box = _field_size(pdf, field)
    stamp = appearance_pdf(signer, fonts, words, box, datetime.now(UTC), reason)
    style = StaticStampStyle(
        background=_Appearance(stamp), border_width=0, background_opacity=1.0,
        background_layout=SimpleBoxLayoutRule(x_align=AxisAlignment.ALIGN_MID,
                                              y_align=AxisAlignment.ALIGN_MID,
                                              margins=Margins.uniform(0)))
    meta = signers.PdfSignatureMetadata(
        field_name=field, md_algorithm="sha256", subfilter=SigSeedSubFilter.PADES,
        reason=nfc(reason) or None, location=nfc(location) or None,
        name=signer.common_name or None, certify=True, docmdp_permissions=MDPPerm.NO_CHANGES)
    pdf_signer = signers.PdfSigner(meta, signer=signer.pyhanko, stamp_style=style)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    out = io.BytesIO()
    pdf_signer.sign_pdf(writer, existing_fields_only=True, output=out)
    return out.getvalue()
