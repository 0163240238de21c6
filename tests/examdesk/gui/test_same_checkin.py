"""One check-in, two front ends: the same candidate checked in at the desk (the real window,
Xvfb) and with ``examdesk checkin`` (the real command, pcscd + vpcd) must store the same check-in.

Same scenario on both sides: the demo's "right person" card (Nguyễn Văn An, ORL s27 on the
chip), the demo session and roster (each side in its own fresh demo folder, so neither sees the
other's check-in as a second one), the same ORL photos played as the camera, the blink challenge,
consent given. Compared field by field: everything but ids, times and the exact face distance
(the desk's camera hands the newest frame, the command's every frame: the frames scored differ).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from examdesk.demo import SESSION_CODE, Scenario, demo_cards, prepare_demo_home
from proctoring.models import CheckIn, Evidence, IncidentCheckIn, Role, RosterEntry
from proctoring.store import Store
from reader.virtual import VirtualCccd, VpcdConnection
from tests.conftest import VPCD_PORT, wait_for_reader_state
from tests.examdesk.gui.conftest import Desk

pytestmark = pytest.mark.pcsc

EXAMDESK = str(Path(sys.executable).parent / "examdesk")
SCENARIO = Scenario.RIGHT_PERSON


def stored_checkin(store: Store) -> dict[str, Any]:
    """The one check-in in ``store``, as the fields both front ends must agree on."""
    with store.read() as tx:
        (row,) = tx.exec(select(CheckIn)).all()
        entry = tx.get(RosterEntry, row.roster_entry_id) if row.roster_entry_id else None
        evidence = sorted(str(e.kind) for e in tx.exec(
            select(Evidence).where(Evidence.checkin_id == row.id)).all())
        incidents = len(tx.exec(select(IncidentCheckIn).where(
            IncidentCheckIn.checkin_id == row.id)).all())
    return {
        "decision": row.decision, "machine_decision": row.machine_decision,
        "reasons": [(r["key"], r.get("context", {}).get("finding")) for r in row.reasons],
        "id_number": row.id_number, "stage": row.stage, "consent": row.consent,
        "trust_verdict": row.trust_verdict, "trust_findings": sorted(row.trust_findings),
        "face_outcome": row.face_outcome, "face_measured": row.face_distance is not None,
        "liveness": row.liveness,
        "roster": None if entry is None else (entry.registration_number, entry.seat),
        "evidence": evidence, "incidents": incidents,
    }


def cli_checkin(home: Path, can: str, photos: tuple[Path, ...]) -> None:
    args = [EXAMDESK, "checkin", "--session", SESSION_CODE, "--challenge", "blink", "--consent",
            "yes", "--can", can, "--json"]
    for photo in photos:
        args += ["--camera", str(photo)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=180, env={
        "PATH": "/usr/bin:/bin", "EXAMDESK_HOME": str(home), "PYTHONUTF8": "1",
        "EXAMDESK_KEYRING": "0", "EXAMDESK_LANG": "vi"})
    assert done.returncode == 0, done.stderr


@pytest.mark.desk_state(role=Role.INVIGILATOR, screen="checkin", card=SCENARIO)
def test_the_desk_and_the_command_line_store_the_same_checkin(desk: Desk, pcscd: str,
                                                               tmp_path: Path) -> None:
    demo = demo_cards()[SCENARIO]
    can = VirtualCccd(demo.profile).access_data()["can"]

    # At the desk: the demo card is on its reader, its holder at the camera; the CAN, Enter.
    view = desk.checkin
    desk.press("F8")  # the candidate consents, as the command line's --consent says
    view.key_entry.insert(0, can)
    desk.press("Return", view.key_entry)
    seen = desk.wait_decided(timeout=120)
    assert seen["state"] == "decided", seen
    at_desk = stored_checkin(desk.app.services.store)

    # At the command line: a fresh demo folder (the same session and roster), the same card
    # through pcscd and vpcd, the same photos as the camera.
    home = prepare_demo_home(tmp_path / "cli-home", actor="test:cli")
    assert wait_for_reader_state(present=False), f"another card occupies {pcscd!r}"
    link = VpcdConnection(VirtualCccd(demo.profile), port=VPCD_PORT)
    link.start()
    try:
        assert wait_for_reader_state(present=True), "pcscd did not see the virtual card"
        cli_checkin(home.root, can, demo.photos)
    finally:
        link.stop()
        wait_for_reader_state(present=False)
    store = Store.open(home.db_url, keys=home.keys())
    try:
        at_cli = stored_checkin(store)
    finally:
        store.close()

    assert at_desk["decision"] == "ADMIT", at_desk  # the scenario is the ordinary one
    assert at_desk["evidence"] and at_desk["face_measured"] and at_desk["roster"]
    assert at_cli == at_desk
