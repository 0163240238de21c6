"""The `examdesk` command line."""

from __future__ import annotations

from importlib.metadata import version as package_version
from typing import Annotated

import typer

from examdesk.i18n import Catalog

from .commands import (
    app as app_command,
)
from .commands import (
    audit,
    card,
    checkin,
    data,
    district,
    face,
    fraud,
    keys,
    review,
    room,
    roster,
    seat,
    session,
    station,
    sync,
    trust,
)
from .commands.errors import handles_errors
from .commands.parser import BilingualGroup

app = typer.Typer(
    name="examdesk",
    help="Chống thi hộ — Stops proxy test-taking: chip ID card, face, attendance.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=BilingualGroup,
)


def _version(shown: bool) -> None:
    if shown:
        print(Catalog.load().both("cli.version", version=package_version("examdesk")))
        raise typer.Exit(0)


@app.callback()
def _main_options(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True,
        help="Phiên bản — print the version and exit.")] = False,
) -> None:
    """Chống thi hộ — Stops proxy test-taking: chip ID card, face, attendance."""
app.add_typer(card.app, name="card")
app.add_typer(trust.app, name="trust")
app.add_typer(face.app, name="face")
app.add_typer(keys.app, name="keys")
app.add_typer(fraud.app, name="fraud")
# Their stores end in the one error context (``stored`` no longer ends a command itself).
app.command("checkin")(handles_errors()(checkin.checkin_cmd))
app.command("override")(handles_errors()(checkin.override_cmd))
app.add_typer(session.app, name="session")
app.add_typer(roster.app, name="roster")
app.add_typer(audit.app, name="audit")
app.add_typer(data.app, name="data")
app.command("app")(app_command.app_cmd)
app.command("sync")(sync.sync_cmd)
app.add_typer(district.app, name="district")
app.add_typer(review.app, name="review")
app.add_typer(station.app, name="station")
# The exam room (issue 18): the seat agent and the invigilator's terminal view.
app.command("seat")(seat.seat_cmd)
app.add_typer(room.app, name="room")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
