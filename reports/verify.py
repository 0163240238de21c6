"""``roster verify``: is this roster file what the centre signed, and does it match our records?

Four questions, answered separately because they fail for different reasons:

1. **valid** — the signature's cryptography holds (the signed digest matches the bytes it
   covers, and the signature value matches the signer's key);
2. **modified** — anything changed after signing: a byte inside the signed range
   (``changed``), an incremental update appended after the signature (``appended``: we
   accept none, not even a "harmless" form fill, because the roster is a finished record), or
   a file too damaged to read (``unreadable``);
3. **trusted** — the signer's certificate chains to a root we trust: the centre CAs that
   ``keys create`` wrote (``*-ca.pem`` in the key folder), the certificates in the trust folder
   (``config_dir()/pdf-trust``), and any given explicitly. The operating system's web roots are
   deliberately *not* used: a roster is not a web page;
4. **content** — the facts embedded in the *signed revision* (an appended update cannot swap
   them) hash to the value the QR code shows, and equal the facts recomputed from the local
   database (:func:`reports.facts.collect_facts`). Differences are listed field by field.
   Evidence deleted on retention after printing cannot be re-hashed: its embedded hash is
   taken and the count reported. A roster states its facts' format: one signed in format 1
   (before the reasons) is compared with the database's facts in format 1. A changed reason is
   one difference naming the reasons on each side (said in words by ``verify_text``); a reason
   key this version does not know is listed as such. Facts that are no roster's (a part
   missing, a format unknown, too many reasons, a Flate bomb: inflating stops at
   :data:`reports.pdfmeta.MAX_FACTS_BYTES`) are "not a valid roster"
   (``invalid``), never a traceback;
5. **bound** — the signer's certificate was issued *for the roster's centre*: its subject's
   organizationIdentifier ``examdesk:<code>`` (written by ``keys create``, see
   :mod:`reports.keys`) equals the facts' centre code, and no CA on the validated path names
   another centre. Without it any trusted centre's key "verified" any centre's roster.
   Certificates without the attribute (keys made before it existed, or a CA of elsewhere) are
   ``unbound``: the roster is then not ``ok`` (exit 9, like an untrusted signer) — the
   signature proves *a* trusted key signed, not that it was this centre's, and only a person
   who reads the signer's name can tell; the message says so and how to make bound keys.
   A certificate naming another centre is ``mismatch`` (exit 8: the file contradicts itself).

What "modified" covers: every byte of the file. The signature's byte range covers all but
``/Contents``; inside it, the fields of the CMS blob that no signature covers are pinned one
by one: the zero padding after the blob (validators ignore it), the certificate copies (each
must verify under an issuer found by name or key identifier, and a copy whose issuer is
unknown must not carry a known key under other bytes), and the versions, digest-algorithm
list, content type and algorithm parameters (RFC 5652 allows one value each; the encoding must
be canonical DER). Measured by flipping every byte of the blob: none passes as intact. A CMS
that names a bare ``rsaEncryption`` signature algorithm is therefore "changed": examdesk signs
with a hash-named algorithm, and allowing both spellings would leave one byte free.
"""

from __future__ import annotations

import io
import json
import math
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from asn1crypto import parser as asn1_parser
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from pyhanko.keys import load_certs_from_pemder_data
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.rw_common import PdfHandler
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from sqlmodel import col, select

from proctoring.errors import ProctoringError, SessionNotFound
from proctoring.models import Evidence, Stage
from proctoring.sessions import find_session
from proctoring.store import Store

from .asn1names import refresh_oid_names
from .errors import InvalidRosterFacts, NotAPdf
from .factcheck import parse_facts, unknown_reasons
from .facts import MAX_REASONS, canonical_bytes, collect_facts, content_hash
from .keys import CENTRE_ID_PREFIX, default_key_folder, default_trust_folder
from .pdfmeta import read_embedded_facts

