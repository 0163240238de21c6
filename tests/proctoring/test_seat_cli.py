"""`examdesk seat` and `examdesk room status|ack`: what the seat and the invigilator type and
see, on a real store, with file cameras playing real photos."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from biometrics import FaceEngine
from examdesk.cli import app
from proctoring.crypto import KeyStore
from proctoring.store import Store
from reader.virtual import faces_dir

from .test_seat_room import Room, own

ORL = faces_dir() / "orl"


@pytest.fixture
def cli_room(db_url: str, engine: FaceEngine, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Room:
    monkeypatch.setenv("EXAMDESK_DB_URL", db_url)
    monkeypatch.setenv("EXAMDESK_CENTRE", "HN01")
    store = Store.open(db_url, keys=KeyStore.default())  # the keys the commands use
    try:
        return Room(store, engine, tmp_path)
    finally:
        store.close()


def run(*args: str, answer: str | None = None) -> tuple[int, str, str]:
    """``answer``: what the candidate types at the seat's consent question."""
    result = CliRunner().invoke(app, list(args), input=answer)
    return result.exit_code, result.stdout, result.stderr


def test_a_seat_binds_watches_and_the_room_sees_it(cli_room: Room) -> None:
    code, out, err = run("seat", "--session", "S1", "--seat", "A01", "--interval", "0.5",
                         "--checks", "5", "--json", *(f"--camera={own(n)}" for n in (1, 2, 3)),
                         answer="c\n")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    # Waiting for the candidate's answer to the consent text first (shown on stderr in --json).
    states = [x["state"] for x in lines if x["state"] != "waiting"]
    assert states[:2] == ["bound", "watching"] and lines[-1]["end"]
    assert "Đồng ý giám sát tại máy thi" in err and "Consent to monitoring" in err
    code, out, _ = run("room", "status", "--session", "S1", "--lang", "en")
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("A01"))
    assert "Nguyễn Văn An" in row and "● Monitoring" in row and "001" in row
    assert "No seat agent" in next(line for line in out.splitlines() if line.startswith("A02"))
    code, out, _ = run("room", "status", "--session", "S1")
    assert "Đang giám sát" in out and "Ghế" in out


def test_a_swap_at_the_seat_is_seen_and_acknowledged(cli_room: Room) -> None:
    frames = [own(1), own(2), own(3)] + [ORL / "s12" / f"{n}.png" for n in (1, 2, 3, 4)]
    code, out, err = run("seat", "--session", "S1", "--seat", "A01", "--interval", "0.5",
                         "--checks", str(len(frames)), *(f"--camera={f}" for f in frames),
                         "--lang", "vi", answer="y\n")
    assert code == 0, err
    assert "A01: ✖ Người khác đang ngồi thi" in out
    code, out, _ = run("room", "status", "--session", "S1", "--json")
    (seat,) = [s for s in json.loads(out)["seats"] if s["seat"] == "A01"]
    assert seat["state"] == "different_person" and seat["en"].startswith("✖ A different")
    incident = str(cli_room.incidents()[0].id)
    code, out, _ = run("room", "ack", incident[:8], "--note", "Đã mời thí sinh lên bàn giám thị",
                       "--lang", "en")
    assert code == 0 and f"Incident {incident} acknowledged" in out
    code, out, err = run("audit", "verify")  # the seat's events and rows hold up in the chain
    assert code == 0, out + err
    # The insider shortens the incident in the database: the chain's row digest gives it away.
    with cli_room.store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE incident SET ended_at = started_at"))
    assert run("audit", "verify")[0] == 8


def test_bad_input_is_a_typed_bilingual_error(cli_room: Room) -> None:
    code, _, err = run("seat", "--session", "S1", "--seat", "A01", "--interval", "0",
                       f"--camera={own(1)}")
    assert code == 2 and "Khoảng thời gian kiểm tra" in err and "check interval" in err
    code, out, err = run("room", "ack", "0000abcd", "--note", "x", "--json")
    assert code == 4 and json.loads(out)["error"]["key"]
    code, _, err = run("room", "ack", "0000abcd", "--note", "   ")
    assert code == 2
    code, out, _ = run("room", "pause", "--session", "S1", "--seat", "A01", "--minutes", "5",
                       "--note", "Đi vệ sinh", "--lang", "en")
    assert code == 0 and "Seat A01: monitoring paused until" in out
    assert run("room", "pause", "--session", "S1", "--seat", "A01", "--minutes", "0")[0] == 2
    assert run("room", "resume", "--session", "S1", "--seat", "A01")[0] == 0
    code, _, err = run("seat", "--session", "S1", "--seat", "A01",
                       "--camera=/nonexistent/camera.mp4", "--checks", "1")
    assert code == 3, err


def test_a_seat_label_never_becomes_a_path(tmp_path: Path) -> None:
    from examdesk.commands.seat import buffer_path

    session = uuid.uuid4()
    path = buffer_path(session, "../../etc/passwd")
    assert path.parent.name == "seat" and "/" not in path.name and ".." not in path.name


def test_a_candidate_who_does_not_consent_is_never_watched_and_the_room_says_so(
        cli_room: Room) -> None:
    code, out, err = run("seat", "--session", "S1", "--seat", "A01", "--interval", "0.5",
                         "--checks", "4", *(f"--camera={own(n)}" for n in (1, 2, 3)),
                         "--lang", "en", answer="k\n")
    assert code == 0, err
    assert "Consent to monitoring at this computer — seat A01" in out  # the text, shown
    assert "Recorded: you do not consent." in out and "bound" not in out.lower()
    code, out, _ = run("room", "status", "--session", "S1", "--lang", "vi")
    row = next(line for line in out.splitlines() if line.startswith("A01"))
    assert "⊘ Thí sinh chưa đồng ý giám sát" in row
    code, out, _ = run("seat", "--session", "S1", "--seat", "A01", "--interval", "0.5",
                       "--checks", "2", f"--camera={own(1)}", "--lang", "en", answer="")
    assert code == 0 and "Recorded" not in out  # asked again; no answer is no consent
