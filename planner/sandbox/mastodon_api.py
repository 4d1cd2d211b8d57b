"""Mastodon emulator: the REST API subset the adapter uses, shaped like Mastodon 4.3.

Ids are snowflakes like the real server's (milliseconds << 16), so ``since_id``/``min_id``
computed from a time by the client work the same way. Any well-formed bearer token is accepted
and names its own account; tokens starting with "bad" or "expired" get Doorkeeper's 401.
"""

from __future__ import annotations

import hashlib
import html
import re
import time
from datetime import datetime, timezone
from urllib.parse import parse_qs, unquote

import grapheme  # counted here independently of the tool's counter, so a mistake there shows
from twitter_text import extract_urls_with_indices

from planner.sandbox.core import Emulator, Request, Response, route

VERSION = "4.3.0"
MAX_CHARACTERS = 500
URL_LENGTH = 23
MAX_MEDIA = 4
IMAGE_SIZE_LIMIT = 16 * 1024 * 1024
VIDEO_SIZE_LIMIT = 99 * 1024 * 1024
RATE_LIMIT = 300  # requests per 5 minutes per account, Mastodon's default
RATE_WINDOW = 300
IDEMPOTENCY_TTL = 3600  # Mastodon keeps Idempotency-Key results for one hour
MIME_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4", "video/webm", "audio/mpeg")

_URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'’]")
_HASHTAG = re.compile(r"(?<![\w/#])#(\w+)")


