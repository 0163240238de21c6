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

import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from biometrics import Challenge, FaceEngine, enrol
from biometrics.config import ORL_POINT
from examdesk.cli import app as cli
from examdesk.i18n import Catalog
from proctoring.checkin import CheckInOutcome, CheckInService
from proctoring.checkin_guard import recheck, record_guarded
from proctoring.checkins import CheckInInput, embedding_item
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
    RosterEntry,
    SessionKind,
    Stage,
)
from proctoring.sessions import create_session
from proctoring.stage_passes import stages_passed
from proctoring.stations import approve, this_station
from proctoring.stations import enrol as enrol_station
from proctoring.store import Store
from reader.virtual import faces_dir
from tests.desks import Desks

from .helpers import ACTOR, add_roster, centre_and_session
from .helpers import PEOPLE as ROSTER
from .test_checkin_service import OTHER_FACE, OWN_FACE, PEOPLE, camera, read

ORL = faces_dir() / "orl"
# Two cards of one person under two IDs (the same face under two IDs), both on the roster.
TWO_IDS = [PEOPLE[0], ("001190012345", "Phạm Thị Hồng", PEOPLE[0][2].replace(year=1990), "F")]
ROUNDS = 24  # seeded record-level races per scenario pair (the bench runs hundreds)


@pytest.fixture(scope="module")
def engine(orl_engine: FaceEngine) -> FaceEngine:
    # ORL people at these desks: the ORL calibration, as in test_checkin_service.
    return orl_engine  # loaded once for the session (conftest)


@pytest.fixture
def desks(db_url: str, tmp_path: Path) -> Iterator[Desks]:
    with Desks(db_url, tmp_path) as d:
        yield d


def _stations(desks: Desks, kind: SessionKind = SessionKind.DRIVING_TEST,
              people: list[Any] = ROSTER) -> tuple[ExamSession, list[Any]]:
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
        desks: Desks, engine: FaceEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    session, entries = _stations(desks)
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

    # Which stages he passed, where and when: the same at either desk and on the command line.
    for store in (a, b):
        passed = stages_passed(store, session.id)
        assert [(p.stage, p.desk, p.checkin_id) for p in passed[entries[0].id]] == [
            (Stage.THEORY, "Phòng lý thuyết", theory.checkin_id),
            (Stage.YARD, "Sân 1", again.checkin_id)]
        assert entries[1].id not in passed
    monkeypatch.setenv("EXAMDESK_DB_URL", desks.url)
    shown = CliRunner().invoke(cli, ["session", "show", "D1", "--lang", "vi"])
    assert shown.exit_code == 0, shown.stdout
    yard = _local(a, again.checkin_id)
    assert "[Các vòng đã qua]" in shown.stdout
    assert (f"Đã qua vòng: lý thuyết lúc {local} tại bàn Phòng lý thuyết · sa hình lúc {yard} "
            "tại bàn Sân 1") in shown.stdout, shown.stdout
    assert "Chưa qua vòng nào" in shown.stdout  # the other candidate
    doc = json.loads(CliRunner().invoke(cli, ["session", "show", "D1", "--json"]).stdout)
    assert [(p["stage"], p["desk"]) for p in doc["stages_passed"][0]["passed"]] == [
        ("theory", "Phòng lý thuyết"), ("yard", "Sân 1")]


def _local(store: Store, checkin_id: uuid.UUID) -> str:
    from examdesk.timezone import VIETNAM

    with store.read() as tx:
        c = tx.get(CheckIn, checkin_id)
        assert c is not None
        return c.decided_at.astimezone(VIETNAM).strftime("%H:%M")


# --- the same candidate twice at once ---------------------------------------------------------


def _race(work: Callable[[str], Any], delays: dict[str, float] | None = None) -> dict[str, Any]:
    """Run ``work("a")`` and ``work("b")`` in two threads released together (each after its
    seeded delay); the results by desk, re-raising a thread's failure."""
    start = threading.Barrier(2)
    results: dict[str, Any] = {}
    failures: list[BaseException] = []

    def run(name: str) -> None:
        try:
            start.wait()
            if delays:
                time.sleep(delays[name])
            results[name] = work(name)
        except BaseException as exc:  # re-raised below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    return results


def _incidents(store: Store, session_id: uuid.UUID) -> list[Incident]:
    with store.read() as tx:
        return list(tx.exec(select(Incident).where(Incident.session_id == session_id)).all())


def test_the_same_card_at_two_desks_at_once_is_caught_once(
        desks: Desks, engine: FaceEngine) -> None:
    session, _ = _stations(desks, SessionKind.ONLINE_EXAM)
    card, trust = read()
    services = {n: _service(desks(n), engine) for n in ("a", "b")}

    def check(name: str) -> CheckInOutcome:
        return services[name].check_in(session, card, trust, camera(OWN_FACE), consent=True,
                                       actor=ACTOR, challenge=Challenge.BLINK)

    done = _race(check)
    decisions = sorted(o.decision.value for o in done.values())
    assert decisions == ["ADMIT", "REVIEW"], {n: o.reasons for n, o in done.items()}
    first, second = sorted(done.values(), key=lambda o: o.decision is not Decision.ADMIT)
    found = _incidents(desks("a"), session.id)
    assert [i.kind for i in found] == [IncidentKind.ALREADY_ADMITTED]
    assert set(_linked(desks("a"), found[0].id)) == {first.checkin_id, second.checkin_id}
    # The desk that lost says who was admitted first, where: the other desk's words.
    assert second.already_admitted is not None
    assert second.already_admitted.checkin_id == first.checkin_id


