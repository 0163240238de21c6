"""What the check-in screen shows, as one value, and the only ways it changes.

The desk's check-in is a small state machine: ready → running (card read, progress) → decided
or failed, and back to ready by admitting, by Esc, by a cancelled job, or by the next key typed
or scanned over a verdict. ``CheckInState`` is that state, frozen; every function below takes
one and returns the next, pure (no Tk, no clock, no I/O), so the rules are tested without a
window (tests/examdesk/test_checkin_state.py) and the view (views/checkin.py) only keeps the
newest value and draws it.

Each check-in has a number (``token``). What its worker reports carries the number, and a
report about a check-in that is no longer the current one (Esc pressed meanwhile, a newer one
started) returns the state unchanged: a cancelled check-in that finishes late cannot overwrite
the next.

Every return to ready clears what the last candidate left: the verdict, the card, the override
and its reason, the failure, and the key entry box (``entry``), so the next key typed or
scanned is never appended to the old one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from proctoring.checkin import CheckInOutcome, Progress, Step
from proctoring.models import Decision
from reader.session import CardRead
from reader.trust.report import TrustReport

if TYPE_CHECKING:
    from PIL import Image


class Phase(Enum):
    IDLE = "idle"  # ready for the next candidate
    RUNNING = "running"
    DECIDED = "decided"
    FAILED = "failed"


class EntryAction(Enum):
    """What the key entry box does when the state changes to one with a new ``entry``."""

    KEEP = "keep"  # what the invigilator typed stays, to be corrected or checked again
    CLEAR = "clear"  # the next candidate: an empty box
    SELECT = "select"  # a failed check-in's key, selected: typing or scanning replaces it


@dataclass(frozen=True)
class Entry:
    """The key entry box's policy. ``serial`` counts the actions: the view applies an action
    once, when the serial it last applied differs (a redraw after a language switch must not
    clear what the invigilator has typed since)."""

    action: EntryAction = EntryAction.KEEP
    serial: int = 0

    def then(self, action: EntryAction) -> Entry:
        return Entry(action, self.serial + 1)


@dataclass(frozen=True)
class Note:
    """A message key and its context: what the ready banner says (kept as a key, so a
    language switch redraws it in the other language)."""

    key: str
    context: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, key: str, **context: str) -> Note:
        return cls(key, tuple(sorted(context.items())))


READY = Note("app.checkin.ready")
CANCELLED = Note("checkin.cancelled")
KEY_MISSING = "app.checkin.key_missing"


@dataclass(frozen=True)
class Failure:
    """Why the check-in stopped without a verdict: an error (shown in the screen's language
    when drawn), or a message key of the desk's own (the key box empty or unreadable).
    ``rejected``: the card itself failed and the attempt was recorded as a rejected check-in
    with an incident — a REJECT in the decision's colours, not an error."""

    error: BaseException | None = None
    key: str | None = None
    rejected: bool = False


@dataclass(frozen=True)
class CheckInState:
    phase: Phase = Phase.IDLE
    token: int = 0  # the current check-in's number; reports with another are stale
    note: Note = READY  # what the ready banner says
    holding: bool = False  # something outside (the demo deck) prepares the card: no Check yet
    reading: str | None = None  # the chip file being read
    card: CardRead | None = None
    trust: TrustReport | None = None
    portrait: Image.Image | None = None  # the chip's portrait, decoded by the worker
    progress: Progress | None = None
    prompt: Progress | None = None  # what the candidate is asked to do at the camera
    failed_try: Progress | None = None  # why the last liveness try failed, kept by the retry
    outcome: CheckInOutcome | None = None
    live_face: Image.Image | None = None
    decision: Decision | None = None  # in force: the machine's, or the override's
    override_reason: str = ""
    overriding: bool = False  # the override panel is open
    failure: Failure | None = None
    refusal_said: bool = False  # Enter was pressed on a verdict that does not admit
    entry: Entry = Entry()
    # The candidate said yes to face matching (Decree 13/2023: given, never presumed): asked
    # of each candidate, so every return to ready takes it back to "not given".
    consent: bool = False

    @property
    def can_start(self) -> bool:
        return self.phase is not Phase.RUNNING and not self.holding

    @property
    def enter_admits(self) -> bool:
        return self.phase is Phase.DECIDED and self.decision is Decision.ADMIT

    @property
    def enter_starts(self) -> bool:
        """What Enter does now (on the key box): check the card — or, on a verdict, admit
        (``enter_admits``) or nothing (a refusal is overridden with Ctrl+O, never by Enter)."""
        return self.phase in (Phase.IDLE, Phase.FAILED) and self.can_start

    @property
    def takes_fresh_key(self) -> bool:
        """A key typed or scanned now belongs to the next candidate: a verdict is shown (a
        decision, or a card rejected and recorded)."""
        return self.phase is Phase.DECIDED or (
            self.phase is Phase.FAILED and self.failure is not None and self.failure.rejected)

    @property
    def admitted_name(self) -> str:
        roster = self.outcome.roster if self.outcome is not None else None
        return roster.candidate.full_name if roster is not None else ""


