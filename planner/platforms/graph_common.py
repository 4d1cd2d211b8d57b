"""What the Facebook Page and Instagram adapters share: one Graph API client over facebook-sdk.

facebook-sdk 3.1 (2018) still does the HTTP, but three things are added around it:
- a current Graph version (its constructor only accepts versions up to v3.1);
- ``api_base_url`` support, by rewriting the host in a requests transport adapter;
- the mapping of Graph errors to our failure kinds, which needs the HTTP status and the
  usage headers that GraphAPIError does not carry (a response hook remembers them per thread).
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import facebook
import requests
from requests.adapters import HTTPAdapter

from planner.platforms.base import (
    Account,
    CredentialsError,
    OutgoingPost,
    PermanentError,
    PlatformError,
    RateLimit,
    RetryableError,
    normalise_text,
)
from planner.platforms.transport import classify_transport_error

log = logging.getLogger(__name__)

GRAPH_VERSION = "v23.0"
MAX_IDS = 50  # Graph multi-id reads (?ids=a,b,c) take at most 50 ids

# Throttling codes: 4 app, 17 user, 32 page, 613 custom, 80001-80014 business use case (page,
# Instagram, ads...). They arrive as HTTP 400/403, not 429.
THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})
TRANSIENT_CODES = frozenset({1, 2, -1, -2})  # "unknown"/"service" errors; Instagram uses -1/-2
PUBLISH_LIMIT_CODE = 9  # Instagram: content publishing limit (rolling 24 h) reached
DEFAULT_THROTTLE_WAIT = 60.0
PUBLISH_LIMIT_WAIT = 3600.0

_URL = re.compile(r"https?://\S+")


class BaseUrlAdapter(HTTPAdapter):
    """Sends requests meant for graph.facebook.com to another base URL (gateway, sandbox).

    facebook-sdk builds every URL from the module constant FACEBOOK_GRAPH_URL. Changing that
    global would redirect every account in the process, and two accounts with different base
    URLs may run concurrently, so the rewrite lives in each account's own session instead.
    """

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/") + "/"

    def send(self, request, **kwargs):
        if request.url.startswith(facebook.FACEBOOK_GRAPH_URL):
            request.url = self.base_url + request.url[len(facebook.FACEBOOK_GRAPH_URL):]
            if kwargs.get("proxies"):
                # requests chose proxies for graph.facebook.com; choose again for the real target
                # so that NO_PROXY (e.g. for 127.0.0.1) is honoured.
                kwargs["proxies"] = requests.utils.get_environ_proxies(request.url)
        return super().send(request, **kwargs)


class GraphClient:
    """One account's connection to the Graph API. Thread-safe for concurrent calls."""

    def __init__(self, account: Account, timeout: float, *, platform: str, token_key: str):
        self.platform = platform
        self.account_name = account.name
        token = (account.credentials.get(token_key) or "").strip()
        if not token:
            raise CredentialsError(
                f"{platform}: no {token_key} configured; reconnect account {account.name}",
                platform=platform)
        self._secrets = [s for s in account.secret_values() if len(s) >= 4]
        self._local = threading.local()
        session = requests.Session()
        # The token travels in a header, not in the query string as facebook-sdk would put it:
        # URLs end up in exception messages and urllib3's debug log.
        session.headers["Authorization"] = f"OAuth {token}"
        session.hooks["response"].append(self._remember)
        if account.api_base_url:
            session.mount(facebook.FACEBOOK_GRAPH_URL, BaseUrlAdapter(account.api_base_url))
        self.api = facebook.GraphAPI(timeout=timeout, session=session)
        self.api.version = GRAPH_VERSION  # the constructor rejects anything newer than v3.1
        self.expand_insights = True  # insights in multi-id reads; off once a metric is rejected

    # --- calls ---------------------------------------------------------------------------
    def get(self, path: str, **args: Any) -> Any:
        return self._call(path, args=args)

    def post(self, path: str, *, creates: bool, files: Mapping | None = None, **data: Any) -> Any:
        return self._call(path, data=data, files=files, creates=creates)

    def _call(self, path: str, *, args: dict | None = None, data: dict | None = None,
              files: Mapping | None = None, creates: bool = False) -> Any:
        self._local.status, self._local.headers = None, {}
        method = "POST" if data is not None or files else "GET"
        try:
            return self.api.request(f"{self.api.version}/{path}", args=args, post_args=data,
                                    files=files, method=method)
        except facebook.GraphAPIError as exc:
            raise self._graph_error(exc.result) from None
        except requests.RequestException as exc:
            error = classify_transport_error(exc, platform=self.platform, creates=creates)
            raise (error or self._unexpected_answer()) from None
        except (KeyError, ValueError):  # no content type, or a body that is not JSON
            raise self._unexpected_answer() from None

    def _remember(self, response: requests.Response, *args, **kwargs) -> None:
        self._local.status = response.status_code
        self._local.headers = response.headers

    @property
    def last_headers(self) -> Mapping[str, str]:
        return getattr(self._local, "headers", {}) or {}

    # --- errors ---------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _unexpected_answer(self) -> PlatformError:
        status = getattr(self._local, "status", None)
        if status is None or status >= 500 or status == 429:
            return RetryableError(f"{self.platform}: unexpected answer (HTTP {status})",
                                  platform=self.platform, status=status)
        return PermanentError(f"{self.platform}: unexpected answer (HTTP {status})",
                              platform=self.platform, status=status)

    def _graph_error(self, result: Any) -> PlatformError:
        status = getattr(self._local, "status", None)
        headers = self.last_headers
        error = result.get("error") if isinstance(result, dict) else None
        if not isinstance(error, dict):
            return self._unexpected_answer()
        code = error.get("code")
        message = self._scrub(str(error.get("message") or "unknown Graph API error"))
        kw = {"platform": self.platform, "status": status}
        if code in (190, 102):
            exc: PlatformError = CredentialsError(
                f"{self.platform}: access token expired or invalid; reconnect account {self.account_name}",
                **kw)
        elif code in THROTTLE_CODES:
            exc = RetryableError(f"{self.platform}: rate limited: {message}",
                                 retry_after=regain_access_seconds(headers) or DEFAULT_THROTTLE_WAIT, **kw)
        elif code == PUBLISH_LIMIT_CODE:
            exc = RetryableError(f"{self.platform}: publishing limit reached: {message}",
                                 retry_after=regain_access_seconds(headers) or PUBLISH_LIMIT_WAIT, **kw)
        elif error.get("is_transient") or code in TRANSIENT_CODES or (status or 0) >= 500:
            exc = RetryableError(f"{self.platform}: temporary error: {message}", **kw)
        else:
            exc = PermanentError(f"{self.platform}: {message}", **kw)
        exc.graph_code = code
        exc.graph_subcode = error.get("error_subcode")
        return exc

    # --- objects and insights ---------------------------------------------------------------
    def read_objects(self, ids: list[str], fields: str) -> dict[str, dict]:
        """Objects by id in one multi-id read (at most MAX_IDS ids); ids that no longer exist are left out."""
        try:
            return self.get("", ids=",".join(ids), fields=fields)
        except PermanentError as exc:
            if not _unknown_object(exc):
                raise
            if len(ids) == 1:
                return {}  # deleted, or not one of ours
        # One unknown id fails the whole multi-id read: ask one by one.
        objects = {}
        for object_id in ids:
            objects.update(self.read_objects([object_id], fields))
        return objects

    def objects_with_insights(self, ids: list[str], metrics: tuple[str, ...] | list[str],
                              fields: str = "") -> dict[str, tuple[dict, dict[str, Any]]]:
        """(object, {metric: latest value}) for each id that still exists (at most MAX_IDS ids).

        The insights are expanded in the multi-id read itself: one request for the whole chunk.
        One rejected metric fails that whole read, so then the chunk is read again without the
        expansion and its insights are asked per object (see ``insights``); expansion stays off for
        the rest of this client's life, since it would only fail again.
        """
        if self.expand_insights and metrics:
            try:
                objects = self.read_objects(ids, _with_field(fields, insights_field(metrics)))
                return {oid: (obj, insight_values(obj.get("insights"))) for oid, obj in objects.items()}
            except PermanentError as exc:
                if not _invalid_metric(exc):
                    raise
                self.expand_insights = False
                from planner.i18n import t

                log.warning(t("log.metric_rejected_batch", platform=self.platform, error=exc.message))
        objects = self.read_objects(ids, fields or "id")
        return {oid: (obj, self.insights(oid, metrics)) for oid, obj in objects.items()}

    def insights(self, object_id: str, metrics: tuple[str, ...] | list[str]) -> dict[str, Any]:
        """{metric: latest value} for one post or media.

        One metric the API does not (or no longer) accept fails the whole request, so on that
        error the metrics are asked one by one and only the rejected ones are left out.
        """
        if not metrics:
            return {}
        try:
            answer = self.get(f"{object_id}/insights", metric=",".join(metrics))
        except PermanentError as exc:
            if not _invalid_metric(exc):
                raise
            if len(metrics) == 1:
                from planner.i18n import t

                log.warning(t("log.metric_rejected", platform=self.platform, metric=metrics[0], post=object_id,
                              error=exc.message))
                return {}
            values: dict[str, Any] = {}
            for metric in metrics:
                values.update(self.insights(object_id, [metric]))
            return values
        return insight_values(answer)

    def usage_summary(self) -> RateLimit | None:
        return usage_summary(self.last_headers)


