"""`examdesk checkin`: a headless check-in — read the card on the reader, capture from a
camera, decide, store, print the decision."""

from __future__ import annotations

import json
import sys
import uuid
from typing import Annotated

import typer
from rich.console import Console

from biometrics import BiometricsError, Challenge, FaceEngine, open_camera
from examdesk.commands.card import EXIT_CODES as CARD_EXIT_CODES
from examdesk.commands.card import assess_card
from examdesk.commands.common import fail, fail_typed
from examdesk.commands.face import load_settings
from examdesk.commands.session import actor, fail_with, stored
from examdesk.i18n import Catalog, default_language
from examdesk.settings import SettingsError, read_section
from proctoring import errors
from proctoring.checkin import CheckInOutcome, CheckInService, Progress
from proctoring.checkins import record_override
from proctoring.models import Decision, Stage
from proctoring.policy import SECTION as POLICY_SECTION
from proctoring.policy import CheckInRules, RuleInvalid
from proctoring.sessions import find_session
from reader.errors import ReaderError, is_card_fault
from reader.keys import access_keys
from reader.session import read_card
from reader.transport import PcscTransport

EXIT_CAMERA = 3


def load_rules(as_json: bool) -> CheckInRules:
    """The centre's check-in rules from the settings file; a bad value ends the command with
    its bilingual message (exit 2, as a bad option) before any card is read."""
    try:
        return CheckInRules.from_dict(read_section(POLICY_SECTION))
    except RuleInvalid as exc:
        fail(exc.key, as_json, 2, exc.detail, **exc.context)
    except SettingsError as exc:
        fail(exc.key, as_json, 2, exc.detail, **exc.context)


def _banner(outcome: CheckInOutcome, lang: str) -> None:
    catalog = Catalog.load()
    console = Console()
    style = {"ADMIT": "bold white on green", "REVIEW": "bold black on yellow",
             "REJECT": "bold white on red"}[outcome.decision.value]
    key = f"checkin.decision.{outcome.decision.value.lower()}"
    console.print(f"[{style}] {catalog.text(key, lang)} [/]")
    if outcome.roster is not None:
        c = outcome.roster.candidate
        console.print(f"{c.full_name} · {c.id_number} · "
                      f"{outcome.roster.entry.registration_number or ''}")
    for reason in outcome.reasons:
        text = catalog.text(reason.key, lang, detail=reason.detail, **reason.context)
        console.print(f"  • {text}")
    if outcome.face is not None:
        console.print(f"[dim]face {outcome.face.decision.value} "
                      f"d={outcome.face.distance:.3f} (threshold "
                      f"{outcome.face.point.threshold:.3f})[/dim]")


