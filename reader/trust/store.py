"""The CSCA trust store: a folder of the certificates, master lists and CRLs a centre imported.

Files, recognised by their content (PEM or DER), looked at when their name ends in:

- ``.pem .crt .cer .der`` — CSCA certificates, one or many per PEM file (CRL PEM blocks too);
- ``.ml`` — CSCA master lists (ICAO 9303-12 §9): CMS SignedData whose eContentType is
  id-icao-cscaMasterList (2.23.136.1.1.2) and whose content is
  ``CscaMasterList ::= SEQUENCE { version INTEGER, certList SET OF Certificate }``;
- ``.crl`` — certificate revocation lists of CSCAs, DER or PEM.

Policy, where the standard leaves room:

- **Importing is the trust decision.** A certificate file's CSCAs are trust anchors because the
  operator put them here. A certificate whose basicConstraints say it is not a CA (or whose
  keyUsage forbids signing certificates) is refused; a self-signed one must verify under its own
  key (an unsupported algorithm is recorded, not fatal). CSCA link certificates are anchors too.
- **Master lists**: the list's own signature (contentType, messageDigest, signature by the
  master-list signer certificate carried inside it) must verify, otherwise the whole list is
  ignored. We then record whether that signer chains to a CSCA imported directly
  (``trusted_csca``), only to a CSCA inside the same list (``csca_in_list``) or to nothing we
  know (``unknown``). Either way the list's CSCAs become anchors *labelled with the list's file
  name*, so a result names "CSCA X from master list Y" and a policy may weigh that differently.
  Integrity without a trusted signer proves nothing against a substituted list, which is why the
  label and the chain status are kept rather than silently upgrading the list.
- **CRLs** are used only after their signature verifies under a CSCA of the store with the CRL's
  issuer name (and key identifier when both carry one). A CRL with a critical extension we do not
  understand (delta CRLs, …) is ignored. An out-of-date CRL still proves the revocations it
  lists; passive authentication notes its age.
- Identical certificates (same SHA-256) are kept once; a file imported directly wins over a
  master list.

Nothing read from a file raises out of :meth:`TrustStore.load`: broken files are listed in
``problems`` with a message key and skipped.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from asn1crypto import core, crl, x509

from examdesk.i18n import Words, system_error
from reader.errors import MalformedData, ReaderError

from .certificates import (
    Certificate,
    CertificateSummary,
    as_utc,
    name_text,
    parse_certificate,
)
from .signatures import (
    SIGNATURE_INVALID,
    UNSUPPORTED_ALGORITHM,
    Verification,
    error_text,
    verify_signature,
)
from .signed_data import SignedData, parse_signed_data, verify_signer

CERTIFICATE_SUFFIXES = (".pem", ".crt", ".cer", ".der")
MASTER_LIST_SUFFIX = ".ml"
CRL_SUFFIX = ".crl"
SUFFIXES = (*CERTIFICATE_SUFFIXES, MASTER_LIST_SUFFIX, CRL_SUFFIX)
MASTER_LIST_OID = "2.23.136.1.1.2"  # id-icao-cscaMasterList
MAX_FILE_BYTES = 32 * 1024 * 1024  # the German master list is about 1 MB

Kind = Literal["certificate", "master_list", "crl"]
SignerChain = Literal["trusted_csca", "csca_in_list", "unknown"]

_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
_PEM_KINDS: dict[bytes, Kind] = {
    b"CERTIFICATE": "certificate",
    b"X509 CERTIFICATE": "certificate",
    b"TRUSTED CERTIFICATE": "certificate",
    b"X509 CRL": "crl",
    b"CMS": "master_list",
    b"PKCS7": "master_list",
}
_CRL_CRITICAL_OK = {"crl_number", "authority_key_identifier", "issuer_alt_name"}


# --- errors ------------------------------------------------------------------------------------


class TrustImportRefused(ReaderError):
    """The file holds no certificate, master list or CRL the store could use."""

    key = "trust.import_unusable"


# The problems a refused import names in words (``cause``: trust.import_cause.*), not in the
# parsers' English; any other cause shows the English detail in the English text only.
_WORDED_REFUSALS = frozenset({"trust.file_unusable", "trust.crl_issuer_unknown",
                              "trust.crl_unusable", "trust.not_a_csca",
                              "trust.master_list_invalid"})


def _cause(name: str) -> Words:
    return Words(f"trust.import_cause.{name}")


class TrustNameTaken(ReaderError):
    """A different file with the same name is already in the trust store."""

    key = "trust.import_name_taken"


class TrustFileUnreadable(ReaderError):
    """The file to import cannot be read."""

    key = "trust.import_unreadable"


class TrustStoreHasNoFolder(TrustFileUnreadable):
    """A trust store made in memory (no folder) cannot take a file."""

    key = "trust.no_folder"


class TrustEntryNotFound(ReaderError):
    """No file of that name in the trust store."""

    key = "trust.remove_not_found"


# --- ASN.1 -------------------------------------------------------------------------------------


class _CertificateSet(core.SetOf):
    _child_spec = x509.Certificate


class CscaMasterList(core.Sequence):
    _fields = [  # noqa: RUF012 - asn1crypto's schema convention
        ("version", core.Integer),
        ("cert_list", _CertificateSet),
    ]


# --- what the store holds ----------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """A CSCA certificate the store trusts, and where it came from."""

    certificate: Certificate
    source: str  # file name in the store
    master_list: str | None = None  # the master list file, when the CSCA came from one

    @property
    def origin(self) -> Literal["certificate", "master_list"]:
        return "certificate" if self.master_list is None else "master_list"

    def entry(self) -> StoreEntry:
        c = self.certificate
        return StoreEntry(
            subject=c.subject, country=c.country, serial=f"{c.serial:X}",
            key=c.key_description, not_before=c.not_before, not_after=c.not_after,
            source=self.source, origin=self.origin, fingerprint_sha256=c.fingerprint,
            self_signed=c.self_issued,
        )


@dataclass(frozen=True)
class StoreEntry:
    """One CSCA, as ``examdesk trust list`` shows it."""

    subject: str
    country: str | None
    serial: str
    key: str
    not_before: datetime
    not_after: datetime
    source: str
    origin: Literal["certificate", "master_list"]
    fingerprint_sha256: str
    self_signed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "country": self.country,
            "serial": self.serial,
            "key": self.key,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "source": self.source,
            "origin": self.origin,
            "fingerprint_sha256": self.fingerprint_sha256,
            "self_signed": self.self_signed,
        }


@dataclass(frozen=True)
class MasterListInfo:
    source: str
    signer: CertificateSummary
    signer_chain: SignerChain
    signer_issuer: str | None  # the CSCA the signer chains to, when one does
    certificates: int  # CSCAs the list carries (usable ones)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "signer": self.signer.to_dict(),
            "signer_chain": self.signer_chain,
            "signer_issuer": self.signer_issuer,
            "certificates": self.certificates,
        }


@dataclass(frozen=True)
class Crl:
    """A CRL whose signature verified under a CSCA of the store."""

    source: str
    issuer: str
    issuer_id: str
    this_update: datetime
    next_update: datetime | None
    revoked: Mapping[int, datetime | None]  # serial → revocation date
    verified_by: str  # SHA-256 fingerprint of the CSCA whose key verified it
    fingerprint_sha256: str

    def stale_at(self, when: datetime) -> bool:
        return self.next_update is not None and self.next_update < when

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "issuer": self.issuer,
            "this_update": self.this_update.isoformat(),
            "next_update": self.next_update.isoformat() if self.next_update else None,
            "revoked": len(self.revoked),
            "verified_by": self.verified_by,
            "fingerprint_sha256": self.fingerprint_sha256,
        }


@dataclass(frozen=True)
class StoreProblem:
    """Something in a file the store could not use; ``reason`` is a message key."""

    source: str
    reason: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "reason": self.reason, "detail": self.detail}


@dataclass(frozen=True)
class ImportResult:
    name: str  # the file's name in the store
    path: Path
    added: tuple[StoreEntry, ...]  # CSCAs new to the store
    crls: tuple[Crl, ...]
    master_list: MasterListInfo | None
    problems: tuple[StoreProblem, ...]
    already_present: bool  # everything in the file was in the store already: nothing copied

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "already_present": self.already_present,
            "added": [e.to_dict() for e in self.added],
            "crls": [c.to_dict() for c in self.crls],
            "master_list": self.master_list.to_dict() if self.master_list else None,
            "problems": [p.to_dict() for p in self.problems],
        }


# --- reading files -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedCrl:
    """A CRL read but not yet verified (see :class:`Crl` for one the store uses)."""

    tbs: bytes
    signature_algorithm: bytes
    signature: bytes
    issuer: str
    issuer_id: str
    authority_key_identifier: bytes | None
    this_update: datetime
    next_update: datetime | None
    revoked: dict[int, datetime | None]
    fingerprint: str


def parse_crl(der: bytes) -> ParsedCrl:
    """DER CertificateList → plain values; :class:`~reader.errors.MalformedData` otherwise."""
    try:
        parsed = crl.CertificateList.load(der, strict=True)
        tbs = parsed["tbs_cert_list"]
        critical = set(parsed.critical_extensions) - _CRL_CRITICAL_OK
        if critical:
            raise MalformedData(f"CRL: critical extension(s) not supported: {sorted(critical)}")
        revoked: dict[int, datetime | None] = {}
        if tbs["revoked_certificates"].native is not None:
            for item in tbs["revoked_certificates"]:
                serial = item["user_certificate"].native
                if not isinstance(serial, int):
                    raise MalformedData("CRL: revoked entry without a serial number")
                revoked[serial] = as_utc(item["revocation_date"].native, "revocationDate")
        aki = parsed.authority_key_identifier
        signature = parsed["signature"].native
        if not isinstance(signature, bytes):
            raise MalformedData("CRL: no signature")
        next_update = tbs["next_update"].native
        return ParsedCrl(
            tbs=tbs.dump(),
            signature_algorithm=parsed["signature_algorithm"].dump(),
            signature=signature,
            issuer=name_text(tbs["issuer"]),
            issuer_id=tbs["issuer"].hashable,
            authority_key_identifier=aki if isinstance(aki, bytes) else None,
            this_update=as_utc(tbs["this_update"].native, "thisUpdate"),
            next_update=as_utc(next_update, "nextUpdate") if next_update is not None else None,
            revoked=revoked,
            fingerprint=hashlib.sha256(der).hexdigest(),
        )
    except ReaderError as exc:
        raise MalformedData(exc.detail) from exc
    except Exception as exc:
        raise MalformedData(f"CRL: {error_text(exc)}") from exc


def _pem_blocks(data: bytes) -> list[tuple[Kind | None, bytes, bytes]]:
    """(kind, DER, label) per PEM block; kind None for labels we do not use."""
    out: list[tuple[Kind | None, bytes, bytes]] = []
    for m in _PEM.finditer(data):
        label = m.group(1).strip()
        body = b"".join(line.strip() for line in m.group(2).splitlines()
                        if b":" not in line)  # drop RFC 1421 headers
        try:
            der = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            text = label.decode("ascii", "replace")
            raise MalformedData(f"PEM block {text}: {error_text(exc)}") from exc
        out.append((_PEM_KINDS.get(label), der, label))
    return out


def _looks_like_content_info(der: bytes) -> bool:
    try:
        value = core.Sequence.load(der, strict=True)
        first = value[0] if len(value) else None
        return isinstance(first, core.Asn1Value) and first.tag == 6 and first.class_ == 0
    except Exception:
        return False


def _classify(name: str, data: bytes) -> list[tuple[Kind, bytes]]:
    """The objects a file holds, by content; raises MalformedData when it holds none."""
    if b"-----BEGIN" in data:
        blocks = _pem_blocks(data)
        items = [(kind, der) for kind, der, _ in blocks if kind is not None]
        if not items:
            labels = ", ".join(label.decode("ascii", "replace") for _, _, label in blocks)
            raise MalformedData(f"no certificate, CRL or CMS PEM block ({labels or 'none'})")
        return items
    if _looks_like_content_info(data):
        return [("master_list", data)]
    order: list[Kind] = ["crl", "certificate"] if name.lower().endswith(CRL_SUFFIX) else [
        "certificate", "crl"]
    errors = []
    for kind in order:
        try:
            if kind == "certificate":
                parse_certificate(data)
            else:
                parse_crl(data)
            return [(kind, data)]
        except MalformedData as exc:
            errors.append(exc.detail)
    raise MalformedData("not a certificate, CRL or master list (" + "; ".join(errors) + ")")


def parse_master_list(data: bytes) -> tuple[SignedData, list[bytes]]:
    """A master list file → its SignedData and the certificates' DER in its CscaMasterList."""
    sd = parse_signed_data(data, what="master list", content_type=MASTER_LIST_OID)
    try:
        ml = CscaMasterList.load(sd.content, strict=True)
        version = ml["version"].native
        certs = [c.dump() for c in ml["cert_list"]]
    except Exception as exc:
        raise MalformedData(f"CscaMasterList: {error_text(exc)}") from exc
    if version != 0:
        raise MalformedData(f"CscaMasterList: version {version}, expected v0")
    return sd, certs


