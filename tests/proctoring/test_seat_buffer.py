"""The seat's local buffer on disk: order, once, sealed at rest, tampering refused."""

from __future__ import annotations

import os
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from proctoring.crypto import DataKey
from proctoring.errors import EvidenceUnreadable
from proctoring.seat import Admission, Binding
from proctoring.seat_buffer import SeatBuffer
from reader.virtual import faces_dir

KEY = DataKey(os.urandom(32))
JPEG = (faces_dir() / "people" / "obama" / "obama.jpg").read_bytes()


def opened(incident: uuid.UUID) -> dict[str, str]:
    return {"type": "opened", "incident_id": str(incident)}


def test_events_come_back_in_order_until_done(tmp_path: Path) -> None:
    buffer = SeatBuffer(tmp_path / "seat.db", KEY)
    ids = [uuid.uuid4() for _ in range(5)]
    for i in ids:
        buffer.push(opened(i), JPEG)
    first = buffer.pending(limit=2)
    assert [p.event["incident_id"] for p in first] == [str(i) for i in ids[:2]]
    assert first[0].frame == JPEG
    buffer.done(first[0].seq)
    buffer.close()
    again = SeatBuffer(tmp_path / "seat.db", KEY)  # a restart: still there, still in order
    assert [p.event["incident_id"] for p in again.pending()] == [str(i) for i in ids[1:]]


def test_frames_and_the_admitted_face_are_never_plaintext_on_disk(tmp_path: Path) -> None:
    buffer = SeatBuffer(tmp_path / "seat.db", KEY)
    face = np.random.default_rng(1).standard_normal((1, 128)).astype(np.float32)
    buffer.push(opened(uuid.uuid4()), JPEG)
    entry, checkin = uuid.uuid4(), uuid.uuid4()
    buffer.save_binding(Binding(entry, checkin, datetime.now(UTC), 0.3),
                        Admission(entry, checkin, face))
    buffer.close()
    disk = b"".join(p.read_bytes() for p in tmp_path.glob("seat.db*"))
    assert JPEG[200:264] not in disk and face.tobytes()[:64] not in disk
    assert oct((tmp_path / "seat.db").stat().st_mode & 0o777) == "0o600"
    restored = SeatBuffer(tmp_path / "seat.db", KEY).load_binding()
    assert restored is not None and np.array_equal(restored[1].embeddings, face)


def test_a_frame_moved_to_another_incident_is_refused(tmp_path: Path) -> None:
    buffer = SeatBuffer(tmp_path / "seat.db", KEY)
    buffer.push(opened(uuid.uuid4()), JPEG)
    buffer.push(opened(uuid.uuid4()), None)
    buffer.close()
    # The insider: rewrite the event so the sealed frame seems to belong to another incident.
    db = sqlite3.connect(tmp_path / "seat.db")
    db.execute("UPDATE outbox SET event = ? WHERE seq = 1",
               (f'{{"type": "opened", "incident_id": "{uuid.uuid4()}"}}',))
    db.commit()
    db.close()
    tampered, clean = SeatBuffer(tmp_path / "seat.db", KEY).pending()
    # Not opened, and not blocking the events behind it: delivered saying the frame is bad.
    assert (tampered.frame, tampered.frame_unreadable) == (None, True)
    assert not clean.frame_unreadable


def test_a_binding_sealed_with_another_key_does_not_open(tmp_path: Path) -> None:
    entry = uuid.uuid4()
    own = SeatBuffer(tmp_path / "seat.db", KEY)
    own.save_binding(Binding(entry, entry, datetime.now(UTC), 0.3),
                     Admission(entry, entry, np.zeros((1, 128), np.float32)))
    own.close()
    with pytest.raises(EvidenceUnreadable):
        SeatBuffer(tmp_path / "seat.db", DataKey(os.urandom(32))).load_binding()
