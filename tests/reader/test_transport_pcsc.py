"""The PC/SC transport against the real pcscd: reader choice, waiting, events, removal."""

from __future__ import annotations

import threading

import pytest

from reader import apdu
from reader.errors import CardRemoved, NoCard, NoReader, TransportError
from reader.transport import CardEventKind, PcscContext, PcscTransport, list_readers
from reader.virtual import Faults

pytestmark = pytest.mark.pcsc


def test_list_readers_shows_both_vpcd_slots(pcscd: str) -> None:
    names = [s.reader for s in list_readers()]
    assert "Virtual PCD 00 00" in names and "Virtual PCD 00 01" in names


def test_reader_chosen_by_part_of_its_name(insert_card) -> None:
    inserted = insert_card()
    transport = PcscTransport.open("pcd 00 00", wait=2)
    try:
        assert transport.name == "Virtual PCD 00 00"
        assert transport.atr == inserted.card.atr
        resp = apdu.ResponseApdu.from_bytes(transport.transmit(apdu.select_aid(
            bytes.fromhex("A0000002471001")).to_bytes()))
        assert resp.sw == 0x9000
    finally:
        transport.close()


def test_unknown_reader_name(pcscd: str) -> None:
    with pytest.raises(NoReader) as info:
        PcscTransport.open("ACS ACR1252", wait=0)
    assert "Virtual PCD 00 00" in info.value.context["available"]


def test_no_card_within_the_wait(pcscd: str) -> None:
    with pytest.raises(NoCard):
        PcscTransport.open("Virtual PCD 00 00", wait=0.2)


def test_waits_for_a_card_placed_later(insert_card) -> None:
    placed: list = []
    timer = threading.Timer(0.3, lambda: placed.append(insert_card()))
    timer.start()
    transport = PcscTransport.open("Virtual PCD 00 00", wait=10)
    timer.join()
    try:
        # Not only "open returned": it is connected to the card placed late, and it answers.
        assert placed, "the card was never placed"
        assert transport.atr == placed[0].card.atr
        resp = apdu.ResponseApdu.from_bytes(transport.transmit(apdu.select_aid(
            bytes.fromhex("A0000002471001")).to_bytes()))
        assert resp.sw == 0x9000
    finally:
        transport.close()


def test_insert_and_remove_events(insert_card, pcscd: str) -> None:
    ctx = PcscContext()
    seen = []
    try:
        events = ctx.events(pcscd, stop=lambda: len(seen) >= 2)
        inserted = None

        def put() -> None:
            nonlocal inserted
            inserted = insert_card()
            inserted.remove()

        worker = threading.Timer(0.2, put)
        worker.start()
        for event in events:
            seen.append(event.kind)
        worker.join()
    finally:
        ctx.close()
    assert seen == [CardEventKind.INSERTED, CardEventKind.REMOVED]


def test_card_removed_between_apdus(insert_card) -> None:
    insert_card(faults=Faults(pull_out_at_apdu=2))
    transport = PcscTransport.open("Virtual PCD 00 00", wait=2)
    try:
        select = apdu.select_aid(bytes.fromhex("A0000002471001")).to_bytes()
        transport.transmit(select)
        with pytest.raises(CardRemoved):
            transport.transmit(select)
        with pytest.raises(CardRemoved):
            transport.transmit(select)
    finally:
        transport.close()


def test_wait_presence_returns_once_the_card_comes_and_goes(insert_card, pcscd: str) -> None:
    placed: list = []
    with PcscContext() as ctx:
        assert ctx.wait_presence(pcscd, present=False, timeout=10)  # already so: at once
        timer = threading.Timer(0.3, lambda: placed.append(insert_card()))
        timer.start()
        try:
            assert ctx.wait_presence(pcscd, present=True, timeout=10)
        finally:
            timer.join()
        assert placed and ctx.state(pcscd).present
        # Pulled out from another thread while this one sleeps in pcscd.
        puller = threading.Timer(0.3, placed[0].link.stop)
        puller.start()
        try:
            assert ctx.wait_presence(pcscd, present=False, timeout=10)
        finally:
            puller.join()
        assert not ctx.state(pcscd).present


def test_wait_presence_is_false_when_the_state_never_comes(insert_card, pcscd: str) -> None:
    with PcscContext() as ctx:
        assert ctx.wait_presence(pcscd, present=True, timeout=0.3) is False  # no card placed
        for hostile in (-1.0, float("nan")):  # one look, no wait, no crash
            assert ctx.wait_presence(pcscd, present=True, timeout=hostile) is False
        insert_card()
        assert ctx.wait_presence(pcscd, present=False, timeout=0.3) is False  # it stays
        assert ctx.state(pcscd).present
        with pytest.raises(TransportError):  # a reader pcscd does not know is no wait
            ctx.wait_presence("ACS ACR1252 00 00", present=True, timeout=0.3)
