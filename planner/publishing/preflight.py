"""Readiness check: will the posts due in the next hours go out?

Found early, an expired token or a deleted image is a quick fix; found at the due time, it is a
missed post. The check looks at every post due in the window (and any overdue one still open):

- the scheduler is running (its heartbeat is fresh);
- each post's account is in the config, its secret can be read, and the platform accepts it;
- each post's media files are still there, and for Instagram (which fetches them itself) also at the
  account's media_base_url;
- posts still waiting for approval, or held by a pause or blackout, are named;
- an Instagram account's daily publishing quota covers what is planned;
- each account's api_base_url is safe for its token (no plain http:// to another machine); one that
  points at the sandbox is noted (posts sent there never appear in public).

Findings are plain data (a code and figures); the CLI and the alert put them in words.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from planner.errors import PlannerError
from planner.i18n import t
from planner.platforms.base import CredentialsError, PermanentError, PlatformError
from planner.store.db import parse_utc, utc_iso
from planner.store.posts import due_before

OPEN_STATES = ("draft", "pending_approval", "queued", "failed_retryable", "held")
APPROVAL_URGENT = timedelta(hours=2)
IMAGE_CHECK_TIMEOUT = 5.0  # seconds per image address
IMAGE_CHECK_MAX = 50       # image addresses looked at per check
PROBLEM, WARNING, NOTE = "problem", "warning", "note"


@dataclass(frozen=True)
class Finding:
    level: str                       # PROBLEM (a post will fail or not go out) or WARNING (look at it)
    code: str                        # no_scheduler, unknown_account, secret_missing, credentials, unreachable,
                                     # media_missing, ig_image_missing, ig_image_unreachable,
                                     # approval_urgent, awaiting_approval, held, ig_quota, endpoint;
                                     # as a NOTE (in Readiness.notes): sandbox
    channel: str | None = None
    post_ids: tuple[int, ...] = ()
    params: dict = field(default_factory=dict)


@dataclass
class Readiness:
    window_hours: float
    posts: int = 0
    accounts_checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    # Worth knowing, neither a problem nor a warning (an account on the sandbox, as in the demo).
    notes: list[Finding] = field(default_factory=list)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.level == PROBLEM]

    def fingerprint(self) -> str:
        """Same problems, same fingerprint: an alert is sent again only when something changed. Post ids
        are left out: as posts go out the list moves on, but the problem (say, a refused token) is the same."""
        return json.dumps(sorted({(f.level, f.code, f.channel or "", f.params.get("file") or f.params.get("url", ""))
                                  for f in self.findings}))


def check_readiness(config, db, *, now: datetime, hours: float = 24.0, scheduler_running: bool,
                    check_accounts: bool = True, make_adapter=None) -> Readiness:
    """``make_adapter(account_name)`` gives a connected adapter (default: a fresh one per account)."""
    result = Readiness(window_hours=hours)
    rows = due_before(db, now + timedelta(hours=hours), states=OPEN_STATES)
    result.posts = len(rows)
    if not rows:
        return result
    going_out = [r for r in rows if r["state"] in ("queued", "failed_retryable")]
    if going_out and not scheduler_running:
        result.findings.append(Finding(PROBLEM, "no_scheduler", post_ids=_ids(going_out),
                                       params={"count": len(going_out)}))
    _approval_and_holds(rows, result, now)
    _media(rows, result)
    channels = sorted({r["channel"] for r in rows})
    for channel in channels:
        posts = [r for r in rows if r["channel"] == channel]
        if channel not in config.accounts:
            result.findings.append(Finding(PROBLEM, "unknown_account", channel, _ids(posts),
                                           {"count": len(posts)}))
        elif check_accounts:
            result.accounts_checked += 1
            _account(config, channel, posts, now, result, make_adapter)
            if config.accounts[channel].platform == "instagram":
                _instagram_images(config.accounts[channel], posts, result)
    return result


def _ids(rows: list[dict]) -> tuple[int, ...]:
    return tuple(r["id"] for r in rows)


def _approval_and_holds(rows: list[dict], result: Readiness, now: datetime) -> None:
    waiting = [r for r in rows if r["state"] in ("draft", "pending_approval")]
    # Due within APPROVAL_URGENT and still unapproved: without an approver now, the post is late or missed.
    urgent_before = utc_iso(now + APPROVAL_URGENT)
    urgent = [r for r in waiting if r["due_at"] < urgent_before]
    later = [r for r in waiting if r["due_at"] >= urgent_before]
    for level, code, group in ((PROBLEM, "approval_urgent", urgent), (WARNING, "awaiting_approval", later)):
        if group:
            result.findings.append(Finding(level, code, post_ids=_ids(group),
                                           params={"count": len(group), "first_due": group[0]["due_at"]}))
    held = [r for r in rows if r["state"] == "held"]
    for why in sorted({(r["hold_kind"] or "", r["hold_detail"] or "") for r in held}):
        group = [r for r in held if (r["hold_kind"] or "", r["hold_detail"] or "") == why]
        result.findings.append(Finding(WARNING, "held", post_ids=_ids(group),
                                       params={"count": len(group), "hold_kind": why[0], "hold_detail": why[1]}))


def _media(rows: list[dict], result: Readiness) -> None:
    for row in rows:
        for name in json.loads(row["media"] or "[]"):
            path = Path(name)
            if not (path.is_file() and os.access(path, os.R_OK)):
                result.findings.append(Finding(PROBLEM, "media_missing", row["channel"], (row["id"],),
                                               {"file": str(path), "due": row["due_at"]}))


def _account(config, channel: str, posts: list[dict], now: datetime, result: Readiness, make_adapter) -> None:
    from planner.platforms.endpoints import check_base_url, is_sandbox, shown

    base_url = config.accounts[channel].api_base_url
    problem = check_base_url(base_url)
    if problem:  # the adapter would refuse it too: a token must not travel in clear text
        result.findings.append(Finding(PROBLEM, "endpoint", channel, _ids(posts),
                                       {"key": problem, "url": shown(base_url)}))
        return
    adapter = None
    try:
        adapter = make_adapter(channel) if make_adapter else _fresh_adapter(config, channel)
        status = adapter.check_credentials()
    except PlannerError as exc:  # a secret that cannot be read (env variable unset, keyring entry gone)
        result.findings.append(Finding(PROBLEM, "secret_missing", channel, _ids(posts), {"detail": exc.render()}))
        return
    except CredentialsError as exc:
        result.findings.append(Finding(PROBLEM, "credentials", channel, _ids(posts), {"detail": _redacted(exc)}))
        return
    except PermanentError as exc:  # refused for good (a bot not admin of its channel...): not a network matter
        result.findings.append(Finding(PROBLEM, "refused", channel, _ids(posts), {"detail": _redacted(exc)}))
        return
    except PlatformError as exc:  # unreachable or refusing for now: worth a look, not yet a failure
        result.findings.append(Finding(WARNING, "unreachable", channel, _ids(posts), {"detail": _redacted(exc)}))
        return
    finally:
        if adapter is not None and make_adapter is None and hasattr(adapter, "close"):
            adapter.close()
    if is_sandbox(base_url):
        result.notes.append(Finding(NOTE, "sandbox", channel, _ids(posts), {"url": shown(base_url)}))
    tokens = getattr(getattr(adapter, "account", None), "tokens", None)
    if tokens is not None:  # OAuth 2.0: renewed by itself; until when the current access token lasts
        expires = tokens.expires_at(tokens.record())
        result.notes.append(Finding(NOTE, "token_renewed", channel, _ids(posts),
                                    {"due": utc_iso(expires) if expires else ""}))
    rate = status.rate_limit
    if rate is not None and rate.published is not None and rate.quota is not None:
        day = utc_iso(now + timedelta(hours=rate.window_hours or 24))
        planned = [p for p in posts if p["due_at"] < day]
        if rate.published + len(planned) > rate.quota:
            result.findings.append(Finding(WARNING, "ig_quota", channel, _ids(planned), {
                "published": rate.published, "quota": rate.quota, "upcoming": len(planned),
                "hours": rate.window_hours or 24}))


def _instagram_images(account, posts: list[dict], result: Readiness) -> None:
    """Instagram fetches each image from media_base_url at publish time: is it there?

    A 4xx answer means the file was not uploaded (the post would fail); no answer at all may be this
    machine's network rather than the web server, so that is only a warning.
    """
    import httpx

    from planner.platforms.instagram import image_url

    base = account.options.get("media_base_url")
    if not base:
        return  # validation already asks for media_base_url
    by_url: dict[str, list[int]] = {}
    for row in posts:
        for name in json.loads(row["media"] or "[]"):
            by_url.setdefault(image_url(base, name), []).append(row["id"])
    with httpx.Client(timeout=IMAGE_CHECK_TIMEOUT, follow_redirects=True) as client:
        for url, ids in list(by_url.items())[:IMAGE_CHECK_MAX]:
            try:
                status = client.head(url).status_code
            except httpx.HTTPError as exc:
                result.findings.append(Finding(WARNING, "ig_image_unreachable", account.name, tuple(ids),
                                               {"url": url, "detail": type(exc).__name__}))
                continue
            if status >= 400:
                level = PROBLEM if status < 500 else WARNING
                result.findings.append(Finding(level, "ig_image_missing" if level == PROBLEM else
                                               "ig_image_unreachable", account.name, tuple(ids),
                                               {"url": url, "detail": f"HTTP {status}"}))


def _fresh_adapter(config, channel: str):
    from planner.accounts.resolve import resolve_account
    from planner.platforms import make_adapter
    from planner.platforms.redaction import register_secrets

    account = resolve_account(config, channel)
    register_secrets(account.secret_values())
    return make_adapter(account)


def _redacted(exc: PlatformError) -> str:
    from planner.platforms.redaction import safe_error

    return safe_error(exc.message)


def describe(result, zone) -> list[tuple[str, str]]:
    """(sentence, level) for each finding, then each note, in the current language, times in ``zone``."""
    from planner.i18n.dates import format_moment
    from planner.i18n.events import describe_hold

    lines = []
    for f in [*result.findings, *result.notes]:
        params = dict(f.params)
        if f.code == "endpoint":
            params["detail"] = t(params["key"], account=f.channel or "", url=params.get("url", ""))
        elif "detail" in params:  # a platform's error summary, in the user's words
            from planner.i18n.platform_errors import say

            params["detail"] = say(params["detail"])
        params["posts"] = _post_list(f.post_ids)
        params["channel"] = f.channel or ""
        params["hours"] = f"{params.get('hours', result.window_hours):g}"
        for key in ("due", "first_due"):
            if params.get(key):
                params[key] = format_moment(parse_utc(params[key]), zone)
        if f.code == "held":
            params["reason"] = describe_hold(params, zone) or "-"
        lines.append((t(f"check.{f.code}", **params), f.level))
    return lines


def _post_list(ids, shown: int = 8) -> str:
    listed = ", ".join(f"#{i}" for i in ids[:shown])
    return listed + (" " + t("common.and_more", count=len(ids) - shown) if len(ids) > shown else "")


# --- in `planner run` --------------------------------------------------------------------------------
ALERTED_KEY = "preflight_alerted"


def preflight_job(config, dispatcher) -> None:
    """Log the problems, and tell the staff chat when they change."""
    import logging

    from planner.store import outbox

    log = logging.getLogger("planner.preflight")
    now = dispatcher.clock.now()
    # Fresh adapters: the credentials are read as they are now, not as the scheduler read them at start.
    result = check_readiness(config, dispatcher.db, now=now, scheduler_running=True)
    lines = describe(result, config.timezone)
    for line, level in lines:
        log.log({PROBLEM: logging.ERROR, NOTE: logging.INFO}.get(level, logging.WARNING), t("log.readiness", line=line))
    fingerprint = result.fingerprint() if result.problems else ""
    if fingerprint == (outbox.get_setting(dispatcher.db, ALERTED_KEY) or ""):
        return  # nothing new to tell
    if result.problems:
        from planner.alerts import notify_staff

        text = "\n".join([t("check.alert_title", count=len(result.problems)),
                          *(f"• {line}" for line, level in lines if level == PROBLEM)])
        sent = notify_staff(config, text)
        if sent and sent != "sent":
            log.error(t("log.readiness_alert_failed", error=sent))
    outbox.set_setting(dispatcher.db, ALERTED_KEY, fingerprint or None, now=now)


PREFLIGHT_JOB = ("preflight", 3600, preflight_job, 60)  # hourly, the first a minute after start
