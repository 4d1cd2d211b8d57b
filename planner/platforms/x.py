"""X (Twitter) adapter: tweepy's API v2 ``Client`` over the account's ``api_base_url``.

tweepy hard-codes https://api.twitter.com, so a requests transport adapter mounted on the
client's session rewrites scheme and host (and applies our timeout). tweepy 4.17 only knows the
retired v1.1 media upload, so images go through ``POST /2/media/upload`` on the same session, and
an animated GIF or a video through its chunked form (INIT, APPEND, FINALIZE, then STATUS until
processed; https://docs.x.com/x-api/media/quickstart/media-upload-chunked). The media rules (kinds,
sizes, lengths) are text_rules.LIMITS["x"], checked again just before uploading.
Rate limits are handled here, never with ``wait_on_rate_limit`` (it busy-loops without a reset header).

Credentials: ``bearer_token`` (an OAuth 2.0 user-context access token), or OAuth 1.0a
``consumer_key``, ``consumer_secret``, ``access_token``, ``access_token_secret``.
"""

from __future__ import annotations

import html
import mimetypes
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Sequence
from urllib.parse import urlsplit, urlunsplit

import requests
import tweepy
from requests.adapters import HTTPAdapter

from planner.domain.text_rules import append_link, find_urls, media_rules
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
from planner.platforms.media_rules import refuse_unpublishable
from planner.platforms.transport import classify_transport_error

PLATFORM = "x"
X_API = "https://api.twitter.com"
OAUTH1_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
MAX_IMAGES = 4
DEFAULT_RETRY_AFTER = 60.0  # when a 429 comes without x-rate-limit-reset
MAX_TIMELINE_PAGES = 32  # 32 x 100 = the 3,200 most recent tweets X serves
MAX_SEARCH_PAGES = 5
MAX_QUERY_LENGTH = 512
SEARCH_WINDOW = timedelta(days=7)  # recent search only reaches this far back
# Chunked upload: APPEND segments of at most 5 MB (X's limit); each segment is retried in place a few times
# (same media_id, same segment_index: X keeps the last copy of a segment), then the post is retried later.
CHUNK_BYTES = 4 * 1024 * 1024
APPEND_ATTEMPTS = 3
PROCESSING_BUDGET = 600.0  # seconds of STATUS polling before giving up for now (nothing is public yet)
CHUNKED_CATEGORY = {"gif": "tweet_gif", "video": "tweet_video"}
CONTAINER_TYPES = {"gif": "image/gif", "mp4": "video/mp4", "mov": "video/quicktime"}

PUBLIC_METRICS = {"impression_count": "impressions", "like_count": "likes", "retweet_count": "reposts",
                  "reply_count": "replies", "quote_count": "quotes", "bookmark_count": "saves"}
PRIVATE_METRICS = {"url_link_clicks": "clicks", "impression_count": "impressions"}
ALL_METRIC_FIELDS = ["public_metrics", "non_public_metrics", "organic_metrics"]


class _Gateway(HTTPAdapter):
    """Sends requests addressed to api.twitter.com to ``base_url`` instead, with a default timeout."""

    def __init__(self, base_url: str | None, timeout: float):
        super().__init__()
        self._base = urlsplit(base_url.rstrip("/")) if base_url else None
        self._timeout = timeout

    def send(self, request, **kwargs):
        if self._base is not None:
            url = urlsplit(request.url)
            request.url = urlunsplit((self._base.scheme, self._base.netloc, self._base.path + url.path,
                                      url.query, ""))
            # Proxies were chosen for api.twitter.com; choose again for the real destination.
            kwargs["proxies"] = requests.utils.get_environ_proxies(request.url)
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().send(request, **kwargs)


