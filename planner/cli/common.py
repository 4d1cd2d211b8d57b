"""What every command shares: the config it runs with, printing, failing cleanly."""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import typer

from planner.errors import PlannerError
from planner.i18n import t

EXIT_PROBLEMS = 1   # the input has problems (validation), nothing was written
EXIT_ERROR = 2      # cannot run as asked (config, database, usage)


@dataclass
class Options:
    config: str | None = None
    lang: str | None = None
    actor: str | None = None


options = Options()


def console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def err_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def esc(text) -> str:
    """User text printed through rich: '[HOAKS]' must show as is, not be read as markup."""
    from rich.markup import escape

    return escape(str(text))


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    err_console().print(f"[bold red]{t('common.error')}:[/] {esc(message)}")
    raise typer.Exit(code)


def parse_local_time(value: str, zone, option: str):
    """A time given on the command line ('2026-12-01', '2026-12-01 08:00'), in ``zone`` unless it has an offset."""
    from datetime import datetime

    import re

    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        # Written right but not in the calendar (2027-02-30, 24:00): say so, rather than "cannot read".
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?", value.strip()):
            fail(t("cli_time.impossible", option=option, value=value.strip()))
        fail(t("queue.bad_time", option=option, value=value))
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def load_config():
    from planner.config import find_config_path, load_config as _load

    path = find_config_path(options.config)
    try:
        return _load(path)
    except PlannerError as exc:
        fail(exc.render())


_opened: list = []  # (config, db) opened by this command: their audit head is written when it ends


def open_database(config, *, create: bool = False):
    """The config's database on its backend (the SQLite file, or PostgreSQL), migrated; a clear message
    and exit when it cannot be opened (missing file, server unreachable, psycopg not installed...)."""
    from planner.store.backend import open_configured

    try:
        db = open_configured(config, create=create)
    except PlannerError as exc:
        fail(exc.render())
    _opened.append((config, db))
    return db


def write_audit_heads() -> None:
    """After a command: the audit chain's newest row and hash, kept beside the database (audit.head)."""
    from planner.store.audit import head_path, write_head_if_changed

    while _opened:
        config, db = _opened.pop()
        path = head_path(config.database)
        try:
            write_head_if_changed(db, path)
        except Exception as exc:  # never hide the command's own outcome behind this
            err_console().print(esc(t("audit.head_write_failed", path=path, error=type(exc).__name__)))


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return os.environ.get("USER", "unknown")


def actor_name(config) -> str:
    """Who is acting: with identity = "os" the OS account's user (--as refused unless it names the same
    user); with identity = "declared", --as, else the config's `user`, else the OS user."""
    try:
        return config.acting_user(options.actor, os_user())
    except PlannerError as exc:
        fail(exc.render())


def local_zone(config):
    return config.timezone


def is_tty() -> bool:
    return sys.stdout.isatty()


def resolve_files(files: list[Path]) -> list[Path]:
    return [f.expanduser() for f in files]
