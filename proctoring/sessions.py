"""Exam sessions: create, find, list, close."""

from __future__ import annotations

import secrets
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from examdesk.timezone import VIETNAM  # Asia/Ho_Chi_Minh: UTC+7 all year

from .centres import get_centre
from .errors import (
    AmbiguousReference,
    InvalidInput,
    MomentNeedsTime,
    SessionClosed,
    SessionCodeTaken,
    SessionNotClosed,
    SessionNotFound,
    SessionReopenNeedsReason,
)
from .id_prefix import by_prefix, by_uuid, hex_prefix
from .models import Centre, ExamSession, RosterEntry, SessionKind, SessionStatus, Stage
from .session_dates import check_start
from .store import Store


def session_stages(kind: SessionKind, stages: Sequence[Stage | str] | None) -> tuple[Stage, ...]:
    """Stages a session of this kind runs, validated and in the order candidates take them."""
    if kind is SessionKind.ONLINE_EXAM:
        if stages:
            raise InvalidInput("an online exam has no stages", field="stages")
        return ()
    if not stages:
        return tuple(Stage)
    try:
        chosen = {Stage(str(s).strip().lower()) for s in stages}
    except ValueError as exc:
        raise InvalidInput(str(exc), field="stages") from None
    return tuple(s for s in Stage if s in chosen)


def create_session(store: Store, *, centre_id: uuid.UUID, kind: SessionKind, title: str,
                   starts_at: datetime, actor: str, code: str | None = None,
                   stages: Sequence[Stage | str] | None = None,
                   ends_at: datetime | None = None) -> ExamSession:
    kind = SessionKind(kind)
    title = " ".join(unicodedata.normalize("NFC", title).split())
    if not title:
        raise InvalidInput("a session needs a title", field="title")
    if ends_at is not None and ends_at <= starts_at:
        raise InvalidInput("the session ends before it starts", field="ends_at")
    check_start(starts_at, store.now())  # 1926 or a year typed wrong: session_dates.py
    chosen = session_stages(kind, stages)
    code = (code or "").strip() or (
        f"{starts_at.astimezone(VIETNAM):%Y%m%d}-{secrets.token_hex(3)}")
    try:
        with store.write() as tx:
            get_centre(tx, centre_id)
            session = ExamSession(centre_id=centre_id, code=code, kind=kind, title=title,
                                  stages=",".join(s.value for s in chosen), starts_at=starts_at,
                                  ends_at=ends_at, created_by=actor)
            tx.add(session)
            tx.flush()
            store.audit.append(tx, centre_id=centre_id, actor=actor, action="session.created",
                               subject_id=session.id,
                               payload={"code": code, "kind": kind, "title": title,
                                        "stages": [s.value for s in chosen],
                                        "starts_at": starts_at, "ends_at": ends_at},
                               at=store.now())
            return session
    except IntegrityError:
        raise SessionCodeTaken(f"session code {code!r} is taken", field="code",
                               code=code) from None


def find_session(tx: Session, ref: str, *, centre_id: uuid.UUID | None = None) -> ExamSession:
    """By UUID, by code, or by the first characters of the UUID (like a git hash)."""
    ref = ref.strip()
    query = select(ExamSession)
    if centre_id is not None:
        query = query.where(ExamSession.centre_id == centre_id)
    exact = by_uuid(tx, query, ExamSession.id, ref)
    if exact is not None:
        return exact
    matches = list(tx.exec(query.where(ExamSession.code == ref)).all())
    digits = hex_prefix(ref)
    if not matches and digits is not None:
        matches = by_prefix(tx, query, ExamSession.id, digits)
    if not matches:
        raise SessionNotFound(f"no session {ref!r}", ref=ref)
    if len(matches) > 1:
        raise AmbiguousReference(f"{len(matches)} sessions match {ref!r}", ref=ref)
    return matches[0]


def require_open(session: ExamSession) -> None:
    if session.status is not SessionStatus.OPEN:
        raise SessionClosed(f"session {session.code} is closed", session=session.code)