def checkin_cmd(
    session_ref: Annotated[str, typer.Option("--session", help="session id or code")],
    camera: Annotated[list[str], typer.Option(
        "--camera", help="device number, video, folder or image files")],
    id_number: Annotated[str | None, typer.Option("--id", help="12-digit ID")] = None,
    dob: Annotated[str | None, typer.Option("--dob", help="date of birth, YYYY-MM-DD")] = None,
    expiry: Annotated[str | None, typer.Option("--expiry", help="expiry, YYYY-MM-DD")] = None,
    mrz: Annotated[str | None, typer.Option("--mrz", help="the MRZ on the back")] = None,
    qr: Annotated[str | None, typer.Option("--qr", help="the QR code on the front")] = None,
    can: Annotated[str | None, typer.Option("--can", help="6-digit CAN")] = None,
    stage: Annotated[str | None, typer.Option("--stage", help="driving test stage")] = None,
    reader: Annotated[str | None, typer.Option("--reader", help="reader name or part")] = None,
    wait: Annotated[float, typer.Option("--wait", help="seconds to wait for a card")] = 10.0,
    challenge: Annotated[str | None, typer.Option("--challenge",
                                                  help="blink, turn_left or turn_right")] = None,
    consent: Annotated[bool, typer.Option("--consent/--no-consent",
                                          help="the candidate agreed to face matching")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
    lang: Annotated[str, typer.Option("--lang", help="vi or en")] = default_language(),
) -> None:
    """Kiểm tra thí sinh — read the card, capture the face, decide ADMIT / REJECT / REVIEW and
    store it (with its evidence, encrypted, and its audit event)."""
    rules = load_rules(as_json)  # a bad rule stops the command before anything is opened
    with stored(as_json) as store:  # closed however the command ends
        try:
            with store.read() as tx:
                session = find_session(tx, session_ref)
            stage_value = Stage(stage) if stage else None
            chosen = Challenge(challenge) if challenge else None
        except errors.ProctoringError as exc:
            fail_with(exc, as_json)
        except ValueError as exc:
            fail("checkin.bad_option", as_json, 2, str(exc))
        engine = FaceEngine(load_settings())
        warming = engine.warm_up()  # the models load while the card is read
        try:
            keys = access_keys(id_number, dob, expiry, mrz, qr, can)
            transport = PcscTransport.open(reader, wait=wait)
            try:
                card = read_card(transport, keys)
            finally:
                transport.close()
            trust = assess_card(card, None)
        except ReaderError as exc:
            if is_card_fault(exc):
                # A forged or broken chip: recorded (REJECT, FORGED, an incident) before the
                # error is shown, so the attempt is never lost.
                try:
                    rejected = CheckInService(store, engine, rules=rules).record_rejected_card(
                        session, exc, actor=actor(), consent=consent, stage=stage_value)
                except errors.ProctoringError as stored_exc:
                    fail_with(stored_exc, as_json)
                exc.context.update(checkin_id=str(rejected.checkin_id or ""),
                                   incident_id=str(rejected.incident_id))
            fail_typed(exc, CARD_EXIT_CODES, as_json)
        warming.result()
        shown: list[str] = []

        def progress(p: Progress) -> None:
            # Each sentence once; a retried challenge says "try 2 of 2", a new sentence.
            text = Catalog.load().text(p.key, lang, **p.context)
            if sys.stderr.isatty() and text not in shown:
                shown.append(text)
                print(text, file=sys.stderr)

        service = CheckInService(store, engine, rules=rules)
        try:
            cam = open_camera(camera)
            try:
                outcome = service.check_in(session, card, trust, cam, consent=consent,
                                           stage=stage_value, actor=actor(), challenge=chosen,
                                           on_progress=progress)
            finally:
                cam.close()
        except BiometricsError as exc:
            fail(exc.key, as_json, EXIT_CAMERA, exc.detail, **exc.context)
        except errors.ProctoringError as exc:
            fail_with(exc, as_json)
        if as_json:
            print(json.dumps(outcome.to_dict(), ensure_ascii=False))
        else:
            _banner(outcome, lang)


def override_cmd(
    checkin_id: Annotated[str, typer.Argument(help="the check-in to override")],
    decision: Annotated[str, typer.Option("--decision", help="ADMIT, REJECT or REVIEW")],
    reason: Annotated[str, typer.Option("--reason", help="why (mandatory, written down)")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
    lang: Annotated[str, typer.Option("--lang", help="vi or en")] = default_language(),
) -> None:
    """Ghi đè quyết định — an invigilator's decision over the machine's, with a written reason;
    it becomes an incident for the education office."""
    with stored(as_json) as store:  # closed however the command ends
        try:
            target = uuid.UUID(checkin_id.strip())
            chosen = Decision(decision.strip().upper())
        except ValueError as exc:
            fail("checkin.bad_option", as_json, 2, str(exc))
        try:
            incident = record_override(store, target, decision=chosen, reason=reason,
                                       operator_id=None, actor=actor())
        except errors.ProctoringError as exc:
            fail_with(exc, as_json)
        if as_json:
            print(json.dumps({"checkin_id": str(target), "decision": chosen.value,
                              "incident_id": str(incident.id),
                              "incident_kind": str(incident.kind)}, ensure_ascii=False))
        else:
            print(Catalog.load().text("checkin.overridden", lang, decision=chosen.value))
