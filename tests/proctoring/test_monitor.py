"""The online-exam monitor: the state machine on observations, then a watch over real photos."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlmodel import select

from biometrics import FaceEngine, FileCamera, OperatingPoint, enrol
from proctoring.models import Evidence, Incident, IncidentKind
from proctoring.monitor import ExamMonitor, MonitorRules, Observation, watch
from proctoring.store import Store
from reader.virtual import faces_dir

from .helpers import add_roster, centre_and_session, checkin, empty_chair

T0 = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
POINT = OperatingPoint()
SAME, OTHER = 0.2, 0.9  # distances to the admitted face


def feed(monitor: ExamMonitor, seq: list[tuple[int, float | None]], step: float = 2.0):
    events = []
    for i, (faces, d) in enumerate(seq):
        events += monitor.observe(Observation(T0 + timedelta(seconds=i * step), faces, d))
    events += monitor.finish(T0 + timedelta(seconds=len(seq) * step))
    return events


def test_a_short_look_away_is_not_an_incident() -> None:
    events = feed(ExamMonitor(POINT), [(1, SAME), (0, None), (0, None), (1, SAME)])
    assert events == []


def test_absence_longer_than_the_limit_is_one_incident_with_its_times() -> None:
    seq = [(1, SAME)] + [(0, None)] * 7 + [(1, SAME)]
    events = feed(ExamMonitor(POINT), seq)
    assert [(e.kind, e.state) for e in events] == [
        (IncidentKind.FACE_ABSENT, "opened"), (IncidentKind.FACE_ABSENT, "closed")]
    episode = events[-1].episode
    assert episode.started_at == T0 + timedelta(seconds=2)
    assert episode.ended_at == T0 + timedelta(seconds=16)


def test_several_faces_and_a_different_person() -> None:
    seq = [(1, SAME), (2, None), (2, None), (2, None), (1, OTHER), (1, OTHER), (1, SAME)]
    kinds = [(e.kind, e.state) for e in feed(ExamMonitor(POINT), seq)]
    assert (IncidentKind.SEVERAL_FACES, "closed") in kinds
    assert (IncidentKind.FACE_MISMATCH, "closed") in kinds


def test_one_odd_frame_is_not_a_different_person() -> None:
    assert feed(ExamMonitor(POINT), [(1, SAME), (1, OTHER), (1, SAME), (1, OTHER)]) == []


def test_still_open_at_the_end_of_the_exam_is_closed_then() -> None:
    events = feed(ExamMonitor(POINT, MonitorRules(absent_after=timedelta(seconds=4))),
                  [(1, SAME), (0, None), (0, None), (0, None)])
    assert events[-1].state == "closed" and events[-1].episode.ended_at == T0 + timedelta(
        seconds=8)


# --- a watch over real photos --------------------------------------------------------------


def test_watch_stores_incidents_with_evidence(store: Store, engine: FaceEngine,
                                              tmp_path: Path) -> None:
    orl = faces_dir() / "orl"
    session = centre_and_session(store)
    entry = add_roster(store, session)[0]
    admitted = checkin(store, session, entry, "001093014275").checkin
    reference = enrol(engine, (orl / "s27" / "10.png").read_bytes()).embedding
    empty = empty_chair(tmp_path)
    frames = ([orl / "s27" / "1.png", orl / "s27" / "2.png"] + [empty] * 7
              + [faces_dir() / "several" / "two_people.jpg"] * 4
              + [orl / "s12" / f"{n}.png" for n in (1, 2, 3)] + [orl / "s27" / "3.png"])
    ticks = iter(T0 + timedelta(seconds=2 * i) for i in range(100))
    with FileCamera(frames, frame_size=(1280, 720)) as camera:
        stored = watch(store, engine, camera, session_id=session.id, checkin_id=admitted.id,
                       roster_entry_id=entry.id, admitted=np.asarray(reference), actor="test",
                       clock=lambda: next(ticks), sleep=lambda _: None, checks=len(frames))
    with store.read() as tx:
        incidents = {i.kind: i for i in tx.exec(select(Incident)).all() if i.id in stored}
        evidence = tx.exec(select(Evidence).where(Evidence.incident_id.in_(stored))).all()
    assert set(incidents) == {IncidentKind.FACE_ABSENT, IncidentKind.SEVERAL_FACES,
                              IncidentKind.FACE_MISMATCH}
    absent = incidents[IncidentKind.FACE_ABSENT]
    assert absent.started_at is not None and absent.ended_at is not None
    assert absent.ended_at - absent.started_at >= timedelta(seconds=10)
    assert len(evidence) == 3  # one frame each, encrypted like all biometric evidence
