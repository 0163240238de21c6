"""The one table that turns a typed error into a command's exit status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
from typer.testing import CliRunner

from examdesk.cli import app as cli_app
from examdesk.commands.errors import (
    EXIT_CODES,
    cli_errors,
    exit_code,
    exit_code_for_key,
    handles_errors,
)
from examdesk.keyed_error import KeyedError
from proctoring import errors as store_errors
from proctoring import sync_errors
from reader import errors as card_errors
from reports import errors as report_errors


def test_every_row_is_a_typed_error_and_none_is_shadowed() -> None:
    # A row listed after a row for one of its base classes could never be chosen.
    for i, (kind, _code) in enumerate(EXIT_CODES):
        assert issubclass(kind, KeyedError)
        shadowing = [earlier for earlier, _ in EXIT_CODES[:i] if issubclass(kind, earlier)]
        assert not shadowing, f"{kind.__name__} is shadowed by {shadowing}"


def test_statuses_keep_their_documented_meanings() -> None:
    assert exit_code(card_errors.WrongCardKey(0x6300)) == 4
    assert exit_code(card_errors.NotAnIdCard(0x6A82)) == 6
    assert exit_code(store_errors.KeyMissing("x")) == 3  # through its base, KeyUnavailable
    assert exit_code(report_errors.WrongKeyPassword("x")) == 2  # not its base's 3
    assert exit_code(sync_errors.ChainDiverged("x")) == 8
    assert exit_code(store_errors.ProctoringError("x")) == 1
    assert exit_code(ValueError("not typed")) == 1
    assert exit_code_for_key(sync_errors.SchemaMismatch.key) == 9
    assert exit_code_for_key("no.such.key") == 1


def test_a_command_can_give_an_error_its_own_status() -> None:
    extra = ((card_errors.ReaderError, 2),)
    assert exit_code(card_errors.NoCard("x"), extra) == 2
    assert exit_code(card_errors.NoCard("x")) == 3


def test_the_context_prints_once_in_both_languages_and_exits(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as ended, cli_errors(as_json=True):
        raise card_errors.WrongCardKey(0x63C2, "MAC mismatch", key_kind="CAN", attempts=2)
    assert ended.value.exit_code == 4
    out, err = capsys.readouterr()
    error = json.loads(out)["error"]
    assert error["key"] == "card.wrong_key" and error["vi"] and error["en"]
    assert error["context"]["attempts"] == 2  # numbers stay numbers
    assert err.strip()


def test_other_exceptions_pass_through() -> None:
    with pytest.raises(ZeroDivisionError), cli_errors(as_json=False):
        raise ZeroDivisionError


# --- the decorator and the commands converted to it ---------------------------------------------

toy = typer.Typer()


@toy.command()
@handles_errors(((card_errors.NoCard, 2),))
def toy_cmd(count: Annotated[int, typer.Option("--count", help="how many")] = 1,
            as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """A toy command."""
    raise card_errors.NoCard("none", count=count)


def test_a_decorated_command_keeps_its_options_and_reads_json() -> None:
    runner = CliRunner()
    shown = runner.invoke(toy, ["--help"])
    assert shown.exit_code == 0 and "--count" in shown.stdout and "how many" in shown.stdout
    ended = runner.invoke(toy, ["--count", "3", "--json"])
    assert ended.exit_code == 2  # the command's own row before the table's 3
    error = json.loads(ended.stdout)["error"]
    assert error["key"] == "card.no_card" and error["context"]["count"] == 3
    assert runner.invoke(toy, ["--count", "3"]).stdout == ""  # no JSON without --json


def _leaves(group: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every command under a (click) group, with the words that call it."""
    out = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            out += _leaves(command, (*path, name))
        else:
            out.append(((*path, name), command))
    return out


def test_every_command_still_shows_every_option_in_its_help() -> None:
    # A decorator that hid the signature from typer would drop the options here.
    runner = CliRunner()
    leaves = _leaves(typer.main.get_command(cli_app))
    assert len(leaves) > 30
    for path, command in leaves:
        shown = runner.invoke(cli_app, [*path, "--help"], env={"COLUMNS": "200"})
        assert shown.exit_code == 0, path
        for param in command.params:
            if param.param_type_name == "option":
                assert param.opts[0] in shown.stdout, (path, param.opts[0])


