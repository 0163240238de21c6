"""The one table that turns a typed error into a command's exit status."""

from __future__ import annotations

import json

import pytest
import typer

from examdesk.commands.errors import EXIT_CODES, cli_errors, exit_code, exit_code_for_key
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
