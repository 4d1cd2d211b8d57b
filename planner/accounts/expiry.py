"""Tokens that run out and cannot be renewed by the tool: the staff chat hears of them days before.

A token in the tool's own store (``secrets:`` or ``keyring:humas-planner/`` references, written by
`planner account connect`) whose record has an ``expires_at`` and no ``refresh_token`` has no refresh path:
when that time comes the platform refuses it and the account's posts are held until someone reconnects.
X OAuth 2.0 tokens (with a refresh token) renew themselves and are left out; tokens that do not expire
(Telegram, Mastodon, Page tokens) store no expiry.

``[alerts] token_expiry_days`` (default 7) says how many days before; `planner run` looks every hour and
tells the staff chat once per account and expiry (planner/publishing/token_expiry.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

log = logging.getLogger("planner.accounts")

DEFAULT_DAYS = 7
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
