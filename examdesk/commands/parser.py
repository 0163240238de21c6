"""The command-line parser's own errors (a missing option, an unknown one, a value that is not a
number…) in both languages, like every other message of examdesk.

typer (its bundled click) words these in English only. :class:`BilingualGroup` is the top-level
group's class: a usage error raised while the command line is parsed, at any depth of
sub-commands, is raised again with the Vietnamese text first and the parser's English after,
so typer shows it the usual way (usage line, the message, exit 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from typer._click import exceptions as parse_errors  # typer==0.29 bundles click here
from typer.core import TyperGroup

from examdesk.i18n import Catalog


class BilingualUsageError(parse_errors.UsageError):
    """A usage error already worded in both languages (never worded twice)."""


def _hint(exc: parse_errors.BadParameter) -> str:
    if exc.param_hint is not None:
        hint: Sequence[str] | str = exc.param_hint
    elif exc.param is not None:
        hint = exc.param.get_error_hint()
    else:
        return ""
    return hint if isinstance(hint, str) else " / ".join(hint)


def words(exc: parse_errors.UsageError) -> str:
    """The error as one line: Vietnamese, then the parser's own English."""
    english = exc.format_message()
    if isinstance(exc, parse_errors.MissingParameter):
        kind = exc.param_type or (exc.param.param_type_name if exc.param else "option")
        key = "cli.missing_argument" if kind == "argument" else "cli.missing_option"
        context: dict[str, Any] = {"option": _hint(exc)}
    elif isinstance(exc, parse_errors.BadParameter):
        key, context = "cli.bad_value", {"option": _hint(exc)}
    elif isinstance(exc, parse_errors.NoSuchOption):
        key, context = "cli.no_such_option", {"option": exc.option_name}
    elif isinstance(exc, parse_errors.BadOptionUsage):
        key, context = "cli.option_usage", {"option": exc.option_name}
    else:
        key, context = "cli.usage", {}
    command = exc.ctx.command_path if exc.ctx is not None else "examdesk"
    vietnamese = Catalog.load().text(key, "vi", command=command, **context)
    return f"{vietnamese} / {english}"


class BilingualGroup(TyperGroup):
    """The ``examdesk`` group: parser errors of any sub-command worded in both languages, help
    without typer's type placeholders."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plain_help(self)

    def make_context(self, info_name: str | None, args: list[str],
                     parent: Any = None, **extra: Any) -> Any:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except parse_errors.UsageError as exc:
            raise _bilingual(exc) from exc

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except parse_errors.UsageError as exc:
            raise _bilingual(exc) from exc


def _bilingual(exc: parse_errors.UsageError) -> parse_errors.UsageError:
    if isinstance(exc, BilingualUsageError | parse_errors.NoArgsIsHelpError):
        return exc
    out = BilingualUsageError(words(exc), exc.ctx)
    out.exit_code = exc.exit_code
    return out


# What the help shows after an option that takes a value, in place of typer's "<str>"/"<bool>".
_METAVARS = {str: "TEXT", int: "INTEGER", float: "NUMBER", bool: ""}


def _metavar(param: Any) -> str | None:
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""  # a flag takes no value: nothing to show
    annotation = param.type_descriptor.annotation
    if param.type_descriptor.is_path:
        return "PATH"
    if param.type_descriptor.is_choice:
        return None  # typer lists the choices themselves
    if param.type_descriptor.is_list:
        return "TEXT…"
    return _METAVARS.get(annotation)


def plain_help(command: Any) -> None:
    """Give every option of *command* and its sub-commands a plain placeholder (none for a
    flag), and every argument its name in capitals, where typer would print ``<bool>``."""
    for param in getattr(command, "params", ()):
        if param.metavar is not None:
            continue
        if param.param_type_name == "argument":
            param.metavar = (param.name or "").upper()
            param.display_type_rich = lambda ctx: None  # the name in capitals says it
            # The usage line as people know it: CHECKIN_ID, [OPTIONAL] (typer: {CHECKIN_ID}).
            shown = param.metavar if param.required else f"[{param.metavar}]"
            param._usage_display_name = lambda shown=shown, p=param: (
                shown + ("..." if p.nargs != 1 else ""))
        else:
            param.metavar = _metavar(param)
    original = command.get_help_option

    def help_option(ctx: Any, original: Any = original) -> Any:
        option = original(ctx)  # made per context: --help is a flag like any other
        if option is not None and option.metavar is None:
            option.metavar = ""
        return option

    command.get_help_option = help_option
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)
