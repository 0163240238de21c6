"""`examdesk app [--demo]`: the invigilator's desktop application."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from examdesk.commands.common import LangOption
from examdesk.i18n import Catalog

EXIT_NO_DISPLAY = 3


def app_cmd(
    demo: Annotated[bool, typer.Option(
        "--demo", help="virtual cards and a file camera with real photos, in a demo folder "
        "of its own; no reader or webcam needed")] = False,
    lang: LangOption = None,
    demo_home: Annotated[Path | None, typer.Option(
        "--demo-home", help="the demo's folder (default: <data dir>/demo; rebuilt each start)")]
    = None,
    loopback: Annotated[bool, typer.Option(
        "--loopback", help="demo: keep the virtual card in this process even when pcscd "
        "runs")] = False,
    screenshot: Annotated[Path | None, typer.Option(
        "--screenshot", help="demo: check the right person in, save the screen here, quit")]
    = None,
) -> None:
    """Ứng dụng giám thị — the check-in desk: camera, card, verdict, roster, signed PDF."""
    if not os.environ.get("DISPLAY"):
        print(Catalog.load().both("app.no_display"), file=sys.stderr)
        raise typer.Exit(EXIT_NO_DISPLAY)
    if screenshot is not None and not demo:
        raise typer.BadParameter("--screenshot needs --demo")
    import tkinter

    from examdesk.app import AppOptions, run

    try:
        run(AppOptions(demo=demo, lang=lang, demo_root=demo_home,
                       use_vpcd=False if loopback else None, screenshot=screenshot))
    except tkinter.TclError as exc:
        if "display" not in str(exc):
            raise
        print(Catalog.load().both("app.display_unreachable", display=os.environ["DISPLAY"],
                                  detail=str(exc)), file=sys.stderr)
        raise typer.Exit(EXIT_NO_DISPLAY) from exc
