"""`planner backup`: a consistent copy of the database, safe while the scheduler runs."""

from __future__ import annotations

from pathlib import Path

import typer

from planner.cli.common import console, esc, fail, load_config, open_database
from planner.i18n import t


def register(app: typer.Typer) -> None:
    @app.command("backup", help=t("help.backup"))
    def backup(
        directory: Path = typer.Option(None, "--dir", help=t("help.backup_dir")),
        keep: int = typer.Option(None, "--keep", min=1, max=1000, help=t("help.backup_keep")),
    ) -> None:
        from planner.i18n.dates import format_number
        from planner.store.backup import BackupError, backup_database

        config = load_config()
        if config.database_url:  # no file to copy: PostgreSQL's own pg_dump does this (docs/operations.md)
            from planner.store.backend import database_label

            fail(t("backup.postgres", url=database_label(config.database_url)))
        open_database(config)  # a missing or broken database is reported the usual way
        target = directory or config.backup_dir
        try:
            result = backup_database(config.database, target, keep=keep or config.backup_keep)
        except BackupError as exc:
            fail(t("backup.failed", dir=str(target), error=str(exc)))
        from planner.store.backup import NAME

        # The copies there now (after pruning), not the setting: "14 kept" when 2 exist would mislead.
        copies = sum(1 for p in target.iterdir() if NAME.match(p.name))
        console().print(t("backup.written_count", path=esc(str(result.path)),
                          size=format_number(result.size_bytes / 1_000_000, decimals=1),
                          removed=len(result.removed), copies=copies, keep=keep or config.backup_keep))
