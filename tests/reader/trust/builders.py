"""Test PKI and CMS builders for passive authentication: every algorithm and every defect.

Written with `cryptography`, asn1crypto and python-ecdsa directly (not with the code under test),
so that a parser bug is not mirrored here. Genuine card data come from ``reader.virtual``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import ecdsa
from asn1crypto import algos, cms, core, keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from ecdsa.ellipticcurve import CurveFp, PointJacobi

from reader.virtual.ber import tlv
from reader.virtual.sod_schema import DataGroupHash, LdsSecurityObject

LDS_SO_OID = "2.23.136.1.1.1"
MASTER_LIST_OID = "2.23.136.1.1.2"
HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256,
    "sha384": hashes.SHA384, "sha512": hashes.SHA512,
}
DS_VALIDITY = (datetime(2021, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC))
CSCA_VALIDITY = (datetime(2020, 1, 1, tzinfo=UTC), datetime(2040, 1, 1, tzinfo=UTC))
SIGNED_AT = datetime(2022, 3, 4, 5, 6, 7, tzinfo=UTC)
ECDSA_PLAIN = {"sha1": "0.4.0.127.0.7.1.1.4.1.1", "sha224": "0.4.0.127.0.7.1.1.4.1.2",
               "sha256": "0.4.0.127.0.7.1.1.4.1.3", "sha384": "0.4.0.127.0.7.1.1.4.1.4",
               "sha512": "0.4.0.127.0.7.1.1.4.1.5"}


# --- keys -------------------------------------------------------------------------------------


def iso_p256_curve(u: int = 2) -> Any:
    """A curve no table knows: P-256 moved by the isomorphism (x, y) → (u²x, u³y).

    Same group order and strength, other a, b and G, so explicit parameters match no named curve.
    """
    c = ecdsa.curves.NIST256p
    p = c.curve.p()
    fp = CurveFp(p, c.curve.a() * u**4 % p, c.curve.b() * u**6 % p, 1)
    g = PointJacobi(fp, c.generator.x() * u**2 % p, c.generator.y() * u**3 % p, 1, c.order,
                    generator=True)
    return ecdsa.curves.Curve("iso-P-256", fp, g, None)


def ecdsa_curve_named(name: str) -> Any:
    return next(c for c in ecdsa.curves.curves if c.name == name)


def spki_of(key: Any) -> bytes:
    """SubjectPublicKeyInfo DER of a `cryptography` public/private key or a python-ecdsa key."""
    if isinstance(key, ecdsa.SigningKey | ecdsa.VerifyingKey):
        vk = key.get_verifying_key() if isinstance(key, ecdsa.SigningKey) else key
        return explicit_spki_from_curve(vk.curve, vk.to_string("uncompressed"))
    public = key.public_key() if hasattr(key, "public_key") else key
    return public.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def explicit_spki_from_curve(curve: Any, point: bytes, *, cofactor: bool = True,
                             compressed_base: bool = False) -> bytes:
    """An EC SubjectPublicKeyInfo that spells the curve out (ECParameters, specifiedCurve)."""
    fp = curve.curve
    p = fp.p()
    size = (p.bit_length() + 7) // 8
    g = curve.generator
    base = (bytes([2 + (g.y() & 1)]) + g.x().to_bytes(size, "big") if compressed_base
            else b"\x04" + g.x().to_bytes(size, "big") + g.y().to_bytes(size, "big"))
    domain: dict[str, Any] = {
        "version": "ecdpVer1",
        "field_id": {"field_type": "prime_field", "parameters": p},
        "curve": {"a": (fp.a() % p).to_bytes(size, "big"), "b": fp.b().to_bytes(size, "big")},
        "base": base,
        "order": curve.order,
    }
    if cofactor:
        domain["cofactor"] = 1
    return keys.PublicKeyInfo({
        "algorithm": {"algorithm": "ec",
                      "parameters": keys.ECDomainParameters({"specified": domain})},
        "public_key": point,
    }).dump()


def explicit_spki(public_key: ec.EllipticCurvePublicKey, ecdsa_name: str, **kw: Any) -> bytes:
    point = public_key.public_bytes(serialization.Encoding.X962,
                                    serialization.PublicFormat.UncompressedPoint)
    return explicit_spki_from_curve(ecdsa_curve_named(ecdsa_name), point, **kw)


# --- signing ----------------------------------------------------------------------------------


def default_scheme(key: Any) -> str:
    return "pkcs1" if isinstance(key, rsa.RSAPrivateKey) else "ecdsa"


def sign(key: Any, data: bytes, scheme: str, hash_name: str, *, salt: int = 32,
         mgf_hash: str | None = None) -> bytes:
    h = HASHES[hash_name]()
    if isinstance(key, ecdsa.SigningKey):
        encode = ecdsa.util.sigencode_string if scheme == "plain" else ecdsa.util.sigencode_der
        return bytes(key.sign_deterministic(data, hashfunc=getattr(hashlib, hash_name),
                                            sigencode=encode))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        der = key.sign(data, ec.ECDSA(h))
        if scheme != "plain":
            return der
        r, s = decode_dss_signature(der)
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    assert isinstance(key, rsa.RSAPrivateKey)
    if scheme == "pss":
        mgf = HASHES[mgf_hash or hash_name]()
        return key.sign(data, padding.PSS(padding.MGF1(mgf), salt), h)
    return key.sign(data, padding.PKCS1v15(), h)


def algorithm(scheme: str, hash_name: str, *, salt: int = 32, mgf_hash: str | None = None,
              default_pss_params: bool = False) -> algos.SignedDigestAlgorithm:
    if scheme == "ecdsa":
        return algos.SignedDigestAlgorithm({"algorithm": f"{hash_name}_ecdsa"})
    if scheme == "pkcs1":
        return algos.SignedDigestAlgorithm({"algorithm": f"{hash_name}_rsa"})
    if scheme == "rsaEncryption":
        return algos.SignedDigestAlgorithm({"algorithm": "1.2.840.113549.1.1.1"})
    if scheme == "ecPublicKey":
        return algos.SignedDigestAlgorithm({"algorithm": "1.2.840.10045.2.1"})
    if scheme == "plain":
        return algos.SignedDigestAlgorithm({"algorithm": ECDSA_PLAIN[hash_name]})
    assert scheme == "pss"
    if default_pss_params:
        return algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss"})
    return algos.SignedDigestAlgorithm({
        "algorithm": "rsassa_pss",
        "parameters": {
            "hash_algorithm": {"algorithm": hash_name},
            "mask_gen_algorithm": {"algorithm": "mgf1",
                                   "parameters": {"algorithm": mgf_hash or hash_name}},
            "salt_length": salt,
        },
    })


# --- certificates -----------------------------------------------------------------------------


def name(cn: str, country: str = "VN") -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, country),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "examdesk trust tests"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


@dataclass(frozen=True)
class Party:
    """A key and its certificate (DER)."""

    key: Any  # cryptography private key, or an ecdsa.SigningKey
    cert: bytes

    @property
    def pem(self) -> bytes:
        return x509.load_der_x509_certificate(self.cert).public_bytes(serialization.Encoding.PEM)

    @property
    def x509(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.cert)


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False)


def certificate(
    subject_cn: str,
    key: Any,
    issuer: Party | None = None,
    *,
    ca: bool,
    validity: tuple[datetime, datetime] | None = None,
    hash_name: str | None = None,
    pss: bool = False,
    aki: bool = True,
    key_usage: x509.KeyUsage | bool | None = True,
    basic_constraints: bool = True,
    serial: int | None = None,
    country: str = "VN",
    spki: bytes | None = None,
) -> Party:
    """A certificate for ``key`` signed by ``issuer`` (self-signed when None).

    ``spki`` replaces the subject public key as written in the certificate (explicit EC
    parameters, a python-ecdsa key): the certificate is then re-signed over the edited TBS.
    """
    not_before, not_after = validity or (CSCA_VALIDITY if ca else DS_VALIDITY)
    signer_key = issuer.key if issuer else key
    subject = name(subject_cn, country)
    issuer_name = issuer.x509.subject if issuer else subject
    placeholder = key if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) else \
        ec.generate_private_key(ec.SECP256R1())
    h = hash_name or ("sha384" if ca else "sha256")
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(issuer_name)
        .public_key(placeholder.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
    )
    if basic_constraints:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None),
                                        critical=True)
    if key_usage is True:
        builder = builder.add_extension(_usage(ca=ca), critical=True)
    elif isinstance(key_usage, x509.KeyUsage):
        builder = builder.add_extension(key_usage, critical=True)
    builder = builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(placeholder.public_key()), critical=False)
    if aki and isinstance(signer_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
            critical=False)
    if not isinstance(signer_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise TypeError("issuers sign with `cryptography` keys in these tests")
    kwargs: dict[str, Any] = {}
    if pss:
        kwargs["rsa_padding"] = padding.PSS(padding.MGF1(HASHES[h]()), 32)
    digest: Any = HASHES[h]()
    der = builder.sign(signer_key, digest, **kwargs).public_bytes(serialization.Encoding.DER)
    if spki is None and placeholder is key:
        return Party(key, der)
    return Party(key, replace_spki(der, spki or spki_of(key), signer_key, h, pss=pss))


def replace_spki(cert_der: bytes, spki: bytes, signer_key: Any, hash_name: str, *,
                 pss: bool = False) -> bytes:
    """The certificate with another SubjectPublicKeyInfo, re-signed by ``signer_key``."""
    cert = asn1_x509.Certificate.load(cert_der)
    tbs = asn1_x509.TbsCertificate.load(cert["tbs_certificate"].dump())
    tbs["subject_public_key_info"] = keys.PublicKeyInfo.load(spki)
    tbs_der = tbs.dump(force=True)
    scheme = "pss" if pss else default_scheme(signer_key)
    signature = sign(signer_key, tbs_der, scheme, hash_name)
    return asn1_x509.Certificate({
        "tbs_certificate": asn1_x509.TbsCertificate.load(tbs_der),
        "signature_algorithm": cert["signature_algorithm"],
        "signature_value": signature,
    }).dump()


def flip_bit(data: bytes, index: int = -1) -> bytes:
    b = bytearray(data)
    b[index] ^= 0x01
    return bytes(b)


def resign_tbs_signature(cert_der: bytes, new_signature: bytes) -> bytes:
    cert = asn1_x509.Certificate.load(cert_der)
    return asn1_x509.Certificate({
        "tbs_certificate": cert["tbs_certificate"],
        "signature_algorithm": cert["signature_algorithm"],
        "signature_value": new_signature,
    }).dump()


# --- LDS security object and CMS --------------------------------------------------------------

_DG_NUMBERS = {f"DG{n}": n for n in range(1, 17)}


def security_object(
    files: dict[str, bytes],
    hash_name: str = "sha256",
    *,
    version: int = 0,
    lds_version: tuple[str, str] | None = None,
    hash_oid: str | None = None,
    extra: dict[int, bytes] | None = None,
) -> bytes:
    hashed = {n: hashlib.new(hash_name, files[name]).digest()
              for name, n in _DG_NUMBERS.items() if name in files}
    hashed.update(extra or {})
    value: dict[str, Any] = {
        "version": version,
        "hash_algorithm": {"algorithm": hash_oid or hash_name},
        "data_group_hash_values": [
            DataGroupHash({"data_group_number": n, "data_group_hash_value": h})
            for n, h in sorted(hashed.items())
        ],
    }
    if lds_version:
        value["lds_version_info"] = {"lds_version": lds_version[0],
                                     "unicode_version": lds_version[1]}
    return LdsSecurityObject(value).dump()


def signed_data(
    content: bytes,
    signer: Party,
    *,
    content_type: str = LDS_SO_OID,
    digest: str = "sha256",
    scheme: str | None = None,
    signature_hash: str | None = None,
    salt: int = 32,
    mgf_hash: str | None = None,
    default_pss_params: bool = False,
    signing_time: datetime | None = SIGNED_AT,
    signed_attrs: bool = True,
    message_digest: bytes | None = None,
    attr_content_type: str | None = None,
    include_signer_cert: bool = True,
    sid: str = "issuer_serial",
    extra_certs: tuple[bytes, ...] = (),
    signers: int = 1,
    tamper_signature: bool = False,
) -> bytes:
    """A DER ContentInfo(SignedData) over ``content``; every option makes one kind of defect."""
    scheme = scheme or default_scheme(signer.key)
    sig_hash = signature_hash or digest
    ds = asn1_x509.Certificate.load(signer.cert)
    attrs = None
    if signed_attrs:
        items = [
            cms.CMSAttribute({"type": "content_type",
                              "values": [attr_content_type or content_type]}),
            cms.CMSAttribute({"type": "message_digest", "values": [
                message_digest if message_digest is not None
                else hashlib.new(digest, content).digest()]}),
        ]
        if signing_time is not None:
            items.append(cms.CMSAttribute({"type": "signing_time",
                                           "values": [cms.Time({"utc_time": signing_time})]}))
        items.sort(key=lambda a: a.dump())
        attrs = cms.CMSAttributes(items)
        to_sign = b"\x31" + attrs.dump()[1:]
    else:
        to_sign = content
    key_scheme = {"rsaEncryption": "pkcs1", "ecPublicKey": "ecdsa"}.get(scheme, scheme)
    signature = sign(signer.key, to_sign, key_scheme, sig_hash, salt=salt, mgf_hash=mgf_hash)
    if tamper_signature:
        signature = flip_bit(signature, len(signature) // 2)
    if sid == "issuer_serial":
        identifier = cms.SignerIdentifier({"issuer_and_serial_number": {
            "issuer": ds.issuer, "serial_number": ds.serial_number}})
    else:
        identifier = cms.SignerIdentifier({"subject_key_identifier": ds.key_identifier})
    info: dict[str, Any] = {
        "version": "v1" if sid == "issuer_serial" else "v3",
        "sid": identifier,
        "digest_algorithm": {"algorithm": digest},
        "signature_algorithm": algorithm(scheme, sig_hash, salt=salt, mgf_hash=mgf_hash,
                                         default_pss_params=default_pss_params),
        "signature": signature,
    }
    if attrs is not None:
        info["signed_attrs"] = attrs
    signer_info = cms.SignerInfo(info)
    certs = [cms.CertificateChoices({"certificate": ds})] if include_signer_cert else []
    certs += [cms.CertificateChoices({"certificate": asn1_x509.Certificate.load(c)})
              for c in extra_certs]
    body: dict[str, Any] = {
        "version": "v3",
        "digest_algorithms": [{"algorithm": digest}],
        "encap_content_info": {"content_type": content_type,
                               "content": core.ParsableOctetString(content)},
        "signer_infos": [signer_info] * signers,
    }
    if certs:
        body["certificates"] = certs
    return cms.ContentInfo({"content_type": "signed_data",
                            "content": cms.SignedData(body)}).dump()


def sod(files: dict[str, bytes], signer: Party, hash_name: str = "sha256", **kw: Any) -> bytes:
    """EF.SOD (tag 77) over the data groups in ``files``."""
    so_kw = {k: kw.pop(k) for k in ("version", "lds_version", "hash_oid", "extra") if k in kw}
    content = kw.pop("content", None) or security_object(files, hash_name, **so_kw)
    kw.setdefault("digest", hash_name)
    return tlv(0x77, signed_data(content, signer, **kw))


class _CertificateSet(core.SetOf):
    _child_spec = asn1_x509.Certificate


class _CscaMasterList(core.Sequence):
    _fields = [("version", core.Integer), ("cert_list", _CertificateSet)]  # noqa: RUF012


def master_list(cscas: list[bytes], signer: Party, *, version: int = 0, **kw: Any) -> bytes:
    content = _CscaMasterList({
        "version": version,
        "cert_list": [asn1_x509.Certificate.load(c) for c in cscas],
    }).dump()
    return signed_data(content, signer, content_type=MASTER_LIST_OID, **kw)


def crl(
    issuer: Party,
    revoked: dict[int, datetime] | None = None,
    *,
    this_update: datetime = datetime(2024, 1, 1, tzinfo=UTC),
    next_update: datetime | None = datetime(2099, 1, 1, tzinfo=UTC),
    signing_key: Any = None,
    hash_name: str = "sha384",
    pem: bool = False,
) -> bytes:
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(issuer.x509.subject)
               .last_update(this_update)
               .next_update(next_update or this_update + timedelta(days=3650)))
    for serial, when in (revoked or {}).items():
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
    digest: Any = HASHES[hash_name]()
    signed = builder.sign(signing_key or issuer.key, digest)
    return signed.public_bytes(serialization.Encoding.PEM if pem else serialization.Encoding.DER)