MAX_DIFFERENCES = 50
# What a difference keeps of a value the file states (anyone's, so anything): text cut to this
# many characters, lists and objects to this many items, nesting to this depth. The facts may
# hold megabytes in one value; the finding says what differs, it does not paste the file.
MAX_SHOWN_TEXT = 120
MAX_SHOWN_ITEMS = MAX_REASONS  # a check-in's reasons and a row's attempts are within it
MAX_SHOWN_DEPTH = 4


class Integrity(StrEnum):
    INTACT = "intact"  # signed, nothing changed since
    CHANGED = "changed"  # bytes the signature covers, or the signature itself, changed
    APPENDED = "appended"  # an incremental update was added after signing
    UNREADABLE = "unreadable"  # the file no longer parses as a PDF
    UNSIGNED = "unsigned"


class ContentStatus(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    NO_FACTS = "no_facts"  # not an examdesk roster (no embedded facts)
    INVALID = "invalid"  # embedded facts no roster has: incomplete, not JSON, a Flate bomb
    NOT_IN_DATABASE = "not_in_database"  # the session is not in this machine's database
    UNCHECKED = "unchecked"  # no database to compare with
    ERROR = "error"  # the database could not give the facts (unreadable evidence, ...)


class SignerBinding(StrEnum):
    BOUND = "bound"  # the certificate (and its CA) were issued for the roster's centre
    MISMATCH = "mismatch"  # they name another centre
    UNBOUND = "unbound"  # they name no centre: which centre signed cannot be told
    NOT_CHECKED = "not_checked"  # unsigned, or no centre in the facts to compare with


@dataclass(frozen=True)
class SignerInfo:
    common_name: str
    organisation: str
    subject: str
    issuer: str
    serial: str
    sha256: str
    centre_code: str | None = None  # the centre the certificate was issued for, if it says
    # The issuer's own name (its common name, else its organisation): what the texts show.
    # ``issuer`` labels each attribute in English ("Common Name: …"), for --json and logs.
    issuer_name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"common_name": self.common_name, "organisation": self.organisation,
                "subject": self.subject, "issuer": self.issuer, "serial": self.serial,
                "sha256": self.sha256, "centre_code": self.centre_code,
                "issuer_name": self.issuer_name}


@dataclass(frozen=True)
class Difference:
    stage: str | None
    position: int | None
    id_number: str | None
    field: str
    pdf: Any
    database: Any

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "position": self.position, "id_number": self.id_number,
                "field": self.field, "pdf": self.pdf, "database": self.database}


@dataclass(frozen=True)
class ContentCheck:
    status: ContentStatus
    content_hash: str | None = None  # SHA-256 of the embedded facts
    stated_hash: str | None = None  # what the QR code / document information says
    session_id: uuid.UUID | None = None
    session_code: str | None = None
    centre_code: str | None = None  # the centre the facts say printed the roster
    database_hash: str | None = None
    differences: tuple[Difference, ...] = ()
    unchecked_evidence: int = 0  # deleted on retention since printing: embedded hash used
    # Rows stating a reason this version does not know: (stage, position, how many).
    unknown_reasons: tuple[tuple[str | None, int, int], ...] = ()
    detail: str = ""  # English, for logs and --json only: the texts say ``problem``
    # What is wrong, in words: a message key of the catalogue and the values it shows. Set for
    # INVALID (which part is no roster's), MISMATCH without differences (the hash the QR
    # states), NO_FACTS when the data are there but unreadable, and ERROR (the database's own
    # error, worded by its key).
    problem: str | None = None
    problem_context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status.value, "content_hash": self.content_hash,
                "stated_hash": self.stated_hash,
                "session_id": str(self.session_id) if self.session_id else None,
                "session_code": self.session_code, "centre_code": self.centre_code,
                "problem": self.problem, "problem_context": self.problem_context,
                "database_hash": self.database_hash,
                "differences": [d.to_dict() for d in self.differences],
                "unchecked_evidence": self.unchecked_evidence,
                "unknown_reasons": [list(u) for u in self.unknown_reasons],
                "detail": self.detail}


