"""`examdesk checkin`: a headless check-in — read the card on the reader, capture from a
camera, decide, store, print the decision."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from biometrics import BiometricsError, CameraUnavailable, Challenge, FaceEngine, open_camera
from biometrics.camera import Frame, check_sources
from biometrics.fused_check import SecondModel
from biometrics.onnx_embedder import SECTION as EMBEDDER_SECTION
from biometrics.onnx_embedder import EmbedderError
from biometrics.remote import ProcessFaceEngine, portrait_engine
from examdesk.commands.common import LangOption, choices
from examdesk.commands.errors import EXIT_REJECT, EXIT_REVIEW, BadOption, ExitTable, cli_errors
from examdesk.commands.face import load_settings
from examdesk.commands.session import actor, stored
from examdesk.i18n import Catalog, default_language
from examdesk.i18n.words import decision_key, decision_sentence_key
from examdesk.services.cards import PcscCards
from examdesk.services.checkin import CheckInRequest, QuietListener, run_checkin
from examdesk.services.outbox import centre_or_outbox, session_for
from examdesk.services.override import admits_forged, override_checkin, resolve_checkin
from examdesk.services.trust import TrustFiles
from examdesk.settings import SettingsError, desk_name, read_section
from proctoring.checkin import (
    CardRejected,
    CheckInOutcome,
    CheckInService,
    EarlierAdmission,
    Progress,
)
from proctoring.checkin_lookup import looks_like_checkin_ref
from proctoring.errors import ForgedOverrideNeedsAdmin, ForgedOverrideNotConfirmed
from proctoring.models import Decision, ExamSession, Role, Stage
from proctoring.policy import SECTION as POLICY_SECTION
from proctoring.policy import CheckInRules, RuleInvalid
from proctoring.session_dates import checkin_day
from reader.keys import access_keys

T = TypeVar("T")

EXIT_CAMERA = 3
CHECKIN_EXITS: ExitTable = (
    # The site's second face model not being the one it pinned: a setting to correct.
    (EmbedderError, 2),
    # The camera and the face: whatever fails there ends a check-in with 3, as it always did.
    (BiometricsError, EXIT_CAMERA),
    # A check-in rule the settings file gets wrong: a bad value given, before any card is read.
    (RuleInvalid, 2),
    (SettingsError, 2),
)


class BadCheckinOption(BadOption):
    key = "checkin.bad_option"
    reasons = "checkin.option"  # one text per option: what was given, what it may be


def load_second_model() -> SecondModel | None:
    """The site's second face model (pinned ONNX file and fitted fusion), or None; a wrong hash
    or a bad section is its typed error (exit 2)."""
    return SecondModel.from_settings(read_section(EMBEDDER_SECTION))


def load_rules() -> CheckInRules:
    """The centre's check-in rules from the settings file (``RuleInvalid`` / ``SettingsError``
    for a bad value or file)."""
    return CheckInRules.from_dict(read_section(POLICY_SECTION))


def _parsed(parse: Callable[[], T], option: str, value: str, choices: str = "") -> T:
    """An option's value; a value it cannot be is the typed ``checkin.option.<option>`` (exit 2),
    which names the option, the value given and what it may be."""
    try:
        return parse()
    except ValueError as exc:
        raise BadCheckinOption(str(exc), reason=option.lstrip("-").replace("-", "_"),
                               option=option, value=value, choices=choices) from None


def _checkin_ref(text: str) -> str:
    if not looks_like_checkin_ref(text):
        raise ValueError(f"{text!r} is not a check-in id or its first characters")
    return text.strip()


def _already(earlier: EarlierAdmission | None, lang: str, console: Console) -> None:
    """"Already admitted at 07:42 at desk Cửa 1": before anything else about this attempt."""
    if earlier is not None:
        text = Catalog.load().text(earlier.key, lang, **earlier.context)
        console.print(f"[bold black on yellow] {text} [/]", highlight=False)


def _banner(outcome: CheckInOutcome, lang: str) -> None:
    catalog = Catalog.load()
    console = Console()
    style = {"ADMIT": "bold white on green", "REVIEW": "bold black on yellow",
             "REJECT": "bold white on red"}[outcome.decision.value]
    key = decision_sentence_key(outcome.decision)
    _already(outcome.already_admitted, lang, console)
    console.print(f"[{style}] {catalog.text(key, lang)} [/]")
    if outcome.roster is not None:
        c = outcome.roster.candidate
        console.print(f"{c.full_name} · {c.id_number} · "
                      f"{outcome.roster.entry.registration_number or ''}")
    for reason in outcome.reasons:
        if outcome.already_admitted is not None and reason.key == outcome.already_admitted.key:
            continue  # said above, first
        text = catalog.text(reason.key, lang, detail=reason.detail, **reason.context)
        console.print(f"  • {text}")
    if outcome.face is not None:
        f = outcome.face
        normed = (f" AS-norm {f.score:.3f} against {f.cohort} portraits"
                  if f.method == "asnorm" and f.score is not None else "")
        console.print(f"[dim]face {f.decision.value} d={f.distance:.3f}{normed} (threshold "
                      f"{f.point.threshold:.3f})[/dim]")
    if outcome.waiting:  # the centre did not answer: kept here, and the rule it followed
        offline = catalog.text("outbox.offline", lang, n=outcome.waiting)
        console.print(f"[bold black on yellow] ⚠ {offline} [/]", highlight=False)
        console.print(catalog.text("outbox.queued", lang, n=outcome.waiting))
        console.print(catalog.text("outbox.rule", lang))
    # The id `override` takes: printed, not only in --json (issue 13).
    console.print(catalog.text("checkin.checkin_id", lang, checkin_id=str(outcome.checkin_id)),
                  highlight=False)


def _warn_other_day(session: ExamSession, now: datetime, lang: str) -> None:
    """A check-in on another day than the session's is allowed (a session past midnight, a
    late candidate) but said, before the card is read: a wrong session chosen shows at once
    (proctoring/session_dates.py)."""
    other = checkin_day(session, now)
    if other is not None:
        key = "checkin.session_was_earlier" if other.days > 0 else "checkin.session_is_later"
        print(Catalog.load().text(key, lang, code=session.code, **other.context()),
              file=sys.stderr)


class _Progress(QuietListener):
    """The steps on stderr, each once, when a person watches the terminal."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.shown: set[str] = set()

    def progress(self, progress: Progress) -> None:
        # Each sentence once; a retried challenge says "try 2 of 2", a new sentence.
        text = Catalog.load().text(progress.key, self.lang, **progress.context)
        if sys.stderr.isatty() and text not in self.shown:
            self.shown.add(text)
            print(text, file=sys.stderr)


