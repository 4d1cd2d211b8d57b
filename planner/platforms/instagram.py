"""Instagram business account adapter (Graph API through facebook-sdk).

Account: credentials ``access_token``; options ``ig_user_id`` and ``media_base_url`` (the public
address where the campaign's image files can be fetched: Instagram downloads images itself).

Publishing is two-step: create a media container (a carousel has one per image plus a CAROUSEL
container), wait until Instagram has processed it (status_code FINISHED), then media_publish.
Only media_publish makes the post visible, so only that call can end in an unknown outcome.
A single video is published as a Reel: one container with media_type=REELS and video_url, polled for
longer (``reels_budget``) since Instagram fetches and transcodes it first.

A thread's later parts become comments on the published media, in order ("first comment" practice:
``POST /{ig-media-id}/comments`` with ``message``, read back with the field ``text``;
https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-media/comments).
Each one is saved as it goes live, and reconciliation reads the comments back, so a retry continues.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import quote

import facebook  # noqa: F401  (the SDK this adapter runs on; loaded with the module)

from planner.domain.text_rules import append_link, media_rules
from planner.platforms.base import (
    Account,
    AccountStatus,
    Mention,
    MetricSnapshot,
    NotSupported,
    OutgoingPost,
    PermanentError,
    PlatformError,
    PublishedRef,
    RateLimit,
    RetryableError,
    thread_part_error,
)
from planner.platforms.graph_common import (
    GRAPH_VERSION,
    MAX_IDS,
    GraphClient,
    find_with_comments,
    parse_graph_time,
    text_matches,
)
from planner.platforms.media_rules import refuse_unpublishable

__all__ = ["InstagramAdapter", "create", "media_url_problem", "caption_for", "GRAPH_VERSION",
           "MEDIA_METRICS"]

PLATFORM = "instagram"
MAX_CAROUSEL = 10

# Media insights as Meta names them since the 2025 deprecations (impressions -> views).
MEDIA_METRICS = ("views", "reach", "likes", "comments", "shares", "saved", "total_interactions")
METRIC_NAMES = {"views": "views", "reach": "reach", "likes": "likes", "comments": "replies",
                "shares": "reposts", "saved": "saves", "total_interactions": "engagements"}

POLL_FIRST_DELAY = 0.25  # seconds; doubles up to POLL_MAX_DELAY
POLL_MAX_DELAY = 5.0
# A Reel is processed for much longer than an image (Instagram fetches and transcodes the video).
REELS_BUDGET = 300.0
FIND_PAGE_SIZE = 50
FIND_PAGES = 10  # pages of FIND_PAGE_SIZE media looked through when reconciling


def create(account: Account, timeout: float) -> "InstagramAdapter":
    return InstagramAdapter(account, timeout)


def media_url_problem(account: Account) -> str | None:
    """Why this account cannot publish images, or None (used by the campaign validator too)."""
    base = str(account.options.get("media_base_url") or "").strip()
    if not base:
        return (f"Instagram account {account.name}: Instagram fetches images from a public URL; "
                "set `media_base_url` in the account config to where the campaign's media files are served")
    if not base.startswith(("https://", "http://")):
        return f"Instagram account {account.name}: `media_base_url` must start with https://"
    return None


def image_url(media_base_url: str, path: Path | str) -> str:
    """Where Instagram fetches a media file from: the account's media_base_url and the file's name."""
    return f"{str(media_base_url).strip().rstrip('/')}/{quote(Path(path).name)}"


def caption_for(post: OutgoingPost) -> str:
    """Links are not clickable in Instagram captions, but still worth printing."""
    return append_link(post.text, post.link)


class InstagramAdapter:
    platform = PLATFORM
    metrics_batch_size = MAX_IDS

    def __init__(self, account: Account, timeout: float = 10.0):
        self.account = account
        self.timeout = timeout
        self.ig_user_id = str(account.options.get("ig_user_id") or "").strip()
        if not self.ig_user_id:
            raise PermanentError(f"instagram: set options.ig_user_id for account {account.name}",
                                 platform=PLATFORM)
        self.client = GraphClient(account, timeout, platform=PLATFORM, token_key="access_token")
        self.media_metrics: tuple[str, ...] = MEDIA_METRICS
        # Waiting for Instagram to process containers: a few request timeouts' worth.
        self.processing_budget = max(3 * timeout, 10.0)
        self.reels_budget = REELS_BUDGET

    # --- publish --------------------------------------------------------------------------
    def publish(self, post: OutgoingPost) -> PublishedRef:
        """The media, then each later part of a thread as a comment on it; continues after ``parts_done``."""
        live = list(post.parts_done)
        if not live:
            head = self._publish_media(post)
            live.append(head.platform_post_id)
            post.part_live(live[-1])
        else:
            head = PublishedRef(live[0], self._permalink(live[0]), None)
        for i in range(len(live), len(post.thread) + 1):
            try:
                answer = self.client.post(f"{live[0]}/comments", creates=True, message=post.thread[i - 1])
            except PlatformError as exc:
                raise thread_part_error(exc, number=i + 1, total=len(post.thread) + 1, head=live[0]) from None
            live.append(str(answer["id"]))
            post.part_live(live[-1])
        return head

    def _publish_media(self, post: OutgoingPost) -> PublishedRef:
        problem = media_url_problem(self.account)
        if problem:
            raise PermanentError(problem, platform=PLATFORM)
        if not post.media:
            raise PermanentError("instagram: a post needs at least one image", platform=PLATFORM)
        if len(post.media) > MAX_CAROUSEL:
            raise PermanentError(f"instagram: at most {MAX_CAROUSEL} images in one post", platform=PLATFORM)
        refuse_unpublishable(PLATFORM, self.account.name, post.media)
        budget = self.processing_budget
        deadline = time.monotonic() + budget
        caption = caption_for(post)
        urls = [self._image_url(path) for path in post.media]
        if len(urls) == 1 and media_rules(PLATFORM, Path(post.media[0]).name)[0] == "video":
            # A video is a Reel: media_type=REELS with video_url (Reels specifications in text_rules.LIMITS).
            container = self._container(media_type="REELS", video_url=urls[0], caption=caption)
            budget = self.reels_budget
            deadline = time.monotonic() + budget
        elif len(urls) == 1:
            container = self._container(image_url=urls[0], caption=caption)
        else:
            children = [self._container(image_url=url, is_carousel_item="true") for url in urls]
            for child in children:
                self._wait_finished(child, deadline)
            container = self._container(media_type="CAROUSEL", children=",".join(children), caption=caption)
        self._wait_finished(container, deadline, budget)
        answer = self.client.post(f"{self.ig_user_id}/media_publish", creates=True, creation_id=container)
        media_id = str(answer["id"])
        return PublishedRef(media_id, self._permalink(media_id), datetime.now(timezone.utc))

    def _image_url(self, path: Path) -> str:
        return image_url(self.account.options["media_base_url"], path)

    def _container(self, **params: str) -> str:
        # A container is not a post: if its answer is lost, a new one is simply made next time.
        return str(self.client.post(f"{self.ig_user_id}/media", creates=False, **params)["id"])

    def _wait_finished(self, container_id: str, deadline: float, budget: float | None = None) -> None:
        delay = POLL_FIRST_DELAY
        while True:
            answer = self.client.get(container_id, fields="status_code,status")
            status = answer.get("status_code")
            if status in ("FINISHED", "PUBLISHED"):
                return
            if status in ("ERROR", "EXPIRED"):
                detail = answer.get("status") or status
                raise PermanentError(f"instagram: media container {status}: {detail}", platform=PLATFORM)
            if time.monotonic() + delay > deadline:
                raise RetryableError(f"instagram: media still processing ({status}) after "
                                     f"{budget or self.processing_budget:g} s", retry_after=60, platform=PLATFORM)
            time.sleep(delay)
            delay = min(delay * 2, POLL_MAX_DELAY)

    def _permalink(self, media_id: str) -> str | None:
        try:
            return self.client.get(media_id, fields="permalink").get("permalink")
        except PlatformError:  # published anyway; the link is a nicety
            return None

    # --- reconcile ------------------------------------------------------------------------
    def find_published(self, post: OutgoingPost, since: datetime) -> PublishedRef | None:
        """The media if the account has it; for a thread, its comments are matched part by part after it
        (each found is reported through ``post.on_part``) and an incomplete thread answers None."""
        return find_with_comments(self.client, post, since,
                                  head_of=lambda media_id: PublishedRef(media_id, self._permalink(media_id)),
                                  find_head=self._find_media, text_field="text")

    def _find_media(self, post: OutgoingPost, since: datetime) -> PublishedRef | None:
        """Lists recent media (newest first). A drop on media_publish may have published it."""
        if since.tzinfo is None:
            since = since.replace(tzinfo=timezone.utc)
        expected = [caption_for(post), post.text]
        args: dict[str, Any] = {"fields": "id,caption,timestamp,permalink", "limit": FIND_PAGE_SIZE}
        for _ in range(FIND_PAGES):
            answer = self.client.get(f"{self.ig_user_id}/media", **args)
            for item in answer.get("data", []):
                created = parse_graph_time(item.get("timestamp"))
                if created is not None and created < since:
                    return None  # newest first: everything after this is older still
                if any(text_matches(item.get("caption"), text) for text in expected):
                    return PublishedRef(str(item["id"]), item.get("permalink"), created)
            paging = answer.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not after or not paging.get("next"):
                return None
            args["after"] = after
        raise PlatformError(f"instagram: more than {FIND_PAGES * FIND_PAGE_SIZE} media since "
                            f"{since:%Y-%m-%d %H:%M}; cannot tell whether the post is among them",
                            platform=PLATFORM)

    # --- metrics --------------------------------------------------------------------------
    def fetch_metrics(self, refs: Sequence[str]) -> list[MetricSnapshot]:
        """One multi-id read per MAX_IDS media, insights included; media that no longer exist are skipped."""
        snapshots: list[MetricSnapshot] = []
        refs = list(dict.fromkeys(refs))
        for start in range(0, len(refs), MAX_IDS):
            chunk = self.client.objects_with_insights(refs[start:start + MAX_IDS], self.media_metrics)
            for media_id, (_, insights) in chunk.items():
                snapshots.extend(self._snapshots(media_id, insights))
        return snapshots

    @staticmethod
    def _snapshots(media_id: str, insights: dict[str, Any]) -> list[MetricSnapshot]:
        now = datetime.now(timezone.utc)
        return [MetricSnapshot(media_id, METRIC_NAMES[metric], int(value), now)
                for metric, value in insights.items()
                if metric in METRIC_NAMES and isinstance(value, (int, float))]

    # --- the rest -------------------------------------------------------------------------
    def search_mentions(self, keywords: Sequence[str], since: datetime | None) -> list[Mention]:
        raise NotSupported("instagram: hashtag search needs Meta's app review; not supported",
                           platform=PLATFORM)

    def check_credentials(self) -> AccountStatus:
        user = self.client.get(self.ig_user_id, fields="id,username,name")
        limit = self.client.get(f"{self.ig_user_id}/content_publishing_limit", fields="quota_usage,config")
        entry = (limit.get("data") or [{}])[0]
        used = entry.get("quota_usage")
        total = (entry.get("config") or {}).get("quota_total")
        hours = ((entry.get("config") or {}).get("quota_duration") or 86400) / 3600
        rate = None
        if isinstance(used, int):
            rate = RateLimit(published=used, quota=total if isinstance(total, int) else None, window_hours=hours)
        username = user.get("username") or ""
        return AccountStatus(display_name=user.get("name") or username,
                             handle=f"@{username}" if username else self.ig_user_id, rate_limit=rate)
