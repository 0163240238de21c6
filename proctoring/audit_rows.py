"""Audit events bind the rows they record: a check-in, an incident, their evidence references.

The hash chain proves the *events* were not changed; without this, the rows they talk about
could be (``UPDATE checkin SET decision = 'ADMIT'`` on a REVIEW check-in went unseen). Every
event that creates or changes a check-in or an incident carries, in its payload (so under its
hash and signature), ``"rows": {"checkin:<id>": sha256, …}``: a digest of the row as it is at the
end of the change, with the references that belong to it:

- a check-in: every column but the bookkeeping times, and the digests of its evidence rows;
- an incident: every column but the bookkeeping times and ``reviewed_by_id`` (the office's
  reviewer lives only in the district: the centre's copy leaves it empty), the ids of the
  check-ins it links, and the digests of its evidence rows;
- an evidence row: what it is, whose, when taken and until when kept — not ``purged_at``
  (the retention purge stamps it; its own event pins the purged ids down).

``audit verify`` recomputes them from the current rows and names every row that differs from
its latest event, every row no event recorded, and every event whose row is gone. Rows recorded
only by events written before this (the legacy prefix: events without ``rows``) cannot be
checked and are counted as such, never reported as tampering.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

if TYPE_CHECKING:
    from .audit import Problem
    from .models import AuditEvent

BOUND = ("checkin", "incident")
# Columns left out of a row's digest, and why: see the module docstring.
_SKIP: Mapping[str, frozenset[str]] = {
    "checkin": frozenset({"created_at", "updated_at"}),
    "incident": frozenset({"created_at", "updated_at", "reviewed_by_id"}),
    "evidence": frozenset({"created_at", "updated_at", "purged_at"}),
}
# Events of the legacy format that created or changed these rows (their subject is the row).
_LEGACY_ACTIONS = frozenset({"checkin.recorded", "checkin.overridden", "incident.opened",
                             "incident.reviewed", "incident.review_received"})
_CHUNK = 500


def _table(name: str) -> sa.Table:
    return SQLModel.metadata.tables[name]


def _digest(name: str, row: Mapping[str, Any], parts: Iterable[str]) -> str:
    from .audit import canonical_json

    values = {k: v for k, v in row.items() if k not in _SKIP[name]}
    material = canonical_json([f"examdesk/audit-row/v1/{name}", values, sorted(parts)])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


class _Rows:
    """Current rows of the bound tables (and their parts), read the same way when an event is
    written and when it is verified, so the digests agree."""

    def __init__(self, conn: sa.Connection, *, checkins: Iterable[uuid.UUID] | None = None,
                 incidents: Iterable[uuid.UUID] | None = None) -> None:
        self.rows: dict[str, dict[uuid.UUID, dict[str, Any]]] = {}
        self.rows["checkin"] = self._load(conn, "checkin", "id", checkins)
        self.rows["incident"] = self._load(conn, "incident", "id", incidents)
        everything = checkins is None and incidents is None
        evidence: dict[uuid.UUID, dict[str, Any]] = {}
        if everything:
            evidence = self._load(conn, "evidence", "id", None)
        else:
            evidence.update(self._load(conn, "evidence", "checkin_id", self.rows["checkin"]))
            evidence.update(self._load(conn, "evidence", "incident_id", self.rows["incident"]))
        self.evidence: dict[tuple[str, uuid.UUID], list[str]] = defaultdict(list)
        for row in evidence.values():
            d = _digest("evidence", row, ())
            if row["checkin_id"] is not None:
                self.evidence[("checkin", row["checkin_id"])].append(d)
            if row["incident_id"] is not None:
                self.evidence[("incident", row["incident_id"])].append(d)
        links = self._load(conn, "incident_checkin", "incident_id",
                           None if everything else self.rows["incident"])
        self.links: dict[uuid.UUID, list[str]] = defaultdict(list)
        for link in links.values():
            self.links[link["incident_id"]].append(str(link["checkin_id"]))

    @staticmethod
    def _load(conn: sa.Connection, name: str, column: str,
              values: Iterable[uuid.UUID] | None) -> dict[uuid.UUID, dict[str, Any]]:
        t = _table(name)
        if values is None:
            return {r.id: dict(r._mapping) for r in conn.execute(sa.select(t))}
        wanted = sorted(set(values))
        found: dict[uuid.UUID, dict[str, Any]] = {}
        for i in range(0, len(wanted), _CHUNK):
            for r in conn.execute(sa.select(t).where(t.c[column].in_(wanted[i:i + _CHUNK]))):
                found[r.id] = dict(r._mapping)
        return found

    def digest(self, name: str, row_id: uuid.UUID) -> str | None:
        row = self.rows[name].get(row_id)
        if row is None:
            return None
        parts = list(self.evidence.get((name, row_id), []))
        if name == "incident":
            parts += [f"checkin:{c}" for c in self.links.get(row_id, [])]
        return _digest(name, row, parts)


def row_bindings(tx: Session, *, checkins: Sequence[uuid.UUID] = (),
                 incidents: Sequence[uuid.UUID] = ()) -> dict[str, str]:
    """``{"checkin:<id>": digest, …}`` of rows as they are now in this transaction (flushed):
    what an event's payload carries under ``rows``."""
    tx.flush()
    rows = _Rows(tx.connection(), checkins=checkins, incidents=incidents)
    out = {}
    for name, ids in (("checkin", checkins), ("incident", incidents)):
        for row_id in ids:
            d = rows.digest(name, row_id)
            if d is None:
                raise ValueError(f"{name} {row_id} is not in this transaction")
            out[f"{name}:{row_id}"] = d
    return out