def test_options_are_parsed_into_typed_errors() -> None:
    from examdesk.commands import data, fraud, keys, review, session
    from proctoring.models import IncidentKind

    with pytest.raises(data.BadAge) as bad_age:
        data.parse_age("soon")
    assert bad_age.value.context == {"value": "soon"} and exit_code(bad_age.value) == 2
    with pytest.raises(fraud.BadFormat) as bad_format:
        fraud.report_setup(Path("report.txt"), "01/06/2025", "30/06/2025")
    assert exit_code(bad_format.value) == 2
    for parse in (lambda: session._status("maybe"), lambda: session._kind("boat"),
                  lambda: keys._purpose("secret"),
                  lambda: review._enum(IncidentKind, "theft", "--kind")):
        with pytest.raises(store_errors.InvalidInput) as invalid:
            parse()
        assert exit_code(invalid.value) == 2


def test_the_store_of_a_command_lets_typed_errors_reach_its_context(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from examdesk.commands.session import stored

    monkeypatch.setenv("EXAMDESK_HOME", str(tmp_path))
    monkeypatch.delenv("EXAMDESK_DB_URL", raising=False)
    with pytest.raises(store_errors.InvalidInput), stored():
        raise store_errors.InvalidInput("x", field="y")


@pytest.mark.parametrize(("args", "key", "status"), [
    (["data", "purge", "--older-than", "soon"], "data.bad_age", 2),
    (["fraud", "report", "--from", "01/06/2025", "--to", "30/06/2025", "--out", "r.txt"],
     "fraud.bad_format", 2),
    (["district", "init", "--admin-url", "postgresql://nobody@127.0.0.1:1/none", "--code",
      "SGD", "--name", "x", "--password-file", "missing.txt"], "proctoring.invalid_input", 2),
    (["trust", "import", "csca.pem"], "trust.store_write", 7),
    (["trust", "import", "missing.pem"], "trust.import_unreadable", 2),
])
def test_statuses_and_keys_of_errors_a_command_finds_itself(
        args: list[str], key: str, status: int, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from examdesk.paths import trust_dir

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EXAMDESK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("EXAMDESK_DB_URL", raising=False)
    trust_dir().parent.mkdir(parents=True)
    trust_dir().write_text("a file where the trust store's folder should be")
    (tmp_path / "csca.pem").write_bytes(_a_csca())
    ended = CliRunner().invoke(cli_app, [*args, "--json"])
    assert (json.loads(ended.stdout)["error"]["key"], ended.exit_code) == (key, status)
    assert ended.stderr.strip()


def _a_csca() -> bytes:
    from cryptography.hazmat.primitives.asymmetric import ec

    from ..reader.trust.builders import certificate

    return certificate("Test CSCA", ec.generate_private_key(ec.SECP256R1()), ca=True).pem


def test_the_readme_exit_table_is_the_code_s_table() -> None:
    # One table of statuses (issue 13): README.md shows EXIT_MEANINGS row for row, and every
    # status a command module names is in it.
    import re

    from examdesk.commands import errors as cli_error_table

    readme = (Path(__file__).parents[2] / "README.md").read_text("utf-8")
    start = readme.index("<!-- exit-statuses")
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", readme[start:readme.index("\n\n", start)], re.M)
    assert [(int(c), m) for c, m in rows] == list(cli_error_table.EXIT_MEANINGS)
    table = {code for code, _ in cli_error_table.EXIT_MEANINGS}
    assert {code for _, code in EXIT_CODES} <= table
    commands = Path(cli_error_table.__file__).parent
    for source in commands.glob("*.py"):
        for name, value in re.findall(r"^(EXIT_\w+) = (\d+)", source.read_text("utf-8"), re.M):
            assert int(value) in table, (source.name, name)
    assert (cli_error_table.EXIT_REVIEW, cli_error_table.EXIT_REJECT,
            cli_error_table.EXIT_FORGED) == (10, 11, 12)
