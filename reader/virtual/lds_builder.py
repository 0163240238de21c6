"""Builds the files of a CCCD chip (ICAO Doc 9303-10 LDS 1.7) from a card profile.

Encoding is done here with our own TLV code (asn1crypto only for the CMS parts), so that the
reader's parser is checked against an independent writer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .ber import encode_integer, encode_oid, tlv
from .chip_keys import ChipKeys, derive_chip_keys
from .pki import (
    Issuer,
    default_csca,
    default_document_signer,
    make_csca,
    make_document_signer,
    sign_sod,
)
from .portrait import GENDER_FEMALE, GENDER_MALE, PortraitImage, facial_record, load_portrait
from .profile import CLONE_KINDS, NO_EXPIRY, CardProfile, Holder
from .security_infos import (
    ID_PK_ECDH,
    active_authentication_info,
    build_card_access,
    chip_authentication_info,
    security_infos,
)
from .sm_crypto import CIPHERS, CipherSpec
from .sod_schema import DataGroupHash, LdsSecurityObject

# The real card's EF.CardAccess (research notes §1): TA v1, CA-ECDH-AES-128 v1,
# PACE-ECDH-GM-AES-128 v2 with parameter ID 13 (brainpoolP256r1). A profile with the
# defaults gets exactly these bytes from build_card_access.
CARD_ACCESS = bytes.fromhex(
    "3134300d060804007f0007020202020101300f060a04007f000702020302020201013012060a04007f0007"
    "020204020202010202010d"
)
LDS_VERSION = b"0107"
UNICODE_VERSION = b"040000"
# EF.COM of the real card lists DG1, DG2, DG3, DG13, DG14, DG15.
COM_TAG_LIST = bytes([0x61, 0x75, 0x63, 0x6D, 0x6E, 0x6F])
_COM_TAGS = (
    ("DG1", 0x61),
    ("DG2", 0x75),
    ("DG3", 0x63),
    ("DG13", 0x6D),
    ("DG14", 0x6E),
    ("DG15", 0x6F),
)
DG13_OID = bytes.fromhex("060628d316010008")  # 1.0.10646.1.0.8, as the real card has it
SHA256_OID = "2.16.840.1.101.3.4.2.1"

PRINTABLE, UTF8 = 0x13, 0x0C
# A real SOD hashes every data group present, DG3 (fingerprints, behind EAC) included.
SOD_DATA_GROUPS = (("DG1", 1), ("DG2", 2), ("DG3", 3), ("DG13", 13), ("DG14", 14), ("DG15", 15))
_KEY_GROUPS = ("DG14", "DG15")

UNKNOWN_CSCA_NAME = "CSCA VN"  # what a forger might call the CSCA they made themselves
UNKNOWN_SIGNER_NAME = "Document Signer VN"
LAPSED_SIGNER_NAME = "examdesk Test Document Signer (lapsed)"


@dataclass(frozen=True)
class BuiltLds:
    files: dict[str, bytes]
    keys: ChipKeys  # the keys the chip really holds (a clone's differ from DG14/DG15)
    document_signer: Issuer
    portrait: PortraitImage  # the image in DG2
    csca: Issuer | None = None  # the CSCA that certified ``document_signer``, when known
    refused: frozenset[str] = frozenset()  # files the chip refuses with 6982 (an attack)
    too_long: frozenset[int] = frozenset()  # INS the chip answers 6700 whatever (an attack)


def profile_keys(profile: CardProfile, seed: str | None = None) -> ChipKeys:
    chip = profile.chip
    return derive_chip_keys(
        seed or profile.seed,
        active_authentication=chip.active_authentication,
        chip_authentication=chip.chip_authentication,
    )


def build_lds(profile: CardProfile, *, document_signer: Issuer | None = None) -> BuiltLds:
    """Every file of the card; ``document_signer`` defaults to the project's test DS (or the
    signer an attack profile calls for). Attack profiles get their defect here."""
    attack = profile.attack
    kind = attack.kind if attack else None
    csca: Issuer | None = None
    if document_signer is not None:
        signer = document_signer
    elif kind == "unknown-signer":
        assert attack is not None
        csca = make_csca(attack.signer_seed, common_name=UNKNOWN_CSCA_NAME)
        signer = make_document_signer(csca, attack.signer_seed, common_name=UNKNOWN_SIGNER_NAME)
    elif kind == "signer-outside-validity":
        assert attack is not None and attack.ds_not_before and attack.ds_not_after
        csca = default_csca()
        signer = make_document_signer(
            csca,
            not_before=datetime.combine(attack.ds_not_before, time(0, 0), tzinfo=UTC),
            not_after=datetime.combine(attack.ds_not_after, time(0, 0), tzinfo=UTC),
            common_name=LAPSED_SIGNER_NAME,
        )
    else:
        csca = default_csca()
        signer = default_document_signer()
    keys = profile_keys(profile)
    holder = profile.holder
    gender = GENDER_MALE if holder.sex == "Nam" else GENDER_FEMALE
    # A forger re-signing the data puts the impostor's face in before signing.
    signed_portrait = profile.portrait
    if kind == "unknown-signer" and attack is not None and attack.portrait is not None:
        signed_portrait = attack.portrait
    portrait = load_portrait(signed_portrait)
    files = build_security_files(profile, keys)
    files.update(
        {
            "DG1": build_dg1(profile.td1.text),
            "DG2": build_dg2(portrait, gender=gender),
            "DG3": build_dg3(profile.seed),
            "DG13": build_dg13(
                holder,
                parents_encoding=profile.chip.parents_encoding,
                absent=profile.chip.dg13_absent,
            ),
        }
    )
    files["EF.COM"] = build_com(files)
    signing_time = datetime.combine(holder.date_of_issue, time(9, 0), tzinfo=UTC)
    files["EF.SOD"] = build_sod(files, signer, signing_time=signing_time)
    if kind == "portrait-swapped":  # after signing: DG2 no longer matches its hash
        assert attack is not None and attack.portrait is not None
        portrait = load_portrait(attack.portrait)
        files["DG2"] = build_dg2(portrait, gender=gender)
    if kind in CLONE_KINDS:  # the genuine files, but not the genuine chip's private keys
        assert attack is not None
        keys = profile_keys(profile, attack.clone_seed + ":" + profile.seed)
    refused: frozenset[str] = frozenset()
    if kind in ("clone-com-stripped", "clone-groups-hidden", "clone-groups-refused"):
        # EF.COM is not signed: the cloner lists neither DG14 nor DG15.
        files["EF.COM"] = build_com({k: v for k, v in files.items() if k not in _KEY_GROUPS})
    if kind == "clone-groups-hidden":
        for name in _KEY_GROUPS:
            files.pop(name, None)
    if kind == "clone-groups-refused":
        refused = frozenset(_KEY_GROUPS)
    if kind == "com-lists-unsigned":
        files["EF.COM"] = build_com(files, extra_tags=bytes([0x6B]))  # DG11, absent
    too_long = frozenset({0x86, 0x88}) if kind == "clone-claims-too-long" else frozenset()
    return BuiltLds(_in_card_order(files), keys, signer, portrait, csca, refused, too_long)


def build_security_files(profile: CardProfile, keys: ChipKeys) -> dict[str, bytes]:
    """EF.CardAccess (when PACE is on), DG14 (when it has something to say) and DG15."""
    chip = profile.chip
    ca_cipher = CIPHERS[chip.ca_cipher] if keys.chip_authentication is not None else None
    files: dict[str, bytes] = {}
    if chip.pace:
        files["EF.CardAccess"] = build_card_access(
            CIPHERS[chip.pace_cipher], chip.pace_parameter_id, ca_cipher
        )
    aa_public = keys.active_authentication.public_key() if keys.active_authentication else None
    ca_public = keys.chip_authentication.public_key() if keys.chip_authentication else None
    if ca_public is not None or isinstance(aa_public, ec.EllipticCurvePublicKey):
        files["DG14"] = build_dg14(
            ca_public,
            ca_cipher=ca_cipher or CIPHERS["AES-128"],
            active_authentication_ec=isinstance(aa_public, ec.EllipticCurvePublicKey),
        )
    if aa_public is not None:
        files["DG15"] = build_dg15(aa_public)
    return files


_FILE_ORDER = (
    "EF.CardAccess", "EF.COM", "DG1", "DG2", "DG3", "DG13", "DG14", "DG15", "EF.SOD",
)


def _in_card_order(files: dict[str, bytes]) -> dict[str, bytes]:
    return {name: files[name] for name in _FILE_ORDER if name in files}


def build_files(profile: CardProfile) -> dict[str, bytes]:
    return build_lds(profile).files


def build_com(files: dict[str, bytes] | None = None, *, extra_tags: bytes = b"") -> bytes:
    """EF.COM; with ``files``, the tag list names the data groups present (``extra_tags``:
    more, for an attack)."""
    tags = COM_TAG_LIST
    if files is not None:
        tags = bytes(tag for name, tag in _COM_TAGS if name in files) + extra_tags
    return tlv(0x60, tlv(0x5F01, LDS_VERSION), tlv(0x5F36, UNICODE_VERSION), tlv(0x5C, tags))


def build_dg1(mrz_text: str) -> bytes:
    if len(mrz_text) != 90:
        raise ValueError("a TD1 MRZ has 90 characters")
    return tlv(0x61, tlv(0x5F1F, mrz_text.encode("ascii")))


def build_dg2(portrait: PortraitImage, *, gender: int) -> bytes:
    """CBEFF biometric information group template (ICAO 9303-10 §4.7.2) with one face."""
    header = tlv(
        0xA1,
        tlv(0x80, b"\x01\x01"),  # ICAO header version
        tlv(0x81, b"\x02"),  # biometric type: facial features
        tlv(0x82, b"\x00"),  # biometric subtype: none
        tlv(0x87, b"\x01\x01"),  # format owner: ISO/IEC JTC 1/SC 37
        tlv(0x88, b"\x00\x08"),  # format type: face image (19794-5)
    )
    template = tlv(0x7F60, header, tlv(0x5F2E, facial_record(portrait, gender=gender)))
    return tlv(0x75, tlv(0x7F61, tlv(0x02, b"\x01"), template))


def build_dg3(seed: str) -> bytes:
    """Fingerprints (ICAO 9303-10 §4.7.3): two CBEFF templates of ISO/IEC 19794-4 finger images.

    A stand-in: no one reads DG3 without Extended Access Control, which the card never grants,
    so its bytes only matter for EF.SOD, which hashes every data group present (as a real SOD
    does). The image bytes are derived from ``seed``, so a profile's DG3 is stable.
    """
    templates = []
    for finger in (1, 6):  # right and left thumb (ISO/IEC 19794-4 finger positions)
        stream = b""
        counter = 0
        while len(stream) < 1024:
            stream += hashlib.sha256(f"{seed}:DG3:{finger}:{counter}".encode()).digest()
            counter += 1
        header = tlv(
            0xA1,
            tlv(0x80, b"\x01\x01"),  # ICAO header version
            tlv(0x81, b"\x00\x00\x08"),  # biometric type: fingerprint
            tlv(0x82, bytes([finger])),  # biometric subtype: the finger
            tlv(0x87, b"\x01\x01"),  # format owner: ISO/IEC JTC 1/SC 37
            tlv(0x88, b"\x00\x07"),  # format type: finger image (19794-4)
        )
        record = b"FIR\x00010\x00" + stream[:1024]
        templates.append(tlv(0x7F60, header, tlv(0x5F2E, record)))
    return tlv(0x63, tlv(0x7F61, tlv(0x02, bytes([len(templates)])), *templates))


def _entry(n: int, *values: bytes) -> bytes:
    return tlv(0x30, encode_integer(n), *values)


def _text(tag: int, text: str) -> bytes:
    return tlv(tag, text.encode("ascii" if tag == PRINTABLE else "utf-8"))


def build_dg13(
    holder: Holder,
    *,
    parents_encoding: str = "separate",
    absent: tuple[int, ...] = (),
) -> bytes:
    """Vietnamese data (research notes §3): numbered entries in a SET, in number order."""
    expiry = NO_EXPIRY if holder.date_of_expiry is None else _dmy(holder.date_of_expiry)
    simple: dict[int, tuple[int, str | None]] = {
        1: (PRINTABLE, holder.id_number),
        2: (UTF8, holder.full_name),
        3: (PRINTABLE, _dmy(holder.date_of_birth)),
        4: (UTF8, holder.sex),
        5: (UTF8, holder.nationality),
        6: (UTF8, holder.ethnicity),
        7: (UTF8, holder.religion),
        8: (UTF8, holder.place_of_origin),
        9: (UTF8, holder.place_of_residence),
        10: (UTF8, holder.identifying_features),
        11: (PRINTABLE, _dmy(holder.date_of_issue)),
        12: (UTF8, expiry),
        15: (PRINTABLE, holder.old_id_number),
        16: (PRINTABLE, holder.field_16),
    }
    father, mother = _text(UTF8, holder.father_name), _text(UTF8, holder.mother_name)
    if parents_encoding == "separate":
        parents = _entry(13, tlv(0x30, father), tlv(0x30, mother))
    elif parents_encoding == "combined":
        parents = _entry(13, tlv(0x30, father, mother))
    else:
        raise ValueError(f"parents_encoding {parents_encoding!r}")
    spouse = (
        _entry(14, tlv(0x30, _text(UTF8, holder.spouse_name)))
        if holder.spouse_name
        else _entry(14)  # the real card's empty form: 30 03 02 01 0E
    )
    entries = []
    for n in range(1, 17):
        if n in absent:
            continue
        if n == 13:
            entries.append(parents)
        elif n == 14:
            entries.append(spouse)
        else:
            tag, value = simple[n]
            if value is not None:
                entries.append(_entry(n, _text(tag, value)))
    return tlv(0x6D, tlv(0x30, encode_integer(1), DG13_OID, tlv(0x31, *entries)))


def _dmy(d: object) -> str:
    return d.strftime("%d/%m/%Y")  # type: ignore[attr-defined]


def _spki(public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def build_dg14(
    chip_authentication_key: ec.EllipticCurvePublicKey | None,
    *,
    ca_cipher: CipherSpec = CIPHERS["AES-128"],
    active_authentication_ec: bool = True,
) -> bytes:
    """SecurityInfos: ChipAuthenticationInfo and ChipAuthenticationPublicKeyInfo (when the chip
    does CA) and, when the AA key in DG15 is ECDSA, the ActiveAuthenticationInfo that 9303-11
    §6.1 then requires (an RSA AA key needs none)."""
    infos = []
    if chip_authentication_key is not None:
        infos.append(chip_authentication_info(ca_cipher))
        infos.append(tlv(0x30, encode_oid(ID_PK_ECDH), _spki(chip_authentication_key)))
    if active_authentication_ec:
        infos.append(active_authentication_info())
    return tlv(0x6E, security_infos(*infos))  # DER: SET OF sorted by encoding


def build_dg15(active_authentication_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> bytes:
    """The AA public key as a SubjectPublicKeyInfo (id-ecPublicKey or rsaEncryption)."""
    return tlv(0x6F, _spki(active_authentication_key))


def build_lds_security_object(files: dict[str, bytes]) -> bytes:
    hashes = [
        DataGroupHash(
            {
                "data_group_number": number,
                "data_group_hash_value": hashlib.sha256(files[name]).digest(),
            }
        )
        for name, number in SOD_DATA_GROUPS
        if name in files
    ]
    return LdsSecurityObject(
        {
            "version": 0,
            "hash_algorithm": {"algorithm": "sha256"},
            "data_group_hash_values": hashes,
        }
    ).dump()


def build_sod(files: dict[str, bytes], signer: Issuer, *, signing_time: datetime) -> bytes:
    content_info = sign_sod(build_lds_security_object(files), signer, signing_time=signing_time)
    return tlv(0x77, content_info)
