"""Facebook Page adapter (Graph API through facebook-sdk).

Account: credentials ``page_access_token``; options ``page_id``.

Publishing: text (and a link preview) to /{page}/feed; one photo to /{page}/photos; one video to
/{page}/videos (https://developers.facebook.com/docs/graph-api/reference/page/videos/); several
photos are uploaded unpublished, then attached to one /{page}/feed post. Pages have no
idempotency key: reconciliation lists /{page}/published_posts and compares the message.

A thread's later parts become comments on the published post, in order ("first comment" practice:
``POST /{object-id}/comments`` with ``message``,
https://developers.facebook.com/docs/graph-api/reference/object/comments). Each one is saved as it goes
live, and reconciliation reads the post's comments back, so a retry continues the thread.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import facebook  # noqa: F401  (the SDK this adapter runs on; loaded with the module)

from planner.domain.text_rules import append_link, media_rules
from planner.platforms.base import (
    Account,
    AccountStatus,
    CredentialsError,
    MetricSnapshot,
    Mention,
    NotSupported,
    OutgoingPost,
    PermanentError,
    PlatformError,
    PublishedRef,
    thread_part_error,
)
from planner.platforms.graph_common import (
    GRAPH_VERSION,
    MAX_IDS,
    GraphClient,
    epoch,
    find_with_comments,
    media_part,
    parse_graph_time,
    text_matches,
)
from planner.platforms.media_rules import refuse_unpublishable

__all__ = ["FacebookAdapter", "create", "GRAPH_VERSION", "POST_METRICS"]

PLATFORM = "facebook"
POST_URL = "https://www.facebook.com/{}"

# Post insights as Meta names them since the 2025 deprecations (post_impressions* -> views).
POST_METRICS = ("post_media_view", "post_total_media_view_unique", "post_reactions_by_type_total",
                "post_clicks")
METRIC_NAMES = {"post_media_view": "views", "post_total_media_view_unique": "reach",
                "post_clicks": "clicks", "post_reactions_by_type_total": "likes"}
OBJECT_FIELDS = "shares,comments.limit(0).summary(true),reactions.limit(0).summary(true)"
FIND_PAGE_SIZE = 100
FIND_PAGES = 10  # pages of FIND_PAGE_SIZE posts looked through when reconciling


def create(account: Account, timeout: float) -> "FacebookAdapter":
    return FacebookAdapter(account, timeout)


class FacebookAdapter:
    platform = PLATFORM
    metrics_batch_size = MAX_IDS

    def __init__(self, account: Account, timeout: float = 10.0):
        self.account = account
        self.page_id = str(account.options.get("page_id") or "").strip()
        if not self.page_id:
            raise PermanentError(f"facebook: set options.page_id for account {account.name}",
                                 platform=PLATFORM)
        self.client = GraphClient(account, timeout, platform=PLATFORM, token_key="page_access_token")
        self.post_metrics: tuple[str, ...] = POST_METRICS

    # --- publish --------------------------------------------------------------------------
    def publish(self, post: OutgoingPost) -> PublishedRef:
        """The post, then each later part of a thread as a comment on it; continues after ``parts_done``."""
        live = list(post.parts_done)
        if not live:
            head = self._publish_head(post)
            live.append(head.platform_post_id)
            post.part_live(live[-1])
        else:
            head = self._ref(live[0])
        for i in range(len(live), len(post.thread) + 1):
            try:
                answer = self.client.post(f"{live[0]}/comments", creates=True, message=post.thread[i - 1])
            except PlatformError as exc:
                raise thread_part_error(exc, number=i + 1, total=len(post.thread) + 1, head=live[0]) from None
            live.append(str(answer["id"]))
            post.part_live(live[-1])
        return head

    def _publish_head(self, post: OutgoingPost) -> PublishedRef:
        media = list(post.media)
        if not media:
            data = {"message": post.text}
            if post.link:
                data["link"] = post.link
            answer = self.client.post(f"{self.page_id}/feed", creates=True, **data)
            return self._ref(answer["id"])
        refuse_unpublishable(PLATFORM, self.account.name, media)
        message = append_link(post.text, post.link)  # photo posts take no link param: the link goes in the text
        if len(media) == 1 and media_rules(PLATFORM, Path(media[0]).name)[0] == "video":
            return self._publish_video(Path(media[0]), message)
        if len(media) == 1:
            answer = self.client.post(f"{self.page_id}/photos", creates=True,
                                      files={"source": media_part(media[0])}, message=message)
            return self._ref(answer.get("post_id") or answer["id"])
        # Unpublished uploads are not visible posts: a lost answer there is safe to retry.
        photo_ids = [self.client.post(f"{self.page_id}/photos", creates=False,
                                      files={"source": media_part(path)}, published="false")["id"]
                     for path in media]
        attached = {f"attached_media[{i}]": json.dumps({"media_fbid": pid})
                    for i, pid in enumerate(photo_ids)}
        answer = self.client.post(f"{self.page_id}/feed", creates=True, message=message, **attached)
        return self._ref(answer["id"])

    def _publish_video(self, path: Path, description: str) -> PublishedRef:
        """One video as a Page post: POST /{page-id}/videos with the file as ``source`` (the non-resumable
        upload; limits in text_rules.LIMITS["facebook"]) and the text as its description."""
        answer = self.client.post(f"{self.page_id}/videos", creates=True, files={"source": media_part(path)},
                                  description=description)
        video_id = str(answer["id"])
        try:
            post_id = self.client.get(video_id, fields="post_id").get("post_id")
        except PlatformError:  # published anyway: the video's own id still leads to it
            post_id = None
        return self._ref(post_id or video_id)

    @staticmethod
    def _ref(post_id: str, created: datetime | None = None) -> PublishedRef:
        return PublishedRef(str(post_id), POST_URL.format(post_id), created or datetime.now(timezone.utc))

    # --- reconcile ------------------------------------------------------------------------
    def find_published(self, post: OutgoingPost, since: datetime) -> PublishedRef | None:
        """The post if the Page has it; for a thread, its comments are matched part by part after it
        (each found is reported through ``post.on_part``) and an incomplete thread answers None."""
        return find_with_comments(self.client, post, since, head_of=self._ref, find_head=self._find_head,
                                  text_field="message")

    def _find_head(self, post: OutgoingPost, since: datetime) -> PublishedRef | None:
        expected = [append_link(post.text, post.link), post.text]
        args: dict[str, Any] = {"fields": "id,message,created_time", "since": epoch(since),
                                "limit": FIND_PAGE_SIZE}
        for _ in range(FIND_PAGES):
            answer = self.client.get(f"{self.page_id}/published_posts", **args)
            for item in answer.get("data", []):
                if any(text_matches(item.get("message"), text) for text in expected):
                    return self._ref(item["id"], parse_graph_time(item.get("created_time")))
            after = (answer.get("paging") or {}).get("cursors", {}).get("after")
            if not after or not answer.get("paging", {}).get("next"):
                return None
            args["after"] = after
        raise PlatformError(f"facebook: more than {FIND_PAGES * FIND_PAGE_SIZE} posts since "
                            f"{since:%Y-%m-%d %H:%M}; cannot tell whether the post is among them",
                            platform=PLATFORM)

    # --- metrics --------------------------------------------------------------------------
    def fetch_metrics(self, refs: Sequence[str]) -> list[MetricSnapshot]:
        """One multi-id read per MAX_IDS posts, insights included; posts that no longer exist are skipped."""
        snapshots: list[MetricSnapshot] = []
        refs = list(dict.fromkeys(refs))
        for start in range(0, len(refs), MAX_IDS):
            chunk = self.client.objects_with_insights(refs[start:start + MAX_IDS], self.post_metrics,
                                                      OBJECT_FIELDS)
            for post_id, (obj, insights) in chunk.items():
                snapshots.extend(self._snapshots(post_id, obj, insights))
        return snapshots

    @staticmethod
    def _snapshots(post_id: str, obj: dict, insights: dict[str, Any]) -> list[MetricSnapshot]:
        now = datetime.now(timezone.utc)
        values: dict[str, int] = {}
        for metric, value in insights.items():
            name = METRIC_NAMES.get(metric)
            if name is None or value is None:
                continue
            values[name] = sum(value.values()) if isinstance(value, dict) else int(value)
        reactions = (obj.get("reactions") or {}).get("summary", {}).get("total_count")
        if reactions is not None:
            values["likes"] = int(reactions)
        comments = (obj.get("comments") or {}).get("summary", {}).get("total_count")
        if comments is not None:
            values["replies"] = int(comments)
        # Graph leaves "shares" out of a post that has not been shared: that absence means 0.
        values["reposts"] = int((obj.get("shares") or {}).get("count", 0))
        return [MetricSnapshot(post_id, name, value, now) for name, value in values.items()]

    # --- the rest -------------------------------------------------------------------------
    def search_mentions(self, keywords: Sequence[str], since: datetime | None) -> list[Mention]:
        raise NotSupported("facebook: Pages have no public keyword search", platform=PLATFORM)

    def check_credentials(self) -> AccountStatus:
        """The token must be a Page token of ``page_id``: Graph's ``/me`` is the token's owner (a Page token
        answers as its Page, a user token as the person), so any other id is refused, naming both."""
        me = self.client.get("me", fields="id,name")
        owner = str(me.get("id") or "")
        if owner != self.page_id:
            said = f"{me.get('name')} ({owner})" if me.get("name") else owner or "?"
            raise CredentialsError(f"facebook account {self.account.name!r}: the token belongs to {said}, not to "
                                   f"the Page {self.page_id} (page_id); reconnect the account "
                                   f"(planner account connect {self.account.name})", platform=PLATFORM)
        return AccountStatus(display_name=me.get("name") or "", handle=owner,
                             rate_limit=self.client.usage_summary())
