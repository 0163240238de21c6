"""`roster verify` on rosters made by someone else: facts no roster has (a part missing, a
Flate bomb) are "not a valid roster" in words, and a signature counts only from a key issued
for the roster's own centre."""

from __future__ import annotations

import io
import json
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.embed import EmbeddedFileObject, FileSpec, embed_file
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer

from examdesk.commands.errors import EXIT_TAMPERED
from examdesk.commands.reports import EXIT_UNTRUSTED, verify_exit
from examdesk.i18n import Catalog
from proctoring.store import Store
from reports import pdfmeta
from reports.errors import IssuerOfAnotherCentre
from reports.facts import canonical_bytes, content_hash
from reports.keys import (
    CreatedKeys,
    create_centre_keys,
    issue_signer,
    load_pkcs12,
    make_ca,
    pkcs12_bytes,
)
from reports.layout import catalog_words
from reports.pdfmeta import FACTS_FILE, qr_payload
from reports.signing import load_signer, sign_pdf
from reports.verify import (
    ContentStatus,
    RosterVerification,
    SignerBinding,
    TrustRoots,
    load_trust_roots,
    verify_roster,
)
from reports.verify_text import verify_lines

from . import builders
from .conftest import PASSWORD, open_store


@dataclass
class Made:
    store: Store
    unsigned: bytes
    facts: dict[str, object]
    session_code: str


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Made]:
    store = open_store(tmp_path_factory.mktemp("facts"))
    built = builders.online_exam(store, people=3)
    unsigned, facts = builders.roster_and_facts(store, built.session.code)
    yield Made(store, unsigned, facts, built.session.code)
    store.close()


def _roster_with(facts: object, session_id: str) -> bytes:
    """An unsigned roster stating these facts, correctly hashed (anyone can make one)."""
    canonical = canonical_bytes(facts)
    return builders.unsigned_roster(
        canonical, qr_payload(uuid.UUID(session_id), content_hash(canonical)))


def _session_id(made: Made) -> str:
    session = made.facts["session"]
    assert isinstance(session, dict)
    return str(session["id"])


def _lines(result: RosterVerification) -> str:
    return "\n".join(verify_lines(result, Catalog.load(), "en"))


def test_facts_without_totals_are_not_a_valid_roster(made: Made) -> None:
    facts = json.loads(json.dumps(made.facts))
    del facts["sections"][0]["totals"]  # the KeyError of the review
    r = verify_roster(_roster_with(facts, _session_id(made)), roots=TrustRoots(()),
                      store=made.store)
    assert r.content.status is ContentStatus.INVALID and not r.ok
    assert r.content.problem == "reports.facts_incomplete"
    assert r.content.problem_context == {"field": "sections[0].totals"}
    assert verify_exit(r) == EXIT_TAMPERED
    assert "lacks a part every roster has (sections[0].totals)" in _lines(r)


@pytest.mark.parametrize("spoil", ["no centre", "session id", "rows", "position", "stage",
                                   "portrait", "not an object"])
def test_every_part_verify_reads_is_checked(made: Made, spoil: str) -> None:
    facts = json.loads(json.dumps(made.facts))
    section = facts["sections"][0]
    if spoil == "no centre":
        del facts["centre"]
    elif spoil == "session id":
        facts["session"]["id"] = "not-a-uuid"
    elif spoil == "rows":
        section["rows"] = {"0": section["rows"][0]}
    elif spoil == "position":
        section["rows"][0]["position"] = "1"
    elif spoil == "stage":
        section["stage"] = "moon"
    elif spoil == "portrait":
        row = next(r for r in section["rows"] if r["checkin"])
        row["checkin"]["portrait"] = {"sha256": None}
    else:
        facts = [facts]
    r = verify_roster(_roster_with(facts, _session_id(made)), roots=TrustRoots(()),
                      store=made.store)
    assert r.content.status is ContentStatus.INVALID, spoil
    _lines(r)  # renders in words, no traceback


def _bomb(size: int, filters: str = "/FlateDecode") -> bytes:
    """A roster whose embedded facts are a Flate stream inflating to ``size`` bytes."""
    page = io.BytesIO(builders.roster_page("x"))
    writer = copy_into_new_writer(PdfFileReader(page, strict=False))
    packed = zlib.compress(b" " * size, 9)
    if filters != "/FlateDecode":
        packed = packed.hex().encode() + b">"
    stream = EmbeddedFileObject(writer, dict_data={"/Filter": generic.NameObject(filters)},
                                encoded_data=packed)
    embed_file(writer, FileSpec(file_spec_string=FACTS_FILE, file_name=FACTS_FILE,
                                embedded_data=stream))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_flate_bomb_stops_at_the_cap() -> None:
    data = _bomb(pdfmeta.MAX_FACTS_BYTES + 2**20)
    assert len(data) < 200_000
    r = verify_roster(data, roots=TrustRoots(()))
    assert r.content.status is ContentStatus.INVALID
    assert r.content.problem == "reports.facts_too_large"
    assert "more than 32 MB" in _lines(r)
    # Under the cap the stream is inflated and hashed as before (no QR states it: mismatch).
    r = verify_roster(_bomb(2**20), roots=TrustRoots(()))
    assert r.content.content_hash == content_hash(b" " * 2**20)
    assert r.content.status is ContentStatus.MISMATCH
    # A filter examdesk never writes (pyHanko would decode it uncapped): not a roster of ours.
    r = verify_roster(_bomb(2**10, "/ASCIIHexDecode"), roots=TrustRoots(()))
    assert r.content.status is ContentStatus.INVALID
    assert r.content.problem == "reports.invalid_roster"