class XAdapter:
    platform = PLATFORM
    metrics_batch_size = 100

    def __init__(self, account: Account, timeout: float = 10.0):
        self.account = account
        creds = account.credentials
        self._bearer = creds.get("bearer_token")
        if creds.get("bearer_token"):
            self._user_auth = False
            self._client = tweepy.Client(bearer_token=creds["bearer_token"], return_type=requests.Response)
        else:
            missing = [key for key in OAUTH1_KEYS if not creds.get(key)]
            if missing:
                raise CredentialsError(
                    f"x account {account.name!r}: missing credentials {', '.join(missing)} "
                    "(or give bearer_token); reconnect the account", platform=PLATFORM)
            self._user_auth = True
            self._client = tweepy.Client(**{key: creds[key] for key in OAUTH1_KEYS},
                                         return_type=requests.Response)
        self._client.session.mount(X_API + "/", _Gateway(account.api_base_url, timeout))
        self._me: dict | None = None
        self._private_metrics = True  # becomes False once X refuses non-public fields for this token
        self.chunk_bytes = CHUNK_BYTES
        self.processing_budget = PROCESSING_BUDGET

    # --- publishing ----------------------------------------------------------------------------
    def publish(self, post: OutgoingPost) -> PublishedRef:
        """The post, then each thread part as a reply to the one before; continues after ``parts_done``."""
        if len(post.media) > MAX_IMAGES:
            raise PermanentError(f"x: at most {MAX_IMAGES} images per tweet ({len(post.media)} given)",
                                 platform=PLATFORM)
        texts = [append_link(post.text, post.link), *post.thread]
        live = list(post.parts_done)
        if not live:
            refuse_unpublishable(PLATFORM, self.account.name, post.media)
            media_ids = [self._upload(Path(path)) for path in post.media]
            live.append(self._create_tweet(texts[0], media_ids=media_ids or None))
            post.part_live(live[-1])
        for number in range(len(live) + 1, len(texts) + 1):
            try:
                live.append(self._create_tweet(texts[number - 1], reply_to=live[-1]))
            except PlatformError as exc:
                raise thread_part_error(exc, number=number, total=len(texts), head=live[0]) from None
            post.part_live(live[-1])
        return PublishedRef(live[0], self._url(live[0]), datetime.now(timezone.utc))

    def _create_tweet(self, text: str, *, media_ids: list[str] | None = None, reply_to: str | None = None) -> str:
        response = self._call("publish", self._client.create_tweet, creates=True, text=text,
                              media_ids=media_ids, in_reply_to_tweet_id=reply_to, user_auth=self._user_auth)
        try:
            return str(response.json()["data"]["id"])
        except (ValueError, KeyError, TypeError):
            raise UnknownOutcomeError("x: the tweet was accepted but the answer had no tweet id",
                                      platform=PLATFORM, status=response.status_code) from None

    def _upload(self, path: Path) -> str:
        kind, _ = media_rules(PLATFORM, path.name)
        if kind in CHUNKED_CATEGORY:
            return self._upload_chunked(path, kind)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PermanentError(f"x: cannot read image {path.name}: {exc.strerror}", platform=PLATFORM) from None
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        # An upload creates nothing public: an unanswered one is safe to retry.
        response = self._raw("POST", "/2/media/upload", "upload media", files={"media": (path.name, data, mime)},
                             data={"media_category": "tweet_image"})
        try:
            return str(response.json()["data"]["id"])
        except (ValueError, KeyError, TypeError):
            raise RetryableError("x: media upload answer had no media id", platform=PLATFORM) from None

    def _upload_chunked(self, path: Path, kind: str) -> str:
        """INIT, APPEND each segment, FINALIZE, then STATUS until X has processed it: the media id.

        Nothing here is public: a failure leaves at most an unused upload behind, and the post is retried
        from a new INIT later. An APPEND that got no answer is sent again as is (same media id and segment
        index), which X takes as the same segment.
        """
        from planner.domain.media import HEAD_BYTES, sniff

        try:
            handle = open(path, "rb")
        except OSError as exc:
            raise PermanentError(f"x: cannot read media {path.name}: {exc.strerror}", platform=PLATFORM) from None
        with handle:
            size = path.stat().st_size
            mime = CONTAINER_TYPES.get(sniff(handle.read(HEAD_BYTES)) or "", "application/octet-stream")
            handle.seek(0)
            answer = self._command("INIT", {"media_type": mime, "total_bytes": str(size),
                                            "media_category": CHUNKED_CATEGORY[kind]})
            media_id = self._media_id(answer)
            index = 0
            while segment := handle.read(self.chunk_bytes):
                self._append(media_id, index, segment)
                index += 1
        answer = self._command("FINALIZE", {"media_id": media_id})
        self._wait_processed(media_id, (self._data(answer).get("processing_info") or None))
        return media_id

    def _command(self, command: str, fields: dict[str, str], segment: bytes | None = None) -> requests.Response:
        # multipart/form-data, as X documents for every command of the chunked upload
        files = {name: (None, value) for name, value in {"command": command, **fields}.items()}
        if segment is not None:
            files["media"] = ("blob", segment, "application/octet-stream")
        return self._raw("POST", "/2/media/upload", f"upload media ({command})", files=files)

    def _append(self, media_id: str, index: int, segment: bytes) -> None:
        for attempt in range(1, APPEND_ATTEMPTS + 1):
            try:
                self._command("APPEND", {"media_id": media_id, "segment_index": str(index)}, segment)
                return
            except RetryableError as exc:
                if attempt == APPEND_ATTEMPTS:
                    raise RetryableError(f"{exc.message} (segment {index} of media {media_id}, "
                                         f"{APPEND_ATTEMPTS} attempts)", platform=PLATFORM,
                                         retry_after=exc.retry_after, status=exc.status) from None
                time.sleep(min(exc.retry_after or float(attempt), 5.0))

    def _wait_processed(self, media_id: str, info: dict | None) -> None:
        """Poll STATUS as long as X says, waiting check_after_secs between polls."""
        deadline = time.monotonic() + self.processing_budget
        while info is not None:
            state = info.get("state")
            if state == "succeeded":
                return
            if state == "failed":
                error = info.get("error") or {}
                detail = self._scrub(str(error.get("message") or error.get("name") or "processing failed"))
                raise PermanentError(f"x: X could not process the media ({detail})", platform=PLATFORM)
            wait = float(info.get("check_after_secs") or 1)
            if time.monotonic() + wait > deadline:
                raise RetryableError(f"x: media {media_id} still processing ({state}) after "
                                     f"{self.processing_budget:g} s", retry_after=60, platform=PLATFORM)
            time.sleep(wait)
            answer = self._raw("GET", "/2/media/upload", "media upload status",
                               params={"command": "STATUS", "media_id": media_id})
            info = self._data(answer).get("processing_info")
            if info is None:
                return  # no processing_info: the media is ready

    @staticmethod
    def _data(response: requests.Response) -> dict:
        try:
            data = response.json().get("data")
        except (ValueError, AttributeError):
            data = None
        if not isinstance(data, dict):
            raise RetryableError("x: media upload answer had no data", platform=PLATFORM)
        return data

    def _media_id(self, response: requests.Response) -> str:
        media_id = self._data(response).get("id")
        if not media_id:
            raise RetryableError("x: media upload answer had no media id", platform=PLATFORM)
        return str(media_id)

    # --- reconciliation ------------------------------------------------------------------------
    def find_published(self, post: OutgoingPost, since: datetime) -> PublishedRef | None:
        """The post if the account's timeline since ``since`` has it, with every thread part.

        Parts found live that were not recorded yet are reported through ``post.on_part``; when the
        thread is incomplete the answer is None and publishing again continues after them.
        """
        texts = [append_link(post.text, post.link), *post.thread]
        live = list(post.parts_done)
        if not live and not _comparable(texts[0]).strip():
            raise PlatformError("x: a tweet without text cannot be recognised by its text", platform=PLATFORM)
        tweets = self._timeline(since)
        if not live:
            head = next((t for t in reversed(tweets) if same_text(_comparable(t.get("text", "")),
                                                                   _comparable(texts[0]))), None)
            if head is None:
                return None
            live.append(head["id"])
            post.part_live(head["id"])
        for text in texts[len(live):]:
            reply = next((t for t in reversed(tweets) if _replied_to(t) == live[-1]
                          and same_text(_comparable(t.get("text", "")), _comparable(text))), None)
            if reply is None:
                return None  # the rest of the thread is not there: publishing again continues after `live`
            live.append(reply["id"])
            post.part_live(reply["id"])
        head = next((t for t in tweets if t["id"] == live[0]), {})
        return PublishedRef(live[0], self._url(live[0]), _parse_time(head.get("created_at")))

    def _timeline(self, since: datetime) -> list[dict]:
        """The account's tweets since ``since`` (newest first)."""
        user_id = self._whoami()["id"]
        start = _utc(since) - timedelta(minutes=2)  # tolerate clock skew between us and X
        tweets: list[dict] = []
        token = None
        for _ in range(MAX_TIMELINE_PAGES):
            body = self._call("find published", self._client.get_users_tweets, user_id, user_auth=self._user_auth,
                              max_results=100, start_time=start, tweet_fields=["created_at", "referenced_tweets"],
                              pagination_token=token).json()
            tweets.extend(body.get("data") or [])
            token = (body.get("meta") or {}).get("next_token")
            if not token:
                return tweets
        raise PlatformError(f"x: more than {MAX_TIMELINE_PAGES * 100} tweets since {start:%Y-%m-%d %H:%M}; "
                            "cannot tell whether the post is among them", platform=PLATFORM)

    # --- metrics -------------------------------------------------------------------------------
    def fetch_metrics(self, refs: Sequence[str]) -> list[MetricSnapshot]:
        snapshots: list[MetricSnapshot] = []
        for start in range(0, len(refs), self.metrics_batch_size):
            snapshots += self._metrics_batch([str(r) for r in refs[start:start + self.metrics_batch_size]])
        return snapshots

    def _metrics_batch(self, ids: list[str]) -> list[MetricSnapshot]:
        tweets: dict[str, dict] = {}
        public_only = ids
        if self._private_metrics:
            try:
                body = self._lookup(ids, ALL_METRIC_FIELDS)
            except PermanentError as exc:
                if exc.status not in (400, 403):
                    raise
                # The whole request was refused for the non-public fields (e.g. an app-only token).
                self._private_metrics = False
            else:
                tweets = {t["id"]: t for t in body.get("data") or []}
                # X leaves out tweets whose non-public fields this token may not see: ask again without.
                refused = {e.get("resource_id") or e.get("value") for e in body.get("errors") or []
                           if "not-authorized-for-field" in e.get("type", "")}
                public_only = [i for i in ids if i in refused and i not in tweets]
        if public_only:
            body = self._lookup(public_only, ["public_metrics"])
            tweets.update({t["id"]: t for t in body.get("data") or []})
        now = datetime.now(timezone.utc)
        return [MetricSnapshot(tweet_id, metric, value, now)
                for tweet_id, tweet in tweets.items() for metric, value in _metrics(tweet).items()]

    def _lookup(self, ids: list[str], fields: list[str]) -> dict:
        return self._call("fetch metrics", self._client.get_tweets, ids, user_auth=self._user_auth,
                          tweet_fields=fields).json()

    # --- listening -----------------------------------------------------------------------------
    def search_mentions(self, keywords: Sequence[str], since: datetime | None) -> list[Mention]:
        keywords = [k.replace('"', " ").strip() for k in keywords]
        keywords = [k for k in keywords if k]
        earliest = datetime.now(timezone.utc) - SEARCH_WINDOW + timedelta(minutes=1)
        start = max(_utc(since), earliest) if since is not None else None
        found: dict[str, Mention] = {}
        for chunk in _query_chunks(keywords):
            query = " OR ".join(f'"{k}"' for k in chunk)
            query = (f"({query})" if len(chunk) > 1 else query) + " -is:retweet"
            token = None
            for _ in range(MAX_SEARCH_PAGES):
                body = self._call("search mentions", self._client.search_recent_tweets, query,
                                  user_auth=self._user_auth, max_results=100, start_time=start, next_token=token,
                                  tweet_fields=["created_at", "author_id"], expansions=["author_id"]).json()
                users = {u["id"]: u["username"] for u in (body.get("includes") or {}).get("users", [])}
                for tweet in body.get("data") or []:
                    if tweet["id"] not in found:
                        found[tweet["id"]] = _mention(tweet, users, chunk)
                token = (body.get("meta") or {}).get("next_token")
                if not token:
                    break
        epoch = datetime.min.replace(tzinfo=timezone.utc)
        return sorted(found.values(), key=lambda m: m.created_at or epoch, reverse=True)

    # --- account -------------------------------------------------------------------------------
    def check_credentials(self) -> AccountStatus:
        response = self._call("check credentials", self._client.get_me, user_auth=self._user_auth)
        self._me = response.json()["data"]
        # A token that may only read cannot post: refused here, before a post fails on it. OAuth 1.0a answers say
        # the app's permission level (developer.x.com/en/docs/apps/app-permissions); OAuth 2.0 grants have scopes.
        if self._user_auth and response.headers.get("x-access-level", "").strip() == "read":
            raise CredentialsError(f"x account {self.account.name!r}: these tokens may only read (x-access-level: "
                                   "read); set the app to Read and write, then make new tokens", platform=PLATFORM)
        granted = set((self.account.tokens.record().get("scope") or "").split()) if self.account.tokens else set()
        if granted and "tweet.write" not in granted:
            raise CredentialsError(f"x account {self.account.name!r}: the consent given does not include tweet.write "
                                   f"(granted: {' '.join(sorted(granted))}); reconnect: planner account connect "
                                   f"{self.account.name}", platform=PLATFORM)
        return AccountStatus(self._me.get("name", ""), self._me["username"], _rate_limit(response.headers))

    def _whoami(self) -> dict:
        if self._me is None:
            self._me = self._call("identify account", self._client.get_me, user_auth=self._user_auth).json()["data"]
        return self._me

    def _url(self, tweet_id: str) -> str:
        handle = self.account.handle.lstrip("@") or (self._me or {}).get("username")
        return f"https://x.com/{handle}/status/{tweet_id}" if handle else f"https://x.com/i/status/{tweet_id}"

    # --- HTTP and errors -----------------------------------------------------------------------
    def _use_token(self, token: str) -> None:
        self._bearer = self._client.bearer_token = token

    def _call(self, action: str, method, *args, creates: bool = False, **kwargs) -> requests.Response:
        tokens = self.account.tokens  # OAuth 2.0 with a refresh token: renewed before it runs out
        try:
            if tokens is not None:
                self._use_token(tokens.access_token())
            return method(*args, **kwargs)
        except tweepy.Unauthorized as exc:
            if tokens is None:
                error = self._http_error(action, exc.response)
            else:  # expired early, or renewed by another process: renew (or take theirs) and try once more
                self._use_token(tokens.refresh(failed=self._bearer))
                return self._call_once(action, method, *args, creates=creates, **kwargs)
        except tweepy.HTTPException as exc:
            error = self._http_error(action, exc.response)
        except requests.RequestException as exc:
            error = self._transport_error(action, exc, creates)
        raise error

    def _call_once(self, action: str, method, *args, creates: bool = False, **kwargs) -> requests.Response:
        try:
            return method(*args, **kwargs)
        except tweepy.HTTPException as exc:
            error = self._http_error(action, exc.response)
        except requests.RequestException as exc:
            error = self._transport_error(action, exc, creates)
        raise error

    def _raw(self, method: str, path: str, action: str, **kwargs) -> requests.Response:
        """A request tweepy has no method for, with the client's session and authentication."""
        headers = {"User-Agent": self._client.user_agent}
        if self._user_auth:
            creds = self.account.credentials
            kwargs["auth"] = tweepy.OAuth1UserHandler(*(creds[key] for key in OAUTH1_KEYS)).apply_auth()
        else:
            if self.account.tokens is not None:
                self._use_token(self.account.tokens.access_token())
            headers["Authorization"] = f"Bearer {self._bearer}"
        try:
            response = self._client.session.request(method, X_API + path, headers=headers, **kwargs)
        except requests.RequestException as exc:
            error = self._transport_error(action, exc, False)
        else:
            if response.ok:
                return response
            error = self._http_error(action, response)
        raise error

    def _transport_error(self, action: str, exc: requests.RequestException, creates: bool) -> PlatformError:
        return classify_transport_error(exc, platform=PLATFORM, creates=creates) or \
            RetryableError(f"x: {action} failed ({type(exc).__name__})", platform=PLATFORM)

    def _http_error(self, action: str, response: requests.Response) -> PlatformError:
        status, detail = response.status_code, self._scrub(_detail(response))
        if status == 429:
            capped = _daily_cap(response.headers)
            if capped is not None:  # the 24-hour cap: waiting for the 15-minute window would only fail again
                who, reset = capped
                return RetryableError(f"x: the {who} 24-hour cap is reached on {action}; waiting until "
                                      f"{datetime.fromtimestamp(reset, timezone.utc):%Y-%m-%d %H:%M} UTC",
                                      retry_after=max(1.0, reset - time.time()), platform=PLATFORM,
                                      status=status)
            retry_after = _retry_after(response.headers)
            return RetryableError(f"x: rate limited on {action}; retry in {retry_after:.0f} s",
                                  retry_after=retry_after, platform=PLATFORM, status=status)
        if status == 402 or "creditsdepleted" in detail.replace(" ", "").lower() \
                or _title(response) == "CreditsDepleted":
            return PermanentError(f"x: the X developer account has no credits left to {action} ({detail}); "
                                  "add credits in the X developer console, then retry the post",
                                  platform=PLATFORM, status=status)
        if status == 403 and _problem_type(response) == "client-forbidden":
            return PermanentError(f"x: X does not let this app {action} at its access level ({detail}); change "
                                  "the app's access level, Project or billing in the X developer console "
                                  "(reconnecting the account does not help)", platform=PLATFORM, status=status)
        if status >= 500:
            seconds = response.headers.get("retry-after", "")
            return RetryableError(f"x: server error {status} on {action}: {detail}",
                                  retry_after=float(seconds) if seconds.isdigit() else None,
                                  platform=PLATFORM, status=status)
        if status == 401:
            return CredentialsError(f"x account {self.account.name!r}: X refused the credentials ({detail}); "
                                    "reconnect the account", platform=PLATFORM, status=status)
        if status == 403 and _problem_type(response) == "unsupported-authentication":
            return CredentialsError(f"x account {self.account.name!r}: these credentials cannot {action} "
                                    f"({detail}); reconnect the account with user access", platform=PLATFORM,
                                    status=status)
        if status == 403 and _problem_type(response) == "oauth1-permissions":  # a Read-only app's tokens
            return CredentialsError(f"x account {self.account.name!r}: these tokens may only read ({detail}); set "
                                    "the app to Read and write, then make new tokens", platform=PLATFORM,
                                    status=status)
        if status == 403 and "duplicate content" in detail.lower():
            return PermanentError(f"x: the same text was already posted on this account and X refuses "
                                  f"duplicate tweets ({detail})", platform=PLATFORM, status=status)
        return PermanentError(f"x: {action} refused ({status}): {detail}", platform=PLATFORM, status=status)

    def _scrub(self, text: str) -> str:
        for secret in self.account.secret_values():
            text = text.replace(secret, "***")
        return text


