"""Realistic sessions for the report tests, made with the proctoring services on a real store.

Chip portraits and live frames are real photos from ``shared/faces/people`` (never synthetic):
the portrait and the frame of a candidate are two different photos of the same person, except
where a test wants a mismatch. Names are Vietnamese with diacritics, IDs valid CCCD numbers.
"""

from __future__ import annotations

import dataclasses
import io
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image
from sqlmodel import select

from proctoring.centres import add_user, ensure_centre
from proctoring.checkins import (
    CheckInInput,
    NewIncident,
    Reason,
    RecordedCheckIn,
    record_checkin,
    record_incident,
    record_override,
)
from proctoring.evidence import EvidenceItem
from proctoring.models import (
    Candidate,
    Centre,
    Decision,
    EvidenceKind,
    ExamSession,
    IncidentKind,
    Role,
    RosterEntry,
    SessionKind,
    Severity,
    Stage,
    User,
)
from proctoring.sessions import create_session
from proctoring.store import Store
from reader.virtual.faces import faces_dir

ACTOR = "test:reports"
# The morning of the exam, 07:30 in Hanoi.
EXAM_START = datetime(2025, 6, 12, 0, 30, tzinfo=UTC)

NAMES = [
    "Nguyễn Văn An", "Phạm Thị Hồng", "Trần Minh Khôi", "Lê Thị Mai", "Đặng Thuỳ Dương",
    "Hoàng Ngọc Ánh", "Vũ Đức Thắng", "Bùi Thị Tuyết Nhung", "Huỳnh Quốc Việt",
    "Đỗ Hữu Phước", "Ngô Thị Quỳnh Hương", "Dương Gia Bảo", "Lý Thị Ngọc Diệp",
    "Phan Thanh Sơn", "Võ Thị Mỹ Duyên", "Hồ Sỹ Tiến",
]
PROVINCES = ["001", "079", "048", "031", "092", "038", "040", "075"]


def id_number(index: int, dob: date, sex: str) -> str:
    """A valid 12-digit CCCD number: province, century/sex digit, birth year, serial."""
    century = 0 if dob.year < 2000 else 2
    g = century + (1 if sex == "F" else 0)
    return f"{PROVINCES[index % len(PROVINCES)]}{g}{dob.year % 100:02d}{100000 + index:06d}"


def sex_of(name: str) -> str:
    return "F" if " Thị " in f" {name} " or name.split()[-1] in ("Mai", "Ánh", "Dương") else "M"


@cache
def person_photos() -> list[list[Path]]:
    """Folders of real photos, one per identity, each with at least two photos."""
    folders = sorted(p for p in (faces_dir() / "people").iterdir() if p.is_dir())
    out = []
    for folder in folders:
        files = sorted(folder.glob("*.jpg"))
        files = [f for f in files if f.name != "img67.jpg"]  # two people in one photo
        if len(files) >= 2:
            out.append(files)
    return out


@cache
def photo_bytes(path: Path) -> bytes:
    return path.read_bytes()


def jpeg2000(path: Path) -> bytes:
    """The same real photo re-encoded as JPEG 2000 (how many chips store DG2)."""
    with Image.open(path) as im:
        out = io.BytesIO()
        im.convert("RGB").save(out, "JPEG2000", quality_mode="rates", quality_layers=[20])
        return out.getvalue()


@dataclass
class Built:
    centre: Centre
    session: ExamSession
    entries: list[RosterEntry]
    candidates: list[Candidate]
    invigilators: list[User]
    checkins: dict[tuple[int, Stage | None], RecordedCheckIn] = field(default_factory=dict)


def make_centre(store: Store, code: str = "HN01",
                name: str = "Trung tâm Khảo thí Hà Nội") -> tuple[Centre, list[User]]:
    centre = ensure_centre(store, code, name, actor=ACTOR)
    users = []
    for i, full in enumerate(("Nguyễn Thị Lan", "Trần Văn Hùng")):
        username = f"{code.lower()}-gt{i + 1}"
        with store.read() as tx:
            found = tx.exec(select(User).where(User.username == username)).first()
        users.append(found or add_user(store, centre_id=centre.id, username=username,
                                       full_name=full, role=Role.INVIGILATOR, actor=ACTOR))
    return centre, users