# --- whose key signed ---------------------------------------------------------------------


def _p12(folder: Path, name: str, key: object, cert: object, chain: list[object]) -> Path:
    path = folder / f"{name}.p12"
    path.write_bytes(pkcs12_bytes(name, key, cert, chain, PASSWORD))  # type: ignore[arg-type]
    return path


@pytest.fixture(scope="module")
def other_centre(tmp_path_factory: pytest.TempPathFactory) -> CreatedKeys:
    return create_centre_keys(centre_code="HP02", centre_name="Trung tâm Hải Phòng",
                              password=PASSWORD, folder=tmp_path_factory.mktemp("hp02"))


def _verify(made: Made, p12: Path, roots: TrustRoots) -> RosterVerification:
    words = catalog_words("vi")
    return verify_roster(sign_pdf(made.unsigned, load_signer(p12, PASSWORD), words),
                         roots=roots, store=made.store)


def test_the_roster_centres_own_key_is_bound(made: Made, centre_keys: CreatedKeys,
                                            tmp_path: Path) -> None:
    roots = load_trust_roots(key_folder=centre_keys.folder, trust_folder=tmp_path)
    r = _verify(made, centre_keys.signer_p12, roots)
    assert r.binding is SignerBinding.BOUND and r.ok and verify_exit(r) == 0
    assert r.signer is not None and r.signer.centre_code == "HN01"
    assert "issued for centre HN01, the roster's own centre" in _lines(r)


def test_another_trusted_centres_key_does_not_verify_this_roster(
        made: Made, centre_keys: CreatedKeys, other_centre: CreatedKeys,
        tmp_path: Path) -> None:
    roots = load_trust_roots(key_folder=centre_keys.folder, trust_folder=tmp_path,
                             extra=[other_centre.ca_cert])
    r = _verify(made, other_centre.signer_p12, roots)
    assert r.valid and r.trusted and not r.modified  # the signature itself is fine
    assert r.binding is SignerBinding.MISMATCH and not r.ok
    assert verify_exit(r) == EXIT_TAMPERED
    assert ("issued for centre HP02, but the roster is centre HN01's" in _lines(r))


def test_a_centre_ca_cannot_issue_a_signer_for_another_centre(
        made: Made, centre_keys: CreatedKeys, other_centre: CreatedKeys,
        tmp_path: Path) -> None:
    # HP02 holds its CA key: it mints a signer that claims HN01.
    assert other_centre.ca_p12 is not None
    ca = load_pkcs12(other_centre.ca_p12, PASSWORD)
    key, cert = issue_signer("Giả danh HN01", "Trung tâm Hà Nội", ca.key, ca.certificate,
                             datetime.now(UTC), centre="HN01")
    p12 = _p12(tmp_path, "forged", key, cert, [ca.certificate])
    roots = load_trust_roots(key_folder=centre_keys.folder, trust_folder=tmp_path / "none",
                             extra=[other_centre.ca_cert])
    r = _verify(made, p12, roots)
    assert r.trusted and r.binding is SignerBinding.MISMATCH and not r.ok


def test_keys_without_a_centre_are_reported_unbound(made: Made, tmp_path: Path) -> None:
    # As `keys create` made them before the check: no organizationIdentifier anywhere.
    now = datetime.now(UTC)
    ca_key, ca_cert = make_ca("Trung tâm Khảo thí Hà Nội", now)
    key, cert = issue_signer("Trung tâm Khảo thí Hà Nội", "Trung tâm Khảo thí Hà Nội", ca_key,
                             ca_cert, now)
    p12 = _p12(tmp_path, "old", key, cert, [ca_cert])
    from cryptography.hazmat.primitives.serialization import Encoding

    (tmp_path / "old-ca.pem").write_bytes(ca_cert.public_bytes(Encoding.PEM))
    roots = load_trust_roots(key_folder=tmp_path, trust_folder=tmp_path / "none")
    r = _verify(made, p12, roots)
    assert r.valid and r.trusted and r.binding is SignerBinding.UNBOUND
    assert not r.ok and verify_exit(r) == EXIT_UNTRUSTED
    assert "does not say which centre it was issued for" in _lines(r)


def test_a_ca_of_another_centre_issues_no_signer_for_this_one(
        other_centre: CreatedKeys, tmp_path: Path) -> None:
    assert other_centre.ca_p12 is not None
    with pytest.raises(IssuerOfAnotherCentre) as err:
        create_centre_keys(centre_code="HN01", centre_name="Trung tâm Hà Nội", password=PASSWORD,
                           folder=tmp_path, issuer=other_centre.ca_p12)
    assert err.value.context == {"centre": "HN01", "issuer_centre": "HP02"}
    assert not list(tmp_path.iterdir())  # nothing written
