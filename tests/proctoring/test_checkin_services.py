"""The use-case layer's check-in and override (examdesk/services/): what the command line and the
desk share must behave the same through both — here the trust policy's error, which the CLI once
wrapped into its typed message and the desk did not; the same-scenario comparison through the
real CLI and the real window is tests/examdesk/gui/test_same_checkin.py."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from biometrics import Camera, FaceEngine
from examdesk.paths import config_dir
from examdesk.services.checkin import CheckInRequest, run_checkin
from examdesk.services.override import override_checkin
from examdesk.services.trust import POLICY_FILE, TrustFiles
from examdesk.views.cards import LoopbackCards
from examdesk.views.context import Places
from proctoring.checkin import CheckInService
from proctoring.errors import OverrideNeedsReason
from proctoring.models import CheckIn, Decision, Incident
from proctoring.store import Store
from reader.errors import MalformedData, is_card_fault
from reader.keys import BacKey
from tests.reader.hostile import hostile, profile, read

from .helpers import add_roster, centre_and_session, checkin

# Not a verdict: the policy file an admin mistyped.
BAD_POLICY = '[verdicts]\n"passive.no_csca" = "MAYBE"\n'


def _bad_policy() -> Path:
    path = config_dir() / POLICY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(BAD_POLICY, "utf-8")
    return path


def test_a_bad_trust_policy_is_one_typed_error_for_the_cli_and_the_desk() -> None:
    path = _bad_policy()
    card = read(hostile())
    with pytest.raises(MalformedData) as desk:  # the desk's trust files (views/context.py)
        Places.user().trust.assess(card)
    with pytest.raises(MalformedData) as cli:  # `examdesk card read --verify`, `checkin`
        TrustFiles.user().assess(card)  # what commands/card.py and checkin.py build
    for caught in (desk.value, cli.value):
        assert caught.key == "card.malformed"
        assert caught.detail.startswith("trust policy: ") and "MAYBE" in caught.detail
        assert caught.context == {"file": path.name}
    assert (desk.value.detail, desk.value.context) == (cli.value.detail, cli.value.context)
    assert TrustFiles.user() == Places.user().trust  # the same files, named once


def _no_camera() -> Camera:
    raise AssertionError("a check-in stopped by its trust policy never opens the camera")


def test_a_bad_trust_policy_stops_the_check_in_and_is_no_forged_card(store: Store) -> None:
    """The centre's own file is wrong, not the card: nothing is stored (the CLI once recorded
    a REJECT with a critical FORGED_CARD incident for it, as if the chip were forged)."""
    _bad_policy()
    session = centre_and_session(store)
    add_roster(store, session)
    cards = LoopbackCards()
    cards.put(hostile())
    key = BacKey.from_mrz(profile().access_data()["mrz"])
    with pytest.raises(MalformedData) as caught:
        run_checkin(CheckInRequest(session, (key,), consent=True, actor="t"), cards=cards,
                    trust=TrustFiles.user(), service=CheckInService(store, FaceEngine()),
                    camera=_no_camera, models_ready=threading.Event())
    assert caught.value.key == "card.malformed" and is_card_fault(caught.value)
    with store.read() as tx:
        assert list(tx.exec(select(CheckIn)).all()) == []
        assert list(tx.exec(select(Incident)).all()) == []


def test_the_override_service_changes_the_decision_and_opens_an_incident(store: Store) -> None:
    session = centre_and_session(store)
    (entry, *_) = add_roster(store, session)
    done = checkin(store, session, entry, entry_id := "001093014275",
                   decision=Decision.REVIEW).checkin
    with pytest.raises(OverrideNeedsReason):
        override_checkin(store, done.id, Decision.ADMIT, "  ", actor="t")
    result = override_checkin(store, done.id, Decision.ADMIT, "Đã đối chiếu giấy tờ", actor="t")
    assert result.to_dict() == {"checkin_id": str(done.id), "decision": "ADMIT",
                                "incident_id": str(result.incident_id),
                                "incident_kind": "OVERRIDE"}
    with store.read() as tx:
        stored = tx.get(CheckIn, done.id)
        assert stored is not None and stored.decision == Decision.ADMIT
        assert stored.id_number == entry_id and stored.override_reason == "Đã đối chiếu giấy tờ"


def test_waiting_for_the_face_models_is_cancellable_and_hands_on_a_failed_load() -> None:
    """The desk's models_ready is an Event, the command line's a Future: one wait for both."""
    from concurrent.futures import Future

    from biometrics.errors import ModelsMissing
    from examdesk.services.checkin import wait_for_models
    from proctoring.checkin import CheckInCancelled

    cancel = threading.Event()
    cancel.set()  # Esc before the models are loaded: stop at once, never hang
    for never in (threading.Event(), Future()):
        with pytest.raises(CheckInCancelled):
            wait_for_models(never, cancel)
    failed: Future[None] = Future()
    failed.set_exception(ModelsMissing("no dlib models"))
    with pytest.raises(ModelsMissing):
        wait_for_models(failed, threading.Event())
    loaded: Future[None] = Future()
    loaded.set_result(None)
    ready = threading.Event()
    ready.set()
    for done in (loaded, ready, None):
        wait_for_models(done, cancel)  # ready: no wait, even with cancel set


def test_a_retry_with_the_same_checkin_id_stores_the_check_in_once(
        store: Store, orl_engine: FaceEngine) -> None:
    """The desk chooses the check-in's id: when the centre committed but the answer was lost
    (a cable pulled, the desk killed), the retry of the same request returns the stored
    check-in and writes nothing — no second row, no second audit event, no second incident."""
    import dataclasses
    import uuid

    from biometrics import Challenge, FileCamera
    from proctoring.models import AuditEvent
    from reader.keys import Can
    from reader.trust.policy import Policy
    from reader.trust.report import assess
    from reader.trust.store import TrustStore
    from reader.virtual import VirtualCccd, faces_dir
    from reader.virtual.pki import test_csca_pem
    from reader.virtual.profile import Portrait

    class _Trust:  # the test CSCA on the day the test cards are valid
        store = TrustStore.from_files({"csca.pem": test_csca_pem()})

        def policy(self) -> Policy:
            return Policy()

        def assess(self, card: Any) -> Any:
            return assess(card, self.store, Policy(), today=date(2026, 11, 28))

    session = centre_and_session(store)
    add_roster(store, session)
    orl = faces_dir() / "orl" / "s27"
    card = VirtualCccd(dataclasses.replace(profile(), portrait=Portrait("orl/s27/10.png",
                                                                        "jpeg2000")))
    cards = LoopbackCards()
    cards.put(card)
    service = CheckInService(store, orl_engine)  # ORL people: the ORL calibration
    request = CheckInRequest(session, (Can(card.access_data()["can"]),), consent=True,
                             actor="t", challenge=Challenge.BLINK, checkin_id=uuid.uuid4())

    def camera() -> Camera:
        return FileCamera([orl / f"{n}.png" for n in (1, 5, 7, 2, 3, 4, 8)], loop=True,
                          frame_size=(1280, 720))

    first = run_checkin(request, cards=cards, trust=_Trust(), service=service,  # type: ignore[arg-type]
                        camera=camera)
    again = run_checkin(request, cards=cards, trust=_Trust(), service=service,  # type: ignore[arg-type]
                        camera=camera)
    assert first.decision is Decision.ADMIT and first.checkin_id == request.checkin_id
    assert again.checkin_id == first.checkin_id
    with store.read() as tx:
        assert [c.id for c in tx.exec(select(CheckIn)).all()] == [request.checkin_id]
        assert list(tx.exec(select(Incident)).all()) == []
        recorded = [e for e in tx.exec(select(AuditEvent)).all()
                    if e.action == "checkin.recorded"]
        assert len(recorded) == 1
