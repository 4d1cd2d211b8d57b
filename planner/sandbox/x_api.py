"""Emulation of the X API v2 subset the X adapter uses.

Shapes follow the public API reference: ``{"data": ...}`` on success, RFC 7807 problem objects
(``title``/``detail``/``type``/``status``) on request errors, per-item entries in an ``errors`` array
for partial results (missing tweets, fields the caller may not see), and the
``x-rate-limit-limit/remaining/reset`` headers on every answer. Like X, returned texts have their
links replaced by t.co links and ``&``, ``<``, ``>`` HTML-escaped.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import time
from datetime import datetime, timezone

# Counting and links by twitter-text itself (its Python port), not by the tool's own implementation of the
# same rules (planner.domain.text_rules): a mistake there must show here as a refusal, as X would refuse.
from twitter_text import extract_urls_with_indices, parse_tweet

from planner.sandbox import video
from planner.sandbox.core import Emulator, Request, Response, route

MAX_WEIGHTED_LENGTH = 280
DAILY_POST_CAP = 17  # posts per user per 24 hours on the Free access level (X's rate-limit table)
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MEDIA_CATEGORIES = ("tweet_image", "dm_image", "subtitles")
# Chunked upload (https://docs.x.com/x-api/media/quickstart/media-upload-chunked; limits from X's media best
# practices): INIT declares type, size and category; APPEND sends segments (at most 5 MB, index 0-999, in
# order; the same index again replaces that segment); FINALIZE needs every byte; STATUS follows processing.
CHUNKED_CATEGORIES = {"tweet_video": ("video/mp4", "video/quicktime"), "amplify_video": ("video/mp4",),
                      "tweet_gif": ("image/gif",), "tweet_image": ("image/jpeg", "image/png", "image/webp")}
CHUNKED_MAX_BYTES = {"video/mp4": 512 * 1024 * 1024, "video/quicktime": 512 * 1024 * 1024,
                     "image/gif": 15 * 1024 * 1024}
MAX_SEGMENT_BYTES = 5 * 1024 * 1024
MAX_SEGMENTS = 1000
VIDEO_SECONDS = (0.5, 140.0)
# Animated GIFs (https://docs.x.com/x-api/media/quickstart/best-practices, "Animated GIF recommendations": a GIF
# may fail even within the size limit): at most 1280x1080 pixels, 350 frames, 300 million pixels over all frames.
# Here processing fails (STATUS "failed", InvalidMedia), so the GIF never reaches a Post.
GIF_MAX_SIZE = (1280, 1080)
GIF_MAX_FRAMES = 350
GIF_MAX_TOTAL_PIXELS = 300_000_000
PROCESSING_SECONDS = 1  # check_after_secs, and how long processing takes here
ID_BASE = 1_790_000_000_000_000_000
TWITTER_EPOCH_MS = 1288834974657  # ids look like snowflakes, and still grow with time

# Per-user limits of a 15-minute window, reported in headers (faults produce the 429s).
WINDOW = 15 * 60
LIMITS = {"create": 100, "media": 500, "me": 75, "timeline": 900, "lookup": 900, "search": 300}

# App-only bearer tokens (from the app's keys, not a user's consent) look like this on X.
APP_ONLY_PREFIX = "AAAAAAAAAAAAAAAAAAAAA"
USER_CONTEXT_ONLY = ("create", "media", "me")

PRIVATE_FIELDS = ("non_public_metrics", "organic_metrics")

_OAUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')
_OAUTH_REQUIRED = ("oauth_consumer_key", "oauth_token", "oauth_signature", "oauth_nonce",
                   "oauth_timestamp", "oauth_signature_method")


def _problem(status: int, title: str, detail: str, type_: str = "about:blank", **extra) -> Response:
    return Response(status, {"title": title, "detail": detail, "type": type_, "status": status, **extra})


def _invalid(message: str, parameter: str | None = None, value=None) -> Response:
    error = {"message": message}
    if parameter:
        error["parameters"] = {parameter: [str(value)]}
    return Response(400, {"errors": [error], "title": "Invalid Request",
                          "detail": "One or more parameters to your request was invalid.",
                          "type": "https://api.twitter.com/2/problems/invalid-request"})


def _unauthorized() -> Response:
    return _problem(401, "Unauthorized", "Unauthorized")


def _unsupported_authentication() -> Response:
    return _problem(403, "Unsupported Authentication",
                    "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported "
                    "authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
                    "https://api.twitter.com/2/problems/unsupported-authentication")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{int(ts * 1000) % 1000:03d}Z"


def _parse_time(value: str) -> float:
    """RFC 3339 as X accepts it (YYYY-MM-DDTHH:mm:ssZ, optional fraction or offset); ValueError if not."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _user(token: str) -> dict:
    """A stable user for a token. OAuth 1.0a access tokens start with the user id, as on X."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    prefix = re.match(r"(\d{1,19})-", token)
    user_id = prefix.group(1) if prefix else str(int(digest[:14], 16))
    return {"id": user_id, "username": f"humas_{digest[:6]}", "name": f"Humas {digest[:6].upper()}"}


def _tco(url: str) -> str:
    return "https://t.co/" + base64.b32encode(hashlib.sha1(url.encode()).digest()).decode()[:10].lower()


def find_urls(text: str) -> list[tuple[int, int, str]]:
    """(start, end, url) of the links twitter-text finds (with or without a scheme)."""
    return [(item["indices"][0], item["indices"][1], item["url"]) for item in extract_urls_with_indices(text)]


def x_weighted_length(text: str) -> int:
    """The weighted length X counts (https://docs.x.com/fundamentals/counting-characters: 280; URLs 23; CJK
    and emoji 2)."""
    return parse_tweet(text).weightedLength


def _rendered(post: dict) -> str:
    """The text as X returns it: links (with or without scheme) as t.co, HTML-escaped, a media link appended."""
    text = post["text"]
    for start, end, url in reversed(find_urls(text)):
        text = text[:start] + _tco(url) + text[end:]
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if post["extra"].get("media"):
        text = (text + " " + _tco("media:" + post["id"])).strip()
    return text


def _image_type(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _gif_refusal(data: bytes) -> str | None:
    """Why X's processing fails this GIF (size, frames, all frames' pixels), None when it passes."""
    shape = video.gif_shape(data)
    if shape is None:
        return "InvalidMedia: the GIF cannot be read"
    width, height, frames = shape
    if width > GIF_MAX_SIZE[0] or height > GIF_MAX_SIZE[1]:
        return f"InvalidMedia: GIF resolution {width}x{height} exceeds {GIF_MAX_SIZE[0]}x{GIF_MAX_SIZE[1]}"
    if frames > GIF_MAX_FRAMES:
        return f"InvalidMedia: GIF has {frames} frames, more than {GIF_MAX_FRAMES}"
    if width * height * frames > GIF_MAX_TOTAL_PIXELS:
        return f"InvalidMedia: GIF has {width * height * frames} pixels in all, more than {GIF_MAX_TOTAL_PIXELS}"
    return None


def _fields(request: Request, name: str) -> set[str]:
    return {f for f in (request.arg(name) or "").split(",") if f}


def _page_token(post_id: str) -> str:
    return base64.b32encode(post_id.encode()).decode().rstrip("=").lower()


def _page_start(token: str) -> str:
    padded = token.upper() + "=" * (-len(token) % 8)
    return base64.b32decode(padded).decode()


class XEmulator(Emulator):
    name = "x"

    def __init__(self, state):
        super().__init__(state)
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    def routes(self):
        return [
            route("POST", r"/2/tweets", self._authed("create", self.create_tweet), publishes=True),
            route("POST", r"/2/media/upload", self._authed("media", self.upload_media)),
            route("GET", r"/2/media/upload", self._authed("media", self.media_status)),
            route("GET", r"/2/users/me", self._authed("me", self.users_me)),
            route("GET", r"/2/users/(?P<user_id>\d{1,19})/tweets", self._authed("timeline", self.user_tweets)),
            route("GET", r"/2/tweets/search/recent", self._authed("search", self.search_recent)),
            route("GET", r"/2/tweets", self._authed("lookup", self.lookup_tweets)),
        ]

    def rate_limited(self, reset_in: int) -> Response:
        response = _problem(429, "Too Many Requests", "Too Many Requests")
        response.headers = {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0",
                            "x-rate-limit-reset": str(math.ceil(time.time() + reset_in))}
        return response

    def server_error(self) -> Response:
        return _problem(503, "Service Unavailable", "Service Unavailable")

    def platform_fault(self, rule) -> Response | None:
        """X's own answers (https://docs.x.com/x-api/fundamentals/rate-limits, .../response-codes-and-errors):

        - daily_cap: the 24-hour post cap of the user (per user token) is spent. It holds until its reset
          (``reset_in`` seconds after it is first met, then requests pass): 429 with the
          ``x-user-limit-24hour-limit/remaining/reset`` headers, while the 15-minute window
          (``x-rate-limit-*``) still has room and resets sooner.
        - client_forbidden: 403 problem ``client-forbidden`` (the app's access level or Project enrolment).
        - credits_depleted: 402 ``CreditsDepleted`` (pay-per-use account without credits).
        """
        now = time.time()
        if rule.kind == "daily_cap":
            until = rule.__dict__.setdefault("capped_until", now + rule.reset_in)
            if now >= until:
                return None
            response = _problem(429, "Too Many Requests", "Too Many Requests")
            response.headers = {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "99",
                                "x-rate-limit-reset": str(math.ceil(now + 1)),
                                "x-user-limit-24hour-limit": str(DAILY_POST_CAP),
                                "x-user-limit-24hour-remaining": "0",
                                "x-user-limit-24hour-reset": str(math.ceil(until))}
            return response
        if rule.kind == "client_forbidden":
            return _problem(403, "Client Forbidden", "When authenticating requests to the Twitter API v2 endpoints, "
                            "you must use keys and tokens from a Twitter developer App that is attached to a "
                            "Project. You can create a project via the developer portal.",
                            "https://api.twitter.com/2/problems/client-forbidden", reason="client-not-enrolled",
                            required_enrollment="Appropriate Level of API Access",
                            registration_url="https://developer.twitter.com/en/docs/projects/overview")
        return _problem(402, "CreditsDepleted", "Your enrolled account does not have any credits to fulfill this "
                        "request.")

    # --- auth and rate-limit headers -----------------------------------------------------------
    def _caller(self, request: Request) -> dict | None:
        header = request.header("authorization")
        scheme, _, rest = header.partition(" ")
        if scheme == "Bearer" and rest.strip():
            token = rest.strip()
            if token.startswith(APP_ONLY_PREFIX):
                return {"id": None, "username": None, "name": None, "app_only": True}
            from planner.sandbox.oauth import bearer_user

            issued = bearer_user(self.state, token)  # a token from the OAuth 2.0 flow: strict expiry
            if issued is not None:
                return issued or None
        elif scheme == "OAuth":
            params = dict(_OAUTH_PARAM.findall(rest))
            if any(not params.get(k) for k in _OAUTH_REQUIRED):
                return None
            if params["oauth_signature_method"] != "HMAC-SHA1" or not params["oauth_timestamp"].isdigit():
                return None
            if abs(time.time() - int(params["oauth_timestamp"])) > 900:
                return None
            if params["oauth_consumer_key"].startswith(("bad", "expired")):
                return None
            token = params["oauth_token"]
        else:
            return None
        if token.startswith(("bad", "expired")):
            return None
        user = _user(token)
        if scheme == "OAuth":  # OAuth 1.0a answers carry the app's permission level (x-access-level)
            user["access_level"] = "read" if token.endswith("-readonly") else "read-write"
        return user

    def _authed(self, limit_key: str, handler):
        def wrapped(request: Request) -> Response:
            caller = self._caller(request)
            if caller is None:
                return _unauthorized()
            if caller.get("app_only") and limit_key in USER_CONTEXT_ONLY:
                return _unsupported_authentication()
            if caller.get("access_level") == "read" and limit_key in ("create", "media"):
                return _problem(403, "Forbidden", "Your client app is not configured with the appropriate oauth1 app "
                                "permissions for this endpoint.", "https://api.twitter.com/2/problems/oauth1-permissions")
            response = handler(request, caller)
            response.headers = {**self._limit_headers(caller["id"] or "app", limit_key), **response.headers}
            if caller.get("access_level"):
                response.headers["x-access-level"] = caller["access_level"]
            return response
        return wrapped

    def _limit_headers(self, user_id: str, key: str) -> dict[str, str]:
        now = time.time()
        with self.state.lock:
            start, count = self._windows.get((user_id, key), (now, 0))
            if now - start >= WINDOW:
                start, count = now, 0
            self._windows[(user_id, key)] = (start, count + 1)
        limit = LIMITS[key]
        return {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": str(max(0, limit - count - 1)),
                "x-rate-limit-reset": str(int(start + WINDOW))}

    # --- POST /2/tweets ------------------------------------------------------------------------
    def create_tweet(self, request: Request, caller: dict) -> Response:
        if request.content_type != "application/json":
            return _invalid("Content-Type must be application/json")
        try:
            body = request.json()
        except ValueError:
            return _invalid("Request body is not valid JSON")
        if not isinstance(body, dict):
            return _invalid("Request body must be a JSON object")
        text = body.get("text")
        media_ids = (body.get("media") or {}).get("media_ids") or []
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if text is not None and not isinstance(text, str):
            return _invalid("$.text: string expected", "text", text)
        if not text and not media_ids:
            return _invalid("$.text: is missing but it is required (or media.media_ids)", "text", text)
        text = text or ""
        if x_weighted_length(text) > MAX_WEIGHTED_LENGTH:
            return _problem(403, "Forbidden", "Your Tweet text is too long. For more information on how X "
                            "determines text length see https://github.com/twitter/twitter-text.")
        if not isinstance(media_ids, list) or len(media_ids) > 4:
            return _invalid("$.media.media_ids: at most 4 items", "media.media_ids", media_ids)
        with self.state.lock:
            for media_id in media_ids:
                media = self.state.media.get(str(media_id))
                if not media or media.get("platform") != "x" or media["owner"] != caller["id"] \
                        or media["expires"] < time.time() or media.get("state", "succeeded") != "succeeded":
                    return _invalid("Your media IDs are invalid.", "media.media_ids", media_id)
                if media.get("category") in ("tweet_video", "tweet_gif", "amplify_video") and len(media_ids) > 1:
                    return _invalid("A video or GIF must be the only media of a Tweet.", "media.media_ids",
                                    media_ids)
            if reply_to is not None:
                parent = self.state.find_post("x", str(reply_to))
                if parent is None:
                    return _problem(403, "Forbidden", "You attempted to reply to a Tweet that is deleted "
                                    "or not visible to you.")
            if text and any(p["text"].strip() == text.strip() for p in self.state.posts_of("x", caller["username"])):
                return _problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content.")
            post_id = str(ID_BASE + self.state.next_id())
            post = self.state.record_post(
                "x", caller["username"], text, post_id=post_id,
                extra={"media": [str(m) for m in media_ids], "reply_to": str(reply_to) if reply_to else None,
                       "author_id": caller["id"]})
        return Response(201, {"data": {"id": post_id, "text": _rendered(post),
                                       "edit_history_tweet_ids": [post_id]}})

    # --- POST /2/media/upload ------------------------------------------------------------------
    def upload_media(self, request: Request, caller: dict) -> Response:
        command = request.arg("command") if request.content_type in ("multipart/form-data",
                                                                      "application/x-www-form-urlencoded") else None
        if command is not None:
            handler = {"INIT": self._init, "APPEND": self._append, "FINALIZE": self._finalize}.get(command)
            if handler is None:
                return _invalid("$.command: must be one of INIT, APPEND, FINALIZE (case sensitive)", "command",
                                command)
            return handler(request, caller)
        if request.content_type == "multipart/form-data":
            part = request.files.get("media")
            data = part[1] if part else request.form.get("media", "").encode()
            category = request.form.get("media_category")
        elif request.content_type == "application/json":
            body = request.json() or {}
            category = body.get("media_category")
            try:
                data = base64.b64decode(body.get("media") or "", validate=True)
            except (binascii.Error, ValueError):
                return _invalid("$.media: base64 expected", "media", "...")
        else:
            return _invalid("Content-Type must be multipart/form-data or application/json")
        if not data:
            return _invalid("$.media: is missing but it is required", "media", "")
        if category not in MEDIA_CATEGORIES:
            return _invalid(f"$.media_category: must be one of {list(MEDIA_CATEGORIES)}", "media_category", category)
        media_type = _image_type(data)
        if media_type is None:
            return _invalid("Unsupported media type: expected JPEG, PNG, GIF or WEBP", "media", "...")
        if media_type == "image/gif":
            # The one-shot upload takes still images; an animated GIF needs the chunked flow (tweet_gif).
            return _invalid("GIF media must be uploaded with the chunked upload (INIT/APPEND/FINALIZE) and "
                            "media_category tweet_gif", "media", "...")
        if len(data) > MAX_IMAGE_BYTES:
            return _invalid("File size exceeds 5242880 bytes.", "media", len(data))
        media_id = str(ID_BASE + self.state.next_id())
        with self.state.lock:
            self.state.media[media_id] = {"platform": "x", "owner": caller["id"], "size": len(data),
                                          "type": media_type, "category": category,
                                          "expires": time.time() + 86400}
        return Response(200, {"data": {"id": media_id, "media_key": f"3_{media_id}", "size": len(data),
                                       "expires_after_secs": 86400,
                                       "processing_info": {"state": "succeeded", "progress_percent": 100}}})

    def _upload_session(self, request: Request, caller: dict) -> tuple[str, dict | None]:
        media_id = str(request.arg("media_id") or "")
        with self.state.lock:
            session = self.state.media.get(media_id)
        if not session or session.get("platform") != "x" or session["owner"] != caller["id"] \
                or "segments" not in session or session["expires"] < time.time():
            return media_id, None
        return media_id, session

    def _init(self, request: Request, caller: dict) -> Response:
        media_type = request.arg("media_type") or ""
        category = request.arg("media_category") or ""
        total = request.arg("total_bytes") or ""
        if category not in CHUNKED_CATEGORIES:
            return _invalid(f"$.media_category: must be one of {sorted(CHUNKED_CATEGORIES)}", "media_category",
                            category)
        if media_type not in CHUNKED_CATEGORIES[category]:
            return _invalid(f"media_type {media_type!r} cannot be used with media_category {category}", "media_type",
                            media_type)
        if not str(total).isdigit() or int(total) <= 0:
            return _invalid("$.total_bytes: a positive integer is required", "total_bytes", total)
        limit = CHUNKED_MAX_BYTES.get(media_type, MAX_IMAGE_BYTES)
        if int(total) > limit:
            return _invalid(f"File size exceeds {limit} bytes.", "total_bytes", total)
        media_id = str(ID_BASE + self.state.next_id())
        with self.state.lock:
            self.state.media[media_id] = {"platform": "x", "owner": caller["id"], "type": media_type,
                                          "category": category, "total": int(total), "segments": {},
                                          "state": "uploading", "expires": time.time() + 86400}
        return Response(200, {"data": {"id": media_id, "media_key": f"7_{media_id}", "expires_after_secs": 86400}})

    def _append(self, request: Request, caller: dict) -> Response:
        media_id, session = self._upload_session(request, caller)
        if session is None:
            return _invalid("Your media IDs are invalid.", "media_id", media_id)
        index = request.arg("segment_index") or ""
        part = request.files.get("media")
        if part is None:
            return _invalid("$.media: is missing but it is required", "media", "")
        data = part[1]
        if not str(index).isdigit() or int(index) >= MAX_SEGMENTS:
            return _invalid(f"$.segment_index: an integer from 0 to {MAX_SEGMENTS - 1}", "segment_index", index)
        if len(data) > MAX_SEGMENT_BYTES:
            return _invalid(f"Segment size exceeds {MAX_SEGMENT_BYTES} bytes.", "media", len(data))
        with self.state.lock:
            if session["state"] != "uploading":
                return _invalid("The upload was already finalized.", "media_id", media_id)
            segments = session["segments"]
            if int(index) > len(segments):
                return _invalid(f"Segment index {index} is out of order: segment {len(segments)} is expected next.",
                                "segment_index", index)
            received = sum(len(v) for k, v in segments.items() if k != int(index)) + len(data)
            if received > session["total"]:
                return _invalid(f"Segments exceed total_bytes ({session['total']}).", "media", received)
            segments[int(index)] = data
        return Response(200, {"data": {"expires_at": int(session["expires"])}})

    def _finalize(self, request: Request, caller: dict) -> Response:
        media_id, session = self._upload_session(request, caller)
        if session is None:
            return _invalid("Your media IDs are invalid.", "media_id", media_id)
        with self.state.lock:
            if session["state"] != "uploading":
                return _invalid("The upload was already finalized.", "media_id", media_id)
            data = b"".join(session["segments"][i] for i in sorted(session["segments"]))
            if len(data) != session["total"]:
                return _invalid(f"File size mismatch: {len(data)} of {session['total']} bytes received before "
                                "FINALIZE.", "media_id", media_id)
            session.update(state="pending", finalized=time.time(), size=len(data), error=None)
            if video.mime_type(data) != session["type"]:
                session["error"] = "InvalidMedia: the bytes are not the declared media_type"
            elif session["type"] == "image/gif":
                session["error"] = _gif_refusal(data)
            elif session["type"].startswith("video/"):
                length = video.seconds(data)
                if length is None or not VIDEO_SECONDS[0] <= length <= VIDEO_SECONDS[1]:
                    session["error"] = (f"InvalidMedia: video duration must be {VIDEO_SECONDS[0]:g}-"
                                        f"{VIDEO_SECONDS[1]:g} seconds")
            del session["segments"]  # the bytes are not needed any more
            session["segments_done"] = True
        return Response(200, {"data": {"id": media_id, "media_key": f"7_{media_id}", "size": len(data),
                                       "expires_after_secs": 86400,
                                       "processing_info": {"state": "pending",
                                                           "check_after_secs": PROCESSING_SECONDS}}})

    def media_status(self, request: Request, caller: dict) -> Response:
        if request.arg("command") != "STATUS":
            return _invalid("$.command: must be STATUS", "command", request.arg("command"))
        media_id = str(request.arg("media_id") or "")
        with self.state.lock:
            session = self.state.media.get(media_id)
            if not session or session.get("platform") != "x" or session["owner"] != caller["id"] \
                    or "finalized" not in session:
                return _invalid("Your media IDs are invalid.", "media_id", media_id)
            if session["state"] == "pending" and time.time() - session["finalized"] >= PROCESSING_SECONDS:
                session["state"] = "failed" if session["error"] else "succeeded"
            state = session["state"]
        info: dict = {"state": "in_progress" if state == "pending" else state}
        if state == "pending":
            info.update(check_after_secs=PROCESSING_SECONDS, progress_percent=50)
        elif state == "succeeded":
            info["progress_percent"] = 100
        else:
            info["error"] = {"code": 1, "name": "InvalidMedia", "message": session["error"]}
        return Response(200, {"data": {"id": media_id, "media_key": f"7_{media_id}", "processing_info": info}})

    # --- users ---------------------------------------------------------------------------------
    def users_me(self, request: Request, caller: dict) -> Response:
        data = dict(caller)
        if "public_metrics" in _fields(request, "user.fields"):
            data["public_metrics"] = {"followers_count": 0, "following_count": 0,
                                      "tweet_count": len(self.state.posts_of("x", caller["username"])),
                                      "listed_count": 0}
        return Response(200, {"data": data})

    def user_tweets(self, request: Request, caller: dict) -> Response:
        try:
            max_results = int(request.arg("max_results") or 10)
            start = _parse_time(request.arg("start_time")) if request.arg("start_time") else None
            end = _parse_time(request.arg("end_time")) if request.arg("end_time") else None
            first = _page_start(request.arg("pagination_token")) if request.arg("pagination_token") else None
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return _invalid("One or more query parameters are invalid (max_results, start_time, end_time, "
                            "pagination_token)")
        if not 5 <= max_results <= 100:
            return _invalid("The `max_results` query parameter value [%d] is not between 5 and 100" % max_results,
                            "max_results", max_results)
        posts = [p for p in self.state.posts_of("x") if p["extra"].get("author_id") == request.params["user_id"]
                 and (start is None or p["created_ts"] >= start) and (end is None or p["created_ts"] <= end)]
        posts.sort(key=lambda p: int(p["id"]), reverse=True)
        if first is not None:
            posts = [p for p in posts if int(p["id"]) <= int(first)]
        page, rest = posts[:max_results], posts[max_results:]
        return self._tweets_response(request, caller, page, timeline=True, next_post=rest[0] if rest else None)

    # --- GET /2/tweets -------------------------------------------------------------------------
    def lookup_tweets(self, request: Request, caller: dict) -> Response:
        ids = [i for i in (request.arg("ids") or "").split(",") if i]
        if not 1 <= len(ids) <= 100:
            return _invalid(f"The `ids` query parameter value [{request.arg('ids') or ''}] is not between 1 "
                            "and 100 items", "ids", request.arg("ids") or "")
        if not all(i.isdigit() and len(i) <= 19 for i in ids):
            return _invalid("The `ids` query parameter value must be numeric ids", "ids", request.arg("ids"))
        if caller.get("app_only") and _fields(request, "tweet.fields") & set(PRIVATE_FIELDS):
            return _unsupported_authentication()
        found, errors = [], []
        for tweet_id in ids:
            post = self.state.find_post("x", tweet_id)
            if post is None:
                errors.append({"value": tweet_id, "detail": f"Could not find tweet with ids: [{tweet_id}].",
                               "title": "Not Found Error", "resource_type": "tweet", "parameter": "ids",
                               "resource_id": tweet_id,
                               "type": "https://api.twitter.com/2/problems/resource-not-found"})
            else:
                found.append(post)
        response = self._tweets_response(request, caller, found)
        if errors:
            response.body["errors"] = errors + response.body.get("errors", [])
        return response

    # --- GET /2/tweets/search/recent -----------------------------------------------------------
    def search_recent(self, request: Request, caller: dict) -> Response:
        query = request.arg("query") or ""
        if not 1 <= len(query) <= 512:
            return _invalid("The `query` query parameter must be between 1 and 512 characters", "query", query)
        now = time.time()
        try:
            max_results = int(request.arg("max_results") or 10)
            start = _parse_time(request.arg("start_time")) if request.arg("start_time") else now - 7 * 86400
            first = _page_start(request.arg("next_token")) if request.arg("next_token") else None
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return _invalid("One or more query parameters are invalid (max_results, start_time, next_token)")
        if not 10 <= max_results <= 100:
            return _invalid(f"The `max_results` query parameter value [{max_results}] is not between 10 and 100",
                            "max_results", max_results)
        if start < now - 7 * 86400:
            earliest = datetime.fromtimestamp(now - 7 * 86400, timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
            return _invalid(f"Invalid 'start_time':'{request.arg('start_time')}'. 'start_time' must be on or "
                            f"after {earliest}", "start_time", request.arg("start_time"))
        keywords = _query_terms(query)
        if not keywords:
            return _invalid("There were errors processing your request: no search terms in query", "query", query)
        seen: dict[str, dict] = {}
        for keyword in keywords:
            for mention in self.state.mentions(keyword, start, limit=1000):
                seen.setdefault(mention["id"], mention)
        tweets = sorted(({**m, "tweet_id": _snowflake(m)} for m in seen.values()),
                        key=lambda m: int(m["tweet_id"]), reverse=True)
        if first is not None:
            tweets = [m for m in tweets if int(m["tweet_id"]) <= int(first)]
        page, rest = tweets[:max_results], tweets[max_results:]
        fields = _fields(request, "tweet.fields")
        users = {}
        data = []
        for m in page:
            author_id = str(int(hashlib.sha1(m["author"].encode()).hexdigest()[:14], 16))
            users[author_id] = {"id": author_id, "username": m["author"], "name": m["author"].title()}
            tweet = {"id": m["tweet_id"], "text": m["text"], "edit_history_tweet_ids": [m["tweet_id"]]}
            if "created_at" in fields:
                tweet["created_at"] = _iso(m["ts"])
            if "author_id" in fields:
                tweet["author_id"] = author_id
            data.append(tweet)
        body: dict = {"meta": {"result_count": len(data)}}
        if data:
            body["data"] = data
            body["meta"].update(newest_id=data[0]["id"], oldest_id=data[-1]["id"])
            if "author_id" in _fields(request, "expansions"):
                body["includes"] = {"users": list(users.values())}
        if rest:
            body["meta"]["next_token"] = _page_token(rest[0]["tweet_id"])
        return Response(200, body)

    # --- shared rendering ------------------------------------------------------------------------
    def _tweets_response(self, request: Request, caller: dict, posts: list[dict], *,
                         timeline: bool = False, next_post: dict | None = None) -> Response:
        fields = _fields(request, "tweet.fields")
        private = [f for f in PRIVATE_FIELDS if f in fields]
        data, errors = [], []
        for post in posts:
            if private and post["extra"].get("author_id") != caller["id"]:
                # X answers the others and refuses this tweet, once per private field asked for.
                errors.extend(_field_error(post["id"], field) for field in private)
                continue
            data.append(self._tweet(post, fields))
        body: dict = {}
        if data:
            body["data"] = data
        if errors:
            body["errors"] = errors
        if timeline:
            body["meta"] = {"result_count": len(data)}
            if data:
                body["meta"].update(newest_id=data[0]["id"], oldest_id=data[-1]["id"])
            if next_post is not None:
                body["meta"]["next_token"] = _page_token(next_post["id"])
        return Response(200, body)

    def _tweet(self, post: dict, fields: set[str]) -> dict:
        tweet = {"id": post["id"], "text": _rendered(post), "edit_history_tweet_ids": [post["id"]]}
        if "created_at" in fields:
            tweet["created_at"] = _iso(post["created_ts"])
        if "author_id" in fields:
            tweet["author_id"] = post["extra"].get("author_id")
        if "conversation_id" in fields:
            tweet["conversation_id"] = self._conversation_id(post)
        if "referenced_tweets" in fields and post["extra"].get("reply_to"):
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": post["extra"]["reply_to"]}]
        if "attachments" in fields and post["extra"].get("media"):
            tweet["attachments"] = {"media_keys": [f"3_{m}" for m in post["extra"]["media"]]}
        if fields & {"public_metrics", *PRIVATE_FIELDS}:
            metrics = self.state.engagement(post)
            has_link = bool(find_urls(post["text"]))
            if "public_metrics" in fields:
                tweet["public_metrics"] = {
                    "retweet_count": metrics["reposts"], "reply_count": metrics["replies"],
                    "like_count": metrics["likes"], "quote_count": metrics["quotes"],
                    "bookmark_count": metrics["saves"], "impression_count": metrics["impressions"]}
            private = {"impression_count": metrics["impressions"], "user_profile_clicks": metrics["clicks"] // 3}
            if has_link:  # X reports link clicks only for tweets that carry a link
                private["url_link_clicks"] = metrics["clicks"]
            if "non_public_metrics" in fields:
                tweet["non_public_metrics"] = dict(private)
            if "organic_metrics" in fields:
                tweet["organic_metrics"] = {**private, "like_count": metrics["likes"],
                                            "reply_count": metrics["replies"], "retweet_count": metrics["reposts"]}
        return tweet

    def _conversation_id(self, post: dict) -> str:
        while post["extra"].get("reply_to"):
            parent = self.state.find_post("x", post["extra"]["reply_to"])
            if parent is None:
                break
            post = parent
        return post["id"]


def _field_error(tweet_id: str, field: str) -> dict:
    return {"value": tweet_id, "detail": f"Sorry, you are not authorized to access '{field}' on the Tweet "
            f"with ids: {tweet_id}.", "title": "Field Authorization Error", "resource_type": "tweet",
            "parameter": field, "resource_id": tweet_id, "section": "data",
            "type": "https://api.twitter.com/2/problems/not-authorized-for-field"}


def _snowflake(mention: dict) -> str:
    """A tweet id in X's format (milliseconds since X's epoch, then 22 bits), so ids sort by time."""
    return str((int(mention["ts"] * 1000) - TWITTER_EPOCH_MS) << 22 | int(mention["id"][:6], 16) & 0x3FFFFF)


def _query_terms(query: str) -> list[str]:
    """The search terms of an X query: quoted phrases and bare words; operators and negations dropped."""
    terms = []
    for phrase, word in re.findall(r'"([^"]+)"|([^\s()]+)', query):
        term = phrase or word
        if word and (word.upper() in ("OR", "AND") or word.startswith("-") or ":" in word):
            continue
        terms.append(term)
    return terms

EMULATOR = XEmulator
