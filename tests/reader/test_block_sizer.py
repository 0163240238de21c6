"""The block-size strategy on its own: what it asks for and how it learns limits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reader.files import SHORT_RESPONSE, BlockSizer, ReadStrategy
from reader.sm import max_plain_for_response, wrapped_response_size


def test_short_limits_fit_secure_messaging_overhead() -> None:
    # Largest plaintext whose protected answer fits a short APDU (256 data bytes).
    assert max_plain_for_response(256, 8) == 231
    assert max_plain_for_response(256, 16) == 223
    assert wrapped_response_size(231, 8) <= 256 < wrapped_response_size(232, 8)
    assert wrapped_response_size(223, 16) <= 256 < wrapped_response_size(224, 16)


def test_extended_reads_a_portrait_in_one_block() -> None:
    sizer = BlockSizer(ReadStrategy(), extended_hint=True)
    sizer.cipher_block = 8
    assert sizer.next_le(20_000) == 20_000


def test_no_extended_uses_largest_short_block() -> None:
    sizer = BlockSizer(ReadStrategy(), extended_hint=False)
    sizer.cipher_block = 8
    assert sizer.next_le(20_000) == 231
    assert not sizer.needs_extended(231)


def test_baseline_is_fixed() -> None:
    sizer = BlockSizer(ReadStrategy.baseline(), extended_hint=True)
    sizer.cipher_block = 8
    assert sizer.next_le(20_000) == 0xDF


@given(limit=st.integers(min_value=40, max_value=65533), block=st.sampled_from([8, 16]))
def test_bisection_finds_any_response_limit(limit: int, block: int) -> None:
    """Whatever the card's limit, the sizer converges on it in a few failures."""
    sizer = BlockSizer(ReadStrategy(), extended_hint=None)
    sizer.cipher_block = block
    failures = 0
    remaining = 10**6
    for _ in range(200):
        le = sizer.next_le(remaining)
        if wrapped_response_size(le, block) > limit:
            failures += 1
            sizer.too_long(le)
            if le > 256 and limit <= SHORT_RESPONSE:
                sizer.no_extended()
        else:
            sizer.succeeded(le)
    final = sizer.next_le(remaining)
    assert wrapped_response_size(final, block) <= limit
    # Close to the best possible: what the rest would lose against the perfect block size is
    # about what one more refused probe would cost.
    best = max_plain_for_response(limit, block)
    assert remaining / final - remaining / best <= 4
    assert failures <= 20
