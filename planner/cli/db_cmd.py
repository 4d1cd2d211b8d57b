"""`planner db migrate-to URL`: move an office from its SQLite file to PostgreSQL (store/migrate_to.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from planner.cli.common import console, esc, fail, load_config
from planner.i18n import t


def register(app: typer.Typer) -> None:
    group = typer.Typer(help=t("help.db"), no_args_is_help=True)
    app.add_typer(group, name="db")

    @group.command("migrate-to", help=t("help.db_migrate_to"))
    def migrate_to(
        url: str = typer.Argument(..., help=t("help.db_url")),
        source: Path = typer.Option(None, "--from", help=t("help.db_from")),
    ) -> None:
        from planner.config import is_postgres_url
        from planner.errors import PlannerError
        from planner.i18n.dates import format_number
        from planner.store.migrate_to import migrate_to_postgres
        from planner.store.postgres import safe_url

        if not is_postgres_url(url):
            fail(t("dbmove.not_a_url", url=url))
        path = source or load_config().database
        if not path.exists():
            fail(t("store.not_found", path=str(path)))
        try:
            result = migrate_to_postgres(path, url)
        except PlannerError as exc:
            fail(exc.render())
        except Exception as exc:  # psycopg's own errors: one line, the URL's password never in it
            from planner.store.postgres import describe_error

            fail(t("dbmove.copy_failed", url=safe_url(url), error=describe_error(exc, url)))
        out = console()
        out.print(esc(t("dbmove.copied", path=str(path), url=safe_url(url))))
        for table, rows in result.rows.items():
            out.print(esc(t("dbmove.copied_table", table=table, rows=format_number(rows))))
        out.print(esc(t("dbmove.audit_ok", rows=format_number(result.audit_rows), head=result.audit_head)))
        out.print(esc(t("dbmove.next_step", url=safe_url(url))))
