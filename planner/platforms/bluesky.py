"""Bluesky (AT Protocol) adapter over the atproto SDK.

Account: ``handle`` is the login identifier (e.g. ``kpudemak.bsky.social``), ``credentials``
holds ``app_password`` (an app password, never the main one), ``api_base_url`` the PDS or entryway
(default https://bsky.social). Options: ``langs`` (default ``["id"]``), ``video_service_url`` (default
https://video.bsky.app: a video is uploaded there and processed before the post embeds it).

Idempotency: every post is created with ``com.atproto.repo.createRecord`` under a record key
derived from the post's idempotency key (``record_key``), so a second create of the same post is
refused by the server instead of publishing it twice, and reconciliation can look the post up by
that key. The reference PDS answers such a create with a 500 today (an explicit error is being
added), so after a 409, a 5xx or a 400 that says so, the adapter looks the record up and, if it is
there, treats the post as already published.

The session (``createSession``) is opened on first use and reused; the SDK refreshes it shortly
before the access token expires, and the adapter refreshes (or logs in again) once when the server
still says the token expired.
"""

from __future__ import annotations

import hashlib
import html
import re
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar
from urllib.parse import urlsplit

import httpx
from atproto import AtUri, Client, Request, Session, client_utils, models
from atproto import exceptions as atproto_errors
from atproto_client.models.blob_ref import BlobRef
from atproto_client.models.common import XrpcError
from atproto_client.models.utils import get_response_model

from planner.domain.text_rules import append_link, bluesky_length, media_rules
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
)
from planner.platforms.media_rules import refuse_unpublishable
from planner.platforms.transport import classify_transport_error

PLATFORM = "bluesky"
DEFAULT_BASE_URL = "https://bsky.social"
POST = "app.bsky.feed.post"
MAX_GRAPHEMES = 300
MAX_TEXT_BYTES = 3000
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 1_000_000  # app.bsky.embed.images: blob maxSize
IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
               ".gif": "image/gif"}
GET_POSTS_MAX = 25
VIDEO_SERVICE = "https://video.bsky.app"  # options.video_service_url overrides it (the sandbox, another service)
VIDEO_BUDGET = 300.0  # seconds of getJobStatus polling before trying again later
SEARCH_PAGE_SIZE = 100
SEARCH_MAX_PAGES = 5
# Counts a post view may carry -> our metric names (the AppView gives no views/impressions).
METRIC_FIELDS = (("like_count", "likes"), ("repost_count", "reposts"), ("reply_count", "replies"),
                 ("quote_count", "quotes"), ("bookmark_count", "saves"))

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_TID_EPOCH_US = 1_672_531_200_000_000  # 2023-01-01T00:00:00Z
_TID_SPAN_US = 2 * 365 * 86400 * 1_000_000  # two years

T = TypeVar("T")


def record_key(idempotency_key: str) -> str:
    """The record key (rkey) for an idempotency key: the same on every attempt, different per key.

    It is a TID, the key type ``app.bsky.feed.post`` asks for: a 64-bit integer, top bit 0,
    53 bits of microseconds since the epoch then a 10-bit clock id, written as 13 characters of
    the base32-sortable alphabet ``234567abcdefghijklmnopqrstuvwxyz`` (so the first character is
    one of ``234567abcdefghij``). Instead of a clock reading, both parts come from SHA-256 of the
    key: the time lands in 2023-2024 (a plausible, past TID; Bluesky orders posts by createdAt
    and indexing time, not by record key) and the clock id takes 10 more bits, ~56 bits in all.
    """
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).digest()
    micros = _TID_EPOCH_US + int.from_bytes(digest[:8], "big") % _TID_SPAN_US
    clock_id = int.from_bytes(digest[8:10], "big") & 0x3FF
    n = (micros << 10) | clock_id
    return "".join(_TID_ALPHABET[(n >> (5 * (12 - i))) & 31] for i in range(13))


