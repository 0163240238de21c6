"""`examdesk checkin` at a desk of a centre whose PostgreSQL does not answer (issue 17): the
real CLI, the card through pcscd, the session and roster from the desk's sealed copy; the
check-in waits in the desk's outbox, the output says so with the offline rule, and it arrives
when delivered."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from sqlmodel import select

from proctoring.crypto import KeyStore
from proctoring.desk_outbox import DeskOutbox
from proctoring.models import CheckIn
from proctoring.offline_rule import OTHER_DESKS
from proctoring.sessions import find_session
from proctoring.store import Store

from .test_checkin_e2e import (
    BLINK_THEN_FACE,
    EXAMDESK,
    Desk,
    can,
    card_profile,
    desk,
)

__all__ = ["desk"]
pytestmark = pytest.mark.pcsc
AWAY = "postgresql://desk:pw@127.0.0.1:9/centre"


def _run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXAMDESK, *args], capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "EXAMDESK_HOME": str(home), "PYTHONUTF8": "1",
             "EXAMDESK_KEYRING": "0", "EXAMDESK_LANG": "vi", "COLUMNS": "200",
             "EXAMDESK_DB_URL": AWAY})


def test_checkin_waits_in_the_outbox_while_the_centre_is_away(
        insert_card, desk: Desk, tmp_path: Path) -> None:
    keys = KeyStore(desk.home / "config" / "keys", use_keyring=False)
    centre = Store.open(f"sqlite:///{desk.home / 'data' / 'examdesk.db'}", keys=keys)
    outbox = DeskOutbox.for_desk(keys, desk.home / "data")
    try:
        with centre.read() as tx:
            session = find_session(tx, desk.session)
        outbox.remember(centre, session)  # the copy a connected desk keeps
        inserted = insert_card(str(card_profile(tmp_path, "nguyen-van-an", "orl/s27/10.png",
                                                "an")))
        frames = [a for f in BLINK_THEN_FACE for a in ("--camera", str(f))]
        got = _run(desk.home, "checkin", "--session", desk.session, "--challenge", "blink",
                   "--consent", "yes", "--json", *can(inserted), *frames)
        out = json.loads(got.stdout)
        assert out["decision"] == "ADMIT", (out["reasons"], got.stderr)
        assert out["waiting"] == 1 and OTHER_DESKS in {r["key"] for r in out["reasons"]}
        shown = _run(desk.home, "checkin", "--session", desk.session, "--challenge", "blink",
                     "--consent", "yes", *can(inserted), *frames)
        assert "Mất kết nối trung tâm — 2 chờ gửi" in shown.stdout, shown.stdout + shown.stderr
        assert "XEM XÉT" in shown.stdout  # the offline rule, in words
        with centre.read() as tx:
            assert tx.exec(select(CheckIn)).all() == []
        assert outbox.deliver(centre).delivered == 2  # the centre is back
        with centre.read() as tx:
            assert {str(c.id) for c in tx.exec(select(CheckIn)).all()} >= {out["checkin_id"]}
    finally:
        outbox.close()
        centre.close()
    assert os.path.exists(desk.home / "data" / "desk-outbox.db")
