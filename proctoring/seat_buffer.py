"""The seat agent's local buffer: what it must not lose while the store is unreachable, and
the binding it must find again after a restart.

One SQLite file per seat on the exam computer: a :class:`~.local_outbox.LocalOutbox` (events in
order until the store has them, each once, even across a crash; the store ignores an event it
already has, the agent chose the incident ids) plus the seat's binding. Evidence frames and the
admitted face are sealed with the centre's data key (AES-GCM, the row's id and kind as
associated data) like all biometric evidence; plaintext never reaches disk.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from .crypto import DataKey, Sealed
from .local_outbox import LocalOutbox
from .seat import Admission, Binding

_SCHEMA = """
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


def _frame_of(event: dict[str, Any]) -> tuple[uuid.UUID, str]:
    return uuid.UUID(event["incident_id"]), FRAME_KIND


class SeatBuffer(LocalOutbox):
    def __init__(self, path: Path, key: DataKey) -> None:
        super().__init__(path, key, _frame_of, _SCHEMA)

    # --- the outbox (done, park, parked, len: LocalOutbox) -------------------------------------

    def push(self, event: dict[str, Any], frame: bytes | None = None) -> int:
        return self._push(event, frame)

    def pending(self, limit: int = 50) -> list[Pending]:
        return [Pending(e.seq, e.event, e.payload, e.unreadable) for e in self._entries(limit)]

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
