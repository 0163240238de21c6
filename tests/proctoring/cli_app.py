"""The storage command groups as `examdesk` will register them (until examdesk/cli.py does).

``python -m tests.proctoring.cli_app session list`` behaves like ``examdesk session list``.
"""

from __future__ import annotations

import typer

from examdesk.commands import audit, data, roster, session

app = typer.Typer(name="examdesk", no_args_is_help=True, pretty_exceptions_enable=False,
                  add_completion=False)
app.add_typer(session.app, name="session")
app.add_typer(roster.app, name="roster")
app.add_typer(audit.app, name="audit")
app.add_typer(data.app, name="data")


def command() -> list[str]:
    """argv prefix for a subprocess: the real console entry once it has the session group."""
    import sys

    from examdesk import cli

    names = {g.name for g in cli.app.registered_groups}
    if {"session", "roster", "audit", "data"} <= names:
        return [sys.executable, "-m", "examdesk.cli"]
    return [sys.executable, "-m", "tests.proctoring.cli_app"]


if __name__ == "__main__":
    app()
