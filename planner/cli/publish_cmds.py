"""`planner run`, `planner publish`, `planner pause`, `planner resume`."""

from __future__ import annotations

import typer

from planner.cli.common import EXIT_PROBLEMS, actor_name, console, esc, fail, load_config, open_database
from planner.i18n import t


def register(app: typer.Typer) -> None:
    @app.command("run", help=t("help.run"))
    def run(
        json_logs: bool = typer.Option(False, "--json-logs", help=t("help.json_logs")),
        ignore_lock: bool = typer.Option(False, "--ignore-lock", hidden=True),
        workers: int = typer.Option(None, "--workers", min=1, max=256, help=t("help.workers")),
        debug: bool = typer.Option(False, "--debug", help=t("help.debug")),
        no_monitoring: bool = typer.Option(False, "--no-monitoring", help=t("help.no_monitoring")),
    ) -> None:
        from planner.monitoring.jobs import MONITORING_JOBS
        from planner.publishing.dispatcher import Dispatcher
        from planner.publishing.backup_job import BACKUP_JOB
        from planner.publishing.preflight import PREFLIGHT_JOB
        from planner.publishing.service import SchedulerLocked, Service
        from planner.publishing.token_expiry import EXPIRY_JOB
        from planner.response.chat import TELEGRAM_JOB, chat_settings

        import logging

        from planner.cli.log_setup import setup_logging

        config = load_config()
        open_database(config)
        setup_logging(json_logs, logging.DEBUG if debug else logging.INFO, config.timezone)
        backup = [BACKUP_JOB]
        if config.database_url:  # no file to copy: PostgreSQL is backed up with pg_dump (docs/operations.md)
            if config.backup_every is not None:
                logging.getLogger("planner.backup").warning(t("backup.postgres_periodic"))
            backup = []
        service = Service(config, ignore_lock=ignore_lock, dispatcher=Dispatcher(config, workers=workers),
                          periodic=[PREFLIGHT_JOB, *backup, EXPIRY_JOB, *([] if no_monitoring else MONITORING_JOBS),
                                    *([TELEGRAM_JOB] if chat_settings(config) else [])])
        try:
            service.run()
        except SchedulerLocked as exc:
            fail(exc.render())

    @app.command("publish", help=t("help.publish"))
    def publish(
        post_id: int = typer.Argument(None, help=t("help.post_id")),
        due: bool = typer.Option(False, "--due", help=t("help.publish_due") + " " + t("publish_exit.help")),
        now: bool = typer.Option(False, "--now", help=t("help.publish_now")),
        json_logs: bool = typer.Option(False, "--json-logs", help=t("help.json_logs")),
    ) -> None:
        from planner.errors import PlannerError
        from planner.services.publishing import publish_due, publish_now
        from planner import clock

        if due == (post_id is not None):
            fail(t("publish.usage"))
        if post_id is not None and not now:
            fail(t("publish.need_now", id=post_id))
        config = load_config()
        db = open_database(config)
        from planner.cli.log_setup import setup_logging

        setup_logging(json_logs, zone=config.timezone)
        try:
            done = publish_due(config, db) if due else \
                publish_now(config, db, post_id, actor=actor_name(config), now=clock.now())
        except PlannerError as exc:
            fail(exc.render())
        _print_outcome(db, config, done.result)
        if done.problems:
            console().print(f"[bold red]{esc(t('publish_exit.failed', ids=', '.join(f'#{i}' for i in done.problems)))}[/]")
            raise typer.Exit(EXIT_PROBLEMS)

    @app.command("pause", help=t("help.pause"))
    def pause(reason: str = typer.Option(..., "--reason", help=t("help.pause_reason"))) -> None:
        from planner.errors import PlannerError
        from planner.services.pausing import pause as pause_publishing
        from planner import clock

        config = load_config()
        db = open_database(config)
        try:
            paused = pause_publishing(db, reason, actor=actor_name(config), now=clock.now())
        except PlannerError as exc:
            fail(exc.render())
        console().print(f"[bold red]{esc(t('pause.done', reason=paused.reason))}[/]")
        if paused.held:
            console().print(t("pause.held", count=len(paused.held)))

    @app.command("resume", help=t("help.resume"))
    def resume(reschedule: bool = typer.Option(False, "--reschedule", help=t("help.resume_reschedule"))) -> None:
        from planner.services.pausing import resume as resume_publishing
        from planner import clock

        config = load_config()
        db = open_database(config)
        resumed = resume_publishing(db, actor=actor_name(config), now=clock.now(), reschedule=reschedule)
        console().print(t("resume.done") if resumed.was_paused else t("resume.not_paused"))
        if resumed.released:
            console().print(t("resume.released", count=len(resumed.released)))
            if not resumed.rescheduled:
                console().print(t("resume.grace_hint"))


def _print_outcome(db, config, result) -> None:
    from planner.store.queries import campaign_state_counts

    out = console()
    if result is not None:
        out.print(t("publish.summary", claimed=result.claimed, reconciled=result.reconciled,
                    review=result.needs_review, missed=len(result.missed)))
    counts = campaign_state_counts(db)
    out.print(", ".join(f"{t('state.' + s)}: {n}" for s, n in counts.items()))
    problems = sum(counts.get(s, 0) for s in ("needs_review", "missed", "failed"))
    if problems:
        out.print(f"[bold red]{t('publish.attention', count=problems)}[/]")
