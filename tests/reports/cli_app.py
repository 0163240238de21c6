"""The command groups of the reports issue as `examdesk` will register them (until
examdesk/cli.py does): `roster` (with print and verify), `keys`, `fraud`."""

from __future__ import annotations

import typer

from examdesk.commands import fraud, keys, roster, session

app = typer.Typer(name="examdesk", no_args_is_help=True, pretty_exceptions_enable=False,
                  add_completion=False)
app.add_typer(session.app, name="session")
app.add_typer(roster.app, name="roster")
app.add_typer(keys.app, name="keys")
app.add_typer(fraud.app, name="fraud")

if __name__ == "__main__":
    app()