def insights_field(metrics: tuple[str, ...] | list[str]) -> str:
    """The field that expands insights in an object read: insights.metric(a,b,c)."""
    return f"insights.metric({','.join(metrics)})"


def insight_values(answer: Mapping | None) -> dict[str, Any]:
    """{metric: latest value} from an insights answer ({"data": [{"name", "values"}, ...]})."""
    values: dict[str, Any] = {}
    for item in (answer or {}).get("data", []):
        points = item.get("values") or []
        if item.get("name") and points and "value" in points[-1]:
            values[item["name"]] = points[-1]["value"]
        elif item.get("name") and "total_value" in item:
            values[item["name"]] = item["total_value"].get("value")
    return values


def _with_field(fields: str, extra: str) -> str:
    return f"{fields},{extra}" if fields else extra


def _invalid_metric(exc: PlatformError) -> bool:
    return getattr(exc, "graph_code", None) == 100 and "metric" in exc.message.lower()


def _unknown_object(exc: PlatformError) -> bool:
    """An id in the read that does not exist (any more): code 803 (alias), or code 100 with subcode 33
    ("Object with ID ... does not exist").

    Other code-100 errors (a rejected metric or field) concern every object of the read: they are
    raised, never taken for deleted posts.
    """
    code, subcode = getattr(exc, "graph_code", None), getattr(exc, "graph_subcode", None)
    return code == 803 or (code == 100 and subcode == 33 and not _invalid_metric(exc))


