"""A record named the way a person types it: its whole UUID, or the first hex digits of it
(like a git hash), as `session show` and `override` accept."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import String, func
from sqlmodel import Session, col

MIN_PREFIX = 4


def hex_prefix(ref: str) -> str | None:
    """The hex digits of ``ref`` when it can be the start of a UUID (at least MIN_PREFIX of
    them, dashes ignored), else None. Shape only: nothing is looked up."""
    digits = ref.strip().replace("-", "").lower()
    if len(digits) >= MIN_PREFIX and all(c in "0123456789abcdef" for c in digits):
        return digits
    return None


def by_uuid(tx: Session, query: Any, id_column: Any, ref: str) -> Any:
    """The row whose id is exactly ``ref``, or None (also when ``ref`` is no UUID)."""
    try:
        wanted = uuid.UUID(ref.strip())
    except ValueError:
        return None
    return tx.exec(query.where(id_column == wanted)).first()


def by_prefix(tx: Session, query: Any, id_column: Any, digits: str, limit: int = 2) -> list[Any]:
    """Rows whose id starts with ``digits`` (at most ``limit``: two tell "ambiguous")."""
    # Uuid columns are CHAR(32) on SQLite and uuid on PostgreSQL: compare as text.
    text = func.replace(func.lower(func.cast(col(id_column), String())), "-", "")
    return list(tx.exec(query.where(text.startswith(digits)).limit(limit)).all())
