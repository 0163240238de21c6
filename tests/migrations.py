"""A test database moved between schema revisions as a release upgrade moves it (alembic), and
where it then stands: for the tests that build a database as an older release left it."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from proctoring.store import MIGRATIONS, metadata


def migrate(engine: sa.Engine, target: str, *, down: bool = False) -> None:
    """Up (or ``down``) to ``target`` ("head", "0001", "0009_seat18_seats", …) in one
    transaction on ``engine``'s database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, target)


def revision_and_drift(engine: sa.Engine) -> tuple[str | None, list[object]]:
    """The database's revision, and how its schema differs from today's models (types
    compared too): (HEAD_REVISION, []) after a complete upgrade."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return context.get_current_revision(), list(compare_metadata(context, metadata()))
