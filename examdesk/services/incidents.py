"""The incidents of a session as the desk's F4 screen shows them: who (name, ID, registration
number) and which picture is the evidence, read in one go; the picture itself is decrypted
only when the invigilator selects the incident."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlmodel import col, select

from proctoring.checkins import incidents
from proctoring.evidence import read_evidence
from proctoring.models import Candidate, CheckIn, Evidence, EvidenceKind, Incident, RosterEntry
from proctoring.store import Store

# The picture that shows who it was: a frame the incident kept, else the live capture of a
# linked check-in, else the chip portrait (a forged card's, say: no face was taken).
_PREFERENCE = (EvidenceKind.LIVE_FRAME, EvidenceKind.CHIP_PORTRAIT)


@dataclass(frozen=True)
class Who:
    full_name: str | None  # None: not on the roster (the ID alone)
    id_number: str | None
    registration_number: str | None


@dataclass(frozen=True)
class IncidentRow:
    incident: Incident
    who: Who
    picture: uuid.UUID | None  # the evidence to show; None: none kept (or no consent)


def incident_rows(store: Store, session_id: uuid.UUID) -> list[IncidentRow]:
    found = incidents(store, session_id=session_id)
    checkin_ids = [c for _, links in found for c in links]
    entry_ids = [i.roster_entry_id for i, _ in found if i.roster_entry_id is not None]
    with store.read() as tx:
        checkins = {c.id: c for c in tx.exec(select(CheckIn).where(
            col(CheckIn.id).in_(checkin_ids)))} if checkin_ids else {}
        entry_ids += [c.roster_entry_id for c in checkins.values() if c.roster_entry_id]
        people = {e.id: (e, cand) for e, cand in tx.exec(
            select(RosterEntry, Candidate).join(Candidate, col(Candidate.id) ==
                                                col(RosterEntry.candidate_id))
            .where(col(RosterEntry.id).in_(entry_ids)))} if entry_ids else {}
        incident_ids = [i.id for i, _ in found]
        evidence = list(tx.exec(select(Evidence).where(
            (col(Evidence.incident_id).in_(incident_ids)) | (col(Evidence.checkin_id).in_(
                checkin_ids or [uuid.UUID(int=0)])))
            .where(col(Evidence.purged_at).is_(None)))) if incident_ids else []
    rows = []
    for incident, links in found:
        linked = [checkins[c] for c in links if c in checkins]
        entry_id = incident.roster_entry_id or next(
            (c.roster_entry_id for c in linked if c.roster_entry_id), None)
        person = people.get(entry_id) if entry_id is not None else None
        id_number = (person[1].id_number if person else
                     next((c.id_number for c in linked if c.id_number), None))
        who = Who(person[1].full_name if person else None, id_number,
                  person[0].registration_number if person else None)
        own = [e for e in evidence if e.incident_id == incident.id]
        theirs = [e for e in evidence if e.checkin_id in links]
        picture = next((e.id for pool in (own, theirs) for kind in _PREFERENCE
                        for e in pool if e.kind == kind), None)
        rows.append(IncidentRow(incident, who, picture))
    return rows


def incident_picture(store: Store, evidence_id: uuid.UUID) -> bytes:
    """The evidence picture's bytes (decrypted; the caller shows it and lets it go)."""
    return read_evidence(store, evidence_id)
