"""In `planner run`: the staff chat hears, days before, of each stored token that runs out and cannot be
renewed by the tool (which tokens: planner.accounts.expiry), once per account and expiry; a new token with a
new expiry is told again."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from planner.accounts.expiry import expiring
from planner.alerts import notify_staff
from planner.i18n import t
from planner.i18n.dates import format_moment
from planner.store import outbox

log = logging.getLogger("planner.accounts")

WARNED_KEY = "token_expiry_warned"  # settings: {account: expires_at told}


def expiry_job(config, dispatcher, *, now: datetime | None = None) -> None:
    """In `planner run`: tell the staff chat of each token about to run out, once per account and expiry."""
    now = now or dispatcher.clock.now()
    db = dispatcher.db
    try:
        warned = outbox.get_json_setting(db, WARNED_KEY, {})
    except ValueError:
        warned = {}
    current = {name: f"{expires.timestamp():.0f}" for name, expires in expiring(config, now)}
    changed = {name: stamp for name, stamp in warned.items() if name in current}  # renewed ones are forgotten
    for name, stamp in current.items():
        if warned.get(name) == stamp:
            continue
        expires = datetime.fromtimestamp(float(stamp), timezone.utc)
        key = "token.expired_alert" if expires <= now else "token.expiry_alert"
        text = t(key, account=name, platform=config.accounts[name].platform,
                 time=format_moment(expires, config.timezone))
        log.warning(text)
        sent = notify_staff(config, text)
        if sent and sent != "sent":  # not delivered: tried again at the next run
            log.error(t("token.alert_failed", error=sent))
            continue
        changed[name] = stamp
    if changed != warned:
        outbox.set_json_setting(db, WARNED_KEY, changed or None, now=now, sort_keys=True)


EXPIRY_JOB = ("token-expiry", 3600, expiry_job, 90)  # hourly, the first a minute and a half after start
