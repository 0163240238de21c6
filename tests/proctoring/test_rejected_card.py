"""A card whose own data makes the read fail (a forged or broken chip) is recorded: a REJECT
check-in with trust verdict FORGED and a critical FORGED_CARD incident, through the service and
through the desk's check-in job, on a real store (SQLite and PostgreSQL) and a real card read."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlmodel import select

from biometrics import Camera, FaceEngine
from examdesk.services.checkin import CheckInRequest, run_checkin
from examdesk.services.trust import TrustFiles
from examdesk.views.cards import LoopbackCards
from proctoring.checkin import CardRejected, CheckInService
from proctoring.models import (
    CheckIn,
    Decision,
    ExamSession,
    Incident,
    IncidentCheckIn,
    IncidentKind,
)
from proctoring.store import Store
from reader import tlv
from reader.access import AccessKey
from reader.errors import OverLimit, ReaderError, WrongCardKey
from reader.keys import BacKey
from reader.virtual.applet import EmrtdApplet
from tests.reader.hostile import hostile, integer, long_arc_oid, profile, read, seq

from .helpers import add_roster, centre_and_session

# DG13 whose length field claims 4 GiB: DG1 (read first) gives the ID, DG13 stops the read.
HUGE_DG13 = b"\x6D\x84\xff\xff\xff\xf0" + b"\x30\x00" * 200
# EF.CardAccess with an OID arc of 3000 bytes: the read stops before any ID is known.
BAD_CARD_ACCESS = tlv.encode(0x31, seq(long_arc_oid(3000), integer(2), integer(13)))


def failed_read(**files: bytes) -> ReaderError:
    with pytest.raises(ReaderError) as caught:
        read(hostile(**files), use_pace="EF_CardAccess" in files)
    return caught.value


def rows(store: Store) -> tuple[list[CheckIn], list[Incident], list[IncidentCheckIn]]:
    with store.read() as tx:
        return (list(tx.exec(select(CheckIn)).all()), list(tx.exec(select(Incident)).all()),
                list(tx.exec(select(IncidentCheckIn)).all()))


def test_a_card_failing_with_its_id_read_is_a_rejected_forged_checkin(store: Store) -> None:
    session = centre_and_session(store)
    add_roster(store, session)
    error = failed_read(DG13=HUGE_DG13)
    assert isinstance(error, OverLimit)
    rejected = CheckInService(store, FaceEngine()).record_rejected_card(
        session, error, actor="t", consent=True)
    checkins, incidents, links = rows(store)
    assert [c.id for c in checkins] == [rejected.checkin_id]
    checkin = checkins[0]
    assert checkin.id_number == profile().holder.id_number
    assert checkin.decision == Decision.REJECT and checkin.trust_verdict == "FORGED"
    assert checkin.roster_entry_id is not None  # the holder is on the roster
    assert [r["key"] for r in checkin.reasons] == ["checkin.card_rejected", "card.over_limit"]
    assert [(i.kind, i.severity) for i in incidents] == [("FORGED_CARD", "CRITICAL")]
    assert incidents[0].details["card_error"] == "card.over_limit"
    assert [(link.incident_id, link.checkin_id) for link in links] == [
        (rejected.incident_id, rejected.checkin_id)]


def test_a_card_failing_before_any_id_still_leaves_an_incident(store: Store) -> None:
    session = centre_and_session(store)
    error = failed_read(EF_CardAccess=BAD_CARD_ACCESS)
    assert "id_number" not in error.context
    rejected = CheckInService(store, FaceEngine()).record_rejected_card(
        session, error, actor="t", consent=True)
    checkins, incidents, _ = rows(store)
    assert checkins == [] and rejected.checkin_id is None
    assert [(i.id, i.kind) for i in incidents] == [(rejected.incident_id,
                                                     IncidentKind.FORGED_CARD)]


class _Listener:
    def reading(self, file: str, done: int, total: int) -> None: ...
    def card_read(self, card: object, trust: object) -> None: ...
    def progress(self, progress: object) -> None: ...


def desk_checkin(store: Store, tmp_path: Path, card: EmrtdApplet, session: ExamSession,
                 key: AccessKey | None = None) -> None:
    """The GUI's check-in job as the desk runs it, with the card on a loopback reader."""
    cards = LoopbackCards()
    cards.put(card)
    key = key or BacKey.from_mrz(profile().access_data()["mrz"])
    run_checkin(CheckInRequest(session, (key,), consent=True, actor="t"), cards=cards,
                trust=TrustFiles(tmp_path / "trust", tmp_path / "policy.toml"),
                service=CheckInService(store, FaceEngine()), camera=_no_camera,
                models_ready=threading.Event(), listener=_Listener(), cancel=threading.Event())


def _no_camera() -> Camera:
    raise AssertionError("a rejected card never reaches the camera")


def test_the_desk_job_records_a_hostile_card_and_says_so(store: Store, tmp_path: Path) -> None:
    session = centre_and_session(store)
    add_roster(store, session)
    with pytest.raises(CardRejected) as caught:
        desk_checkin(store, tmp_path, hostile(DG13=HUGE_DG13), session)
    assert caught.value.reader_error.key == "card.over_limit"
    checkins, incidents, _ = rows(store)
    assert [str(c.id) for c in checkins] == [str(caught.value.context["checkin_id"])]
    assert [i.kind for i in incidents] == ["FORGED_CARD"]


def test_a_wrong_key_is_not_a_forged_card(store: Store, tmp_path: Path) -> None:
    session = centre_and_session(store)
    card = hostile()
    wrong = BacKey.from_mrz(profile().access_data()["mrz"])
    wrong = BacKey(wrong.document_number, wrong.date_of_birth,
                   wrong.date_of_expiry.replace(year=wrong.date_of_expiry.year - 1))
    with pytest.raises(WrongCardKey):
        desk_checkin(store, tmp_path, card, session, wrong)
    assert rows(store) == ([], [], [])


def test_a_broken_card_for_someone_already_admitted_is_a_second_card_incident(
        store: Store) -> None:
    """Issue 13: the candidate is in the room; a card that breaks the read is presented for his
    ID. It is recorded (rejected) with its own incident — who presented it? — and he stays
    admitted."""
    from proctoring.checkins import attendance

    from .helpers import checkin as admit

    session = centre_and_session(store)
    entries = add_roster(store, session)
    first = admit(store, session, entries[0], profile().holder.id_number)
    error = failed_read(DG13=HUGE_DG13)
    service = CheckInService(store, FaceEngine(), desk="Cửa 2")
    rejected = service.record_rejected_card(session, error, actor="t", consent=True)
    assert rejected.already_admitted is not None
    assert rejected.already_admitted.checkin_id == first.checkin.id
    checkins, incidents, links = rows(store)
    second = next(c for c in checkins if c.id == rejected.checkin_id)
    assert [r["key"] for r in second.reasons][-1] == "checkin.already_admitted_no_desk"
    kinds = sorted(i.kind for i in incidents)
    assert kinds == ["ALREADY_ADMITTED", "FORGED_CARD"]
    again = next(i for i in incidents if i.kind == "ALREADY_ADMITTED")
    assert {link.checkin_id for link in links if link.incident_id == again.id} == {
        first.checkin.id, rejected.checkin_id}
    row = attendance(store, session.id).rows[0]
    assert row.status == "ADMIT" and [c.id for c in row.later] == [rejected.checkin_id]
    assert row.history.desk(row.later[0]) == "Cửa 2"
