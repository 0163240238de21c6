"""`read_card` end to end over the in-process loopback: the real reader code against the virtual
CCCD, with the card's and the reader's limits, wrong keys, pulled-out cards and progress."""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import pytest

from reader import lds
from reader.access import open_card
from reader.errors import AccessDenied, CardRemoved, NotAnIdCard, WrongCardKey
from reader.files import Channel, FileReader, ReadStrategy
from reader.keys import BacKey, Can, bac_keys_from_qr
from reader.session import DEFAULT_FILES, CardRead, read_card
from reader.sm import max_plain_for_response
from reader.transport import LoopbackTransport
from reader.virtual import Faults, VirtualCccd, list_profiles

from .cards import built, load_profile

# These tests are about reading mechanics: the chip checks (PACE, CA, AA) have their own.
BAC_ONLY: dict[str, Any] = {"authenticate": False, "use_pace": False}

PROFILES = ["nguyen-van-an", "le-hoang-minh", "tran-thi-bich-ngoc", "pham-thi-hong"]
# A CCID reader without extended APDUs: 5 + 255 + 1 bytes out, 256 + SW in.
CCID = {"max_command": 261, "max_response": 258}
DES_BLOCK = 8  # BAC secure messaging is 3DES




def make_card(name: str = "nguyen-van-an", *, faults: Faults | None = None,
              **chip: Any) -> VirtualCccd:
    profile = load_profile(name)
    if chip:
        profile = dataclasses.replace(profile, chip=dataclasses.replace(profile.chip, **chip))
    return VirtualCccd(profile, faults=faults, lds=built(name))


def mrz_key(card: VirtualCccd) -> BacKey:
    return BacKey.from_mrz(card.access_data()["mrz"])


def wrong_key(card: VirtualCccd, years: int) -> BacKey:
    """The card's key with the expiry ``years`` earlier: well-formed, but not this card's."""
    right = mrz_key(card)
    expiry = right.date_of_expiry
    return dataclasses.replace(right, date_of_expiry=expiry.replace(year=expiry.year - years))


def read(card: VirtualCccd, keys: list[BacKey] | None = None, **kwargs: Any) -> CardRead:
    limits = {k: kwargs.pop(k) for k in ("max_command", "max_response") if k in kwargs}
    transport = LoopbackTransport(card, **limits)
    for option, value in BAC_ONLY.items():
        kwargs.setdefault(option, value)
    return read_card(transport, keys if keys is not None else [mrz_key(card)], **kwargs)


def test_profiles_are_the_four_shipped() -> None:
    assert set(PROFILES) <= set(list_profiles())


# --- every profile, complete -------------------------------------------------------------------


@pytest.mark.parametrize("name", PROFILES)
def test_every_profile_reads_completely_with_its_mrz_key(name: str) -> None:
    card = make_card(name)
    result = read(card)

    assert result.access == "BAC"
    assert list(result.files) == ["EF.COM", *DEFAULT_FILES]
    for file, data in result.files.items():
        assert data == card.files[file], file
    assert result.warnings == ()
    assert result.com.data_groups == (1, 2, 3, 13, 14, 15)

    holder = card.profile.holder
    assert result.document.id_number == holder.id_number
    assert result.document.date_of_birth == holder.date_of_birth
    assert result.id_number == holder.id_number

    assert result.portrait is not None
    assert result.portrait.data == card.lds.portrait.data
    assert result.portrait.format == card.profile.portrait.format
    assert (result.portrait.width, result.portrait.height) == (
        card.lds.portrait.width, card.lds.portrait.height)

    assert result.dg13 is not None
    for f in dataclasses.fields(holder):
        assert getattr(result.dg13, f.name) == getattr(holder, f.name), f.name
    assert result.dg13.no_expiry == (holder.date_of_expiry is None)

    assert result.stats.key_attempts == 1
    assert result.stats.recoveries == 0
    assert set(result.stats.file_apdus) == set(result.files)
    assert sum(result.stats.file_apdus.values()) + 3 == result.stats.apdus  # + SELECT, BAC


# --- keys ----------------------------------------------------------------------------------


def qr_candidates_with_the_right_one_at(card: VirtualCccd, position: int) -> list[BacKey]:
    """The QR's expiry candidates, padded with wrong keys, the right key at ``position``."""
    right = mrz_key(card)
    wrong = [k for k in bac_keys_from_qr(card.access_data()["qr"]) if k != right]
    wrong += [wrong_key(card, years) for years in (1, 2, 3, 4)]
    return [*wrong[: position - 1], right]


