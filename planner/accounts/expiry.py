"""Tokens that run out and cannot be renewed by the tool: the staff chat hears of them days before.

A token in the tool's own store (``secrets:`` or ``keyring:humas-planner/`` references, written by
`planner account connect`) whose record has an ``expires_at`` and no ``refresh_token`` has no refresh path:
when that time comes the platform refuses it and the account's posts are held until someone reconnects.
X OAuth 2.0 tokens (with a refresh token) renew themselves and are left out; tokens that do not expire
(Telegram, Mastodon, Page tokens) store no expiry.

``[alerts] token_expiry_days`` (default 7) says how many days before; `planner run` looks every hour and
tells the staff chat once per account and expiry (a new token with a new expiry is told again).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone

from planner.i18n import t

log = logging.getLogger("planner.accounts")

DEFAULT_DAYS = 7
WARNED_KEY = "token_expiry_warned"  # settings: {account: expires_at told}
STORE_PREFIXES = ("secrets:", "keyring:humas-planner/")


def warn_days(config) -> int:
    return int(config.raw.get("alerts", {}).get("token_expiry_days", DEFAULT_DAYS))


def expiring(config, now: datetime, days: int | None = None) -> list[tuple[str, datetime]]:
    """(account, expiry) of each stored token without a refresh path that ends within ``days`` (or has ended)."""
    from planner.accounts.secrets import SecretStore
    from planner.accounts.tokens import backend_of
    from planner.errors import PlannerError

    days = warn_days(config) if days is None else days
    found = []
    for name, account in config.accounts.items():
        stored = [r for r in account.credentials.values() if r.startswith(STORE_PREFIXES)]
        if not stored:
            continue
        try:
            record = SecretStore(config.path, backend=backend_of(stored[0])).values(
                name, ("expires_at", "refresh_token"))
        except (PlannerError, OSError) as exc:  # an unreadable store is `planner check`'s to report
            log.debug("token expiry of %s not read: %s", name, exc)
            continue
        if record.get("refresh_token") or not record.get("expires_at"):
            continue
        try:
            expires = datetime.fromtimestamp(float(record["expires_at"]), timezone.utc)
        except (ValueError, OverflowError, OSError):
            continue
        if expires - now <= timedelta(days=days):
            found.append((name, expires))
    return found


def expiry_job(config, dispatcher, *, now: datetime | None = None) -> None:
    """In `planner run`: tell the staff chat of each token about to run out, once per account and expiry."""
    from planner.alerts import notify_staff
    from planner.i18n.dates import format_moment
    from planner.store import outbox

    now = now or dispatcher.clock.now()
    db = dispatcher.db
    try:
        warned = json.loads(outbox.get_setting(db, WARNED_KEY) or "{}")
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
        outbox.set_setting(db, WARNED_KEY, json.dumps(changed, sort_keys=True) if changed else None, now=now)


EXPIRY_JOB = ("token-expiry", 3600, expiry_job, 90)  # hourly, the first a minute and a half after start
