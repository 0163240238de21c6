"""What a roster PDF carries besides its pages: the facts it states and an empty signature field.

- ``examdesk-roster.json``, an embedded file (``/EmbeddedFiles``, Flate-compressed): exactly the
  canonical bytes whose SHA-256 is the content hash. The signature covers it like every other
  byte, and ``roster verify`` reads it from the signed revision to compare it with the database.
- the document information ``/Subject`` (``examdesk-roster/2 sha256:<hash>``: the facts'
  format) and
  ``/Keywords`` (the QR payload), for people looking at the file's properties;
- ``Signature``, an empty signature field over the box the layout left for it, so any PDF tool
  (and :func:`reports.signing.sign_pdf`) signs exactly there.

QR payload: ``examdesk-roster/1;session=<session uuid>;sha256=<64 hex>``. The QR's own format
(its version stays 1 while the facts it points to moved to format 2: what a phone app reads
from it did not change).
"""

from __future__ import annotations

import io
import re
import uuid
import zlib
from dataclasses import dataclass

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.embed import EmbeddedFileObject, FileSpec, embed_file
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.rw_common import PdfHandler
from pyhanko.pdf_utils.writer import copy_into_new_writer
from pyhanko.sign.fields import SigFieldSpec, append_signature_field

from .errors import FactsTooLarge, InvalidRosterFacts
from .facts import content_hash

FACTS_FILE = "examdesk-roster.json"
AUDIT_HEAD_FILE = "examdesk-audit-head.json"  # reports.audit_head reads it
# The facts of the largest roster (20 000 rows of ~700 bytes) are ~14 MB; a file stating more
# is no roster. The cap is applied *while* inflating: a 716 KB Flate bomb took 678 MB before.
MAX_FACTS_BYTES = 32 * 1024 * 1024
_INFLATE_STEP = 1024 * 1024
SIGNATURE_FIELD = "Signature"
QR_FORMAT = "examdesk-roster/1"
_QR = re.compile(r"examdesk-roster/1;session=([0-9a-f-]{36});sha256=([0-9a-f]{64})")


def qr_payload(session_id: uuid.UUID, digest: str) -> str:
    return f"{QR_FORMAT};session={session_id};sha256={digest}"


@dataclass(frozen=True)
class QrContent:
    session_id: uuid.UUID
    sha256: str


def parse_qr_payload(text: str) -> QrContent | None:
    match = _QR.fullmatch(text.strip())
    return None if match is None else QrContent(uuid.UUID(match[1]), match[2])


def finish_pdf(pdf: bytes, *, canonical: bytes, content_hash: str, signature_page: int,
               signature_rect: tuple[float, float, float, float],
               audit_head: bytes | None = None) -> bytes:
    """Embed the facts (and the audit-chain head, see :mod:`reports.audit_head`) and add the
    empty signature field (page index from 0).

    The file is rewritten as one revision (not an incremental update), so the document a
    signature later covers has no history an examiner would have to explain.
    """
    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(pdf), strict=False))
    data = EmbeddedFileObject.from_file_data(writer, canonical, mime_type="application/json")
    embed_file(writer, FileSpec(file_spec_string=FACTS_FILE, file_name=FACTS_FILE,
                                embedded_data=data,
                                description=f"examdesk roster facts, sha256 {content_hash}"))
    if audit_head is not None:
        head = EmbeddedFileObject.from_file_data(writer, audit_head,
                                                 mime_type="application/json")
        embed_file(writer, FileSpec(file_spec_string=AUDIT_HEAD_FILE, file_name=AUDIT_HEAD_FILE,
                                    embedded_data=head,
                                    description="examdesk audit-chain head when made"))
    x1, y1, x2, y2 = signature_rect
    append_signature_field(writer, SigFieldSpec(
        SIGNATURE_FIELD, on_page=signature_page,
        box=(round(x1), round(y1), round(x2), round(y2))))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@dataclass(frozen=True)
class EmbeddedFacts:
    """The facts a roster file states about itself, as found in one of its revisions."""

    canonical: bytes | None  # the embedded JSON; None when the file has none
    content_hash: str | None  # SHA-256 of ``canonical``
    stated_hash: str | None  # the hash in the document information (what the QR shows)
    session_id: uuid.UUID | None


def read_embedded_facts(handler: PdfHandler) -> EmbeddedFacts:
    """Read the facts from a reader, or from ``reader.get_historical_resolver(rev)`` to see
    the file as it was signed (an update appended later cannot swap them).
    :class:`~.errors.FactsTooLarge` / :class:`~.errors.InvalidRosterFacts` when the embedded
    stream inflates past :data:`MAX_FACTS_BYTES` or is encoded as examdesk never encodes it."""
    canonical = _embedded(handler, FACTS_FILE)
    stated = None
    session = None
    info = handler.trailer_view.get("/Info")
    if info is not None:
        info = info.get_object()
        qr = parse_qr_payload(str(info.get("/Keywords", "")))
        if qr is not None:
            stated, session = qr.sha256, qr.session_id
    return EmbeddedFacts(canonical, content_hash(canonical) if canonical is not None else None,
                         stated, session)


def _embedded(handler: PdfHandler, name: str) -> bytes | None:
    try:
        names = handler.root["/Names"]["/EmbeddedFiles"]["/Names"]
    except KeyError:
        return None
    items = list(names)
    for i in range(0, len(items) - 1, 2):
        if str(items[i]) != name:
            continue
        spec = items[i + 1].get_object()
        stream = spec["/EF"]["/F"].get_object()
        if isinstance(stream, generic.StreamObject):
            return _decoded(stream)
    return None


def _decoded(stream: generic.StreamObject) -> bytes:
    """The stream's bytes, inflated with a cap. Not ``stream.data``: pyHanko inflates all of
    it at once, whatever it comes to. We write the facts Flate-compressed or not at all, so
    any other filter (or a chain of them) is no roster of ours."""
    filters = stream.get("/Filter")
    if isinstance(filters, generic.ArrayObject) and len(filters) == 1:
        filters = filters[0]
    encoded = bytes(stream.encoded_data)
    if filters is None:
        if len(encoded) > MAX_FACTS_BYTES:
            raise FactsTooLarge(f"{len(encoded)} bytes", limit=MAX_FACTS_BYTES // 2**20)
        return encoded
    if filters != "/FlateDecode" or stream.get("/DecodeParms") is not None:
        raise InvalidRosterFacts(f"embedded facts encoded with {filters}")
    inflater = zlib.decompressobj()
    out = bytearray()
    try:
        pending = encoded
        while pending and not inflater.eof:
            # max_length bounds what one call may produce; what it could not is kept in
            # unconsumed_tail for the next call.
            out += inflater.decompress(pending, _INFLATE_STEP)
            pending = inflater.unconsumed_tail
            if len(out) > MAX_FACTS_BYTES:
                raise FactsTooLarge(f"more than {MAX_FACTS_BYTES} bytes inflated",
                                    limit=MAX_FACTS_BYTES // 2**20)
        out += inflater.flush()
    except zlib.error as exc:
        raise InvalidRosterFacts(f"embedded facts do not inflate: {exc}") from None
    if len(out) > MAX_FACTS_BYTES:
        raise FactsTooLarge(f"more than {MAX_FACTS_BYTES} bytes inflated",
                            limit=MAX_FACTS_BYTES // 2**20)
    return bytes(out)
