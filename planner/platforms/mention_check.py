"""Bluesky @handles of a campaign checked against the accounts' own servers, for `campaign validate`.

A handle no one has stays plain text when published and notifies nobody (issue 13 item 4), so validation warns
about it. Validation is otherwise offline; this is the one question it asks a platform, and only:
- of a Bluesky account configured for one of the campaign's channels (its api_base_url, or bsky.social),
- with the public com.atproto.identity.resolveHandle (no credentials, no login),
- within a short timeout per request and a short budget per server. A server that does not answer in time is
  not asked again in this run, and the result says which channels could not be checked and why.
Warnings never fail validation: an unknown handle may be a typo, or an account still to be made.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

REQUEST_TIMEOUT = 3.0  # seconds per resolveHandle
SERVER_BUDGET = 8.0  # seconds of asking one server in all


@dataclass
class MentionCheck:
    unknown: list[tuple[str, str, str]] = field(default_factory=list)  # (content id, channel, handle)
    # (channel, why it could not be checked: "unreachable", "budget" or "not_configured", the server asked)
    unchecked: list[tuple[str, str, str]] = field(default_factory=list)
    checked: int = 0  # handles the servers answered for

    @property
    def mentions(self) -> bool:
        return bool(self.unknown or self.unchecked or self.checked)


def bluesky_mentions(rows: list[dict]) -> dict[str, dict[str, list[str]]]:
    """channel -> content id -> the @handles in its texts (published text with its link, and thread parts),
    for the Bluesky rows of ``desired_posts``; each content once per channel."""
    from planner.domain.text_rules import append_link

    # No "@" in any Bluesky text: nothing to ask, and the Bluesky SDK (a large import) stays unloaded.
    rows = [row for row in rows if row["platform"] == "bluesky"
            and any("@" in text for text in (row["text"], row["link"] or "", *row["thread"]))]
    if not rows:
        return {}
    from planner.platforms.bluesky import mentions_in

    found: dict[str, dict[str, list[str]]] = {}
    for row in rows:
        if row["platform"] != "bluesky" or row["content_id"] in found.get(row["channel"], {}):
            continue
        texts = [append_link(row["text"], row["link"]), *row["thread"]]
        handles = list(dict.fromkeys(handle for text in texts for _, _, handle in mentions_in(text)))
        if handles:
            found.setdefault(row["channel"], {})[row["content_id"]] = handles
    return found


def check_mentions(config, rows: list[dict], *, timeout: float = REQUEST_TIMEOUT,
                   budget: float = SERVER_BUDGET) -> MentionCheck:
    """The @handles of the Bluesky rows that their account's server does not know, and the channels whose
    server could not be asked."""
    result = MentionCheck()
    wanted = bluesky_mentions(rows)
    if not wanted:
        return result
    from planner.platforms.base import Account, PlatformError
    from planner.platforms.bluesky import DEFAULT_BASE_URL, BlueskyAdapter

    for channel, by_content in wanted.items():
        configured = config.accounts.get(channel) if config is not None else None
        if configured is None or configured.platform != "bluesky":
            result.unchecked.append((channel, "not_configured", ""))
            continue
        server = configured.api_base_url or DEFAULT_BASE_URL
        adapter = BlueskyAdapter(Account(name=channel, platform="bluesky", handle=configured.handle or "",
                                         api_base_url=configured.api_base_url), timeout=timeout)
        deadline = time.monotonic() + budget
        known: dict[str, bool] = {}
        try:
            for content_id, handles in by_content.items():
                for handle in handles:
                    if handle not in known:
                        if time.monotonic() > deadline:
                            raise TimeoutError
                        known[handle] = adapter.resolve_handle(handle) is not None
                        result.checked += 1
                    if not known[handle]:
                        result.unknown.append((content_id, channel, handle))
        except PlatformError:  # no answer, or not one to trust: said as such, the details are the server's
            result.unchecked.append((channel, "unreachable", server))
        except TimeoutError:
            result.unchecked.append((channel, "budget", server))
    return result