@dataclass(frozen=True)
class RosterVerification:
    path: str
    integrity: Integrity
    valid: bool  # the signature's cryptography holds
    trusted: bool
    signer: SignerInfo | None
    signing_time: datetime | None  # as the signer stated it (no timestamp authority)
    signatures: int
    content: ContentCheck
    trust_problem: str | None = None
    detail: str = ""  # English, for logs and --json only
    modification_level: str | None = None
    binding: SignerBinding = SignerBinding.NOT_CHECKED
    # What changed or broke, in words: ``verify.why.<cause>`` of the catalogue.
    integrity_problem: str | None = None

    @property
    def signed(self) -> bool:
        return self.signatures > 0

    @property
    def modified(self) -> bool:
        return self.integrity in (Integrity.CHANGED, Integrity.APPENDED, Integrity.UNREADABLE)

    @property
    def ok(self) -> bool:
        """Signed, valid, unmodified, trusted, by a key bound to the roster's centre, and not
        contradicted by the database."""
        return (self.signed and self.valid and not self.modified and self.trusted
                and self.binding is SignerBinding.BOUND
                and self.content.status not in (ContentStatus.MISMATCH, ContentStatus.NO_FACTS,
                                                ContentStatus.INVALID, ContentStatus.ERROR))

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "ok": self.ok, "signed": self.signed, "valid": self.valid,
                "modified": self.modified, "integrity": self.integrity.value,
                "modification_level": self.modification_level,
                "trusted": self.trusted, "trust_problem": self.trust_problem,
                "binding": self.binding.value,
                "signer": self.signer.to_dict() if self.signer else None,
                "signing_time": self.signing_time.isoformat() if self.signing_time else None,
                "signatures": self.signatures, "content": self.content.to_dict(),
                "integrity_problem": self.integrity_problem, "detail": self.detail}


# --- trust roots ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustRoots:
    certificates: tuple[asn1_x509.Certificate, ...]
    sources: tuple[str, ...] = field(default_factory=tuple)


def load_trust_roots(*, key_folder: Path | None = None, trust_folder: Path | None = None,
                     extra: Sequence[Path] = ()) -> TrustRoots:
    """The centre CAs made by ``keys create`` plus the trust folder plus ``extra`` files.
    Files that are not certificates are skipped (a README in the folder is no error)."""
    key_folder = key_folder if key_folder is not None else default_key_folder()
    trust_folder = trust_folder if trust_folder is not None else default_trust_folder()
    files: list[Path] = []
    if key_folder.is_dir():
        files += sorted(key_folder.glob("*-ca.pem"))
    if trust_folder.is_dir():
        files += sorted(p for p in trust_folder.iterdir()
                        if p.suffix.lower() in (".pem", ".crt", ".cer", ".der"))
    files += list(extra)
    certs: dict[bytes, asn1_x509.Certificate] = {}
    used = []
    for path in files:
        try:
            found = list(load_certs_from_pemder_data(path.read_bytes()))
        except (OSError, ValueError, TypeError):
            continue
        for cert in found:
            certs.setdefault(cert.sha256, cert)
        if found:
            used.append(str(path))
    return TrustRoots(tuple(certs.values()), tuple(used))


# --- verification ---------------------------------------------------------------------------


