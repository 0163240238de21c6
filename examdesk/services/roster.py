"""Print and sign a session's roster: the PDF of ``examdesk roster print --sign`` and of the
desk's print screen — rendered, signed (PAdES), written owner-only, and on request verified
right after signing and previewed as a small picture of page 1.

reportlab, pyHanko and Pillow load only when a roster is printed: importing this module stays
cheap for the commands that never print.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proctoring.models import Stage

if TYPE_CHECKING:
    from PIL import Image

    from proctoring.store import Store
    from reports.verify import RosterVerification

PREVIEW_DPI = 40  # page 1 on screen: an A4 page about 470 px wide
PREVIEW_TIMEOUT_S = 30


@dataclass(frozen=True)
class SigningKey:
    """The centre's PKCS#12 file and its password (never an option value: see the CLI)."""

    p12: Path
    password: bytes


@dataclass(frozen=True)
class RootFolders:
    """Where the certificates a signed roster is checked against are: the centre CAs made by
    ``examdesk keys create`` and the folder of other trusted CAs."""

    key_folder: Path
    trust_folder: Path


@dataclass(frozen=True)
class RosterRequest:
    """What to print: the session (code or id), where, in which language, and the optional
    lines of the header and the signature (empty or None: none, or the default reason)."""

    session_ref: str
    out: Path
    lang: str
    stages: tuple[Stage, ...] | None = None  # driving test: only these stages; None: all
    room: str | None = None
    reason: str | None = None
    location: str | None = None


@dataclass(frozen=True)
class PrintedRoster:
    path: Path
    session_id: uuid.UUID
    session_code: str
    pages: int
    candidates: int
    size: int  # bytes written
    content_hash: str
    signer: str | None  # the signing certificate's common name; None: not signed
    verification: RosterVerification | None = None  # when asked for and signed
    first_page: Image.Image | None = None  # when asked for and poppler is installed

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "session": self.session_code,
                "session_id": str(self.session_id), "pages": self.pages,
                "candidates": self.candidates, "bytes": self.size,
                "content_hash": self.content_hash, "signed": self.signer is not None,
                "signer": self.signer}


def print_roster(store: Store, request: RosterRequest, *, sign: SigningKey | None = None,
                 verify_with: RootFolders | None = None,
                 preview: bool = False) -> PrintedRoster:
    """Render the roster of ``request.session_ref``, sign it with ``sign``, write it owner-only
    to ``request.out`` (personal data, Decree 13/2023/ND-CP); with ``verify_with``, verify the
    signed file against those certificates and the check-ins in ``store``; with ``preview``,
    add a picture of page 1. Typed errors of reports/ and proctoring/ (a wrong password before
    any rendering, no such session, the file cannot be written, …)."""
    from reports.keys import write_private
    from reports.layout import catalog_words
    from reports.roster import RosterOptions, roster_pdf
    from reports.signing import load_signer, sign_pdf
    from reports.verify import load_trust_roots, verify_roster
    from reports.verify_text import quiet_pyhanko

    quiet_pyhanko()
    # Before the work: a wrong password should not cost a render.
    signer = load_signer(sign.p12, sign.password) if sign is not None else None
    words = catalog_words(request.lang)
    made = roster_pdf(store, request.session_ref, words,
                      stages=list(request.stages) if request.stages is not None else None,
                      options=RosterOptions(lang=request.lang, room=request.room or None))
    data = made.data
    if signer is not None:
        data = sign_pdf(data, signer, words,
                        reason=request.reason or words("signing.default_reason"),
                        location=request.location or None)
    write_private(request.out, data)
    verification = None
    if signer is not None and verify_with is not None:
        roots = load_trust_roots(key_folder=verify_with.key_folder,
                                 trust_folder=verify_with.trust_folder)
        verification = verify_roster(data, path=str(request.out), roots=roots, store=store)
    return PrintedRoster(request.out, made.session_id, made.session_code, made.pages,
                         made.candidates, len(data), made.content_hash,
                         signer.common_name if signer is not None else None, verification,
                         first_page(request.out) if preview else None)


def first_page(pdf: Path) -> Image.Image | None:
    """Page 1 as a small picture (poppler's pdftoppm, when installed); None without it."""
    from PIL import Image

    tool = shutil.which("pdftoppm")
    if tool is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "page"
        try:
            subprocess.run([tool, "-png", "-r", str(PREVIEW_DPI), "-f", "1", "-l", "1",
                            "-singlefile", str(pdf), str(target)], check=True,
                           capture_output=True, timeout=PREVIEW_TIMEOUT_S)
            with Image.open(target.with_suffix(".png")) as im:
                return im.convert("RGB")
        except (OSError, subprocess.SubprocessError):
            return None
