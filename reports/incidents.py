"""The fraud report's data: suspicious events over a period, across sessions and centres.

A *finding* is either an incident (``proctoring.models.Incident``: proxy, face mismatch, forged
card, override, face absent, several faces, ...) or a check-in that the workflow rejected for a
mismatching face or a forged card without opening an incident about it: the education office
should not depend on every station remembering to raise one.

The period is whole days in Vietnam time, both ends included (``--from 01/06/2025 --to
30/06/2025`` is June in Hanoi). Storage has no query across sessions with evidence, so this
module reads the models directly (read-only).

A check-in linked to any incident is reported with that incident, never again on its own.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlmodel import Session, col, func, select

from examdesk.timezone import VIETNAM  # Asia/Ho_Chi_Minh: UTC+7 all year
from proctoring.evidence import open_blob
from proctoring.models import (
    Candidate,
    Centre,
    CheckIn,
    Evidence,
    EvidenceBlob,
    EvidenceKind,
    ExamSession,
    Incident,
    IncidentCheckIn,
    IncidentKind,
    RosterEntry,
)
from proctoring.store import Store
from reader.trust.policy import Verdict

from .errors import NotADate, PeriodReversed
from .images import Fit, Thumbnail, ThumbSpec, thumbnail

EVIDENCE_THUMB = ThumbSpec(300, 300, Fit.CONTAIN, quality=82)
MAX_FRAMES = 4  # incident frames shown per finding (all are listed in the CSV)


class Category(StrEnum):
    PROXY = "proxy"  # one face under several IDs
    FACE_MISMATCH = "face_mismatch"
    FORGED_CARD = "forged_card"  # forged or cloned chip
    OVERRIDE = "override"
    ABSENCE = "absence"  # online exam: nobody in front of the webcam
    SEVERAL_FACES = "several_faces"
    CAMERA_LOST = "camera_lost"  # online exam: the seat's camera gave no picture
    CAMERA_COVERED = "camera_covered"  # online exam: a picture of nothing (the lens covered)
    NOT_ON_ROSTER = "not_on_roster"
    OTHER = "other"


CATEGORY_OF: dict[IncidentKind, Category] = {
    IncidentKind.PROXY_SUSPECTED: Category.PROXY,
    # A card presented again for someone already in the room: who presented it?
    IncidentKind.ALREADY_ADMITTED: Category.PROXY,
    IncidentKind.FACE_MISMATCH: Category.FACE_MISMATCH,
    IncidentKind.FORGED_CARD: Category.FORGED_CARD,
    IncidentKind.OVERRIDE: Category.OVERRIDE,
    IncidentKind.FACE_ABSENT: Category.ABSENCE,
    IncidentKind.SEVERAL_FACES: Category.SEVERAL_FACES,
    IncidentKind.CAMERA_LOST: Category.CAMERA_LOST,
    IncidentKind.CAMERA_COVERED: Category.CAMERA_COVERED,
    # Not fraud: a right used (Decree 13/2023); listed among the other cases with its words.
    IncidentKind.CONSENT_WITHDRAWN: Category.OTHER,
    IncidentKind.NOT_ON_ROSTER: Category.NOT_ON_ROSTER,
    IncidentKind.FACE_UNSCREENABLE: Category.OTHER,
    IncidentKind.OTHER: Category.OTHER,
}


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # included

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise PeriodReversed(f"{self.end.isoformat()} is before {self.start.isoformat()}",
                                 start=self.start.strftime("%d/%m/%Y"),
                                 end=self.end.strftime("%d/%m/%Y"))

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time(), VIETNAM).astimezone(UTC)

    @property
    def until(self) -> datetime:  # exclusive
        return datetime.combine(self.end + timedelta(days=1), time(), VIETNAM).astimezone(UTC)


@dataclass(frozen=True)
class Picture:
    evidence_id: uuid.UUID
    state: str  # "ok", "purged" (retention), "unreadable"
    thumb: Thumbnail | None


@dataclass(frozen=True)
class CheckInEvidence:
    """One check-in a finding is about, with its chip portrait and live capture side by side."""

    checkin_id: uuid.UUID
    id_number: str
    full_name: str | None  # None: the card's holder is on no roster
    registration_number: str | None
    decided_at: datetime
    decision: str
    machine_decision: str
    face_outcome: str | None
    face_distance: float | None
    trust_verdict: str | None
    trust_findings: tuple[str, ...]
    portrait: Picture | None
    frame: Picture | None


@dataclass(frozen=True)
class Finding:
    id: uuid.UUID  # the incident's id, or the check-in's for a finding without incident
    source: str  # "incident" or "checkin"
    category: Category
    kind: str | None  # IncidentKind value
    severity: str | None
    status: str | None  # OPEN / CONFIRMED / DISMISSED (incidents only)
    centre_code: str
    centre_name: str
    session_id: uuid.UUID
    session_code: str
    session_title: str
    started_at: datetime
    ended_at: datetime | None
    id_number: str | None
    full_name: str | None
    registration_number: str | None
    message_key: str | None
    details: dict[str, Any]
    reviewer_notes: str | None
    checkins: tuple[CheckInEvidence, ...]
    frames: tuple[Picture, ...]  # the incident's own pictures (first MAX_FRAMES)
    frame_ids: tuple[uuid.UUID, ...]  # all of them


@dataclass(frozen=True)
class Stats:
    """Counts for one centre or one session."""

    centre_code: str
    session_code: str | None  # None for a centre's line
    session_title: str | None
    starts_at: datetime | None
    sessions: int
    rostered: int
    checked_in: int  # candidates with at least one check-in
    checkins: int  # attempts, retries and stages included
    by_category: dict[Category, int] = field(default_factory=dict)
    open: int = 0

    @property
    def findings(self) -> int:
        return sum(self.by_category.values())


@dataclass(frozen=True)
class FraudData:
    period: Period
    centre: str | None  # the centre code the report is limited to
    generated_at: datetime
    findings: tuple[Finding, ...]
    sessions: tuple[Stats, ...]
    centres: tuple[Stats, ...]

    def by_category(self) -> Counter[Category]:
        return Counter(f.category for f in self.findings)


def collect_fraud(store: Store, period: Period, *, centre_code: str | None = None,
                  pictures: ThumbSpec | None = EVIDENCE_THUMB) -> FraudData:
    """Findings of the period (newest last), statistics per session and centre, evidence
    thumbnails (``pictures=None``: no pictures, e.g. for the CSV)."""
    with store.read() as tx:
        centres = {c.id: c for c in tx.exec(select(Centre)).all()}
        wanted = {cid for cid, c in centres.items() if centre_code in (None, c.code)}
        incidents = [i for i in tx.exec(
            select(Incident).where(col(Incident.started_at) >= period.since)
            .where(col(Incident.started_at) < period.until)
            .order_by(col(Incident.started_at), col(Incident.id))).all()
            if i.centre_id in wanted]
        links: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for chunk in _chunks([i.id for i in incidents]):
            for link in tx.exec(select(IncidentCheckIn)
                                .where(col(IncidentCheckIn.incident_id).in_(chunk))).all():
                links[link.incident_id].append(link.checkin_id)
        suspicious = [c for c in tx.exec(
            select(CheckIn).where(col(CheckIn.decided_at) >= period.since)
            .where(col(CheckIn.decided_at) < period.until)
            .where((func.upper(col(CheckIn.face_outcome)) == "NO_MATCH")
                   | (func.upper(col(CheckIn.trust_verdict)) == Verdict.FORGED.value))).all()
            if c.centre_id in wanted]
        # A check-in some incident is about (of any kind, any date) is reported there.
        with_incident: set[uuid.UUID] = set()
        for chunk in _chunks([c.id for c in suspicious]):
            with_incident.update(tx.exec(select(IncidentCheckIn.checkin_id)
                                  .where(col(IncidentCheckIn.checkin_id).in_(chunk))).all())
        derived = [(c, cat) for c in suspicious if c.id not in with_incident
                   for cat in _checkin_categories(c)]
        checkin_ids = {cid for ids in links.values() for cid in ids} | {c.id for c, _ in derived}
        checkins = {c.id: c for chunk in _chunks(list(checkin_ids))
                    for c in tx.exec(select(CheckIn).where(col(CheckIn.id).in_(chunk))).all()}
        entry_ids = {c.roster_entry_id for c in checkins.values() if c.roster_entry_id} | {
            i.roster_entry_id for i in incidents if i.roster_entry_id}
        people = _people(tx, entry_ids)
        session_ids = {i.session_id for i in incidents} | {c.session_id for c, _ in derived}
        in_period = [s for s in tx.exec(
            select(ExamSession).where(col(ExamSession.starts_at) >= period.since)
            .where(col(ExamSession.starts_at) < period.until)).all() if s.centre_id in wanted]
        sessions = {s.id: s for s in in_period}
        for chunk in _chunks(list(session_ids - set(sessions))):
            sessions.update({s.id: s for s in tx.exec(
                select(ExamSession).where(col(ExamSession.id).in_(chunk))).all()})
        counts = _session_counts(tx, list(sessions))
    pics = _pictures(store, list(checkins), [i.id for i in incidents], pictures)
    findings: list[Finding] = []
    for inc in incidents:
        linked = [checkins[c] for c in links[inc.id] if c in checkins]
        linked.sort(key=lambda c: c.decided_at)
        findings.append(_from_incident(inc, linked, centres, sessions, people, pics))
    for c, cat in derived:
        findings.append(_from_checkin(c, cat, centres, sessions, people, pics))
    findings.sort(key=lambda f: (f.started_at, str(f.id)))
    session_stats, centre_stats = _stats(findings, sessions, centres, counts)
    return FraudData(period, centre_code, datetime.now(UTC), tuple(findings),
                     session_stats, centre_stats)


def _chunks(ids: list[uuid.UUID], size: int = 500) -> Iterable[list[uuid.UUID]]:
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def _checkin_categories(c: CheckIn) -> list[Category]:
    found = []
    # Stored as words (biometrics writes "no_match"; upper-case in older rows and imports).
    if (c.face_outcome or "").upper() == "NO_MATCH":
        found.append(Category.FACE_MISMATCH)
    if (c.trust_verdict or "").upper() == Verdict.FORGED.value:
        found.append(Category.FORGED_CARD)
    return found


@dataclass(frozen=True)
class _Person:
    id_number: str
    full_name: str
    registration_number: str


def _people(tx: Session, entry_ids: set[uuid.UUID]) -> dict[uuid.UUID, _Person]:
    out: dict[uuid.UUID, _Person] = {}
    for chunk in _chunks(list(entry_ids)):
        rows = tx.exec(select(RosterEntry, Candidate)
                       .join(Candidate, col(Candidate.id) == col(RosterEntry.candidate_id))
                       .where(col(RosterEntry.id).in_(chunk))).all()
        for entry, cand in rows:
            out[entry.id] = _Person(cand.id_number, cand.full_name, entry.registration_number)
    return out


def _session_counts(tx: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[int, int, int]]:
    """(rostered, candidates checked in, check-ins) per session, three grouped queries."""
    rostered: dict[uuid.UUID, int] = {}
    present: dict[uuid.UUID, int] = {}
    attempts: dict[uuid.UUID, int] = {}
    for chunk in _chunks(ids):
        for sid, n in tx.exec(select(RosterEntry.session_id, func.count())
                              .where(col(RosterEntry.session_id).in_(chunk))
                              .group_by(col(RosterEntry.session_id))).all():
            rostered[sid] = int(n)
        for sid, n in tx.exec(select(CheckIn.session_id,
                                     func.count(func.distinct(col(CheckIn.roster_entry_id))))
                              .where(col(CheckIn.session_id).in_(chunk))
                              .group_by(col(CheckIn.session_id))).all():
            present[sid] = int(n)
        for sid, n in tx.exec(select(CheckIn.session_id, func.count())
                              .where(col(CheckIn.session_id).in_(chunk))
                              .group_by(col(CheckIn.session_id))).all():
            attempts[sid] = int(n)
    return {sid: (rostered.get(sid, 0), present.get(sid, 0), attempts.get(sid, 0))
            for sid in ids}


def _pictures(store: Store, checkin_ids: list[uuid.UUID], incident_ids: list[uuid.UUID],
              spec: ThumbSpec | None) -> dict[tuple[uuid.UUID, str], list[Picture]]:
    """Pictures keyed by (check-in id, "portrait"/"frame") and (incident id, "incident")."""
    rows: list[Evidence] = []
    with store.read() as tx:
        for chunk in _chunks(checkin_ids):
            rows += tx.exec(select(Evidence).where(col(Evidence.checkin_id).in_(chunk))
                            .where(col(Evidence.kind).in_([EvidenceKind.CHIP_PORTRAIT,
                                                           EvidenceKind.LIVE_FRAME]))
                            .order_by(col(Evidence.captured_at), col(Evidence.id))).all()
        for chunk in _chunks(incident_ids):
            rows += tx.exec(select(Evidence).where(col(Evidence.incident_id).in_(chunk))
                            .where(col(Evidence.kind).in_([EvidenceKind.CHIP_PORTRAIT,
                                                           EvidenceKind.LIVE_FRAME]))
                            .order_by(col(Evidence.captured_at), col(Evidence.id))).all()
    out: dict[tuple[uuid.UUID, str], list[Picture]] = defaultdict(list)
    chosen: list[tuple[tuple[uuid.UUID, str], Evidence]] = []
    seen: set[tuple[uuid.UUID, str]] = set()
    for ev in rows:
        if ev.incident_id is not None:
            key = (ev.incident_id, "incident")
        else:
            assert ev.checkin_id is not None
            which = "portrait" if ev.kind == EvidenceKind.CHIP_PORTRAIT else "frame"
            key = (ev.checkin_id, which)
            if key in seen:
                continue  # the first of each kind, as on the roster
            seen.add(key)
        chosen.append((key, ev))
    for key, ev in chosen:
        out[key].append(_picture(store, ev, spec, decode=key[1] != "incident"
                                 or len(out[key]) < MAX_FRAMES))
    return out


def _picture(store: Store, ev: Evidence, spec: ThumbSpec | None, *, decode: bool) -> Picture:
    if ev.purged_at is not None:
        return Picture(ev.id, "purged", None)
    if spec is None or not decode:
        return Picture(ev.id, "ok", None)
    with store.read() as tx:
        blob = tx.get(EvidenceBlob, ev.id)
    if blob is None:
        return Picture(ev.id, "purged", None)
    try:
        data = open_blob(store, ev, blob)
    except Exception:  # another data key or an altered blob: say so on the report
        return Picture(ev.id, "unreadable", None)
    thumb = thumbnail(data, spec)
    return Picture(ev.id, "ok" if thumb else "unreadable", thumb)


def _evidence(c: CheckIn, people: dict[uuid.UUID, _Person],
              pics: dict[tuple[uuid.UUID, str], list[Picture]]) -> CheckInEvidence:
    person = people.get(c.roster_entry_id) if c.roster_entry_id else None
    portrait = pics.get((c.id, "portrait"), [None])[0]
    frame = pics.get((c.id, "frame"), [None])[0]
    return CheckInEvidence(c.id, c.id_number, person.full_name if person else None,
                           person.registration_number if person else None, c.decided_at,
                           c.decision.value, c.machine_decision.value, c.face_outcome,
                           c.face_distance, c.trust_verdict, tuple(c.trust_findings or ()),
                           portrait, frame)


def _from_incident(inc: Incident, linked: list[CheckIn], centres: dict[uuid.UUID, Centre],
                   sessions: dict[uuid.UUID, ExamSession], people: dict[uuid.UUID, _Person],
                   pics: dict[tuple[uuid.UUID, str], list[Picture]]) -> Finding:
    centre, session = centres[inc.centre_id], sessions[inc.session_id]
    person = people.get(inc.roster_entry_id) if inc.roster_entry_id else None
    evidence = tuple(_evidence(c, people, pics) for c in linked)
    if person is None and evidence:
        first = evidence[0]
        person = _Person(first.id_number, first.full_name or "", first.registration_number or "")
    frames = pics.get((inc.id, "incident"), [])
    return Finding(
        inc.id, "incident", CATEGORY_OF.get(IncidentKind(inc.kind), Category.OTHER),
        inc.kind.value, inc.severity.value, inc.status.value, centre.code, centre.name,
        session.id, session.code, session.title, inc.started_at, inc.ended_at,
        person.id_number if person else None, (person.full_name or None) if person else None,
        (person.registration_number or None) if person else None, inc.message_key,
        dict(inc.details or {}), inc.reviewer_notes, evidence,
        tuple(p for p in frames if p.thumb is not None or p.state != "ok")[:MAX_FRAMES],
        tuple(p.evidence_id for p in frames))


def _from_checkin(c: CheckIn, category: Category, centres: dict[uuid.UUID, Centre],
                  sessions: dict[uuid.UUID, ExamSession], people: dict[uuid.UUID, _Person],
                  pics: dict[tuple[uuid.UUID, str], list[Picture]]) -> Finding:
    centre, session = centres[c.centre_id], sessions[c.session_id]
    ev = _evidence(c, people, pics)
    details: dict[str, Any] = {"face_distance": c.face_distance,
                               "trust_findings": list(c.trust_findings or [])}
    return Finding(c.id, "checkin", category, None, None, None, centre.code, centre.name,
                   session.id, session.code, session.title, c.decided_at, None, c.id_number,
                   ev.full_name, ev.registration_number,
                   c.reasons[0]["key"] if c.reasons else None, details, None, (ev,), (), ())


def _stats(findings: Sequence[Finding], sessions: dict[uuid.UUID, ExamSession],
           centres: dict[uuid.UUID, Centre], counts: dict[uuid.UUID, tuple[int, int, int]]
           ) -> tuple[tuple[Stats, ...], tuple[Stats, ...]]:
    per_session: dict[uuid.UUID, Counter[Category]] = defaultdict(Counter)
    open_per_session: Counter[uuid.UUID] = Counter()
    for f in findings:
        per_session[f.session_id][f.category] += 1
        if f.status in (None, "OPEN"):
            open_per_session[f.session_id] += 1
    lines = []
    for s in sorted(sessions.values(), key=lambda s: (centres[s.centre_id].code, s.starts_at,
                                                       s.code)):
        rostered, present, attempts = counts.get(s.id, (0, 0, 0))
        lines.append((s.centre_id, Stats(centres[s.centre_id].code, s.code, s.title,
                                         s.starts_at, 1, rostered, present, attempts,
                                         dict(per_session[s.id]), open_per_session[s.id])))
    by_centre: dict[uuid.UUID, list[Stats]] = defaultdict(list)
    for cid, line in lines:
        by_centre[cid].append(line)
    centre_lines = []
    for cid in sorted(by_centre, key=lambda c: centres[c].code):
        group = by_centre[cid]
        total: Counter[Category] = Counter()
        for line in group:
            total.update(line.by_category)
        centre_lines.append(Stats(centres[cid].code, None, centres[cid].name, None, len(group),
                                  sum(g.rostered for g in group),
                                  sum(g.checked_in for g in group),
                                  sum(g.checkins for g in group), dict(total),
                                  sum(g.open for g in group)))
    return tuple(line for _, line in lines), tuple(centre_lines)


def parse_day(text: str, field: str) -> date:
    """dd/mm/yyyy (on screen) or yyyy-mm-dd (ISO)."""
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise NotADate(f"{field} {text!r} is not a date", field=field, value=text.strip())
