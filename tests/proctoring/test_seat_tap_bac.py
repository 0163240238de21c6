"""BAC at the seat's chip tap (issue 18): real CCCDs answer BAC too, and a chip without PACE
(or one that refuses PACE with a CAN) must still identify its holder at the seat. The seat tries
PACE-CAN first, then BAC with the key made from the roster line (document number = the ID's
last 9 digits, the line's date of birth, the expiry of a renewal age), and says in words which
one opened the card; a roster that cannot give the key is a bilingual message, not an incident.

Through pyscard → pcscd → vpcd → the virtual CCCD (hold /tmp/examdesk-pcscd.lock): the shipped
BAC-only profile (vo-minh-tuan, ``card emulate --list-profiles``) and the admitted candidate's
card with its PACE taken away."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from examdesk.i18n import Catalog
from examdesk.services.cards import PcscCards
from examdesk.services.seat_tap import SeatTapReader
from examdesk.services.trust import TrustFiles
from proctoring.models import AuditEvent, Candidate, RosterEntry
from proctoring.seat import SeatAgent, SeatState
from proctoring.seat_store import seat_place
from reader.virtual import load_profile
from tests.conftest import InsertedCard

from . import test_seat_tap as tap
from .test_seat_room import RULES, Room, own
from .test_seat_tap import card_profile

# The chip tap's fixtures (a room with An admitted at the door, the trust files, the command's
# database and keys), shared with test_seat_tap; the face engine is the proctoring conftest's.
store, room, trust = tap.store, tap.room, tap.trust
db_url_sqlite, room_for_cli = tap.db_url_sqlite, tap.room_for_cli

TODAY = date(2026, 12, 3)
AN = "001093014275"
TUAN = "092084003161"  # vo-minh-tuan.toml: a chip with no PACE at all


def reader_at(room: Room, seat: str, trust: TrustFiles, inserted: InsertedCard,
              accesses: list[Any] | None = None) -> SeatTapReader:
    told = {} if accesses is None else {"on_access": accesses.append}
    return SeatTapReader(store=room.store, place=seat_place(room.store, "S1", seat),
                         engine=room.engine, trust=trust,
                         open_card=PcscCards(inserted.reader).open, today=lambda: TODAY,
                         **told)


def add_to_roster(room: Room, number: str, name: str, born: date, position: int) -> None:
    with room.store.write() as tx:
        cand = Candidate(centre_id=room.session.centre_id, id_number=number, full_name=name,
                         date_of_birth=born, sex="M")
        tx.add(cand)
        tx.flush()
        tx.add(RosterEntry(centre_id=room.session.centre_id, session_id=room.session.id,
                           candidate_id=cand.id, registration_number=f"{position:03d}",
                           position=position))


# --- the keys the roster gives (no card) --------------------------------------------------------


def test_the_roster_gives_each_lines_likeliest_bac_key_first(room: Room) -> None:
    """Every line's likeliest expiry before any line's second guess; a line whose ID does not
    fit its date of birth gives none and is counted."""
    from examdesk.services.seat_tap import bac_keys

    add_to_roster(room, "001190099999", "Ngày sinh sai", date(1985, 1, 1), 50)
    numbers = [AN, "048201007329", "001190099999"]
    keys, lacking = bac_keys(room.store, room.place, numbers, today=TODAY)
    assert lacking == 1
    assert [k.document_number for k in keys[:2]] == [AN[3:], "048201007329"[3:]]
    # An (born 14/05/1993, 33 today): his card expires at 40, on 14/05/2033.
    assert keys[0].date_of_birth == date(1993, 5, 14)
    assert keys[0].date_of_expiry == date(2033, 5, 14)
    assert {k.document_number for k in keys[2:4]} == {AN[3:], "048201007329"[3:]}


# --- through pcscd, vpcd and the virtual card ---------------------------------------------------

pcsc = pytest.mark.pcsc


@pcsc
def test_a_bac_only_card_of_an_admitted_candidate_binds_at_the_seat(
        insert_card, room: Room, trust: TrustFiles, tmp_path: Path) -> None:
    inserted = insert_card(card_profile(tmp_path, "nguyen-van-an", "an"), pace=False)
    reader = reader_at(room, "B09", trust, inserted)
    taps = [reader.read(10.0)]
    tap = taps[0]  # before: not opened (PACE-CAN only), "nobody on the roster"
    assert tap is not None and tap.id_number == AN and tap.genuine
    assert tap.roster_entry_id == room.entry.id and tap.admission is not None

    from biometrics.config import ORL_POINT

    runner = room.runner([own(n) for n in (1, 2, 3)])
    runner.place = reader.place
    runner.agent = SeatAgent(ORL_POINT, RULES)
    runner._taps = lambda: taps.pop() if taps else None
    runner.start()
    states = [runner.step().state for _ in range(3)]
    runner.stop()
    assert SeatState.BOUND in states and states[-1] is SeatState.WATCHING
    assert room.incidents() == []


@pcsc
def test_a_pace_card_is_still_opened_with_its_can(insert_card, room: Room, trust: TrustFiles,
                                                  tmp_path: Path) -> None:
    from examdesk.services.seat_tap import TapAccess

    inserted = insert_card(card_profile(tmp_path, "nguyen-van-an", "an"))
    accesses: list[TapAccess] = []
    tap = reader_at(room, "B09", trust, inserted, accesses).read(10.0)
    assert tap is not None and tap.id_number == AN and accesses == [TapAccess.PACE_CAN]
    assert Catalog.load().text(TapAccess.PACE_CAN.key, "vi").startswith(
        "Thẻ chạm tại máy thi đã được mở bằng PACE với số CAN")


@pcsc
def test_a_chip_that_refuses_pace_with_a_can_is_opened_with_the_mrz_key(
        insert_card, room: Room, trust: TrustFiles, tmp_path: Path) -> None:
    from examdesk.services.seat_tap import TapAccess

    inserted = insert_card(card_profile(tmp_path, "nguyen-van-an", "an"),
                           pace_passwords=("mrz",))
    accesses: list[TapAccess] = []
    tap = reader_at(room, "B09", trust, inserted, accesses).read(10.0)
    assert tap is not None and tap.id_number == AN and tap.genuine
    assert accesses == [TapAccess.PACE_MRZ]


@pcsc
def test_the_shipped_bac_only_profile_is_read_at_the_seat(
        insert_card, room: Room, trust: TrustFiles) -> None:
    """vo-minh-tuan: no EF.CardAccess, no PACE. On the roster, not admitted at the door: the
    seat knows who he is (the agent then records "not admitted" and binds nobody)."""
    from examdesk.services.seat_tap import TapAccess

    profile = load_profile("vo-minh-tuan")
    assert not profile.chip.pace and profile.chip.bac
    add_to_roster(room, TUAN, "Võ Minh Tuấn", date(1984, 3, 2), 60)
    inserted = insert_card("vo-minh-tuan")
    accesses: list[TapAccess] = []
    tap = reader_at(room, "B09", trust, inserted, accesses).read(10.0)
    assert accesses == [TapAccess.BAC]
    assert tap is not None and tap.id_number == TUAN and tap.genuine
    assert tap.roster_entry_id is not None and tap.admission is None


@pcsc
def test_a_roster_that_cannot_give_the_bac_key_says_so_in_both_languages(
        insert_card, room: Room, trust: TrustFiles, tmp_path: Path) -> None:
    """An's line has a date of birth that does not fit his ID (born '93 by the ID, 1990 on
    the line): no BAC key for him; every other line's key is refused. Not "nobody on the
    roster" — the roster lacks what BAC needs, and nothing is recorded against anyone."""
    from examdesk.services.seat_tap import RosterLacksBacKey, TapAccess

    with room.store.write() as tx:
        cand = tx.exec(select(Candidate).where(Candidate.id_number == AN)).one()
        cand.date_of_birth = date(1990, 5, 14)
        tx.add(cand)
    inserted = insert_card(card_profile(tmp_path, "nguyen-van-an", "an"), pace=False)
    accesses: list[TapAccess] = []
    reader = reader_at(room, "B09", trust, inserted, accesses)
    with pytest.raises(RosterLacksBacKey) as caught:
        reader.read(10.0)
    assert accesses == [] and room.incidents() == []
    assert caught.value.context == {"seat": "B09", "lacking": 1}
    catalog = Catalog.load()
    vi, en = caught.value.text(catalog, "vi"), caught.value.text(catalog, "en")
    assert "1 dòng trong danh sách thiếu số căn cước 12 chữ số" in vi and "BAC" in vi
    assert "1 roster line lacks a 12-digit ID number" in en and "seat B09" in en


@pcsc
def test_examdesk_seat_says_it_opened_a_bac_only_card_with_bac(
        insert_card, db_url_sqlite: str, room_for_cli: Room, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from examdesk.cli import app

    inserted = insert_card(card_profile(tmp_path, "nguyen-van-an", "an"), pace=False)
    result = CliRunner().invoke(app, [
        "seat", "--session", "S1", "--seat", "B09", "--interval", "0.5", "--checks", "24",
        "--reader", inserted.reader, *(f"--camera={own(n)}" for n in (1, 2, 3))],
        input="có\n")
    assert result.exit_code == 0, result.stderr
    assert "PACE với số CAN; đã mở bằng BAC với khóa MRZ lấy từ danh sách" in result.stdout
    with room_for_cli.store.read() as tx:
        (bound,) = tx.exec(select(AuditEvent).where(AuditEvent.action == "seat.bound")).all()
    assert json.loads(bound.payload)["by"] == "chip_card"