@pytest.mark.parametrize("name", PROFILES)
def test_the_qr_code_gives_the_key(name: str) -> None:
    card = make_card(name)
    keys = bac_keys_from_qr(card.access_data()["qr"])
    assert mrz_key(card) in keys
    result = read(card, keys, files=("DG1",))
    assert result.stats.key_attempts == keys.index(mrz_key(card)) + 1
    assert result.files["DG1"] == card.files["DG1"]


@pytest.mark.parametrize("position", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("name", ["le-hoang-minh", "pham-thi-hong"])
def test_wrong_candidates_before_the_right_one(name: str, position: int) -> None:
    card = make_card(name)
    keys = qr_candidates_with_the_right_one_at(card, position)
    assert len(keys) == position and keys[:-1].count(mrz_key(card)) == 0
    result = read(card, keys)
    assert result.stats.key_attempts == position
    assert result.files == {n: card.files[n] for n in result.files}


def test_every_key_wrong_is_wrong_card_key_and_the_card_still_opens() -> None:
    card = make_card("le-hoang-minh")
    keys = [k for k in bac_keys_from_qr(card.access_data()["qr"]) if k != mrz_key(card)]
    keys.append(wrong_key(card, 1))
    with pytest.raises(WrongCardKey) as info:
        read(card, keys)
    # Every key was an MRZ (BAC) key: the message says the card refused the MRZ key (issue 13).
    assert info.value.key == "card.wrong_mrz_key"
    assert info.value.context.get("tried") == len(keys)

    result = read(card)  # a new transport, the right key
    assert result.files["DG2"] == card.files["DG2"]


def test_no_key_at_all_is_wrong_card_key() -> None:
    card = make_card()
    transport = LoopbackTransport(card)
    with pytest.raises(WrongCardKey):
        read_card(transport, [])
    assert transport.apdus == 0


def test_wrong_keys_then_recovery_uses_the_key_that_worked() -> None:
    """A CCID reader forces one recovery (re-BAC); it must use the right key, not the first."""
    card = make_card("nguyen-van-an")
    keys = qr_candidates_with_the_right_one_at(card, 3)
    result = read(card, keys, **CCID)
    assert result.stats.key_attempts == 3
    assert result.stats.recoveries == 1
    assert result.files == {n: card.files[n] for n in result.files}


# --- reader and card limits -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["nguyen-van-an", "tran-thi-bich-ngoc", "pham-thi-hong"])
def test_ccid_reader_with_an_extended_length_card_recovers_once(name: str) -> None:
    card = make_card(name, extended_length=True)
    result = read(card, **CCID)
    assert result.stats.recoveries == 1
    assert result.files == {n: card.files[n] for n in ["EF.COM", *DEFAULT_FILES]}
    assert result.portrait is not None and result.portrait.data == card.lds.portrait.data

    baseline = read(make_card(name, extended_length=True), strategy=ReadStrategy.baseline(),
                    **CCID)
    assert baseline.files == result.files
    assert result.stats.apdus <= baseline.stats.apdus
    assert result.stats.file_apdus["DG2"] <= baseline.stats.file_apdus["DG2"]


@pytest.mark.parametrize("name", PROFILES)
def test_apdu_count_is_what_the_card_received(name: str) -> None:
    card = make_card(name)
    transport = LoopbackTransport(card)
    result = read_card(transport, [mrz_key(card)], **BAC_ONLY)
    assert result.stats.apdus == transport.apdus == card.stats.apdus
    assert result.stats.bytes_out == card.stats.bytes_in
    assert result.stats.bytes_in == card.stats.bytes_out


def test_apdu_count_includes_the_exchange_the_reader_could_not_carry() -> None:
    card = make_card("nguyen-van-an")
    result = read(card, **CCID)
    assert result.stats.recoveries == 1
    assert result.stats.apdus == card.stats.apdus


@pytest.mark.parametrize("limits", [{}, CCID], ids=["no-reader-limit", "ccid"])
@pytest.mark.parametrize("name", PROFILES)
def test_short_only_card_that_says_so_needs_no_recovery(name: str,
                                                        limits: dict[str, int]) -> None:
    card = make_card(name, extended_length=False, advertise_extended=False)
    result = read(card, **limits)
    assert result.stats.recoveries == 0
    assert result.files == {n: card.files[n] for n in ["EF.COM", *DEFAULT_FILES]}

    baseline = read(make_card(name, extended_length=False, advertise_extended=False),
                    strategy=ReadStrategy.baseline(), **limits)
    assert baseline.stats.recoveries == 0
    assert result.stats.apdus <= baseline.stats.apdus
    for file in result.files:
        assert result.stats.file_apdus[file] <= baseline.stats.file_apdus[file], file


@pytest.mark.parametrize("name", ["nguyen-van-an", "tran-thi-bich-ngoc"])
def test_extended_length_reads_dg2_in_a_third_of_the_baseline(name: str) -> None:
    card = make_card(name, extended_length=True, advertise_extended=True)
    ours = read(card)
    baseline = read(make_card(name), strategy=ReadStrategy.baseline())
    assert baseline.files == ours.files
    assert ours.stats.recoveries == baseline.stats.recoveries == 0
    assert ours.stats.apdus <= baseline.stats.apdus
    assert 3 * ours.stats.file_apdus["DG2"] <= baseline.stats.file_apdus["DG2"]


@pytest.mark.parametrize("limit", [64, 100, 128, 200, 256, 300, 1024, 4096])
@pytest.mark.parametrize(
    "name",
    [
        "nguyen-van-an",
        "le-hoang-minh",
        "pham-thi-hong",
        "tran-thi-bich-ngoc",
    ],
)
def test_any_card_response_limit(name: str, limit: int) -> None:
    card = make_card(name, max_response=limit)
    result = read(card)
    assert result.files == {n: card.files[n] for n in ["EF.COM", *DEFAULT_FILES]}
    # A chip without extended length never sends more than a short answer, whatever its buffer.
    usable = limit if card.profile.chip.extended_length else min(limit, 256)
    best = max_plain_for_response(usable, DES_BLOCK)
    assert result.stats.file_apdus["DG2"] <= math.ceil(len(card.files["DG2"]) / best) + 10


# --- the card leaves the field ----------------------------------------------------------------


def _apdus_the_card_sees(**kwargs: Any) -> int:
    card = make_card()
    read(card, **kwargs)
    return card.stats.apdus


@pytest.mark.parametrize("limits", [{}, CCID], ids=["extended", "ccid"])
def test_pulled_out_at_any_apdu_is_card_removed(limits: dict[str, int]) -> None:
    total = _apdus_the_card_sees(**limits)
    # Every APDU of the short read (BAC is 1-3); for the long one, every APDU up to past the
    # recovery (a second SELECT + BAC inside DG13) and then every 7th.
    moments = range(1, total + 1) if total < 40 else [*range(1, 25), *range(25, total + 1, 7)]
    for n in moments:
        card = make_card(faults=Faults(pull_out_at_apdu=n))
        with pytest.raises(CardRemoved):
            read(card, **limits)
        # Back on the reader, the card is whole again.
        if n in (1, 3, total):
            assert read(card, **limits).files["DG2"] == card.files["DG2"]
    # Past the last APDU the fault never fires.
    card = make_card(faults=Faults(pull_out_at_apdu=total + 1))
    read(card, **limits)
    assert card.stats.apdus == total


@pytest.mark.parametrize("offset", [0, 1, 6, 231, 4000, 19_000, 19_910 - 232])
def test_pulled_out_while_reading_the_portrait(offset: int) -> None:
    card = make_card(faults=Faults(pull_out_in_file="DG2", pull_out_at_offset=offset))
    assert offset < len(card.files["DG2"]) - 231
    with pytest.raises(CardRemoved):
        read(card, **CCID)
    assert read(card).files["DG2"] == card.files["DG2"]


@pytest.mark.parametrize("offset", [0, 6])
def test_pulled_out_during_an_extended_portrait_read(offset: int) -> None:
    # With extended length DG2 takes two READ BINARYs: the header at 0, the rest from 6.
    card = make_card("tran-thi-bich-ngoc",
                     faults=Faults(pull_out_in_file="DG2", pull_out_at_offset=offset))
    with pytest.raises(CardRemoved):
        read(card)


def test_transport_closed_after_removal() -> None:
    card = make_card(faults=Faults(pull_out_at_apdu=5))
    transport = LoopbackTransport(card)
    with pytest.raises(CardRemoved):
        read_card(transport, [mrz_key(card)], **BAC_ONLY)
    with pytest.raises(CardRemoved):
        read_card(transport, [mrz_key(card)], **BAC_ONLY)


# --- not an ID card, files we may not read ------------------------------------------------------


def test_card_without_the_emrtd_application_is_not_an_id_card() -> None:
    card = make_card(applet=False)
    transport = LoopbackTransport(card)
    with pytest.raises(NotAnIdCard) as info:
        read_card(transport, [mrz_key(card)], **BAC_ONLY)
    assert info.value.key == "card.not_an_id_card"
    assert transport.apdus == 1  # the SELECT said it all


def test_dg3_is_never_read_and_would_be_refused() -> None:
    card = make_card()
    result = read(card, files=("DG1", "DG3"))
    assert list(result.files) == ["EF.COM", "DG1"]
    assert "DG3" not in result.stats.file_apdus
    assert result.warnings == ()
    assert result.stats.apdus == 3 + 2 + 2  # SELECT + BAC, EF.COM, DG1: nothing for DG3

    card = make_card()
    channel = Channel(LoopbackTransport(card))
    opened = open_card(channel, [mrz_key(card)], use_pace=False)
    assert (opened.method, opened.key, opened.attempts) == ("BAC", mrz_key(card), 1)
    reader = FileReader(channel)
    with pytest.raises(AccessDenied) as info:
        reader.read(lds.dg(3))
    assert info.value.sw == 0x6982
    # The refusal is an ordinary protected answer: the session goes on.
    assert reader.read(lds.dg(1)) == card.files["DG1"]
    assert channel.stats.recoveries == 0


def test_files_without_dg1_is_a_caller_error_or_still_reads_dg1() -> None:
    card = make_card()
    transport = LoopbackTransport(card)
    try:
        result = read_card(transport, [mrz_key(card)], files=("DG2",), **BAC_ONLY)
    except ValueError:
        assert transport.apdus == 0  # refused before touching the card
    else:
        assert result.files["DG2"] == card.files["DG2"]
        assert result.document.id_number == card.profile.holder.id_number


# --- progress, order, files= --------------------------------------------------------------------


@pytest.mark.parametrize("limits", [{}, CCID], ids=["extended", "ccid"])
@pytest.mark.parametrize("name", ["nguyen-van-an", "tran-thi-bich-ngoc"])
def test_progress_rises_to_the_file_length(name: str, limits: dict[str, int]) -> None:
    card = make_card(name)
    calls: list[tuple[str, int, int]] = []
    result = read(card, progress=lambda f, done, total: calls.append((f, done, total)),
                  **limits)
    names = list(dict.fromkeys(f for f, _, _ in calls))
    assert names == list(result.files)  # one file after the other, in the read order
    for file in names:
        mine = [(done, total) for f, done, total in calls if f == file]
        dones = [d for d, _ in mine]
        assert all(total == len(card.files[file]) for _, total in mine), file
        assert all(a < b for a, b in itertools.pairwise(dones)), file
        assert 0 < dones[0] and dones[-1] == len(card.files[file]), file
    if limits:
        # Short reads: the portrait comes in many steps of at most one block each.
        dg2 = [d for f, d, _ in calls if f == "DG2"]
        assert len(dg2) >= len(card.files["DG2"]) // 231
        assert max(b - a for a, b in itertools.pairwise(dg2)) <= 231


@pytest.mark.parametrize(
    "files",
    [
        ("DG1",),
        ("DG2", "DG1"),
        ("EF.SOD", "DG15", "DG14", "DG2", "DG13", "DG1"),
        ("DG1", "DG13"),
        ("DG13", "DG1", "DG5", "DG16"),  # not in EF.COM: skipped
    ],
)
def test_files_are_read_in_the_order_asked_and_only_those(files: tuple[str, ...]) -> None:
    card = make_card()
    result = read(card, files=files)
    present = [f for f in files if f in card.files]
    assert list(result.files) == ["EF.COM", *present]
    assert list(result.stats.file_apdus) == ["EF.COM", *present]
    for file in present:
        assert result.files[file] == card.files[file]
    assert (result.portrait is not None) == ("DG2" in files)
    assert (result.dg13 is not None) == ("DG13" in files)


def test_a_session_left_by_an_earlier_program_is_no_obstacle() -> None:
    """Real chips stay powered between programs: the next one starts with a stale session."""
    card = make_card("nguyen-van-an")
    transport = LoopbackTransport(card)
    first = read_card(transport, [Can.from_id_number(card.access_data()["id_number"])])
    assert first.access == "PACE"
    # Same card, no power cycle: another read from scratch.
    again = read_card(transport, [mrz_key(card)])
    assert again.access == "PACE" and again.files["DG2"] == card.files["DG2"]