def test_the_same_face_under_two_ids_at_two_desks_at_once_is_caught_once(
        desks: Desks, engine: FaceEngine) -> None:
    session, _ = _stations(desks, SessionKind.ONLINE_EXAM, TWO_IDS)
    # X's own card, and a second card (another ID and name) carrying X's portrait too.
    cards = {"a": read(), "b": read(id_number=TWO_IDS[1][0], full_name=TWO_IDS[1][1],
                                    date_of_birth=TWO_IDS[1][2], sex="Nữ")}
    services = {n: _service(desks(n), engine) for n in ("a", "b")}

    def check(name: str) -> CheckInOutcome:
        card, trust = cards[name]
        return services[name].check_in(session, card, trust, camera(OWN_FACE), consent=True,
                                       actor=ACTOR, challenge=Challenge.BLINK)

    done = _race(check)
    decisions = sorted(o.decision.value for o in done.values())
    assert decisions == ["ADMIT", "REJECT"], {n: o.reasons for n, o in done.items()}
    found = _incidents(desks("a"), session.id)
    assert [i.kind for i in found] == [IncidentKind.PROXY_SUSPECTED]
    assert set(_linked(desks("a"), found[0].id)) == {o.checkin_id for o in done.values()}


def _roster_again(store: Store, session: ExamSession, earlier: list[RosterEntry]
                  ) -> list[RosterEntry]:
    """The same candidates on a new session's roster."""
    with store.write() as tx:
        entries = [RosterEntry(centre_id=session.centre_id, session_id=session.id,
                               candidate_id=e.candidate_id, seat=e.seat, position=e.position,
                               registration_number=e.registration_number) for e in earlier]
        tx.add_all(entries)
    return entries


def test_seeded_races_at_the_recording_step_are_caught_once_each(
        desks: Desks, engine: FaceEngine) -> None:
    """Both desks decided ADMIT without seeing each other (the slow face step done); they
    record at once, with seeded jitter of up to 3 ms: in every round exactly one admission
    stands and exactly one incident is opened, whichever desk wins."""
    session, first = _stations(desks, SessionKind.ONLINE_EXAM, TWO_IDS)
    a = desks("a")
    x1 = enrol(engine, (ORL / "s27" / "1.png").read_bytes()).embedding
    x2 = enrol(engine, (ORL / "s27" / "2.png").read_bytes()).embedding
    rng = random.Random(17)
    point = ORL_POINT
    for n in range(ROUNDS):
        round_session = create_session(a, centre_id=session.centre_id,
                                       kind=SessionKind.ONLINE_EXAM, title=f"vòng {n}",
                                       starts_at=datetime(2026, 6, 1, 1, 0, tzinfo=UTC),
                                       code=f"R{n}", actor=ACTOR)
        entries = _roster_again(a, round_session, first)
        same_card = n % 2 == 0
        people = {"a": (entries[0], TWO_IDS[0][0], x1),
                  "b": (entries[0], TWO_IDS[0][0], x2) if same_card
                  else (entries[1], TWO_IDS[1][0], x2)}

        def record(name: str, s: ExamSession = round_session,
                   people: dict[str, Any] = people) -> Decision:
            entry, number, live = people[name]
            item = CheckInInput(session_id=s.id, id_number=number, decision=Decision.ADMIT,
                                reasons=(), consent=True, started_at=a.now(),
                                roster_entry_id=entry.id, desk=name,
                                evidence=(embedding_item(live),))
            # The face step of each saw no admission: the other desk had not recorded yet.
            return record_guarded(desks(name), item, actor=ACTOR, point=point,
                                  seen=()).decision

        delays = {"a": rng.uniform(0, 0.003), "b": rng.uniform(0, 0.003)}
        done = _race(record, delays)
        wanted = ["ADMIT", "REVIEW"] if same_card else ["ADMIT", "REJECT"]
        assert sorted(d.value for d in done.values()) == wanted, (n, done)
        kinds = [i.kind for i in _incidents(a, round_session.id)]
        assert kinds == [IncidentKind.ALREADY_ADMITTED if same_card
                         else IncidentKind.PROXY_SUSPECTED], (n, kinds)


def test_the_recheck_compares_only_what_the_face_step_did_not_see(
        desks: Desks, engine: FaceEngine) -> None:
    """The re-check under the lock opens the admissions the face step did not compare (so it
    stays short in a full session) and those it did not see are never missed."""
    session, entries = _stations(desks, SessionKind.ONLINE_EXAM, TWO_IDS)
    a = desks("a")
    x1 = enrol(engine, (ORL / "s27" / "1.png").read_bytes()).embedding
    x2 = enrol(engine, (ORL / "s27" / "2.png").read_bytes()).embedding

    def item(entry: RosterEntry, number: str, live: Any) -> CheckInInput:
        return CheckInInput(session_id=session.id, id_number=number, decision=Decision.ADMIT,
                            reasons=(), consent=True, started_at=a.now(),
                            roster_entry_id=entry.id, evidence=(embedding_item(live),))

    first = record_guarded(a, item(entries[0], TWO_IDS[0][0], x1), actor=ACTOR,
                           point=ORL_POINT, seen=())
    assert first.decision is Decision.ADMIT
    # Compared already by the face step (which would have said so): not opened again.
    again = item(entries[1], TWO_IDS[1][0], x2)
    with desks("b").write() as tx:
        checked, _ = recheck(tx, desks("b"), again, ORL_POINT, {first.recorded.checkin.id})
        assert checked == again
        # Not seen by it (committed after it ran): found.
        checked, _ = recheck(tx, desks("b"), again, ORL_POINT, set())
        assert checked.decision is Decision.REJECT
        assert [i.kind for i in checked.incidents] == [IncidentKind.PROXY_SUSPECTED]
