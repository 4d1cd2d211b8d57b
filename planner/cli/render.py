"""Printing a campaign's five parts for `planner campaign show`."""

from __future__ import annotations

from planner.cli.common import console, esc
from planner.domain.campaign import AppliedCampaign
from planner.i18n import t
from planner.i18n.dates import format_date, format_number
from planner.store import campaigns
from planner.store.queries import campaign_state_counts


def print_campaign(db, campaign: AppliedCampaign, config) -> None:
    """``campaign``: as read by planner.store.campaigns.get."""
    out = console()
    out.print(f"[bold]{esc(campaign.name)}[/] ({esc(campaign.id)})")
    out.print(f"{t('campaign.owner')}: {esc(campaign.owner or '-')} · {t('campaign.period')}: "
              f"{format_date(campaign.start)} – {format_date(campaign.end)}"
              f" · {campaign.timezone.key}")

    out.print(f"\n[bold]1. {t('campaign.part_goal')}[/]")
    out.print(f"   {esc(campaign.goal.objective)}")
    for kpi in campaign.goal.kpis:
        deadline = f" · {t('campaign.deadline')} {format_date(kpi.deadline)}" if kpi.deadline else ""
        platform = t("campaign.all_platforms") if kpi.platform == "all" else kpi.platform
        target = kpi.target  # 4.5 (%) must not show as 5
        shown = format_number(target) if float(target).is_integer() else format_number(target, decimals=2).rstrip("0")
        out.print(f"   • {t('kpi.' + kpi.metric)}: {shown} ({platform}){deadline}")

    out.print(f"\n[bold]2. {t('campaign.part_audience')}[/]")
    for audience in campaign.audiences:
        platforms = f" [dim]({', '.join(audience.platforms)})[/]" if audience.platforms else ""
        out.print(f"   • [cyan]{esc(audience.id)}[/]: {esc(audience.description)}{platforms}")

    out.print(f"\n[bold]3. {t('campaign.part_channels')}[/]")
    for channel in campaign.channels:
        account = config.accounts.get(channel)
        where = f"{account.platform} @{account.handle}" if account else t("campaign.account_gone")
        out.print(f"   • {esc(channel)}: {esc(where)}")

    items = campaigns.content_items(db, campaign.id)
    out.print(f"\n[bold]4. {t('campaign.part_content')}[/] ({len(items)})")
    for item in items[:30]:
        first_words = " ".join(item["text"].split()[:10])
        out.print(f"   • [cyan]{esc(item['id'])}[/] [dim]{esc(item['issue'])}[/] — {esc(first_words)}…")
    if len(items) > 30:
        out.print(f"   … {t('common.and_more', count=len(items) - 30)}")
    counts = campaign_state_counts(db, campaign.id)
    out.print("   " + (", ".join(f"{t('state.' + s)}: {n}" for s, n in counts.items()) or t("campaign.no_posts")))

    monitoring = campaign.monitoring
    out.print(f"\n[bold]5. {t('campaign.part_monitoring')}[/]")
    out.print(f"   {t('campaign.collect_every', hours=format_number(monitoring.collect_every.total_seconds() / 3600, decimals=1))}"
              f" · {t('campaign.track_for', days=format_number(monitoring.track_for.total_seconds() / 86400, decimals=1))}")
    out.print(f"   {t('campaign.keywords')}: {esc(', '.join(monitoring.keywords) or '-')}")
    out.print(f"   {t('campaign.spike', x=format_number(monitoring.spike_threshold, decimals=1))}"
              f" · {t('campaign.report_period')}: {t('period.' + monitoring.report_period)}")
