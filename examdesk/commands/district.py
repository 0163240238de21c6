"""`examdesk district …`: set up the district's PostgreSQL database, give centres their logins,
see the centres, screen the district for proxies.

`init` and `add-centre` run as the database's owner (``--admin-url``, a role with CREATEROLE),
on the education office's machine: `init` creates the office's keys there. Passwords are made
up and printed once unless ``--password-file`` gives one (never an option value: it would sit
in the shell history).

| exit | meaning |
|---|---|
| 0 | done |
| 2 | a value is not valid |
| 3 | the database or a key cannot be reached |
| 6 | refused by the database (not the owner, not a district, …) |
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from examdesk.commands.common import JsonOption, LangOption
from examdesk.commands.errors import handles_errors, os_errors
from examdesk.commands.session import actor
from examdesk.commands.sync import CentralOption, office_login
from examdesk.i18n import Catalog, default_language
from proctoring import errors

app = typer.Typer(help="Sở giáo dục — the district database, its centres, the proxy screen.",
                  no_args_is_help=True)

AdminOption = Annotated[str, typer.Option(
    "--admin-url", help="the district database as its owner (a role with CREATEROLE)")]
PasswordFile = Annotated[Path | None, typer.Option(
    "--password-file", help="file whose first line is the password (default: made up)")]


def _password(path: Path | None) -> str | None:
    if path is None:
        return None
    with os_errors(errors.InvalidInput, field="--password-file"):
        text = path.read_text("utf-8")
    return text.splitlines()[0] if text else None


@app.command("init")
@handles_errors()
def init_cmd(
    admin_url: AdminOption,
    code: Annotated[str, typer.Option("--code", help="the district's code, e.g. SGD-HN")],
    name: Annotated[str, typer.Option("--name", help="the education office's name")],
    office_role: Annotated[str | None, typer.Option(
        "--office-role", help="also make this login for the office's reviewers")] = None,
    password_file: PasswordFile = None,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Khởi tạo — schema, roles, row-level security, the office's keys and audit chain."""
    from proctoring.crypto import KeyStore
    from proctoring.district import init_district

    lang = lang or default_language()
    setup = init_district(admin_url, code=code, name=name, keys=KeyStore.default(),
                          actor=actor(), office_role=office_role,
                          office_password=_password(password_file))
    if as_json:
        print(json.dumps(setup.to_dict(), ensure_ascii=False))
        return
    catalog = Catalog.load()
    print(catalog.text("district.initialised", lang, code=setup.code, name=setup.name,
                       public_key=setup.box_public_key))
    if setup.office is not None:
        print(catalog.text("district.login", lang, role=setup.office.role, url=setup.office.url))


@app.command("add-centre")
@handles_errors()
def add_centre_cmd(
    code: Annotated[str, typer.Argument(help="the centre's code, as the centre uses it")],
    admin_url: AdminOption,
    role: Annotated[str | None, typer.Option("--role", help="login name (default centre_CODE)")]
    = None,
    password_file: PasswordFile = None,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Thêm trung tâm — a login that sees only this centre's rows; prints its sync URL."""
    from proctoring.district import add_centre

    lang = lang or default_language()
    made = add_centre(admin_url, code, password=_password(password_file), role=role)
    if as_json:
        print(json.dumps({"code": code, **made.to_dict()}, ensure_ascii=False))
    else:
        print(Catalog.load().text("district.centre_added", lang, code=code, role=made.role,
                                  url=made.url))


@app.command("centres")
@handles_errors()
def centres_cmd(central: CentralOption = None, as_json: JsonOption = False,
                lang: LangOption = None) -> None:
    """Các trung tâm — each centre's account, and how much of its log the district holds."""
    from examdesk.commands.session import moment
    from proctoring.district import members

    lang = lang or default_language()
    with office_login(central) as office:
        found = members(office)
    if as_json:
        print(json.dumps([m.to_dict() for m in found], ensure_ascii=False))
        return
    catalog = Catalog.load()
    for m in found:
        print(f"{m.code:<12} {m.role:<24} {m.name or catalog.text('district.not_synced', lang)}"
              f"  {m.events:>8}  {moment(m.last_event_at)}")


@app.command("screen")
@handles_errors()
def screen_cmd(
    central: CentralOption = None,
    threshold: Annotated[float | None, typer.Option(
        "--threshold", help="face distance at or below which two check-ins are one person")]
    = None,
    use_index: Annotated[bool | None, typer.Option(
        "--index/--exact", help="through the face index (made if missing) or the exact scan; "
        "default: the index once `district reindex` has made it")] = None,
    as_json: JsonOption = False,
    lang: LangOption = None,
) -> None:
    """Sàng lọc thi hộ — new admitted faces against every admitted face of another ID."""
    from proctoring.proxy_index import default_path
    from proctoring.proxy_search import DEFAULT_THRESHOLD, screen_district

    lang = lang or default_language()
    with office_login(central) as office:
        path = default_path(office)
        index = path if (use_index or (use_index is None and path.exists())) else None
        result = screen_district(office, actor=actor(), threshold=threshold or DEFAULT_THRESHOLD,
                                 index=index)
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        catalog = Catalog.load()
        print(catalog.text("district.screened", lang, screened=result.screened,
                           stored=result.faces_stored, incidents=len(result.incidents),
                           seconds=f"{result.match_seconds:.1f}"))
        if result.unscreenable:
            print(catalog.text("district.unscreenable", lang, n=len(result.unscreenable)))
        if result.index is not None:
            if result.index.get("rebuilt"):
                print(catalog.text("district.index_rebuilt", lang,
                                   reason=result.index["rebuilt"]))
            print(catalog.text("district.index_used", lang, indexed=result.index["indexed"],
                               candidates=result.index["candidates"]))


@app.command("reindex")
@handles_errors()
def reindex_cmd(central: CentralOption = None, as_json: JsonOption = False,
                lang: LangOption = None) -> None:
    """Dựng lại chỉ mục — rebuild the face index of the proxy screen from the district database
    (the next `district screen` uses it)."""
    from proctoring.proxy_index import reindex

    lang = lang or default_language()
    with office_login(central) as office:
        report = reindex(office)
    if as_json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(Catalog.load().text("district.reindexed", lang, faces=report["indexed"],
                                  seconds=report["build_seconds"], path=report["path"]))
