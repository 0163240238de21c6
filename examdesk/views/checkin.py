"""The check-in screen: camera, card, chip portrait beside the live face, the verdict.

Keyboard: type or scan the card key (CAN, the 12-digit ID, the front QR, the back MRZ) and
press Enter to check; Enter again admits when the verdict allows it; Esc cancels a check-in
or clears the screen for the next candidate; Ctrl+O overrides with a written reason.

Everything slow runs in a worker (services/checkin.py); this screen only draws what comes
back. What it shows is one value, ``CheckInState`` (views/checkin_state.py), changed only by
that module's pure transitions and drawn whole by ``render``; a job's reports carry its
number, so a cancelled check-in that finishes late cannot overwrite the next one. The demo's
card presenting lives in views/demo_presenter.py, outside this screen.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import unicodedata
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import customtkinter as ctk
from PIL import Image

from biometrics import Challenge, LivenessVerdict
from biometrics.images import RgbImage
from examdesk.i18n.words import decision_key, decision_sentence_key, face_key, verdict_key
from examdesk.services.checkin import CheckInRequest, run_checkin
from examdesk.services.override import override_checkin
from proctoring.checkin import CardRejected, CheckInCancelled, CheckInOutcome, Progress
from proctoring.checkins import Reason
from proctoring.errors import ProctoringError
from proctoring.models import Decision, SessionKind
from proctoring.operators import operator_user
from proctoring.session_dates import checkin_day
from reader.errors import InvalidKeyInput
from reader.keys import parse_card_key
from reader.session import CardRead
from reader.trust.report import TrustReport

from . import checkin_state as desk
from .base import View
from .checkin_state import CheckInState, EntryAction, Note, Phase
from .pictures import open_picture
from .theme import (
    DECISION_LOOK,
    DISABLED,
    ERROR_LOOK,
    IDLE_LOOK,
    MUTED,
    PANEL,
    PROMPT,
    SEGMENTS,
    TRUST_LOOK,
    WORKING_LOOK,
)
from .widgets import FieldList, PictureBox, VerdictBanner

log = logging.getLogger(__name__)

FACE_BOX = (136, 181)  # a chip portrait's 3:4
START, OVERRIDE = "#1f6aa5", "#5f370e"
CARD_FIELDS = ("full_name", "id_number", "date_of_birth", "sex", "place_of_origin",
               "date_of_expiry")
# The chip writes the sex in Vietnamese; an English screen glosses it (the chip's word stays).
SEX_KEYS = {"Nam": "app.sex.male", "Nữ": "app.sex.female"}


def _without_headline(sentence: str, headline: str) -> str:
    """"CHO VÀO: đúng người, …" under the headline "CHO VÀO" → "Đúng người, …"."""
    head, sep, rest = sentence.partition(": ")
    if sep and head.casefold() == headline.casefold() and rest:
        return rest[0].upper() + rest[1:]
    return sentence


def face_crop(frame: RgbImage | None) -> Image.Image | None:
    """The middle 3:4 of the best live frame: the candidate sits in the middle of the camera's
    view, and beside a 3:4 chip portrait the two read as a pair."""
    if frame is None:
        return None
    h, w = frame.shape[:2]
    cw = min(w, round(h * 3 / 4))
    x0 = (w - cw) // 2
    return Image.fromarray(frame[:, x0:x0 + cw]).copy()


def portrait_image(card: CardRead) -> Image.Image | None:
    if card.portrait is None:
        return None
    return open_picture(card.portrait.data)


@dataclass(frozen=True)
class Finished:
    outcome: CheckInOutcome
    live_face: Image.Image | None


class _Listener:
    """Worker-thread side: turns the job's callbacks into posts to the Tk thread."""

    def __init__(self, view: CheckInView, token: int) -> None:
        self.view = view
        self.token = token

    def reading(self, file: str, done: int, total: int) -> None:
        self.view.app.post(self.view._on_reading, self.token, file)

    def card_read(self, card: CardRead, trust: TrustReport) -> None:
        picture = portrait_image(card)  # JPEG 2000 decoding: here, not on the Tk thread
        self.view.app.post(self.view._on_card, self.token, card, trust, picture)

    def progress(self, progress: Progress) -> None:
        self.view.app.post(self.view._on_progress, self.token, progress)


