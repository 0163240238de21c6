"""A small seeded share of the chip fuzzing (bench/fuzz_chip.py runs ≥ 10^5 inputs): every
chip-facing parser and read_card end to end, fed mutated files of every virtual profile, must
end normally or in a typed error. Times are the bench's business, not asserted here."""

from __future__ import annotations

import pytest

from .chip_fuzz import TARGETS, Target, run_target

SEED = 20261203
INPUTS = {"read_card": 25, "dg2_facial_image": 25, "passive": 25}


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_hostile_inputs_end_in_typed_errors(target: Target) -> None:
    tally = run_target(target, INPUTS.get(target.name, 40), SEED)
    assert tally.inputs > 0
    assert tally.escaped == [], tally.escaped[:3]
