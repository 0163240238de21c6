"""ASN.1 of the LDS Security Object (ICAO Doc 9303-10 §4.6.2), card side."""

from __future__ import annotations

from asn1crypto import algos, core

LDS_SECURITY_OBJECT_OID = "2.23.136.1.1.1"  # id-icao-mrtd-security-ldsSecurityObject


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
