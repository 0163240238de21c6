"""A chip that will not run PACE with a CAN at all (6982 to MSE:Set AT; real CCCDs have been seen
to refuse a PACE password type and take BAC): only the MRZ data opens it, so the error says so
(``card.needs_mrz_key``) rather than "the CAN is wrong" — and the seat's tap then tries BAC
(examdesk/services/seat_tap.py). A wrong CAN on a chip that takes CANs stays a wrong CAN."""

from __future__ import annotations

import pytest

from reader.errors import NeedsMrzKey, WrongCan
from reader.keys import Can
from reader.session import read_card
from reader.transport import LoopbackTransport

from .test_chip_trust_loopback import card


def test_a_chip_refusing_pace_with_a_can_needs_the_mrz_key() -> None:
    c = card(pace_passwords=("mrz",))
    with pytest.raises(NeedsMrzKey) as caught:
        read_card(LoopbackTransport(c), [Can(c.access_data()["can"]), Can("000000")],
                  files=("DG1",), authenticate=False)
    assert caught.value.key == "card.needs_mrz_key"


def test_a_wrong_can_on_a_chip_that_takes_cans_is_still_a_wrong_can() -> None:
    c = card()
    with pytest.raises(WrongCan):
        read_card(LoopbackTransport(c), [Can("000000")], files=("DG1",), authenticate=False)
