"""`planner respond ALERT_ID [--content ID]`: answer a spike alert with its playbook's standby content."""

from __future__ import annotations

import typer

from planner.cli.common import actor_name, console, esc, fail, load_config, open_database
from planner.i18n import t


def register(app: typer.Typer) -> None:
    @app.command("respond", help=t("help.respond"))
    def respond_cmd(
        alert_id: int = typer.Argument(..., help=t("help.respond_alert")),
        content: str = typer.Option(None, "--content", help=t("help.respond_content")),
    ) -> None:
        from planner.response.respond import RespondError, respond
        from planner import clock

        config = load_config()
        db = open_database(config)
        try:
            outcome = respond(db, alert_id, actor=actor_name(config), now=clock.now(), content_id=content)
        except RespondError as exc:
            fail(exc.render())
        out = console()
        if outcome.already:
            out.print(esc(t("respond.already", alert=alert_id)))
            return
        if not outcome.released:
            fail(t("respond.nothing", alert=alert_id))
        if outcome.queued:
            out.print(esc(t("respond.done_now", content=outcome.content_id, alert=alert_id,
                            count=len(outcome.queued))))
        if outcome.waiting:
            out.print(esc(t("respond.done_waiting", count=len(outcome.waiting),
                            ids=", ".join(f"#{p}" for p in outcome.waiting))))
        for post_id, state in outcome.skipped:
            out.print(f"[yellow]{esc(t('respond.skipped', id=post_id, state=t('state.' + state)))}[/]")
