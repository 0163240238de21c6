"""Witnesses outside the database: what catches a log cut back or replaced wholesale.

Signatures prove each event was written by the centre; they cannot show that events the centre
*did* sign were later removed from the end, or that the whole database was swapped for an older
copy. Something outside the database must remember a head:

- the district: every sync moves the district's copy of the centre's head in the same
  transaction as the events (:mod:`.sync`), and the district recorded the centre's first key.
  ``audit verify --district`` reads both with the centre's own login and checks that the head
  the district holds is an event of this log, signed by a key the district knows;
- the signed roster PDF: it carries the chain head at signing time (``reports``), and
  ``roster verify`` checks that event is still in the chain with that hash.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from .models import AuditEvent


@dataclass(frozen=True)
class Witness:
    """A head someone outside the database saw: (centre, seq, hash), and where."""

    centre_id: uuid.UUID
    seq: int
    hash: str
    source: str  # "district", "roster"
    public_key: str | None = None  # the centre key the witness recorded, if any

    def to_dict(self) -> dict[str, object]:
        return {"centre_id": str(self.centre_id), "seq": self.seq, "hash": self.hash,
                "source": self.source, "public_key": self.public_key}


def head_now(tx: Session, centre_id: uuid.UUID) -> tuple[int, str]:
    """The chain head of a centre (seq 0 and the genesis hash for an empty chain)."""
    h = SQLModel.metadata.tables["audit_head"]
    row = tx.connection().execute(sa.select(h.c.seq, h.c.hash)
                                  .where(h.c.centre_id == centre_id)).first()
    return (int(row.seq), str(row.hash)) if row is not None else (0, "0" * 64)


def in_chain(tx: Session, witness: Witness) -> bool:
    """Whether the witnessed head is still an event of the chain, with the same hash."""
    if witness.seq == 0:
        return True
    t = SQLModel.metadata.tables["audit_event"]
    found = tx.connection().execute(sa.select(t.c.hash).where(
        t.c.centre_id == witness.centre_id, t.c.seq == witness.seq)).scalar()
    if found == witness.hash:
        return True
    # Renumbered? The event with that hash anywhere in the chain still counts as present.
    return tx.connection().execute(sa.select(AuditEvent.__table__.c.seq).where(  # type: ignore[attr-defined]
        t.c.centre_id == witness.centre_id, t.c.hash == witness.hash)).first() is not None


def district_witness(conn: sa.Connection, centre_id: uuid.UUID) -> Witness:
    """The district's head of this centre and the key it recorded (the centre's own login:
    row-level security shows it only its own rows)."""
    h = SQLModel.metadata.tables["audit_head"]
    m = SQLModel.metadata.tables["district_member"]
    head = conn.execute(sa.select(h.c.seq, h.c.hash).where(h.c.centre_id == centre_id)).first()
    key = conn.execute(sa.select(m.c.audit_public_key)
                       .where(m.c.centre_id == centre_id)).scalar()
    seq, digest = (int(head.seq), str(head.hash)) if head is not None else (0, "0" * 64)
    return Witness(centre_id, seq, digest, "district", str(key) if key else None)
