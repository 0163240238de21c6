"""Issue 12, item 2: the secure channel is the one owner of the session state (h11's rule).

Nothing outside ``Channel`` may set its secure messaging, its re-opening function or its
generation: those change only through its methods (establish, rekey, mark_broken, recover)."""

from __future__ import annotations

import inspect

import pytest

from reader.access import open_card
from reader.files import Channel, FileReader
from reader.keys import BacKey
from reader.lds import dg
from reader.transport import LoopbackTransport
from reader.virtual import VirtualCccd, build_lds, load_profile


def opened_channel() -> tuple[Channel, VirtualCccd]:
    profile = load_profile("nguyen-van-an")
    card = VirtualCccd(profile, lds=build_lds(profile))
    channel = Channel(LoopbackTransport(card))
    open_card(channel, [BacKey.from_mrz(card.access_data()["mrz"])], use_pace=False)
    return channel, card


def test_channel_has_no_public_mutable_fields() -> None:
    channel, _ = opened_channel()
    public = [name for name in vars(channel) if not name.startswith("_")]
    assert public == [], f"public instance fields: {public}"
    for name, member in inspect.getmembers(Channel):
        if isinstance(member, property):
            assert member.fset is None and member.fdel is None, name


@pytest.mark.parametrize("name", ["sm", "generation", "transport", "stats", "broken"])
def test_the_session_state_cannot_be_assigned_from_outside(name: str) -> None:
    channel, _ = opened_channel()
    with pytest.raises(AttributeError):
        setattr(channel, name, None)


def test_rekey_and_recover_move_to_a_new_generation_and_mark_broken_forces_a_recovery() -> None:
    channel, card = opened_channel()
    reader = FileReader(channel)
    first = channel.generation
    assert reader.read(dg(1)) == card.files["DG1"]
    session = channel.sm
    assert session is not None and not channel.broken
    channel.mark_broken()
    assert channel.broken
    # The next command re-opens the card first (BAC again): new keys, new generation.
    assert reader.read(dg(1)) == card.files["DG1"]
    assert channel.stats.recoveries == 1
    assert channel.generation == first + 1
    assert channel.sm is not session and not channel.broken
    channel.rekey(session)
    assert channel.generation == first + 2 and channel.sm is session


def test_a_channel_never_opened_cannot_recover() -> None:
    channel, _ = opened_channel()
    fresh = Channel(channel.transport)
    assert not fresh.can_recover and fresh.sm is None
    fresh.mark_broken()  # nothing to break in plain
    assert not fresh.broken