# --- usage headers -------------------------------------------------------------------------------
def _json_header(headers: Mapping[str, str], name: str) -> Any:
    raw = headers.get(name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _buc_entries(headers: Mapping[str, str]) -> list[dict]:
    """X-Business-Use-Case-Usage entries.

    Shape: {"<object id>": [{"type", "call_count", ..., "estimated_time_to_regain_access"}]}.
    """
    data = _json_header(headers, "X-Business-Use-Case-Usage")
    if not isinstance(data, dict):
        return []
    return [e for entries in data.values() if isinstance(entries, list)
            for e in entries if isinstance(e, dict)]


def regain_access_seconds(headers: Mapping[str, str]) -> float | None:
    """estimated_time_to_regain_access (minutes) from the usage headers, in seconds."""
    minutes = []
    for entry in _buc_entries(headers):
        try:
            minutes.append(float(entry.get("estimated_time_to_regain_access") or 0))
        except (TypeError, ValueError):
            continue
    best = max(minutes, default=0)
    return best * 60 if best > 0 else None


def usage_summary(headers: Mapping[str, str]) -> RateLimit | None:
    """The worst usage (percent of the quota) in X-App-Usage / X-Business-Use-Case-Usage, if sent."""
    entries = list(_buc_entries(headers))
    app = _json_header(headers, "X-App-Usage")
    if isinstance(app, dict):
        entries.append(app)
    worst = None
    for entry in entries:
        for key in ("call_count", "total_cputime", "total_time"):
            try:
                value = float(entry.get(key))
            except (TypeError, ValueError):
                continue
            worst = value if worst is None else max(worst, value)
    return None if worst is None else RateLimit(usage_percent=worst)


# --- threads as comments ---------------------------------------------------------------------------
COMMENT_PAGE_SIZE = 100
COMMENT_PAGES = 5


def find_with_comments(client: "GraphClient", post: OutgoingPost, since, *, head_of, find_head,
                       text_field: str):
    """Reconciliation of a post whose thread became comments: the head (the first saved part, or found
    by ``find_head``), then its comments matched part by part; an incomplete thread answers None."""
    if post.parts_done:
        head = head_of(post.parts_done[0])
    else:
        head = find_head(post, since)
        if head is None or not post.thread:
            return head
        post.part_live(head.platform_post_id)
    live = list(post.parts_done) or [head.platform_post_id]
    return head if match_comments(client, live, post, text_field=text_field) else None


def match_comments(client: "GraphClient", live: list[str], post: OutgoingPost, *, text_field: str) -> bool:
    """Finds a thread's later parts among the comments on its head (``live[0]``), oldest first.

    ``live`` holds the parts known live (head first); each part found after them is appended and
    reported through ``post.on_part``. True when every part is there; False when the thread is short
    (publishing again then continues after the parts found). Raises PlatformError when the comments
    are too many to read through.
    """
    texts = list(post.thread)
    args: dict[str, Any] = {"fields": f"id,{text_field}", "order": "chronological", "filter": "stream",
                            "limit": COMMENT_PAGE_SIZE}
    comments: list[dict] = []
    for _ in range(COMMENT_PAGES):
        answer = client.get(f"{live[0]}/comments", **args)
        comments.extend(answer.get("data", []))
        paging = answer.get("paging") or {}
        after = (paging.get("cursors") or {}).get("after")
        if not after or not paging.get("next"):
            break
        args["after"] = after
    else:
        raise PlatformError(f"more than {COMMENT_PAGES * COMMENT_PAGE_SIZE} comments on {live[0]}; cannot "
                            "tell which parts of the thread are among them", platform=client.platform)
    position = 0
    known = set(live)
    for text in texts[len(live) - 1:]:
        found = next((i for i in range(position, len(comments)) if str(comments[i].get("id")) not in known
                      and text_matches(comments[i].get(text_field), text)), None)
        if found is None:
            return False
        position = found + 1
        live.append(str(comments[found]["id"]))
        post.part_live(live[-1])
    return True


# --- texts, files, times ---------------------------------------------------------------------------
def text_matches(remote: str | None, expected: str) -> bool:
    """Same text, allowing the platform to have changed or shortened the links."""
    if not remote:
        return False
    if normalise_text(remote) == normalise_text(expected):
        return True
    return normalise_text(_URL.sub(" ", remote)) == normalise_text(_URL.sub(" ", expected))


def media_part(path: Path) -> tuple[str, bytes, str]:
    """(file name, bytes, content type) for a multipart upload; PermanentError if unreadable."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PermanentError(f"cannot read media file {path.name}: {exc.strerror}") from None
    return path.name, data, mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def parse_graph_time(value: str | None) -> datetime | None:
    """Graph timestamps: 2024-04-05T07:56:32+0000."""
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None


def epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())