def create(account: Account, timeout: float = 10.0) -> XAdapter:
    return XAdapter(account, timeout)


# --- helpers -----------------------------------------------------------------------------------
def _comparable(text: str) -> str:
    """X returns links (even scheme-less ones) as t.co links and escapes &, <, >: compare without links."""
    text = html.unescape(text)
    for start, end, _ in reversed(find_urls(text)):
        text = text[:start] + " " + text[end:]
    return text


def _replied_to(tweet: dict) -> str | None:
    return next((str(r.get("id")) for r in tweet.get("referenced_tweets") or [] if r.get("type") == "replied_to"),
                None)


def _detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason or str(response.status_code)
    if not isinstance(body, dict):
        return response.reason or str(response.status_code)
    messages = [e.get("message") or e.get("detail") for e in body.get("errors") or [] if isinstance(e, dict)]
    messages = [m for m in messages if m]
    detail = body.get("detail") or ""
    if messages and detail.startswith("One or more parameters"):
        return "; ".join(messages)
    return detail or "; ".join(messages) or body.get("title") or response.reason or str(response.status_code)


def _problem_type(response: requests.Response) -> str:
    """The last part of an X problem type, e.g. 'unsupported-authentication'."""
    try:
        return str(response.json().get("type", "")).rsplit("/", 1)[-1]
    except (ValueError, AttributeError):
        return ""


