"""A roster's verification in words, one line per finding: what `examdesk roster verify`
prints and what the desk's printing screen shows."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from examdesk.i18n import Catalog
from examdesk.timezone import VIETNAM
from proctoring.models import Stage

from .layout import FACE_OUTCOMES, STATUSES, VERDICTS, decimal, label
from .reason_words import reasons_text
from .verify import ContentStatus, Difference, Integrity, RosterVerification, SignerBinding, bounded


def quiet_pyhanko() -> None:
    """pyHanko logs a traceback for every untrusted or broken signature; the verdict already
    says it in one line, so the command line and the desk keep only pyHanko's critical messages."""
    for name in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def verify_lines(r: RosterVerification, catalog: Catalog, lang: str) -> list[str]:
    def t(key: str, **ctx: Any) -> str:
        return catalog.text(key, lang, **ctx)

    lines = [t(f"verify.integrity.{r.integrity.value}")]
    if r.signed:
        lines.append(t("verify.valid") if r.valid else t("verify.invalid"))
    if r.signer is not None:
        lines.append(t("verify.signer", name=r.signer.common_name,
                       organisation=r.signer.organisation or "—",
                       issuer=r.signer.issuer_name or r.signer.issuer))
    if r.signing_time is not None:
        lines.append(t("verify.time", when=r.signing_time.astimezone(VIETNAM)
                       .strftime("%d/%m/%Y %H:%M:%S")))
    if r.signed:
        lines.append(t("verify.trusted") if r.trusted
                     else t("verify.untrusted", problem=_trust_problem(r, catalog, lang)))
    if r.binding is not SignerBinding.NOT_CHECKED:
        lines.append(t(f"verify.binding.{r.binding.value}", centre=r.content.centre_code,
                       signer_centre=r.signer.centre_code if r.signer else "—"))
    c = r.content
    # What is wrong in words (never ``c.detail``: English, for logs and --json).
    reason = t(c.problem, **c.problem_context) if c.problem else ""
    status = c.status.value
    if c.status is ContentStatus.MISMATCH and not c.differences and c.problem:
        status = "mismatch_hash"  # the data and the QR code disagree: no database needed
    lines.append(t(f"verify.content.{status}", session=c.session_code or "—",
                   n=len(c.differences), reason=reason).rstrip())
    for d in c.differences[:10]:
        if d.field == "checkin.reasons":
            lines.append(_reasons_line(d, t, lang))
            continue
        if d.field == "history":
            lines.append(_history_line(d, t, lang))
            continue
        lines.append(difference_line(d, t, lang))
    if c.unknown_reasons:
        lines.append(t("verify.unknown_reasons", n=sum(n for _, _, n in c.unknown_reasons),
                       positions=", ".join(_position(p) for _, p, _ in c.unknown_reasons[:10])))
    if c.unchecked_evidence:
        lines.append(t("verify.unchecked", n=c.unchecked_evidence))
    if r.integrity_problem and r.integrity in (Integrity.CHANGED, Integrity.UNREADABLE):
        # What changed, in words (``r.detail``, the English, is for logs and --json).
        lines.append(t(r.integrity_problem))
    return lines


def _reasons_line(d: Difference, t: Any, lang: str) -> str:
    """A changed reason named in words on each side (issue 13), never as its key."""
    def said(reasons: Any) -> str:
        return "; ".join(reasons_text(t, reasons, lang)) or t("verify.no_reasons")

    return t("verify.difference_reasons", position=_position(d.position),
             id=_id(d.id_number), pdf=said(d.pdf), db=said(d.database))


def _history_line(d: Difference, t: Any, lang: str) -> str:
    """The other attempts (before a retry, after the admission) differ: each side as its
    attempts' times, decisions and reasons in words, never the stated data as it is."""
    def said(history: Any) -> str:
        if not isinstance(history, list) or not history:
            return t("verify.no_attempts")
        out = []
        for a in history[:20]:
            a = a if isinstance(a, dict) else {}
            when = _local_time(a.get("decided_at"))
            decision = a.get("decision")
            words = label(t, "roster.status", decision if isinstance(decision, str) else None,
                          STATUSES)
            reasons = "; ".join(reasons_text(t, a.get("reasons"), lang))
            out.append(f"{when} {words}" + (f" ({reasons})" if reasons else ""))
        return " · ".join(out)

    return t("verify.difference_history", position=_position(d.position),
             id=_id(d.id_number), pdf=said(d.pdf), db=said(d.database))


def _local_time(value: Any) -> str:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(
            VIETNAM).strftime("%H:%M")
    except ValueError:
        return "—"


# --- one difference in words ----------------------------------------------------------------

# Every part of a roster's facts a difference can name, worded as ``verify.field.<path>``
# (examdesk/i18n/verify13.toml). A part this version does not know (a newer examdesk's, or
# one a forger added) is "a part this version does not know": its name is never printed.
FIELDS = frozenset({
    "centre.id", "centre.code", "centre.name",
    "session.id", "session.code", "session.kind", "session.title", "session.stages",
    "session.starts_at", "session.ends_at",
    "totals.rostered", "totals.admitted", "totals.rejected", "totals.review", "totals.absent",
    "totals.not_on_roster", "invigilators",
    "registration_number", "seat", "vehicle", "candidate_id", "id_number", "full_name",
    "date_of_birth", "status",
    "checkin", "checkin.id", "checkin.decided_at", "checkin.decision",
    "checkin.machine_decision", "checkin.face_outcome", "checkin.face_distance",
    "checkin.trust_verdict", "checkin.liveness", "checkin.overridden_at",
    "checkin.override_reason", "checkin.desk",
    "checkin.portrait", "checkin.portrait.id", "checkin.portrait.sha256",
    "checkin.frame", "checkin.frame.id", "checkin.frame.sha256",
})
_DECISIONS = frozenset({"status", "checkin.decision", "checkin.machine_decision"})
_TIMES = frozenset({"session.starts_at", "session.ends_at", "checkin.decided_at",
                    "checkin.overridden_at"})