def part_keys(post: OutgoingPost) -> list[str]:
    """Record keys of the post and of each further thread part (``{key}-1``, ``{key}-2``, ...)."""
    return [record_key(post.idempotency_key)] + [
        record_key(f"{post.idempotency_key}-{i}") for i in range(1, len(post.thread) + 1)]


def _texts(post: OutgoingPost) -> list[str]:
    """The text of each part. The link goes in the first part's text too (with a facet it is clickable),
    so that it is not lost when images take the embed, and so that it counts as validation counted it."""
    return [append_link(post.text, post.link), *post.thread]


def web_url(uri: str, handle: str) -> str:
    return f"https://bsky.app/profile/{handle}/post/{AtUri.from_str(uri).rkey}"


class BlueskyAdapter:
    platform = PLATFORM
    metrics_batch_size = GET_POSTS_MAX

    def __init__(self, account: Account, timeout: float):
        self.account = account
        # atproto's Request passes its keyword arguments to the httpx.Client it builds.
        self._client = Client(base_url=account.api_base_url or DEFAULT_BASE_URL,
                              request=Request(timeout=httpx.Timeout(timeout)))
        self._client.on_session_change(self._remember_session)
        self._timeout = timeout
        self.video_budget = VIDEO_BUDGET
        self._session: Session | None = None
        self._lock = threading.RLock()
        langs = account.options.get("langs") or ["id"]
        self._langs = [langs] if isinstance(langs, str) else list(langs)
        self._dids: dict[str, str | None] = {}  # handle -> DID (None: no one has it), for mention facets

    def __repr__(self) -> str:
        return f"<BlueskyAdapter account={self.account.name!r} handle={self.account.handle!r}>"

    # --- the contract ------------------------------------------------------------------------
    def validate(self, post: OutgoingPost) -> list[str]:
        """What Bluesky would refuse in this post, as plain sentences (empty when fine)."""
        problems = []
        for i, text in enumerate(_texts(post)):
            part = "the post" if not post.thread else f"part {i + 1} of the thread"
            length = bluesky_length(text)  # graphemes
            if length > MAX_GRAPHEMES:
                problems.append(f"{part} has {length} characters; Bluesky allows {MAX_GRAPHEMES}")
            elif len(text.encode("utf-8")) > MAX_TEXT_BYTES:
                problems.append(f"{part} is longer than {MAX_TEXT_BYTES} bytes")
            if not text.strip() and (i > 0 or not post.media):
                problems.append(f"{part} is empty")
        if len(post.media) > MAX_IMAGES:
            problems.append(f"{len(post.media)} images; Bluesky allows {MAX_IMAGES} per post")
        for path in map(Path, post.media):
            if media_rules(PLATFORM, path.name)[0] == "video":
                continue  # checked by refuse_unpublishable, against LIMITS
            if path.suffix.lower() not in IMAGE_TYPES:
                problems.append(f"{path.name}: Bluesky takes JPEG, PNG, WebP or GIF images")
            elif not path.is_file():
                problems.append(f"{path.name}: file not found")
            elif path.stat().st_size > MAX_IMAGE_BYTES:
                problems.append(f"{path.name} is {path.stat().st_size:,} bytes; Bluesky allows "
                                f"{MAX_IMAGE_BYTES:,} per image")
        return problems

    def publish(self, post: OutgoingPost) -> PublishedRef:
        # A video is checked against text_rules.LIMITS["bluesky"] (as validation did) before any request.
        refuse_unpublishable(PLATFORM, self.account.name, post.media)
        problems = self.validate(post)
        if problems:
            raise PermanentError(f"{PLATFORM}: " + "; ".join(problems), platform=PLATFORM)
        refs: list[models.ComAtprotoRepoStrongRef.Main] = []
        for i, (text, rkey) in enumerate(zip(_texts(post), part_keys(post))):
            if i < len(post.parts_done):  # live already: its record key finds it, nothing is sent again
                existing = self._call(lambda: self._fetch_record(rkey))  # noqa: B023 - called at once
                if existing is not None:
                    refs.append(models.ComAtprotoRepoStrongRef.Main(uri=existing.uri, cid=existing.cid))
                    continue
            embed = self._embed(post) if i == 0 else None
            reply = models.AppBskyFeedPost.ReplyRef(root=refs[0], parent=refs[-1]) if refs else None
            refs.append(self._create_post(text, rkey, embed, reply))
            if i >= len(post.parts_done):
                post.part_live(refs[-1].uri)
        return PublishedRef(refs[0].uri, web_url(refs[0].uri, self._me().handle),
                            published_at=datetime.now(timezone.utc))

    def find_published(self, post: OutgoingPost, since: datetime) -> PublishedRef | None:
        """Looks the post up by its record key (``since`` is not needed).

        A thread counts as published only when every part is there. When only some parts are, the
        answer is None: publishing again is safe (the parts already there keep their record keys
        and are reused, not duplicated) and completes the thread. Parts found are reported through
        ``post.on_part``, like the other adapters do.
        """
        keys = part_keys(post)
        records = []
        for i, rkey in enumerate(keys):
            record = self._call(lambda: self._fetch_record(rkey))  # noqa: B023 - called at once
            if record is None:
                return None
            records.append(record)
            if i >= len(post.parts_done):
                post.part_live(record.uri)
        root = records[0]
        return PublishedRef(root.uri, web_url(root.uri, self._me().handle),
                            published_at=_parse_time(getattr(root.value, "created_at", None)))

    def fetch_metrics(self, refs: Sequence[str]) -> list[MetricSnapshot]:
        snapshots = []
        for start in range(0, len(refs), GET_POSTS_MAX):
            params = models.AppBskyFeedGetPosts.Params(uris=list(refs[start:start + GET_POSTS_MAX]))
            answer = self._call(lambda: self._client.app.bsky.feed.get_posts(params))  # noqa: B023
            now = datetime.now(timezone.utc)
            for view in answer.posts:  # deleted posts are simply absent
                for field, metric in METRIC_FIELDS:
                    value = getattr(view, field, None)
                    if value is not None:
                        snapshots.append(MetricSnapshot(view.uri, metric, int(value), now))
        return snapshots

    def search_mentions(self, keywords: Sequence[str], since: datetime | None) -> list[Mention]:
        mentions = []
        for keyword in keywords:
            seen: set[str] = set()
            cursor = None
            for _ in range(SEARCH_MAX_PAGES):
                params = models.AppBskyFeedSearchPosts.Params(
                    q=keyword, limit=SEARCH_PAGE_SIZE, sort="latest", cursor=cursor,
                    since=_iso(since) if since else None)
                answer = self._call(lambda: self._client.app.bsky.feed.search_posts(params))  # noqa: B023
                for view in answer.posts:
                    if view.uri in seen:
                        continue
                    seen.add(view.uri)
                    mentions.append(Mention(
                        platform=PLATFORM, platform_id=view.uri, keyword=keyword,
                        text=_field(view.record, "text", ""), author=view.author.handle,
                        url=web_url(view.uri, view.author.handle),
                        created_at=_parse_time(_field(view.record, "created_at", None) or view.indexed_at)))
                cursor = answer.cursor
                if not cursor or not answer.posts:
                    break
        return mentions

    def check_credentials(self) -> AccountStatus:
        session = self._call(lambda: self._client.com.atproto.server.get_session())
        params = models.AppBskyActorGetProfile.Params(actor=session.did)
        # The raw call keeps the answer's headers, where the rate-limit state is.
        raw = self._call(lambda: self._client.invoke_query("app.bsky.actor.getProfile", params=params))
        profile = self._call(lambda: get_response_model(raw, models.AppBskyActorDefs.ProfileViewDetailed))
        return AccountStatus(display_name=profile.display_name or profile.handle, handle=profile.handle,
                             rate_limit=_rate_limit_summary(raw.headers))

    # --- publishing pieces --------------------------------------------------------------------------
    def _create_post(self, text: str, rkey: str, embed: Any, reply: Any) -> models.ComAtprotoRepoStrongRef.Main:
        facets = sorted([*client_utils.detect_facets(text), *self._mention_facets(text)],
                        key=lambda facet: facet.index.byte_start)
        record = models.AppBskyFeedPost.Record(
            text=text, created_at=_iso(datetime.now(timezone.utc)), langs=self._langs,
            facets=facets or None, embed=embed, reply=reply)

        def create():
            data = models.ComAtprotoRepoCreateRecord.Data(repo=self._me().did, collection=POST, rkey=rkey,
                                                          record=record)
            try:
                return self._client.com.atproto.repo.create_record(data)
            except atproto_errors.RequestErrorBase as exc:
                if not _may_be_duplicate(exc):
                    raise
                existing = self._fetch_record(rkey)  # the record key is taken: by this post?
                if existing is None:
                    raise
                return existing

        created = self._call(create, creates=True)
        return models.ComAtprotoRepoStrongRef.Main(uri=created.uri, cid=created.cid)

    def _embed(self, post: OutgoingPost) -> Any:
        if len(post.media) == 1 and media_rules(PLATFORM, Path(post.media[0]).name)[0] == "video":
            return models.AppBskyEmbedVideo.Main(video=self._upload_video(Path(post.media[0])), alt="")
        if post.media:
            # Alt text stays empty: a file name is no description, and screen readers would read it out.
            images = [models.AppBskyEmbedImages.Image(alt="", image=self._upload(Path(path)))
                      for path in post.media]
            return models.AppBskyEmbedImages.Main(images=images)
        link = post.link or next((feature.uri for facet in client_utils.detect_facets(post.text)
                                  for feature in facet.features if hasattr(feature, "uri")), None)
        if link:
            return models.AppBskyEmbedExternal.Main(external=self._link_card(link))
        return None

    # --- mentions and link cards ----------------------------------------------------------------------
    def resolve_handle(self, handle: str) -> str | None:
        """The DID of ``handle`` (com.atproto.identity.resolveHandle), None when no one has it; remembered."""
        handle = handle.lower()
        if handle not in self._dids:
            # A public query: asked without logging in, so that preview needs no credentials.
            params = models.ComAtprotoIdentityResolveHandle.Params(handle=handle)
            try:
                self._dids[handle] = self._client.com.atproto.identity.resolve_handle(params).did
            except Exception as exc:
                error = self._error(exc, creates=False)
                if error is None:
                    raise
                if not isinstance(error, PermanentError) or isinstance(error, CredentialsError):
                    raise error from None
                self._dids[handle] = None  # 400 "Unable to resolve handle"
        return self._dids[handle]

    def _mention_facets(self, text: str) -> list:
        """A mention facet (app.bsky.richtext.facet#mention, the DID) for each @handle that resolves; one that
        does not stays plain text (`campaign preview` warns about it beforehand)."""
        facets = []
        for start, end, handle in mentions_in(text):
            did = self.resolve_handle(handle)
            if did:
                facets.append(models.AppBskyRichtextFacet.Main(
                    index=models.AppBskyRichtextFacet.ByteSlice(byte_start=start, byte_end=end),
                    features=[models.AppBskyRichtextFacet.Mention(did=did)]))
        return facets

    def _link_card(self, link: str) -> Any:
        """app.bsky.embed.external for ``link``: the page's title, description and thumbnail when it answers
        within LINK_CARD_TIMEOUT (LINK_CARD_MAX_BYTES of it read at most), else the bare link."""
        page = fetch_link_preview(link, timeout=min(self._timeout, LINK_CARD_TIMEOUT))
        thumb = None
        if page.get("image"):
            try:
                answer = self._call(lambda: self._client.com.atproto.repo.upload_blob(
                    page["image"], headers={"Content-Type": page["image_type"]}))
                thumb = answer.blob
            except PlatformError:
                thumb = None  # the card works without its picture
        return models.AppBskyEmbedExternal.External(uri=link, title=page.get("title") or link,
                                                    description=page.get("description") or "", thumb=thumb)

    def _upload(self, path: Path) -> models.BlobRef:
        data = path.read_bytes()
        mime = IMAGE_TYPES[path.suffix.lower()]
        answer = self._call(lambda: self._client.com.atproto.repo.upload_blob(data, headers={"Content-Type": mime}))
        return answer.blob

    def _upload_video(self, path: Path) -> BlobRef:
        """The video through Bluesky's video service, processed before the post exists: the account's upload
        limits first (getUploadLimits), then a service token from the PDS (for com.atproto.repo.uploadBlob,
        audience the PDS's did:web), uploadVideo, then
        getJobStatus until the job is completed; its blob goes in app.bsky.embed.video. Nothing here is
        public: a failure leaves no post, and the next attempt uploads again."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PermanentError(f"{PLATFORM}: cannot read {path.name}: {exc.strerror}", platform=PLATFORM) from None
        session = self._me()
        service = str(self.account.options.get("video_service_url") or VIDEO_SERVICE).rstrip("/")
        with httpx.Client(timeout=max(self._timeout, 60.0)) as http:
            self._refuse_over_upload_limits(http, service, path.name, len(data))
            host = urlsplit(session.pds_endpoint or self.account.api_base_url or DEFAULT_BASE_URL).netloc
            auth = self._call(lambda: self._client.com.atproto.server.get_service_auth(params={
                "aud": f"did:web:{host}", "lxm": "com.atproto.repo.uploadBlob", "exp": int(time.time()) + 1800}))
            answer = self._video_call(http, "POST", f"{service}/xrpc/app.bsky.video.uploadVideo",
                                      params={"did": session.did, "name": path.name}, content=data,
                                      headers={"Authorization": f"Bearer {auth.token}", "Content-Type": "video/mp4"})
            job = answer.get("jobStatus") or answer
            deadline = time.monotonic() + self.video_budget
            delay = 0.5
            while job.get("state") != "JOB_STATE_COMPLETED" or not job.get("blob"):
                if job.get("state") == "JOB_STATE_FAILED" or job.get("error"):
                    raise PermanentError(f"{PLATFORM}: the video service could not process {path.name} "
                                         f"({job.get('error') or ''} {job.get('message') or ''})".strip(),
                                         platform=PLATFORM)
                if not job.get("jobId"):
                    raise RetryableError(f"{PLATFORM}: the video service answered without a job id",
                                         platform=PLATFORM)
                if time.monotonic() + delay > deadline:
                    raise RetryableError(f"{PLATFORM}: video {path.name} still processing after "
                                         f"{self.video_budget:g} s", retry_after=60, platform=PLATFORM)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                answer = self._video_call(http, "GET", f"{service}/xrpc/app.bsky.video.getJobStatus",
                                          params={"jobId": job["jobId"]})
                job = answer.get("jobStatus") or {}
        return BlobRef.model_validate(job["blob"])

    def _refuse_over_upload_limits(self, http: httpx.Client, service: str, name: str, size: int) -> None:
        """Ask the video service whether this account may upload this video today (app.bsky.video.getUploadLimits,
        lexicon lexicons/app/bsky/video/getUploadLimits.json of bluesky-social/atproto: canUpload,
        remainingDailyVideos, remainingDailyBytes, message, error), with a service token for that method whose
        audience is the video service's did:web, as Bluesky's own app does. PermanentError (nothing was sent, the
        message says why) when it may not; a service that does not implement the method is not held to it."""
        from planner.i18n import t

        auth = self._call(lambda: self._client.com.atproto.server.get_service_auth(params={
            "aud": f"did:web:{urlsplit(service).netloc}", "lxm": "app.bsky.video.getUploadLimits"}))
        try:
            limits = self._video_call(http, "GET", f"{service}/xrpc/app.bsky.video.getUploadLimits",
                                      headers={"Authorization": f"Bearer {auth.token}"})
        except PermanentError as exc:
            if exc.status in (404, 501):  # an older or other video service without the method
                return
            raise
        reason = None
        if limits.get("canUpload") is False:
            reason = str(limits.get("message") or limits.get("error") or "")
        elif isinstance(limits.get("remainingDailyVideos"), int) and limits["remainingDailyVideos"] < 1:
            reason = t("bluesky_video.no_videos_left")
        elif isinstance(limits.get("remainingDailyBytes"), int) and limits["remainingDailyBytes"] < size:
            reason = t("bluesky_video.no_bytes_left", left=limits["remainingDailyBytes"], size=size)
        if reason is not None:
            raise PermanentError(t("bluesky_video.cannot_upload", account=self.account.name, name=name,
                                   reason=self._scrub_reason(reason)), platform=PLATFORM)

    @staticmethod
    def _scrub_reason(reason: str) -> str:
        from planner.i18n import t

        reason = " ".join(reason.split())[:300]
        return reason or t("bluesky_video.no_reason")

    def _video_call(self, http: httpx.Client, method: str, url: str, **kwargs) -> dict:
        """One request to the video service; its failures as PlatformErrors (nothing there is public)."""
        try:
            response = http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise (classify_transport_error(exc, platform=PLATFORM, creates=False)
                   or RetryableError(f"{PLATFORM}: video service unreachable ({type(exc).__name__})",
                                     platform=PLATFORM)) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code == 409 and isinstance(body, dict) and body.get("jobId"):
            return body  # this very video was uploaded before: its job goes on
        if response.is_success and isinstance(body, dict):
            return body
        detail = (body.get("message") or body.get("error") or response.reason_phrase) if isinstance(body, dict) \
            else response.reason_phrase
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableError(f"{PLATFORM}: video service {response.status_code}: {detail}", platform=PLATFORM,
                                 status=response.status_code)
        raise PermanentError(f"{PLATFORM}: video service refused the upload ({response.status_code}): {detail}",
                             platform=PLATFORM, status=response.status_code)

    def _fetch_record(self, rkey: str) -> models.ComAtprotoRepoGetRecord.Response | None:
        """Our post under ``rkey``, or None when the PDS says there is none (raises SDK errors)."""
        params = models.ComAtprotoRepoGetRecord.Params(repo=self._me().did, collection=POST, rkey=rkey)
        try:
            return self._client.com.atproto.repo.get_record(params)
        except atproto_errors.BadRequestError as exc:
            if _xrpc_error(exc)[0] == "RecordNotFound":
                return None
            raise

    # --- session and errors ------------------------------------------------------------------------
    def _remember_session(self, event: Any, session: Session) -> None:
        self._session = session

    def _me(self) -> Session:
        with self._lock:
            if self._session is None:
                self._login()
            return self._session

    def _login(self) -> None:
        password = self.account.credentials.get("app_password")
        if not password or not self.account.handle:
            raise CredentialsError(self._reconnect("no handle or app_password configured"), platform=PLATFORM)
        try:
            self._client.login(self.account.handle, password, fetch_bsky_profile=False)
        except Exception as exc:
            error = self._error(exc, creates=False, login=True)
            if error is None:
                raise
            raise error from None

    def _renew_session(self) -> None:
        with self._lock:
            try:
                # atproto 0.0.73 has no public refresh; this is what it runs before a token expires.
                self._client._refresh_and_set_session()
            except (atproto_errors.AtProtocolError, httpx.HTTPError):
                self._login()

    def _call(self, fn: Callable[[], T], *, creates: bool = False) -> T:
        """Run one SDK call in our session; SDK failures come out as PlatformErrors."""
        self._me()
        for attempt in (1, 2):
            try:
                return fn()
            except Exception as exc:
                if attempt == 1 and _token_refused(exc):
                    self._renew_session()
                    continue
                error = self._error(exc, creates=creates)
                if error is None:
                    raise
                raise error from None
        raise AssertionError("unreachable")

    def _error(self, exc: BaseException, *, creates: bool, login: bool = False) -> PlatformError | None:
        if isinstance(exc, atproto_errors.RequestErrorBase) and exc.response is not None:
            return self._http_error(exc, login=login)
        cause = exc.__cause__ if isinstance(exc, atproto_errors.NetworkError) else exc  # the SDK wraps httpx's
        if isinstance(cause, BaseException):
            transport = classify_transport_error(cause, platform=PLATFORM, creates=creates)
            if transport is not None:
                return transport
        if isinstance(exc, (atproto_errors.NetworkError, httpx.HTTPError)):
            detail = f"{PLATFORM}: no usable answer ({type(cause or exc).__name__})"
            return UnknownOutcomeError(detail, platform=PLATFORM) if creates else \
                RetryableError(detail, platform=PLATFORM)
        if isinstance(exc, atproto_errors.ModelError):  # a 2xx whose body is not what the lexicon says
            detail = f"{PLATFORM}: unexpected answer from the server ({str(exc)[:200]})"
            return UnknownOutcomeError(detail, platform=PLATFORM) if creates else \
                PlatformError(detail, platform=PLATFORM)
        return None

    def _http_error(self, exc: atproto_errors.RequestErrorBase, *, login: bool) -> PlatformError:
        status = exc.response.status_code
        name, message = _xrpc_error(exc)
        text = f"{name}: {message}" if name and message else (name or message or f"HTTP {status}")
        if status == 429:
            return RetryableError(f"{PLATFORM}: rate limited ({text})", retry_after=_retry_after(exc),
                                  platform=PLATFORM, status=status)
        if status == 401 or name in ("ExpiredToken", "InvalidToken") or (login and status in (400, 403)):
            return CredentialsError(self._reconnect(text), platform=PLATFORM, status=status)
        if status >= 500 or status == 408:
            return RetryableError(f"{PLATFORM}: server error {status} ({text})", retry_after=_retry_after(exc),
                                  platform=PLATFORM, status=status)
        return PermanentError(f"{PLATFORM}: {text}", platform=PLATFORM, status=status)

    def _reconnect(self, reason: str) -> str:
        return (f"Bluesky account {self.account.name!r} ({self.account.handle}) must be reconnected: {reason}. "
                "Create a new app password in Bluesky (Settings > Privacy and security > App passwords) "
                "and store it as this account's app_password.")


# --- mentions and link cards (https://docs.bsky.app/docs/advanced-guides/post-richtext,
# .../tutorials/creating-a-post#website-card-embeds) --------------------------------------------------
# A mention is "@" and a handle (domain-name syntax) after a non-word character or at the start; facet
# offsets count UTF-8 bytes. The card's thumbnail is a blob of at most 1,000,000 bytes
# (app.bsky.embed.external#external thumb maxSize).
_MENTION = re.compile(rb"(?:^|[$|\W])(@([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]"
                      rb"([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)")
LINK_CARD_TIMEOUT = 5.0       # seconds for the page, and again for its picture
LINK_CARD_MAX_BYTES = 512_000  # of the page read, at most (the <head> is near the start)
THUMB_MAX_BYTES = 1_000_000
_META = re.compile(r"<meta\s[^>]*>", re.I)
_ATTR = re.compile(r"""([a-zA-Z:_-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)


def mentions_in(text: str) -> list[tuple[int, int, str]]:
    """(byte start, byte end, handle) of each @mention in ``text``."""
    return [(m.start(1), m.end(1), m.group(1)[1:].decode("utf-8")) for m in _MENTION.finditer(text.encode("utf-8"))]


def fetch_link_preview(url: str, *, timeout: float = LINK_CARD_TIMEOUT) -> dict:
    """{"title", "description", "image", "image_type"} of a web page from its Open Graph tags (or <title>),
    read once and bounded in size and time; {} when the page does not answer as HTML."""
    if not url.startswith(("https://", "http://")):
        return {}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=3,
                          headers={"User-Agent": "humas-planner link card"}) as client:
            body = _read_bounded(client, url, LINK_CARD_MAX_BYTES, "text/html")
            if body is None:
                return {}
            html_text = body.decode("utf-8", "replace")
            tags = {}
            for tag in _META.findall(html_text):
                attrs = {k.lower(): (a if a is not None else b) for k, a, b in _ATTR.findall(tag)}
                name = (attrs.get("property") or attrs.get("name") or "").lower()
                if name and "content" in attrs:
                    tags.setdefault(name, html.unescape(attrs["content"]).strip())
            title = tags.get("og:title") or tags.get("twitter:title")
            if not title:
                found = _TITLE.search(html_text)
                title = html.unescape(found.group(1)).strip() if found else ""
            page = {"title": " ".join(title.split())[:300],
                    "description": " ".join((tags.get("og:description") or tags.get("description") or "").split())[:1000]}
            image_url = tags.get("og:image") or tags.get("twitter:image")
            if image_url:
                image_url = str(httpx.URL(url).join(image_url))
                image = _read_bounded(client, image_url, THUMB_MAX_BYTES, "image/", whole=True)
                if image is not None:
                    page["image"], page["image_type"] = image
            return page
    except (httpx.HTTPError, httpx.InvalidURL, ValueError, UnicodeError):  # InvalidURL: "https://b.id🙏"
        return {}