def make_session(store: Store, centre: Centre, *, kind: SessionKind, code: str,
                 title: str, people: int, stages: list[Stage] | None = None,
                 starts_at: datetime = EXAM_START) -> tuple[ExamSession, list[RosterEntry],
                                                            list[Candidate]]:
    session = create_session(store, centre_id=centre.id, kind=kind, title=title,
                             starts_at=starts_at, code=code, stages=stages, actor=ACTOR)
    entries, candidates = [], []
    with store.write() as tx:
        for i in range(people):
            name = NAMES[i % len(NAMES)]
            dob = date(1985 + (i * 7) % 20, 1 + i % 12, 1 + (i * 3) % 28)
            sex = sex_of(name)
            number = id_number(i, dob, sex)
            cand = tx.exec(select(Candidate).where(Candidate.centre_id == centre.id)
                           .where(Candidate.id_number == number)).first()
            if cand is None:
                cand = Candidate(centre_id=centre.id, id_number=number, full_name=name,
                                 date_of_birth=dob, sex=sex)
                tx.add(cand)
                tx.flush()
            entry = RosterEntry(centre_id=centre.id, session_id=session.id,
                                candidate_id=cand.id, registration_number=f"{code[:2]}{i + 1:03d}",
                                seat=f"P{1 + i // 10}-{i % 10 + 1:02d}"
                                if kind is SessionKind.ONLINE_EXAM else None,
                                vehicle=f"29A-{10000 + i}" if kind is SessionKind.DRIVING_TEST
                                else None, position=i + 1)
            tx.add(entry)
            entries.append(entry)
            candidates.append(cand)
    return session, entries, candidates


def evidence_for(person: int, *, live_person: int | None = None,
                 jp2: bool = False, at: datetime | None = None) -> list[EvidenceItem]:
    """Chip portrait = first photo of ``person``; live frame = their second photo (or the
    second photo of ``live_person``: a different face)."""
    folders = person_photos()
    chip = folders[person % len(folders)][0]
    live = folders[(live_person if live_person is not None else person) % len(folders)][1]
    portrait = jpeg2000(chip) if jp2 else photo_bytes(chip)
    return [EvidenceItem(EvidenceKind.CHIP_PORTRAIT, portrait,
                         "image/jp2" if jp2 else "image/jpeg", at),
            EvidenceItem(EvidenceKind.LIVE_FRAME, photo_bytes(live), "image/jpeg", at)]


def check_in(store: Store, built: Built, i: int, *, decision: Decision = Decision.ADMIT,
             stage: Stage | None = None, live_person: int | None = None, jp2: bool = False,
             distance: float = 0.31, face: str = "match", trust: str = "SUSPICIOUS",
             at: datetime | None = None, incidents: tuple[NewIncident, ...] = (),
             operator: int = 0, desk: str | None = None) -> RecordedCheckIn:
    when = at or built.session.starts_at - timedelta(minutes=30) + timedelta(minutes=i)
    entry, cand = built.entries[i], built.candidates[i]
    item = CheckInInput(
        session_id=built.session.id, id_number=cand.id_number, decision=decision,
        # The reasons the decision code gives (proctoring/checkin.py): none for a match.
        reasons=[] if face == "match" else [Reason(
            "checkin.face_mismatch" if face == "no_match" else "checkin.face_review",
            f"distance {distance}", {"distance": distance})],
        consent=True, started_at=when - timedelta(seconds=20), decided_at=when,
        roster_entry_id=entry.id, stage=stage, trust_verdict=trust,
        trust_findings=["passive.no_csca"] if trust == "SUSPICIOUS" else [],
        face_outcome=face, face_distance=distance, liveness="passed",
        operator_id=built.invigilators[operator].id, desk=desk,
        evidence=evidence_for(i, live_person=live_person, jp2=jp2, at=when),
        # An incident raised at check-in starts when the decision was made.
        incidents=tuple(dataclasses.replace(n, started_at=n.started_at or when)
                        for n in incidents),
        checkin_id=uuid.uuid4())
    recorded = record_checkin(store, item, actor=ACTOR)
    built.checkins[(i, stage)] = recorded
    return recorded