# Decree 13/2023: consent to biometric processing is asked and given, never presumed; the
# command cannot guess it, so it must be said either way.
CONSENT_VALUES = {"yes": True, "no": False}


def _consent(value: str | None) -> bool:
    if value is None:
        raise BadCheckinOption("--consent yes|no is required", reason="consent_missing",
                               option="--consent", choices=choices(*CONSENT_VALUES))
    return _parsed(lambda: _yes_no(value), "--consent", value, choices(*CONSENT_VALUES))


def _yes_no(value: str) -> bool:
    try:
        return CONSENT_VALUES[value.strip().lower()]
    except KeyError:
        raise ValueError(f"{value!r} is neither yes nor no") from None


class _NoCamera:
    """The camera of a check-in without consent: never opened, never read (no face may be
    captured; the service asks a person to check by eye)."""

    def read(self, timeout: float = 2.0) -> Frame:
        raise CameraUnavailable("no consent: the camera is not used")

    def close(self) -> None:
        pass


def checkin_cmd(
    session_ref: Annotated[str, typer.Option("--session", help="session id or code")],
    camera: Annotated[list[str] | None, typer.Option(
        "--camera", help="device number, video, folder or image files (needed with "
        "--consent yes)")] = None,
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
    consent_given: Annotated[str | None, typer.Option(
        "--consent", metavar="yes|no",
        help="required: the candidate was asked and agreed to face matching (yes) or not (no; "
        "no face is captured and an invigilator checks by eye: REVIEW)")] = None,
    desk: Annotated[str | None, typer.Option(
        "--desk", help="this desk's name, stored with the check-in (default: the settings' "
        "app.desk, else the computer's name)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
    lang: LangOption = None,
) -> None:
    """Kiểm tra thí sinh — read the card, capture the face, decide ADMIT / REJECT / REVIEW and
    store it (with its evidence, encrypted, and its audit event)."""
    lang = lang or default_language()
    with cli_errors(as_json, CHECKIN_EXITS):
        rules = load_rules()  # a bad rule stops the command before anything is opened
        second = load_second_model()  # so does a second model that is not the pinned one
        stage_value = (_parsed(lambda: Stage(stage), "--stage", stage,
                               choices(*Stage)) if stage else None)
        chosen = (_parsed(lambda: Challenge(challenge), "--challenge", challenge,
                          choices(*(c.value for c in Challenge))) if challenge else None)
        consent = _consent(consent_given)
        keys = tuple(access_keys(id_number, dob, expiry, mrz, qr, can))
        sources = list(camera or ())
        if consent and not sources:
            raise BadCheckinOption("--consent yes needs --camera", reason="camera_missing",
                                   option="--camera")
        if consent:
            check_sources(sources)  # the camera given is there: said before the card is read
        station = desk_name({"desk": desk} if desk else read_section("app"))
        # A desk of a centre keeps checking in while the centre's database is unreachable: the
        # check-in waits in this desk's outbox (issue 17, services/outbox.py).
        settings = load_settings()
        with centre_or_outbox(point=settings.operating_point) as place:
            store = place.store
            session = session_for(place, session_ref)
            _warn_other_day(session, store.now(), lang)
            # Two cores or more: the live frames and the chip portrait are encoded at once, each
            # in its own face process (dlib holds the GIL: here it would also stall the card
            # read at every exchange); both load while the card is read.
            portrait = portrait_engine(settings) if consent else None
            engine = FaceEngine(settings) if portrait is None else ProcessFaceEngine(settings)
            warming = engine.warm_up()  # the models load while the card is read
            if portrait is not None:
                portrait.warm_up()
            request = CheckInRequest(session, keys, consent=consent, actor=actor(),
                                     stage=stage_value, challenge=chosen, card_wait=wait)
            try:
                outcome = run_checkin(request, cards=PcscCards(reader), trust=TrustFiles.user(),
                                      service=CheckInService(store, engine, rules=rules,
                                                             second=second, desk=station,
                                                             outbox=place.outbox,
                                                             portrait_engine=portrait),
                                      camera=(lambda: open_camera(sources)) if consent
                                      else _NoCamera, models_ready=warming,
                                      listener=_Progress(lang))
            except CardRejected as exc:
                # Recorded (REJECT, FORGED, an incident) before the error is shown: the
                # command ends on what the card did, naming what was stored.
                if not as_json:
                    _already(exc.already_admitted, lang, Console(stderr=True))
                shown = exc.reader_error
                shown.context.update(checkin_id=str(exc.context.get("checkin_id") or ""),
                                     incident_id=str(exc.context.get("incident_id") or ""))
                raise shown from exc
            finally:
                for child in (engine, portrait):
                    if isinstance(child, ProcessFaceEngine):
                        child.close()
    if as_json:
        print(json.dumps(outcome.to_dict(), ensure_ascii=False))
    else:
        _banner(outcome, lang)
    # Not an error: stored and shown; a script still tells "refused" from "admitted".
    if outcome.decision is not Decision.ADMIT:
        raise typer.Exit(EXIT_REVIEW if outcome.decision is Decision.REVIEW else EXIT_REJECT)


# A forged card admitted without the admin's role: refused as a permission (6), as the
# district's access refusals are; without the second confirmation: an option missing (2).
OVERRIDE_EXITS: ExitTable = ((ForgedOverrideNeedsAdmin, 6), (ForgedOverrideNotConfirmed, 2))


def override_cmd(
    checkin_id: Annotated[str, typer.Argument(
        help="the check-in to override: its ID or the first characters of it")],
    decision: Annotated[str, typer.Option("--decision", help="ADMIT, REJECT or REVIEW")],
    reason: Annotated[str, typer.Option("--reason", help="why (mandatory, written down)")],
    role: Annotated[str, typer.Option(
        "--role", help="who decides: invigilator, or centre_admin (needed to admit on a "
        "forged card; written to the audit log)")] = Role.INVIGILATOR.value,
    confirm_forged: Annotated[bool, typer.Option(
        "--confirm-forged", help="the second confirmation to admit on a forged card "
        "(asked at the terminal when not given)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
    lang: LangOption = None,
) -> None:
    """Ghi đè quyết định — an invigilator's decision over the machine's, with a written reason;
    it becomes an incident for the education office. Admitting on a FORGED card is the centre
    admin's decision (--role centre_admin) and needs a second confirmation."""
    lang = lang or default_language()
    with cli_errors(as_json, OVERRIDE_EXITS):
        _parsed(lambda: _checkin_ref(checkin_id), "checkin-id", checkin_id)
        chosen = _parsed(lambda: Decision(decision.strip().upper()), "--decision", decision,
                         choices(*Decision))
        who = _parsed(lambda: Role(role.strip().lower()), "--role", role,
                      choices(Role.INVIGILATOR.value, Role.CENTRE_ADMIN.value))
        with stored() as store:  # closed however the command ends
            target = resolve_checkin(store, checkin_id)
            if (admits_forged(store, target, chosen) and who is Role.CENTRE_ADMIN
                    and not confirm_forged and not as_json and sys.stdin.isatty()):
                confirm_forged = typer.confirm(
                    Catalog.load().text("checkin.override_forged_prompt", lang), default=False)
            done = override_checkin(store, target, chosen, reason, actor=actor(), role=who,
                                    confirmed_forged=confirm_forged)
    if as_json:
        print(json.dumps(done.to_dict(), ensure_ascii=False))
    else:
        catalog = Catalog.load()
        print(catalog.text("checkin.override_done", lang, checkin_id=str(done.checkin_id),
                           decision=catalog.text(decision_key(chosen), lang)))
