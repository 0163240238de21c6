"""The audit-chain head a roster PDF carries: a witness of the log outside the database.

When a roster is made for signing, the head of its centre's audit chain (seq and hash) goes into
the file as a second embedded file, ``examdesk-audit-head.json``, under the same signature as
the roster itself. Later, ``roster verify`` checks that this event is still in the chain with
that hash: a log cut back below it, or replaced wholesale by another copy, no longer has it.
A printed and signed roster thus remembers how far the log went, wherever the file is kept.
It does not notice events removed *after* the roster was made (the district does, see
``audit verify --district``).
"""

from __future__ import annotations

import io
import json
import uuid
import zlib
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.rw_common import PdfHandler
from sqlmodel import select

from proctoring.audit import canonical_json
from proctoring.audit_witness import Witness, head_now, in_chain
from proctoring.models import ExamSession
from proctoring.store import Store

from .pdfmeta import AUDIT_HEAD_FILE as HEAD_FILE

FORMAT = "examdesk-audit-head/1"
_MAX_BYTES = 4096  # the document is ~200 bytes: never inflate more than this


class HeadStatus(Enum):
    IN_CHAIN = "in_chain"  # the event the roster saw is still there
    MISSING = "missing"  # it is not: the log was cut back or replaced since
    ABSENT = "absent"  # the file carries no head (made by an older release)
    UNCHECKED = "unchecked"  # no database here (or another centre's)


@dataclass(frozen=True)
class HeadCheck:
    status: HeadStatus
    witness: Witness | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status.value,
                "head": self.witness.to_dict() if self.witness else None}


def head_document(store: Store, session_id: uuid.UUID) -> bytes:
    """The head of the session's centre's chain now, as the bytes to embed."""
    with store.read() as tx:
        centre_id = tx.exec(select(ExamSession.centre_id)
                            .where(ExamSession.id == session_id)).one()
        seq, digest = head_now(tx, centre_id)
    return canonical_json({"format": FORMAT, "centre_id": centre_id, "seq": seq,
                           "hash": digest}).encode("utf-8")


def read_head(data: bytes) -> Witness | None:
    """The head embedded in the revision the newest signature covers (the whole file when
    unsigned); None when there is none or it does not parse."""
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = reader.embedded_regular_signatures
        handler: PdfHandler = (reader.get_historical_resolver(signatures[-1].signed_revision)
                               if signatures else reader)
        raw = _embedded(handler, HEAD_FILE)
    except Exception:  # a damaged file: verify_roster reports that; here there is no head
        return None
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
        if doc.get("format") != FORMAT:
            return None
        seq, digest = int(doc["seq"]), str(doc["hash"])
        if seq < 0 or len(digest) != 64:
            return None
        return Witness(uuid.UUID(str(doc["centre_id"])), seq, digest, "roster")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def check_head(store: Store | None, data: bytes) -> HeadCheck:
    witness = read_head(data)
    if witness is None:
        return HeadCheck(HeadStatus.ABSENT)
    if store is None:
        return HeadCheck(HeadStatus.UNCHECKED, witness)
    from proctoring.models import Centre

    with store.read() as tx:
        if tx.get(Centre, witness.centre_id) is None:
            return HeadCheck(HeadStatus.UNCHECKED, witness)
        found = in_chain(tx, witness)
    return HeadCheck(HeadStatus.IN_CHAIN if found else HeadStatus.MISSING, witness)


def _embedded(handler: PdfHandler, name: str) -> bytes | None:
    """One embedded file's bytes, inflated to at most ``_MAX_BYTES`` (a hostile file may hold a
    compression bomb under this name)."""
    try:
        items = list(handler.root["/Names"]["/EmbeddedFiles"]["/Names"])
    except KeyError:
        return None
    for i in range(0, len(items) - 1, 2):
        if str(items[i]) != name:
            continue
        stream = items[i + 1].get_object()["/EF"]["/F"].get_object()
        if not isinstance(stream, generic.StreamObject):
            return None
        encoded = bytes(stream.encoded_data)
        filters = stream.get("/Filter")
        names = ([str(f) for f in filters] if isinstance(filters, generic.ArrayObject)
                 else [str(filters)] if filters is not None else [])
        if names == ["/FlateDecode"]:
            inflater = zlib.decompressobj()
            out = inflater.decompress(encoded[: _MAX_BYTES * 64], _MAX_BYTES + 1)
        elif not names:
            out = encoded[: _MAX_BYTES + 1]
        else:
            return None
        return None if len(out) > _MAX_BYTES else out
    return None
