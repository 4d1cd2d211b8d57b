"""Click's usage errors (unknown option, missing argument, bad value...) in the user's language.

Typer builds these errors with English texts. They are recognised here by their class and their
attributes (not by importing Click's classes: Typer may bring its own copy of Click), and said
again from the message catalogue. A text not recognised is shown as Click wrote it.
"""

from __future__ import annotations

import re

from planner.i18n import t

# Texts Click puts in BadParameter / UsageError messages, and the catalogue key that says each.
_VALUE_PATTERNS = [(re.compile(pattern), key) for pattern, key in (
    (r"^Input should be a valid (?:integer|number)\b.*$", "usage.must_be_number"),
    (r"^Input should be a valid boolean\b.*$", "usage.must_be_boolean"),
    (r"^Input should be (?P<choices>'.+)$", "usage.must_be_one_of"),
    # pydantic's range messages (Typer checks min=/max= with pydantic)
    (r"^Input should be greater than or equal to (?P<limit>\S+?)\.?$", "usage_more.at_least"),
    (r"^Input should be greater than (?P<limit>\S+?)\.?$", "usage_more.more_than"),
    (r"^Input should be less than or equal to (?P<limit>\S+?)\.?$", "usage_more.at_most"),
    (r"^Input should be less than (?P<limit>\S+?)\.?$", "usage_more.less_than"),
    (r"^(?:Value )?'?(?P<value>.*?)'? is not a valid (?:integer|float|int|integer range|float range)\.?$",
     "usage.not_a_number"),
    (r"^'?(?P<value>.*?)'? is not a valid boolean\b.*$", "usage.not_a_boolean"),
    (r"^'?(?P<value>.*?)'? is not one of (?P<choices>.+?)\.?$", "usage.not_one_of"),
    (r"^'?(?P<value>.*?)'? is not '?(?P<choices>[^']+?)'?\.?$", "usage.not_one_of"),
    (r"^'?(?P<value>.*?)'? does not match the formats? (?P<formats>.+?)\.?$", "usage.bad_format"),
    (r"^(?:File|Directory|Path) '?(?P<value>.+?)'? does not exist\.?$", "usage.path_missing"),
    (r"^(?:File|Directory|Path) '?(?P<value>.+?)'? is a directory\.?$", "usage.path_is_directory"),
    (r"^(?:File|Directory|Path) '?(?P<value>.+?)'? is a file\.?$", "usage.path_is_file"),
)]
_USAGE_PATTERNS = [(re.compile(pattern), key) for pattern, key in (
    (r"^No such command '(?P<name>[^']+)'\. Did you mean (?P<matches>.+?)\?$", "usage_more.no_such_command_guess"),
    (r"^No such command '?(?P<name>[^']+?)'?\.?$", "usage.no_such_command"),
    (r"^Got unexpected extra arguments?(?:\(s\))? \((?P<args>.+)\)$", "usage.extra_arguments"),
    (r"^Missing command\.?$", "usage.missing_command"),
    (r"^Option '?(?P<name>[^']+?)'? requires (?:an argument|\d+ arguments)\.?$", "usage.option_needs_value"),
    (r"^Option '?(?P<name>[^']+?)'? does not take a value\.?$", "usage.option_takes_no_value"),
)]


def is_usage_error(exc: BaseException) -> bool:
    return any(cls.__name__ == "ClickException" for cls in type(exc).__mro__)


def explain(exc: BaseException) -> str:
    """The error's message in the current language."""
    kind = type(exc).__name__
    message = str(getattr(exc, "message", "") or exc)
    if kind == "NoSuchOption":
        text = t("usage.no_such_option", option=exc.option_name)
        possibilities = sorted(getattr(exc, "possibilities", None) or [])
        return text + (t("usage.did_you_mean", options=", ".join(possibilities)) if possibilities else "")
    if kind == "MissingParameter":
        param = getattr(exc, "param", None)
        if param is not None:
            key = "usage.missing_option" if param.param_type_name == "option" else "usage.missing_argument"
            return t(key, name=_param_hint(param))
    if kind == "BadParameter":
        said = _say(message, _VALUE_PATTERNS)
        param = getattr(exc, "param", None)
        hint = getattr(exc, "param_hint", None) or (_param_hint(param) if param is not None else None)
        if isinstance(hint, (list, tuple)):
            hint = " / ".join(hint)
        return t("usage.bad_value", param=hint, message=said) if hint else said
    if kind == "FileError":
        return t("usage.file_error", file=getattr(exc, "ui_filename", ""), message=message)
    return _say(message, _USAGE_PATTERNS + _VALUE_PATTERNS)


def help_hint(exc: BaseException) -> str | None:
    """'See planner queue --help' for the command the error is about."""
    ctx = getattr(exc, "ctx", None)
    if ctx is None or not getattr(ctx, "command", None):
        return None
    names = getattr(ctx, "help_option_names", None) or ["--help"]
    return t("usage.see_help", command=f"{ctx.command_path} {names[0]}")


def _say(message: str, patterns) -> str:
    for pattern, key in patterns:
        match = pattern.match(message.strip())
        if match:
            return t(key, **match.groupdict())
    if message.startswith("Input should be"):  # another pydantic check: said plainly, its text in brackets
        return t("usage_more.not_valid", detail=message)
    return message


def _param_hint(param) -> str:
    opts = getattr(param, "opts", None) or [param.name]
    if param.param_type_name == "option":
        return " / ".join(opts)
    from planner.cli.click_words import argument_name

    return argument_name(param)  # NOMOR, BERKAS... as in the usage line