# --- the store ---------------------------------------------------------------------------------


@dataclass
class _Contents:
    anchors: list[Anchor] = field(default_factory=list)
    crls: list[Crl] = field(default_factory=list)
    master_lists: list[MasterListInfo] = field(default_factory=list)
    problems: list[StoreProblem] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (source, fingerprint)


class TrustStore:
    """CSCAs, master lists and CRLs, read from a folder (or from bytes, for tests)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self._contents = _Contents()

    # construction

    @classmethod
    def load(cls, folder: Path | str) -> TrustStore:
        """Read every recognised file of ``folder``; a missing folder is an empty store."""
        store = cls(Path(folder))
        store.reload()
        return store

    @classmethod
    def from_files(cls, files: Mapping[str, bytes]) -> TrustStore:
        """A store over in-memory files ``{name: bytes}``, processed as a folder would be."""
        store = cls(None)
        store._contents = _build(list(files.items()))
        return store

    def reload(self) -> None:
        files, problems = self._read_folder()
        contents = _build(files)
        contents.problems[:0] = problems
        self._contents = contents

    def _read_folder(self) -> tuple[list[tuple[str, bytes]], list[StoreProblem]]:
        out: list[tuple[str, bytes]] = []
        problems: list[StoreProblem] = []
        if self.folder is None or not self.folder.is_dir():
            return out, problems
        for path in sorted(self.folder.iterdir()):
            if path.name.startswith(".") or path.suffix.lower() not in SUFFIXES:
                continue
            if not path.is_file():
                continue
            try:
                out.append((path.name, path.read_bytes()))
            except OSError as exc:
                problems.append(StoreProblem(path.name, "trust.folder_file_unreadable",
                                             str(exc)))
        return out, problems

    # what is in it

    @property
    def anchors(self) -> tuple[Anchor, ...]:
        return tuple(self._contents.anchors)

    @property
    def crls(self) -> tuple[Crl, ...]:
        return tuple(self._contents.crls)

    @property
    def master_lists(self) -> tuple[MasterListInfo, ...]:
        return tuple(self._contents.master_lists)

    @property
    def problems(self) -> tuple[StoreProblem, ...]:
        return tuple(self._contents.problems)

    def entries(self) -> list[StoreEntry]:
        """The CSCAs, by country then subject."""
        return sorted((a.entry() for a in self._contents.anchors),
                      key=lambda e: (e.country or "", e.subject, e.serial))

    def issuers_named(self, name_id: str) -> list[Anchor]:
        """CSCAs whose subject is ``name_id`` (a canonical name, ``Certificate.issuer_id``)."""
        return [a for a in self._contents.anchors if a.certificate.subject_id == name_id]

    def crls_for(self, issuer_id: str) -> list[Crl]:
        return [c for c in self._contents.crls if c.issuer_id == issuer_id]

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder) if self.folder else None,
            "cscas": [e.to_dict() for e in self.entries()],
            "master_lists": [m.to_dict() for m in self.master_lists],
            "crls": [c.to_dict() for c in self.crls],
            "problems": [p.to_dict() for p in self.problems],
        }

    # changing the folder

    def import_file(self, path: Path | str) -> ImportResult:
        """Check ``path`` and copy it into the store folder under its own name, atomically.

        Refuses (typed errors, exit code 2 in the CLI) a file with nothing usable, and a
        different file under a name already taken. A file whose every object is already in the
        store is not copied (``already_present``). A name without a recognised suffix gets the
        one its content calls for (``list.bin`` → ``list.bin.ml``).
        """
        if self.folder is None:
            raise TrustStoreHasNoFolder("this trust store has no folder")
        source = Path(path)
        try:
            if source.stat().st_size > MAX_FILE_BYTES:
                raise TrustImportRefused(f"larger than {MAX_FILE_BYTES} bytes",
                                         cause=_cause("too_large"), file=source.name,
                                         limit=MAX_FILE_BYTES // 1024)
            data = source.read_bytes()
        except OSError as exc:
            raise TrustFileUnreadable(system_error(exc), file=str(source)) from exc
        name = _store_name(source.name, data)
        dest = self.folder / name
        existing, _ = self._read_folder()
        same = next((d for n, d in existing if n == name), None)
        if same is not None and same != data:
            raise TrustNameTaken(f"{name} is already in the trust store with other content",
                                 file=name)
        if same is None and dest.exists():
            raise TrustNameTaken(f"{name} already exists in the trust store folder", file=name)
        others = [(n, d) for n, d in existing if n != name]
        before, after = _build(others), _build([*others, (name, data)])
        result = _contribution(name, dest, before, after)
        usable = (len(result.added) + len(result.crls) + (result.master_list is not None)
                  + sum(1 for s, _ in after.duplicates if s == name))
        if not usable:
            detail = "; ".join(p.detail for p in result.problems) or "nothing usable"
            kinds = {p.reason for p in result.problems}
            cause = (next(iter(kinds)).removeprefix("trust.")
                     if len(kinds) == 1 and kinds <= _WORDED_REFUSALS else "other")
            raise TrustImportRefused(detail, cause=_cause(cause), file=source.name)
        if same is not None or not (result.added or result.crls or result.master_list):
            return _replace_already(result)
        _copy_atomically(data, dest)
        self.reload()
        return result

    def remove(self, name: str) -> None:
        """Delete the file ``name`` from the store folder."""
        if self.folder is None or "/" in name or os.sep in name or name.startswith("."):
            raise TrustEntryNotFound(f"{name}", file=name)
        path = self.folder / name
        if not path.is_file() or path.suffix.lower() not in SUFFIXES:
            raise TrustEntryNotFound(f"{name} is not in {self.folder}", file=name)
        path.unlink()
        self.reload()


def _replace_already(result: ImportResult) -> ImportResult:
    return ImportResult(result.name, result.path, (), (), None, result.problems, True)


def _store_name(name: str, data: bytes) -> str:
    if Path(name).suffix.lower() in SUFFIXES:
        return name
    try:
        kinds = {kind for kind, _ in _classify(name, data)}
    except MalformedData:
        return name  # refused later with the reason
    if kinds == {"master_list"}:
        return name + MASTER_LIST_SUFFIX
    if kinds == {"crl"}:
        return name + CRL_SUFFIX
    return name + (".pem" if b"-----BEGIN" in data else ".der")


def _contribution(name: str, dest: Path, before: _Contents, after: _Contents) -> ImportResult:
    known = {a.certificate.fingerprint for a in before.anchors}
    known_crls = {c.fingerprint_sha256 for c in before.crls}
    added = tuple(a.entry() for a in after.anchors
                  if a.source == name and a.certificate.fingerprint not in known)
    crls = tuple(c for c in after.crls
                 if c.source == name and c.fingerprint_sha256 not in known_crls)
    ml = next((m for m in after.master_lists if m.source == name), None)
    if ml is not None and not any(a.master_list == name for a in after.anchors):
        ml = None  # every CSCA of the list was already trusted
    problems = tuple(p for p in after.problems if p.source == name)
    return ImportResult(name, dest, added, crls, ml, problems, False)


def _copy_atomically(data: bytes, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.{secrets.token_hex(4)}.tmp"
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, dest)  # fails if dest exists: never overwrites
        except FileExistsError as exc:
            raise TrustNameTaken(f"{dest.name} appeared in the trust store meanwhile",
                                 file=dest.name) from exc
        except OSError:  # no hard links here (some network or FAT folders)
            if dest.exists():
                raise TrustNameTaken(f"{dest.name} already exists", file=dest.name) from None
            os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


# --- building the store from files -------------------------------------------------------------


def _build(files: Iterable[tuple[str, bytes]]) -> _Contents:
    out = _Contents()
    certs: list[tuple[str, bytes]] = []
    lists: list[tuple[str, bytes]] = []
    crls: list[tuple[str, bytes]] = []
    for name, data in files:
        try:
            items = _classify(name, data)
        except MalformedData as exc:
            out.problems.append(StoreProblem(name, "trust.file_unusable", exc.detail))
            continue
        for kind, der in items:
            {"certificate": certs, "master_list": lists, "crl": crls}[kind].append((name, der))
    seen: set[str] = set()
    for name, der in certs:
        _add_direct(out, seen, name, der)
    direct = list(out.anchors)
    for name, der in lists:
        _add_master_list(out, seen, direct, name, der)
    for name, der in crls:
        _add_crl(out, name, der)
    return out


def _add_anchor(out: _Contents, seen: set[str], anchor: Anchor) -> None:
    fp = anchor.certificate.fingerprint
    if fp in seen:
        out.duplicates.append((anchor.source, fp))
        return
    seen.add(fp)
    out.anchors.append(anchor)


def _ca_problem(cert: Certificate) -> str | None:
    if cert.is_ca is False:
        return f"{cert.subject}: not a CA certificate (basicConstraints cA is false)"
    if cert.key_usage is not None and "key_cert_sign" not in cert.key_usage:
        return f"{cert.subject}: keyUsage does not allow signing certificates"
    return None


def _key_problem(cert: Certificate) -> Callable[[str], StoreProblem] | None:
    """A CSCA whose key we cannot use: unsupported (kept out, named) or broken."""
    if cert.public_key is not None or cert.key_problem is None:
        return None
    reason, detail = cert.key_problem
    key = ("trust.csca_key_unsupported" if reason == UNSUPPORTED_ALGORITHM
           else "trust.file_unusable")
    return lambda source: StoreProblem(source, key, f"{cert.subject}: {detail}")


def _csca(out: _Contents, name: str, der: bytes, where: str = "") -> Certificate | None:
    """One certificate that is to be a CSCA (a file of its own, or ``where`` in a master list);
    None, its problem recorded against ``name``, when it cannot serve as one."""
    try:
        cert = parse_certificate(der)
    except MalformedData as exc:
        out.problems.append(StoreProblem(name, "trust.file_unusable", f"{where}{exc.detail}"))
        return None
    problem = _ca_problem(cert)
    if problem:
        out.problems.append(StoreProblem(name, "trust.not_a_csca", problem))
        return None
    key_problem = _key_problem(cert)
    if key_problem is not None:
        out.problems.append(key_problem(name))
        return None
    return cert


def _add_direct(out: _Contents, seen: set[str], name: str, der: bytes) -> None:
    cert = _csca(out, name, der)
    if cert is None:
        return
    # A link certificate (new CSCA key certified by the old one) has the CSCA's name as both
    # subject and issuer but another key identifier: its signature is the old key's, not its own.
    link = (cert.authority_key_identifier is not None
            and cert.subject_key_identifier is not None
            and cert.authority_key_identifier != cert.subject_key_identifier)
    if cert.self_issued and not link:
        check = cert.issued(cert)
        if not check.ok and not check.unsupported:
            out.problems.append(StoreProblem(
                name, "trust.csca_self_signature_invalid",
                f"{cert.subject}: its self-signature does not verify ({check.detail})"))
            return
        if check.unsupported:
            out.problems.append(StoreProblem(
                name, "trust.csca_self_signature_unchecked",
                f"{cert.subject}: self-signature not checked ({check.detail}); kept"))
    _add_anchor(out, seen, Anchor(cert, name))


def _issued_by_any(cert: Certificate, candidates: Iterable[Certificate]) -> Certificate | None:
    for c in candidates:
        if c.subject_id != cert.issuer_id:
            continue
        if not c.may_hold_key(cert.authority_key_identifier):
            continue
        if c.issued(cert).ok:
            return c
    return None


def _add_master_list(
    out: _Contents, seen: set[str], direct: list[Anchor], name: str, der: bytes
) -> None:
    try:
        sd, cert_ders = parse_master_list(der)
    except MalformedData as exc:
        out.problems.append(StoreProblem(name, "trust.master_list_invalid", exc.detail))
        return
    if len(sd.signers) != 1:
        out.problems.append(StoreProblem(name, "trust.master_list_invalid",
                                         f"{len(sd.signers)} signers, expected one"))
        return
    signer = sd.signers[0]
    signer_cert = sd.certificate_for(signer)
    if signer_cert is None:
        out.problems.append(StoreProblem(
            name, "trust.master_list_invalid",
            f"the signer certificate ({signer.describe_sid()}) is not in the list"))
        return
    failed = [f for f in verify_signer(sd, signer, signer_cert) if not f.ok]
    if failed:
        out.problems.append(StoreProblem(
            name, "trust.master_list_invalid",
            "; ".join(f"{f.name}: {f.detail or f.reason}" for f in failed)))
        return
    listed: list[Certificate] = []
    for i, cder in enumerate(cert_ders):
        cert = _csca(out, name, cder, f"certificate #{i + 1}: ")
        if cert is not None:
            listed.append(cert)
    chain: SignerChain = "unknown"
    issuer = _issued_by_any(signer_cert, (a.certificate for a in direct))
    if issuer is not None:
        chain = "trusted_csca"
    else:
        issuer = _issued_by_any(signer_cert, listed)
        if issuer is not None:
            chain = "csca_in_list"
    for cert in listed:
        _add_anchor(out, seen, Anchor(cert, name, master_list=name))
    out.master_lists.append(MasterListInfo(
        name, signer_cert.summary(), chain, issuer.subject if issuer else None, len(listed)))


def _add_crl(out: _Contents, name: str, der: bytes) -> None:
    try:
        parsed = parse_crl(der)
    except MalformedData as exc:
        out.problems.append(StoreProblem(name, "trust.crl_unusable", exc.detail))
        return
    if any(c.fingerprint_sha256 == parsed.fingerprint for c in out.crls):
        out.duplicates.append((name, parsed.fingerprint))
        return
    candidates = [a.certificate for a in out.anchors
                  if a.certificate.subject_id == parsed.issuer_id]
    if not candidates:
        out.problems.append(StoreProblem(
            name, "trust.crl_issuer_unknown",
            f"CRL of {parsed.issuer}: no CSCA of that name in the store (import it first)"))
        return
    last: Verification = Verification(False, SIGNATURE_INVALID, "no candidate")
    for csca in candidates:
        if not csca.may_hold_key(parsed.authority_key_identifier):
            continue
        last = verify_signature(csca.public_key or csca.spki, parsed.signature_algorithm,
                                parsed.signature, parsed.tbs)
        if last.ok:
            out.crls.append(Crl(
                name, parsed.issuer, parsed.issuer_id, parsed.this_update, parsed.next_update,
                dict(parsed.revoked), csca.fingerprint, parsed.fingerprint))
            return
    out.problems.append(StoreProblem(
        name, "trust.crl_signature_invalid",
        f"CRL of {parsed.issuer}: its signature does not verify under the CSCA ({last.detail})"))
