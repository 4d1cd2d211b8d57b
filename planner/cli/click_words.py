"""Typer/Click's own words in the help pages, said from the message catalogue.

Typer (0.29+) carries its own copy of Click (``typer._click``) with English texts: "Usage:", "[OPTIONS]",
"Options", "Arguments", "Commands", "Show this message and exit.", "[default: ...; required]",
programmer types (``<str>``, ``<list[Path]>``, ``<float range>``), ranges written ``0.5<=x<=744``
and argument names shown as ``{files}...``. ``install()`` replaces these few rendering points with
versions that look the words up with ``t()`` when the help is drawn, so the language chosen by
--lang / PLANNER_LANG / the config is the one shown. Usage *errors* are said by usage_errors.py.

Everything here is best effort: if a future Typer renames a hook, the help stays in English
rather than failing (each patch checks that its target exists).
"""

from __future__ import annotations

from typing import Any

from planner.i18n import catalogue, get_language, t

_installed = False

# Typer's gettext message ids (typer.core, typer.rich_utils) and the catalogue key of each.
_GETTEXT = {
    "Arguments": "click.arguments",
    "Options": "click.options",
    "Commands": "click.commands",
    "required": "click.required",
    "default: {default}": "click.default",
    "env var: {var}": "click.env_var",
    "[default: {}]": "click.default_brackets",
    "[required]": "click.required_brackets",
    "[env var: {}]": "click.env_var_brackets",
}


def _gettext(message: str) -> str:
    key = _GETTEXT.get(message)
    return t(key) if key else message


def _has(key: str) -> bool:
    return key in catalogue(get_language())


def argument_name(param: Any) -> str:
    """The placeholder of an argument (NOMOR, BERKAS...), from ``click.arg.<name>``, else its name in capitals."""
    metavar = getattr(param, "metavar", None)
    if metavar:
        return metavar
    name = str(getattr(param, "name", "") or "")
    key = f"click.arg.{name}"
    return t(key) if _has(key) else name.upper()


def _type_word(param: Any) -> str | None:
    """The placeholder of an option's value: TEKS, ANGKA, BERKAS, FOLDER, WAKTU, or one of the choices."""
    if getattr(param, "metavar", None):
        return param.metavar
    name = str(getattr(param, "name", "") or "")
    key = f"click.value.{name}"
    if _has(key):
        return t(key)
    desc = getattr(param, "type_descriptor", None)
    if desc is None:
        return None
    try:
        if desc.is_choice:
            return "|".join(str(getattr(c, "value", c)) for c in desc.choices or ())
        if desc.is_path:
            return t("click.type.folder") if desc.path_type == "dir" else t("click.type.file")
        if desc.is_datetime:
            return t("click.type.time")
        annotation = desc.annotation
        if desc.is_list:
            from typing import get_args

            args = get_args(annotation)
            annotation = args[0] if len(args) == 1 else str
        if annotation in (int, float):
            return t("click.type.number")
        from pathlib import Path

        if annotation is Path:
            return t("click.type.file")
    except Exception:  # an unknown kind of type: a plain word rather than a failure
        pass
    return t("click.type.text")


def number_range(low: Any, high: Any) -> str | None:
    """``1<=x<=62`` said as words: "1 sampai 62", "minimal 0.5", "maksimal 744"."""
    if low is None and high is None:
        return None
    if low is None:
        return t("click.range_max", max=high)
    if high is None:
        return t("click.range_min", min=low)
    return t("click.range_between", min=low, max=high)


def _usage_pieces(original):
    def collect_usage_pieces(self, ctx):
        words = {"[OPTIONS]": t("click.options_metavar"), "COMMAND [ARGS]...": t("click.command_metavar")}
        return [words.get(piece, piece) for piece in original(self, ctx)]

    return collect_usage_pieces


def install() -> None:
    """Patch Typer's help rendering once; the words are looked up each time a help page is drawn."""
    global _installed
    if _installed:
        return
    _installed = True
    try:
        import typer.core as tcore
        from typer import _click
    except ImportError:  # another Typer: its own (English) help
        return

    import sys

    # typer.rich_utils costs ~50 ms to import and is only used when rich markup is on (planner turns it
    # off): patch it only if something already loaded it.
    for module in (tcore, sys.modules.get("typer.rich_utils")):
        if module is not None and hasattr(module, "_"):
            module._ = _gettext

    formatter_cls = getattr(_click.formatting, "HelpFormatter", None)
    if formatter_cls is not None and hasattr(formatter_cls, "write_usage"):
        original_write_usage = formatter_cls.write_usage

        def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
            if prefix is None:
                prefix = t("click.usage") + " "
            original_write_usage(self, prog, args, prefix)

        formatter_cls.write_usage = write_usage

    command_cls = _click.core.Command
    # TyperGroup adds "COMMAND [ARGS]..." after the base class's pieces: both are wrapped.
    for cls in (command_cls, getattr(tcore, "TyperGroup", None)):
        if cls is not None and "collect_usage_pieces" in vars(cls):
            cls.collect_usage_pieces = _usage_pieces(cls.collect_usage_pieces)

    if hasattr(command_cls, "get_help_option"):
        original_help_option = command_cls.get_help_option

        def get_help_option(self, ctx):
            option = original_help_option(self, ctx)
            if option is not None:
                option.help = t("click.help_option")
            return option

        command_cls.get_help_option = get_help_option

    parameter_cls = getattr(tcore, "_TyperParameter", None)
    if parameter_cls is not None and hasattr(parameter_cls, "display_type"):
        parameter_cls.display_type = lambda self, ctx: _type_word(self)

    argument_cls = getattr(tcore, "TyperArgument", None)
    if argument_cls is not None:
        def usage_name(self) -> str:
            name = argument_name(self)
            if not self.required:
                name = f"[{name}]"
            return name + ("..." if self.nargs != 1 else "")

        def help_name(self) -> str:
            return argument_name(self) + ("..." if self.nargs != 1 else "")

        argument_cls.display_name_raw = property(argument_name)
        argument_cls._usage_display_name = usage_name
        argument_cls._rich_display_name = help_name
        # An argument's value is described by its placeholder and its help text, as Click does.
        argument_cls.display_type_rich = lambda self, ctx: None

    for cls in (argument_cls, getattr(tcore, "TyperOption", None)):
        if cls is not None and hasattr(cls, "_get_number_range_help_str"):
            cls._get_number_range_help_str = lambda self: (
                None if getattr(self, "count", False) and self.min == 0 and self.max is None
                else number_range(self.min, self.max))
