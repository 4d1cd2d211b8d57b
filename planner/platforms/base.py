"""The one small contract every platform adapter implements.

An adapter talks to one account on one platform through that platform's real SDK.
It never touches the store: it receives plain values and returns plain values.
Every failure is raised as one of three kinds, so the publishing engine can decide
what to do without knowing the platform:

- RetryableError: nothing was applied; try again later (after ``retry_after`` seconds if given).
- PermanentError: the platform refused; retrying will not help (message kept for the user).
- UnknownOutcomeError: the request may have been applied (timeout after sending, dropped
  connection). Never retry blindly: reconcile with ``find_published`` first.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

from planner.platforms.redaction import safe_error


@dataclass(frozen=True)
class Account:
    """A configured account with its secrets already resolved (never persisted)."""

    name: str
    platform: str
    handle: str = ""
    api_base_url: str | None = None
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    options: Mapping[str, Any] = field(default_factory=dict)
    # OAuth 2.0 accounts whose access token expires: the source of a fresh one (planner.accounts.tokens).
    tokens: Any = field(default=None, compare=False, repr=False)

    def secret_values(self) -> list[str]:
        return [v for v in self.credentials.values() if v]


@dataclass(frozen=True)
class OutgoingPost:
    """What to publish: one outbox row, rendered for its channel."""

    post_id: int
    idempotency_key: str  # stable for the (content, channel) pair; reused on every attempt
    text: str
    link: str | None = None
    media: Sequence[Path] = ()
    thread: Sequence[str] = ()  # further texts posted as a reply chain (X, Mastodon, Bluesky)
    # Platform ids of the thread's parts already live (head first): publishing continues after them.
    parts_done: Sequence[str] = ()
    # Called with each new part's platform id as soon as it is live (and before the next part is
    # sent), so the progress survives a crash. It raises if the progress could not be saved: the
    # adapter must then stop.
    on_part: Callable[[str], None] | None = field(default=None, compare=False, repr=False)

    def part_live(self, platform_id: str) -> None:
        if self.on_part is not None:
            self.on_part(platform_id)

    @property
    def fingerprint(self) -> str:
        return content_fingerprint(self.text)


@dataclass(frozen=True)
class PublishedRef:
    platform_post_id: str
    url: str | None = None
    published_at: datetime | None = None


@dataclass(frozen=True)
class MetricSnapshot:
    platform_post_id: str
    metric: str  # our normalised names: views, impressions, likes, reposts, replies, quotes, clicks, engagements...
    value: int
    collected_at: datetime


@dataclass(frozen=True)
class Mention:
    platform: str
    platform_id: str
    keyword: str
    text: str
    author: str = ""
    url: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class RateLimit:
    """What a platform tells of an account's limits, as figures (the CLI words them in the user's language)."""

    remaining: int | None = None         # requests left in the current window
    limit: int | None = None             # requests allowed in a window
    resets_at: datetime | None = None    # when the window starts again (UTC)
    usage_percent: float | None = None   # Meta Graph: share of the call quota used
    published: int | None = None         # Instagram: posts published in the quota window
    quota: int | None = None             # Instagram: posts allowed in the quota window
    window_hours: float | None = None    # Instagram: length of the quota window


@dataclass(frozen=True)
class AccountStatus:
    """Answer of ``check_credentials``: who we post as, and the rate-limit state if known."""

    display_name: str
    handle: str
    rate_limit: RateLimit | None = None
    # The longest text the account may post, when the platform says so (a Mastodon instance's
    # configuration.statuses.max_characters); None: the platform's documented limit (text_rules.LIMITS).
    text_limit: int | None = None


class PlatformError(Exception):
    def __init__(self, message: str, *, platform: str = "", status: int | None = None):
        # Platforms and proxies echo requests (tokens in paths, headers, bodies) and can answer with
        # whole pages: every error message is masked and cut once, here, before anyone shows or stores it.
        message = safe_error(message)
        super().__init__(message)
        self.message = message
        self.platform = platform
        self.status = status


class RetryableError(PlatformError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class PermanentError(PlatformError):
    pass


class CredentialsError(PermanentError):
    """Missing, invalid or expired credentials: the user must reconnect the account."""


class UnknownOutcomeError(PlatformError):
    pass


def thread_part_error(exc: PlatformError, *, number: int, total: int, head: str) -> PlatformError:
    """A later part of a thread failed while the parts before it are live (and recorded).

    Same kind as ``exc``: a retry (or reconciliation) continues after the live parts, so nothing is
    posted twice and no part is left out.
    """
    message = (f"{exc.message} (thread part {number} of {total}; the {number - 1} part(s) before it are live, "
               f"first {head}, and publishing continues after them)")
    kind = type(exc) if isinstance(exc, (RetryableError, PermanentError, UnknownOutcomeError)) else PlatformError
    error = kind(message, platform=exc.platform, status=exc.status)
    if isinstance(exc, RetryableError):
        error.retry_after = exc.retry_after
    return error


class NotSupported(PlatformError):
    """The platform does not offer this (e.g. Telegram has no metrics, no search)."""


class Adapter(Protocol):
    platform: str
    # Largest batch ``fetch_metrics`` accepts in one call.
    metrics_batch_size: int

    def publish(self, post: OutgoingPost) -> PublishedRef: ...

    def find_published(self, post: OutgoingPost, since: datetime) -> PublishedRef | None:
        """The post if it is on the platform, None if it certainly is not.

        Raises PlatformError when it cannot tell (the caller marks the post needs_review).
        """

    def fetch_metrics(self, refs: Sequence[str]) -> list[MetricSnapshot]: ...

    def search_mentions(self, keywords: Sequence[str], since: datetime | None) -> list[Mention]: ...

    def check_credentials(self) -> AccountStatus: ...


_WS = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    return _WS.sub(" ", unicodedata.normalize("NFC", text)).strip().casefold()


def content_fingerprint(text: str) -> str:
    """Identifies a text regardless of whitespace and case; used to find our own posts again."""
    return hashlib.sha256(normalise_text(text).encode()).hexdigest()[:32]


def same_text(a: str, b: str) -> bool:
    return normalise_text(a) == normalise_text(b)