def _ready(state: CheckInState, note: Note, *, token: int | None = None) -> CheckInState:
    """Back to ready: nothing of the last candidate stays (one place, so no field is
    forgotten on one of the ways back)."""
    return CheckInState(phase=Phase.IDLE, token=state.token if token is None else token,
                        note=note, entry=state.entry.then(EntryAction.CLEAR))


# --- the invigilator -------------------------------------------------------------------------


def started(state: CheckInState) -> CheckInState:
    """A check-in begins with the key in the box (the view parsed it): a new token, nothing
    of the last one left. Unchanged while one runs or the card is being prepared."""
    if not state.can_start:
        return state
    return CheckInState(phase=Phase.RUNNING, token=state.token + 1, note=state.note,
                        entry=state.entry, consent=state.consent)


def key_refused(state: CheckInState) -> CheckInState:
    """Check pressed with nothing usable in the key box: say what to type; the text stays,
    selected, so typing replaces it."""
    if not state.can_start:
        return state
    return CheckInState(phase=Phase.FAILED, token=state.token, note=state.note,
                        failure=Failure(key=KEY_MISSING),
                        entry=state.entry.then(EntryAction.SELECT), consent=state.consent)


def admitted(state: CheckInState) -> CheckInState:
    """Enter (or the button) on a verdict that admits: the candidate goes in (stored with the
    decision already), the desk is ready for the next one."""
    if not state.enter_admits:
        return state
    return _ready(state, Note.of("app.checkin.admitted_next", name=state.admitted_name))


def enter_refused(state: CheckInState) -> CheckInState:
    """Enter on a verdict that does not admit: nothing happens but saying how to override."""
    if state.phase is not Phase.DECIDED or state.enter_admits:
        return state
    return dataclasses.replace(state, refusal_said=True)


def escaped(state: CheckInState) -> CheckInState:
    """Esc: a running check-in is cancelled (its token retired: whatever it still reports is
    stale), anything else is cleared for the next candidate."""
    running = state.phase is Phase.RUNNING
    return _ready(state, CANCELLED if running else READY, token=state.token + 1)


def fresh_key(state: CheckInState) -> CheckInState:
    """A key typed or scanned over a verdict: the verdict was seen, the key is the next
    candidate's — ready, with an empty box for it (an admitting verdict counts as admitted,
    as Enter would have). Unchanged when the box is the current candidate's."""
    if not state.takes_fresh_key:
        return state
    if state.enter_admits:
        return admitted(state)
    return _ready(state, READY, token=state.token + 1)


def consent_toggled(state: CheckInState) -> CheckInState:
    """The consent key (or the box): the candidate at the desk says yes (or takes it back).
    Over a verdict it is the next candidate's answer: ready first (as a typed key would), then
    given. Unchanged while a check-in runs: its answer was taken when it started."""
    if state.phase is Phase.RUNNING:
        return state
    if state.takes_fresh_key:
        return dataclasses.replace(fresh_key(state), consent=True)
    return dataclasses.replace(state, consent=not state.consent)


def holding(state: CheckInState, note: Note) -> CheckInState:
    """Something outside the desk prepares the next card (the demo deck puts it on the
    reader): a running check-in is cancelled, the banner says what happens, Check waits."""
    return dataclasses.replace(_ready(state, note, token=state.token + 1), holding=True)