def online_exam(store: Store, people: int = 12, code: str = "TH-0612") -> Built:
    """An online exam: mostly admitted, one rejected for a face mismatch, one to review, one
    rejection overridden with a written reason, one JPEG 2000 chip portrait, two absent, and
    a card whose holder is not on the roster."""
    centre, users = make_centre(store)
    session, entries, candidates = make_session(
        store, centre, kind=SessionKind.ONLINE_EXAM, code=code,
        title="Tin học ứng dụng cơ bản — ca sáng", people=people)
    built = Built(centre, session, entries, candidates, users)
    absent = {people - 1, people - 3}
    for i in range(people):
        if i in absent:
            continue
        if i == 2:
            check_in(store, built, i, decision=Decision.REJECT, live_person=i + 5,
                     distance=0.71, face="no_match",
                     incidents=(NewIncident(IncidentKind.FACE_MISMATCH, Severity.HIGH,
                                            "incident.face_mismatch",
                                            {"distance": 0.71}),))
        elif i == 4:
            check_in(store, built, i, decision=Decision.REVIEW, distance=0.52, face="review")
        elif i == 5:
            rec = check_in(store, built, i, decision=Decision.REJECT, distance=0.58,
                           face="review", operator=1)
            record_override(store, rec.checkin.id, decision=Decision.ADMIT,
                            reason="Thí sinh đã cắt tóc và bỏ kính; giám thị đối chiếu "
                                   "trực tiếp với CCCD, xác nhận đúng người.",
                            operator_id=users[1].id, actor=ACTOR)
        else:
            check_in(store, built, i, jp2=i == 1, operator=i % 2)
    # A card whose holder is on no roster line: refused, kept all the same.
    record_checkin(store, CheckInInput(
        session_id=session.id, id_number="001099012345", decision=Decision.REJECT,
        reasons=[Reason("checkin.not_on_roster")], consent=False,
        started_at=session.starts_at - timedelta(minutes=3),
        decided_at=session.starts_at - timedelta(minutes=2)), actor=ACTOR)
    return built


def driving_test(store: Store, people: int = 6, code: str = "B2-0612",
                 centre_code: str = "HN01",
                 centre_name: str = "Trung tâm Khảo thí Hà Nội") -> Built:
    """A driving test with two stages: everyone at theory, one absent at the yard."""
    centre, users = make_centre(store, centre_code, centre_name)
    session, entries, candidates = make_session(
        store, centre, kind=SessionKind.DRIVING_TEST, code=code,
        title="Sát hạch lái xe hạng B2", people=people, stages=[Stage.THEORY, Stage.YARD])
    built = Built(centre, session, entries, candidates, users)
    for i in range(people):
        check_in(store, built, i, stage=Stage.THEORY)
        if i != 3:
            check_in(store, built, i, stage=Stage.YARD, operator=1,
                     at=session.starts_at + timedelta(hours=2, minutes=i * 7))
    return built


def incident_online(store: Store, built: Built, i: int, kind: IncidentKind,
                    minutes: int, frames: list[Path]) -> None:
    """An online-exam monitor incident (face absent, several faces) with real frames."""
    start = built.session.starts_at + timedelta(minutes=minutes)
    record_incident(store, built.session.id, NewIncident(
        kind, Severity.MEDIUM, f"incident.{kind.value.lower()}", {"seconds": 95},
        related_checkins=[built.checkins[(i, None)].checkin.id],
        evidence=[EvidenceItem(EvidenceKind.LIVE_FRAME, f.read_bytes(), "image/jpeg", start)
                  for f in frames],
        started_at=start, ended_at=start + timedelta(seconds=95),
        roster_entry_id=built.entries[i].id), actor=ACTOR)