def _read_bounded(client: httpx.Client, url: str, limit: int, kind: str, *, whole: bool = False):
    """The first ``limit`` bytes of ``url`` when its content type starts with ``kind`` (an image: all of it
    and its type, or None when it is larger); None for anything else."""
    with client.stream("GET", url) as response:
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if response.status_code != 200 or not content_type.startswith(kind):
            return None
        data = b""
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) > limit:
                if whole:
                    return None
                return data[:limit]
    return (data, content_type) if whole else data


def create(account: Account, timeout: float) -> BlueskyAdapter:
    return BlueskyAdapter(account, timeout)


# --- helpers ------------------------------------------------------------------------------------
def _xrpc_error(exc: atproto_errors.RequestErrorBase) -> tuple[str, str]:
    """(error name, message) of an XRPC error answer; empty strings when the body has none."""
    content = exc.response.content if exc.response is not None else None
    if isinstance(content, XrpcError):
        return content.error or "", content.message or ""
    return "", ""


def _token_refused(exc: BaseException) -> bool:
    """The server refused our access token: worth one refresh and one more try."""
    if not isinstance(exc, atproto_errors.RequestErrorBase) or exc.response is None:
        return False
    return exc.response.status_code == 401 or _xrpc_error(exc)[0] in ("ExpiredToken", "InvalidToken")


