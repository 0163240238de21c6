"""`examdesk station`: the desks of a centre on one centre database (issue 17) — enrol this desk,
approve a new one, list, revoke a lost one, rotate the data key. Each is a centre admin's
audited action; the keys stay in each desk's own key store."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from examdesk.commands.common import JsonOption, LangOption
from examdesk.commands.errors import handles_errors
from examdesk.commands.session import CENTRE_ENV, actor, stored
from examdesk.i18n import Catalog, default_language

if TYPE_CHECKING:
    from proctoring.stations import StationInfo
    from proctoring.store import Store

app = typer.Typer(help="Trạm — the desks (stations) of a centre sharing one database.",
                  no_args_is_help=True)

CentreOption = Annotated[str | None, typer.Option(
    "--centre", help=f"centre code (default ${CENTRE_ENV}, or the only centre)")]


def _centre(store: Store, code: str | None) -> uuid.UUID:
    from proctoring.sync import local_centre

    return local_centre(store, code=code or os.environ.get(CENTRE_ENV)).id


def _line(catalog: Catalog, lang: str, s: StationInfo) -> str:
    stages = ", ".join(catalog.text(f"station.stage.{x}", lang) for x in s.stages) or "—"
    return catalog.text("station.line", lang, name=s.name, stages=stages,
                        status=catalog.text(f"station.status.{s.status.lower()}", lang),
                        fingerprint=s.fingerprint,
                        here=catalog.text("station.this_desk", lang) if s.this_desk else "")


@app.command("enrol")
@handles_errors()
def enrol_cmd(
    name: Annotated[str, typer.Option("--name", help='the station\'s name, e.g. "Sân 1"')],
    stages: Annotated[str | None, typer.Option(
        "--stages", help="stages it serves: theory, simulation, yard (track), road")] = None,
    centre: CentreOption = None,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Đăng ký trạm — give this desk its own keys (made here, never replacing any) and register
    it at the centre. A desk that holds the data key is active at once; another waits for
    `examdesk station approve` on such a desk."""
    from proctoring.stations import enrol

    lang = lang or default_language()
    with stored() as store:
        info = enrol(store, centre_id=_centre(store, centre), name=name, stages=stages,
                     actor=actor())
    if as_json:
        print(json.dumps(info.to_dict(), ensure_ascii=False))
        return
    catalog = Catalog.load()
    print(catalog.text("station.enrolled", lang, name=info.name))
    print("  " + _line(catalog, lang, info))
    if info.status == "PENDING":
        print(catalog.text("station.enrolled_pending", lang, name=info.name,
                           fingerprint=info.fingerprint))


@app.command("approve")
@handles_errors()
def approve_cmd(
    station: Annotated[str, typer.Argument(help="the station's name (or id)")],
    fingerprint: Annotated[str | None, typer.Option(
        "--fingerprint", help="the fingerprint the new desk printed: approve only if it is the "
        "station's (checked as the key is sealed)")] = None,
    centre: CentreOption = None,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Duyệt trạm — seal the centre's data keys to a new station (on a desk that holds them).
    Compare the fingerprint with the one the new desk printed first (or give it with
    --fingerprint, and the desk compares)."""
    from proctoring.stations import approve

    lang = lang or default_language()
    with stored() as store:
        info = approve(store, centre_id=_centre(store, centre), ref=station, actor=actor(),
                       expect_fingerprint=fingerprint)
    if as_json:
        print(json.dumps(info.to_dict(), ensure_ascii=False))
        return
    print(Catalog.load().text("station.approved", lang, name=info.name,
                              fingerprint=info.fingerprint, n=info.sealed_keys))


@app.command("list")
@handles_errors()
def list_cmd(centre: CentreOption = None, as_json: JsonOption = False,
             lang: LangOption = None) -> None:
    """Danh sách trạm — every station of the centre, its stages and state."""
    from proctoring.stations import list_stations

    lang = lang or default_language()
    with stored() as store:
        found = list_stations(store, _centre(store, centre))
    if as_json:
        print(json.dumps({"stations": [s.to_dict() for s in found]}, ensure_ascii=False))
        return
    catalog = Catalog.load()
    if not found:
        print(catalog.text("station.none", lang))
    for s in found:
        print(_line(catalog, lang, s))


@app.command("revoke")
@handles_errors()
def revoke_cmd(
    station: Annotated[str, typer.Argument(help="the station's name (or id)")],
    reason: Annotated[str, typer.Option("--reason", help="why (kept in the audit log)")],
    centre: CentreOption = None,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Thu hồi trạm — refuse the station's every later write and remove its copies of the data
    key. Then run `examdesk station rotate-data-key`."""
    from proctoring.stations import revoke

    lang = lang or default_language()
    with stored() as store:
        info = revoke(store, centre_id=_centre(store, centre), ref=station, actor=actor(),
                      reason=reason)
    if as_json:
        print(json.dumps(info.to_dict(), ensure_ascii=False))
        return
    print(Catalog.load().text("station.revoked_done", lang, name=info.name))


@app.command("rotate-data-key")
@handles_errors()
def rotate_cmd(
    reason: Annotated[str, typer.Option("--reason", help="why (kept in the audit log)")],
    centre: CentreOption = None,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Thay khoá dữ liệu — a new data key sealed only to the active stations: evidence stored
    from now on cannot be opened with a revoked desk's keys. Old evidence stays readable."""
    from examdesk.services.stations import rotate_centre_data_key

    lang = lang or default_language()
    with stored() as store:  # the station screen's own call (Ctrl+K there)
        done = rotate_centre_data_key(store, reason=reason, actor=actor(), centre=centre)
    if as_json:
        print(json.dumps(done.to_dict(), ensure_ascii=False))
        return
    catalog = Catalog.load()
    print(catalog.text("station.rotated", lang, old=done.old_key_id, new=done.new_key_id,
                       stations=", ".join(done.stations) or "—"))
    if done.skipped:
        print(catalog.text("station.rotated_skipped", lang, stations=", ".join(done.skipped)))


@app.command("db-login")
@handles_errors()
def db_login_cmd(
    role: Annotated[str, typer.Argument(help="the desk's login name, e.g. desk_san1")],
    admin_url: Annotated[str, typer.Option(
        "--admin-url", help="the centre database as its owner (a role with CREATEROLE)")],
    station: Annotated[str | None, typer.Option(
        "--station", help="bind this enrolled station (name or id) to the login")] = None,
    password_file: Annotated[Path | None, typer.Option(
        "--password-file", help="file whose first line is the password (default: made up)")]
    = None,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Đăng nhập riêng cho máy — a centre PostgreSQL login for one desk that can write only its
    own station's audit chain (the desk rights are (re)applied first: run again after an
    upgrade). The desk then uses the printed address as its database."""
    from examdesk.commands.district import _password
    from proctoring.desk_roles import add_desk_login, bind_station

    lang = lang or default_language()
    made = add_desk_login(admin_url, role, password=_password(password_file))
    bound = bind_station(admin_url, station, made.role) if station is not None else None
    if as_json:
        print(json.dumps({**made.to_dict(), "station": bound}, ensure_ascii=False))
        return
    catalog = Catalog.load()
    print(catalog.text("station.db_login_made", lang, role=made.role, url=made.url))
    if bound is not None:
        print(catalog.text("station.db_login_bound", lang, station=bound, role=made.role))