def verify_roster(data: bytes, *, path: str = "", roots: TrustRoots | None = None,
                  store: Store | None = None) -> RosterVerification:
    """Answer the four questions for the roster file ``data`` (``path`` only labels it)."""
    if b"%PDF-" not in data[:1024] and b"startxref" not in data[-4096:]:
        # Neither a header nor a trailer: not a PDF at all (a damaged one has one of them).
        raise NotAPdf("no %PDF- header and no trailer", path=path)
    roots = roots if roots is not None else load_trust_roots()
    refresh_oid_names()
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        reader.root  # noqa: B018  (forces the trailer and catalogue to parse)
    except Exception as exc:  # any parser failure means: damaged, which is what we report
        return RosterVerification(path, Integrity.UNREADABLE, False, False, None, None, 0,
                                  ContentCheck(ContentStatus.UNCHECKED), detail=str(exc),
                                  integrity_problem="verify.why.unreadable")
    try:
        signatures = reader.embedded_regular_signatures
    except Exception as exc:  # a signature dictionary or CMS blob that no longer parses
        return RosterVerification(path, Integrity.CHANGED, False, False, None, None, 1,
                                  ContentCheck(ContentStatus.UNCHECKED),
                                  detail=f"{type(exc).__name__}: {exc}",
                                  integrity_problem="verify.why.signature_unreadable")
    if not signatures:
        return RosterVerification(path, Integrity.UNSIGNED, False, False, None, None, 0,
                                  _content(reader, store))
    sig = signatures[-1]  # the newest covers the most
    context = ValidationContext(trust_roots=list(roots.certificates), allow_fetching=False,
                                revocation_mode="soft-fail")
    signer = None
    try:
        signer = _signer(sig.signer_cert)
        status = validate_pdf_signature(sig, context)
    except Exception as exc:  # a broken CMS blob or byte range: the signature does not hold
        return RosterVerification(path, Integrity.CHANGED, False, False, signer,
                                  _reported_time(sig), len(signatures),
                                  _content_at(reader, sig.signed_revision, store),
                                  detail=f"{type(exc).__name__}: {exc}",
                                  integrity_problem="verify.why.signature_broken")
    detail, why = "", None
    if not status.intact or not status.valid:
        integrity = Integrity.CHANGED
    elif status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        integrity = Integrity.APPENDED
    elif not _certificates_intact(sig.signed_data, roots):
        # The certificates inside the CMS are not signed by the signature itself; a copy that
        # was altered no longer verifies under its issuer.
        integrity, detail = Integrity.CHANGED, "a certificate inside the signature was altered"
        why = "verify.why.certificate_altered"
    elif not _unsigned_fields_consistent(sig.signed_data):
        integrity, detail = Integrity.CHANGED, "a field of the signature outside its signed part"
        why = "verify.why.unsigned_field"
    elif not _padding_clean(sig.pkcs7_content):
        # The room left in /Contents after the CMS blob: validators ignore it; we do not, so
        # that *every* byte of a roster is pinned.
        integrity, detail = Integrity.CHANGED, "bytes after the signature in /Contents"
        why = "verify.why.padding"
    else:
        integrity = Integrity.INTACT
    level = status.modification_level
    problem = status.trust_problem_indic
    content = _content_at(reader, sig.signed_revision, store)
    path_cas = ([] if status.validation_path is None
                else [c for c in status.validation_path.iter_certs(include_root=True)
                      if c.sha256 != status.signing_cert.sha256])
    return RosterVerification(
        path, integrity, bool(status.intact and status.valid), bool(status.trusted),
        _signer(status.signing_cert), status.signer_reported_dt, len(signatures), content,
        trust_problem=str(getattr(problem, "name", problem)) if problem is not None else None,
        detail=detail, modification_level=level.name if level is not None else None,
        binding=signer_binding(status.signing_cert, path_cas, content.centre_code),
        integrity_problem=why)


def centre_codes(cert: asn1_x509.Certificate) -> set[str]:
    """The centres a certificate was issued for (organizationIdentifier ``examdesk:<code>``)."""
    codes = set()
    for rdn in cert.subject.chosen:
        for attribute in rdn:
            if attribute["type"].native != "organization_identifier":
                continue
            value = attribute["value"].native
            if isinstance(value, str) and value.startswith(CENTRE_ID_PREFIX):
                codes.add(value[len(CENTRE_ID_PREFIX):])
    return codes


