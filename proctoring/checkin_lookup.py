"""A check-in named the way a person types it: its whole id, or the first characters of it
(at least 4 hex digits, like a git hash or `session show`), unique or refused."""

from __future__ import annotations

import uuid

from sqlmodel import Session, select

from .errors import CheckInAmbiguous, CheckInNotFound, CheckInRefInvalid
from .id_prefix import MIN_PREFIX, by_prefix, by_uuid, hex_prefix
from .models import CheckIn


def looks_like_checkin_ref(ref: str) -> bool:
    """A whole id or the first characters of one, by its shape alone (no database): checked
    before anything is opened, so a typing mistake is blamed on the typing."""
    return hex_prefix(ref) is not None


def find_checkin(tx: Session, ref: str, *, centre_id: uuid.UUID | None = None) -> CheckIn:
    text = ref.strip()
    query = select(CheckIn)
    if centre_id is not None:
        query = query.where(CheckIn.centre_id == centre_id)
    exact = by_uuid(tx, query, CheckIn.id, text)
    if exact is not None:
        return exact
    digits = hex_prefix(text)
    if digits is None:
        raise CheckInRefInvalid(f"{text!r} is not a check-in id or its first {MIN_PREFIX}+ hex "
                                "digits", ref=text, digits=MIN_PREFIX)
    matches = by_prefix(tx, query, CheckIn.id, digits)
    if not matches:
        raise CheckInNotFound(f"no check-in {text!r}", ref=text)
    if len(matches) > 1:
        raise CheckInAmbiguous(f"several check-ins match {text!r}", ref=text)
    return matches[0]
