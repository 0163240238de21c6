"""Alembic environment: run by :func:`proctoring.store.migrate` with an open connection.

Run by the ``alembic`` command instead (``alembic -c proctoring/migrations/alembic.ini …``),
it connects to ``EXAMDESK_DB_URL`` or the default SQLite file itself.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

from proctoring import (  # noqa: F401  (the tables)
    calibration_models,
    district_models,
    models,
    seat_models,
    station_models,
)

# Any 64-bit number: it only has to be the same for every examdesk process.
_PG_MIGRATION_LOCK = 0x6578616D6465736B  # "examdesk"


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things: batch mode rebuilds the table
        compare_type=True,
    )
    with context.begin_transaction():
        if context.get_context().dialect.name == "postgresql":
            # Two processes opening a fresh database at once: the second waits, then finds
            # the schema already current.
            context.execute(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from proctoring.store import create_engine, database_url

    engine = create_engine(database_url())
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