def fraud_scenario(store: Store) -> tuple[Built, Built]:
    """Two centres, every kind of finding: a face mismatch and an override (from
    :func:`online_exam`), a proxy (one face under two IDs), absences and several faces during
    the online exam with the monitor's frames, a forged card at the driving test, and a
    rejected face mismatch for which nobody opened an incident."""
    exam = online_exam(store)
    # Candidate 7's live capture is candidate 6's face: one face under two IDs.
    first = exam.checkins[(6, None)].checkin.id
    exam.checkins.pop((7, None))
    check_in(store, exam, 7, decision=Decision.REVIEW, live_person=6, distance=0.63,
             face="no_match", incidents=(NewIncident(
                 IncidentKind.PROXY_SUSPECTED, Severity.CRITICAL, "incident.proxy_suspected",
                 {"other_checkin": str(first), "distance": 0.28},
                 related_checkins=[first]),))
    several = sorted((faces_dir() / "several").glob("*.jpg"))
    # The monitor's frames when the face left the webcam: a face cut off by the border.
    incident_online(store, exam, 0, IncidentKind.FACE_ABSENT, 40,
                    sorted((faces_dir() / "partial").glob("*.jpg"))[:1])
    incident_online(store, exam, 3, IncidentKind.SEVERAL_FACES, 75, several[:2])
    road = driving_test(store, code="B2-HCM", centre_code="HCM02",
                        centre_name="Trung tâm Sát hạch lái xe TP. Hồ Chí Minh")
    # A forged card: the portrait was swapped after signing, the chip says so.
    check_in(store, road, 4, stage=Stage.YARD, decision=Decision.REJECT, trust="FORGED",
             live_person=4, at=road.session.starts_at + timedelta(hours=3),
             incidents=(NewIncident(IncidentKind.FORGED_CARD, Severity.CRITICAL,
                                    "incident.forged_card",
                                    {"findings": ["passive.dg2_hash_mismatch"]}),))
    # Rejected for a face mismatch, no incident opened by the station.
    check_in(store, road, 1, stage=Stage.YARD, decision=Decision.REJECT, live_person=9,
             distance=0.69, face="no_match",
             at=road.session.starts_at + timedelta(hours=3, minutes=5))
    return exam, road


def roster_page(keywords: str) -> bytes:
    """A one-page PDF titled like a roster, ``keywords`` in its metadata (where a roster's QR
    payload stands): the page a forger starts from."""
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    canvas = Canvas(out)
    canvas.setKeywords(keywords)
    canvas.drawString(72, 720, "Danh sách thí sinh")
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def unsigned_roster(canonical: bytes, keywords: str) -> bytes:
    """An unsigned roster carrying ``canonical`` as its facts, correctly hashed, on
    :func:`roster_page` (anyone can make one; what it states in ``keywords`` is up to them)."""
    from reports.facts import content_hash
    from reports.pdfmeta import finish_pdf

    return finish_pdf(roster_page(keywords), canonical=canonical,
                      content_hash=content_hash(canonical), signature_page=0,
                      signature_rect=(72, 72, 272, 132))


def roster_and_facts(store: Store, code: str) -> tuple[bytes, dict[str, Any]]:
    """Session ``code``'s roster PDF as examdesk makes it (unsigned, Vietnamese), and the facts
    embedded in it, read back as ``roster verify`` reads them."""
    import json

    from pyhanko.pdf_utils.reader import PdfFileReader

    from reports.layout import catalog_words
    from reports.pdfmeta import read_embedded_facts
    from reports.roster import roster_pdf

    pdf = roster_pdf(store, code, catalog_words("vi"))
    canonical = read_embedded_facts(PdfFileReader(io.BytesIO(pdf.data))).canonical
    assert canonical is not None
    facts: dict[str, Any] = json.loads(canonical)
    return pdf.data, facts