def _title(response: requests.Response) -> str:
    try:
        return str(response.json().get("title", ""))
    except (ValueError, AttributeError):
        return ""


# The 24-hour caps (https://docs.x.com/x-api/fundamentals/rate-limits: windows of 15 minutes or 24 hours):
# a 429 whose x-user-limit-24hour-remaining or x-app-limit-24hour-remaining is 0 lasts until that
# header's -reset (epoch seconds), whatever x-rate-limit-reset (the 15-minute window) says.
_DAILY_CAPS = (("account's", "x-user-limit-24hour"), ("app's", "x-app-limit-24hour"))


def _daily_cap(headers) -> tuple[str, int] | None:
    """("account's" | "app's", reset epoch) of a spent 24-hour cap (the later one if both are), or None."""
    spent = [(who, int(headers.get(f"{prefix}-reset", "")))
             for who, prefix in _DAILY_CAPS
             if headers.get(f"{prefix}-remaining", "").strip() == "0"
             and headers.get(f"{prefix}-reset", "").strip().isdigit()]
    return max(spent, key=lambda item: item[1]) if spent else None


def _retry_after(headers) -> float:
    reset = headers.get("x-rate-limit-reset", "")
    if not reset.isdigit():
        return DEFAULT_RETRY_AFTER
    return max(1.0, int(reset) - time.time())