def signer_binding(signer: asn1_x509.Certificate, authorities: Sequence[asn1_x509.Certificate],
                   centre: str | None) -> SignerBinding:
    """Was ``signer`` issued for ``centre``? ``authorities``: the CAs of its validated path.

    Bound only when the signer *and* every CA name this centre (and nothing else): a CA
    naming its centre cannot lend its trust to a signer claiming another one, and a CA
    naming none (made before the attribute existed) binds nothing, since its holder could
    issue a signer for any centre.
    """
    if centre is None:
        return SignerBinding.NOT_CHECKED
    named = [centre_codes(signer), *(centre_codes(ca) for ca in authorities)]
    if any(code != centre for codes in named for code in codes):
        return SignerBinding.MISMATCH
    if not all(named):
        return SignerBinding.UNBOUND
    return SignerBinding.BOUND


def _certificates_intact(signed_data: Any, roots: TrustRoots) -> bool:
    """Every certificate embedded in the CMS verifies under an issuer we can find (embedded
    or trusted, by name or key identifier); one whose issuer is unknown cannot be judged and
    is let through."""
    try:
        embedded = [x509.load_der_x509_certificate(c.chosen.dump())
                    for c in signed_data["certificates"]]
        known = embedded + [x509.load_der_x509_certificate(c.dump())
                            for c in roots.certificates]
        for cert in embedded:
            issuers = [i for i in known if _may_have_issued(i, cert)]
            if issuers and not any(_issued_by(cert, i) for i in issuers):
                return False
            if not issuers and any(_same_key_other_bytes(cert, other) for other in known):
                # Its issuer cannot be found, yet its key is one we know under other bytes:
                # an altered copy (e.g. the CA's own, with its name changed), not a stranger.
                return False
        return True
    except Exception:  # cryptography parses lazily and raises several types when damaged
        return False


def _may_have_issued(issuer: x509.Certificate, cert: x509.Certificate) -> bool:
    """By name *or* by key identifier: a copy whose issuer name was altered still names its
    issuer's key, so it is judged (and fails) instead of passing as "issuer unknown"."""
    if issuer.subject == cert.issuer:
        return True
    try:
        wanted = cert.extensions.get_extension_for_class(
            x509.AuthorityKeyIdentifier).value.key_identifier
        have = issuer.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return False
    return wanted is not None and wanted == have


def _same_key_other_bytes(cert: x509.Certificate, other: x509.Certificate) -> bool:
    return cert != other and cert.public_key() == other.public_key()


def _unsigned_fields_consistent(signed_data: Any) -> bool:
    """The fields of the CMS that no signature covers hold the one value RFC 5652 allows.

    Validators read ``digestAlgorithms``, the versions and the algorithm parameters loosely,
    so a changed byte there leaves the signature valid; we pin each: the encoding is the
    canonical DER (a changed tag or length re-encodes differently), the versions are those
    5.1 and 5.3 derive from the structure, ``digestAlgorithms`` lists exactly the signers'
    algorithms byte for byte, the content is detached ``id-data``, and the signature
    algorithm names the same digest (examdesk signs with a hash-named algorithm).
    """
    try:
        if signed_data.copy().dump(force=True) != signed_data.dump():
            return False
        infos = list(signed_data["signer_infos"])
        listed = sorted(a.dump() for a in signed_data["digest_algorithms"])
        used = sorted({si["digest_algorithm"].dump() for si in infos})
        encap = signed_data["encap_content_info"]
        versions_ok = signed_data["version"].native == "v1" and all(
            si["version"].native == "v1" and si["sid"].name == "issuer_and_serial_number"
            for si in infos)
        digests_ok = all(si["signature_algorithm"].hash_algo
                         == si["digest_algorithm"]["algorithm"].native for si in infos)
    except (ValueError, KeyError, TypeError):
        return False
    return (bool(infos) and versions_ok and digests_ok and listed == used
            and encap["content_type"].dotted == "1.2.840.113549.1.7.1"  # id-data
            and encap["content"].native is None)


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False


def _padding_clean(contents: bytes) -> bool:
    """The DER signature must be followed by zero bytes only."""
    try:
        _, _, _, header, body, trailer = asn1_parser.parse(contents)
    except ValueError:
        return False
    used = len(header) + len(body) + len(trailer)
    return not contents[used:].strip(b"\x00")


