"""Column types shared by the tables: aware-UTC timestamps and enums stored as plain text."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC ``datetime`` in Python on every database.

    SQLite has no time zone type: it stores naive text, so we store UTC and put the zone back on
    reading. PostgreSQL stores ``timestamptz`` and answers in the session's zone; we convert.
    A naive datetime is refused rather than guessed at.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: examdesk stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_type(enum: type[StrEnum]) -> sa.types.TypeEngine[Any]:
    """VARCHAR holding the enum's value, no CHECK constraint and no PostgreSQL ENUM type.

    Adding a value later (a new incident kind) then needs no migration on either database, and
    rows synced from a newer centre do not fail on insert; the Python enum validates.
    """
    longest = max(len(m.value) for m in enum)
    return sa.Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=max(32, longest),
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )
