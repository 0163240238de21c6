"""A roster's verification in words, one line per finding: what `examdesk roster verify`
prints and what the desk's printing screen shows."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from examdesk.i18n import Catalog
from examdesk.timezone import VIETNAM

from .layout import STATUSES, label
from .reason_words import reasons_text
from .verify import Difference, Integrity, RosterVerification, SignerBinding


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
                       organisation=r.signer.organisation or "—", issuer=r.signer.issuer))
    if r.signing_time is not None:
        lines.append(t("verify.time", when=r.signing_time.astimezone(VIETNAM)
                       .strftime("%d/%m/%Y %H:%M:%S")))
    if r.signed:
        lines.append(t("verify.trusted") if r.trusted
                     else t("verify.untrusted", problem=r.trust_problem or "—"))
    if r.binding is not SignerBinding.NOT_CHECKED:
        lines.append(t(f"verify.binding.{r.binding.value}", centre=r.content.centre_code,
                       signer_centre=r.signer.centre_code if r.signer else "—"))
    c = r.content
    reason = t(c.problem, **c.problem_context) if c.problem else ""
    lines.append(t(f"verify.content.{c.status.value}", session=c.session_code or "—",
                   n=len(c.differences), detail=c.detail, reason=reason))
    for d in c.differences[:10]:
        if d.field == "checkin.reasons":
            lines.append(_reasons_line(d, t, lang))
            continue
        if d.field == "history":
            lines.append(_history_line(d, t, lang))
            continue
        lines.append(t("verify.difference", position=d.position or "—",
                       id=d.id_number or "—", field=d.field, pdf=d.pdf, db=d.database))
    if c.unknown_reasons:
        lines.append(t("verify.unknown_reasons", n=sum(n for _, _, n in c.unknown_reasons),
                       positions=", ".join(str(p) for _, p, _ in c.unknown_reasons[:10])))
    if c.unchecked_evidence:
        lines.append(t("verify.unchecked", n=c.unchecked_evidence))
    if r.detail and r.integrity in (Integrity.CHANGED, Integrity.UNREADABLE):
        lines.append(f"  ({r.detail})")
    return lines


def _reasons_line(d: Difference, t: Any, lang: str) -> str:
    """A changed reason named in words on each side (issue 13), never as its key."""
    def said(reasons: Any) -> str:
        return "; ".join(reasons_text(t, reasons, lang)) or t("verify.no_reasons")

    return t("verify.difference_reasons", position=d.position or "—", id=d.id_number or "—",
             pdf=said(d.pdf), db=said(d.database))


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

    return t("verify.difference_history", position=d.position or "—", id=d.id_number or "—",
             pdf=said(d.pdf), db=said(d.database))


def _local_time(value: Any) -> str:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(
            VIETNAM).strftime("%H:%M")
    except ValueError:
        return "—"
