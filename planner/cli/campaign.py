"""`planner campaign validate|apply|list|show` (`preview` lives in campaign_preview)."""

from __future__ import annotations

from pathlib import Path

import typer

from planner.cli.common import EXIT_PROBLEMS, actor_name, console, esc, fail, load_config, open_database, options
from planner.cli.json_out import emit, json_option, utc
from planner.i18n import t

app = typer.Typer(no_args_is_help=True)


def _optional_config():
    """The config if there is one: validate still checks everything else without it."""
    from planner.config import find_config_path, load_config as _load
    from planner.errors import PlannerError

    path = find_config_path(options.config)
    if not path.exists():
        return None, None
    try:
        return _load(path), None
    except PlannerError as exc:
        return None, exc.render()


def _check_files(files: list[Path]):
    from planner.services.apply import check_files

    config, config_error = _optional_config()
    if config_error:
        fail(config_error)
    return config, check_files(config, files)


def _print_problems(results) -> int:
    out = console()
    total = 0
    for result in results:
        if not result.problems:
            continue
        out.print(f"[bold]{esc(result.file)}[/]")
        for problem in result.problems:
            total += 1
            where = problem.path or t("validate.whole_file")
            out.print(f"  [red]✗[/] [cyan]{esc(where)}[/]")
            out.print(f"    {esc(problem.what())}")
            out.print(f"    [dim]{t('validate.fix')}:[/] {esc(problem.fix())}")
    return total


@app.command("validate", help=t("help.campaign_validate"))
def validate(files: list[Path] = typer.Argument(..., help=t("help.campaign_files")),
             offline: bool = typer.Option(False, "--offline", help=t("help.validate_offline"))) -> None:
    config, results = _check_files(files)
    total = _print_problems(results)
    out = console()
    for result in results:
        if result.ok:
            c = result.campaign
            out.print(esc(t("validate.ok", file=str(result.file), id=c.id, content=len(c.content),
                        channels=len(c.channels))))
    _print_mention_warnings(config, [r for r in results if r.ok], offline)
    if total:
        bad = sum(1 for r in results if r.problems)
        out.print(t("validate.summary_bad", problems=total, files=bad))
        raise typer.Exit(EXIT_PROBLEMS)


def _print_mention_warnings(config, results, offline: bool) -> None:
    """Bluesky @handles that their account's server does not know, as warnings (planner.platforms.mention_check);
    what could not be checked is said, never silently passed."""
    from planner.campaign_files import desired_posts
    from planner.platforms.mention_check import REQUEST_TIMEOUT, SERVER_BUDGET, bluesky_mentions, check_mentions

    if config is None or not results:
        return
    rows = [row for r in results for row in desired_posts(r.campaign, r.file, config)]
    out = console()
    if offline:
        if bluesky_mentions(rows):
            out.print(f"[yellow]![/] {esc(t('validate_mentions.offline'))}")
        return
    found = check_mentions(config, rows)
    for content, channel, handle in found.unknown:
        warning = t("validate_mentions.unknown", content=content, channel=channel, handle=handle)
        out.print(f"[yellow]![/] {esc(warning)}")
    for channel, why, server in found.unchecked:
        reason = t(f"validate_mentions.reason_{why}", server=server, seconds=f"{SERVER_BUDGET:g}",
                   timeout=f"{REQUEST_TIMEOUT:g}")
        out.print(f"[yellow]![/] {esc(t('validate_mentions.unchecked', channel=channel, reason=reason))}")


@app.command("apply", help=t("help.campaign_apply"))
def apply(
    files: list[Path] = typer.Argument(..., help=t("help.campaign_files")),
    dry_run: bool = typer.Option(False, "--dry-run", help=t("help.dry_run")),
) -> None:
    config, results = _check_files(files)
    if config is None:
        from planner.config import find_config_path

        fail(t("config.not_found", path=str(find_config_path(options.config))))
    apply_and_print(config, results, dry_run=dry_run)


def apply_and_print(config, results, *, dry_run: bool) -> None:
    """Checked campaign files applied (planner.services.apply) and the outcome printed; refused with their
    problems. Shared by `campaign apply` and `import --apply`."""
    from planner.errors import PlannerError
    from planner.services.apply import apply_checked

    if _print_problems(results):
        console().print(t("apply.refused"))
        raise typer.Exit(EXIT_PROBLEMS)
    db = open_database(config)
    try:
        applied = apply_checked(db, config, results, actor=actor_name(config), dry_run=dry_run)
    except PlannerError as exc:  # e.g. no free slot left: the transaction was rolled back
        fail(exc.render(), EXIT_PROBLEMS)
    _print_plans(applied.plans, config, dry_run)
    if dry_run:
        _print_x_cost(config, applied.rows)
    if applied.waiting:
        _print_waiting_for_approval(applied.waiting, applied.approvers)


