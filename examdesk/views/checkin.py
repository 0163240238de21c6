"""The check-in screen: camera, card, chip portrait beside the live face, the verdict.

Keyboard: type or scan the card key (CAN, the 12-digit ID, the front QR, the back MRZ) and
press Enter to check; Enter again admits when the verdict allows it; Esc cancels a check-in
or clears the screen for the next candidate; Ctrl+O overrides with a written reason.

Everything slow runs in a worker (views/checkin_job.py); this screen only draws what comes
back. A job's messages carry its number, so a cancelled check-in that finishes late cannot
overwrite the next one.
"""

from __future__ import annotations

import contextlib
import threading
import unicodedata
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any

import customtkinter as ctk
from PIL import Image

from biometrics import Challenge
from biometrics.images import RgbImage
from proctoring.checkin import CardRejected, CheckInCancelled, CheckInOutcome, Progress, Step
from proctoring.checkins import Reason, record_override
from proctoring.models import Decision, SessionKind
from reader.errors import InvalidKeyInput
from reader.keys import parse_card_key
from reader.session import CardRead
from reader.trust.report import TrustReport

from .base import View
from .checkin_job import CheckInRequest, run_checkin
from .pictures import open_picture
from .theme import (
    DECISION_LOOK,
    ERROR_LOOK,
    IDLE_LOOK,
    MUTED,
    PANEL,
    PROMPT,
    SEGMENTS,
    TRUST_LOOK,
    WORKING_LOOK,
)
from .widgets import FieldList, PictureBox, VerdictBanner, enable

FACE_BOX = (136, 181)  # a chip portrait's 3:4
START, OVERRIDE = "#1f6aa5", "#5f370e"
CARD_FIELDS = ("full_name", "id_number", "date_of_birth", "sex", "place_of_origin",
               "date_of_expiry")
# The chip writes the sex in Vietnamese; an English screen glosses it (the chip's word stays).
SEX_KEYS = {"Nam": "app.sex.male", "Nữ": "app.sex.female"}


