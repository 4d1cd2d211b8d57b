"""`planner worker`: a publishing worker on PostgreSQL (planner/workers/)."""

from __future__ import annotations

import typer

from planner.cli.common import fail, load_config
from planner.i18n import t


def register(app: typer.Typer) -> None:
    @app.command("worker", help=t("help.worker"))
    def worker(
        concurrency: int = typer.Option(4, "--concurrency", min=1, max=64, help=t("help.concurrency")),
        json_logs: bool = typer.Option(False, "--json-logs", help=t("help.json_logs")),
        debug: bool = typer.Option(False, "--debug", help=t("help.debug")),
        no_monitoring: bool = typer.Option(False, "--no-monitoring", help=t("help.no_monitoring")),
    ) -> None:
        import logging

        from planner.cli.log_setup import setup_logging
        from planner.errors import PlannerError

        config = load_config()
        if not config.database_url:
            fail(t("worker.sqlite_only"))
        try:
            import procrastinate  # noqa: F401
        except ImportError:
            fail(t("worker.not_installed"))
        from planner.workers.run import run_worker

        setup_logging(json_logs, logging.DEBUG if debug else logging.INFO, config.timezone)
        logging.getLogger("procrastinate").setLevel(logging.DEBUG if debug else logging.WARNING)
        try:
            run_worker(config, concurrency=concurrency, monitoring=not no_monitoring)
        except PlannerError as exc:
            fail(exc.render())
