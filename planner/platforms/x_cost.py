"""What a campaign's posts on X are expected to cost under X's pay-per-use pricing.

X charges per write request and per resource read (https://docs.x.com/x-api/getting-started/pricing,
read 2026-12): "Content: Create" $0.015 per request, "Content: Create (with URL)" $0.200 per request,
"Posts: Read" $0.005 per post returned. Those are the defaults; an office whose prices differ (a new price
list, an Enterprise agreement) sets them in config.toml:

    [costs.x]
    post = 0.015            # USD per post (each part of a thread is a post)
    post_with_link = 0.200  # USD per post whose text holds a URL
    post_read = 0.005       # USD per post read (metrics, listening)
    daily_read_budget = 1.00  # USD a day that listening may spend reading X (0: no listening on X)
"""

from __future__ import annotations

from typing import Iterable

DEFAULT_PRICES = {"post": 0.015, "post_with_link": 0.200, "post_read": 0.005}
DEFAULT_DAILY_READ_BUDGET = 1.00  # USD: 200 mentions a day at the default post_read price


class PriceError(ValueError):
    """A [costs.x] value that is not a price: (key, value)."""


def x_prices(config) -> dict[str, float]:
    """The prices in use: [costs.x] of config.toml over X's published defaults, with "daily_read_budget".
    Raises PriceError."""
    table = ((getattr(config, "raw", None) or {}).get("costs") or {}).get("x") or {}
    prices = {**DEFAULT_PRICES, "daily_read_budget": DEFAULT_DAILY_READ_BUDGET}
    for key, value in table.items():
        if key not in prices or isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise PriceError(key, value)
        prices[key] = float(value)
    return prices


def estimate(rows: Iterable[dict], prices: dict[str, float]) -> dict:
    """{"posts", "with_link", "usd"} of the X rows among ``rows`` (campaign_files.desired_posts rows): every
    part of a thread is one post, priced with a link when its text as published holds a URL."""
    from planner.domain.text_rules import append_link, find_urls

    posts = with_link = 0
    for row in rows:
        if row.get("platform") != "x":
            continue
        for text in (append_link(row["text"], row.get("link")), *row.get("thread", ())):
            posts += 1
            with_link += bool(find_urls(text))
    usd = (posts - with_link) * prices["post"] + with_link * prices["post_with_link"]
    return {"posts": posts, "with_link": with_link, "usd": round(usd, 4)}
