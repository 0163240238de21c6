"""The reasons in a roster's facts (format 2), verified (issue 13): a roster signed in format 1
still verifies; a changed reason is a difference said in words; hostile reasons are "not a valid
roster" or listed as unknown, never a traceback."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from examdesk.i18n import Catalog
from proctoring.store import Store
from reports.facts import FORMAT_1, canonical_bytes, content_hash
from reports.keys import CreatedKeys
from reports.layout import catalog_words
from reports.pdfmeta import finish_pdf, qr_payload, read_embedded_facts
from reports.roster import Roster, build_roster, render_roster
from reports.signing import load_signer, sign_pdf
from reports.verify import ContentStatus, TrustRoots, load_trust_roots, verify_roster
from reports.verify_text import verify_lines

from . import builders
from .conftest import PASSWORD, open_store

# --- the facts, old and new -------------------------------------------------------------------


@dataclass
class Made:
    store: Store
    facts: dict[str, Any]
    roots: TrustRoots
    signed_v1: bytes


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, centre_keys: CreatedKeys) -> Iterator[Made]:
    folder = tmp_path_factory.mktemp("reasons")
    store = open_store(folder)
    built = builders.online_exam(store, people=6)
    words = catalog_words("vi")
    _, facts = builders.roster_and_facts(store, built.session.code)
    # A roster signed in format 1, the way examdesk made them before the reasons: its facts
    # are the old format (byte for byte what that code wrote), rendered, finished and signed.
    roster = build_roster(store, built.session.code)
    v1 = Roster(roster.facts, roster.facts.canonical(FORMAT_1),
                roster.facts.content_hash(FORMAT_1), roster.pictures)
    rendered = render_roster(v1, words)
    unsigned = finish_pdf(rendered.pdf, canonical=v1.canonical, content_hash=v1.content_hash,
                          signature_page=rendered.signature_box.page - 1,
                          signature_rect=rendered.signature_box.rect)
    signed = sign_pdf(unsigned, load_signer(centre_keys.signer_p12, PASSWORD), words)
    roots = load_trust_roots(key_folder=centre_keys.folder, trust_folder=folder / "none")
    yield Made(store, facts, roots, signed)
    store.close()


def test_a_roster_signed_in_the_old_format_still_verifies(made: Made) -> None:
    old = read_embedded_facts(PdfFileReader(io.BytesIO(made.signed_v1))).canonical
    assert old is not None and b'"format":"examdesk-roster/1"' in old
    assert b'"reasons"' not in old
    r = verify_roster(made.signed_v1, roots=made.roots, store=made.store)
    assert r.content.status is ContentStatus.MATCH, r.content
    assert r.ok


def _roster_with(facts: object) -> bytes:
    """An unsigned roster stating these facts, correctly hashed (anyone can make one)."""
    canonical = canonical_bytes(facts)
    session_id = uuid.UUID(facts["session"]["id"])  # type: ignore[index]
    return builders.unsigned_roster(canonical, qr_payload(session_id, content_hash(canonical)))


def _review_row(facts: dict[str, Any]) -> dict[str, Any]:
    rows = facts["sections"][0]["rows"]
    return next(r for r in rows if r["checkin"] and r["checkin"]["reasons"])


def _lines(r: Any, lang: str) -> str:
    return "\n".join(verify_lines(r, Catalog.load(), lang))


def test_a_tampered_reason_is_named_in_words(made: Made) -> None:
    facts = json.loads(json.dumps(made.facts))
    row = _review_row(facts)
    was = row["checkin"]["reasons"]
    assert was[0]["key"] in ("checkin.face_review", "checkin.face_mismatch")
    # The printer swaps the reason for a milder one: the face only unclear → no consent.
    row["checkin"]["reasons"] = [{"key": "checkin.no_consent", "context": {}}]
    r = verify_roster(_roster_with(facts), roots=TrustRoots(()), store=made.store)
    assert r.content.status is ContentStatus.MISMATCH
    [d] = [d for d in r.content.differences if d.field == "checkin.reasons"]
    assert d.position == row["position"] and d.pdf != d.database
    en = _lines(r, "en")
    assert "reasons of the check-in: file says “Face not compared: the candidate did not " \
           "consent; checked by eye”" in en, en
    assert "database says “The face" in en
    vi = _lines(r, "vi")
    assert "lý do của lượt kiểm tra: trên tệp “Không đối chiếu khuôn mặt" in vi, vi
    assert "checkin.no_consent" not in en + vi
    # A reason removed altogether: "no reason" on the file's side.
    row["checkin"]["reasons"] = []
    r = verify_roster(_roster_with(facts), roots=TrustRoots(()), store=made.store)
    assert "file says “no reason”" in _lines(r, "en")


def test_an_unknown_reason_key_is_listed_as_unknown_never_printed(made: Made) -> None:
    facts = json.loads(json.dumps(made.facts))
    row = _review_row(facts)
    row["checkin"]["reasons"].append({"key": "checkin.<script>made_up", "context": {}})
    r = verify_roster(_roster_with(facts), roots=TrustRoots(()), store=made.store)
    assert r.content.status is ContentStatus.MISMATCH
    assert r.content.unknown_reasons == ((None, row["position"], 1),)
    en = _lines(r, "en")
    assert f"states 1 reason this version of examdesk does not know (No. {row['position']})" \
        in en, en
    assert "made_up" not in en


def _hostile(facts: dict[str, Any], how: str) -> None:
    reasons = _review_row(facts)["checkin"]["reasons"]
    if how == "reasons not a list":
        _review_row(facts)["checkin"]["reasons"] = {"key": "checkin.no_consent"}
    elif how == "reasons missing":
        del _review_row(facts)["checkin"]["reasons"]
    elif how == "too many reasons":
        reasons[:] = [{"key": "checkin.no_consent", "context": {}}] * 65
    elif how == "key too long":
        reasons[0]["key"] = "checkin." + "x" * 10_000
    elif how == "key not text":
        reasons[0]["key"] = ["checkin.no_consent"]
    elif how == "reason not an object":
        reasons[0] = "checkin.no_consent"
    elif how == "context not an object":
        reasons[0]["context"] = "distance=0.1"
    elif how == "context value too long":
        reasons[0]["context"]["distance"] = "9" * 5000
    elif how == "context value not text":
        reasons[0]["context"]["distance"] = 0.45
    elif how == "context too large":
        reasons[0]["context"] = {f"n{i}": "x" for i in range(1000)}
    elif how == "history reasons":
        _review_row(facts)["history"] = [{"reasons": "x"}]
    elif how == "format unknown":
        facts["format"] = "examdesk-roster/99"
    elif how == "format missing":
        del facts["format"]


@pytest.mark.parametrize("how", [
    "reasons not a list", "reasons missing", "too many reasons", "key too long",
    "key not text", "reason not an object", "context not an object",
    "context value too long", "context value not text", "context too large",
    "history reasons", "format unknown", "format missing"])
def test_hostile_reasons_are_not_a_valid_roster(made: Made, how: str) -> None:
    facts = json.loads(json.dumps(made.facts))
    _hostile(facts, how)
    r = verify_roster(_roster_with(facts), roots=TrustRoots(()), store=made.store)
    assert r.content.status is ContentStatus.INVALID, (how, r.content)
    assert r.content.problem in ("reports.facts_incomplete", "reports.facts_over_limit",
                                 "reports.facts_format")
    en = _lines(r, "en")
    assert "This is not a roster examdesk made." in en and "{" not in en, en


def test_a_forged_attempt_added_to_the_history_is_named_in_words(made: Made) -> None:
    facts = json.loads(json.dumps(made.facts))
    row = _review_row(facts)
    row["history"] = [{"id": str(uuid.uuid4()), "decided_at": "2025-06-12T00:25:00.000000Z",
                       "decision": "REJECT", "when": "later", "trust_verdict": "FORGED",
                       "face_outcome": None, "overridden_at": None,
                       "reasons": [{"key": "verdict.cloned", "context": {}}]}]
    r = verify_roster(_roster_with(facts), roots=TrustRoots(()), store=made.store)
    assert r.content.status is ContentStatus.MISMATCH
    en = _lines(r, "en")
    assert "other attempts: file says “07:25 " in en, en
    assert "(The chip could not prove its private key: a cloned chip)”, database says “none”" \
        in en, en
    assert "verdict.cloned" not in en and "REJECT" not in en
