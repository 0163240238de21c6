"""The education office's review of online-exam incidents (issue 18): `examdesk review list` and
`show` name the kind in words and the seat, show the door's check-in beside the incident's own
evidence frames (decrypted), its start and end, and the room's notes; the fraud report says
where. Read through the review's functions on a store holding the seat's incidents (the
district's store once sync17 carries the seat tables; the query of the notes is one function)."""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from examdesk.commands.review import list_line, show_lines
from proctoring.district import Office
from proctoring.models import IncidentKind
from proctoring.review import incident_file, list_incidents
from proctoring.review_seat import room_notes, seat_of
from proctoring.seat_store import acknowledge
from proctoring.store import Store
from reader.virtual import faces_dir
from reports.fraud import fraud_pdf
from reports.incidents import Period, collect_fraud
from reports.layout import catalog_words

from .test_seat_room import Room, own, play

ORL = faces_dir() / "orl"


@pytest.fixture
def room(store: Store, engine, tmp_path: Path) -> Room:
    return Room(store, engine, tmp_path)


def office(store: Store) -> Any:
    """The review's functions read ``office.store`` only: here the centre's own store."""
    return Office(store=store, district=None)  # type: ignore[arg-type]


def test_a_seat_incident_in_the_review_with_its_evidence_seat_times_and_room_notes(
        room: Room, tmp_path: Path) -> None:
    frames = [own(1), own(2), own(3)] + [ORL / "s12" / f"{n}.png" for n in (1, 2, 3, 4)]
    play(room.runner(frames), len(frames))
    (incident,) = room.incidents()
    acknowledge(room.store, str(incident.id), "Đã mời thí sinh lên bàn giám thị", actor="gv01")

    (row,) = list_incidents(office(room.store))
    assert seat_of(row.incident) == "A01"
    line_vi, line_en = list_line(row, "vi"), list_line(row, "en")
    assert "Khuôn mặt không khớp" in line_vi and "ghế A01" in line_vi
    assert "Face mismatch" in line_en and "seat A01" in line_en
    assert "FACE_MISMATCH" not in line_vi + line_en

    dossier = incident_file(office(room.store), str(incident.id)[:8])
    assert [s.checkin.id for s in dossier.sides] == [room.checkin_id]  # the door's admission
    assert dossier.sides[0].frame is not None and dossier.sides[0].frame.state == "ok"
    (frame,) = dossier.frames  # the seat's evidence, decrypted with the data key
    assert frame.state == "ok" and frame.data is not None and frame.data[:3] == b"\xff\xd8\xff"
    notes = room_notes(room.store, incident.id)
    assert [(n.note, n.actor) for n in notes] == [("Đã mời thí sinh lên bàn giám thị", "gv01")]
    shown = "\n".join(show_lines(dossier, notes, "vi"))
    for words in ("Khuôn mặt không khớp", "Thi trực tuyến tại ghế A01: từ", "đến",
                  "Ảnh chứng cứ của sự cố: 1 (ok)", "Ghi nhận trong phòng thi",
                  "Đã mời thí sinh lên bàn giám thị", "Nguyễn Văn An"):
        assert words in shown, words
    assert "Online exam at seat A01" in "\n".join(show_lines(dossier, notes, "en"))

    data = collect_fraud(room.store, Period(date(2026, 12, 3), date(2026, 12, 3)))
    from tests.reports.conftest import pdftotext

    path = tmp_path / "fraud.pdf"
    path.write_bytes(fraud_pdf(data, catalog_words("vi"), lang="vi"))
    text = unicodedata.normalize("NFC", " ".join(pdftotext(path).split()))
    assert "Thi trực tuyến tại ghế A01." in text


def test_a_camera_lost_incident_is_listed_in_words(room: Room) -> None:
    runner = room.runner([own(1), own(2)], fail_at=1)
    play(runner, 6)
    (row,) = list_incidents(office(room.store))
    assert row.incident.kind is IncidentKind.CAMERA_LOST
    assert "Mất tín hiệu camera" in list_line(row, "vi")
    assert "Camera lost" in list_line(row, "en")
    assert room_notes(room.store, row.incident.id) == ()


def test_the_desk_review_opens_a_seat_incident_with_its_frame_and_notes(room: Room) -> None:
    from examdesk.views.review_jobs import open_dossier

    frames = [own(1), own(2), own(3)] + [ORL / "s12" / f"{n}.png" for n in (1, 2, 3, 4)]
    play(room.runner(frames), len(frames))
    (incident,) = room.incidents()
    acknowledge(room.store, str(incident.id), "Đã kiểm tra lại CCCD", actor="gv01")
    dossier = open_dossier(office(room.store), incident.id, (150, 150))
    (side,) = dossier.sides
    assert side.portrait.state == "none" and side.frame.image is not None  # the door's face
    (frame,) = dossier.frames  # shown beside it: the frame the seat kept
    assert frame.state == "ok" and frame.image is not None and frame.image.size[0] <= 150
    assert [n.note for n in dossier.notes] == ["Đã kiểm tra lại CCCD"]
