"""The desk the kill test SIGKILLs: it first delivers what its outbox holds (the restart), then
makes check-ins in a loop through its outbox and prints each id once the check-in is durable —
at the centre, or in the outbox when the centre is "away" (a port nothing listens on). That
line is the acknowledgement.

    python -m tests.proctoring.desk_kill_child DB_URL KEY_DIR OUTBOX_DIR SESSION_ID online|away
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

from sqlmodel import col, select

from proctoring.crypto import KeyStore
from proctoring.desk_outbox import DeskOutbox
from proctoring.models import Candidate, ExamSession, RosterEntry
from proctoring.store import Store, create_engine, database_url

from .outbox_helpers import item

AWAY = "postgresql://desk:pw@127.0.0.1:9/centre"


def main(url: str, key_dir: str, outbox_dir: str, session_id: str, mode: str) -> None:
    keys = KeyStore(Path(key_dir), use_keyring=False)
    centre = Store.open(url, keys=keys)
    sid = uuid.UUID(session_id)
    with centre.read() as tx:
        session = tx.exec(select(ExamSession).where(ExamSession.id == sid)).one()
        roster = list(tx.exec(select(RosterEntry, Candidate)
                              .join(Candidate, col(Candidate.id) == col(RosterEntry.candidate_id))
                              .where(RosterEntry.session_id == sid)
                              .order_by(col(RosterEntry.position))).all())
    outbox = DeskOutbox.for_desk(keys, Path(outbox_dir))
    store = centre
    if mode == "away":
        store = Store(create_engine(database_url(AWAY)), keys)
    else:
        done = outbox.deliver(store)  # the killed desk resumes: what waited goes first
        sys.stdout.write(f"resumed {done.delivered}\n")
        sys.stdout.flush()
    i = 0
    while True:
        entry, candidate = roster[i % len(roster)]
        one = item(session, entry, candidate.id_number, i, incident=i % 4 == 0)
        outbox.record(store, one, actor="test:kill")
        sys.stdout.write(f"{one.checkin_id}\n")
        sys.stdout.flush()
        i += 1


if __name__ == "__main__":
    main(*sys.argv[1:6])