def _reported_time(sig: Any) -> datetime | None:
    try:
        when: datetime | None = sig.self_reported_timestamp
        return when
    except Exception:  # the signature dictionary itself is damaged
        return None


def _signer(cert: asn1_x509.Certificate) -> SignerInfo:
    subject = cert.subject.native
    issuer = cert.issuer.native
    codes = sorted(centre_codes(cert))
    return SignerInfo(str(subject.get("common_name", "")),
                      str(subject.get("organization_name", "")),
                      cert.subject.human_friendly, cert.issuer.human_friendly,
                      format(cert.serial_number, "x"), cert.sha256.hex(),
                      ", ".join(codes) or None,
                      str(issuer.get("common_name") or issuer.get("organization_name") or ""))


def _content_at(reader: PdfFileReader, revision: int, store: Store | None) -> ContentCheck:
    try:
        handler: PdfHandler = reader.get_historical_resolver(revision)
    except Exception as exc:  # the signed revision's cross-references do not parse
        return ContentCheck(ContentStatus.NO_FACTS, detail=f"{type(exc).__name__}: {exc}",
                            problem="verify.problem.revision_unreadable")
    return _content(handler, store)


def _content(handler: PdfHandler, store: Store | None) -> ContentCheck:
    try:
        embedded = read_embedded_facts(handler)
    except InvalidRosterFacts as exc:  # a Flate bomb, a filter we never write
        return ContentCheck(ContentStatus.INVALID, detail=exc.detail, problem=exc.key,
                            problem_context=dict(exc.context))
    except Exception as exc:  # a damaged name tree or stream: no facts we can rely on
        return ContentCheck(ContentStatus.NO_FACTS, detail=f"{type(exc).__name__}: {exc}",
                            problem="verify.problem.facts_unreadable")
    if embedded.canonical is None:
        # A QR hash with no data to hash: the data were taken out of a roster.
        return ContentCheck(ContentStatus.NO_FACTS, stated_hash=embedded.stated_hash,
                            problem="verify.problem.facts_removed" if embedded.stated_hash
                            else None)
    base = ContentCheck(ContentStatus.UNCHECKED, embedded.content_hash, embedded.stated_hash,
                        embedded.session_id)
    if embedded.stated_hash != embedded.content_hash:
        # Both hashes are 64 hex digits (the QR's is read by a pattern): shown shortened.
        return _replace(base, status=ContentStatus.MISMATCH,
                        detail="the embedded facts do not hash to the value the QR code shows",
                        problem="verify.problem.hash_differs" if embedded.stated_hash
                        else "verify.problem.no_hash",
                        problem_context={"computed": (embedded.content_hash or "")[:16],
                                         "stated": (embedded.stated_hash or "")[:16]})
    try:
        document = parse_facts(embedded.canonical)
    except InvalidRosterFacts as exc:  # hashed right, but no roster's facts: say it in words
        return _replace(base, status=ContentStatus.INVALID, detail=exc.detail, problem=exc.key,
                        problem_context=dict(exc.context))
    session_id = uuid.UUID(document["session"]["id"])
    code = str(document["session"]["code"])
    stages = [Stage(s["stage"]) for s in document["sections"] if s["stage"]]
    base = _replace(base, session_id=session_id, session_code=code,
                    centre_code=document["centre"]["code"],
                    unknown_reasons=tuple(unknown_reasons(document)))
    if store is None:
        return base
    try:
        with store.read() as tx:
            held = find_session(tx, str(session_id)).stage_list
        # A section for a stage this driving test does not have is a difference (the file
        # states a part the database has not), not a failure to read the database.
        stages = [s for s in stages if s in held]
        facts = collect_facts(store, str(session_id), stages=stages or None)
        current = json.loads(facts.canonical(document["format"]))
        unchecked = _substitute_purged(store, current, document)
    except SessionNotFound:
        return _replace(base, status=ContentStatus.NOT_IN_DATABASE)
    except ProctoringError as exc:  # its key words the cause (undecryptable evidence, ...)
        return _replace(base, status=ContentStatus.ERROR, detail=f"{exc.key}: {exc.detail}",
                        problem=exc.key, problem_context={**exc.context, "detail": exc.detail})
    db_hash = content_hash(canonical_bytes(current))
    if db_hash == embedded.content_hash:
        return _replace(base, status=ContentStatus.MATCH, database_hash=db_hash,
                        unchecked_evidence=unchecked)
    return _replace(base, status=ContentStatus.MISMATCH, database_hash=db_hash,
                    unchecked_evidence=unchecked,
                    differences=tuple(bounded_difference(d) for d in
                                      differences(document, current)[:MAX_DIFFERENCES]))


