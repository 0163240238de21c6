"""The facts a roster states, as data: what is printed, hashed, embedded and verified.

The *content hash* of a roster is ``SHA-256(canonical JSON of RosterFacts.to_dict())``, where
canonical JSON is :func:`proctoring.audit.canonical_json` (keys sorted, no spaces, UTF-8, NFC
text, times as UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, dates ``YYYY-MM-DD``, ids as text)::

    {"format": "examdesk-roster/2",
     "centre":  {"id", "code", "name"},
     "session": {"id", "code", "kind", "title", "stages": [..], "starts_at", "ends_at"},
     "sections": [                       # one per driving-test stage printed; one for an exam
       {"stage": "yard" | null,
        "invigilators": [full names of who decided or overrode a check-in, sorted],
        "totals": {"rostered", "admitted", "rejected", "review", "absent", "not_on_roster"},
        "rows": [                        # roster order
          {"position", "registration_number", "seat", "vehicle", "candidate_id",
           "id_number", "full_name", "date_of_birth",
           "status": "ADMIT" | "REJECT" | "REVIEW" | "ABSENT",
           "checkin": null | {"id", "decided_at", "decision", "machine_decision",
                              "face_outcome", "face_distance", "trust_verdict", "liveness",
                              "overridden_at", "override_reason",
                              "portrait": null | {"id", "sha256"},   # chip portrait bytes
                              "frame":    null | {"id", "sha256"},   # live frame bytes
                              "reasons": [{"key", "context": {name: text}}]}}]}]}

Format 2 (issue 13) added ``reasons`` to the check-in and to each ``history`` attempt: every
reason behind the decision, as stored, in its machine form — the reason key (the vocabulary is
:data:`proctoring.reason_keys.REASON_KEYS`) and the context values its words show
(:data:`proctoring.reason_keys.CONTEXT_FIELDS`; the English ``detail`` is for logs and stays
out). The roster prints each in words. Format 1 is format 2 without ``reasons``:
``to_dict(FORMAT_1)`` gives it, so ``roster verify`` still checks a roster signed before.

Everything in it comes from the database, so ``roster verify`` recomputes it from the local
check-ins. Print-only options (room, language) are deliberately outside it. ``sha256`` is null
for evidence already deleted on retention when the roster was made; evidence deleted *after*
printing is taken from the embedded copy and reported as not re-checkable.

The status is the candidate's attendance state (per stage), as :func:`attendance` computes it:
admitted stays admitted. The check-in shown is the one the state stands on (the first
admission; else the latest attempt); ``history`` lists the others — refusals before a retry,
cards presented after the admission — and is left out when there are none, as ``desk`` is when
unknown, so a roster without either hashes as it did before they existed. Its picture is the
first chip portrait and the first live frame of that check-in (purged or not, so the choice
does not change when retention deletes them).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import col, select

from proctoring.audit import canonical_json
from proctoring.centres import get_centre
from proctoring.checkins import Attendance, Totals, attendance
from proctoring.errors import InvalidInput
from proctoring.evidence import open_blob
from proctoring.models import (
    CheckIn,
    Evidence,
    EvidenceBlob,
    EvidenceKind,
    ExamSession,
    SessionKind,
    Stage,
    User,
)
from proctoring.reason_keys import CONTEXT_FIELDS
from proctoring.sessions import find_session
from proctoring.store import Store

FORMAT = "examdesk-roster/2"
FORMAT_1 = "examdesk-roster/1"  # before the reasons (a roster signed then still verifies)
FORMATS = (FORMAT_1, FORMAT)
# A check-in's reasons as the facts carry them: the decision code gives a few (every trust
# finding and every other check at once is under 30); the caps bound hostile facts and rows.
MAX_REASONS = 64
MAX_REASON_KEY = 100  # characters
MAX_CONTEXT_TEXT = 200  # characters of one context value
PICTURE_KINDS = (EvidenceKind.CHIP_PORTRAIT, EvidenceKind.LIVE_FRAME)
# Evidence is decrypted this many items at a time: a 2000-candidate roster never holds all its
# pictures in memory at once.
_CHUNK = 200

# Called once per picture with its decrypted bytes (the roster makes its thumbnail there).
EvidenceVisitor = Callable[[uuid.UUID, EvidenceKind, bytes], None]


@dataclass(frozen=True)
class EvidenceRef:
    id: uuid.UUID
    sha256: str | None  # None: deleted on retention before the roster was made

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "sha256": self.sha256}


@dataclass(frozen=True)
class RosterReason:
    """One reason of a decision, in its machine form: the key and the context it shows."""

    key: str
    context: tuple[tuple[str, str], ...] = ()  # sorted by name

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "context": dict(self.context)}


def reasons_of(stored: Any) -> tuple[RosterReason, ...]:
    """A check-in's stored reasons (``CheckIn.reasons``: ``[{"key", "detail", "context"}]``) as
    the facts state them. A malformed entry (written by hand into the database) is kept as a
    reason with an empty key — printed as unknown, never dropped or a crash."""
    if not isinstance(stored, list):
        return ()
    out = []
    for item in stored[:MAX_REASONS]:
        item = item if isinstance(item, dict) else {}
        key = item.get("key")
        context = item.get("context")
        context = context if isinstance(context, dict) else {}
        shown = tuple(sorted((str(k), str(v)[:MAX_CONTEXT_TEXT]) for k, v in context.items()
                             if k in CONTEXT_FIELDS and v is not None))
        out.append(RosterReason(key[:MAX_REASON_KEY] if isinstance(key, str) else "", shown))
    return tuple(out)


@dataclass(frozen=True)
class RosterCheckIn:
    id: uuid.UUID
    decided_at: datetime
    decision: str
    machine_decision: str
    face_outcome: str | None
    face_distance: float | None
    trust_verdict: str | None
    liveness: str | None
    overridden_at: datetime | None
    override_reason: str | None
    portrait: EvidenceRef | None
    frame: EvidenceRef | None
    desk: str | None = None
    reasons: tuple[RosterReason, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "decided_at": self.decided_at, "decision": self.decision,
               "reasons": [r.to_dict() for r in self.reasons],
               "machine_decision": self.machine_decision, "face_outcome": self.face_outcome,
               "face_distance": self.face_distance, "trust_verdict": self.trust_verdict,
               "liveness": self.liveness, "overridden_at": self.overridden_at,
               "override_reason": self.override_reason,
               "portrait": self.portrait.to_dict() if self.portrait else None,
               "frame": self.frame.to_dict() if self.frame else None}
        if self.desk is not None:
            out["desk"] = self.desk
        return out


@dataclass(frozen=True)
class RosterAttempt:
    """An attempt that is not the one in force: before a retry, or after the admission."""

    id: uuid.UUID
    decided_at: datetime
    decision: str
    when: str  # "earlier" / "later"
    trust_verdict: str | None
    face_outcome: str | None
    overridden_at: datetime | None
    desk: str | None
    reasons: tuple[RosterReason, ...] = ()

    @classmethod
    def of(cls, c: CheckIn, when: str, desk: str | None) -> RosterAttempt:
        return cls(c.id, c.decided_at, c.decision.value, when, c.trust_verdict, c.face_outcome,
                   c.overridden_at, desk, reasons_of(c.reasons))

    def to_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "decided_at": self.decided_at, "decision": self.decision,
               "reasons": [r.to_dict() for r in self.reasons],
               "when": self.when, "trust_verdict": self.trust_verdict,
               "face_outcome": self.face_outcome, "overridden_at": self.overridden_at}
        if self.desk is not None:
            out["desk"] = self.desk
        return out


@dataclass(frozen=True)
class RosterRow:
    position: int
    registration_number: str
    seat: str | None
    vehicle: str | None
    candidate_id: uuid.UUID
    id_number: str
    full_name: str
    date_of_birth: date
    status: str  # ADMIT / REJECT / REVIEW / ABSENT: the attendance state
    checkin: RosterCheckIn | None
    history: tuple[RosterAttempt, ...] = ()  # the other attempts, oldest first

    def to_dict(self) -> dict[str, Any]:
        out = {"position": self.position, "registration_number": self.registration_number,
               "seat": self.seat, "vehicle": self.vehicle, "candidate_id": self.candidate_id,
               "id_number": self.id_number, "full_name": self.full_name,
               "date_of_birth": self.date_of_birth, "status": self.status,
               "checkin": self.checkin.to_dict() if self.checkin else None}
        if self.history:
            out["history"] = [a.to_dict() for a in self.history]
        return out

    @property
    def later(self) -> tuple[RosterAttempt, ...]:
        return tuple(a for a in self.history if a.when == "later")


@dataclass(frozen=True)
class RosterSection:
    stage: Stage | None
    invigilators: tuple[str, ...]
    totals: Totals
    rows: tuple[RosterRow, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage.value if self.stage else None,
                "invigilators": list(self.invigilators), "totals": self.totals.to_dict(),
                "rows": [r.to_dict() for r in self.rows]}


@dataclass(frozen=True)
class RosterFacts:
    centre_id: uuid.UUID
    centre_code: str
    centre_name: str
    session_id: uuid.UUID
    session_code: str
    kind: SessionKind
    title: str
    stages: tuple[Stage, ...]  # the session's stages (the sections may be fewer)
    starts_at: datetime
    ends_at: datetime | None
    sections: tuple[RosterSection, ...]

    def to_dict(self, format: str = FORMAT) -> dict[str, Any]:
        """The facts in ``format`` (:data:`FORMAT`, or :data:`FORMAT_1` to check a roster
        signed in it)."""
        if format not in FORMATS:
            raise ValueError(f"unknown roster facts format {format!r}")
        out = {"format": format,
               "centre": {"id": self.centre_id, "code": self.centre_code,
                          "name": self.centre_name},
               "session": {"id": self.session_id, "code": self.session_code,
                           "kind": self.kind.value, "title": self.title,
                           "stages": [s.value for s in self.stages],
                           "starts_at": self.starts_at, "ends_at": self.ends_at},
               "sections": [s.to_dict() for s in self.sections]}
        if format == FORMAT_1:
            _without_reasons(out)
        return out

    def canonical(self, format: str = FORMAT) -> bytes:
        return canonical_bytes(self.to_dict(format))

    def content_hash(self, format: str = FORMAT) -> str:
        return hashlib.sha256(self.canonical(format)).hexdigest()


def _without_reasons(document: dict[str, Any]) -> None:
    """Format 1: the same facts without the reasons (they were added in format 2)."""
    for section in document["sections"]:
        for row in section["rows"]:
            if row["checkin"] is not None:
                del row["checkin"]["reasons"]
            for attempt in row.get("history", ()):
                del attempt["reasons"]


def canonical_bytes(document: Any) -> bytes:
    """The exact bytes that are hashed and embedded."""
    return canonical_json(document).encode("utf-8")


def content_hash(canonical: bytes) -> str:
    return hashlib.sha256(canonical).hexdigest()


def collect_facts(store: Store, session_ref: str, *, stages: Sequence[Stage] | None = None,
                  visit: EvidenceVisitor | None = None) -> RosterFacts:
    """The facts of one session's roster, read from the store.

    ``stages``: the driving-test stages to print (default: all the session's); ignored for an
    online exam, which has one section. ``visit`` sees every picture's plaintext once.
    """
    with store.read() as tx:
        session = find_session(tx, session_ref)
        centre = get_centre(tx, session.centre_id)
    chosen: list[Stage | None] = list(_stages(session, stages))
    per_stage = [(s, attendance(store, session.id, stage=s)) for s in chosen]
    checkins = [r.checkin for _, att in per_stage for r in att.rows if r.checkin is not None]
    refs = _pictures(store, [c.id for c in checkins], visit)
    names = _invigilators(store, [a for _, att in per_stage for r in att.rows
                                  for a in r.history.attempts])
    sections = tuple(_section(stage, att, refs, names) for stage, att in per_stage)
    return RosterFacts(centre.id, centre.code, centre.name, session.id, session.code,
                       SessionKind(session.kind), session.title, session.stage_list,
                       session.starts_at, session.ends_at, sections)


def _stages(session: ExamSession, wanted: Sequence[Stage] | None) -> list[Stage | None]:
    if session.kind is SessionKind.ONLINE_EXAM or not session.stage_list:
        return [None]
    if not wanted:
        return list(session.stage_list)
    missing = [s.value for s in wanted if s not in session.stage_list]
    if missing:
        raise InvalidInput(f"stage(s) {', '.join(missing)} not in this driving test "
                           f"({session.stages})", field="stage")
    return [s for s in session.stage_list if s in wanted]


def _pictures(store: Store, checkin_ids: Sequence[uuid.UUID],
              visit: EvidenceVisitor | None) -> dict[tuple[uuid.UUID, EvidenceKind], EvidenceRef]:
    """The first chip portrait and live frame of each check-in, with the SHA-256 of its bytes."""
    first: dict[tuple[uuid.UUID, EvidenceKind], Evidence] = {}
    ids = list(dict.fromkeys(checkin_ids))
    with store.read() as tx:
        for chunk in _chunks(ids, 500):
            rows = tx.exec(select(Evidence).where(col(Evidence.checkin_id).in_(chunk))
                           .where(col(Evidence.kind).in_(PICTURE_KINDS))
                           .order_by(col(Evidence.captured_at), col(Evidence.id))).all()
            for ev in rows:
                assert ev.checkin_id is not None
                first.setdefault((ev.checkin_id, EvidenceKind(ev.kind)), ev)
    refs: dict[tuple[uuid.UUID, EvidenceKind], EvidenceRef] = {}
    live = [ev for ev in first.values() if ev.purged_at is None]
    for key, ev in first.items():
        if ev.purged_at is not None:
            refs[key] = EvidenceRef(ev.id, None)
    by_id = {ev.id: ev for ev in live}
    for chunk in _chunks(list(by_id), _CHUNK):
        with store.read() as tx:
            blobs = tx.exec(select(EvidenceBlob).where(col(EvidenceBlob.id).in_(chunk))).all()
            for blob in blobs:
                ev = by_id[blob.id]
                data = open_blob(store, ev, blob)
                assert ev.checkin_id is not None
                refs[(ev.checkin_id, EvidenceKind(ev.kind))] = EvidenceRef(
                    ev.id, hashlib.sha256(data).hexdigest())
                if visit is not None:
                    visit(ev.id, EvidenceKind(ev.kind), data)
    for key, ev in first.items():
        # A row whose blob is gone without purged_at set: report it as deleted, not as absent.
        refs.setdefault(key, EvidenceRef(ev.id, None))
    return refs


def _invigilators(store: Store, checkins: Iterable[CheckIn]) -> dict[uuid.UUID, str]:
    ids = {u for c in checkins for u in (c.operator_id, c.overridden_by_id) if u is not None}
    if not ids:
        return {}
    with store.read() as tx:
        return {u.id: u.full_name
                for u in tx.exec(select(User).where(col(User.id).in_(list(ids)))).all()}


def _section(stage: Stage | None, att: Attendance,
             refs: dict[tuple[uuid.UUID, EvidenceKind], EvidenceRef],
             names: dict[uuid.UUID, str]) -> RosterSection:
    rows = []
    people: set[str] = set()
    for r in att.rows:
        c = r.checkin
        checkin = None
        if c is not None:
            people.update(names[u] for u in (c.operator_id, c.overridden_by_id) if u in names)
            checkin = RosterCheckIn(
                c.id, c.decided_at, c.decision.value, c.machine_decision.value, c.face_outcome,
                c.face_distance, c.trust_verdict, c.liveness, c.overridden_at, c.override_reason,
                refs.get((c.id, EvidenceKind.CHIP_PORTRAIT)),
                refs.get((c.id, EvidenceKind.LIVE_FRAME)), r.history.desk(c),
                reasons_of(c.reasons))
        e, p = r.entry, r.candidate
        h = r.history
        history = (*(RosterAttempt.of(a, "earlier", h.desk(a)) for a in h.earlier),
                   *(RosterAttempt.of(a, "later", h.desk(a)) for a in h.later))
        for a in (*r.history.earlier, *r.history.later):
            people.update(names[u] for u in (a.operator_id, a.overridden_by_id) if u in names)
        rows.append(RosterRow(e.position, e.registration_number, e.seat, e.vehicle, p.id,
                              p.id_number, p.full_name, p.date_of_birth, r.status, checkin,
                              history))
    return RosterSection(stage, tuple(sorted(people)), att.totals, tuple(rows))


def _chunks(items: list[uuid.UUID], size: int) -> Iterable[list[uuid.UUID]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