def _may_be_duplicate(exc: atproto_errors.RequestErrorBase) -> bool:
    """A create answer that may mean 'this record key is taken' (500 today, an explicit error soon)."""
    if exc.response is None:
        return False
    status = exc.response.status_code
    name, message = _xrpc_error(exc)
    return status == 409 or status >= 500 or (
        status == 400 and ("exist" in message.lower() or "exist" in name.lower()))


def _retry_after(exc: atproto_errors.RequestErrorBase) -> float | None:
    headers = exc.response.headers if exc.response is not None else {}
    reset = headers.get("ratelimit-reset")
    if reset is not None:
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            pass
    retry_after = headers.get("retry-after")
    try:
        return max(0.0, float(retry_after)) if retry_after is not None else None
    except ValueError:
        return None


def _rate_limit_summary(headers: dict) -> RateLimit | None:
    limit, remaining = headers.get("ratelimit-limit"), headers.get("ratelimit-remaining")
    if not (limit or "").isdigit() or not (remaining or "").isdigit():
        return None
    reset = headers.get("ratelimit-reset") or ""
    return RateLimit(remaining=int(remaining), limit=int(limit),
                     resets_at=datetime.fromtimestamp(int(reset), timezone.utc) if reset.isdigit() else None)


def _field(record: Any, name: str, default: Any) -> Any:
    """A field of a record the SDK parsed into a model, or left as a dict (unknown $type)."""
    if isinstance(record, dict):
        camel = name.split("_")[0] + "".join(part.title() for part in name.split("_")[1:])
        return record.get(camel, default)
    return getattr(record, name, default)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
