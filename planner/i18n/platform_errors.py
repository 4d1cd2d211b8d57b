"""Platform error summaries in the user's language.

The adapters word their errors as short English summaries (they also go to the audit log and the stored
post history, and tests of the adapters read them). When one is shown, it is said again from the
catalogue (``platform_error.*``); the platform's own text stays as the platform wrote it, in brackets.
A summary not known here is shown as it is.
"""

from __future__ import annotations

import re

from planner.i18n import t

_ACCOUNT = r"'(?P<account>[^']+)'"
_PATTERNS = [(re.compile(pattern, re.DOTALL), key) for pattern, key in (
    (rf"^telegram: bot token rejected \((?P<text>.*)\); set a new one for account {_ACCOUNT}$", "telegram_token"),
    (rf"^telegram account {_ACCOUNT} has no bot_token; set one$", "telegram_no_token"),
    (r"^telegram: request failed \((?P<text>[^)]*)\); check api_base_url$", "request_failed"),
    (rf"^mastodon: the instance refused the access token of account {_ACCOUNT} \((?P<text>.*)\); reconnect the "
     r"account$", "mastodon_token"),
    (rf"^facebook account {_ACCOUNT}: the token belongs to (?P<owner>.+), not to the Page (?P<page>\d+) \(page_id\); "
     r"reconnect the account \(planner account connect [^)]+\)$", "facebook_other_page"),
    (rf"^x account {_ACCOUNT}: X refused the credentials \((?P<text>.*)\); reconnect the account$", "x_credentials"),
    (r"^x: the account's 24-hour cap is reached on (?P<action>.+); waiting until (?P<reset>.+) UTC$",
     "x_daily_cap_user"),
    (r"^x: the app's 24-hour cap is reached on (?P<action>.+); waiting until (?P<reset>.+) UTC$", "x_daily_cap_app"),
    (r"^x: the X developer account has no credits left to (?P<action>.+?) \((?P<text>.*)\); add credits in the X "
     r"developer console, then retry the post$", "x_credits"),
    (r"^x: X does not let this app (?P<action>.+?) at its access level \((?P<text>.*)\); change the app's access "
     r"level, Project or billing in the X developer console \(reconnecting the account does not help\)$",
     "x_client_forbidden"),
    (rf"^Bluesky account {_ACCOUNT} \((?P<handle>[^)]*)\) must be reconnected: (?P<text>.*)\. Create a new app "
     r"password in Bluesky .*$", "bluesky_reconnect"),
    (r"^(?P<platform>[a-z]+): could not connect \((?P<text>.*)\)$", "could_not_connect"),
    (r"^(?P<platform>[a-z]+): no answer \((?P<text>.*)\)$", "no_answer"),
    (r"^(?P<platform>[a-z]+): no answer from the server$", "no_answer_plain"),
    (r"^(?P<platform>[a-z]+): server error (?P<status>\d+) on (?P<action>[^:]+): (?P<text>.*)$", "server_error"),
    (r"^(?P<platform>[a-z]+): server error (?P<status>\d+)(?:: (?P<text>.*)| \((?P<text2>.*)\))$", "server_error"),
    (r"^(?P<platform>[a-z]+): rate limited on (?P<action>.+); retry in (?P<seconds>\d+) s$", "rate_limited_wait"),
    (r"^(?P<platform>[a-z]+): rate limited(?:: (?P<text>.*)| \((?P<text2>.*)\))$", "rate_limited"),
    (r"^(?P<platform>[a-z]+): rate limited$", "rate_limited_plain"),
    (r"^(?P<platform>[a-z]+): publishing limit reached: (?P<text>.*)$", "publishing_limit"),
    (r"^(?P<platform>[a-z]+): temporary error: (?P<text>.*)$", "temporary"),
    (r"^(?P<platform>[a-z]+): unexpected answer \(HTTP (?P<status>\d+)\)$", "unexpected_answer"),
    (r"^(?P<platform>[a-z]+): HTTP (?P<status>\d+)$", "http_status"),
    (r"^x: the same text was already posted on this account and X refuses duplicate tweets \((?P<text>.*)\)$",
     "x_duplicate"),
    (r"^x: (?P<action>[a-z ]+) refused \((?P<status>\d+)\): (?P<text>.*)$", "x_refused"),
    (r"^(?:(?P<platform>[a-z]+): )?cannot read (?:media file|media|image) (?P<file>.+): (?P<text>.*)$", "media_unreadable"),
    (r"^(?P<platform>[a-z]+): (?:media(?: \S+)?|attachment .+) still processing(?: \((?P<text>[^)]*)\))? after "
     r"(?P<seconds>[\d.]+) s$", "media_processing"),
    (r"^instagram: a post needs at least one image$", "instagram_needs_image"),
)]


def say(summary: str | None) -> str:
    """``summary`` (an adapter's error message) in the current language; unknown ones as they are."""
    if not summary:
        return summary or ""
    for pattern, key in _PATTERNS:
        match = pattern.match(summary)
        if match:
            params = {k: v for k, v in match.groupdict().items() if v is not None}
            if "text2" in params:
                params["text"] = params.pop("text2")
            params.setdefault("text", "")
            if key == "server_error" and "action" not in params:
                key = "server_error_plain"
            return t(f"platform_error.{key}", **params)
    return summary


def say_listed(error: str) -> str:
    """An error listed as ``ACCOUNT: summary`` (metrics, listening), its summary in the user's words."""
    account, sep, summary = error.partition(": ")
    if sep and say(summary) != summary:
        return f"{account}: {say(summary)}"
    return say(error)
