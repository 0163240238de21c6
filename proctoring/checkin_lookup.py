"""A check-in named the way a person types it: its whole id, or the first characters of it
(at least 4 hex digits, like a git hash or `session show`), unique or refused."""

from __future__ import annotations

import uuid

from sqlalchemy import String, func
from sqlmodel import Session, col, select

from .errors import CheckInAmbiguous, CheckInNotFound, CheckInRefInvalid
from .models import CheckIn

MIN_PREFIX = 4


def looks_like_checkin_ref(ref: str) -> bool:
    """A whole id or the first characters of one, by its shape alone (no database): checked
    before anything is opened, so a typing mistake is blamed on the typing."""
    hexref = ref.strip().replace("-", "").lower()
    return len(hexref) >= MIN_PREFIX and all(c in "0123456789abcdef" for c in hexref)


def find_checkin(tx: Session, ref: str, *, centre_id: uuid.UUID | None = None) -> CheckIn:
    text = ref.strip()
    query = select(CheckIn)
    if centre_id is not None:
        query = query.where(CheckIn.centre_id == centre_id)
    try:
        exact = tx.exec(query.where(CheckIn.id == uuid.UUID(text))).first()
    except ValueError:
        exact = None
    if exact is not None:
        return exact
    hexref = text.replace("-", "").lower()
    if not looks_like_checkin_ref(text):
        raise CheckInRefInvalid(f"{text!r} is not a check-in id or its first {MIN_PREFIX}+ hex "
                                "digits", ref=text, digits=MIN_PREFIX)
    # Uuid columns are CHAR(32) on SQLite and uuid on PostgreSQL: compare as text.
    column = func.replace(func.lower(func.cast(col(CheckIn.id), String())), "-", "")
    matches = list(tx.exec(query.where(column.startswith(hexref)).limit(2)).all())
    if not matches:
        raise CheckInNotFound(f"no check-in {text!r}", ref=text)
    if len(matches) > 1:
        raise CheckInAmbiguous(f"several check-ins match {text!r}", ref=text)
    return matches[0]
