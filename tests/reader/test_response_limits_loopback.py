"""Issue 11, item 2b: a reader or a chip that answers in small blocks is no evidence of cloning.

Every shipped card profile is read through the in-process loopback with a response limit, on the
chip (its I/O buffer, with and without extended length) or on the reader (a CCID-like reader that
cannot carry longer answers), at every size where something changes: the protected answers of
the authentication steps and of READ BINARY, short APDUs' 256/258/261 bytes, extended length. A
genuine chip is never FORGED and its checks never FAILED; a clone is never TRUSTED. The full
sweep of every size from 32 to 65 536 is ``scripts/response_limit_sweep.py``.
"""

from __future__ import annotations

import pytest

from reader.keys import Can
from reader.session import read_card
from reader.transport import LoopbackTransport
from reader.trust.policy import Policy, Verdict
from reader.trust.report import assess
from reader.trust.results import CheckStatus
from reader.virtual import list_profiles

from .limit_sweep import CLONES, OK, REAL_RSA, TODAY, UNREADABLE, make, one, store

LIMITS = [32, 33, 64, 80, 90, 127, 128, 231, 232, 255, 256, 257, 258, 261, 300, 1000, 65536]
# The attack profiles with a genuine chip behave as their base profile on the wire.
GENUINE = list_profiles(attacks=False)
card = make


@pytest.mark.parametrize("limit", LIMITS)
@pytest.mark.parametrize("name", [*GENUINE, REAL_RSA, *CLONES])
@pytest.mark.parametrize("extended", [True, False], ids=["extended", "short"])
def test_chip_buffer(name: str, limit: int, extended: bool) -> None:
    assert one(name, "chip-extended" if extended else "chip-short", limit) in (OK, UNREADABLE)


@pytest.mark.parametrize("limit", LIMITS)
@pytest.mark.parametrize("name", [*GENUINE, REAL_RSA, *CLONES])
def test_reader_limit(name: str, limit: int) -> None:
    assert one(name, "reader", limit) in (OK, UNREADABLE)


@pytest.mark.parametrize("limit", [80, 90])
def test_the_reported_case_is_trusted_not_forged(limit: int) -> None:
    """`card emulate --profile nguyen-van-an --no-extended --max-response 80`, then
    `card read --can 014275`: the chip gives its signature in parts (61xx, GET RESPONSE)."""
    c = card("nguyen-van-an", max_response=limit, extended_length=False,
             advertise_extended=False)
    result = read_card(LoopbackTransport(c), [Can("014275")], files=("DG1", "EF.SOD"))
    assert result.active.status is CheckStatus.PASSED
    assert result.chip.status is CheckStatus.PASSED
    assert assess(result, store(), Policy(), today=TODAY).verdict.level is Verdict.TRUSTED


def test_a_signature_no_answer_can_carry_is_could_not_check() -> None:
    """A strict chip with a small buffer and no response chaining cannot send its signature at
    all: "could not check", sent to review with a reason, never FORGED."""
    c = card("pham-thi-hong", max_response=128)  # strict, no chaining, RSA-2048
    result = read_card(LoopbackTransport(c), [Can(c.access_data()["can"])],
                       files=("DG1", "EF.SOD"))
    assert result.active.status is CheckStatus.UNCHECKED
    assert result.active.reason == "trust.aa_unchecked"
    trust = assess(result, store(), Policy(), today=TODAY).verdict
    assert trust.level is Verdict.SUSPICIOUS
    assert [f.name for f in trust.reasons] == ["active.unchecked"]


def test_rsa_2048_on_a_real_card_is_one_short_exchange() -> None:
    """Real CCCDs answer INTERNAL AUTHENTICATE with Le=00 with the whole ~283-byte protected
    signature (issue 11, item 8): no extended APDU, no second try."""
    c = card(REAL_RSA, extended_length=False, advertise_extended=False)
    result = read_card(LoopbackTransport(c), [Can(c.access_data()["can"])],
                       files=("DG1", "EF.SOD"))
    assert result.active.status is CheckStatus.PASSED and "RSA-2048" in result.active.algorithm
    assert result.stats.file_apdus["AA"] == 1


def test_rsa_2048_through_a_short_only_reader_comes_in_parts() -> None:
    """A CCID reader without extended APDUs carries 256 bytes + SW: the reader asks for the
    signature in parts (short Le, then GET RESPONSE) instead of calling the chip a clone."""
    c = card(REAL_RSA)
    result = read_card(LoopbackTransport(c, max_command=261, max_response=258),
                       [Can(c.access_data()["can"])], files=("DG1", "EF.SOD"))
    assert result.active.status is CheckStatus.PASSED
    assert assess(result, store(), Policy(), today=TODAY).verdict.level is Verdict.TRUSTED


def test_a_clone_pleading_a_small_buffer_is_still_forged() -> None:
    """The clone answers CA and AA with 6700 after sending far longer answers for the files:
    that is a refusal, not a limit, so it cannot buy "could not check"."""
    c = card("attack-clone-claims-too-long")
    result = read_card(LoopbackTransport(c), [Can(c.access_data()["can"])],
                       files=("DG1", "EF.SOD"))
    assert result.chip.status is CheckStatus.FAILED and "6700" in result.chip.detail
    assert result.active.status is CheckStatus.FAILED and "6700" in result.active.detail
    assert assess(result, store(), Policy(), today=TODAY).verdict.level is Verdict.FORGED