def _replace(check: ContentCheck, **changes: Any) -> ContentCheck:
    return replace(check, **changes)


def _substitute_purged(store: Store, current: dict[str, Any], printed: dict[str, Any]) -> int:
    """Evidence purged since printing has no bytes left to hash: when the database still knows
    the same evidence id and marks it purged, take the printed hash. Returns how many."""
    pending: list[tuple[dict[str, Any], str]] = []
    printed_rows = {(s["stage"], r["position"]): r for s in printed.get("sections", [])
                    for r in s.get("rows", [])}
    for section in current["sections"]:
        for row in section["rows"]:
            was = printed_rows.get((section["stage"], row["position"]))
            now_c, was_c = row.get("checkin"), (was or {}).get("checkin")
            if not now_c or not was_c:
                continue
            for which in ("portrait", "frame"):
                ref, old = now_c.get(which), was_c.get(which)
                if ref and old and ref["sha256"] is None and old["sha256"] \
                        and ref["id"] == old["id"]:
                    pending.append((ref, old["sha256"]))
    if not pending:
        return 0
    ids = [uuid.UUID(ref["id"]) for ref, _ in pending]
    with store.read() as tx:
        purged = {e.id for e in tx.exec(select(Evidence).where(col(Evidence.id).in_(ids))
                                        .where(col(Evidence.purged_at).is_not(None))).all()}
    count = 0
    for ref, digest in pending:
        if uuid.UUID(ref["id"]) in purged:
            ref["sha256"] = digest
            count += 1
    return count


def differences(printed: dict[str, Any], current: dict[str, Any]) -> list[Difference]:
    """Field-by-field differences between the printed facts and the database's."""
    out: list[Difference] = []
    for part in ("centre", "session"):
        for key, a, b in _diff_flat(printed.get(part, {}), current.get(part, {})):
            out.append(Difference(None, None, None, f"{part}.{key}", a, b))
    old_sections = {s["stage"]: s for s in printed.get("sections", [])}
    new_sections = {s["stage"]: s for s in current.get("sections", [])}
    for stage in list(dict.fromkeys([*old_sections, *new_sections])):
        a_sec, b_sec = old_sections.get(stage), new_sections.get(stage)
        if a_sec is None or b_sec is None:
            out.append(Difference(stage, None, None, "section", a_sec is not None,
                                  b_sec is not None))
            continue
        for key, a, b in _diff_flat({"totals": a_sec["totals"],
                                     "invigilators": a_sec["invigilators"]},
                                    {"totals": b_sec["totals"],
                                     "invigilators": b_sec["invigilators"]}):
            out.append(Difference(stage, None, None, key, a, b))
        a_rows = {r["position"]: r for r in a_sec["rows"]}
        b_rows = {r["position"]: r for r in b_sec["rows"]}
        for pos in sorted(set(a_rows) | set(b_rows)):
            ra, rb = a_rows.get(pos), b_rows.get(pos)
            ident = (ra or rb or {}).get("id_number")
            if ra is None or rb is None:
                out.append(Difference(stage, pos, ident, "row", ra is not None, rb is not None))
                continue
            if (ra.get("checkin") is None) != (rb.get("checkin") is None):
                # A check-in on one side only: one difference, not one per part of it.
                out.append(Difference(stage, pos, ident, "checkin", ra.get("checkin"),
                                      rb.get("checkin")))
                ra = {k: v for k, v in ra.items() if k != "checkin"}
                rb = {k: v for k, v in rb.items() if k != "checkin"}
            ra, rb = _reasons_apart(ra), _reasons_apart(rb)
            if ra["reasons"] != rb["reasons"]:
                # One difference for the check-in's reasons, each side as stated (words come
                # in verify_text): not one per index of a shifted list.
                out.append(Difference(stage, pos, ident, "checkin.reasons", ra["reasons"],
                                      rb["reasons"]))
            for key, a, b in _diff_flat(ra["row"], rb["row"]):
                out.append(Difference(stage, pos, ident, key, a, b))
    return out


