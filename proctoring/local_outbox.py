"""A local outbox on disk: what a machine must not lose while the centre's database is out of
reach, kept in order, sealed, until the centre has it.

One SQLite file of the machine's own (not the centre's database: the point is to work when that
is unreachable). ``outbox`` keeps events in the order they happened (an autoincrement
sequence); delivery removes an event only after the centre committed it, and the centre ignores
an event it already has (the sender chose the row ids), so each event arrives once, in order,
even across a crash between the two. Each event may carry a payload sealed with a data key
(AES-256-GCM, the event's row id and kind as associated data): plaintext never reaches disk.

Used by the seat agent (:mod:`.seat_buffer`) and by a desk's check-ins
(:mod:`.desk_outbox`); each says what an event's row id and kind are.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .crypto import DataKey, Sealed
from .errors import EvidenceUnreadable

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
"""

# What a payload is bound to: the event's row id and the kind of payload.
Binder = Callable[[dict[str, Any]], tuple[uuid.UUID, str]]


@dataclass(frozen=True)
class Entry:
    seq: int
    event: dict[str, Any]
    payload: bytes | None  # opened, when the event carries one
    # The payload does not open (tampered with, or another key sealed it).
    unreadable: bool = False


class LocalOutbox:
    """The outbox file; subclasses add their own tables (``schema``) and typed events."""

    def __init__(self, path: Path, key: DataKey, bind: Binder, schema: str = "") -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        self.path = path
        self._key = key
        self._bind = bind
        # One connection, used from the check-in's thread and the desk's delivery job: the lock
        # keeps their transactions apart.
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # what was acknowledged survives a power cut
        self._db.execute(f"PRAGMA busy_timeout={10_000}")
        self._db.executescript(_SCHEMA + schema)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _push(self, event: dict[str, Any], payload: bytes | None) -> int:
        """Append an event (and its payload, sealed); durable when this returns."""
        sealed: Sealed | None = None
        if payload is not None:
            row_id, kind = self._bind(event)
            sealed = self._key.seal(payload, row_id=row_id, kind=kind)
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO outbox (event, key_id, nonce, ciphertext) VALUES (?, ?, ?, ?)",
                (json.dumps(event, sort_keys=True),
                 sealed.key_id if sealed else None, sealed.nonce if sealed else None,
                 sealed.ciphertext if sealed else None))
            return int(cur.lastrowid or 0)

    def _entries(self, limit: int) -> list[Entry]:
        # CAST: a value someone rewrote as text must come back as bytes that fail to open, not
        # as an error that stops every event behind it.
        rows = self._read("SELECT seq, CAST(event AS BLOB), key_id, CAST(nonce AS BLOB), "
                          "CAST(ciphertext AS BLOB) FROM outbox ORDER BY seq LIMIT ?", (limit,))
        out = []
        for seq, text, key_id, nonce, ciphertext in rows:
            try:
                event = json.loads(bytes(text).decode("utf-8"))
                if not isinstance(event, dict):
                    raise ValueError("not an object")
            except (ValueError, UnicodeDecodeError):
                out.append(Entry(int(seq), {}, None, True))
                continue
            payload, unreadable = None, False
            if ciphertext is not None:
                try:
                    row_id, kind = self._bind(event)
                    payload = self._key.open(Sealed(str(key_id), bytes(nonce or b""),
                                                    bytes(ciphertext)), row_id=row_id, kind=kind)
                except (EvidenceUnreadable, KeyError, ValueError, TypeError):
                    unreadable = True
            out.append(Entry(int(seq), event, payload, unreadable))
        return out

    def done(self, seq: int) -> None:
        """The centre committed event ``seq``: it leaves the outbox."""
        with self._tx() as db:
            db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    def park(self, seq: int, reason: str) -> None:
        """The centre refused this event for good (not for being unreachable): keep it aside,
        sealed as it was, so the events behind it go on and nothing is lost."""
        with self._tx() as db:
            db.execute("INSERT INTO parked (seq, event, key_id, nonce, ciphertext, reason) "
                       "SELECT seq, event, key_id, nonce, ciphertext, ? FROM outbox "
                       "WHERE seq = ?", (reason, seq))
            db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    def parked(self) -> list[tuple[int, str]]:
        return [(int(seq), str(reason)) for seq, reason in
                self._read("SELECT seq, reason FROM parked ORDER BY seq")]

    def events(self) -> list[dict[str, Any]]:
        """The waiting events' plain parts, in order (no payload is opened)."""
        found = []
        for (raw,) in self._read("SELECT CAST(event AS BLOB) FROM outbox ORDER BY seq"):
            try:
                event = json.loads(bytes(raw).decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                continue  # unreadable: delivery parks it
            if isinstance(event, dict):
                found.append(event)
        return found

    def __len__(self) -> int:
        return int(self._read("SELECT count(*) FROM outbox")[0][0])
