"""The sandbox HTTP server: routing, the record of what was posted, engagement, mentions, faults.

Platform emulators (one module per platform) plug in by subclassing ``Emulator`` and
listing routes. Everything runs on one port: the platforms' real paths do not collide
(X ``/2/...``, Graph ``/v23.0/...``, Mastodon ``/api/v1/...``, Bluesky ``/xrpc/...``,
Telegram ``/bot<token>/...``). Control endpoints live under ``/_sandbox/``.

Any local program can talk to the sandbox, and a web page can try to through DNS rebinding, so:
every answer says ``X-Humas-Sandbox: 1`` (the tool tells users when an account points here); a request
whose Host header is not this loopback address and port gets 421; a control POST must be JSON (415
otherwise: a page cannot send that without the browser asking first); and the request log keeps no
credential (Authorization values, tokens, passwords, the Telegram token in the path): each is replaced by
``redacted(value)``, a fingerprint, so tests can still tell which credential was sent. This masking is
the sandbox's own: it is an independent emulator and does not use the tool's modules.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import math
import random
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

if TYPE_CHECKING:
    from planner.sandbox.server import Sandbox

FAULT_KINDS = ("rate_limit", "server_error", "slow", "drop", "daily_cap", "client_forbidden", "credits_depleted")
# Kinds a platform answers in its own way (Emulator.platform_fault); the answer may depend on time.
PLATFORM_FAULTS = ("daily_cap", "client_forbidden", "credits_depleted")
SANDBOX_HEADER = "X-Humas-Sandbox"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")

# --- credentials kept out of the request log -------------------------------------------------------------
# Names (query, form, JSON, OAuth 1 header parameters) whose values are credentials, by their ending:
# access_token, oauth_token_secret, accessJwt, app_password, appsecret_proof, oauth_signature (not
# oauth_signature_method), oauth_consumer_key...
_SECRET_NAME = re.compile(r"(?i)(pass|passwd|password|secret|token|jwt|signature|proof|credentials?|"
                          r"(api|consumer|secret|private)_?key)$")
_SECRET_HEADERS = ("authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token")
_OAUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')
_BOT_PATH = re.compile(r"^/bot([^/]+)/")
_LOG_BODY = 4096  # bytes of a request body kept in the log


def redacted(value: str) -> str:
    """What the request log holds in place of a credential: its first three characters (a JWT still
    starts "eyJ") and a fingerprint, the same for the same value, so a test can compare."""
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:12]
    return f"{value[:3]}***{digest}" if len(value) >= 12 else f"***{digest}"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # named groups of the route pattern
    _form: dict[str, str] | None = None
    _files: dict[str, tuple[str, bytes, str]] | None = None

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    @property
    def content_type(self) -> str:
        return self.header("content-type").split(";")[0].strip().lower()

    def json(self) -> Any:
        if not self.body:
            return {}
        return json.loads(self.body)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """A parameter from the query string, a form body or a JSON body, in that order."""
        if name in self.query:
            return self.query[name][0]
        if name in self.form:
            return self.form[name]
        if self.content_type == "application/json":
            value = self.json().get(name, default)
            return value
        return default

    @property
    def form(self) -> dict[str, str]:
        if self._form is None:
            self._parse_body()
        return self._form or {}

    @property
    def files(self) -> dict[str, tuple[str, bytes, str]]:
        """multipart parts that carry a file name: field -> (filename, data, content type)."""
        if self._files is None:
            self._parse_body()
        return self._files or {}

    def _parse_body(self) -> None:
        self._form, self._files = {}, {}
        if self.content_type == "application/x-www-form-urlencoded":
            parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
            self._form = {k: v[0] for k, v in parsed.items()}
        elif self.content_type == "multipart/form-data":
            head = f"Content-Type: {self.header('content-type')}\r\n\r\n".encode()
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + self.body)
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                filename = part.get_filename()
                payload = part.get_payload(decode=True) or b""
                if filename is not None:
                    self._files[name] = (filename, payload, part.get_content_type())
                else:
                    self._form[name] = payload.decode("utf-8", "replace")


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list -> JSON, bytes/str -> as is
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), "application/json; charset=utf-8"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return self.body or b"", "application/octet-stream"


Handler = Callable[[Request], Response]


@dataclass
class Route:
    method: str
    pattern: re.Pattern
    handler: Handler
    publishes: bool = False  # a route that stores a post: the target of "drop after store" faults


class Emulator:
    """Base for one platform's emulation. Subclasses set ``name`` and implement ``routes``."""

    name = ""

    def __init__(self, state: "SandboxState"):
        self.state = state

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def rate_limited(self, reset_in: int) -> Response:
        """The platform's own way of saying 'slow down' (overridden per platform)."""
        return Response(429, {"error": "rate limited"}, {"Retry-After": str(reset_in)})

    def server_error(self) -> Response:
        return Response(503, {"error": "service unavailable"})

    def platform_fault(self, rule: "FaultRule") -> Response | None:
        """The answer to a platform-specific fault (PLATFORM_FAULTS), or None to answer normally.

        By default a daily cap is a rate limit and the others a plain 403; platforms override this."""
        if rule.kind == "daily_cap":
            return self.rate_limited(rule.reset_in)
        return Response(403, {"error": rule.kind.replace("_", " ")})


