"""EF.SOD, the document security object (ICAO Doc 9303-10 §4.6.2, 9303-11 §5.1).

``77`` → ContentInfo → SignedData whose eContent is an LDSSecurityObject::

    LDSSecurityObject ::= SEQUENCE {
        version                LDSSecurityObjectVersion,   -- v0(0) or v1(1)
        hashAlgorithm          DigestAlgorithmIdentifier,
        dataGroupHashValues    SEQUENCE SIZE (2..ub-DataGroups) OF DataGroupHash,
        ldsVersionInfo         LDSVersionInfo OPTIONAL }   -- v1 only

:func:`parse_sod` is strict about structure (every malformation is a
:class:`~reader.errors.MalformedData` with a precise reason) and tolerant about algorithms: an
unknown hash algorithm is kept as its dotted OID so that passive authentication can report it as
unsupported rather than as a broken file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from asn1crypto import algos, core

from reader import tlv
from reader.errors import MalformedData, ReaderError

from .certificates import Certificate
from .signatures import compute_digest, digest_name, error_text
from .signed_data import SignedAttributes, SignedData, SignerInfo, parse_signed_data

SOD_TAG = 0x77
LDS_SECURITY_OBJECT_OID = "2.23.136.1.1.1"  # id-icao-mrtd-security-ldsSecurityObject
MAX_DATA_GROUP = 16


class DataGroupHash(core.Sequence):
    _fields = [  # noqa: RUF012 - asn1crypto's schema convention
        ("data_group_number", core.Integer),
        ("data_group_hash_value", core.OctetString),
    ]


class DataGroupHashValues(core.SequenceOf):
    _child_spec = DataGroupHash


class LdsVersionInfo(core.Sequence):
    _fields = [  # noqa: RUF012
        ("lds_version", core.PrintableString),
        ("unicode_version", core.PrintableString),
    ]


class LdsSecurityObject(core.Sequence):
    _fields = [  # noqa: RUF012
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("data_group_hash_values", DataGroupHashValues),
        ("lds_version_info", LdsVersionInfo, {"optional": True}),
    ]


@dataclass(frozen=True)
class Sod:
    version: int  # of the LDSSecurityObject: 0 or 1
    hash_algorithm: str  # "sha256", …, or the dotted OID of an unknown digest
    data_group_hashes: Mapping[int, bytes]  # data group number → digest
    lds_version: str | None  # "0108" (v1 only)
    unicode_version: str | None
    signed_data: SignedData
    raw: bytes  # the file as read

    @property
    def encapsulated_content(self) -> bytes:
        """The LDSSecurityObject DER, as the messageDigest covers it."""
        return self.signed_data.content

    @property
    def signers(self) -> tuple[SignerInfo, ...]:
        return self.signed_data.signers

    @property
    def certificates(self) -> tuple[Certificate, ...]:
        return self.signed_data.certificates

    @property
    def signed_attributes(self) -> SignedAttributes | None:
        return self.signers[0].signed_attributes

    @property
    def signing_time(self) -> datetime | None:
        attrs = self.signed_attributes
        return attrs.signing_time if attrs is not None else None

    def signer_certificate(self, signer: SignerInfo | None = None) -> Certificate | None:
        """The document signer certificate the (first) SignerInfo names, if the SOD carries it."""
        return self.signed_data.certificate_for(signer or self.signers[0])


def parse_sod(data: bytes) -> Sod:
    """EF.SOD bytes → :class:`Sod`. Raises :class:`~reader.errors.MalformedData` only."""
    try:
        data = bytes(data)
        outer = tlv.decode_file(data, SOD_TAG)
        signed = parse_signed_data(outer.value, what="EF.SOD",
                                   content_type=LDS_SECURITY_OBJECT_OID)
        return _security_object(signed, data)
    except ReaderError as exc:
        if isinstance(exc, MalformedData):
            raise
        raise MalformedData(f"EF.SOD: {exc.detail}") from exc
    except Exception as exc:
        raise MalformedData(f"EF.SOD: {error_text(exc)}") from exc


def _security_object(signed: SignedData, raw: bytes) -> Sod:
    try:
        so = LdsSecurityObject.load(signed.content, strict=True)
        version = so["version"].native
        hash_oid = so["hash_algorithm"]["algorithm"].dotted
        entries = [
            (h["data_group_number"].native, h["data_group_hash_value"].native)
            for h in so["data_group_hash_values"]
        ]
        info = so["lds_version_info"]
        lds_version = unicode_version = None
        if info.native is not None:
            lds_version = info["lds_version"].native
            unicode_version = info["unicode_version"].native
    except Exception as exc:
        raise MalformedData(f"LDSSecurityObject: {error_text(exc)}") from exc
    if version not in (0, 1):
        raise MalformedData(f"LDSSecurityObject: version {version}, expected v0 or v1")
    hashes: dict[int, bytes] = {}
    for number, value in entries:
        if not isinstance(number, int) or not 1 <= number <= MAX_DATA_GROUP:
            raise MalformedData(f"LDSSecurityObject: data group number {number}")
        if number in hashes:
            raise MalformedData(f"LDSSecurityObject: DG{number} hashed twice")
        if not isinstance(value, bytes) or not value:
            raise MalformedData(f"LDSSecurityObject: empty hash for DG{number}")
        hashes[number] = value
    if not hashes:
        raise MalformedData("LDSSecurityObject: no data group hashes")
    return Sod(
        version=version,
        hash_algorithm=digest_name(hash_oid) or hash_oid,
        data_group_hashes=MappingProxyType(dict(sorted(hashes.items()))),
        lds_version=lds_version,
        unicode_version=unicode_version,
        signed_data=signed,
        raw=raw,
    )


def hashed_in_sod(sod_raw: bytes | None, number: int, data: bytes) -> bool | None:
    """Does EF.SOD list data group ``number`` with the digest of ``data``?

    ``None`` when that cannot be told (no SOD, an unreadable one, an unknown hash): passive
    authentication reports those. Used before a key from DG14/DG15 goes into any arithmetic: a
    key the SOD does not vouch for is not worth a challenge (ICAO 9303-11 §6.1: the DG15 key is
    trusted through passive authentication).
    """
    if sod_raw is None:
        return None
    try:
        sod = parse_sod(sod_raw)
        actual = compute_digest(sod.hash_algorithm, data)
    except ReaderError:  # MalformedData, UnsupportedAlgorithm
        return None
    return sod.data_group_hashes.get(number) == actual