def released(state: CheckInState, token: int) -> CheckInState:
    """The card is ready (or its preparation failed): Check is possible again."""
    if token != state.token or not state.holding:
        return state
    return dataclasses.replace(state, holding=False)


def override_opened(state: CheckInState) -> CheckInState:
    if state.phase is not Phase.DECIDED or state.outcome is None:
        return state
    return dataclasses.replace(state, overriding=True)


def override_closed(state: CheckInState) -> CheckInState:
    return dataclasses.replace(state, overriding=False)


def overridden(state: CheckInState, token: int, decision: Decision,
               reason: str) -> CheckInState:
    """The override was stored: its decision is in force, with its reason."""
    if token != state.token or state.phase is not Phase.DECIDED:
        return state
    return dataclasses.replace(state, decision=decision, override_reason=reason,
                               overriding=False, refusal_said=False)


# --- the worker's reports (each ignored unless about the current check-in) --------------------


def _current(state: CheckInState, token: int) -> bool:
    return token == state.token and state.phase is Phase.RUNNING


def reading(state: CheckInState, token: int, file: str) -> CheckInState:
    if not _current(state, token):
        return state
    return dataclasses.replace(state, reading=file)


def card_read(state: CheckInState, token: int, card: CardRead, trust: TrustReport,
              portrait: Image.Image | None) -> CheckInState:
    if not _current(state, token):
        return state
    return dataclasses.replace(state, card=card, trust=trust, portrait=portrait)


# The steps that judge the card. The overlapped check-in (issue 16) runs the liveness challenge
# and the face capture while they run, so they never take the candidate's prompt away.
_CARD_STEPS = frozenset({Step.ROSTER, Step.CARD, Step.PORTRAIT})

LIVENESS_PROMPT = "checkin.liveness."  # proctoring's prompt keys; any other liveness key
# the workflow reports is the reason a try failed, said before the next try starts


def progressed(state: CheckInState, token: int, progress: Progress) -> CheckInState:
    """A step of the running check-in. A failed liveness try's reason is kept
    (``failed_try``) after the next try's prompt replaces it, so the invigilator still reads
    why the candidate is asked again; it goes when liveness is over (the next try passed, or
    the tries ran out: the verdict then says why) or the check-in ends."""
    if not _current(state, token):
        return state
    prompt, failed_try = state.prompt, state.failed_try
    if progress.step is Step.LIVENESS:
        prompt = progress
        if not progress.key.startswith(LIVENESS_PROMPT):
            failed_try = progress
    elif progress.step in _CARD_STEPS:
        pass  # the candidate's prompt stays: the challenge may be running meanwhile (issue 16)
    elif progress.step is not Step.FACE:
        prompt, failed_try = None, None
    elif progress.key == "checkin.step.face":  # "look at the camera"; its sub-steps keep it
        prompt, failed_try = progress, None
    return dataclasses.replace(state, progress=progress, prompt=prompt, failed_try=failed_try)


def decided(state: CheckInState, token: int, outcome: CheckInOutcome,
            live_face: Image.Image | None) -> CheckInState:
    if not _current(state, token):
        return state
    return dataclasses.replace(state, phase=Phase.DECIDED, outcome=outcome,
                               decision=outcome.decision, live_face=live_face, prompt=None,
                               failed_try=None)


def failed(state: CheckInState, token: int, error: BaseException, *,
           rejected: bool = False) -> CheckInState:
    """The check-in stopped on an error; ``rejected``: the card was refused and recorded.
    The key stays, selected: Enter checks again (a card put back), typing replaces it."""
    if not _current(state, token):
        return state
    return dataclasses.replace(state, phase=Phase.FAILED, prompt=None, failed_try=None,
                               failure=Failure(error=error, rejected=rejected),
                               entry=state.entry.then(EntryAction.SELECT))


def cancelled(state: CheckInState, token: int) -> CheckInState:
    """The job stopped because it was cancelled (Esc has usually retired its token already)."""
    if not _current(state, token):
        return state
    return _ready(state, CANCELLED)

