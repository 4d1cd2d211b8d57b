"""`planner metrics collect`, `planner listen`, `planner mentions`, `planner report`."""

from __future__ import annotations

from pathlib import Path

import typer

from planner.cli.common import console, esc, fail, load_config, open_database, parse_local_time
from planner.cli.json_out import json_option
from planner.i18n import t

metrics_app = typer.Typer(no_args_is_help=True)


@metrics_app.command("collect", help=t("help.metrics_collect"))
def collect(
    campaign: str = typer.Option(None, "--campaign", help=t("help.opt_campaign")),
    force: bool = typer.Option(False, "--force", help=t("help.metrics_force")),
) -> None:
    from rich.progress import Progress

    from planner.monitoring.collect import collect_metrics, posts_to_collect
    from planner import clock

    config = load_config()
    db = open_database(config)
    now = clock.now()
    total = len(posts_to_collect(db, now=now, campaign=campaign, force=force))
    with Progress(console=console(), transient=True) as progress:
        task = progress.add_task(t("metrics.collecting"), total=total or 1)
        result = collect_metrics(config, db, now=now, campaign=campaign, force=force,
                                 progress=lambda n: progress.advance(task, n))
    console().print(t("metrics.done", posts=result.posts, snapshots=result.snapshots,
                      not_available=result.not_available))
    from planner.i18n.platform_errors import say_listed

    for error in result.errors:
        console().print(f"  [red]✗[/] {esc(say_listed(error))}")
    if result.errors:
        raise typer.Exit(1)


def print_spikes(spikes, config) -> None:
    from planner.monitoring.listen import spike_message
    from planner.response.alerting import announce

    out = console()
    db = open_database(config) if spikes else None
    for spike in spikes:
        # With a matching playbook: the clarification, the command, and buttons in the staff chat.
        text, sent = announce(config, db, spike, spike_message(spike, config.timezone), log_it=False)
        headline, *quotes = text.split("\n")
        out.print(f"[bold red]⚠ {esc(headline)}[/]")
        for line in quotes:
            out.print(f"   {esc(line)}")
        if sent and sent != "sent":
            out.print(f"   [red]{esc(t('listen.notify_failed', error=sent))}[/]")


def register(app: typer.Typer) -> None:
    @app.command("listen", help=t("help.listen"))
    def listen_cmd(campaign: str = typer.Option(None, "--campaign", help=t("help.opt_campaign"))) -> None:
        from planner.monitoring.listen import listen
        from planner import clock

        config = load_config()
        db = open_database(config)
        result = listen(config, db, now=clock.now(), campaign=campaign)
        # Each account is searched once per campaign: name it (and each of its errors) once.
        searched = list(dict.fromkeys(result.searched))
        console().print(t("listen.done", new=result.new_mentions, channels=", ".join(searched) or "-"))
        for notice in result.notices:
            console().print(f"  [yellow]![/] {esc(notice)}")
        from planner.i18n.platform_errors import say_listed

        for error in dict.fromkeys(result.errors):
            console().print(f"  [red]✗[/] {esc(say_listed(error))}")
        print_spikes(result.spikes, config)

    @app.command("mentions", help=t("help.mentions"))
    def mentions(
        campaign: str = typer.Option(None, "--campaign", help=t("help.opt_campaign")),
        since: str = typer.Option(None, "--since", help=t("help.opt_since")),
        limit: int = typer.Option(50, "--limit", help=t("help.opt_limit")),
        as_json: bool = json_option(),
    ) -> None:
        from planner.i18n.dates import format_moment
        from planner.store import mentions as stored_mentions
        from planner.store.db import parse_utc

        config = load_config()
        db = open_database(config)
        after = parse_local_time(since, config.timezone, "--since") if since else None
        if as_json:
            from planner.cli.json_lists import mentions_document

            mentions_document(stored_mentions.listing(db, campaign=campaign, since=after, limit=limit))
            return
        # A mention found for several campaigns (or keywords) is stored once for each; on screen it is one
        # line naming its campaigns.
        rows = stored_mentions.listing_by_post(db, campaign=campaign, since=after, limit=limit)
        if not rows:
            console().print(t("listen.none"))
            return
        for row in rows:
            when = format_moment(parse_utc(row["created_at"]), config.timezone)
            campaigns = ", ".join(sorted(row["campaigns"].split(",")))
            keywords = ", ".join(row["keywords"].split(","))
            console().print(f"[dim]{when}[/] [magenta]{esc(f'[{campaigns}]')}[/] [cyan]“{esc(keywords)}”[/] {row['platform']} "
                            f"@{esc(row['author'])}: {esc(row['text'][:200])}")

    @app.command("report", help=t("help.report"))
    def report(
        campaign: str = typer.Argument(None, help=t("help.campaign_id")),
        fmt: str = typer.Option("text", "--format", help=t("help.report_format")),
        start: str = typer.Option(None, "--from", help=t("help.opt_from")),
        end: str = typer.Option(None, "--to", help=t("help.opt_to")),
        out: Path = typer.Option(None, "--out", help=t("help.report_out")),
        all_campaigns: bool = typer.Option(False, "--all", help=t("help.report_all")),
        period: str = typer.Option(None, "--period", help=t("help.report_period")),
        delimiter: str = typer.Option(None, "--delimiter", help=t("csv_col.help_delimiter"), show_default=False),
    ) -> None:
        from planner.files import FileWriteError
        from planner.reports import FORMATS
        from planner.reports.write import period_window, write_report
        from planner.store import campaigns
        from planner import clock

        if fmt not in FORMATS:
            fail(t("report.bad_format", value=fmt, choices=", ".join(FORMATS)))
        if delimiter is not None:
            from planner.reports.tabular import DELIMITERS

            if delimiter not in DELIMITERS or fmt != "csv":
                fail(t("csv_col.bad_delimiter", value=delimiter))
        if (campaign is None) == (not all_campaigns):
            fail(t("report.usage"))
        config = load_config()
        db = open_database(config)
        known = campaigns.ids(db)
        ids = known if all_campaigns else [campaign]
        if campaign and campaign not in known:
            fail(t("campaign.not_found", id=campaign, known=", ".join(known) or "-"))
        now = clock.now()
        window_start = parse_local_time(start, config.timezone, "--from") if start else None
        window_end = parse_local_time(end, config.timezone, "--to") if end else None
        if window_start and window_end and window_start >= window_end:  # an empty window would report nothing
            fail(t("report.bad_window", start=start, end=end))
        if period:
            if period not in ("daily", "weekly", "monthly"):
                fail(t("report.bad_period", value=period))
            window_start, window_end = period_window(period, now, config.timezone)
        if fmt in ("html", "xlsx") and out is None and not all_campaigns:
            fail(t("report.need_out", format=fmt))
        from planner.platforms.x_cost import PriceError, x_prices

        try:
            prices = x_prices(config)
        except PriceError as exc:
            fail(t("x_cost.bad_price", key=exc.args[0], value=exc.args[1]))
        for campaign_id in ids:
            target = out
            if all_campaigns:
                folder = out or config.reports_dir
                target = folder / f"{campaign_id}-{now.astimezone(config.timezone):%Y%m%d}.{'txt' if fmt == 'text' else fmt}"
            try:
                written = write_report(db, campaign_id, fmt=fmt, now=now, start=window_start, end=window_end,
                                       out=target, console=console(), delimiter=delimiter, prices=prices)
            except FileWriteError as exc:  # a folder, device or missing place as --out, a full disk...
                fail(exc.render())
            if written:
                console().print(t("report.written", path=str(written)))
