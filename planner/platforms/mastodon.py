"""Mastodon adapter, on Mastodon.py (requests underneath).

Account: credentials ``access_token``; ``api_base_url`` is required (the instance, e.g.
https://mastodon.social, or the sandbox). No options.

Publishing sends Mastodon's ``Idempotency-Key`` (the post's key; ``{key}-{i}`` for thread part i):
for about an hour the server answers a repeated POST with the original status instead of creating
a second one. The publishing engine still reconciles with ``find_published`` after an unknown
outcome instead of relying on that.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
import re
from typing import Any, Callable, Iterable, Sequence, TypeVar

import requests
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonIllegalArgumentError,
    MastodonIOError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonVersionError,
)

from planner.domain.text_rules import append_link
from planner.platforms.base import (
    Account,
    AccountStatus,
    CredentialsError,
    Mention,
    MetricSnapshot,
    OutgoingPost,
    PermanentError,
    PlatformError,
    PublishedRef,
    RateLimit,
    RetryableError,
    UnknownOutcomeError,
    same_text,
    thread_part_error,
)
from planner.platforms.transport import classify_transport_error

PLATFORM = "mastodon"
METRICS_BATCH = 20  # GET /api/v1/statuses?id[]= (Mastodon 4.3+) takes up to 20 ids
PAGE = 40  # the largest page Mastodon serves
MAX_PAGES = 10
MEDIA_PROCESSING_WAIT = 60.0  # seconds to wait for an uploaded attachment to be processed
CLOCK_MARGIN = timedelta(minutes=10)  # our clock vs the server's, when turning a time into an id
_METRICS = (("likes", "favourites_count"), ("reposts", "reblogs_count"), ("replies", "replies_count"))
_HASHTAG = re.compile(r"#?(\w+)")

T = TypeVar("T")


def create(account: Account, timeout: float) -> "MastodonAdapter":
    return MastodonAdapter(account, timeout)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(content: str) -> str:
    """Mastodon's status HTML back to text. Links keep their full URL: Mastodon only hides part of
    it in ``<span class="invisible">``, it does not shorten it."""
    extractor = _TextExtractor()
    extractor.feed(content or "")
    extractor.close()
    return "".join(extractor.parts).strip()


def snowflake_at(moment: datetime) -> str:
    """The smallest Mastodon status id created at ``moment`` (ids are milliseconds << 16)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return str(int(moment.timestamp() * 1000) << 16)


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, str) and value:
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None