def _reasons_apart(row: dict[str, Any]) -> dict[str, Any]:
    """The row without its check-in's reasons, and those reasons (None: none stated)."""
    checkin = row.get("checkin")
    if not isinstance(checkin, dict) or "reasons" not in checkin:
        return {"row": row, "reasons": None}
    rest = {k: v for k, v in checkin.items() if k != "reasons"}
    return {"row": {**row, "checkin": rest}, "reasons": checkin["reasons"]}


def _flat(value: Any, prefix: str = "", depth: int = 0) -> dict[str, Any]:
    # No roster nests objects deeper than a row's check-in's picture; a file nesting hundreds
    # of levels (JSON allows it) is compared as the object it is there, not recursed into.
    if isinstance(value, dict) and depth < MAX_SHOWN_DEPTH:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k), depth + 1))
        return out
    return {prefix: value}


def bounded_difference(d: Difference) -> Difference:
    """The difference as it may be shown: each value the file states cut to a size a line
    can hold and stripped of control characters (see :func:`bounded`)."""
    return Difference(d.stage, d.position, bounded(d.id_number), bounded(d.field),
                      bounded(d.pdf), bounded(d.database))


def bounded(value: Any, depth: int = 0) -> Any:
    """``value`` with its text cut to :data:`MAX_SHOWN_TEXT` characters (an ellipsis marks
    the cut), lists and objects to :data:`MAX_SHOWN_ITEMS` items and :data:`MAX_SHOWN_DEPTH`
    levels (deeper: ``"…"``), and characters that would steer a terminal or reorder the line
    (controls, bidirectional overrides, separators) replaced by U+FFFD. Numbers beyond
    twenty digits become their first digits as text."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, float):  # NaN and infinities (Python's JSON reads them): as text
        return value if math.isfinite(value) else str(value)
    if isinstance(value, int):
        return value if abs(value) < 10**20 else _cut(str(value))
    if isinstance(value, str):
        return _cut(value)
    if depth >= MAX_SHOWN_DEPTH:
        return "…"
    if isinstance(value, dict):
        items = list(value.items())
        out = {_cut(str(k)): bounded(v, depth + 1) for k, v in items[:MAX_SHOWN_ITEMS]}
        if len(items) > MAX_SHOWN_ITEMS:
            out["…"] = "…"
        return out
    if isinstance(value, list | tuple):
        shown = [bounded(v, depth + 1) for v in value[:MAX_SHOWN_ITEMS]]
        return [*shown, "…"] if len(value) > MAX_SHOWN_ITEMS else shown
    return _cut(str(value))


def _cut(text: str) -> str:
    head = text[:MAX_SHOWN_TEXT]
    clean = "".join("\ufffd" if unicodedata.category(c)[0] == "C" or c in "\u2028\u2029"
                    else c for c in head)
    return clean + "…" if len(text) > MAX_SHOWN_TEXT else clean


def _diff_flat(a: dict[str, Any], b: dict[str, Any]) -> Iterable[tuple[str, Any, Any]]:
    fa, fb = _flat(a), _flat(b)
    for key in sorted(set(fa) | set(fb)):
        if fa.get(key) != fb.get(key):
            yield key, fa.get(key), fb.get(key)
