"""A test CSCA → document signer chain and the SOD signature, all deterministic from seeds.

Nothing is written to disk: the trust store of a test or the demo asks :func:`test_csca_pem`.
Deterministic ECDSA (RFC 6979) makes certificates and signatures byte-identical run to run, so
a trust store built in one process matches a card built in another.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .keygen import derive_ec_key, derive_serial
from .sod_schema import LDS_SECURITY_OBJECT_OID

TEST_PKI_SEED = "examdesk-test-pki"
ORGANISATION = "examdesk test"
CSCA_NAME = "examdesk Test CSCA"
DOCUMENT_SIGNER_NAME = "examdesk Test Document Signer"
CSCA_VALIDITY = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2040, 1, 1, tzinfo=UTC))
DOCUMENT_SIGNER_VALIDITY = (datetime(2021, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC))


@dataclass(frozen=True)
class Issuer:
    """A key pair with its certificate: a CSCA or a document signer."""

    private_key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _hash_for(key: ec.EllipticCurvePrivateKey) -> hashes.SHA256 | hashes.SHA384:
    # Match the hash to the key size, as CSCAs do (P-384 → SHA-384).
    return hashes.SHA384() if key.curve.key_size > 256 else hashes.SHA256()


def make_csca(
    seed: str = TEST_PKI_SEED,
    *,
    common_name: str = CSCA_NAME,
    not_before: datetime = CSCA_VALIDITY[0],
    not_after: datetime = CSCA_VALIDITY[1],
) -> Issuer:
    """A self-signed country signing CA on P-384 (ecdsa-with-SHA384)."""
    key = derive_ec_key(seed, "/csca", ec.SECP384R1())
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(public)
        .serial_number(derive_serial(seed, "csca"))
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, _hash_for(key), ecdsa_deterministic=True)
    )
    return Issuer(key, cert)


def make_document_signer(
    csca: Issuer,
    seed: str = TEST_PKI_SEED,
    not_before: datetime = DOCUMENT_SIGNER_VALIDITY[0],
    not_after: datetime = DOCUMENT_SIGNER_VALIDITY[1],
    *,
    common_name: str = DOCUMENT_SIGNER_NAME,
) -> Issuer:
    """A document signer on P-256 certified by ``csca`` (which may be any issuer, for attacks)."""
    key = derive_ec_key(seed, f"/ds/{common_name}", ec.SECP256R1())
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(csca.certificate.subject)
        .public_key(public)
        .serial_number(derive_serial(seed, f"ds/{common_name}/{not_before.isoformat()}"))
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(csca.private_key.public_key()),
            critical=False,
        )
        .sign(csca.private_key, _hash_for(csca.private_key), ecdsa_deterministic=True)
    )
    return Issuer(key, cert)


def _key_usage(*, key_cert_sign: bool = False, digital_signature: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=key_cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def default_csca() -> Issuer:
    return make_csca()


def default_document_signer() -> Issuer:
    return make_document_signer(default_csca())


def test_csca_pem() -> bytes:
    """The project's test CSCA certificate, for a trust store."""
    return default_csca().certificate_pem


test_csca_pem.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def sign_sod(
    lds_security_object_der: bytes,
    signer: Issuer,
    *,
    signing_time: datetime | None = None,
) -> bytes:
    """CMS ContentInfo(SignedData) over an LDS Security Object (wrap it in tag 77 for EF.SOD).

    Signed attributes: contentType, signingTime, messageDigest; ecdsa-with-SHA256; the signer's
    certificate travels in ``certificates`` and is named by issuer and serial number.
    """
    when = signing_time or signer.certificate.not_valid_before_utc
    digest = hashlib.sha256(lds_security_object_der).digest()
    attributes = [
        cms.CMSAttribute({"type": "content_type", "values": [LDS_SECURITY_OBJECT_OID]}),
        cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": when})]}),
        cms.CMSAttribute({"type": "message_digest", "values": [digest]}),
    ]
    # DER orders a SET OF by encoding; we sign exactly the bytes that go into the file.
    attributes.sort(key=lambda a: a.dump())
    signed_attrs = cms.CMSAttributes(attributes)
    to_sign = b"\x31" + signed_attrs.dump()[1:]
    signature = signer.private_key.sign(
        to_sign, ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
    )
    ds_cert = asn1_x509.Certificate.load(signer.certificate_der)
    sha256 = algos.DigestAlgorithm({"algorithm": "sha256"})
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {"issuer": ds_cert.issuer, "serial_number": ds_cert.serial_number}
                    )
                }
            ),
            "digest_algorithm": sha256,
            "signed_attrs": signed_attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [sha256],
            "encap_content_info": {
                "content_type": LDS_SECURITY_OBJECT_OID,
                "content": core.ParsableOctetString(lds_security_object_der),
            },
            "certificates": [cms.CertificateChoices({"certificate": ds_cert})],
            "signer_infos": [signer_info],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
