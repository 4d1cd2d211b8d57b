"""The report in the terminal (rich)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from planner.i18n import t
from planner.i18n.dates import format_moment, format_number
from planner.reports.model import Report
from planner.store.db import parse_utc

STATUS_STYLE = {"achieved": "bold green", "on_track": "green", "at_risk": "yellow", "missed": "bold red",
                "not_started": "dim"}


def kpi_explanation(kpi: dict) -> str:
    """One line that says why the status is what it is."""
    actual = format_number(kpi["actual"], decimals=1 if kpi["metric"].endswith("rate") else 0)
    target = format_number(kpi["target"], decimals=1 if kpi["metric"].endswith("rate") else 0)
    if kpi["status"] == "achieved":
        return t("report.why_achieved", actual=actual, target=target)
    if kpi["status"] == "missed":
        return t("report.why_missed", actual=actual, target=target)
    if kpi["status"] == "not_started":
        return t("report.why_not_started")
    if kpi["projected"] is None:
        return t("report.why_rate_below", actual=actual, target=target)
    key = "report.why_on_track" if kpi["status"] == "on_track" else "report.why_at_risk"
    if kpi["metric"] == "posts_published":  # projected from the schedule, not from a pace
        key += "_scheduled"
        return t(key, actual=actual, projected=format_number(kpi["projected"]), target=target)
    return t(key, elapsed=format_number(kpi["elapsed"] * 100), projected=format_number(kpi["projected"]),
             target=target)


def render_text(report: Report, console) -> None:
    from rich.markup import escape
    from rich.table import Table

    zone = ZoneInfo(report.campaign["timezone"])
    console.rule(t("report.title"))
    console.print(f"[bold]{escape(report.campaign['name'])}[/] ({escape(report.campaign['id'])})")
    console.print(f"{t('report.generated')}: {format_moment(parse_utc(report.generated_at), zone)}")
    console.print(f"{t('campaign.part_goal')}: {escape(report.campaign['objective'])}\n")

    table = Table(title=t("report.kpis"), box=None)
    for key in ("kpi", "platform", "target", "actual", "percent", "status"):
        table.add_column(t(f"report.col_{key}"), no_wrap=key != "kpi")
    for kpi in report.kpis:
        decimals = 1 if kpi["metric"].endswith("rate") else 0
        style = STATUS_STYLE.get(kpi["status"], "")
        table.add_row(t("kpi." + kpi["metric"]),
                      t("campaign.all_platforms") if kpi["platform"] == "all" else kpi["platform"],
                      format_number(kpi["target"], decimals=decimals), format_number(kpi["actual"], decimals=decimals),
                      format_number(kpi["percent"], decimals=0) + "%",
                      f"[{style}]{t('report.status_' + kpi['status'])}[/]")
    console.print(table)
    for kpi in report.kpis:
        console.print(f"  • {t('kpi.' + kpi['metric'])}: {escape(kpi_explanation(kpi))}")

    table = Table(title=t("report.by_platform"), box=None)
    for key in ("platform", "published", "reach", "engagements", "likes", "reposts", "replies", "clicks"):
        table.add_column(t(f"report.col_{key}"))
    for row in report.platforms:
        cells = [row["platform"], format_number(row["published"])]
        for metric in ("reach", "engagements", "likes", "reposts", "replies", "clicks"):
            cells.append(t("report.not_available") if row[metric] is None else format_number(row[metric]))
        table.add_row(*cells)
    console.print()
    console.print(table)
    if report.metrics_not_available:
        console.print(f"  [dim]{t('report.no_metrics_note', platforms=', '.join(report.metrics_not_available))}[/]")

    if report.top_posts:
        console.print(f"\n[bold]{t('report.top_posts')}[/]")
        for post in report.top_posts[:5]:
            words = " ".join(post["text"].split()[:10])
            console.print(f"  {format_number(post['engagements'])} · {post['channel']} · {escape(words)}… "
                          f"[dim]{escape(post['url'] or '')}[/]")

    r = report.reliability
    console.print(f"\n[bold]{t('report.reliability')}[/]")
    console.print("  " + t("report.reliability_line", on_time=r.get("on_time", 0), late=r.get("late", 0),
                           failed=r.get("failed", 0), missed=r.get("missed", 0),
                           review=r.get("needs_review", 0), pending=r.get("pending", 0)))
    cost = report.x_cost
    if cost:
        console.print(f"\n[bold]{t('x_cost.report_title')}[/]")
        console.print("  " + t("x_cost.report_line", usd=format_number(cost["usd"], decimals=2),
                               posts=format_number(cost["posts"]), with_link=format_number(cost["with_link"]),
                               post=format_number(cost["post"], decimals=3),
                               post_with_link=format_number(cost["post_with_link"], decimals=3)))

    total_mentions = sum(p["count"] for series in report.mentions_over_time.values() for p in series)
    console.print(f"\n[bold]{t('report.mentions')}[/] ({format_number(total_mentions)})")
    for spike in report.spikes[-5:]:
        detail = t("report.spike_detail", count=spike["window_count"], baseline=format_number(spike["baseline"], decimals=1))
        console.print(f"  [bold red]⚠ {escape(spike['keyword'])}[/] "
                      f"{format_moment(parse_utc(spike['at']), zone)}: {escape(detail)}")
    for mention in report.top_mentions[:3]:
        console.print(f"  “{escape(mention['text'][:120])}” — {escape(mention['author'])} ({mention['platform']})")
    fast = report.fast_responses or {}
    if fast.get("count"):
        from planner.response.report import span as _span

        console.print(f"\n[bold]{t('report.fast_title')}[/]")
        console.print("  " + t("report.fast_summary", count=fast["count"], answered=fast["answered"],
                               median=_span(fast["median_seconds"]), worst=_span(fast["worst_seconds"])))
        for item in fast["responses"][-5:]:
            console.print("  " + t("report.fast_item", alert=item["alert_id"], keyword=escape(item["keyword"]),
                                   content=escape(item["content"]), took=_span(item["seconds_to_answer"]),
                                   before=item["mentions_before"] if item["mentions_before"] is not None else "-",
                                   after=item["mentions_after"] if item["mentions_after"] is not None else "-"))
