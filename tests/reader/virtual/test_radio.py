"""The simulated radio of the check-in benchmark (issue 16): a whole read's air time spread over
its exchanges and bytes, a longer read costing more, the card's answers unchanged. No clock:
the delays asked for are recorded, not slept."""

from __future__ import annotations

import pytest

from reader.keys import Can
from reader.session import read_card
from reader.transport import LoopbackTransport
from reader.virtual import VirtualCccd, load_profile
from reader.virtual.radio import Radio, RadioModel


def test_the_budget_is_half_per_exchange_half_per_byte() -> None:
    model = RadioModel.spread(2.0, exchanges=40, byte_count=20_000)
    assert model.per_exchange_s == pytest.approx(0.025)
    assert model.per_byte_s == pytest.approx(0.00005)
    assert 40 * model.cost(0, 0) + model.per_byte_s * 20_000 == pytest.approx(2.0)
    assert RadioModel.spread(0.0, 40, 20_000) == RadioModel()


def test_a_read_through_the_radio_is_the_same_read_and_costs_its_budget() -> None:
    card = VirtualCccd(load_profile("nguyen-van-an"))
    can = Can(card.access_data()["can"])
    counter = Radio(card, RadioModel())
    plain = read_card(LoopbackTransport(counter), [can])
    model = RadioModel.spread(2.0, counter.exchanges, counter.bytes)

    slept: list[float] = []
    timed = Radio(VirtualCccd(load_profile("nguyen-van-an")), model, sleep=slept.append)
    again = read_card(LoopbackTransport(timed), [can])
    assert (again.document, again.dg13, again.portrait) == (plain.document, plain.dg13,
                                                           plain.portrait)
    assert timed.exchanges == counter.exchanges == len(slept)
    assert sum(slept) == pytest.approx(2.0, rel=0.02)  # what the model promised for this read
