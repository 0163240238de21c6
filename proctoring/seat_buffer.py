"""The seat agent's local buffer: what it must not lose while the store is unreachable, and
the binding it must find again after a restart.

One SQLite file per seat on the exam computer (its own file, not the centre's database: the
point is to work when that is out of reach). ``outbox`` keeps the agent's events in the order
they happened (an autoincrement sequence) until the store has them; delivery removes an event
only after the store committed it, and the store ignores an event it already has (the agent
chose the incident ids), so each event arrives once, in order, even across a crash between the
two. Evidence frames and the admitted face are sealed with the centre's data key (AES-GCM, the
row's id and kind as associated data) like all biometric evidence; plaintext never reaches disk.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from .crypto import DataKey, Sealed
from .errors import EvidenceUnreadable
from .seat import Admission, Binding

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL,
    key_id TEXT, nonce BLOB, ciphertext BLOB
);
CREATE TABLE IF NOT EXISTS parked (
    seq INTEGER PRIMARY KEY,
    event TEXT NOT NULL,
    key_id TEXT, nonce BLOB, ciphertext BLOB,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS binding (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    value TEXT NOT NULL,
    key_id TEXT NOT NULL, nonce BLOB NOT NULL, ciphertext BLOB NOT NULL
);
"""
FRAME_KIND = "SEAT_FRAME"
FACE_KIND = "SEAT_ADMITTED_FACE"
_BINDING_ROW = uuid.UUID(int=1)


@dataclass(frozen=True)
class Pending:
    seq: int
    event: dict[str, Any]
    frame: bytes | None  # opened JPEG, when the event carries evidence
    # The event carried a frame that does not open (tampered with, or another key sealed it):
    # the event is still delivered, saying so, rather than blocking every event behind it.
    frame_unreadable: bool = False


class SeatBuffer:
    def __init__(self, path: Path, key: DataKey) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self.path = path
        self._key = key
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a buffered incident survives a power cut
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- the outbox ----------------------------------------------------------------------------

    def push(self, event: dict[str, Any], frame: bytes | None = None) -> int:
        sealed: Sealed | None = None
        if frame is not None:
            sealed = self._key.seal(frame, row_id=uuid.UUID(event["incident_id"]),
                                    kind=FRAME_KIND)
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO outbox (event, key_id, nonce, ciphertext) VALUES (?, ?, ?, ?)",
                (json.dumps(event, sort_keys=True),
                 sealed.key_id if sealed else None, sealed.nonce if sealed else None,
                 sealed.ciphertext if sealed else None))
            return int(cur.lastrowid or 0)

    def pending(self, limit: int = 50) -> list[Pending]:
        rows = self._db.execute("SELECT seq, event, key_id, nonce, ciphertext FROM outbox "
                                "ORDER BY seq LIMIT ?", (limit,)).fetchall()
        out = []
        for seq, text, key_id, nonce, ciphertext in rows:
            event = json.loads(text)
            frame, unreadable = None, False
            if ciphertext is not None:
                try:
                    frame = self._key.open(Sealed(key_id, nonce, ciphertext),
                                           row_id=uuid.UUID(event["incident_id"]),
                                           kind=FRAME_KIND)
                except EvidenceUnreadable:
                    unreadable = True
            out.append(Pending(int(seq), event, frame, unreadable))
        return out

    def done(self, seq: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    def park(self, seq: int, reason: str) -> None:
        """The store refused this event for good (not for being unreachable): keep it aside,
        sealed as it was, so the events behind it go on and nothing is lost."""
        with self._tx() as db:
            db.execute("INSERT INTO parked (seq, event, key_id, nonce, ciphertext, reason) "
                       "SELECT seq, event, key_id, nonce, ciphertext, ? FROM outbox "
                       "WHERE seq = ?", (reason, seq))
            db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    def parked(self) -> list[tuple[int, str]]:
        return [(int(seq), str(reason)) for seq, reason in
                self._db.execute("SELECT seq, reason FROM parked ORDER BY seq")]

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    # --- the binding ---------------------------------------------------------------------------

    def save_binding(self, binding: Binding, admission: Admission) -> None:
        face = np.ascontiguousarray(admission.embeddings, dtype="<f4").tobytes()
        sealed = self._key.seal(face, row_id=_BINDING_ROW, kind=FACE_KIND)
        value = {"roster_entry_id": str(binding.roster_entry_id),
                 "checkin_id": str(binding.checkin_id),
                 "bound_at": binding.bound_at.isoformat(), "distance": binding.distance}
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO binding (one, value, key_id, nonce, ciphertext) "
                       "VALUES (1, ?, ?, ?, ?)",
                       (json.dumps(value), sealed.key_id, sealed.nonce, sealed.ciphertext))

    def load_binding(self) -> tuple[Binding, Admission] | None:
        row = self._db.execute("SELECT value, key_id, nonce, ciphertext FROM binding").fetchone()
        if row is None:
            return None
        value = json.loads(row[0])
        face = self._key.open(Sealed(row[1], row[2], row[3]), row_id=_BINDING_ROW,
                              kind=FACE_KIND)
        embeddings = np.frombuffer(face, dtype="<f4").reshape(-1, 128).astype(np.float32)
        binding = Binding(uuid.UUID(value["roster_entry_id"]), uuid.UUID(value["checkin_id"]),
                          datetime.fromisoformat(value["bound_at"]), float(value["distance"]))
        return binding, Admission(binding.roster_entry_id, binding.checkin_id, embeddings)

    def clear_binding(self) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM binding")