def _iso(ts: float) -> str:
    moment = datetime.fromtimestamp(ts, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _snowflake(ts: float, low: int) -> int:
    return (int(ts * 1000) << 16) | (low & 0xFFFF)


# Account::MENTION_RE of Mastodon 4 (app/models/account.rb): a username may hold "." and "-" inside.
_MENTION_RE = re.compile(r"(?<![=/\w])@(([a-z0-9_]+(?:[a-z0-9_.\-]+[a-z0-9_]+)?)(?:@[\w.\-]+\w+)?)", re.IGNORECASE)
_URL_PLACEHOLDER = "x" * 23


def _length(text: str) -> int:
    """Mastodon's StatusLengthValidator, on its own (not the tool's counter): each link with a scheme found by
    twitter-text's URL rule counts 23, ``@user@domain`` counts as ``@user``, and grapheme clusters are counted
    (https://docs.joinmastodon.org/user/posting/#text, app/validators/status_length_validator.rb)."""
    pieces, position = [], 0
    for item in extract_urls_with_indices(text):
        start, end = item["indices"]
        if re.match(r"https?://", item["url"], re.IGNORECASE):
            pieces += [text[position:start], _URL_PLACEHOLDER]
            position = end
    pieces.append(text[position:])
    return grapheme.length(_MENTION_RE.sub(lambda m: "@" + m.group(2), "".join(pieces)))


def _linkify(escaped_line: str, base: str) -> str:
    def link(match: re.Match) -> str:
        url = html.unescape(match.group(0))
        scheme, _, rest = url.partition("://")
        shown, hidden = rest[:30], rest[30:]
        return (f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener noreferrer" translate="no">'
                f'<span class="invisible">{scheme}://</span>'
                f'<span class="{"ellipsis" if hidden else ""}">{html.escape(shown)}</span>'
                f'<span class="invisible">{html.escape(hidden)}</span></a>')

    def tag(match: re.Match) -> str:
        name = match.group(1)
        return (f'<a href="{base}/tags/{name.lower()}" class="mention hashtag" rel="tag">'
                f'#<span>{name}</span></a>')

    return _HASHTAG.sub(tag, _URL.sub(link, escaped_line))


def render_content(text: str, base: str) -> str:
    """Plain text to Mastodon's HTML: paragraphs, <br />, linked URLs and hashtags."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    rendered = []
    for paragraph in paragraphs:
        lines = [_linkify(html.escape(line, quote=False), base) for line in paragraph.split("\n")]
        rendered.append("<p>" + "<br />".join(lines) + "</p>")
    return "".join(rendered)


class MastodonEmulator(Emulator):
    name = "mastodon"

    def __init__(self, state):
        super().__init__(state)
        self._accounts: dict[str, dict] = {}  # account id -> account info
        # The instance's own status length (configuration.statuses.max_characters); 500 is Mastodon's default,
        # and instances may set more (tests change it to see that the tool reads it).
        self.max_characters = MAX_CHARACTERS
        self._idempotency: dict[tuple[str, str], tuple[str, float]] = {}
        self._usage: dict[str, tuple[int, int]] = {}  # token -> (window, requests)

    def routes(self):
        return [
            route("GET", r"/api/v1/instance", self.instance_v1),
            route("GET", r"/api/v2/instance", self.instance_v2),
            route("GET", r"/api/v1/accounts/verify_credentials", self.verify_credentials),
            route("GET", r"/api/v1/accounts/(?P<id>\d+)/statuses", self.account_statuses),
            route("POST", r"/api/v1/statuses", self.post_status, publishes=True),
            route("GET", r"/api/v1/statuses", self.statuses),
            route("GET", r"/api/v1/statuses/(?P<id>\d+)", self.status),
            route("POST", r"/api/v2/media", self.post_media),
            route("GET", r"/api/v1/media/(?P<id>\d+)", self.media),
            route("GET", r"/api/v2/search", self.search),
            route("GET", r"/api/v1/timelines/tag/(?P<tag>[^/]+)", self.tag_timeline),
        ]

    # --- the platform's own "slow down" and "broken" ---------------------------------------
    def rate_limited(self, reset_in: int) -> Response:
        return Response(429, {"error": "Too many requests"}, {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": _iso(time.time() + reset_in),
        })

    def server_error(self) -> Response:
        return Response(500, {"error": "We're sorry, but something went wrong on our end."})

    # --- helpers -----------------------------------------------------------------------------------
    def _base(self, request: Request) -> str:
        return f"http://{request.header('host', '127.0.0.1')}"

    def _token(self, request: Request) -> tuple[str | None, Response | None]:
        """(token, None) when authorised, (None, None) when no token was sent, (None, 401) when refused."""
        header = request.header("authorization")
        if not header:
            return None, None
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            return None, Response(401, {"error": "The access token is invalid"})
        if token.startswith("expired"):
            return None, Response(401, {"error": "The access token expired"})
        if token.startswith("bad"):
            return None, Response(401, {"error": "The access token is invalid"})
        from planner.sandbox.mastodon_oauth import token_user

        if token_user(self.state, token) is False:  # issued through the OAuth flow, then revoked
            return None, Response(401, {"error": "The access token was revoked"})
        return token, None

    def _require_token(self, request: Request) -> tuple[str | None, Response | None]:
        token, refused = self._token(request)
        if refused is None and token is None:
            refused = Response(401, {"error": "The access token is invalid"})
        return token, refused

    def _account(self, token: str) -> dict:
        from planner.sandbox.mastodon_oauth import token_user

        issued = token_user(self.state, token)  # a token from the OAuth flow: the account that consented
        digest = hashlib.sha256((issued["username"] if issued else token).encode()).hexdigest()
        account_id = str(10**17 + int(digest[:14], 16) % 10**17)
        with self.state.lock:
            if account_id not in self._accounts:
                username = issued["username"] if issued else f"humas_{digest[:6]}"
                self._accounts[account_id] = {
                    "id": account_id, "username": username, "acct": username,
                    "display_name": f"Humas {digest[:6].upper()}",
                }
            return self._accounts[account_id]

    def _reply(self, request: Request, status: int, body, token: str | None = None) -> Response:
        """A response with Mastodon's rate-limit headers (per token, 300 per 5-minute window)."""
        now = time.time()
        window = int(now // RATE_WINDOW)
        key = token or "anonymous"
        with self.state.lock:
            seen_window, used = self._usage.get(key, (window, 0))
            used = used + 1 if seen_window == window else 1
            self._usage[key] = (window, used)
        return Response(status, body, {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(max(0, RATE_LIMIT - used)),
            "X-RateLimit-Reset": _iso((window + 1) * RATE_WINDOW),
        })

    def _account_json(self, account: dict, base: str) -> dict:
        return {
            **account, "locked": False, "bot": False, "discoverable": True, "group": False,
            "created_at": "2023-01-10T00:00:00.000Z", "note": "<p>Akun resmi humas</p>",
            "url": f"{base}/@{account['acct']}", "uri": f"{base}/users/{account['username']}",
            "avatar": f"{base}/avatars/original/missing.png", "header": f"{base}/headers/original/missing.png",
            "followers_count": 1200, "following_count": 80, "statuses_count": 0,
            "last_status_at": None, "emojis": [], "fields": [],
        }

    def _media_json(self, media_id: str, media: dict, base: str) -> dict:
        ready = media["processed"]
        return {
            "id": media_id, "type": media["type"],
            "url": f"{base}/system/media_attachments/{media_id}/original/{media['filename']}" if ready else None,
            "preview_url": f"{base}/system/media_attachments/{media_id}/small/{media['filename']}",
            "remote_url": None, "text_url": None, "meta": {}, "description": media["description"],
            "blurhash": "UFBWY:8_0Jof4nofM_of00of~qof%MRjRjof",
        }

    def _status_json(self, post: dict, base: str) -> dict:
        extra = post["extra"]
        account = self._accounts.get(extra["account_id"]) or {
            "id": extra["account_id"], "username": post["account"], "acct": post["account"],
            "display_name": post["account"]}
        metrics = self.state.engagement(post)
        media = [self._media_json(m, self.state.media[m], base) for m in extra.get("media_ids", [])
                 if m in self.state.media]
        return {
            "id": post["id"],
            "created_at": _iso(post["created_ts"]),
            "in_reply_to_id": extra.get("in_reply_to_id"),
            "in_reply_to_account_id": extra["account_id"] if extra.get("in_reply_to_id") else None,
            "sensitive": False, "spoiler_text": "", "visibility": extra.get("visibility", "public"),
            "language": extra.get("language") or "id",
            "uri": f"{base}/users/{account['username']}/statuses/{post['id']}",
            "url": f"{base}/@{account['acct']}/{post['id']}",
            "replies_count": metrics["replies"], "reblogs_count": metrics["reposts"],
            "favourites_count": metrics["likes"],
            "edited_at": None, "content": render_content(post["text"], base), "reblog": None,
            "application": {"name": "humas-planner", "website": None},
            "account": self._account_json(account, base),
            "media_attachments": media, "mentions": [], "tags": [], "emojis": [],
            "card": None, "poll": None,
        }

    def _mention_json(self, mention: dict, base: str, as_hashtag: bool) -> dict:
        digest = hashlib.sha256(mention["author"].encode()).hexdigest()
        author = {"id": str(10**17 + int(digest[:14], 16) % 10**17), "username": mention["author"],
                  "acct": mention["author"], "display_name": mention["author"].capitalize()}
        text = mention["text"]
        if as_hashtag:
            text = re.sub(re.escape(mention["keyword"]), "#" + mention["keyword"], text, count=1, flags=re.I)
        status_id = str(_snowflake(mention["ts"], int(mention["id"][:4], 16)))
        metrics = {"likes": int(mention["id"][4:6], 16) % 20, "reposts": int(mention["id"][6:8], 16) % 5,
                   "replies": 0}
        return {
            "id": status_id, "created_at": _iso(mention["ts"]), "in_reply_to_id": None,
            "in_reply_to_account_id": None, "sensitive": False, "spoiler_text": "", "visibility": "public",
            "language": "id", "uri": f"{base}/users/{author['username']}/statuses/{status_id}",
            "url": f"{base}/@{author['acct']}/{status_id}",
            "replies_count": metrics["replies"], "reblogs_count": metrics["reposts"],
            "favourites_count": metrics["likes"], "edited_at": None,
            "content": render_content(text, base), "reblog": None, "application": None,
            "account": self._account_json(author, base), "media_attachments": [], "mentions": [],
            "tags": [], "emojis": [], "card": None, "poll": None,
        }

    @staticmethod
    def _list_arg(request: Request, name: str) -> list[str]:
        """A repeated parameter (``name[]=a&name[]=b``) from the query, a form body or a JSON body."""
        values = request.query.get(f"{name}[]", []) + request.query.get(name, [])
        if request.content_type == "application/x-www-form-urlencoded":
            form = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
            values += form.get(f"{name}[]", []) + form.get(name, [])
        elif request.content_type == "multipart/form-data":
            value = request.form.get(f"{name}[]") or request.form.get(name)
            values += [value] if value else []
        elif request.content_type == "application/json" and request.body:
            value = request.json().get(name)
            values += [str(v) for v in value] if isinstance(value, list) else ([str(value)] if value else [])
        return [v for v in values if v]

    @staticmethod
    def _page(items: list[dict], request: Request, default_limit: int = 20, max_limit: int = 40,
              timeline: bool = True) -> list[dict]:
        """Mastodon's id pagination over items sorted newest first.

        In timelines ``min_id`` asks for the page right after that id; in search it is a plain filter.
        """
        def int_arg(name):
            value = request.arg(name)
            return int(value) if value not in (None, "") and str(value).isdigit() else None

        max_id, since_id, min_id = int_arg("max_id"), int_arg("since_id"), int_arg("min_id")
        limit = min(int_arg("limit") or default_limit, max_limit)
        kept = [s for s in items
                if (max_id is None or int(s["id"]) < max_id)
                and (since_id is None or int(s["id"]) > since_id)
                and (min_id is None or int(s["id"]) > min_id)]
        if timeline and min_id is not None and since_id is None:
            return kept[-limit:]  # min_id: the page right after min_id, still newest first
        return kept[:limit]

    def _statuses_of(self, account_id: str) -> list[dict]:
        account = self._accounts.get(account_id)
        if account is None:
            return []
        posts = [p for p in self.state.posts_of("mastodon", account["username"])
                 if p["extra"].get("account_id") == account_id]
        return sorted(posts, key=lambda p: int(p["id"]), reverse=True)

    # --- routes ---------------------------------------------------------------------------------------
    def instance_v1(self, request: Request) -> Response:
        base = self._base(request)
        host = request.header("host", "127.0.0.1")
        return self._reply(request, 200, {
            "uri": host, "title": "Sandbox Mastodon", "short_description": "Local sandbox instance",
            "description": "Local sandbox instance", "email": "admin@example.org", "version": VERSION,
            "urls": {"streaming_api": base.replace("http", "ws", 1)},
            "stats": {"user_count": 10, "status_count": len(self.state.posts_of("mastodon")), "domain_count": 1},
            "thumbnail": None, "languages": ["id", "en"], "registrations": False,
            "approval_required": True, "invites_enabled": False,
            "configuration": self._configuration(), "contact_account": None, "rules": [],
        })

    def instance_v2(self, request: Request) -> Response:
        base = self._base(request)
        return self._reply(request, 200, {
            "domain": request.header("host", "127.0.0.1"), "title": "Sandbox Mastodon", "version": VERSION,
            "source_url": "https://github.com/mastodon/mastodon", "description": "Local sandbox instance",
            "usage": {"users": {"active_month": 10}}, "thumbnail": {"url": f"{base}/thumbnail.png"},
            "languages": ["id", "en"],
            "configuration": {"urls": {"streaming": base.replace("http", "ws", 1)},
                              "vapid": {"public_key": ""}, "translation": {"enabled": False},
                              **self._configuration()},
            "registrations": {"enabled": False, "approval_required": True, "message": None},
            "api_versions": {"mastodon": 2},
            "contact": {"email": "admin@example.org", "account": None}, "rules": [],
        })

    def _configuration(self) -> dict:
        return {
            "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
            "statuses": {"max_characters": self.max_characters, "max_media_attachments": MAX_MEDIA,
                         "characters_reserved_per_url": URL_LENGTH},
            "media_attachments": {"supported_mime_types": list(MIME_TYPES), "image_size_limit": IMAGE_SIZE_LIMIT,
                                  "image_matrix_limit": 33177600, "video_size_limit": VIDEO_SIZE_LIMIT,
                                  "video_frame_rate_limit": 120, "video_matrix_limit": 8294400},
            "polls": {"max_options": 4, "max_characters_per_option": 50,
                      "min_expiration": 300, "max_expiration": 2629746},
        }

    def verify_credentials(self, request: Request) -> Response:
        token, refused = self._require_token(request)
        if refused:
            return refused
        account = self._account(token)
        body = self._account_json(account, self._base(request))
        body["statuses_count"] = len(self._statuses_of(account["id"]))
        body["source"] = {"privacy": "public", "sensitive": False, "language": "id", "note": "", "fields": []}
        return self._reply(request, 200, body, token)

    def post_status(self, request: Request) -> Response:
        token, refused = self._require_token(request)
        if refused:
            return refused
        if request.content_type not in ("application/x-www-form-urlencoded", "application/json",
                                        "multipart/form-data"):
            return self._reply(request, 422, {"error": "Validation failed: Text can't be blank"}, token)
        account = self._account(token)
        base = self._base(request)
        key = request.header("idempotency-key") or None
        with self.state.lock:
            if key is not None:
                seen = self._idempotency.get((account["id"], key))
                if seen is not None and time.time() - seen[1] < IDEMPOTENCY_TTL:
                    post = self.state.find_post("mastodon", seen[0])
                    if post is not None:
                        return self._reply(request, 200, self._status_json(post, base), token)
            text = request.arg("status") or ""
            media_ids = self._list_arg(request, "media_ids")
            problem = self._validate(text, media_ids, account)
            if problem:
                return self._reply(request, 422, {"error": problem}, token)
            reply_to = request.arg("in_reply_to_id") or None
            if reply_to is not None and self.state.find_post("mastodon", str(reply_to)) is None:
                return self._reply(request, 404, {"error": "Record not found"}, token)
            visibility = request.arg("visibility") or "public"
            if visibility not in ("public", "unlisted", "private", "direct"):
                return self._reply(request, 422, {"error": "Validation failed: Visibility is not included in the list"}, token)
            status_id = str(_snowflake(time.time(), self.state.next_id()))
            post = self.state.record_post("mastodon", account["username"], text, key=key, post_id=status_id, extra={
                "account_id": account["id"], "in_reply_to_id": str(reply_to) if reply_to else None,
                "media_ids": media_ids, "visibility": visibility, "language": request.arg("language")})
            for media_id in media_ids:
                self.state.media[media_id]["status_id"] = status_id
            if key is not None:
                self._idempotency[(account["id"], key)] = (status_id, time.time())
        return self._reply(request, 200, self._status_json(post, base), token)

    def _validate(self, text: str, media_ids: list[str], account: dict) -> str | None:
        if not text.strip() and not media_ids:
            return "Validation failed: Text can't be blank"
        if _length(text) > self.max_characters:
            return f"Validation failed: Text character limit of {self.max_characters} exceeded"
        if len(media_ids) > MAX_MEDIA:
            return f"Validation failed: Media attachments: Cannot attach more than {MAX_MEDIA} files"
        for media_id in media_ids:
            media = self.state.media.get(media_id)
            if media is None or media.get("platform") != "mastodon" or media["account_id"] != account["id"]:
                return "Validation failed: Media attachments: One or more of the attached files could not be found"
            if media.get("status_id"):
                return "Validation failed: Media attachments: One or more of the attached files is already attached"
            if not media["processed"]:
                return "Cannot attach files that have not finished processing. Try again in a moment!"
        return None

    def status(self, request: Request) -> Response:
        token, refused = self._token(request)
        if refused:
            return refused
        post = self.state.find_post("mastodon", request.params["id"])
        if post is None:
            return self._reply(request, 404, {"error": "Record not found"}, token)
        return self._reply(request, 200, self._status_json(post, self._base(request)), token)

    def statuses(self, request: Request) -> Response:
        """GET /api/v1/statuses?id[]=... (Mastodon 4.3): the ones found, unknown ids left out."""
        token, refused = self._token(request)
        if refused:
            return refused
        ids = self._list_arg(request, "id")
        if not ids:
            return self._reply(request, 422, {"error": "Validation failed: id is missing"}, token)
        base = self._base(request)
        found = [self.state.find_post("mastodon", i) for i in dict.fromkeys(ids)]
        return self._reply(request, 200, [self._status_json(p, base) for p in found if p is not None], token)

    def account_statuses(self, request: Request) -> Response:
        token, refused = self._token(request)
        if refused:
            return refused
        account_id = request.params["id"]
        if account_id not in self._accounts:
            return self._reply(request, 404, {"error": "Record not found"}, token)
        posts = self._statuses_of(account_id)
        if request.arg("exclude_replies") in ("1", "true", True):
            posts = [p for p in posts if not p["extra"].get("in_reply_to_id")]
        base = self._base(request)
        return self._reply(request, 200, [self._status_json(p, base) for p in self._page(posts, request)], token)

    def post_media(self, request: Request) -> Response:
        token, refused = self._require_token(request)
        if refused:
            return refused
        if request.content_type != "multipart/form-data" or "file" not in request.files:
            return self._reply(request, 422, {"error": "Validation failed: File can't be blank"}, token)
        filename, data, content_type = request.files["file"]
        if content_type not in MIME_TYPES:
            return self._reply(request, 422, {"error": "Validation failed: File content type is invalid"}, token)
        kind = content_type.split("/")[0]
        limit = IMAGE_SIZE_LIMIT if kind == "image" else VIDEO_SIZE_LIMIT
        if len(data) > limit:
            return self._reply(request, 422, {"error": f"Validation failed: File file size must be less than {limit // 1048576} MB"}, token)
        account = self._account(token)
        media_id = str(_snowflake(time.time(), self.state.next_id()))
        media = {"platform": "mastodon", "account_id": account["id"], "type": kind, "filename": filename or "upload",
                 "content_type": content_type, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                 "description": request.form.get("description") or None, "processed": False, "polls": 0,
                 "uploaded": time.time()}
        with self.state.lock:
            self.state.media[media_id] = media
        # Processing happens in the background: 202 with url null, then poll GET /api/v1/media/:id.
        return self._reply(request, 202, self._media_json(media_id, media, self._base(request)), token)

    def media(self, request: Request) -> Response:
        token, refused = self._require_token(request)
        if refused:
            return refused
        account = self._account(token)
        with self.state.lock:
            media = self.state.media.get(request.params["id"])
            if media is None or media.get("platform") != "mastodon" or media["account_id"] != account["id"]:
                return self._reply(request, 404, {"error": "Record not found"}, token)
            # The first poll sees it still processing (206), later polls see it done (200).
            media["polls"] += 1
            if media["polls"] > 1 or time.time() - media["uploaded"] > 2:
                media["processed"] = True
        status = 200 if media["processed"] else 206
        return self._reply(request, status, self._media_json(request.params["id"], media, self._base(request)), token)

    def search(self, request: Request) -> Response:
        token, refused = self._token(request)
        if refused:
            return refused
        query = (request.arg("q") or "").strip()
        kind = request.arg("type")
        statuses: list[dict] = []
        if query and kind in (None, "", "statuses"):
            statuses = self._matching(query.lstrip("#"), request, as_hashtag=False, timeline=False)
        return self._reply(request, 200, {"accounts": [], "statuses": statuses, "hashtags": []}, token)

    def tag_timeline(self, request: Request) -> Response:
        token, refused = self._token(request)
        if refused:
            return refused
        tag = unquote(request.params["tag"])
        return self._reply(request, 200, self._matching(tag, request, as_hashtag=True), token)

    def _matching(self, keyword: str, request: Request, as_hashtag: bool, timeline: bool = True) -> list[dict]:
        """Public statuses mentioning ``keyword``: the sandbox's seeded mentions plus our own posts."""
        base = self._base(request)
        since = None
        for name in ("since_id", "min_id"):
            value = request.arg(name)
            if value and str(value).isdigit():
                since = (int(value) >> 16) / 1000
        found = [self._mention_json(m, base, as_hashtag) for m in self.state.mentions(keyword, since, limit=5000)]
        needle = ("#" + keyword if as_hashtag else keyword).casefold()
        found += [self._status_json(p, base) for p in self.state.posts_of("mastodon")
                  if needle in p["text"].casefold() and p["extra"].get("visibility", "public") == "public"]
        found.sort(key=lambda s: int(s["id"]), reverse=True)
        return self._page(found, request, timeline=timeline)


EMULATOR = MastodonEmulator