class CheckInView(View):
    """The screen holds one ``CheckInState`` (views/checkin_state.py), replaces it only through
    that module's transitions (``_apply``), and draws all of it in ``render``."""

    name = "checkin"

    def __init__(self, master: Any, app: Any) -> None:
        super().__init__(master, app)
        t, f = self.t, self.fonts
        self._state = CheckInState()
        self._challenge: Challenge | None = None  # None: a random one per check-in
        # The worker's handles, not what the screen shows: the running job and its cancel flag.
        self._cancel: threading.Event | None = None
        self._job: Future[Finished] | None = None
        self._preview_job: str | None = None
        self._preview_seq = -1
        self._entry_serial = 0  # the key box's last applied action (checkin_state.Entry)
        self._pictures: dict[str, tuple[Image.Image | None, str]] = {}  # what each box shows
        # (check-in, reason) the admin was warned about: admitting on a forged card is
        # confirmed by pressing again with the same reason.
        self._forged_asked: tuple[Any, str] | None = None
        self.grid_columnconfigure(0, weight=1)

        self.banner = VerdictBanner(self, f)
        self.banner.grid(row=0, column=0, sticky="ew", padx=14, pady=(12, 8))

        # A fixed height: nothing below moves when a card's fields or pictures come and go.
        middle = ctk.CTkFrame(self, fg_color="transparent", height=332)
        middle.grid(row=1, column=0, sticky="ew", padx=14)
        middle.grid_propagate(False)
        middle.grid_rowconfigure(0, weight=1)
        middle.grid_columnconfigure(2, weight=1)
        self._build_camera(middle)
        self._build_faces(middle)
        self._build_card(middle)

        reasons = ctk.CTkFrame(self, corner_radius=10, fg_color=PANEL)
        reasons.grid(row=2, column=0, sticky="ew", padx=14, pady=(8, 0))
        reasons.grid_columnconfigure(0, weight=1)
        self.reasons_label = ctk.CTkLabel(reasons, text="", font=f.base, anchor="nw",
                                          justify="left", wraplength=1080, height=66)
        self.reasons_label.grid(row=0, column=0, sticky="ew", padx=14, pady=6)
        self._build_actions()
        self._build_override()
        t.on_change(self._language_changed)
        self.render()

    @property
    def state(self) -> Phase:
        return self._state.phase

    @property
    def current(self) -> CheckInState:
        """The screen's state, as a value (for the demo presenter and tests)."""
        return self._state

    # --- layout -------------------------------------------------------------------------------

    def _build_camera(self, parent: Any) -> None:
        t, f = self.t, self.fonts
        box = ctk.CTkFrame(parent, corner_radius=10, fg_color=PANEL)
        box.grid(row=0, column=0, sticky="nsw", padx=(0, 8))
        t.bind(ctk.CTkLabel(box, font=f.small, text_color=MUTED, anchor="w"),
               "app.checkin.camera").grid(row=0, column=0, sticky="w", padx=10, pady=(4, 0))
        from .frames import PREVIEW_SIZE

        self.preview = PictureBox(box, PREVIEW_SIZE, f)
        self.preview.grid(row=1, column=0, padx=10)
        self.prompt = ctk.CTkLabel(box, text="", font=f.prompt, height=44, corner_radius=8,
                                   wraplength=400, fg_color=PANEL)
        self.prompt.grid(row=2, column=0, sticky="ew", padx=10, pady=(6, 8))
        # Why the last try failed, under the retry's prompt (in words, with ✖, not colour alone)
        self.failed_try = ctk.CTkLabel(box, text="", font=f.small, wraplength=400,
                                       justify="left", anchor="w")
        self.failed_try.grid(row=3, column=0, sticky="ew", padx=10, pady=(0, 8))

    def _build_faces(self, parent: Any) -> None:
        t, f = self.t, self.fonts
        box = ctk.CTkFrame(parent, corner_radius=10, fg_color=PANEL)
        box.grid(row=0, column=1, sticky="ns", padx=8)
        t.bind(ctk.CTkLabel(box, font=f.small, text_color=MUTED), "app.checkin.chip_photo").grid(
            row=0, column=0, pady=(4, 0))
        t.bind(ctk.CTkLabel(box, font=f.small, text_color=MUTED), "app.checkin.live_photo").grid(
            row=0, column=1, pady=(4, 0))
        self.chip_box = PictureBox(box, FACE_BOX, f)
        self.chip_box.grid(row=1, column=0, padx=(10, 4))
        self.live_box = PictureBox(box, FACE_BOX, f)
        self.live_box.grid(row=1, column=1, padx=(4, 10))
        self.face_label = ctk.CTkLabel(box, text="", font=f.bold, justify="center",
                                       wraplength=270)
        self.face_label.grid(row=2, column=0, columnspan=2, pady=(6, 2))
        self.liveness_label = ctk.CTkLabel(box, text="", font=f.small, justify="center",
                                           wraplength=270)
        self.liveness_label.grid(row=3, column=0, columnspan=2, pady=(0, 8))

    def _build_card(self, parent: Any) -> None:
        t, f = self.t, self.fonts
        box = ctk.CTkFrame(parent, corner_radius=10, fg_color=PANEL)
        box.grid(row=0, column=2, sticky="nsew", padx=(8, 0))
        box.grid_columnconfigure(0, weight=1)
        t.bind(ctk.CTkLabel(box, font=f.small, text_color=MUTED, anchor="w"),
               "app.checkin.card").grid(row=0, column=0, sticky="w", padx=10, pady=(4, 0))
        self.trust_label = ctk.CTkLabel(box, text="", font=f.bold, corner_radius=6,
                                        anchor="w", justify="left", wraplength=290, height=30)
        self.trust_label.grid(row=1, column=0, sticky="ew", padx=10, pady=(2, 6))
        self.fields = FieldList(box, f, rows=len(CARD_FIELDS) + 2, label_width=104, wrap=190)
        self.fields.grid(row=2, column=0, sticky="ew", padx=10, pady=(0, 8))

    def _build_actions(self) -> None:
        t, f = self.t, self.fonts
        bar = ctk.CTkFrame(self, fg_color="transparent")
        bar.grid(row=3, column=0, sticky="ew", padx=14, pady=(8, 0))
        t.bind(ctk.CTkLabel(bar, font=f.bold), "app.checkin.key").grid(row=0, column=0,
                                                                      padx=(0, 8))
        self.key_entry = ctk.CTkEntry(bar, font=f.large, width=250, height=42)
        # Before the entry's own binding inserts the character (instance tags come first).
        self.key_entry.bind("<Key>", self._key_pressed)
        self.key_entry.grid(row=0, column=1, padx=(0, 10))
        # Their words come from render(): only the button Enter presses says "(Enter)".
        self.start_button = ctk.CTkButton(bar, font=f.bold, height=42, width=150,
                                          fg_color=START, command=self.start)
        self.start_button.grid(row=0, column=2, padx=4)
        self.admit_button = ctk.CTkButton(bar, font=f.bold, height=42, width=150,
                                          fg_color=DECISION_LOOK["ADMIT"].background,
                                          command=self.admit)
        self.admit_button.grid(row=0, column=3, padx=4)
        self.override_button = ctk.CTkButton(bar, font=f.bold, height=42, width=150,
                                             fg_color=OVERRIDE, command=self.open_override)
        t.bind(self.override_button, "app.checkin.override")
        self.override_button.grid(row=0, column=4, padx=4)
        self.cancel_button = ctk.CTkButton(bar, font=f.bold, height=42, width=120,
                                           fg_color="#52606d", command=self.escape)
        t.bind(self.cancel_button, "app.checkin.cancel")
        self.cancel_button.grid(row=0, column=5, padx=4)
        steps = ctk.CTkFrame(self, fg_color="transparent")
        steps.grid(row=4, column=0, sticky="ew", padx=16, pady=(6, 6))
        steps.grid_columnconfigure(0, weight=1)
        self.step_label = ctk.CTkLabel(steps, text="", font=f.base, anchor="w", text_color=MUTED)
        self.step_label.grid(row=0, column=0, sticky="ew")
        self.stage_menu = ctk.CTkOptionMenu(steps, font=f.base, width=140, command=self._stage)
        # Consent is asked of each candidate (Decree 13/2023: given, not presumed): unticked
        # on every return to ready, one key (F8) or a click ticks it, and the line beside it
        # says what the check-in does without it.
        self.consent = ctk.CTkCheckBox(steps, font=f.bold, command=self.toggle_consent)
        self.consent.deselect()
        self.consent.grid(row=0, column=2, padx=(10, 0))
        self.consent_label = ctk.CTkLabel(steps, text="", font=f.small, anchor="w",
                                          justify="left", wraplength=1060)
        self.consent_label.grid(row=1, column=0, columnspan=3, sticky="ew")

    def _build_override(self) -> None:
        t, f = self.t, self.fonts
        panel = ctk.CTkFrame(self, corner_radius=14, fg_color="#ffffff", border_width=3,
                             border_color="#5f370e")
        panel.grid_columnconfigure(0, weight=1)
        t.bind(ctk.CTkLabel(panel, font=f.title, anchor="w"), "app.override.title").grid(
            row=0, column=0, sticky="w", padx=22, pady=(18, 4))
        t.bind(ctk.CTkLabel(panel, font=f.base, anchor="w", justify="left", wraplength=640,
                            text_color=MUTED), "app.override.hint").grid(
            row=1, column=0, sticky="w", padx=22)
        self.override_choice = ctk.CTkSegmentedButton(panel, font=f.bold, height=40,
                                                      **SEGMENTS)
        self.override_choice.grid(row=2, column=0, sticky="w", padx=22, pady=12)
        t.bind(ctk.CTkLabel(panel, font=f.bold, anchor="w"), "app.override.reason").grid(
            row=3, column=0, sticky="w", padx=22)
        self.reason_entry = ctk.CTkEntry(panel, font=f.large, width=640, height=42)
        self.reason_entry.grid(row=4, column=0, sticky="ew", padx=22, pady=(2, 4))
        self.reason_entry.bind("<KeyRelease>", lambda _e: self._reason_typed())
        self.override_message = ctk.CTkLabel(panel, text="", font=f.base, text_color="#b3261e",
                                             anchor="w", justify="left", wraplength=640)
        self.override_message.grid(row=5, column=0, sticky="w", padx=22)
        buttons = ctk.CTkFrame(panel, fg_color="transparent")
        buttons.grid(row=6, column=0, sticky="e", padx=22, pady=(6, 18))
        self.override_ok = ctk.CTkButton(buttons, font=f.bold, height=40,
                                         command=self.submit_override)
        t.bind(self.override_ok, "app.override.submit")
        self.override_ok.grid(row=0, column=1, padx=(8, 0))
        close = ctk.CTkButton(buttons, font=f.bold, height=40, fg_color="#52606d",
                              command=self.close_override)
        t.bind(close, "app.override.close")
        close.grid(row=0, column=0)
        self.override_panel = panel

    # --- showing ------------------------------------------------------------------------------

    def shown(self) -> None:
        self._stages()
        self._preview_tick()
        if self._state.phase is not Phase.RUNNING:
            self.key_entry.focus_set()

    def hidden(self) -> None:
        if self._preview_job is not None:
            self.after_cancel(self._preview_job)
            self._preview_job = None

    def session_changed(self) -> None:
        self.escape()

    def _stages(self) -> None:
        session = self.app.session
        if session is not None and session.kind is SessionKind.DRIVING_TEST:
            values = [self.t(f"session.stage.{s.value}") for s in session.stage_list]
            self.stage_menu.configure(values=values)
            if self.app.stage is not None:
                self.stage_menu.set(self.t(f"session.stage.{self.app.stage.value}"))
            self.stage_menu.grid(row=0, column=1, padx=(10, 0))
        else:
            self.stage_menu.grid_remove()

    def _stage(self, label: str) -> None:
        session = self.app.session
        for s in session.stage_list if session else ():
            if self.t(f"session.stage.{s.value}") == label:
                self.app.stage = s

    def _preview_tick(self) -> None:
        """Show the newest camera frame (the hub already made it small): ~25 per second."""
        self._preview_job = self.after(40, self._preview_tick)
        services = self.services
        if services is None:
            return
        newest = services.hub.newest()
        if newest is not None and newest.frame.index != self._preview_seq:
            self._preview_seq = newest.frame.index
            self.preview.paste(newest.preview)
        elif newest is None and services.hub.error is not None:
            self.preview.show(None, self.app.error_text(services.hub.error))

    def _language_changed(self) -> None:
        self.render()
        self._stages()

    # --- the state ----------------------------------------------------------------------------

    def _apply(self, new: CheckInState) -> bool:
        """The one way the screen's state changes: the next value from a transition, then one
        render. A check-in that stops being the current one is told to stop. True when
        something changed (a stale report changes nothing)."""
        old, self._state = self._state, new
        if new is old:
            return False
        if old.phase is Phase.RUNNING and new.token != old.token and self._cancel is not None:
            self._cancel.set()
        if new.phase is not Phase.RUNNING:
            self._cancel = None
        self.render()
        return True

    # --- drawing ------------------------------------------------------------------------------

    def render(self) -> None:
        """Everything the screen shows, from the state alone (after every change and every
        language switch). Widgets are reconfigured only where the text or look changed:
        a customtkinter configure redraws its canvas, and a check-in reports many steps."""
        s, t = self._state, self.t
        self._render_banner(s)
        self._render_card(s)
        self._render_result(s)
        prompt = s.prompt
        if prompt is not None:
            _configure(self.prompt, text=t(prompt.key, **prompt.context),
                       fg_color=PROMPT.background, text_color=PROMPT.foreground)
        else:
            _configure(self.prompt, text="", fg_color=PANEL)
        failure = s.failed_try
        # While the reason is itself the prompt (before the retry's prompt) it is not said twice.
        _configure(self.failed_try, text="" if failure is None or failure is prompt else t(
            "app.checkin.failed_try", attempt=str(failure.context.get("attempt", "")),
            reason=t(failure.key, **failure.context)))
        self._render_keys(s)
        placed = self.override_panel.winfo_manager() == "place"  # mapped or not (F3 meanwhile)
        if s.overriding and not placed:
            self.override_panel.place(relx=0.5, rely=0.45, anchor="center")
            self.override_panel.lift()
        elif not s.overriding and placed:
            self.override_panel.place_forget()

    def _render_banner(self, s: CheckInState) -> None:
        t = self.t
        if s.phase is Phase.IDLE:
            self.banner.show(IDLE_LOOK, t("app.banner.idle"), t(s.note.key, **dict(s.note.context)),
                             self._other_day())
        elif s.phase is Phase.RUNNING:
            self.banner.show(WORKING_LOOK, t("app.banner.working"), self._step_text(s))
        elif s.phase is Phase.DECIDED:
            self._render_decision(s)
        else:
            failure = s.failure or desk.Failure(key=desk.KEY_MISSING)
            error = failure.error
            if failure.rejected and isinstance(error, CardRejected):
                # Recorded as a rejected check-in with an incident: a REJECT, in the decision's
                # colours, with what the card did.
                headline = t(decision_key(Decision.REJECT))
                sentence = _without_headline(self.app.error_text(error), headline)
                earlier = error.already_admitted
                if earlier is not None:  # the person is in the room: who brought this card?
                    sentence = f"{t(earlier.banner_key, **earlier.context)}\n{sentence}"
                self.banner.show(DECISION_LOOK["REJECT"], headline,
                                 f"{sentence}\n{self.app.error_text(error.reader_error)}")
            else:
                message = (self.app.error_text(error) if error is not None
                           else t(failure.key or desk.KEY_MISSING))
                self.banner.show(ERROR_LOOK, t("app.banner.error"), message)

    def _other_day(self) -> str:
        """Said on the ready banner when today is not the session's day (a wrong session
        chosen, yesterday's still open): allowed, but seen before the card is read."""
        session, services = self.app.session, self.services
        if session is None:
            return ""
        now = services.store.now() if services is not None else datetime.now(UTC)
        other = checkin_day(session, now)
        if other is None:
            return ""
        key = "checkin.session_was_earlier" if other.days > 0 else "checkin.session_is_later"
        return "⚠ " + self.t(key, code=session.code, **other.context())

    def _render_decision(self, s: CheckInState) -> None:
        outcome, decision, t = s.outcome, s.decision, self.t
        if outcome is None or decision is None:
            return
        look = DECISION_LOOK[decision.value]
        headline = t(decision_key(decision))
        sentence = _without_headline(t(decision_sentence_key(decision)), headline)
        earlier = outcome.already_admitted
        if earlier is not None:
            # A later attempt: the admission stands; where and when it was comes first.
            sentence = t(earlier.banner_key, **earlier.context)
        if s.override_reason:
            sentence = t("app.checkin.overridden_banner", machine=t(
                decision_key(outcome.decision)), reason=s.override_reason)
        who = ""
        if outcome.roster is not None:
            c, e = outcome.roster.candidate, outcome.roster.entry
            place = e.seat or e.vehicle
            who = " · ".join(x for x in (c.full_name, e.registration_number, place, c.id_number)
                             if x)
        elif s.card is not None and s.card.dg13 is not None:
            who = " · ".join(x for x in (s.card.dg13.full_name, s.card.id_number) if x)
        self.banner.show(look, headline, sentence, who)

    def _render_card(self, s: CheckInState) -> None:
        t = self.t
        card, trust = s.card, s.trust
        if card is None or trust is None:
            _configure(self.trust_label, text="", fg_color=PANEL)
            self._fields([])
            self._picture("chip", self.chip_box, None, "")
            return
        level = trust.verdict.level
        look = TRUST_LOOK[level]
        _configure(self.trust_label, text=f"{look.symbol} {t(verdict_key(level))}",
                   fg_color=look.background, text_color=look.foreground)
        fields = card.dg13.to_dict() if card.dg13 is not None else {}
        rows = []
        for name in CARD_FIELDS:
            value = fields.get(name)
            if name == "date_of_expiry" and fields.get("no_expiry"):
                value = t("field.no_expiry")
            if value in (None, ""):
                continue
            if name == "sex" and isinstance(value, str):
                value = t(SEX_KEYS.get(unicodedata.normalize("NFC", value).strip(), "app.plain"),
                          text=value)
            if name.startswith("date_") and isinstance(value, str):
                try:
                    value = date.fromisoformat(value).strftime("%d/%m/%Y")
                except ValueError:
                    pass
            rows.append((t("field." + name), str(value)))
        outcome = s.outcome
        if outcome is not None and outcome.roster is not None:
            entry = outcome.roster.entry
            rows.append((t("app.col.registration"), entry.registration_number))
            place = entry.seat or entry.vehicle
            if place:
                rows.append((t("app.col.seat"), place))
        self._fields(rows)
        self._picture("chip", self.chip_box, s.portrait, t("app.checkin.no_portrait"))

    def _render_result(self, s: CheckInState) -> None:
        t, outcome = self.t, s.outcome
        if s.phase is not Phase.DECIDED or outcome is None:
            for label in (self.reasons_label, self.face_label, self.liveness_label):
                _configure(label, text="")
            self._picture("live", self.live_box, None, "")
            return
        self._picture("live", self.live_box, s.live_face, t("app.checkin.no_live"))
        _configure(self.reasons_label, text=self._reasons_text(outcome.reasons))
        face = outcome.face
        if face is not None:
            _configure(self.face_label, text=(t(
                "app.checkin.face_asnorm", result=t(face_key(face.decision)).split(":")[0],
                score=self._number(-face.score), cohort=face.cohort,
                threshold=self._number(-face.point.threshold),
                distance=self._number(face.distance)) if face.method == "asnorm" and
                face.score is not None else t(
                "app.checkin.face", result=t(face_key(face.decision)).split(":")[0],
                distance=self._number(face.distance), threshold=self._number(face.point.threshold)))
                + "\n" + t("app.checkin.point_default" if face.point.source.startswith("default")
                           else "app.checkin.point_calibrated"))
        else:
            _configure(self.face_label, text=t("app.checkin.face_not_compared"))
        _configure(self.liveness_label, text=self._liveness_text(outcome.liveness))

    def _liveness_text(self, liveness: LivenessVerdict | None) -> str:
        """The liveness result, then every challenge asked in the deciding try, each with
        ✔/✖ and in words (never colour alone): the ones passed before it (``previous``),
        then the last. A failure's reason is in the verdict's reasons above."""
        if liveness is None:
            return ""
        t = self.t
        lines = [t("app.checkin.liveness_passed" if liveness.passed
                   else "app.checkin.liveness_failed")]
        for v in (*liveness.previous, liveness):
            lines.append(t("app.checkin.challenge_passed" if v.passed
                           else "app.checkin.challenge_failed",
                           challenge=t(f"app.challenge.{v.challenge.value}")))
        return "\n".join(lines)

    def _render_keys(self, s: CheckInState) -> None:
        """The buttons, the key box and the line under them: what Enter does now is the one
        button marked "(Enter)" and the first words of the line."""
        t = self.t
        _enable(self.start_button, s.can_start, START)
        _enable(self.admit_button, s.enter_admits, DECISION_LOOK["ADMIT"].background)
        _enable(self.override_button, s.phase is Phase.DECIDED, OVERRIDE)
        for button, key, marked in ((self.start_button, "app.checkin.start", s.enter_starts),
                                    (self.admit_button, "app.checkin.admit", s.enter_admits)):
            text = t("app.checkin.enter_button", label=t(key)) if marked else t(key)
            _configure(button, text=text)
        if s.phase is Phase.IDLE:
            hint = t("app.checkin.hint_ready") if s.can_start else ""  # the banner says why
        elif s.phase is Phase.RUNNING:
            hint = self._step_text(s, reading=True)
        elif s.phase is Phase.FAILED:
            hint = t("app.checkin.hint_after_reject" if s.takes_fresh_key else
                     "app.checkin.hint_failed")
        elif s.refusal_said:
            hint = t("app.checkin.cannot_admit")
        else:
            hint = t("app.checkin.after_admit" if s.enter_admits else "app.checkin.after_refuse")
        _configure(self.step_label, text=hint)
        self._render_consent(s)
        entry = self.key_entry
        if s.entry.serial != self._entry_serial:
            self._entry_serial = s.entry.serial
            _configure(entry, state="normal")
            if s.entry.action is EntryAction.CLEAR:
                entry.delete(0, "end")
            elif s.entry.action is EntryAction.SELECT:
                entry.select_range(0, "end")
                entry.icursor("end")
        # The key of a running check-in is shown, not edited: a scan meanwhile goes nowhere
        # rather than onto the end of the key being read.
        _configure(entry, state="disabled" if s.phase is Phase.RUNNING else "normal")

    def _render_consent(self, s: CheckInState) -> None:
        """The box shows the current candidate's answer; the line says what follows from it
        (with ✔/✖ in words, never colour alone)."""
        t = self.t
        _configure(self.consent, text=t("app.consent.box"),
                   state="disabled" if s.phase is Phase.RUNNING else "normal")
        if bool(self.consent.get()) != s.consent:
            (self.consent.select if s.consent else self.consent.deselect)()
        _configure(self.consent_label, text=t("app.consent.given" if s.consent
                                              else "app.consent.not_given"),
                   text_color="#1e7b34" if s.consent else "#8a6100")

    def _step_text(self, s: CheckInState, *, reading: bool = False) -> str:
        p = s.progress
        if p is not None:
            return self.t(p.key, **p.context)
        if reading and s.reading is not None:
            return self.t("progress.reading", file=s.reading)
        return self.t("progress.waiting")

    def _fields(self, rows: list[tuple[str, str]]) -> None:
        if list(self.fields.values().items()) != rows:
            self.fields.set(rows)

    def _picture(self, name: str, box: PictureBox, image: Image.Image | None,
                 message: str) -> None:
        drawn = self._pictures.get(name)
        if drawn is None or drawn[0] is not image or (image is None and drawn[1] != message):
            self._pictures[name] = (image, message)
            box.show(image, message)

    def _number(self, value: float) -> str:
        text = f"{value:.3f}"
        return text.replace(".", ",") if self.t.lang == "vi" else text  # 0,307 in Vietnamese

    def _reasons_text(self, reasons: tuple[Reason, ...]) -> str:
        if not reasons:
            return "• " + self.t("app.checkin.no_reasons")
        # Two findings can say the same thing (a clone fails active and chip authentication:
        # one sentence): each sentence once, in the order found.
        lines = dict.fromkeys("• " + self.t(r.key, detail=r.detail, **dict(r.context))
                              for r in reasons)
        return "\n".join(lines)

    # --- keys and buttons ---------------------------------------------------------------------

    def on_return(self, event: Any) -> bool:
        s = self._state
        if s.overriding:
            self.submit_override()
        elif s.phase is Phase.DECIDED:
            if s.enter_admits:
                self.admit()
            else:
                self._apply(desk.enter_refused(s))
        elif s.phase in (Phase.IDLE, Phase.FAILED):
            self.start()
        return True

    def on_escape(self, event: Any) -> bool:
        if self._state.overriding:
            self.close_override()
        else:
            self.escape()
        return True

    def on_override(self, event: Any) -> bool:
        self.open_override()
        return True

    def on_consent(self, event: Any) -> bool:
        if not self._state.overriding:
            self.toggle_consent()
        return True

    def toggle_consent(self) -> None:
        """F8 or the box: the candidate gives (or takes back) consent to face matching."""
        if not self._apply(desk.consent_toggled(self._state)):
            self.render()  # a click on the box while it cannot change: show the state again
        self.key_entry.focus_set()

    def give_consent(self) -> None:
        """The candidate said yes (the demo presenter's hand, as F8 would)."""
        if not self._state.consent:
            self.toggle_consent()

    def _key_pressed(self, event: Any) -> None:
        """A character typed or scanned over a verdict is the next candidate's key: the desk
        returns to ready with an empty box first, then the entry takes the character (a
        barcode scanner's burst after a verdict starts a fresh check-in, never appended to
        the last key)."""
        char = getattr(event, "char", "")
        if char and char.isprintable() and self._state.takes_fresh_key:
            self._apply(desk.fresh_key(self._state))

    def admit(self) -> None:
        """The verdict (or an override) admits: the candidate goes in, the desk is cleared for
        the next one. The admission itself was stored with the decision."""
        if self._apply(desk.admitted(self._state)):
            self.key_entry.focus_set()

    def escape(self) -> None:
        """Cancel a running check-in (between steps), or clear the screen."""
        self._apply(desk.escaped(self._state))
        self.key_entry.focus_set()

    # --- a check-in ---------------------------------------------------------------------------

    def ask_challenge(self, challenge: Challenge | None) -> None:
        """The liveness challenge every check-in asks from now on (None: a random one each
        time). A camera that plays photos (the demo's) can only show some."""
        self._challenge = challenge

    def enter_key(self, text: str) -> None:
        """The key as if typed into an empty box, then Enter (the demo presenter's hand)."""
        self.key_entry.delete(0, "end")
        self.key_entry.insert(0, text)
        self.start()

    def start(self) -> None:
        services, operator, session = self.services, self.app.operator, self.app.session
        if not self._state.can_start or operator is None or session is None:
            return
        if services is None:
            self.app.set_status("app.status.starting")
            return
        try:
            keys = parse_card_key(self.key_entry.get())
        except InvalidKeyInput:
            self._apply(desk.key_refused(self._state))
            self.key_entry.focus_set()
            return
        self.app.set_status("app.status.ready")
        self._apply(desk.started(self._state))
        token = self._state.token
        cancel = threading.Event()
        self._cancel = cancel
        request = CheckInRequest(
            session, tuple(keys), consent=self._state.consent, actor=operator.actor,
            stage=self.app.stage if session.kind is SessionKind.DRIVING_TEST else None,
            challenge=self._challenge)
        listener = _Listener(self, token)
        previous = self._job

        def job() -> Finished:
            if previous is not None:
                # A cancelled check-in stops at its next step; until then it may still talk
                # to the card, and two conversations with one chip break both.
                with contextlib.suppress(BaseException):
                    previous.result(timeout=30)
            # Who is on duty, as the centre's user row: the roster names them (issue 13).
            signed = dataclasses.replace(request, operator_id=operator_id(
                services.store, session.centre_id, operator))
            outcome = run_checkin(signed, cards=services.cards, trust=services.places.trust,
                                  service=services.checkins, camera=services.hub.reader,
                                  models_ready=services.models_ready, listener=listener,
                                  cancel=cancel)
            return Finished(outcome, face_crop(outcome.best_frame))

        self._job = self.app.run_job(job, done=lambda r: self._on_done(token, r),
                                     failed=lambda e: self._on_failed(token, e))

    def _on_reading(self, token: int, file: str) -> None:
        self._apply(desk.reading(self._state, token, file))

    def _on_card(self, token: int, card: CardRead, trust: TrustReport,
                 picture: Image.Image | None) -> None:
        self._apply(desk.card_read(self._state, token, card, trust, picture))

    def _on_progress(self, token: int, progress: Progress) -> None:
        self._apply(desk.progressed(self._state, token, progress))

    def _on_done(self, token: int, finished: Finished) -> None:
        if self._apply(desk.decided(self._state, token, finished.outcome, finished.live_face)):
            self.key_entry.focus_set()
        self._stored()  # stored even when Esc came too late to stop it

    def _stored(self) -> None:
        """A check-in or an override was stored: the roster and incidents reload, and the
        district sync ships it now (a no-op without a district)."""
        for name in ("roster", "incidents"):
            self.app.views[name].data_changed()
        self.app.sync_badge.data_changed()

    def _on_failed(self, token: int, exc: BaseException) -> None:
        if isinstance(exc, CheckInCancelled):
            self._apply(desk.cancelled(self._state, token))
            return
        rejected = isinstance(exc, CardRejected)
        # The screen says it in words; the log keeps the technical detail for support.
        log.warning("check-in failed: %s: %s", getattr(exc, "key", type(exc).__name__),
                    getattr(exc, "detail", "") or exc)
        if self._apply(desk.failed(self._state, token, exc, rejected=rejected)):
            self.key_entry.focus_set()
        if rejected:
            self._stored()  # recorded as a rejected check-in with an incident

    # --- override -----------------------------------------------------------------------------

    def _decision_labels(self) -> dict[str, Decision]:
        return {self.t(decision_key(d)): d for d in Decision}

    def open_override(self) -> None:
        s = self._state
        if s.overriding or not self._apply(desk.override_opened(s)):
            return
        labels = self._decision_labels()
        self.override_choice.configure(values=list(labels))
        wanted = Decision.ADMIT if s.decision is not Decision.ADMIT else Decision.REJECT
        self.override_choice.set(self.t(decision_key(wanted)))
        self.reason_entry.delete(0, "end")
        self.t.rebind(self.override_message, "app.plain", text="")
        self._forged_asked = None
        self.reason_entry.focus_set()

    def _reason_typed(self) -> None:
        if self._forged_asked is not None:
            # The reason changed after the forged-card warning: the warning stays, and the
            # next press asks again (a confirmation is of what is on the screen).
            if self._forged_asked[1] != " ".join(self.reason_entry.get().split()):
                self._forged_asked = None
            return
        if self.reason_entry.get().strip():
            self.t.rebind(self.override_message, "app.plain", text="")

    def close_override(self) -> None:
        if self._apply(desk.override_closed(self._state)):
            self.key_entry.focus_set()

    def submit_override(self) -> None:
        services, operator, s = self.services, self.app.operator, self._state
        outcome = s.outcome
        if services is None or operator is None or outcome is None or not s.overriding:
            return
        reason = " ".join(self.reason_entry.get().split())
        if not reason:
            # Refused here and, again, by the service: an override is never without a reason.
            self.t.rebind(self.override_message, "proctoring.override_needs_reason")
            self.reason_entry.focus_set()
            return
        chosen = self._decision_labels().get(self.override_choice.get())
        if chosen is None or chosen is s.decision:
            self.t.rebind(self.override_message, "app.override.same")
            return
        forged = chosen is Decision.ADMIT and outcome.trust is not None and (
            outcome.trust.verdict.level.value == "FORGED")
        confirmed = False
        if forged and operator.is_admin:
            # A forged card admitted: the admin's decision, asked a second time (the first
            # press says what it means; the second, with nothing changed, confirms it).
            asked = (outcome.checkin_id, reason)
            confirmed = self._forged_asked == asked
            if not confirmed:
                self._forged_asked = asked
                self.t.rebind(self.override_message, "app.override.forged_confirm")
                return
        store, token = services.store, s.token
        self.override_ok.configure(state="disabled")

        def done(_incident: Any) -> None:
            self.override_ok.configure(state="normal")
            self._stored()
            if self._apply(desk.overridden(self._state, token, chosen, reason)):
                self.key_entry.focus_set()
                self.app.set_status("checkin.overridden",
                                    decision=self.t.lazy(decision_key(chosen)))

        def refused(exc: BaseException) -> None:
            self.override_ok.configure(state="normal")
            self.t.rebind(self.override_message, "app.plain", text=self.app.error_text(exc))

        self._forged_asked = None
        centre_id = self.app.session.centre_id if self.app.session is not None else None
        self.app.run_job(lambda: override_checkin(
            store, outcome.checkin_id, chosen, reason, actor=operator.actor, role=operator.role,
            confirmed_forged=confirmed,
            operator_id=operator_id(store, centre_id, operator) if centre_id else None),
                         done=done, failed=refused)

    # --- outside hands (the demo presenter) ---------------------------------------------------

    def hold(self, note_key: str) -> int:
        """Someone outside prepares the next card (the demo deck): a running check-in is
        cancelled, the banner says ``note_key``, Check waits. Returns the token to pass to
        ``release`` (stale if Esc is pressed meanwhile)."""
        self._apply(desk.holding(self._state, Note(note_key)))
        return self._state.token

    def holding(self, token: int) -> bool:
        return self._state.holding and self._state.token == token

    def release(self, token: int) -> None:
        self._apply(desk.released(self._state, token))

    # --- for tests and screen readers ---------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        s = self._state
        return {"state": s.phase.value, "banner": self.banner.text,
                "decision": s.decision.value if s.decision else None,
                "reasons": str(self.reasons_label.cget("text")),
                "fields": self.fields.values(), "trust": str(self.trust_label.cget("text")),
                "prompt": str(self.prompt.cget("text")),
                "face": str(self.face_label.cget("text")),
                "liveness": str(self.liveness_label.cget("text")),
                "failed_try": str(self.failed_try.cget("text")),
                "entry": self.key_entry.get(), "step": str(self.step_label.cget("text")),
                "consent": s.consent, "consent_line": str(self.consent_label.cget("text")),
                "buttons": {"start": str(self.start_button.cget("text")),
                            "admit": str(self.admit_button.cget("text"))}}


def operator_id(store: Any, centre_id: Any, operator: Any) -> Any:
    """The signed-in person's user row at the session's centre (made the first time), on the
    worker's thread. None when it cannot be had: a check-in is never stopped for it."""
    try:
        return operator_user(store, centre_id=centre_id, full_name=operator.name,
                             role=operator.role, actor=operator.actor)
    except ProctoringError:
        return None


def _configure(widget: Any, **options: Any) -> None:
    """Only the options that changed (each customtkinter configure redraws the widget)."""
    changed = {k: v for k, v in options.items() if widget.cget(k) != v}
    if changed:
        widget.configure(**changed)


def _enable(button: Any, on: bool, colour: str) -> None:
    """A disabled button greyed whole (widgets.enable), reconfigured only on a change."""
    _configure(button, state="normal" if on else "disabled", fg_color=colour if on else DISABLED)