class State(Enum):
    IDLE = "idle"
    RUNNING = "running"
    DECIDED = "decided"
    FAILED = "failed"


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
    name = "checkin"

    def __init__(self, master: Any, app: Any) -> None:
        super().__init__(master, app)
        t, f = self.t, self.fonts
        self.state = State.IDLE
        self.outcome: CheckInOutcome | None = None
        self.decision: Decision | None = None  # the decision in force (after any override)
        self.override_reason = ""
        self.card: CardRead | None = None
        self.trust: TrustReport | None = None
        self.last_progress: Progress | None = None
        self._token = 0
        self._cancel: threading.Event | None = None
        self._job: Future[Finished] | None = None
        self._preview_job: str | None = None
        self._preview_seq = -1
        self._failure = ""
        self._rejected = False  # the failure is a card rejected (and recorded), not an error
        self._roster_line = ""
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
        t.on_change(self._redraw)
        self._show_idle()

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
        self.key_entry.grid(row=0, column=1, padx=(0, 10))
        self.start_button = ctk.CTkButton(bar, font=f.bold, height=42, width=150,
                                          fg_color=START, command=self.start)
        t.bind(self.start_button, "app.checkin.start")
        self.start_button.grid(row=0, column=2, padx=4)
        self.admit_button = ctk.CTkButton(bar, font=f.bold, height=42, width=150,
                                          fg_color=DECISION_LOOK["ADMIT"].background,
                                          command=self.admit)
        t.bind(self.admit_button, "app.checkin.admit")
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
        self.consent = ctk.CTkCheckBox(steps, font=f.base)
        t.bind(self.consent, "app.checkin.consent")
        self.consent.select()
        self.consent.grid(row=0, column=2, padx=(10, 0))

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
                                             anchor="w")
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
        if self.state is not State.RUNNING:
            self.key_entry.focus_set()

    def hidden(self) -> None:
        if self._preview_job is not None:
            self.after_cancel(self._preview_job)
            self._preview_job = None

    def session_changed(self) -> None:
        self.escape()
        self._stages()

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

    def _show_idle(self, note_key: str = "app.checkin.ready", **context: object) -> None:
        self.banner.show(IDLE_LOOK, self.t("app.banner.idle"), self.t(note_key, **context))
        self.prompt.configure(text="", fg_color=PANEL)
        self.reasons_label.configure(text="")
        self.face_label.configure(text="")
        self.liveness_label.configure(text="")
        self.trust_label.configure(text="", fg_color=PANEL)
        self.fields.set([])
        self.chip_box.show(None)
        self.live_box.show(None)
        self.step_label.configure(text=self.t("app.checkin.keys_hint"))
        self._buttons()

    def _buttons(self) -> None:
        running = self.state is State.RUNNING
        decided = self.state is State.DECIDED
        enable(self.start_button, not running, START)
        enable(self.admit_button, decided and self.decision is Decision.ADMIT,
               DECISION_LOOK["ADMIT"].background)
        enable(self.override_button, decided, OVERRIDE)

    def _redraw(self) -> None:
        """After a language switch: everything that is not one bound key."""
        if self.state is State.IDLE:
            self._show_idle()
            return
        if self.card is not None and self.trust is not None:
            self._show_card(self.card, self.trust)
        if self.state is State.RUNNING:
            self.banner.show(WORKING_LOOK, self.t("app.banner.working"), self._step_text())
            self.step_label.configure(text=self._step_text())
        elif self.state is State.DECIDED and self.outcome is not None:
            self._show_outcome()
        elif self.state is State.FAILED:
            self._failure_banner()
        self._stages()

    # --- a check-in ---------------------------------------------------------------------------

    def start(self) -> None:
        services, operator, session = self.services, self.app.operator, self.app.session
        if self.state is State.RUNNING or operator is None or session is None:
            return
        if services is None:
            self.step_label.configure(text=self.t("app.status.starting"))
            return
        try:
            keys = parse_card_key(self.key_entry.get())
        except InvalidKeyInput:
            self._fail_now(self.t("app.checkin.key_missing"))
            return
        self._token += 1
        token = self._token
        cancel = threading.Event()
        self._cancel = cancel
        self.close_override()
        self.app.set_status("app.status.ready")
        self.state = State.RUNNING
        self.outcome, self.decision, self.card, self.trust = None, None, None, None
        self.last_progress = None
        self.override_reason = ""
        self._show_idle()
        self.banner.show(WORKING_LOOK, self.t("app.banner.working"), self.t("progress.waiting"))
        self.step_label.configure(text=self.t("progress.waiting"))
        self._buttons()
        request = CheckInRequest(
            session, tuple(keys), consent=bool(self.consent.get()), actor=operator.actor,
            stage=self.app.stage if session.kind is SessionKind.DRIVING_TEST else None,
            # The demo camera plays photos: ORL s27 can blink, nobody in them turns their head.
            challenge=Challenge.BLINK if services.demo is not None else None)
        listener = _Listener(self, token)
        previous = self._job

        def job() -> Finished:
            if previous is not None:
                # A cancelled check-in stops at its next step; until then it may still talk
                # to the card, and two conversations with one chip break both.
                with contextlib.suppress(BaseException):
                    previous.result(timeout=30)
            outcome = run_checkin(request, cards=services.cards, trust=services.places.trust,
                                  service=services.checkins, camera=services.hub,
                                  models_ready=services.models_ready, listener=listener,
                                  cancel=cancel)
            return Finished(outcome, face_crop(outcome.best_frame))

        self._job = self.app.run_job(job, done=lambda r: self._on_done(token, r),
                                     failed=lambda e: self._on_failed(token, e))

    def _on_reading(self, token: int, file: str) -> None:
        if token == self._token and self.state is State.RUNNING:
            self.step_label.configure(text=self.t("progress.reading", file=file))

    def _on_card(self, token: int, card: CardRead, trust: TrustReport,
                 picture: Image.Image | None) -> None:
        if token != self._token or self.state is not State.RUNNING:
            return
        self.card, self.trust = card, trust
        self._show_card(card, trust)
        self.chip_box.show(picture, self.t("app.checkin.no_portrait"))

    def _on_progress(self, token: int, progress: Progress) -> None:
        if token != self._token or self.state is not State.RUNNING:
            return
        self.last_progress = progress
        text = self._step_text()
        self.banner.show(WORKING_LOOK, self.t("app.banner.working"), text)
        self.step_label.configure(text=text)
        if progress.step is Step.LIVENESS:
            self.prompt.configure(text=self.t(progress.key, **progress.context),
                                  fg_color=PROMPT.background, text_color=PROMPT.foreground)
        elif progress.step is not Step.FACE:
            self.prompt.configure(text="", fg_color=PANEL)
        elif progress.key == "checkin.step.face":
            self.prompt.configure(text=self.t(progress.key), fg_color=PROMPT.background,
                                  text_color=PROMPT.foreground)

    def _step_text(self) -> str:
        p = self.last_progress
        if p is None:
            return self.t("progress.waiting")
        return self.t(p.key, **p.context)

    def _on_done(self, token: int, finished: Finished) -> None:
        if token != self._token:
            return
        self.state = State.DECIDED
        self.outcome = finished.outcome
        self.decision = finished.outcome.decision
        self.live_box.show(finished.live_face, self.t("app.checkin.no_live"))
        self.prompt.configure(text="", fg_color=PANEL)
        self._show_outcome()
        self.key_entry.focus_set()
        self._stored()

    def _stored(self) -> None:
        """A check-in or an override was stored: the roster and incidents reload, and the
        district sync ships it now (a no-op without a district)."""
        for name in ("roster", "incidents"):
            self.app.views[name].data_changed()
        self.app.sync_badge.data_changed()

    def _on_failed(self, token: int, exc: BaseException) -> None:
        if token != self._token:
            return
        if isinstance(exc, CheckInCancelled):
            self.state = State.IDLE
            self._show_idle("checkin.cancelled")
            return
        if isinstance(exc, CardRejected):
            # Recorded as a rejected check-in with an incident: a REJECT, in the decision's
            # colours, with what the card did.
            headline = self.t("app.verdict.REJECT")
            sentence = _without_headline(self.app.error_text(exc), headline)
            self._fail_now(f"{sentence}\n{self.app.error_text(exc.reader_error)}",
                           rejected=True)
            self._stored()
            return
        self._fail_now(self.app.error_text(exc))

    def _fail_now(self, message: str, *, rejected: bool = False) -> None:
        self.state = State.FAILED
        self._failure = message
        self._rejected = rejected
        self._failure_banner()
        self.prompt.configure(text="", fg_color=PANEL)
        self.step_label.configure(text=self.t("app.checkin.keys_hint"))
        self._buttons()
        self.key_entry.focus_set()

    def _failure_banner(self) -> None:
        if self._rejected:
            self.banner.show(DECISION_LOOK["REJECT"], self.t("app.verdict.REJECT"),
                             self._failure)
        else:
            self.banner.show(ERROR_LOOK, self.t("app.banner.error"), self._failure)

    # --- what the screen says -------------------------------------------------------------------

    def _show_card(self, card: CardRead, trust: TrustReport) -> None:
        t = self.t
        level = trust.verdict.level
        look = TRUST_LOOK[level]
        self.trust_label.configure(text=f"{look.symbol} {t('verdict.' + level.value)}",
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
        outcome = self.outcome
        if outcome is not None and outcome.roster is not None:
            entry = outcome.roster.entry
            rows.append((t("app.col.registration"), entry.registration_number))
            place = entry.seat or entry.vehicle
            if place:
                rows.append((t("app.col.seat"), place))
        self.fields.set(rows)

    def _show_outcome(self) -> None:
        outcome, decision = self.outcome, self.decision
        if outcome is None or decision is None:
            return
        t = self.t
        look = DECISION_LOOK[decision.value]
        headline = t(f"app.verdict.{decision.value}")
        sentence = _without_headline(t(f"checkin.decision.{decision.value.lower()}"), headline)
        if self.override_reason:
            sentence = t("app.checkin.overridden_banner", machine=t(
                f"app.verdict.{outcome.decision.value}"), reason=self.override_reason)
        who = ""
        if outcome.roster is not None:
            c, e = outcome.roster.candidate, outcome.roster.entry
            place = e.seat or e.vehicle
            who = " · ".join(x for x in (c.full_name, e.registration_number, place, c.id_number)
                             if x)
        elif self.card is not None and self.card.dg13 is not None:
            who = " · ".join(x for x in (self.card.dg13.full_name, self.card.id_number) if x)
        self.banner.show(look, headline, sentence, who)
        self.reasons_label.configure(text=self._reasons_text(outcome.reasons))
        if self.card is not None and self.trust is not None:
            self._show_card(self.card, self.trust)
        face = outcome.face
        if face is not None:
            self.face_label.configure(text=t(
                "app.checkin.face", result=t(f"face.decision.{face.decision.value}").split(":")[0],
                distance=self._number(face.distance), threshold=self._number(face.point.threshold))
                + "\n" + t("app.checkin.point_default" if face.point.source.startswith("default")
                           else "app.checkin.point_calibrated"))
        else:
            self.face_label.configure(text=t("app.checkin.face_not_compared"))
        liveness = outcome.liveness
        if liveness is not None:
            self.liveness_label.configure(text=t(
                "app.checkin.liveness_passed" if liveness.passed else
                "app.checkin.liveness_failed",
                challenge=t(f"app.challenge.{liveness.challenge.value}")))
        else:
            self.liveness_label.configure(text="")
        self.step_label.configure(text=t(
            "app.checkin.after_admit" if decision is Decision.ADMIT else
            "app.checkin.after_refuse"))
        self._buttons()

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
        if self.override_panel.winfo_ismapped():
            self.submit_override()
        elif self.state is State.DECIDED:
            if self.decision is Decision.ADMIT:
                self.admit()
            else:
                self.step_label.configure(text=self.t("app.checkin.cannot_admit"))
        elif self.state in (State.IDLE, State.FAILED):
            self.start()
        return True

    def on_escape(self, event: Any) -> bool:
        if self.override_panel.winfo_ismapped():
            self.close_override()
        else:
            self.escape()
        return True

    def on_override(self, event: Any) -> bool:
        self.open_override()
        return True

    def admit(self) -> None:
        """The verdict (or an override) admits: the candidate goes in, the desk is cleared for
        the next one. The admission itself was stored with the decision."""
        if self.state is not State.DECIDED or self.decision is not Decision.ADMIT:
            return
        name = ""
        if self.outcome is not None and self.outcome.roster is not None:
            name = self.outcome.roster.candidate.full_name
        self.state = State.IDLE
        self.outcome = self.card = self.trust = None
        self.decision = None
        self.key_entry.delete(0, "end")
        self._show_idle("app.checkin.admitted_next", name=name)
        self.key_entry.focus_set()

    def escape(self) -> None:
        """Cancel a running check-in (between steps), or clear the screen."""
        running = self.state is State.RUNNING
        if running and self._cancel is not None:
            self._cancel.set()
        self._token += 1  # whatever a job still says is about a cancelled check-in
        self.close_override()
        self.state = State.IDLE
        self.outcome = self.card = self.trust = None
        self.decision = None
        self._show_idle("checkin.cancelled" if running else "app.checkin.ready")
        self._cancel = None
        self.key_entry.focus_set()

    # --- override -----------------------------------------------------------------------------

    def _decision_labels(self) -> dict[str, Decision]:
        return {self.t(f"app.verdict.{d.value}"): d for d in Decision}

    def open_override(self) -> None:
        if self.state is not State.DECIDED or self.outcome is None:
            return
        labels = self._decision_labels()
        self.override_choice.configure(values=list(labels))
        wanted = Decision.ADMIT if self.decision is not Decision.ADMIT else Decision.REJECT
        self.override_choice.set(self.t(f"app.verdict.{wanted.value}"))
        self.reason_entry.delete(0, "end")
        self.t.rebind(self.override_message, "app.plain", text="")
        self.override_panel.place(relx=0.5, rely=0.45, anchor="center")
        self.override_panel.lift()
        self.reason_entry.focus_set()

    def _reason_typed(self) -> None:
        if self.reason_entry.get().strip():
            self.t.rebind(self.override_message, "app.plain", text="")

    def close_override(self) -> None:
        self.override_panel.place_forget()

    def submit_override(self) -> None:
        services, operator, outcome = self.services, self.app.operator, self.outcome
        if services is None or operator is None or outcome is None:
            return
        reason = " ".join(self.reason_entry.get().split())
        if not reason:
            # Refused here and, again, by the service: an override is never without a reason.
            self.t.rebind(self.override_message, "proctoring.override_needs_reason")
            self.reason_entry.focus_set()
            return
        chosen = self._decision_labels().get(self.override_choice.get())
        if chosen is None or chosen is self.decision:
            self.t.rebind(self.override_message, "app.override.same")
            return
        store, token = services.store, self._token
        self.override_ok.configure(state="disabled")

        def done(_incident: Any) -> None:
            self.override_ok.configure(state="normal")
            if token != self._token:
                return
            self.decision = chosen
            self.override_reason = reason
            self.close_override()
            self._show_outcome()
            self.app.set_status("checkin.overridden",
                                decision=self.t.lazy(f"app.verdict.{chosen.value}"))
            self._stored()

        def refused(exc: BaseException) -> None:
            self.override_ok.configure(state="normal")
            self.t.rebind(self.override_message, "app.plain", text=self.app.error_text(exc))

        self.app.run_job(lambda: record_override(store, outcome.checkin_id, decision=chosen,
                                                 reason=reason, operator_id=None,
                                                 actor=operator.actor),
                         done=done, failed=refused)

    # --- the demo -----------------------------------------------------------------------------

    def present(self, scenario: Any) -> None:
        """Demo: the next card onto the reader, its holder (or someone else) in front of the
        camera, the CAN typed in, the check-in started."""
        services = self.services
        if services is None or services.deck is None:
            return
        if self.state is State.RUNNING:
            self.escape()
        deck = services.deck
        self.state = State.IDLE
        self._show_idle("app.demo.presenting")
        enable(self.start_button, False, START)
        token = self._token
        self.app.run_job(lambda: deck.present(scenario),
                         done=lambda p: self._presented(token, p))

    def _presented(self, token: int, presented: Any) -> None:
        services = self.services
        if services is None or token != self._token:  # Esc meanwhile: the card stays put
            self._buttons()
            return
        from examdesk.demo import demo_camera

        photos = presented.card.photos
        services.hub.switch(lambda: demo_camera(photos))
        self.key_entry.delete(0, "end")
        self.key_entry.insert(0, presented.can)
        self.start()

    # --- for tests and screen readers ---------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {"state": self.state.value, "banner": self.banner.text,
                "decision": self.decision.value if self.decision else None,
                "reasons": str(self.reasons_label.cget("text")),
                "fields": self.fields.values(), "trust": str(self.trust_label.cget("text")),
                "prompt": str(self.prompt.cget("text")),
                "face": str(self.face_label.cget("text"))}