def _chain(event: AuditEvent) -> uuid.UUID:
    """The chain an event belongs to: its station's (issue 17), else its centre's."""
    return getattr(event, "station_id", None) or event.centre_id


def check_rows(tx: Session, chains: Mapping[uuid.UUID, Sequence[Any]]
               ) -> tuple[dict[uuid.UUID, list[Problem]], dict[uuid.UUID, dict[str, int]]]:
    """Every bound row against the latest event that recorded it, across every chain in the
    database (on the district, the office's review of a centre's incident is in the office's
    chain). Returns problems and counts per centre (the chain they belong to)."""
    from .audit import Problem

    latest: dict[str, tuple[tuple[datetime, int, str], str, AuditEvent]] = {}
    legacy: set[uuid.UUID] = set()
    for events in chains.values():
        for e in events:
            try:
                payload = json.loads(e.payload)
            except ValueError:
                continue
            bound = payload.get("rows") if isinstance(payload, dict) else None
            if not isinstance(bound, dict):
                if e.action in _LEGACY_ACTIONS:
                    legacy.add(e.subject_id)
                continue
            order = (e.occurred_at, e.seq, str(getattr(e, "station_id", None) or e.centre_id))
            for key, digest in bound.items():
                if key not in latest or latest[key][0] <= order:
                    latest[key] = (order, str(digest), e)
    rows = _Rows(tx.connection())
    problems: dict[uuid.UUID, list[Problem]] = defaultdict(list)
    counts: dict[uuid.UUID, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for name in BOUND:
        for row_id, row in rows.rows[name].items():
            owner = row["centre_id"]
            key = f"{name}:{row_id}"
            found = latest.get(key)
            if found is not None:
                _, digest, event = found
                if rows.digest(name, row_id) == digest:
                    counts[owner]["bound"] += 1
                else:
                    problems[_chain(event)].append(Problem(
                        "row_modified", (event.seq,),
                        f"{name} {row_id} differs from what event {event.seq} recorded",
                        (str(event.id),), (("what", name), ("row", str(row_id)))))
            elif row_id in legacy:
                counts[owner]["legacy"] += 1  # recorded before rows were bound: not checkable
            else:
                problems[owner].append(Problem("row_unrecorded", (),
                                               f"{name} {row_id} has no audit event", (),
                                               (("what", name), ("row", str(row_id)))))
    for key, (_, _, event) in latest.items():
        name, _, text = key.partition(":")
        try:
            row_id = uuid.UUID(text)
        except ValueError:
            continue
        if name in rows.rows and row_id not in rows.rows[name]:
            problems[_chain(event)].append(Problem(
                "row_missing", (event.seq,), f"{name} {row_id} recorded by event {event.seq} "
                "is gone", (str(event.id),), (("what", name), ("row", str(row_id)))))
    return dict(problems), {k: dict(v) for k, v in counts.items()}