@dataclass(frozen=True)
class SessionInfo:
    session: ExamSession
    centre_code: str
    roster_count: int

    def to_dict(self) -> dict[str, Any]:
        s = self.session
        return {
            "id": str(s.id), "code": s.code, "centre": self.centre_code, "kind": s.kind.value,
            "title": s.title, "stages": [x.value for x in s.stage_list],
            "starts_at": s.starts_at.isoformat(),
            "ends_at": s.ends_at.isoformat() if s.ends_at else None,
            "status": s.status.value,
            "closed_at": s.closed_at.isoformat() if s.closed_at else None,
            "roster": self.roster_count,
        }


def list_sessions(store: Store, *, centre_id: uuid.UUID | None = None,
                  status: SessionStatus | None = None) -> list[SessionInfo]:
    """Newest first, with roster sizes (one query)."""
    counts = (select(RosterEntry.session_id, func.count().label("n"))
              .group_by(col(RosterEntry.session_id)).subquery())
    query = (select(ExamSession, Centre.code, counts.c.n)
             .join(Centre, col(Centre.id) == col(ExamSession.centre_id))
             .outerjoin(counts, counts.c.session_id == col(ExamSession.id))
             .order_by(col(ExamSession.starts_at).desc(), col(ExamSession.code)))
    if centre_id is not None:
        query = query.where(ExamSession.centre_id == centre_id)
    if status is not None:
        query = query.where(ExamSession.status == status)
    with store.read() as tx:
        return [SessionInfo(s, code, n or 0) for s, code, n in tx.exec(query).all()]


def session_info(store: Store, ref: str, *, centre_id: uuid.UUID | None = None) -> SessionInfo:
    with store.read() as tx:
        s = find_session(tx, ref, centre_id=centre_id)
        n = tx.exec(select(func.count()).select_from(RosterEntry)
                    .where(RosterEntry.session_id == s.id)).one()
        return SessionInfo(s, get_centre(tx, s.centre_id).code, int(n))


def close_session(store: Store, ref: str, *, actor: str,
                  centre_id: uuid.UUID | None = None) -> ExamSession:
    """No more roster changes or check-ins; closing twice is refused (it would hide when)."""
    with store.write() as tx:
        s = find_session(tx, ref, centre_id=centre_id)
        require_open(s)
        now = store.now()
        s.status, s.closed_at = SessionStatus.CLOSED, now
        tx.add(s)
        tx.flush()
        store.audit.append(tx, centre_id=s.centre_id, actor=actor, action="session.closed",
                           subject_id=s.id, payload={"code": s.code}, at=now)
        return s


def reopen_session(store: Store, ref: str, *, reason: str, actor: str,
                   centre_id: uuid.UUID | None = None) -> ExamSession:
    """A closed session open again (a candidate checked after the close, a roster line
    forgotten): only with a written reason, which the audit event carries with when it was
    closed, so the log shows the gap."""
    text = " ".join(unicodedata.normalize("NFC", reason or "").split())
    if not text:
        raise SessionReopenNeedsReason("reopening a session needs a written reason",
                                       field="reason")
    with store.write() as tx:
        s = find_session(tx, ref, centre_id=centre_id)
        if s.status is not SessionStatus.CLOSED:
            raise SessionNotClosed(f"session {s.code} is not closed", session=s.code)
        now, closed_at = store.now(), s.closed_at
        s.status, s.closed_at = SessionStatus.OPEN, None
        tx.add(s)
        tx.flush()
        store.audit.append(tx, centre_id=s.centre_id, actor=actor, action="session.reopened",
                           subject_id=s.id, payload={"code": s.code, "reason": text,
                                                     "closed_at": closed_at}, at=now)
        return s



def _is_date(text: str) -> bool:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            datetime.strptime(text, fmt)
            return True
        except ValueError:
            continue
    return False


def parse_moment(text: str, field: str) -> datetime:
    """"2025-06-12 07:30", "12/06/2025 07:30" (Vietnam time) or ISO 8601 with an offset; a
    date without a time is refused (:class:`MomentNeedsTime`), never read as midnight."""
    text = text.strip()
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=VIETNAM).astimezone(UTC)
        except ValueError:
            continue
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if ":" not in text and (value is not None or _is_date(text)):
        # A date alone used to mean midnight, silently: a session has a time of day.
        raise MomentNeedsTime(f"{text!r} has no time of day", field=field, value=text)
    if value is None:
        raise InvalidInput(f"{text!r} is not a date and time (YYYY-MM-DD HH:MM)",
                           reason="datetime", field=field, value=text) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=VIETNAM)
    return value.astimezone(UTC)
