"""`planner queue`: upcoming posts in local time."""

from __future__ import annotations


import typer

from planner.cli.common import console, esc, fail, load_config, open_database, parse_local_time
from planner.i18n import t


def _parse_local(value: str | None, zone, option: str) -> str | None:
    from planner.store.db import utc_iso

    return utc_iso(parse_local_time(value, zone, option)) if value is not None else None


def register(app: typer.Typer) -> None:
    @app.command("queue", help=t("help.queue"))
    def queue(
        campaign: str = typer.Option(None, "--campaign", help=t("help.opt_campaign")),
        start: str = typer.Option(None, "--from", help=t("help.opt_from")),
        end: str = typer.Option(None, "--to", help=t("help.opt_to")),
        state: list[str] = typer.Option(None, "--state", help=t("help.opt_state")),
        limit: int = typer.Option(200, "--limit", help=t("help.opt_limit")),
        slots: bool = typer.Option(False, "--slots", help=t("help.opt_slots")),
        days: int = typer.Option(7, "--days", min=1, max=62, help=t("help.opt_days")),
    ) -> None:
        from rich.table import Table

        if slots:
            _print_slots(days)
            return

        from planner.i18n.dates import format_moment
        from planner.store.db import now_utc, parse_utc, utc_iso
        from planner.store.queries import STATE_ORDER, parse_state, queue_rows, state_names

        config = load_config()
        state = [parse_state(s) or fail(t("queue.bad_state", value=s, choices=state_names(STATE_ORDER)))
                 for s in state or []]  # a code or a name in either language (terbit, published)
        db = open_database(config)
        zone = config.timezone
        start_utc = _parse_local(start, zone, "--from")
        if start_utc is None and not state:
            start_utc = utc_iso(now_utc())
        rows = queue_rows(db, campaign=campaign, start=start_utc, end=_parse_local(end, zone, "--to"),
                          states=state or ["draft", "pending_approval", "queued", "held", "failed_retryable"],
                          limit=limit)
        if not rows:
            console().print(t("queue.empty"))
            return
        table = Table(box=None)
        for column in ("when", "channel", "campaign", "state"):
            table.add_column(t(f"queue.col_{column}"), no_wrap=True)
        table.add_column(t("queue.col_text"), no_wrap=True, overflow="ellipsis", min_width=20)
        for row in rows:
            words = " ".join(row["text"].split()[:8])
            table.add_row(format_moment(parse_utc(row["due_at"]), zone), esc(row["channel"]),
                          esc(f"{row['campaign_id']}/{row['content_id']}"), t("state." + row["state"]),
                          esc(words + "…"))
        console().print(table)
        console().print(t("queue.count", count=len(rows)))


def _print_slots(days: int) -> None:
    """Each account's posting slots over the next days: used (by which post) or free, with the
    account's past engagement at that weekday and hour, so staff can pick the better ones."""
    from datetime import timedelta

    from planner.cli.campaign import account_slots
    from planner.i18n.dates import format_moment, format_number
    from planner.monitoring.best_time import account_grid
    from planner.domain.slots import slot_times
    from planner.store.db import now_utc, parse_utc, utc_iso

    config = load_config()
    db = open_database(config)
    out = console()
    per_account = account_slots(config)
    if not per_account:
        out.print(t("queue.no_slots"))
        return
    now = now_utc()
    until = (now.astimezone(config.timezone) + timedelta(days=days)).date()
    for channel, (slots_, zone) in per_account.items():
        used = {}
        for row in db.query("SELECT id, content_id, due_at, state FROM posts WHERE channel = ? AND state != 'canceled' "
                            "AND due_at >= ?", [channel, utc_iso(now)]):
            used[parse_utc(row["due_at"])] = row
        grid = account_grid(db, channel, zone)
        out.rule(esc(channel))
        for moment in slot_times(slots_, zone, now, until):
            local = moment.astimezone(zone)
            score = grid[local.weekday()][local.hour]
            hint = t("queue.slot_score", value=format_number(score)) if score is not None else ""
            row = used.get(moment)
            if row:
                out.print(f"  {format_moment(moment, zone)}  [dim]{t('queue.slot_used', id=row['id'], content=esc(row['content_id']))}[/] {hint}")
            else:
                out.print(f"  {format_moment(moment, zone)}  [green]{t('queue.slot_free')}[/] {hint}")
