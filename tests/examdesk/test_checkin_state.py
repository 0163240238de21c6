"""The desk's check-in state as a value (examdesk/views/checkin_state.py): its transitions,
without Tk. The window's own tests (tests/examdesk/gui) show that the screen draws it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import uuid
from datetime import date
from typing import Any, cast

import pytest

from examdesk.views import checkin_state as desk
from examdesk.views.checkin_state import (
    CANCELLED,
    READY,
    CheckInState,
    EntryAction,
    Note,
    Phase,
)
from proctoring.checkin import CardRejected, CheckInOutcome, Progress, Step
from proctoring.checkins import RosterMatch
from proctoring.models import Candidate, Decision, RosterEntry
from reader.errors import NoCard, ReaderError

CARD: Any = object()  # the transitions carry the card, the trust report and the pictures;
TRUST: Any = object()  # they never look inside
PICTURE: Any = object()


def outcome(decision: Decision, name: str = "Nguyễn Văn An") -> CheckInOutcome:
    candidate = Candidate(id_number="001093014275", full_name=name, date_of_birth=date(1993, 5, 14),
                          sex="M", centre_id=uuid.uuid4())
    entry = RosterEntry(registration_number="SBD001", candidate_id=candidate.id,
                        session_id=uuid.uuid4())
    return CheckInOutcome(uuid.uuid4(), decision, (), RosterMatch(entry, candidate),
                          cast(Any, TRUST), None, None, (), None)


def running() -> CheckInState:
    state = desk.started(CheckInState())
    assert state.phase is Phase.RUNNING
    return state


def decided(decision: Decision) -> CheckInState:
    state = running()
    state = desk.card_read(state, state.token, CARD, TRUST, PICTURE)
    state = desk.progressed(state, state.token, Progress(Step.LIVENESS, "checkin.step.blink"))
    return desk.decided(state, state.token, outcome(decision), PICTURE)


def rejected_card() -> CheckInState:
    state = running()
    error = CardRejected("forged", cast(ReaderError, NoCard("x")), checkin_id=None)
    return desk.failed(state, state.token, error, rejected=True)


def overridden() -> CheckInState:
    state = desk.override_opened(decided(Decision.REJECT))
    assert state.overriding
    state = desk.overridden(state, state.token, Decision.ADMIT, "giấy khai sinh: đúng người")
    assert state.decision is Decision.ADMIT and state.override_reason and not state.overriding
    return state


def failed() -> CheckInState:
    state = running()
    return desk.failed(state, state.token, NoCard("no card"))


# --- a check-in from start to verdict --------------------------------------------------------


def test_a_check_in_runs_from_ready_to_a_verdict() -> None:
    ready = CheckInState()
    assert ready.phase is Phase.IDLE and ready.note == READY and ready.enter_starts
    state = desk.started(ready)
    assert state.phase is Phase.RUNNING and state.token == ready.token + 1
    assert not state.can_start and not state.enter_starts
    assert desk.started(state) is state  # Enter again while it runs: nothing
    state = desk.reading(state, state.token, "DG13")
    assert state.reading == "DG13"
    state = desk.card_read(state, state.token, CARD, TRUST, PICTURE)
    assert (state.card, state.trust, state.portrait) == (CARD, TRUST, PICTURE)
    state = desk.progressed(state, state.token, Progress(Step.LIVENESS, "checkin.step.blink"))
    assert state.prompt is not None and state.prompt.key == "checkin.step.blink"
    state = desk.progressed(state, state.token, Progress(Step.FACE, "checkin.step.face"))
    assert state.prompt is not None and state.prompt.key == "checkin.step.face"
    state = desk.progressed(state, state.token, Progress(Step.FACE, "checkin.step.frames"))
    assert state.prompt is not None and state.prompt.key == "checkin.step.face"  # kept
    state = desk.progressed(state, state.token, Progress(Step.RECORDING, "checkin.step.store"))
    assert state.prompt is None and state.progress is not None
    result = outcome(Decision.ADMIT)
    state = desk.decided(state, state.token, result, PICTURE)
    assert state.phase is Phase.DECIDED and state.outcome is result
    assert state.decision is Decision.ADMIT and state.live_face is PICTURE
    assert state.enter_admits and not state.enter_starts and state.prompt is None


def liveness_prompt(challenge: str, number: int, attempt: int) -> Progress:
    return Progress(Step.LIVENESS, f"checkin.liveness.{challenge}",
                    {"challenge": challenge, "number": number, "of": 2, "attempt": attempt,
                     "attempts": 2})


def test_a_failed_tries_reason_stays_next_to_the_retry_prompt() -> None:
    """Issue 15: the reason a liveness try failed stays (``failed_try``) when the retry's
    prompt replaces it, until the retry passes (the face step follows) or the check-in ends."""
    state = running()
    state = desk.progressed(state, state.token, liveness_prompt("blink", 1, 1))
    assert state.failed_try is None
    reason = Progress(Step.LIVENESS, "face.liveness.cut",
                      {"challenge": "turn_left", "attempt": 1, "attempts": 2})
    state = desk.progressed(state, state.token, reason)
    assert state.prompt == reason and state.failed_try == reason
    for prompt in (liveness_prompt("turn_right", 1, 2), liveness_prompt("blink", 2, 2)):
        state = desk.progressed(state, state.token, prompt)
        assert state.prompt == prompt and state.failed_try == reason  # kept under the retry
    passed = desk.progressed(state, state.token, Progress(Step.FACE, "checkin.step.face"))
    assert passed.failed_try is None
    # the check-in ends while the retry runs: a verdict, an error, Esc
    assert desk.decided(state, state.token, outcome(Decision.REVIEW), PICTURE).failed_try is None
    assert desk.failed(state, state.token, NoCard("gone")).failed_try is None
    assert desk.escaped(state).failed_try is None
    # a stale report about an older check-in changes nothing
    assert desk.progressed(passed, passed.token - 1, reason).failed_try is None


def test_the_card_steps_leave_the_candidates_prompt_on_screen() -> None:
    """Issue 16: the overlapped check-in judges the card (roster, card, portrait) while the
    liveness challenge and the face capture run; the blink prompt and a failed try's reason
    stay until the face step or the end replace them (the desk once cleared the prompt while
    the candidate still had to blink)."""
    state = running()
    prompt = liveness_prompt("blink", 1, 2)
    reason = Progress(Step.LIVENESS, "face.liveness.cut",
                      {"challenge": "blink", "attempt": 1, "attempts": 2})
    state = desk.progressed(state, state.token, reason)
    state = desk.progressed(state, state.token, prompt)
    for step in (Step.ROSTER, Step.CARD, Step.PORTRAIT):
        state = desk.progressed(state, state.token, Progress(step, f"checkin.step.{step.value}"))
        assert state.prompt == prompt and state.failed_try == reason, step
        assert state.progress is not None and state.progress.step is step
    face = desk.progressed(state, state.token, Progress(Step.FACE, "checkin.step.face"))
    assert face.prompt is not None and face.prompt.key == "checkin.step.face"
    for step in (Step.FACE, Step.PORTRAIT):
        state = desk.progressed(face, face.token, Progress(step, f"checkin.step.{step.value}"))
        assert state.prompt == face.prompt, step
    done = desk.progressed(state, state.token, Progress(Step.DUPLICATES, "checkin.step.dup"))
    assert done.prompt is None and done.failed_try is None


def test_enter_admits_an_admitting_verdict_and_only_that() -> None:
    admitting = decided(Decision.ADMIT)
    after = desk.admitted(admitting)
    assert after.phase is Phase.IDLE
    assert after.note == Note.of("app.checkin.admitted_next", name="Nguyễn Văn An")
    for refused in (Decision.REJECT, Decision.REVIEW):
        state = decided(refused)
        assert desk.admitted(state) is state
        said = desk.enter_refused(state)
        assert said.phase is Phase.DECIDED and said.refusal_said and not said.enter_admits
    assert desk.enter_refused(admitting) is admitting


def test_an_override_puts_its_decision_and_reason_in_force() -> None:
    state = overridden()
    assert state.outcome is not None and state.outcome.decision is Decision.REJECT  # the machine's
    assert state.enter_admits  # the override admits: Enter lets the candidate in
    assert desk.override_opened(CheckInState()) == CheckInState()  # nothing to override
    closed = desk.override_closed(desk.override_opened(decided(Decision.REVIEW)))
    assert not closed.overriding and closed.phase is Phase.DECIDED


def test_a_key_the_desk_cannot_read_is_a_failure_that_keeps_the_text_selected() -> None:
    state = desk.key_refused(CheckInState())
    assert state.phase is Phase.FAILED and state.failure is not None
    assert state.failure.key == desk.KEY_MISSING and not state.failure.rejected
    assert state.entry.action is EntryAction.SELECT
    assert state.enter_starts and not state.takes_fresh_key  # correct it, or Enter again


def test_a_failure_keeps_the_key_and_a_recorded_rejection_takes_a_fresh_one() -> None:
    error = failed()
    assert error.phase is Phase.FAILED and error.failure is not None
    assert isinstance(error.failure.error, NoCard) and not error.failure.rejected
    assert error.entry.action is EntryAction.SELECT and error.enter_starts
    assert desk.fresh_key(error) is error  # typing corrects (or replaces the selected) key
    rejected = rejected_card()
    assert rejected.failure is not None and rejected.failure.rejected
    assert rejected.takes_fresh_key and rejected.enter_starts  # Enter: the same card again


# --- stale reports -----------------------------------------------------------------------------


def test_a_late_report_from_a_cancelled_check_in_changes_nothing() -> None:
    first = running()
    old = first.token
    cancelled = desk.escaped(first)
    assert cancelled.phase is Phase.IDLE and cancelled.note == CANCELLED
    assert cancelled.token != old
    again = desk.started(cancelled)
    for state in (cancelled, again):
        assert desk.reading(state, old, "DG2") is state
        assert desk.card_read(state, old, CARD, TRUST, PICTURE) is state
        assert desk.progressed(state, old, Progress(Step.FACE, "checkin.step.face")) is state
        assert desk.decided(state, old, outcome(Decision.ADMIT), PICTURE) is state
        assert desk.failed(state, old, NoCard("late")) is state
        assert desk.cancelled(state, old) is state
    # An override stored for the last candidate, confirmed after Esc: not the new one's.
    verdict = decided(Decision.REJECT)
    moved_on = desk.escaped(verdict)
    assert desk.overridden(moved_on, verdict.token, Decision.ADMIT, "x") is moved_on
    next_one = desk.decided(desk.started(moved_on), moved_on.token + 1,
                            outcome(Decision.REVIEW), None)
    assert desk.overridden(next_one, verdict.token, Decision.ADMIT, "x") is next_one


def test_reports_count_only_while_their_check_in_runs() -> None:
    verdict = decided(Decision.ADMIT)
    assert desk.progressed(verdict, verdict.token, Progress(Step.DONE, "x")) is verdict
    assert desk.failed(verdict, verdict.token, NoCard("x")) is verdict


# --- every way back to ready ----------------------------------------------------------------------


def _ways_back() -> dict[str, tuple[CheckInState, CheckInState]]:
    """(before, after) for every transition that returns the desk to ready."""
    ways = {}
    admitting = overridden()
    ways["admit an override"] = (admitting, desk.admitted(admitting))
    admit = decided(Decision.ADMIT)
    ways["admit"] = (admit, desk.admitted(admit))
    for name, state in (("a verdict", overridden()), ("a refusal", decided(Decision.REJECT)),
                        ("a failure", failed()), ("a rejected card", rejected_card()),
                        ("a running check-in", running()),
                        ("the override panel", desk.override_opened(decided(Decision.REVIEW))),
                        ("a refused key", desk.key_refused(CheckInState()))):
        ways[f"Esc on {name}"] = (state, desk.escaped(state))
    for name, state in (("an override", overridden()), ("a refusal", decided(Decision.REJECT)),
                        ("a rejected card", rejected_card())):
        ways[f"a new key over {name}"] = (state, desk.fresh_key(state))
    job = running()
    ways["the job says it was cancelled"] = (job, desk.cancelled(job, job.token))
    holding = desk.holding(overridden(), Note("app.demo.presenting"))
    ways["the demo deck takes over a verdict"] = (overridden(), holding)
    return ways


@pytest.mark.parametrize("way", list(_ways_back()))
def test_every_return_to_ready_clears_the_override_the_failure_and_the_key_box(way: str) -> None:
    before, after = _ways_back()[way]
    assert after.phase is Phase.IDLE, way
    assert after.override_reason == "" and not after.overriding
    assert after.failure is None and not after.refusal_said
    assert after.outcome is None and after.decision is None
    assert after.card is None and after.trust is None and after.portrait is None
    assert after.progress is None and after.prompt is None and after.live_face is None
    assert after.entry.action is EntryAction.CLEAR and after.entry.serial > before.entry.serial
    # Nothing else of the state was forgotten: ready is the empty state but for these.
    assert after == CheckInState(token=after.token, note=after.note, holding=after.holding,
                                 entry=after.entry)


def test_esc_on_ready_also_empties_the_key_box() -> None:
    ready = CheckInState()
    after = desk.escaped(ready)
    assert after.entry.action is EntryAction.CLEAR and after.entry.serial == 1
    assert desk.escaped(after).entry.serial == 2  # each Esc is an action of its own


def test_a_new_key_over_an_admitting_verdict_admits_first() -> None:
    after = desk.fresh_key(decided(Decision.ADMIT))
    assert after.note.key == "app.checkin.admitted_next"  # as Enter would have
    refused = desk.fresh_key(decided(Decision.REJECT))
    assert refused.note == READY


def test_a_new_key_is_not_fresh_while_the_box_is_the_current_candidates() -> None:
    for state in (CheckInState(), running(), failed(), desk.key_refused(CheckInState())):
        assert desk.fresh_key(state) is state


# --- the demo deck's hand -------------------------------------------------------------------------


def test_holding_waits_for_the_card_and_esc_ends_it() -> None:
    job = running()
    held = desk.holding(job, Note("app.demo.presenting"))
    assert held.phase is Phase.IDLE and held.holding and held.token != job.token
    assert not held.can_start and desk.started(held) is held
    assert desk.released(held, job.token) is held  # a stale release
    ready = desk.released(held, held.token)
    assert not ready.holding and ready.can_start
    escaped = desk.escaped(held)
    assert not escaped.holding and escaped.token != held.token
    assert desk.released(escaped, held.token) is escaped  # Esc meanwhile: the deck's turn is over


def test_the_state_module_loads_no_tk() -> None:
    code = ("import sys, examdesk.views.checkin_state; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tkinter', '_tkinter', 'customtkinter') or m == 'examdesk.app' or "
            "(m.startswith('examdesk.views.') and m != 'examdesk.views.checkin_state')); "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout.strip()
    assert out == "[]", out


# --- consent to face matching (issue 13: Decree 13/2023, given per candidate, never presumed) --


def test_consent_is_not_presumed_and_is_asked_of_each_candidate() -> None:
    ready = CheckInState()
    assert not ready.consent  # issue 13: the desk's box was ticked by default
    given = desk.consent_toggled(ready)
    assert given.consent and desk.consent_toggled(given).consent is False  # taken back
    job = desk.started(given)
    assert job.consent  # the running check-in asks with the candidate's answer
    assert desk.consent_toggled(job) is job  # fixed while it runs
    verdict = desk.decided(job, job.token, outcome(Decision.ADMIT), PICTURE)
    assert verdict.consent
    for way, (before, after) in _ways_back().items():
        given_before = dataclasses.replace(before, consent=True)
        assert not desk.escaped(given_before).consent, way
        assert not after.consent, way
    assert not desk.admitted(verdict).consent  # the next candidate is asked again
    # The key over a verdict is the next candidate's answer: ready first, then given.
    next_one = desk.consent_toggled(verdict)
    assert next_one.phase is Phase.IDLE and next_one.consent
    assert next_one.note.key == "app.checkin.admitted_next"
    # A failed read of the same candidate keeps the answer for the retry.
    retry = desk.failed(job, job.token, NoCard("no card"))
    assert retry.consent and desk.started(retry).consent