def _print_waiting_for_approval(count: int, approvers: list[str]) -> None:
    """With approval on: how many posts wait for an approver, and who can approve them (four eyes)."""
    if approvers:
        console().print(esc(t("approval_notice.waiting", count=count, approvers=", ".join(approvers))))
    else:
        console().print(f"[yellow]{esc(t('approval_notice.waiting_nobody', count=count))}[/]")


def _print_x_cost(config, rows: list[dict]) -> None:
    """The campaign's estimated cost on X (pay-per-use: per post, more for a post with a link)."""
    from planner.i18n.dates import format_number
    from planner.platforms.x_cost import PriceError, estimate, x_prices

    try:
        prices = x_prices(config)
    except PriceError as exc:
        fail(t("x_cost.bad_price", key=exc.args[0], value=exc.args[1]), EXIT_PROBLEMS)
    found = estimate(rows, prices)
    if not found["posts"]:
        return
    console().print(esc(t("x_cost.estimate", posts=format_number(found["posts"]),
                          with_link=format_number(found["with_link"]), usd=format_number(found["usd"], decimals=2),
                          post=format_number(prices["post"], decimals=3),
                          post_with_link=format_number(prices["post_with_link"], decimals=3))))


def _print_plans(plans, config, dry_run: bool) -> None:
    from planner.i18n.dates import format_moment
    from planner.store.db import parse_utc

    out = console()
    if dry_run:
        out.print(f"[bold yellow]{t('apply.dry_run_header')}[/]")
    for plan in plans:
        out.print(f"[bold]{esc(plan.campaign_id)}[/] " + (t("apply.new_campaign") if plan.new_campaign else ""))
        sections = (("added", plan.added, "green", "+"), ("changed", plan.changed, "yellow", "~"),
                    ("canceled", plan.canceled, "red", "-"), ("published_kept", plan.published_kept, "magenta", "!"),
                    ("in_flight", plan.in_flight, "magenta", "!"))
        for name, entries, colour, mark in sections:
            if not entries:
                continue
            out.print(f"  [{colour}]{t('apply.' + name, count=len(entries))}[/]")
            for entry in entries[:20]:
                when = format_moment(parse_utc(entry.due_at), config.timezone)
                detail = f" ({', '.join(entry.changes)})" if entry.changes and name != "added" else ""
                out.print(f"    [{colour}]{mark}[/] {esc(entry.content_id)} → {esc(entry.channel)}  {when}{esc(detail)}")
            if len(entries) > 20:
                out.print(f"    … {t('common.and_more', count=len(entries) - 20)}")
        out.print(f"  {t('apply.unchanged', count=plan.unchanged)}")
    out.print(t("apply.dry_run_done") if dry_run else t("apply.done"))


@app.command("list", help=t("help.campaign_list"))
def list_campaigns(as_json: bool = json_option()) -> None:
    from zoneinfo import ZoneInfo

    from rich.table import Table

    from planner.i18n.dates import format_date
    from planner.store.campaign_lookup import summaries
    from planner.store.db import parse_utc
    from planner.store.queries import campaign_state_counts

    config = load_config()
    db = open_database(config)
    rows = summaries(db)
    if as_json:
        emit("campaigns", campaigns=[
            {"id": row["id"], "name": row["name"], "owner": row["owner"], "timezone": row["timezone"],
             "start_at": utc(row["start_at"]), "end_at": utc(row["end_at"]),
             "posts": campaign_state_counts(db, row["id"])} for row in rows])
        return
    if not rows:
        console().print(t("campaign.none"))
        return
    out = console()
    # The id is what the user types next (campaign show ID, queue --campaign ID): never wrapped nor cut.
    # Below ~100 columns the owner (shown by `campaign show`) is left out, the rest wraps.
    compact = out.width < 100
    columns = ("id", "name", "period", "posts") if compact else ("id", "name", "owner", "period", "posts")
    table = Table(box=None)
    for column in columns:
        table.add_column(t(f"campaign.col_{column}"), no_wrap=column == "id" or (column == "period" and not compact))
    for row in rows:
        counts = campaign_state_counts(db, row["id"])
        zone = ZoneInfo(row["timezone"])  # the campaign's own days, not the office's
        period = (f"{format_date(parse_utc(row['start_at']).astimezone(zone))} – "
                  f"{format_date(parse_utc(row['end_at']).astimezone(zone))}")
        summary = ", ".join(f"{t('state.' + s)} {n}" for s, n in counts.items())
        cells = {"id": esc(row["id"]), "name": esc(row["name"]), "owner": esc(row["owner"]), "period": period,
                 "posts": summary or "-"}
        table.add_row(*(cells[c] for c in columns))
    out.print(table)


@app.command("show", help=t("help.campaign_show"))
def show(campaign_id: str = typer.Argument(..., help=t("help.campaign_id"))) -> None:
    from planner.cli.render import print_campaign
    from planner.store import campaigns
    from planner.store.campaign_lookup import CampaignNotFound

    config = load_config()
    db = open_database(config)
    campaign = campaigns.get(db, campaign_id)
    if campaign is None:
        fail(CampaignNotFound(db, campaign_id).render())
    print_campaign(db, campaign, config)
