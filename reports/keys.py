"""Signing keys for centres that have no certificate: a small CA of their own and a signer.

``create_centre_keys`` makes a self-signed CA (RSA-3072, 20 years) and a signer certificate it
issues (RSA-3072, 10 years, key usage digitalSignature + nonRepudiation, which PAdES validators
require), and writes (mode 0600, folder 0700, never over existing files unless asked):

- ``<centre>.p12``: the signer's key, certificate and the CA certificate (what ``--sign`` takes);
- ``<centre>.pem``: the signer certificate, to hand out;
- ``<centre>-ca.p12``: the CA's key and certificate, to issue invigilators' certificates later
  (``issuer=``); keep it offline if you can;
- ``<centre>-ca.pem``: the CA certificate: the trust root ``roster verify`` uses, and the file to
  give the education office.

Both PKCS#12 files are encrypted with AES-256-CBC under PBKDF2-SHA256 (PBES2) with a
SHA-256 MAC, not the legacy RC2/3DES that older tools write.

Both certificates name the centre they serve: ``organizationIdentifier`` (X.520, 2.5.4.97)
``examdesk:<centre code>`` in the subject. ``roster verify`` checks it against the roster's
centre, so a key of one trusted centre cannot sign for another (see :mod:`reports.verify`).
That attribute, not ``organizationalUnitName``: the centre is the organisation itself (its name
is ``O``), and organizationIdentifier is X.520's "identification of an organization different
from the organization name" (ETSI EN 319 412-1 uses it the same way); OU names a part of an
organisation and is free text many CAs fill for other purposes. The ``examdesk:`` prefix keeps
it apart from identifiers other CAs write there (a tax code): a certificate from elsewhere is
"not bound to a centre", never mistaken for a binding.

The signer certificate lives 10 years because a roster is verified long after the exam (the
disputes, the education office's audits) and there is no timestamp authority offline to make
the signature outlive the certificate (PAdES-T/LTA is out of scope).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import pkcs12 as asn1_pkcs12
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from examdesk.i18n import system_error
from examdesk.paths import config_dir

from .errors import (
    IssuerOfAnotherCentre,
    KeyFilesExist,
    OutputUnwritable,
    PasswordTooShort,
    SigningKeyUnreadable,
    WrongKeyPassword,
)

RSA_BITS = 3072
CA_YEARS = 20
SIGNER_YEARS = 10
MIN_PASSWORD = 8
_KDF_ROUNDS = 100_000


def default_key_folder() -> Path:
    """``config_dir()/keys/pdf``: beside the data and audit keys, in a folder of its own."""
    return config_dir() / "keys" / "pdf"


def default_trust_folder() -> Path:
    """``config_dir()/pdf-trust``: other CAs to trust (the ministry's, other centres')."""
    return config_dir() / "pdf-trust"


def slug(text: str) -> str:
    """"Trung tâm Hà Nội" → "trung-tam-ha-noi" (file names stay ASCII)."""
    plain = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-") or "centre"


@dataclass(frozen=True)
class LoadedKey:
    """A private key, its certificate and the other certificates from one PKCS#12 file."""

    key: PrivateKeyTypes
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]


def load_pkcs12(path: Path, password: bytes) -> LoadedKey:
    """Open a PKCS#12 file; a wrong password and a file that is no PKCS#12 are told apart."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyUnreadable(system_error(exc), path=str(path)) from exc
    try:
        pfx = asn1_pkcs12.Pfx.load(data)
        pfx["auth_safe"]["content_type"].native  # noqa: B018  (forces the parse)
        is_pkcs12 = pfx["version"].native == "v3"
    except (ValueError, TypeError, KeyError):
        is_pkcs12 = False
    if not is_pkcs12:
        raise SigningKeyUnreadable("not a PKCS#12 file", reason="not_pkcs12", path=str(path))
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password or None)
    except ValueError:
        # The structure is PKCS#12 (checked above): what fails now is the MAC or decryption.
        raise WrongKeyPassword("the password does not open this PKCS#12 file",
                               path=str(path)) from None
    if key is None or cert is None:
        raise SigningKeyUnreadable("the PKCS#12 file has no private key or no certificate",
                                   reason="incomplete", path=str(path))
    return LoadedKey(key, cert, tuple(extra))


@dataclass(frozen=True)
class CreatedKeys:
    folder: Path
    signer_p12: Path
    signer_cert: Path
    ca_cert: Path
    ca_p12: Path | None  # None when an existing CA issued the signer
    signer_subject: str
    ca_subject: str
    fingerprint: str  # SHA-256 of the signer certificate, hex
    not_after: datetime

    def to_dict(self) -> dict[str, object]:
        return {"folder": str(self.folder), "signer_p12": str(self.signer_p12),
                "signer_cert": str(self.signer_cert), "ca_cert": str(self.ca_cert),
                "ca_p12": str(self.ca_p12) if self.ca_p12 else None,
                "signer": self.signer_subject, "ca": self.ca_subject,
                "sha256": self.fingerprint, "not_after": self.not_after.isoformat()}


CENTRE_ID_PREFIX = "examdesk:"


def centre_identifier(centre_code: str) -> str:
    """The organizationIdentifier value that binds a certificate to a centre."""
    return CENTRE_ID_PREFIX + centre_code


def _name(common: str, organisation: str, centre: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                  x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation[:64])]
    if centre is not None:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER,
                                             centre_identifier(centre)))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common[:64]))
    return x509.Name(attributes)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)


def make_ca(organisation: str, now: datetime, *, centre: str | None = None
            ) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A centre's CA; ``centre`` (its code) binds it and what it issues to that centre."""
    key = _new_key()
    name = _name(f"{organisation} — CA", organisation, centre)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def issue_signer(common: str, organisation: str, ca_key: PrivateKeyTypes,
                 ca_cert: x509.Certificate, now: datetime,
                 years: int = SIGNER_YEARS, *, centre: str | None = None
                 ) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = _new_key()
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    not_after = min(now + timedelta(days=365 * years), ca_cert.not_valid_after_utc)
    cert = (x509.CertificateBuilder().subject_name(_name(common, organisation, centre))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ca_ski), critical=False)
            .sign(ca_key, hashes.SHA256()))  # type: ignore[arg-type]
    return key, cert


