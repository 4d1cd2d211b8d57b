"""Emulation of the Graph API subset the Facebook Page and Instagram adapters use.

One emulator serves every Graph route (``/v<major>.<minor>/...``); it is named "graph" for fault
matching and records posts as platform "facebook" (Page posts) or "instagram" (media).

Shapes follow Meta's references: ``{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id"}}`` errors with HTTP 400 (throttling included, with the usage headers); list edges as
``{"data": [...], "paging": {"cursors": {...}, "next": ...}}``; insights as ``{"data": [{"name",
"period", "values": [{"value"}], ...}]}``; Instagram's container -> status_code -> media_publish
flow. Post and media reads expand insights with ``insights.metric(a,b)``, also in multi-id reads. As
the real API does, one unknown insights metric fails the whole request (the /insights edge or the
read with the expansion), and versions older than v20.0 are refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import time
from datetime import datetime, timezone
from typing import Any, Callable

from planner.sandbox import video
from planner.sandbox.core import Emulator, Request, Response, route

CURRENT_VERSION = "v23.0"
OLDEST_VERSION = (20, 0)

MAX_MESSAGE = 63206  # Page post message
MAX_CAPTION = 2200  # Instagram caption
# Comments, the "first comment" practice (what a thread's later parts become): POST /{object-id}/comments
# with `message`, answered {"id": ...}. Pages: https://developers.facebook.com/docs/graph-api/reference/object/comments
# Instagram: https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-media/comments
# (IG comments are read back with the field `text`, Page comments with `message`). Meta states no comment
# length; the sandbox holds a Page comment to the message limit and an Instagram one to the caption limit.
MAX_IG_COMMENT = 2200
IG_COMMENT_ID_BASE = 17_800_000_000_000_000  # below the media ids: a comment is no media
MAX_HASHTAGS = 30
MAX_CAROUSEL = 10
# Image specifications (https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/
# ig-user/media#image-specifications): JPEG, aspect ratio within 4:5 to 1.91:1. Instagram downloads the image
# from image_url; outside the range the container ends in status ERROR (code 36003, subcode 2207009).
IMAGE_ASPECT = (4 / 5 - 1e-9, 1.91 + 1e-9)
MAX_IDS = 50
PUBLISH_QUOTA = 50  # Instagram API-published posts per rolling 24 h (content_publishing_limit)
QUOTA_WINDOW = 86400
CONTAINER_TTL = 86400
CONTAINER_READY_AFTER = 1.0  # seconds; a container is also ready once polled after creation
IG_MEDIA_ID_BASE = 17_900_000_000_000_000  # published media get ids from here on
# Page video, non-resumable upload (POST /{page-id}/videos with `source`; description, not message):
# up to 1 GB and 20 minutes (https://developers.facebook.com/docs/graph-api/reference/page/videos/).
FB_VIDEO_MAX_BYTES = 1024 * 1024 * 1024
FB_VIDEO_MAX_SECONDS = 20 * 60
# Reels (media_type=REELS, video_url): MOV or MP4 (Reels specifications of the IG User media reference).
# Processing a Reel takes longer than an image: FINISHED only from the fourth poll or after three seconds.
REELS_READY_POLLS = 4
REELS_READY_AFTER = 3.0

# Post insights that exist today. post_impressions* were deprecated in 2025 (-> post_media_view).
FB_POST_METRICS = {
    "post_media_view": ("Media views", "views"),
    "post_total_media_view_unique": ("Media viewers", "reach"),
    "post_clicks": ("Post clicks", "clicks"),
    "post_reactions_by_type_total": ("Reactions by type", None),
    "post_reactions_like_total": ("Like reactions", None),
}
# Instagram media insights; "impressions" was deprecated in 2025 (-> views).
IG_MEDIA_METRICS = {
    "views": "views", "reach": "reach", "likes": "likes", "comments": "replies", "shares": "reposts",
    "saved": "saves", "total_interactions": None,
}

PAGE_FIELDS = {"id", "name", "username", "link", "fan_count", "followers_count", "category"}
IG_USER_FIELDS = {"id", "username", "name", "biography", "followers_count", "follows_count",
                  "media_count", "profile_picture_url", "website"}
FB_POST_FIELDS = {"id", "message", "created_time", "permalink_url", "shares", "comments", "reactions",
                  "is_published", "status_type", "from", "insights"}
IG_MEDIA_FIELDS = {"id", "caption", "timestamp", "permalink", "media_type", "media_product_type",
                   "media_url", "like_count", "comments_count", "username", "children", "shortcode",
                   "insights"}
CONTAINER_FIELDS = {"id", "status_code", "status"}

_HASHTAG = re.compile(r"(?<!\w)#\w+")
_ATTACHED = re.compile(r"attached_media\[(\d+)\]$")
_ID = r"(?P<id>[A-Za-z0-9_.]+)"
_V = r"/v(?P<version>\d+\.\d+)"


# --- shapes ---------------------------------------------------------------------------------------
def _trace() -> str:
    return "A" + hashlib.sha1(str(time.time_ns()).encode()).hexdigest()[:22]


def _error(message: str, code: int, *, subcode: int | None = None, status: int = 400,
           type_: str = "OAuthException", transient: bool | None = None,
           headers: dict | None = None, **extra) -> Response:
    error: dict[str, Any] = {"message": message, "type": type_, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient is not None:
        error["is_transient"] = transient
    error.update(extra)
    error["fbtrace_id"] = _trace()
    return Response(status, {"error": error}, headers or {})


def _no_object(object_id: str) -> Response:
    return _error(f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded "
                  "due to missing permissions, or does not support this operation. Please read the Graph "
                  "API documentation at https://developers.facebook.com/docs/graph-api",
                  100, subcode=33, type_="GraphMethodException")


def _param_error(message: str) -> Response:
    return _error(f"(#100) {message}", 100)


def _no_metric() -> Response:
    return _error("No metric was specified to be fetched. Please specify one or more metrics to be fetched "
                  "and try again.", 3001, subcode=1504028)


def _metric_names(raw: str | None) -> list[str]:
    return [m.strip() for m in (raw or "").split(",") if m.strip()]


def _expanded_metrics(spec: str) -> list[str]:
    """The metrics of an ``insights.metric(a,b)`` field; none without the modifier."""
    match = re.search(r"\.metric\(([^)]*)\)", spec)
    return _metric_names(match.group(1)) if match else []


def _graph_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _parse_since(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp()


def _split_fields(spec: str | None) -> list[str]:
    """Top-level comma split of a fields spec such as ``id,comments.limit(0).summary(true)``."""
    if not spec:
        return []
    parts, depth, current = [], 0, ""
    for char in spec:
        if char in "({":
            depth += 1
        elif char in ")}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def _field_name(spec: str) -> str:
    match = re.match(r"[A-Za-z_]+", spec)
    return match.group(0) if match else spec


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"i:{index}".encode()).decode().rstrip("=")


def _from_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return max(0, int(raw.removeprefix("i:")))
    except (ValueError, UnicodeDecodeError):
        return 0


def _shortcode(media_id: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    number = int(hashlib.sha1(media_id.encode()).hexdigest()[:16], 16)
    code = ""
    while number and len(code) < 11:
        number, rest = divmod(number, 64)
        code += alphabet[rest]
    return code


class GraphEmulator(Emulator):
    name = "graph"

    def routes(self):
        g = self._graph
        return [
            route("GET", _V + r"/me", g(self.me)),
            route("GET", _V, g(self.multi_read)),
            route("POST", _V + rf"/{_ID}/feed", g(self.page_feed_create), publishes=True),
            route("POST", _V + rf"/{_ID}/photos", g(self.page_photo_create), publishes=True),
            route("POST", _V + rf"/{_ID}/videos", g(self.page_video_create), publishes=True),
            route("GET", _V + rf"/{_ID}/(?P<edge>published_posts|feed|posts)", g(self.page_posts)),
            route("GET", _V + rf"/{_ID}/insights", g(self.insights)),
            route("POST", _V + rf"/{_ID}/comments", g(self.comment_create), publishes=True),
            route("GET", _V + rf"/{_ID}/comments", g(self.comment_list)),
            route("POST", _V + rf"/{_ID}/media", g(self.ig_container_create)),
            route("POST", _V + rf"/{_ID}/media_publish", g(self.ig_media_publish), publishes=True),
            route("GET", _V + rf"/{_ID}/media", g(self.ig_media_list)),
            route("GET", _V + rf"/{_ID}/content_publishing_limit", g(self.ig_publishing_limit)),
            route("GET", _V + rf"/{_ID}", g(self.node)),
        ]

    # --- the platform's answers to faults ---------------------------------------------------------
    def rate_limited(self, reset_in: int) -> Response:
        """Business-use-case throttling of a Page token: code 80001 plus the usage header."""
        minutes = max(1, math.ceil(reset_in / 60))
        usage = {"sandbox": [{"type": "pages", "call_count": 100, "total_cputime": 38, "total_time": 41,
                              "estimated_time_to_regain_access": minutes}]}
        return _error("(#80001) There have been too many calls to this Page account. Wait a bit and try "
                      "again. For more info, please refer to "
                      "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
                      80001, headers={"X-Business-Use-Case-Usage": json.dumps(usage),
                                      "facebook-api-version": CURRENT_VERSION})

    def server_error(self) -> Response:
        return _error("An unexpected error has occurred. Please retry your request later.", 2,
                      status=500, transient=True)

    # --- common checks ----------------------------------------------------------------------------
    def _graph(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def run(request: Request) -> Response:
            response = self._check(request) or handler(request)
            response.headers.setdefault("facebook-api-version", f"v{request.params.get('version')}")
            if response.status < 400:
                response.headers.setdefault("X-App-Usage", json.dumps(self._usage()))
            return response
        return run

    def _usage(self) -> dict:
        with self.state.lock:
            recent = sum(1 for r in self.state.requests[-2000:] if r["platform"] == self.name
                         and r["ts"] > time.time() - 3600)
        percent = min(99, recent // 20)
        return {"call_count": percent, "total_cputime": percent // 2, "total_time": percent // 2}

    def _check(self, request: Request) -> Response | None:
        major, _, minor = (request.params.get("version") or "0.0").partition(".")
        if (int(major), int(minor or 0)) < OLDEST_VERSION:
            return _error(f"(#2635) You are calling a deprecated version of the Graph API. Please update "
                          f"to the latest version: {CURRENT_VERSION}.", 2635)
        if request.method == "POST" and request.body and request.content_type not in (
                "application/x-www-form-urlencoded", "multipart/form-data", "application/json"):
            return _param_error(f"Unsupported content type: {request.content_type or 'none'}")
        auth = request.header("authorization")
        if auth:
            scheme, _, token = auth.partition(" ")
            if scheme.lower() not in ("oauth", "bearer") or not token.strip():
                return _error("Invalid OAuth access token - Cannot parse access token", 190)
            token = token.strip()
        else:
            token = request.arg("access_token") or ""
        if not token:
            return _error("An access token is required to request this resource.", 104)
        if token.startswith(("bad", "expired")):
            return _error("Error validating access token: Session has expired on Tuesday, 02-Jan-24 "
                          "01:00:00 PST. The current time is "
                          f"{datetime.now(timezone.utc):%A, %d-%b-%y %H:%M:%S} UTC.", 190, subcode=463)
        request.params["token"] = token
        return None

    # --- nodes ----------------------------------------------------------------------------------------
    def me(self, request: Request) -> Response:
        """``/me`` is the owner of the token: a Page token answers as its Page, a user token as the user, and a
        token never issued is refused (planner.sandbox.graph_oauth.owner_of_token)."""
        from planner.sandbox.graph_oauth import owner_of_token

        owner = owner_of_token(self.state, request.params["token"])
        if owner is None:
            return _error("Invalid OAuth access token - Cannot parse access token", 190)
        return self._select_account(owner, request.arg("fields"), PAGE_FIELDS | IG_USER_FIELDS)

    def node(self, request: Request) -> Response:
        obj, problem = self._object(request.params["id"], request.arg("fields"))
        return problem or Response(200, obj)

    def multi_read(self, request: Request) -> Response:
        ids = [i for i in (request.arg("ids") or "").split(",") if i]
        if not ids:
            return _param_error("Missing 'ids' parameter")
        if len(ids) > MAX_IDS:
            return _param_error(f"Too many IDs. Maximum: {MAX_IDS}.")
        answer = {}
        for object_id in ids:
            if not re.fullmatch(r"[0-9_]+", object_id):
                return _error(f"(#803) Some of the aliases you requested do not exist: {object_id}", 803)
            obj, problem = self._object(object_id, request.arg("fields"))
            if problem:
                return problem
            answer[object_id] = obj
        return Response(200, answer)

    def _object(self, object_id: str, fields: str | None) -> tuple[dict | None, Response | None]:
        with self.state.lock:
            stored = self.state.media.get(object_id)
        if stored and stored.get("kind") == "ig_container":
            return self._container_fields(object_id, stored, fields)
        if stored and stored.get("kind") == "fb_video":
            return {"id": object_id, "post_id": stored["post_id"], "created_time": _graph_time(stored["created_ts"])}, None
        if stored and stored.get("kind") == "fb_photo":
            return {"id": object_id, "created_time": _graph_time(stored["created_ts"])}, None
        post = self.state.find_post("facebook", object_id)
        if post:
            return self._fb_post_fields(post, fields)
        post = self.state.find_post("instagram", object_id)
        if post:
            return self._ig_media_fields(post, fields)
        if "_" in object_id or not object_id.isdigit() or int(object_id) >= IG_MEDIA_ID_BASE:
            return None, _no_object(object_id)  # a post or media id that does not exist (any more)
        # Any other numeric id stands for a Page or an Instagram business account.
        account = {"id": object_id, "name": f"Humas {object_id[-4:]}", "username": f"humas_{object_id[-6:]}",
                   "followers_count": int(object_id[-3:]) * 7, "media_count": len(
                       self._top_level("instagram", object_id))}
        response = self._select_account(account, fields, PAGE_FIELDS | IG_USER_FIELDS)
        return (response.body, None) if response.status == 200 else (None, response)

    @staticmethod
    def _select_account(account: dict, fields: str | None, allowed: set[str]) -> Response:
        names = [_field_name(f) for f in _split_fields(fields)] or ["id", "name"]
        for name in names:
            if name not in allowed:
                return _param_error(f"Tried accessing nonexisting field ({name}) on node type (Page)")
        return Response(200, {name: account[name] for name in names if name in account})

    def _fb_post_fields(self, post: dict, fields: str | None) -> tuple[dict | None, Response | None]:
        specs = _split_fields(fields) or ["created_time", "message", "id"]
        engagement = self.state.engagement(post)
        out: dict[str, Any] = {}
        for spec in specs:
            name = _field_name(spec)
            if name not in FB_POST_FIELDS:
                return None, _param_error(f"Tried accessing nonexisting field ({name}) on node type "
                                          "(PagePost)")
            if name == "id":
                out["id"] = post["id"]
            elif name == "message":
                if post["text"]:
                    out["message"] = post["text"]
            elif name == "created_time":
                out["created_time"] = _graph_time(post["created_ts"])
            elif name == "permalink_url":
                out["permalink_url"] = f"https://www.facebook.com/{post['id']}"
            elif name == "is_published":
                out["is_published"] = True
            elif name == "status_type":
                out["status_type"] = "added_photos" if post["extra"].get("photos") else "mobile_status_update"
            elif name == "from":
                out["from"] = {"id": post["account"], "name": f"Humas {post['account'][-4:]}"}
            elif name == "shares":
                if engagement["reposts"]:  # Graph leaves the field out when nothing was shared
                    out["shares"] = {"count": engagement["reposts"]}
            elif name in ("comments", "reactions"):
                edge: dict[str, Any] = {"data": []}
                if "summary(true)" in spec.replace(" ", ""):
                    if name == "comments":
                        edge["summary"] = {"order": "ranked", "total_count": engagement["replies"],
                                           "can_comment": True}
                    else:
                        edge["summary"] = {"total_count": engagement["likes"], "viewer_reaction": "NONE"}
                out[name] = edge
            elif name == "insights":
                data, problem = self._post_insights(post, _expanded_metrics(spec), engagement)
                if problem:
                    return None, problem
                out["insights"] = {"data": data}
        out.setdefault("id", post["id"])
        return out, None

    def _ig_media_fields(self, post: dict, fields: str | None) -> tuple[dict | None, Response | None]:
        specs = _split_fields(fields) or ["id"]
        engagement = self.state.engagement(post)
        extra = post["extra"]
        full = {
            "id": post["id"], "caption": post["text"] or None, "timestamp": _graph_time(post["created_ts"]),
            "permalink": extra.get("permalink"), "media_type": extra.get("media_type", "IMAGE"),
            "media_product_type": "FEED", "media_url": (extra.get("image_urls") or [None])[0],
            "like_count": engagement["likes"], "comments_count": engagement["replies"],
            "username": f"humas_{post['account'][-6:]}", "shortcode": _shortcode(post["id"]),
        }
        out: dict[str, Any] = {}
        for spec in specs:
            name = _field_name(spec)
            if name not in IG_MEDIA_FIELDS:
                return None, _param_error(f"Tried accessing nonexisting field ({name}) on node type "
                                          "(ShadowIGMedia)")
            if name == "children":
                if extra.get("children"):
                    out["children"] = {"data": [{"id": c} for c in extra["children"]]}
            elif name == "insights":
                data, problem = self._post_insights(post, _expanded_metrics(spec), engagement)
                if problem:
                    return None, problem
                out["insights"] = {"data": data}
            elif full.get(name) is not None:
                out[name] = full[name]
        out.setdefault("id", post["id"])
        return out, None

    def _container_fields(self, container_id: str, container: dict,
                          fields: str | None) -> tuple[dict | None, Response | None]:
        names = [_field_name(f) for f in _split_fields(fields)] or ["id"]
        for name in names:
            if name not in CONTAINER_FIELDS:
                return None, _param_error(f"Tried accessing nonexisting field ({name}) on node type "
                                          "(ShadowIGMediaBuilder)")
        with self.state.lock:
            if "status_code" in names or "status" in names:
                container["polls"] += 1
            status = self._container_status(container)
        messages = {"IN_PROGRESS": "In Progress: Media is still being processed.",
                    "FINISHED": "Finished: Media has been uploaded and it is ready to be published.",
                    "PUBLISHED": "Published: Media has been successfully published.",
                    "EXPIRED": "Expired: Media container was not published within 24 hours.",
                    "ERROR": f"Error: {container.get('error') or 'Media upload has failed.'}"}
        out = {"id": container_id}
        if "status_code" in names:
            out["status_code"] = status
        if "status" in names:
            out["status"] = messages[status]
        return out, None

    @staticmethod
    def _container_status(container: dict) -> str:
        """IN_PROGRESS on the first poll (or the first second), then FINISHED; PUBLISHED once used."""
        if container.get("media_id"):
            return "PUBLISHED"
        if container.get("error"):
            return "ERROR"
        age = time.time() - container["created_ts"]
        if age > CONTAINER_TTL:
            return "EXPIRED"
        if container["media_type"] == "REELS":
            ready = container["polls"] >= REELS_READY_POLLS or age >= REELS_READY_AFTER
        else:
            ready = container["polls"] >= 2 or age >= CONTAINER_READY_AFTER
        if ready:
            return "FINISHED"
        return "IN_PROGRESS"

    # --- Facebook Page ------------------------------------------------------------------------------
    def page_feed_create(self, request: Request) -> Response:
        page = request.params["id"]
        message = request.arg("message") or ""
        link = request.arg("link")
        attached: list[tuple[int, str]] = []
        for key, value in request.form.items():
            match = _ATTACHED.match(key)
            if match:
                attached.append((int(match.group(1)), value))
        as_json = request.json() if request.content_type == "application/json" else {}
        if isinstance(as_json.get("attached_media"), list):
            attached += [(i, json.dumps(v)) for i, v in enumerate(as_json["attached_media"])]
        if not (message.strip() or link or attached):
            return _param_error("Missing message or attachment")
        if len(message) > MAX_MESSAGE:
            return _param_error(f"Message is too long: at most {MAX_MESSAGE} characters")
        if link and not re.match(r"https?://", link):
            return _param_error("The parameter link must be a valid URL")
        photo_ids = []
        for index, raw in sorted(attached):
            try:
                fbid = str(json.loads(raw)["media_fbid"])
            except (ValueError, KeyError, TypeError):
                return _param_error(f"param attached_media[{index}] must be an object with a media_fbid")
            with self.state.lock:
                photo = self.state.media.get(fbid)
                if not (photo and photo.get("kind") == "fb_photo" and photo["page"] == page
                        and not photo["published"] and not photo.get("attached_to")):
                    return _param_error(f"attached_media[{index}]: media_fbid {fbid} is not an unpublished "
                                        "photo of this Page")
            photo_ids.append(fbid)
        previous = self._top_level("facebook", page)[-1:]
        if message and not photo_ids and previous and previous[0]["text"] == message:
            return _error("(#506) Duplicate status message", 506)  # Facebook refuses a repeated status
        post_id = f"{page}_{self.state.next_id()}"
        with self.state.lock:
            for fbid in photo_ids:
                self.state.media[fbid]["attached_to"] = post_id
        self.state.record_post("facebook", page, message, post_id=post_id,
                               extra={"link": link, "attached_media": photo_ids, "photos": photo_ids})
        return Response(200, {"id": post_id})

    def page_photo_create(self, request: Request) -> Response:
        page = request.params["id"]
        upload = request.files.get("source")
        url = request.arg("url")
        if upload is None and not url:
            return _error("(#324) Requires upload file", 324)
        if upload is not None:
            filename, data, content_type = upload
            looks_like_image = content_type.startswith("image/") or re.search(
                r"\.(jpe?g|png|gif|bmp|tiff?|webp|heic)$", filename or "", re.I)
            if not data or not looks_like_image:
                return _error("(#324) Missing or invalid image file", 324)
        published = (request.arg("published") or "true").lower() not in ("false", "0")
        message = request.arg("message") or request.arg("caption") or ""
        if len(message) > MAX_MESSAGE:
            return _param_error(f"Message is too long: at most {MAX_MESSAGE} characters")
        photo_id = str(self.state.next_id())
        with self.state.lock:
            self.state.media[photo_id] = {
                "kind": "fb_photo", "page": page, "published": published, "created_ts": time.time(),
                "filename": upload[0] if upload else None, "size": len(upload[1]) if upload else None,
                "url": url, "message": message}
        if not published:
            return Response(200, {"id": photo_id})
        post_id = f"{page}_{photo_id}"
        self.state.record_post("facebook", page, message, post_id=post_id, extra={"photos": [photo_id]})
        return Response(200, {"id": photo_id, "post_id": post_id})

    def page_video_create(self, request: Request) -> Response:
        page = request.params["id"]
        upload = request.files.get("source")
        if upload is None:
            return _error("(#100) Requires one of the params: source, file_url, fbuploader_video_file_chunk", 100)
        _, data, _ = upload
        if len(data) > FB_VIDEO_MAX_BYTES:
            return _error("(#6000) There was a problem uploading your video file: the file is larger than 1 GB "
                          "(use the resumable upload)", 6000)
        if video.container(data) not in ("mp4", "mov"):
            return _error("(#352) Sorry, the video file you selected is in a format that we don't support.", 352)
        length = video.seconds(data)
        if length is None or length > FB_VIDEO_MAX_SECONDS:
            return _error("(#6000) There was a problem uploading your video file: its duration cannot be read "
                          "or is over 20 minutes", 6000)
        if request.arg("message") is not None:
            return _param_error("(#100) Param message is not valid for videos: use description")
        description = request.arg("description") or ""
        if len(description) > MAX_MESSAGE:
            return _param_error(f"Description is too long: at most {MAX_MESSAGE} characters")
        video_id = str(self.state.next_id())
        post_id = f"{page}_{video_id}"
        with self.state.lock:
            self.state.media[video_id] = {"kind": "fb_video", "page": page, "post_id": post_id,
                                          "created_ts": time.time(), "size": len(data), "seconds": length}
        self.state.record_post("facebook", page, description, post_id=post_id, extra={"video": video_id})
        return Response(200, {"id": video_id})

    def page_posts(self, request: Request) -> Response:
        page = request.params["id"]
        posts = sorted(self._top_level("facebook", page), key=lambda p: p["created_ts"], reverse=True)
        return self._listing(request, posts, self._fb_post_fields, f"{page}/{request.params['edge']}")

    def _listing(self, request: Request, posts: list[dict], render, path: str) -> Response:
        since, until = _parse_since(request.arg("since")), _parse_since(request.arg("until"))
        posts = [p for p in posts if (since is None or p["created_ts"] >= since)
                 and (until is None or p["created_ts"] <= until)]
        try:
            limit = max(1, min(100, int(request.arg("limit") or 25)))
        except ValueError:
            return _param_error("The parameter limit must be an integer")
        start = _from_cursor(request.arg("after"))
        page_items = posts[start:start + limit]
        data = []
        for post in page_items:
            obj, problem = render(post, request.arg("fields"))
            if problem:
                return problem
            data.append(obj)
        body: dict[str, Any] = {"data": data}
        if page_items:
            after = _cursor(start + len(page_items))
            body["paging"] = {"cursors": {"before": _cursor(start), "after": after}}
            if start + len(page_items) < len(posts):
                body["paging"]["next"] = (f"https://graph.facebook.com/v{request.params['version']}/{path}"
                                          f"?limit={limit}&after={after}")
        return Response(200, body)

    # --- comments (a thread's later parts) -------------------------------------------------------------
    def _top_level(self, platform: str, account: str) -> list[dict]:
        """Page posts or media of an account; comments are kept in the record too, but are not posts."""
        return [p for p in self.state.posts_of(platform, account) if not p["extra"].get("comment_on")]

    def comment_create(self, request: Request) -> Response:
        parent_id = request.params["id"]
        parent = self.state.find_post("facebook", parent_id) or self.state.find_post("instagram", parent_id)
        if parent is None or parent["extra"].get("comment_on"):
            return _no_object(parent_id)
        message = request.arg("message") or ""
        if not message.strip():
            return _param_error("(#100) The parameter message is required")
        platform = parent["platform"]
        limit = MAX_MESSAGE if platform == "facebook" else MAX_IG_COMMENT
        if len(message) > limit:
            return _param_error(f"Message is too long: at most {limit} characters")
        if platform == "facebook":
            comment_id = f"{parent_id.rpartition('_')[2]}_{self.state.next_id()}"
        else:
            comment_id = str(IG_COMMENT_ID_BASE + self.state.next_id())
        self.state.record_post(platform, parent["account"], message, post_id=comment_id,
                               extra={"comment_on": parent_id})
        return Response(200, {"id": comment_id})

    def comment_list(self, request: Request) -> Response:
        """Comments oldest first (``order=chronological``; the sandbox has no ranking to offer)."""
        parent_id = request.params["id"]
        parent = self.state.find_post("facebook", parent_id) or self.state.find_post("instagram", parent_id)
        if parent is None:
            return _no_object(parent_id)
        with self.state.lock:
            comments = [p for p in self.state.posts if p["extra"].get("comment_on") == parent_id]
        text_field = "message" if parent["platform"] == "facebook" else "text"
        time_field = "created_time" if parent["platform"] == "facebook" else "timestamp"
        allowed = {"id", text_field, time_field, "from", "parent_id"}

        def render(comment: dict, fields: str | None) -> tuple[dict | None, Response | None]:
            names = [_field_name(f) for f in _split_fields(fields)] or ["id", text_field, time_field]
            out: dict[str, Any] = {}
            for name in names:
                if name not in allowed:
                    return None, _param_error(f"Tried accessing nonexisting field ({name}) on node type "
                                              f"({'Comment' if text_field == 'message' else 'IGComment'})")
                if name == "id":
                    out["id"] = comment["id"]
                elif name == text_field:
                    out[name] = comment["text"]
                elif name == time_field:
                    out[name] = _graph_time(comment["created_ts"])
                elif name == "from":
                    out["from"] = {"id": comment["account"]}
            return out, None
        return self._listing(request, comments, render, f"{parent_id}/comments")

    # --- insights ---------------------------------------------------------------------------------------
    def insights(self, request: Request) -> Response:
        object_id = request.params["id"]
        metrics = _metric_names(request.arg("metric"))
        if not metrics:
            return _no_metric()
        post = self.state.find_post("facebook", object_id) or self.state.find_post("instagram", object_id)
        if post is None:
            return _no_object(object_id)
        data, problem = self._post_insights(post, metrics)
        return problem or Response(200, {"data": data})

    def _post_insights(self, post: dict, metrics: list[str], engagement: dict | None = None
                       ) -> tuple[list[dict] | None, Response | None]:
        """Insights entries of a Page post or media, for the /insights edge and the insights field.

        As on the real API, one unknown metric fails the whole request. ``engagement``: the figures
        the rest of the object was rendered from, so that one answer is consistent.
        """
        if not metrics:
            return None, _no_metric()
        if post["platform"] == "facebook":
            if any(metric not in FB_POST_METRICS for metric in metrics):
                return None, _param_error("The value must be a valid insights metric")
            render = self._fb_metric
        else:
            for index, metric in enumerate(metrics):
                if metric not in IG_MEDIA_METRICS:
                    return None, _param_error(f"metric[{index}] must be one of the following values: "
                                              + ", ".join(IG_MEDIA_METRICS))
            render = self._ig_metric
        if engagement is None:
            engagement = self.state.engagement(post)
        return [render(post["id"], metric, engagement) for metric in metrics], None

    @staticmethod
    def _fb_metric(object_id: str, metric: str, engagement: dict) -> dict:
        title, source = FB_POST_METRICS[metric]
        if metric == "post_reactions_by_type_total":
            likes = engagement["likes"]
            value: Any = {"like": likes - likes // 5, "love": likes // 5}
        elif metric == "post_reactions_like_total":
            value = engagement["likes"] - engagement["likes"] // 5
        else:
            value = engagement[source]
        return {"name": metric, "period": "lifetime", "values": [{"value": value}],
                "title": f"Lifetime {title}", "description": f"Lifetime: {title}.",
                "id": f"{object_id}/insights/{metric}/lifetime"}

    @staticmethod
    def _ig_metric(object_id: str, metric: str, engagement: dict) -> dict:
        source = IG_MEDIA_METRICS[metric]
        if source is None:  # total_interactions
            value = engagement["likes"] + engagement["replies"] + engagement["reposts"] + engagement["saves"]
        else:
            value = engagement[source]
        title = metric.replace("_", " ").capitalize()
        return {"name": metric, "period": "lifetime", "values": [{"value": value}], "title": title,
                "description": f"{title} of the media.", "id": f"{object_id}/insights/{metric}/lifetime"}

    # --- Instagram --------------------------------------------------------------------------------------
    def ig_container_create(self, request: Request) -> Response:
        account = request.params["id"]
        media_type = (request.arg("media_type") or "IMAGE").upper()
        caption = request.arg("caption") or ""
        carousel_item = (request.arg("is_carousel_item") or "false").lower() == "true"
        if len(caption) > MAX_CAPTION:
            return _param_error(f"The caption is too long: at most {MAX_CAPTION} characters")
        if len(_HASHTAG.findall(caption)) > MAX_HASHTAGS:
            return _param_error(f"The caption has more than {MAX_HASHTAGS} hashtags")
        children: list[str] = []
        image_url = None
        if media_type == "CAROUSEL":
            children = [c for c in (request.arg("children") or "").split(",") if c]
            if not 2 <= len(children) <= MAX_CAROUSEL:
                return _param_error(f"The parameter children must list 2 to {MAX_CAROUSEL} containers")
            with self.state.lock:
                for child in children:
                    item = self.state.media.get(child)
                    if not (item and item.get("kind") == "ig_container" and item["account"] == account
                            and item["carousel_item"]):
                        return _param_error(f"The parameter children has an invalid container id: {child}")
        elif media_type == "REELS":
            image_url = request.arg("video_url")  # kept where the image's URL goes
            if not image_url:
                return _param_error("The parameter video_url is required.")
            if not re.match(r"https?://[^/\s]+/\S+", image_url):
                return _error("Media download has failed. The media URI doesn't meet our requirements.",
                              9004, subcode=2207052)
            if carousel_item:
                return _param_error("A REELS container cannot be a carousel item.")
        elif media_type == "IMAGE":
            image_url = request.arg("image_url")
            if not image_url:
                return _param_error("The parameter image_url is required.")
            if not re.match(r"https?://[^/\s]+/\S+", image_url):
                return _error("Media download has failed. The media URI doesn't meet our requirements.",
                              9004, subcode=2207052)
        else:
            return _param_error(f"media_type {media_type} is not supported by the sandbox")
        error = None
        if media_type == "REELS":
            if not re.search(r"\.(mp4|mov)$", image_url.split("?")[0], re.I):
                error = "The video format is not supported. Reels take MOV or MP4 files."
        elif image_url and not re.search(r"\.jpe?g$", image_url.split("?")[0], re.I):
            # Instagram downloads the image later and fails the container: JPEG is the only format.
            error = "The image format is not supported. Only JPEG images can be published."
        elif image_url:
            error = self._image_refusal(image_url)
        container_id = str(self.state.next_id())
        with self.state.lock:
            self.state.media[container_id] = {
                "kind": "ig_container", "account": account, "media_type": media_type, "caption": caption,
                "image_url": image_url, "children": children, "carousel_item": carousel_item,
                "created_ts": time.time(), "polls": 0, "media_id": None, "error": error}
        return Response(200, {"id": container_id})

    def _image_refusal(self, image_url: str) -> str | None:
        """Why processing fails this image, as Instagram downloads and reads it: an aspect ratio outside 4:5
        to 1.91:1 (IMAGE_ASPECT). Only images this sandbox hosts (/_sandbox/media/) can be read here; others
        are taken as they are."""
        data = self.state.hosted_media(image_url)
        if data is None:
            return None
        size = video.jpeg_size(data)
        if size is None:
            return "The image format is not supported. Only JPEG images can be published."
        width, height = size
        if not height or not IMAGE_ASPECT[0] <= width / height <= IMAGE_ASPECT[1]:
            return (f"The submitted image with aspect ratio ({width}/{height}) cannot be published. "
                    "Please submit an image with a valid aspect ratio.")
        return None

    def _published_last_day(self, account: str) -> int:
        cutoff = time.time() - QUOTA_WINDOW
        return sum(1 for p in self._top_level("instagram", account) if p["created_ts"] >= cutoff)

    def ig_media_publish(self, request: Request) -> Response:
        account = request.params["id"]
        container_id = request.arg("creation_id")
        if not container_id:
            return _param_error("The parameter creation_id is required.")
        with self.state.lock:
            container = self.state.media.get(container_id)
            if not (container and container.get("kind") == "ig_container"
                    and container["account"] == account):
                return _no_object(container_id)
            if container["carousel_item"]:
                return _param_error("A carousel item cannot be published on its own")
            status = self._container_status(container)
            if status != "FINISHED":
                return _error("Media ID is not available", 9007, subcode=2207027,
                              error_user_msg=f"The media is not ready for publishing ({status}).")
            if self._published_last_day(account) >= PUBLISH_QUOTA:
                return _error("Application request limit reached", 9, subcode=2207042,
                              error_user_msg="You reached maximum number of posts that is allowed to be "
                                             "published by Content Publishing API.")
            media_id = str(IG_MEDIA_ID_BASE + self.state.next_id())
            container["media_id"] = media_id
            children = container["children"]
            urls = ([self.state.media[c]["image_url"] for c in children] if children
                    else [container["image_url"]])
        self.state.record_post("instagram", account, container["caption"], post_id=media_id, extra={
            "container": container_id, "children": children, "image_urls": urls,
            "media_type": "CAROUSEL_ALBUM" if children else (
                "VIDEO" if container["media_type"] == "REELS" else "IMAGE"),
            "media_product_type": "REELS" if container["media_type"] == "REELS" else "FEED",
            "permalink": f"https://www.instagram.com/p/{_shortcode(media_id)}/"})
        return Response(200, {"id": media_id})

    def ig_media_list(self, request: Request) -> Response:
        account = request.params["id"]
        posts = sorted(self._top_level("instagram", account), key=lambda p: p["created_ts"], reverse=True)
        return self._listing(request, posts, self._ig_media_fields, f"{account}/media")

    def ig_publishing_limit(self, request: Request) -> Response:
        names = [_field_name(f) for f in _split_fields(request.arg("fields"))] or ["quota_usage"]
        entry: dict[str, Any] = {}
        for name in names:
            if name == "quota_usage":
                entry["quota_usage"] = self._published_last_day(request.params["id"])
            elif name == "config":
                entry["config"] = {"quota_total": PUBLISH_QUOTA, "quota_duration": QUOTA_WINDOW}
            else:
                return _param_error(f"Tried accessing nonexisting field ({name}) on node type "
                                    "(ContentPublishingLimit)")
        return Response(200, {"data": [entry]})


EMULATOR = GraphEmulator
