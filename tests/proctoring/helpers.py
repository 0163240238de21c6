"""Small builders shared by the storage tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from proctoring.centres import ensure_centre
from proctoring.checkins import (
    CheckInInput,
    Reason,
    RecordedCheckIn,
    embedding_item,
    record_checkin,
)
from proctoring.evidence import EvidenceItem
from proctoring.models import (
    Candidate,
    Decision,
    EvidenceKind,
    ExamSession,
    IncidentKind,
    RosterEntry,
    SessionKind,
    Stage,
)
from proctoring.sessions import create_session
from proctoring.store import Store
from reader.virtual.faces import faces_dir

ACTOR = "test:pytest"

# Valid 12-digit IDs (province, century/sex digit and year agree with the DOB and sex).
PEOPLE = [
    ("001093014275", "Nguyễn Văn An", date(1993, 5, 14), "M"),
    ("001190012345", "Phạm Thị Hồng", date(1990, 2, 3), "F"),
    ("079205000123", "Trần Minh Khôi", date(2005, 7, 1), "M"),
    ("048301001122", "Lê Thị Mai", date(2001, 11, 30), "F"),
]


def isolate_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Nothing a test does touches the real data folder, settings, keys or OS keyring: a home
    in the test's folder, no keyring, none of the variables that point elsewhere."""
    home = tmp_path / "home"
    monkeypatch.setenv("EXAMDESK_HOME", str(home))
    monkeypatch.setenv("EXAMDESK_KEYRING", "0")
    for name in ("EXAMDESK_DB_URL", "EXAMDESK_CENTRAL_URL", "EXAMDESK_CENTRE",
                 "EXAMDESK_KEY_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return home


@cache
def photo(name: str = "obama/obama.jpg") -> bytes:
    """Bytes of a real photo from the shared face set (never a synthetic face)."""
    return (faces_dir() / "people" / name).read_bytes()


def photos(n: int) -> list[bytes]:
    files = sorted((faces_dir() / "people").glob("person0*/*.jpg"))[:n]
    return [Path(f).read_bytes() for f in files]


def embedding(seed: int, n: int = 1) -> np.ndarray:
    """A unit-length float32 vector (n, 128): stands for a face descriptor in storage tests."""
    v = np.random.default_rng(seed).standard_normal((n, 128)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def centre_and_session(store: Store, kind: SessionKind = SessionKind.ONLINE_EXAM,
                       code: str = "S1") -> ExamSession:
    centre = ensure_centre(store, "HN01", "Trung tâm Hà Nội", actor=ACTOR)
    return create_session(store, centre_id=centre.id, kind=kind, title="Thi thử",
                          starts_at=datetime(2025, 6, 12, 0, 30, tzinfo=UTC), code=code,
                          actor=ACTOR)


def add_roster(store: Store, session: ExamSession, people: list[tuple[str, str, date, str]]
               = PEOPLE) -> list[RosterEntry]:
    entries = []
    with store.write() as tx:
        for i, (number, name, dob, sex) in enumerate(people, 1):
            cand = Candidate(centre_id=session.centre_id, id_number=number, full_name=name,
                             date_of_birth=dob, sex=sex)
            tx.add(cand)
            tx.flush()
            entry = RosterEntry(centre_id=session.centre_id, session_id=session.id,
                                candidate_id=cand.id, registration_number=f"{i:03d}",
                                seat=f"A{i:02d}", position=i)
            tx.add(entry)
            entries.append(entry)
    return entries


def checkin(store: Store, session: ExamSession, entry: RosterEntry | None, id_number: str, *,
            decision: Decision = Decision.ADMIT, seed: int = 0, stage: Stage | None = None,
            portrait: bytes | None = None, checkin_id: uuid.UUID | None = None,
            consent: bool = True) -> RecordedCheckIn:
    evidence = []
    if consent:
        evidence = [
            EvidenceItem(EvidenceKind.CHIP_PORTRAIT, portrait or photo(), "image/jpeg"),
            EvidenceItem(EvidenceKind.LIVE_FRAME, photo("obama/obama2.jpg"), "image/jpeg"),
            embedding_item(embedding(seed)),
        ]
    item = CheckInInput(
        session_id=session.id, id_number=id_number, decision=decision,
        reasons=[Reason("checkin.face_match", "distance 0.31")], consent=consent,
        started_at=datetime.now(UTC), roster_entry_id=entry.id if entry else None,
        stage=stage, trust_verdict="SUSPICIOUS", trust_findings=["passive.no_csca"],
        face_outcome="MATCH", face_distance=0.31, liveness="PASSED", evidence=evidence,
        **({"checkin_id": checkin_id} if checkin_id else {}))
    return record_checkin(store, item, actor=ACTOR)


@contextmanager
def statements_sent(store: Store, keep: Callable[[str], bool]) -> Iterator[list[str]]:
    """The SQL statements ``store`` sends while the block runs, those ``keep`` picks: the
    round trips a desk pays on a shared centre database, counted where they leave."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if keep(statement):
            sent.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)


def empty_chair(folder: Path) -> Path:
    """The lower part of a real photo (a suit and a tie), written into ``folder``: the
    candidate left the seat; no face in it."""
    from PIL import Image

    photo = Image.open(faces_dir() / "people" / "obama" / "obama.jpg").convert("RGB")
    w, h = photo.size
    out = folder / "empty.png"
    photo.crop((0, int(h * 0.62), w, h)).save(out)
    return out


def seat_incident_worded(kind: IncidentKind, keys: tuple[str, ...], store: Store, day: date,
                         folder: Path) -> dict[str, str]:
    """A seat incident kind's words: every catalogue key (plus the fraud category's two) has
    its own Vietnamese and English text; the day's fraud findings are that one kind; and the
    fraud report's text per language, as a reader gets it from the PDF (NFC, white space
    folded), for the caller to look for its words in."""
    import unicodedata

    from examdesk.i18n import Catalog
    from reports.fraud import fraud_pdf
    from reports.incidents import CATEGORY_OF, Period, collect_fraud
    from reports.layout import catalog_words
    from tests.reports.conftest import pdftotext

    catalog = Catalog.load()
    category = CATEGORY_OF[kind].value
    for key in (*keys, f"fraud.category.{category}", f"fraud.what.{category}"):
        vi, en = catalog.text(key, "vi"), catalog.text(key, "en")
        assert vi != key and en != key and vi != en, key
    data = collect_fraud(store, Period(day, day))
    assert [f.kind for f in data.findings] == [kind.value]
    text = {}
    for lang in ("vi", "en"):
        path = folder / f"fraud-{lang}.pdf"
        path.write_bytes(fraud_pdf(data, catalog_words(lang), lang=lang))
        text[lang] = unicodedata.normalize("NFC", " ".join(pdftotext(path).split()))
    return text