def pkcs12_bytes(label: str, key: PrivateKeyTypes, cert: x509.Certificate,
                 chain: Sequence[x509.Certificate], password: bytes) -> bytes:
    encryption = (serialization.PrivateFormat.PKCS12.encryption_builder()
                  .kdf_rounds(_KDF_ROUNDS)
                  .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
                  .hmac_hash(hashes.SHA256()).build(password))
    return pkcs12.serialize_key_and_certificates(
        label.encode("utf-8"), key, cert, list(chain), encryption)  # type: ignore[arg-type]


def create_centre_keys(*, centre_code: str, centre_name: str, password: bytes,
                       folder: Path | None = None, signer_name: str | None = None,
                       issuer: Path | None = None, issuer_password: bytes | None = None,
                       force: bool = False, now: datetime | None = None) -> CreatedKeys:
    """Make the centre's CA and signer (or, with ``issuer``, only a signer from that CA)."""
    if len(password) < MIN_PASSWORD:
        raise PasswordTooShort(f"at least {MIN_PASSWORD} characters", minimum=MIN_PASSWORD)
    centre_name = unicodedata.normalize("NFC", centre_name).strip() or centre_code
    common = unicodedata.normalize("NFC", signer_name or "").strip() or centre_name
    now = now or datetime.now(UTC)
    folder = folder or default_key_folder()
    base = slug(centre_code)
    stem = base if issuer is None else f"{base}-{slug(common)}"
    targets = {"signer_p12": folder / f"{stem}.p12", "signer_cert": folder / f"{stem}.pem"}
    if issuer is None:
        targets |= {"ca_p12": folder / f"{base}-ca.p12", "ca_cert": folder / f"{base}-ca.pem"}
    existing = [str(p) for p in targets.values() if p.exists()]
    if existing and not force:
        raise KeyFilesExist(f"already there: {', '.join(existing)}", path=existing[0])
    ca_key: PrivateKeyTypes
    if issuer is None:
        ca_key, ca_cert = make_ca(centre_name, now, centre=centre_code)
    else:
        loaded = load_pkcs12(issuer, issuer_password if issuer_password is not None
                             else password)
        ca_key, ca_cert = loaded.key, loaded.certificate
        named = {str(a.value)[len(CENTRE_ID_PREFIX):] for a in ca_cert.subject
                 .get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
                 if str(a.value).startswith(CENTRE_ID_PREFIX)}
        if named - {centre_code}:
            raise IssuerOfAnotherCentre(f"the CA is bound to {', '.join(sorted(named))}",
                                        centre=centre_code, issuer_centre=", ".join(named))
    key, cert = issue_signer(common, centre_name, ca_key, ca_cert, now, centre=centre_code)
    files = {"signer_p12": pkcs12_bytes(common, key, cert, [ca_cert], password),
             "signer_cert": cert.public_bytes(serialization.Encoding.PEM)}
    ca_pem = targets.get("ca_cert")
    if issuer is None:
        files["ca_p12"] = pkcs12_bytes(f"{centre_name} CA", ca_key, ca_cert, [], password)
        files["ca_cert"] = ca_cert.public_bytes(serialization.Encoding.PEM)
    else:
        # The CA certificate goes beside the signer's, so this machine trusts what it signs.
        ca_pem = folder / f"{base}-ca.pem"
        if not ca_pem.exists():
            targets["ca_cert"] = ca_pem
            files["ca_cert"] = ca_cert.public_bytes(serialization.Encoding.PEM)
    for name, data in files.items():
        write_private(targets[name], data)
    assert ca_pem is not None
    return CreatedKeys(folder, targets["signer_p12"], targets["signer_cert"], ca_pem,
                       targets.get("ca_p12") if issuer is None else None,
                       cert.subject.rfc4514_string(), ca_cert.subject.rfc4514_string(),
                       cert.fingerprint(hashes.SHA256()).hex(), cert.not_valid_after_utc)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` owner-only, atomically (a temporary 0600 file renamed into place)."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise OutputUnwritable(system_error(exc), path=str(path)) from exc
