"""The `planner` command. Each command group lives in its own module; this one only assembles.

The language is chosen before the command modules are imported, so that help texts come
out in it too: --lang, else PLANNER_LANG, else the config's `language`, else Indonesian.
"""

from __future__ import annotations

import os
import re
import sys

import typer

from planner.i18n import LANGUAGES, set_language, t


def _early_language(argv: list[str]) -> str | None:
    """--lang, else PLANNER_LANG, else the config's `language` (found like every command finds it)."""
    config_arg = None
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
        if arg in ("--config", "-c") and i + 1 < len(argv):
            config_arg = argv[i + 1]
        elif arg.startswith("--config="):
            config_arg = arg.split("=", 1)[1]
    if os.environ.get("PLANNER_LANG"):
        return os.environ["PLANNER_LANG"]
    # Same order as planner.config.find_config_path, without importing it (start-up time).
    path = config_arg or os.environ.get("PLANNER_CONFIG") or "config.toml"
    try:
        with open(os.path.expanduser(path), "rb") as handle:
            head = handle.read(65536)
    except OSError:
        return None
    match = re.search(rb'^\s*language\s*=\s*"(\w+)"', head, re.MULTILINE)
    return match.group(1).decode() if match else None


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("humas-planner")
        except PackageNotFoundError:  # run from a source tree that was never installed
            number = "0+unknown"
        print(t("click.version", version=number))
        raise typer.Exit(0)


def build_app() -> typer.Typer:
    from planner.cli import (account, campaign, demo, init_cmd, monitoring_cmds, publish_cmds, queue, review_cmds,
                             sandbox_cmd, status_cmds)
    from planner.cli import backup_cmd, calendar_cmd, campaign_preview, check_cmd, db_cmd, import_cmd
    from planner.cli.click_words import install as install_click_words
    from planner.cli.common import options, write_audit_heads

    install_click_words()  # Typer's "Usage", "Options"... from the catalogue
    app = typer.Typer(help=t("help.app"), no_args_is_help=True, add_completion=False,
                      rich_markup_mode=None, pretty_exceptions_enable=False)

    @app.callback()
    def main(
        ctx: typer.Context,
        config: str = typer.Option(None, "--config", "-c", help=t("help.opt_config"), envvar="PLANNER_CONFIG",
                                   show_envvar=False),
        lang: str = typer.Option(None, "--lang", help=t("help.opt_lang")),
        actor: str = typer.Option(None, "--as", help=t("help.opt_as")),
        version: bool = typer.Option(False, "--version", is_eager=True, callback=_show_version,
                                     help=t("click.version_option")),
    ) -> None:
        options.config = config
        options.actor = actor
        ctx.call_on_close(write_audit_heads)
        if lang is not None:
            if lang not in LANGUAGES:
                raise typer.BadParameter(t("common.bad_lang", value=lang), param_hint="--lang")
            options.lang = lang
            set_language(lang)

    init_cmd.register(app)
    demo.register(app)
    campaign_preview.register(campaign.app)
    app.add_typer(campaign.app, name="campaign", help=t("help.campaign"))
    queue.register(app)
    publish_cmds.register(app)
    status_cmds.register(app)
    check_cmd.register(app)
    backup_cmd.register(app)
    db_cmd.register(app)
    app.add_typer(status_cmds.post_app, name="post", help=t("help.post"))
    app.add_typer(monitoring_cmds.metrics_app, name="metrics", help=t("help.metrics"))
    monitoring_cmds.register(app)
    review_cmds.register(app)
    calendar_cmd.register(app)
    import_cmd.register(app)
    from planner.cli import respond_cmd

    respond_cmd.register(app)
    from planner.cli import worker_cmd; worker_cmd.register(app)  # noqa: E702
    app.add_typer(account.app, name="account", help=t("help.account"))
    app.add_typer(sandbox_cmd.app, name="sandbox", help=t("help.sandbox"))
    return app


def run() -> None:
    # What the tool creates is private whatever the login's umask: files 0600, folders 0700 (the database
    # and its -wal/-shm, lock files, reports, exports, copies). Stricter umask bits are kept.
    os.umask(os.umask(0o077) | 0o077)
    lang = _early_language(sys.argv[1:])
    if lang in LANGUAGES:
        set_language(lang)
    # Not standalone: Click's usage errors come back here and are said in the user's language.
    try:
        code = build_app()(prog_name="planner", standalone_mode=False)
    except Exception as exc:
        from planner.cli.usage_errors import is_usage_error

        if type(exc).__name__ == "Abort":
            print(t("usage.aborted"), file=sys.stderr)
            sys.exit(1)
        if is_usage_error(exc):
            sys.exit(_show_usage_error(exc))
        if os.environ.get("PLANNER_DEBUG"):
            raise
        sys.exit(_show_failure(exc))
    sys.exit(code if isinstance(code, int) else 0)


def _show_failure(exc: Exception) -> int:
    """An error no command turned into a message: said plainly, never as a traceback (PLANNER_DEBUG=1 shows
    it). A locked or failing database is the common case; its transaction has been rolled back by then."""
    from planner.cli.common import EXIT_ERROR, err_console, esc
    from planner.errors import PlannerError
    from planner.store.db import is_database_error

    if isinstance(exc, PlannerError):
        message = exc.render()
    elif is_database_error(exc):
        from planner.store.db import database_error_message

        message = database_error_message(exc, _database_path())
    elif isinstance(exc, OSError):
        from planner.files import os_reason

        message = t("files.os_error", path=exc.filename or "-", reason=os_reason(exc))
    else:
        message = t("unexpected.error", error=f"{type(exc).__name__}: {exc}")
    err_console().print(f"[bold red]{t('common.error')}:[/] {esc(message)}")
    return EXIT_ERROR


def _database_path() -> str:
    """The database of the config this command ran with (file or PostgreSQL URL), for the message; a guess if
    that cannot be read. The message shows a URL without its password."""
    from planner.cli.common import options

    try:
        from planner.config import find_config_path, load_config
        from planner.store.backend import database_of

        return str(database_of(load_config(find_config_path(options.config))))
    except Exception:
        return "planner.db"


def _show_usage_error(exc: Exception) -> int:
    from planner.cli.common import err_console, esc
    from planner.cli.usage_errors import explain, help_hint

    if type(exc).__name__ == "NoArgsIsHelpError":  # `planner campaign` alone: its help page
        exc.show()
        return exc.exit_code
    console = err_console()
    console.print(f"[bold red]{t('common.error')}:[/] {esc(explain(exc))}")
    hint = help_hint(exc)
    if hint:
        console.print(esc(hint))
    return exc.exit_code