def route(method: str, pattern: str, handler: Handler, publishes: bool = False) -> Route:
    return Route(method, re.compile(pattern + r"/?$"), handler, publishes)


@dataclass
class FaultRule:
    kind: str
    platform: str | None = None
    path: re.Pattern | None = None
    method: str | None = None
    count: int | None = None  # None: unlimited (until cleared)
    rate: float = 1.0
    reset_in: int = 2  # seconds until the rate limit resets
    after: int = 0  # matching requests let through before the fault starts (e.g. fail a thread's 2nd part)

    def matches(self, platform: str, method: str, path: str) -> bool:
        return (
            (self.platform is None or self.platform == platform)
            and (self.method is None or self.method == method)
            and (self.path is None or self.path.search(path) is not None)
        )


class SandboxState:
    """Everything the sandbox knows. Thread-safe; deterministic for a given seed."""

    def __init__(self, seed: int = 0, speed: float = 60.0, slow_seconds: float = 15.0):
        self.seed = seed
        self.speed = speed  # sandbox seconds per real second, so engagement grows visibly in a demo
        self.slow_seconds = slow_seconds
        self.started = time.time()
        self.lock = threading.RLock()
        self.posts: list[dict] = []
        self.media: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.faults: list[FaultRule] = []
        self.random_fault_rate = 0.0
        self.random_fault_kinds = ("rate_limit", "server_error", "drop")
        self.bursts: list[dict] = []
        self.natural_burst_rate = 0.03  # share of hours with ten times the usual mentions (0: none)
        self.rng = random.Random(seed)
        self._next_id = 1000
        self.max_request_log = 20_000
        self.media_dirs: list[Path] = []  # folders hosted at /_sandbox/media/ (Sandbox.serve_media)

    def hosted_media(self, url: str) -> bytes | None:
        """The bytes a platform would download from ``url`` when it points at a file this sandbox hosts at
        ``/_sandbox/media/NAME`` on the loopback; None for any other URL (the sandbox does not go out)."""
        from urllib.parse import unquote

        parts = urlsplit(url)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1") or not parts.path.startswith("/_sandbox/media/"):
            return None
        name = unquote(parts.path.removeprefix("/_sandbox/media/"))
        if not name or "/" in name or name.startswith("."):
            return None
        for directory in list(self.media_dirs):
            path = directory / name
            if path.is_file():
                try:
                    return path.read_bytes()
                except OSError:
                    return None
        return None

    # --- ids and time -------------------------------------------------------------
    def next_id(self) -> int:
        with self.lock:
            self._next_id += 1
            return self._next_id

    @staticmethod
    def now() -> datetime:
        return datetime.now(timezone.utc)

    # --- posts ----------------------------------------------------------------------
    def record_post(self, platform: str, account: str, text: str, *, key: str | None = None,
                    post_id: str | None = None, extra: dict | None = None) -> dict:
        with self.lock:
            post = {
                "id": post_id or str(self.next_id()),
                "platform": platform,
                "account": account,
                "text": text,
                "key": key,
                "fingerprint": _fingerprint(text),
                "created_at": self.now().isoformat(),
                "created_ts": time.time(),
                "extra": extra or {},
            }
            self.posts.append(post)
            return post

    def find_post(self, platform: str, post_id: str) -> dict | None:
        with self.lock:
            for post in self.posts:
                if post["platform"] == platform and post["id"] == post_id:
                    return post
        return None

    def posts_of(self, platform: str, account: str | None = None) -> list[dict]:
        with self.lock:
            return [p for p in self.posts if p["platform"] == platform
                    and (account is None or p["account"] == account)]

    def summary(self) -> dict:
        with self.lock:
            counts: dict[str, int] = {}
            for post in self.posts:
                counts[_count_key(post)] = counts.get(_count_key(post), 0) + 1
            return {
                "posts": [{k: v for k, v in p.items() if k != "created_ts"} for p in self.posts],
                "counts": counts,
                "duplicates": {k: n for k, n in counts.items() if n > 1},
                "total": len(self.posts),
            }

    # --- engagement -------------------------------------------------------------------
    def engagement(self, post: dict, at: float | None = None) -> dict[str, int]:
        """Metrics that grow over time towards a per-post ceiling, the same for a given seed."""
        elapsed = max(0.0, ((at or time.time()) - post["created_ts"]) * self.speed)
        rng = random.Random(f"{self.seed}:{post['platform']}:{post['id']}")
        ceiling = rng.lognormvariate(7.0, 0.8)  # ~1,100 views median
        growth = 1 - math.exp(-elapsed / 3600)  # most of it within a few sandbox hours
        views = ceiling * growth
        rates = {"likes": rng.uniform(0.02, 0.08), "reposts": rng.uniform(0.003, 0.02),
                 "replies": rng.uniform(0.002, 0.01), "quotes": rng.uniform(0.0, 0.003),
                 "clicks": rng.uniform(0.005, 0.03), "saves": rng.uniform(0.0, 0.01)}
        metrics = {"views": int(views), "impressions": int(views * 1.3), "reach": int(views * 0.8)}
        metrics.update({name: int(views * rate) for name, rate in rates.items()})
        return metrics

    # --- mentions ------------------------------------------------------------------------
    def mentions(self, keyword: str, since: float | None = None, limit: int = 100) -> list[dict]:
        """Public posts mentioning ``keyword`` over the last day: a seeded trickle, some burst hours,
        plus bursts added on request. Real time (not ``speed``): the rate should look like a day."""
        now = time.time()
        start = max(now - 25 * 3600, since or 0)
        found: list[dict] = []
        for bucket in range(int(start // 60), int(now // 60) + 1):
            hour = random.Random(f"{self.seed}:{keyword.casefold()}:hour:{bucket // 60}")
            rate = 0.1 * (10 if hour.random() < self.natural_burst_rate else 1)  # ~6 an hour; some hours burst
            rng = random.Random(f"{self.seed}:{keyword.casefold()}:{bucket}")
            n = sum(1 for _ in range(3) if rng.random() < rate / 3 * (3 if rate > 0.5 else 1))
            for i in range(n):
                ts = bucket * 60 + rng.random() * 60
                if start <= ts <= now:
                    found.append(_mention(keyword, f"{bucket}-{i}", ts, rng))
        with self.lock:
            for burst in self.bursts:
                if burst["keyword"].casefold() == keyword.casefold():
                    for i in range(burst["count"]):
                        ts = burst["ts"] - i * 0.01
                        if start <= ts <= now:
                            found.append(_mention(keyword, f"b{burst['ts']:.3f}-{i}", ts,
                                                  random.Random(f"{burst['ts']}:{i}")))
        found.sort(key=lambda m: m["ts"], reverse=True)
        return found[:limit]

    def add_burst(self, keyword: str, count: int) -> None:
        with self.lock:
            self.bursts.append({"keyword": keyword, "count": count, "ts": time.time()})

    # --- faults ----------------------------------------------------------------------------
    def pick_fault(self, platform: str, method: str, path: str) -> FaultRule | None:
        with self.lock:
            for rule in self.faults:
                if rule.matches(platform, method, path) and rule.after > 0:
                    rule.after -= 1
                    continue
                if rule.matches(platform, method, path) and self.rng.random() < rule.rate:
                    if rule.count is not None:
                        rule.count -= 1
                        if rule.count <= 0:
                            self.faults.remove(rule)
                    return rule
            if self.random_fault_rate and self.rng.random() < self.random_fault_rate:
                return FaultRule(kind=self.rng.choice(self.random_fault_kinds))
        return None

    def log_request(self, request: Request, platform: str) -> None:
        entry = _masked_entry(request)
        entry.update(platform=platform, method=request.method, ts=time.time())
        with self.lock:
            self.requests.append(entry)
            if len(self.requests) > self.max_request_log:
                del self.requests[: len(self.requests) - self.max_request_log]


def _masked_entry(request: Request) -> dict:
    """The request as the log keeps it: every credential in it replaced by ``redacted(value)``."""
    secrets: set[str] = set()
    headers = dict(request.headers)
    for name in _SECRET_HEADERS:
        value = headers.get(name)
        if not value:
            continue
        scheme, _, credential = value.partition(" ")
        if not name.endswith("authorization"):  # a cookie or key header: all of it
            secrets.add(value)
        elif scheme.lower() == "oauth" and '="' in credential:  # OAuth 1.0a: name="value", ...
            secrets.update(v for k, v in _OAUTH_PARAM.findall(credential) if _SECRET_NAME.search(k) and v)
        elif credential:
            secrets.add(credential.strip())
        else:
            secrets.add(value)
    bot = _BOT_PATH.match(request.path)
    if bot:
        secrets.add(bot.group(1))
    for name, values in request.query.items():
        if _SECRET_NAME.search(name):
            secrets.update(v for v in values if v)
    try:
        fields = dict(request.form)
        if request.content_type == "application/json" and request.body:
            _secret_fields(request.json(), secrets)
    except (ValueError, UnicodeDecodeError):
        fields = {}
    secrets.update(v for k, v in fields.items() if _SECRET_NAME.search(k or "") and v)
    secrets = {v for v in secrets if isinstance(v, str) and len(v) >= 4}
    longest = max((len(v) for v in secrets), default=0)
    # Mask the whole stretch that can be kept, plus a secret's length, before cutting: no half secret.
    body = request.body[:_LOG_BODY + 4 * longest].decode("utf-8", "replace")

    def mask(text: str) -> str:
        for value in sorted(secrets, key=len, reverse=True):
            for form in {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}:
                if form in text:
                    text = text.replace(form, redacted(value))
        return text

    return {
        "path": mask(request.path),
        "query": {k: [mask(v) for v in values] for k, values in request.query.items()},
        "headers": {k: mask(v) for k, v in headers.items()},
        "body": mask(body)[:_LOG_BODY] if secrets else body[:_LOG_BODY],
    }


def _secret_fields(value: Any, found: set[str]) -> None:
    """Values under secret-sounding keys anywhere in a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and _SECRET_NAME.search(str(key)):
                found.add(item)
            else:
                _secret_fields(item, found)
    elif isinstance(value, list):
        for item in value:
            _secret_fields(item, found)


_MENTION_TEMPLATES = (
    "Sudah {k}? Tadi saya cek, ternyata gampang banget.",
    "Ada yang tahu info resmi soal {k}? Banyak kabar simpang siur di grup WA.",
    "Jangan percaya hoaks soal {k}, cek langsung ke sumber resmi.",
    "Alhamdulillah {k} beres, terima kasih infonya min!",
    "Kenapa {k} di desa kami belum ada sosialisasi ya?",
    "Info {k} dari kakak saya, katanya batas waktunya minggu depan.",
)


def _mention(keyword: str, suffix: str, ts: float, rng: random.Random) -> dict:
    ident = hashlib.sha1(f"{keyword}:{suffix}".encode()).hexdigest()[:16]
    return {
        "id": ident,
        "keyword": keyword,
        "text": rng.choice(_MENTION_TEMPLATES).format(k=keyword),
        "author": f"warga{int(ident[:6], 16) % 9000 + 1000}",
        "ts": ts,
        "created_at": datetime.fromtimestamp(ts, timezone.utc).isoformat(),
    }


def _fingerprint(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).casefold().encode()).hexdigest()[:16]


def _count_key(post: dict) -> str:
    """Duplicates are counted per account and per client key when one exists, else per text."""
    return f"{post['platform']}:{post['account']}:{post['key'] or post['fingerprint']}"


class _HTTPHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle + delayed ACK each answer waits ~40 ms.
    disable_nagle_algorithm = True
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr access log
        pass

    def _handle(self) -> None:
        sandbox = self.server.sandbox
        if not self._host_allowed():
            # DNS rebinding: a web page whose name now resolves to 127.0.0.1 still sends its own name.
            self.close_connection = True
            self._send(Response(421, {"error": "sandbox: only 127.0.0.1, localhost or [::1] with this "
                                               "port are served"}))
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send(Response(400, {"error": "sandbox: bad Content-Length"}))
            return
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        if sandbox.latency:
            time.sleep(sandbox.latency)
        if request.path.startswith("/_sandbox/"):
            if request.method in ("POST", "PUT", "PATCH") and request.content_type != "application/json":
                # A web page can send a text/plain or form POST without asking; never a JSON one.
                self._send(Response(415, {"error": "sandbox: control requests must be application/json"}))
                return
            try:
                response = sandbox.control(request)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                response = Response(400, {"error": f"sandbox: bad control request ({type(exc).__name__})"})
            self._send(response)
            return
        found = sandbox.resolve(request)
        if found is None:
            self._send(Response(404, {"error": f"sandbox: no route for {request.method} {request.path}"}))
            return
        emulator, matched = found
        sandbox.state.log_request(request, emulator.name)
        fault = sandbox.state.pick_fault(emulator.name, request.method, request.path)
        if fault is not None and fault.kind == "rate_limit":
            self._send(emulator.rate_limited(fault.reset_in))
            return
        if fault is not None and fault.kind == "server_error":
            self._send(emulator.server_error())
            return
        if fault is not None and fault.kind in PLATFORM_FAULTS:
            answer = emulator.platform_fault(fault)
            if answer is not None:
                self._send(answer)
                return
        try:
            response = matched.handler(request)
        except Exception as exc:  # a sandbox bug must show, not hang the client
            response = Response(500, {"error": f"sandbox error: {exc!r}"})
        if fault is not None and fault.kind == "drop":
            # The handler ran (the post is stored) but the client never hears back.
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(sandbox.state.slow_seconds)
        self._send(response)

    def _send(self, response: Response) -> None:
        payload, content_type = response.encoded()
        try:
            self.send_response(response.status)
            headers = {"Content-Type": content_type, **response.headers, SANDBOX_HEADER: "1"}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _host_allowed(self) -> bool:
        host = (self.headers.get("Host") or "").strip().lower()
        port = self.server.server_address[1]
        return host in {f"{name}:{port}" for name in LOOPBACK_NAMES}

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    sandbox: "Sandbox"