def difference_line(d: Difference, t: Any, lang: str) -> str:
    """A difference other than reasons and attempts: what differs in words, each side's value
    in words where it has them (a decision, a verdict, a time in Vietnam time), else as the
    file states it (already cut short and cleaned by :func:`reports.verify.bounded`)."""
    if d.field in ("row", "section"):
        side = "file" if d.pdf else "database"
        return t(f"verify.diff.{d.field}_only_in_{side}", position=_position(d.position),
                 id=_id(d.id_number), stage_name=_stage(d.stage, t))
    what = (t(f"verify.field.{d.field}") if d.field in FIELDS
            else t("verify.field.unknown"))
    pdf, db = _value(d.field, d.pdf, t, lang), _value(d.field, d.database, t, lang)
    if d.position is not None:
        return t("verify.difference", position=_position(d.position),
                 id=_id(d.id_number), field=what, pdf=pdf, db=db)
    if d.stage:
        what = f"{_stage(d.stage, t)} · {what}"
    return t("verify.diff.part", what=what, pdf=pdf, db=db)


def _value(name: str, value: Any, t: Any, lang: str) -> str:
    if value is None:
        return t("verify.value.none")
    if name == "checkin" and isinstance(value, dict):
        # A check-in on one side only: said as its time and decision.
        decision = value.get("decision")
        when = value.get("decided_at")
        return t("verify.value.checkin",
                 when=_local_moment(when) if isinstance(when, str) else "—",
                 decision=label(t, "roster.status",
                                decision if isinstance(decision, str) else None, STATUSES))
    if isinstance(value, dict | list) and name not in ("session.stages", "invigilators"):
        # An object where a roster has a value (its own parts are differences of their own
        # when it should be one, e.g. a check-in): said, not pasted.
        return t("verify.value.part" if isinstance(value, dict) else "verify.value.odd")
    if isinstance(value, bool):
        return t("verify.value.yes" if value else "verify.value.no")
    if name == "session.stages":
        items = value if isinstance(value, list) else [value]
        return ", ".join(_stage(v, t) if isinstance(v, str) else t("verify.value.odd")
                         for v in items) or t("verify.value.none")
    if name == "invigilators":
        items = value if isinstance(value, list) else [value]
        return ", ".join(_shown_text(v) for v in items) or t("verify.value.none")
    if not isinstance(value, str):
        if isinstance(value, float) and name == "checkin.face_distance":
            return decimal(value, lang)
        return _shown_text(value)
    if name in _DECISIONS:
        return label(t, "roster.status", value, STATUSES)
    if name == "checkin.trust_verdict":
        return label(t, "roster.trust", value, VERDICTS)
    if name == "checkin.face_outcome":
        return label(t, "roster.face", value, FACE_OUTCOMES)
    if name == "checkin.liveness":
        return t("roster.liveness.passed" if value.lower() == "passed"
                 else "roster.liveness.failed")
    if name == "session.kind" and value in ("ONLINE_EXAM", "DRIVING_TEST"):
        return str(t(f"session.kind.{value}"))
    if name in _TIMES:
        return _local_moment(value)
    if name == "date_of_birth":
        try:
            return date.fromisoformat(value).strftime("%d/%m/%Y")
        except ValueError:
            return value
    return value


def _stage(stage: Any, t: Any) -> str:
    if stage in {s.value for s in Stage}:
        return str(t(f"session.stage.{stage}"))
    return str(t("verify.value.odd")) if stage else ""


def _position(position: Any) -> str:
    """A row's number as the file states it: an integer, perhaps of thousands of digits."""
    if position is None:
        return "—"
    text = str(position)
    return text if len(text) <= 12 else text[:12] + "…"


def _shown_text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return str(bounded(value)) if not isinstance(value, str) else value


def _id(value: Any) -> str:
    """The row's ID number as the file states it: twelve digits, or cut where a forger's
    would run on (the value itself is shown, whole up to its bound, where it differs)."""
    text = _shown_text(value)
    return text if len(text) <= 16 else text[:16] + "…"


def _local_moment(value: str) -> str:
    """A stated UTC time in Vietnam time; one without its zone (no roster writes one) as the
    file states it, not guessed in this computer's zone."""
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return value if when.tzinfo is None else when.astimezone(VIETNAM).strftime(
        "%d/%m/%Y %H:%M:%S")


def _trust_problem(r: RosterVerification, catalog: Catalog, lang: str) -> str:
    """Why the signer is not trusted, in words: pyHanko names it by an AdES sub-indication
    (``NO_CERTIFICATE_CHAIN_FOUND``), a code that stays in --json."""
    key = f"verify.trust_problem.{r.trust_problem}"
    if key not in catalog.messages:
        key = "verify.trust_problem.other"
    return catalog.text(key, lang)
