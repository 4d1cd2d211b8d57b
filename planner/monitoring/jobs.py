"""The periodic monitoring work `planner run` hosts: metrics, listening, scheduled reports."""

from __future__ import annotations

import logging

from planner.i18n import t
from planner.i18n.platform_errors import say_listed
from planner.store import campaigns, outbox

log = logging.getLogger("planner.monitoring")

COLLECT_EVERY_S = 60        # look for posts whose collection period has come round
COLLECT_JOB_WORKERS = 2     # in `planner run`, a few requests at a time: publishing shares the process
LISTEN_EVERY_S = 300
REPORT_CHECK_EVERY_S = 3600
LAST_REPORT_KEY = "last_report_period"


def collect_job(config, dispatcher) -> None:
    from planner.monitoring.collect import collect_metrics

    result = collect_metrics(config, dispatcher.db, now=dispatcher.clock.now(), workers=COLLECT_JOB_WORKERS,
                             pause=dispatcher.yield_to_publishing)
    if result.posts or result.errors:
        log.info(t("log.metrics", posts=result.posts, figures=result.snapshots,
                   errors="; ".join(map(say_listed, result.errors)) or t("log.no_errors")))


def listen_job(config, dispatcher) -> None:
    from planner.monitoring.listen import listen, spike_message
    from planner.response.alerting import announce

    result = listen(config, dispatcher.db, now=dispatcher.clock.now(), pause=dispatcher.yield_to_publishing)

    for spike in result.spikes:
        # Logged and sent by announce, with the matching playbook's clarification and buttons (if any).
        _text, sent = announce(config, dispatcher.db, spike, spike_message(spike, config.timezone))
        if sent and sent != "sent":
            log.error(t("log.spike_alert_failed", error=sent))


def report_job(config, dispatcher) -> None:
    """Write each campaign's report for the last full period once, into reports_dir."""
    from planner.reports.write import period_window, write_report

    db = dispatcher.db
    now = dispatcher.clock.now()
    done = outbox.get_json_setting(db, LAST_REPORT_KEY, {})
    for campaign in campaigns.list_all(db):
        campaign_id, period = campaign.id, campaign.monitoring.report_period
        start, end = period_window(period, now, config.timezone)
        stamp = f"{period}:{start.date().isoformat()}"
        if done.get(campaign_id) == stamp:
            continue
        path = config.reports_dir / f"{campaign_id}-{period}-{start:%Y%m%d}.html"
        write_report(db, campaign_id, fmt="html", now=now, start=start, end=end, out=path)
        done[campaign_id] = stamp
        log.info(t("log.report_written", path=str(path)))
    outbox.set_json_setting(db, LAST_REPORT_KEY, done, now=now)


MONITORING_JOBS = [
    ("metrics", COLLECT_EVERY_S, collect_job),
    ("listen", LISTEN_EVERY_S, listen_job),
    ("reports", REPORT_CHECK_EVERY_S, report_job),
]
