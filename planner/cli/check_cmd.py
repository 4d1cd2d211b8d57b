"""`planner check`: will the posts due in the next hours go out? (planner.publishing.preflight)"""

from __future__ import annotations

import typer

from planner.cli.common import EXIT_PROBLEMS, console, esc, load_config, open_database
from planner.i18n import t


def register(app: typer.Typer) -> None:
    @app.command("check", help=t("help.check"))
    def check(
        hours: float = typer.Option(24, "--hours", min=0.5, max=24 * 31, help=t("help.check_hours")),
        no_accounts: bool = typer.Option(False, "--no-accounts", help=t("help.check_no_accounts")),
    ) -> None:
        from planner.publishing.preflight import PROBLEM, check_readiness, describe
        from planner.publishing.service import heartbeat_state
        from planner import clock

        config = load_config()
        db = open_database(config)
        result = check_readiness(config, db, now=clock.now(), hours=hours, scheduler_running=bool(heartbeat_state(db)),
                                 check_accounts=not no_accounts)
        out = console()
        title = t("check.title", hours=f"{hours:g}", count=result.posts, accounts=result.accounts_checked)
        out.print(f"[bold]{esc(title)}[/]")
        for line, level in describe(result, config.timezone):
            mark = "[bold red]✗[/]" if level == PROBLEM else "[yellow]![/]"
            out.print(f"{mark} {esc(line)}")
        if not result.findings:
            out.print(f"[green]✓[/] {esc(t('check.ready'))}")
        elif not result.problems:
            out.print(f"[green]✓[/] {esc(t('check.ready_with_warnings', count=len(result.findings)))}")
        if result.problems:
            out.print(f"[bold red]{esc(t('check.not_ready', count=len(result.problems)))}[/]")
            raise typer.Exit(EXIT_PROBLEMS)