class MastodonAdapter:
    platform = PLATFORM
    metrics_batch_size = METRICS_BATCH

    def __init__(self, account: Account, timeout: float):
        token = account.credentials.get("access_token")
        if not token:
            raise CredentialsError(f"mastodon account {account.name!r} has no access_token; reconnect it",
                                   platform=PLATFORM)
        if not account.api_base_url:
            raise PermanentError(f"mastodon account {account.name!r} needs api_base_url (the instance URL, "
                                 "e.g. https://mastodon.social)", platform=PLATFORM)
        self.account = account
        self._session = requests.Session()
        self._api = Mastodon(
            access_token=token,
            api_base_url=account.api_base_url,
            request_timeout=timeout,
            session=self._session,
            version_check_mode="none",
            ratelimit_method="throw",
            user_agent="humas-planner",
        )
        self._own_id: str | None = None
        self._version_known = False
        self._batch_lookup = True

    def __repr__(self) -> str:
        return f"MastodonAdapter(account={self.account.name!r}, instance={self.account.api_base_url!r})"

    def close(self) -> None:
        self._session.close()

    # --- publishing -------------------------------------------------------------------------------
    def publish(self, post: OutgoingPost) -> PublishedRef:
        """The status, then each thread part as a reply to the one before; continues after ``parts_done``."""
        texts = [append_link(post.text, post.link), *post.thread]
        live = list(post.parts_done)
        head = None
        if not live:
            media_ids = [self._upload(path) for path in post.media]
            head = self._post_status(texts[0], post.idempotency_key, media_ids=media_ids)
            live.append(str(head["id"]))
            post.part_live(live[-1])
        for i in range(len(live), len(texts)):
            try:
                status = self._post_status(texts[i], f"{post.idempotency_key}-{i}", in_reply_to=live[-1])
            except PlatformError as exc:
                raise thread_part_error(exc, number=i + 1, total=len(texts), head=live[0]) from None
            live.append(str(status["id"]))
            post.part_live(live[-1])
        if head is None:  # continued a thread begun earlier: its address comes from the platform
            head = self._call(lambda: self._api.status(live[0]))
        return _ref(head)

    def _post_status(self, text: str, key: str, *, media_ids: Sequence[str] = (),
                     in_reply_to: str | None = None) -> dict:
        return self._call(lambda: self._api.status_post(
            text, in_reply_to_id=in_reply_to, media_ids=list(media_ids) or None,
            visibility="public", idempotency_key=key), creates=True)

    def _upload(self, path) -> str:
        """Uploads one attachment and waits until the server has processed it (v2 answers 202, url null).

        Not a 'create' for error mapping: an attachment that is never attached is cleaned up by the server.
        """
        self._ensure_version()
        media = self._call(lambda: self._api.media_post(path))
        deadline = time.monotonic() + MEDIA_PROCESSING_WAIT
        delay = 0.1
        while media.get("url") is None:
            if time.monotonic() > deadline:
                raise RetryableError(f"mastodon: attachment {path} still processing after "
                                     f"{MEDIA_PROCESSING_WAIT:.0f} s", platform=PLATFORM)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
            media_id = media["id"]
            media = self._call(lambda: self._api.media(media_id))
        return str(media["id"])

    # --- reconciliation ------------------------------------------------------------------------------
    def find_published(self, post: OutgoingPost, since: datetime) -> PublishedRef | None:
        """Our post if the account has it, by comparing text (never by posting again).

        Mastodon would answer a repeated POST with the same Idempotency-Key with the original status for
        about an hour, but reconciliation must not create anything, so it lists the account's statuses
        since ``since`` and compares their text (HTML stripped) with what was sent. A thread is followed
        reply by reply; parts found live are reported through ``post.on_part``, and when the thread is
        incomplete the answer is None: publishing again continues after them.
        """
        statuses, complete = self._recent_statuses(since)
        oldest_first = list(reversed(statuses))
        texts = [append_link(post.text, post.link), *post.thread]
        live = list(post.parts_done)
        if not live:
            head = next((s for s in oldest_first
                         if s.get("in_reply_to_id") is None and same_text(plain_text(s["content"]), texts[0])), None)
            if head is None:
                if complete:
                    return None
                raise PlatformError(f"mastodon: more than {MAX_PAGES * PAGE} statuses since "
                                    f"{since:%Y-%m-%d %H:%M}; cannot tell whether the post is among them",
                                    platform=PLATFORM)
            live.append(str(head["id"]))
            post.part_live(live[-1])
        for text in texts[len(live):]:
            reply = next((s for s in oldest_first if str(s.get("in_reply_to_id")) == live[-1]
                          and same_text(plain_text(s["content"]), text)), None)
            if reply is None:
                return None  # the rest of the thread is not there: publishing again continues after `live`
            live.append(str(reply["id"]))
            post.part_live(live[-1])
        head = next((s for s in statuses if str(s["id"]) == live[0]), None)
        return _ref(head) if head is not None else _ref(self._call(lambda: self._api.status(live[0])))

    def _recent_statuses(self, since: datetime) -> tuple[list[dict], bool]:
        """The account's statuses since ``since`` (newest first), and whether that list is complete."""
        account_id = self._account_id()
        floor = snowflake_at(since - CLOCK_MARGIN)
        found: list[dict] = []
        max_id = None
        for _ in range(MAX_PAGES):
            page = self._call(lambda: self._api.account_statuses(
                account_id, since_id=floor, max_id=max_id, limit=PAGE, exclude_reblogs=True))
            found.extend(page)
            if len(page) < PAGE:
                return found, True
            max_id = page[-1]["id"]
        return found, False

    # --- metrics ------------------------------------------------------------------------------------------
    def fetch_metrics(self, refs: Sequence[str]) -> list[MetricSnapshot]:
        collected_at = datetime.now(timezone.utc)
        snapshots = []
        for chunk in _chunks(list(refs), METRICS_BATCH):
            for status in self._lookup(chunk):
                for metric, field in _METRICS:
                    value = status.get(field)
                    if value is not None:
                        snapshots.append(MetricSnapshot(str(status["id"]), metric, int(value), collected_at))
        return snapshots

    def _lookup(self, ids: Sequence[str]) -> list[dict]:
        if self._batch_lookup:
            try:
                return list(self._call(lambda: self._api.statuses(list(ids)), passthrough=MastodonNotFoundError))
            except MastodonNotFoundError:
                self._batch_lookup = False  # before Mastodon 4.3: one request per status
        statuses = []
        for status_id in ids:
            try:
                statuses.append(self._call(lambda: self._api.status(status_id), passthrough=MastodonNotFoundError))
            except MastodonNotFoundError:
                continue  # deleted: no metrics rather than an error for the whole batch
        return statuses

    # --- listening ------------------------------------------------------------------------------------------
    def search_mentions(self, keywords: Sequence[str], since: datetime | None) -> list[Mention]:
        """Statuses matching each keyword: full-text search, plus the hashtag timeline for one-word keywords.

        Full-text search only covers what the instance indexes (its own and opted-in posts), so the
        hashtag timeline catches the rest of the public conversation the instance knows about.
        """
        self._ensure_version()
        floor = snowflake_at(since) if since else None
        own_id = self._account_id()
        mentions: list[Mention] = []
        for keyword in keywords:
            seen: set[str] = set()
            statuses = self._paged(lambda max_id: self._api.search_v2(
                keyword, resolve=False, result_type="statuses", min_id=floor, max_id=max_id,
                limit=PAGE)["statuses"])
            tag = _HASHTAG.fullmatch(keyword.strip())
            if tag:
                statuses += self._paged(lambda max_id: self._api.timeline_hashtag(
                    tag.group(1), since_id=floor, max_id=max_id, limit=PAGE))
            for status in statuses:
                status_id = str(status["id"])
                if status_id in seen or str(status["account"]["id"]) == own_id:
                    continue
                seen.add(status_id)
                mentions.append(Mention(
                    platform=PLATFORM, platform_id=status_id, keyword=keyword,
                    text=plain_text(status["content"]), author=status["account"]["acct"],
                    url=status.get("url") or status.get("uri"), created_at=_as_datetime(status.get("created_at"))))
        return mentions

    def _paged(self, fetch: Callable[[str | None], list]) -> list[dict]:
        found: list[dict] = []
        max_id = None
        for _ in range(MAX_PAGES):
            page = self._call(lambda: fetch(max_id))
            found.extend(page)
            if len(page) < PAGE:
                break
            max_id = str(page[-1]["id"])
        return found

    # --- account -------------------------------------------------------------------------------------------------
    def check_credentials(self) -> AccountStatus:
        me = self._call(self._api.account_verify_credentials)
        self._own_id = str(me["id"])
        reset = self._api.ratelimit_reset
        rate = RateLimit(remaining=self._api.ratelimit_remaining, limit=self._api.ratelimit_limit,
                         resets_at=datetime.fromtimestamp(reset, timezone.utc) if reset else None)
        return AccountStatus(display_name=me.get("display_name") or me["username"], handle=f"@{me['acct']}",
                             rate_limit=rate, text_limit=self._max_characters())

    def _max_characters(self) -> int | None:
        """The instance's status length: configuration.statuses.max_characters of /api/v2/instance
        (https://docs.joinmastodon.org/entities/Instance/#max_characters), else of /api/v1/instance
        (Mastodon 3.x); None when the instance does not say."""
        for read in (self._api.instance_v2, self._api.instance_v1):
            try:
                info = self._call(read)
            except PlatformError:
                continue
            value = ((info.get("configuration") or {}).get("statuses") or {}).get("max_characters")
            if isinstance(value, int) and value > 0:
                return value
        return None

    def _account_id(self) -> str:
        if self._own_id is None:
            self._own_id = str(self._call(self._api.account_verify_credentials)["id"])
        return self._own_id

    def _ensure_version(self) -> None:
        """Learn the server version once: Mastodon.py picks endpoints (media v1/v2, search) by it."""
        if self._version_known:
            return
        try:
            self._call(lambda: self._api.retrieve_mastodon_version(fail_hard=True), passthrough=MastodonVersionError)
        except MastodonVersionError as exc:
            # v2 instance info missing (Mastodon < 4): the version from v1 was read already.
            if not isinstance(exc.__cause__, MastodonNotFoundError):
                raise self._map(exc.__cause__ or exc, creates=False) from None
        self._version_known = True

    # --- errors -----------------------------------------------------------------------------------------------------
    def _call(self, fn: Callable[[], T], *, creates: bool = False, passthrough: type | tuple = ()) -> T:
        try:
            return fn()
        except passthrough:
            raise
        except MastodonError as exc:
            raise self._map(exc, creates) from None  # the SDK error repeats the answer, unmasked

    def _map(self, exc: BaseException, creates: bool) -> PlatformError:
        name = self.account.name
        if isinstance(exc, MastodonRatelimitError):
            reset = self._api.ratelimit_reset
            retry_after = max(0.0, reset - time.time()) if reset else None
            when = f"; resets in {retry_after:.0f} s" if retry_after is not None else ""
            return RetryableError(f"mastodon: rate limited{when}", retry_after=retry_after, platform=PLATFORM,
                                  status=429)
        if isinstance(exc, MastodonNetworkError):
            cause = exc.__cause__ or exc.__context__
            mapped = classify_transport_error(cause, platform=PLATFORM, creates=creates) if cause else None
            if mapped is not None:
                return mapped
            if creates:
                return UnknownOutcomeError("mastodon: no answer after the request was sent; it may have been "
                                           "published", platform=PLATFORM)
            return RetryableError("mastodon: no answer from the server", platform=PLATFORM)
        if isinstance(exc, MastodonAPIError):
            status = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
            message = (exc.args[3] if len(exc.args) > 3 else None) or (exc.args[2] if len(exc.args) > 2 else None)
            if status is None:  # an answer that is not JSON
                if creates:
                    return UnknownOutcomeError("mastodon: unreadable answer to a publish; it may have been "
                                               "published", platform=PLATFORM)
                return RetryableError("mastodon: unreadable answer from the server", platform=PLATFORM)
            if status == 429:
                return RetryableError("mastodon: rate limited", platform=PLATFORM, status=status)
            if status >= 500:
                return RetryableError(f"mastodon: server error {status}: {message}", platform=PLATFORM,
                                      status=status)
            if status in (401, 403):
                return CredentialsError(f"mastodon: the instance refused the access token of account {name!r} "
                                        f"({message}); reconnect the account", platform=PLATFORM, status=status)
            return PermanentError(f"mastodon: {message} (HTTP {status})", platform=PLATFORM, status=status)
        if isinstance(exc, (MastodonIllegalArgumentError, MastodonIOError)):
            return PermanentError(f"mastodon: {exc}", platform=PLATFORM)
        return PermanentError(f"mastodon: {type(exc).__name__}: {exc}", platform=PLATFORM)


def _ref(status: dict) -> PublishedRef:
    return PublishedRef(platform_post_id=str(status["id"]), url=status.get("url") or status.get("uri"),
                        published_at=_as_datetime(status.get("created_at")))