def _rate_limit(headers) -> RateLimit | None:
    remaining, limit = headers.get("x-rate-limit-remaining"), headers.get("x-rate-limit-limit")
    if not (remaining or "").isdigit() or not (limit or "").isdigit():
        return None
    reset = headers.get("x-rate-limit-reset", "")
    return RateLimit(remaining=int(remaining), limit=int(limit),
                     resets_at=datetime.fromtimestamp(int(reset), timezone.utc) if reset.isdigit() else None)


def _metrics(tweet: dict) -> dict[str, int]:
    values: dict[str, int] = {}
    for field, names in (("public_metrics", PUBLIC_METRICS), ("non_public_metrics", PRIVATE_METRICS),
                         ("organic_metrics", PRIVATE_METRICS)):
        for key, name in names.items():
            value = (tweet.get(field) or {}).get(key)
            if isinstance(value, int) and name not in values:
                values[name] = value
    return values


def _mention(tweet: dict, users: dict[str, str], keywords: list[str]) -> Mention:
    text = html.unescape(tweet.get("text", ""))
    folded = text.casefold()
    keyword = next((k for k in keywords if k.casefold() in folded), keywords[0])
    author = users.get(tweet.get("author_id", ""), "")
    url = f"https://x.com/{author or 'i'}/status/{tweet['id']}"
    return Mention(PLATFORM, tweet["id"], keyword, text, author, url, _parse_time(tweet.get("created_at")))


def _query_chunks(keywords: list[str]) -> list[list[str]]:
    """Keywords grouped into OR-queries that fit X's query length limit."""
    chunks: list[list[str]] = []
    for keyword in keywords:
        candidate = (chunks[-1] if chunks else []) + [keyword]
        if chunks and len(" OR ".join(f'"{k}"' for k in candidate)) + 15 <= MAX_QUERY_LENGTH:
            chunks[-1] = candidate
        else:
            chunks.append([keyword[:MAX_QUERY_LENGTH - 20]])
    return chunks


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
