"""Emulation of the Bluesky (AT Protocol) XRPC subset the Bluesky adapter uses.

Shapes follow the lexicons (``com.atproto.*`` served by the PDS, ``app.bsky.*`` views as the
AppView returns them through the PDS). Errors are XRPC error bodies ``{"error", "message"}`` with
the reference PDS's statuses: a missing ``Authorization`` header is 401 ``AuthenticationRequired``;
an access token that is expired or cannot be verified is 400 ``ExpiredToken`` / ``InvalidToken``;
lexicon violations are 400 ``InvalidRequest`` with the validator's path-style message. Every answer
carries the ``ratelimit-*`` headers; a 429 says ``RateLimitExceeded`` with ``ratelimit-reset`` in
epoch seconds.

Creating a record under a record key that is already used answers 500 ``InternalServerError``,
as the reference PDS does today (bluesky-social/atproto#4725); an explicit error for this case is
being added to the lexicon, so ``duplicate_rkey_response`` can be switched to it in tests.

Sessions: any identifier logs in, except that passwords starting with "bad" or "expired" are
refused. Access tokens live 2 hours and refresh tokens rotate, as on bsky.social; tests can expire
or revoke them server-side with ``expire_access_tokens`` / ``revoke_sessions``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from datetime import datetime, timezone

import grapheme  # counted here independently of the adapter's rule, so a mistake there shows

from planner.sandbox import video
from planner.sandbox.core import Emulator, Request, Response, route

POST = "app.bsky.feed.post"
MAX_GRAPHEMES = 300
MAX_TEXT_BYTES = 3000
MAX_IMAGES = 4
APP_PASSWORD = re.compile(r"[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}")
MAX_IMAGE_BYTES = 1_000_000  # app.bsky.embed.images#image: blob maxSize
MAX_BLOB_BYTES = 50_000_000  # the PDS's upload limit; the record's lexicon is stricter
MAX_GET_POSTS = 25
# The video service (https://docs.bsky.app/docs/tutorials/video), served on the same port: uploadVideo takes
# an MP4 with a service token the PDS issued for com.atproto.repo.uploadBlob (getServiceAuth, audience a
# did:web, lxm bound, exp at most an hour ahead); getJobStatus reports the job until JOB_STATE_COMPLETED
# with the blob it stored in the PDS, which app.bsky.embed.video then references. 100 MB, 3 minutes.
MAX_VIDEO_BYTES = 100_000_000
MAX_VIDEO_SECONDS = 180
# Daily upload limits, per account and UTC day: 25 videos or 10 GB, and only for accounts with a verified
# email (Bluesky's announcement, https://bsky.social/about/blog/09-11-2024-video). getUploadLimits
# (lexicons/app/bsky/video/getUploadLimits.json: canUpload, remainingDailyVideos, remainingDailyBytes, message,
# error) answers with a service token for that very method; uploadVideo refuses past the limits too.
DAILY_VIDEOS = 25
DAILY_VIDEO_BYTES = 10_000_000_000
SERVICE_TOKEN_MAX_TTL = 3600
ACCESS_TTL = 2 * 3600
REFRESH_TTL = 90 * 86400

# Default limit of the PDS's global window, reported in headers (faults produce the 429s).
RATE_LIMIT, RATE_WINDOW = 3000, 300

_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"
_TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
_RKEY = re.compile(r"^[A-Za-z0-9._:~-]{1,512}$")
_FACET_TYPES = ("app.bsky.richtext.facet#link", "app.bsky.richtext.facet#mention",
                "app.bsky.richtext.facet#tag")


def _error(status: int, error: str, message: str) -> Response:
    return Response(status, {"error": error, "message": message})


def _invalid(message: str) -> Response:
    return _error(400, "InvalidRequest", message)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _cid(data: bytes, codec: int) -> str:
    """A CIDv1 (sha2-256) in base32: ``bafyrei...`` for records (dag-cbor), ``bafkrei...`` for blobs (raw)."""
    raw = bytes([0x01, codec, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def _did_for(handle: str) -> str:
    digest = hashlib.sha256(handle.casefold().encode()).digest()
    return "did:plc:" + "".join(_B32[b % 32] for b in digest[:24])


def _tid(ts: float, seed: str) -> str:
    """A TID: microseconds since the epoch and a clock id, base32-sortable."""
    clock = int(hashlib.sha256(seed.encode()).hexdigest()[:3], 16) % 1024
    n = (int(ts * 1_000_000) << 10) | clock
    return "".join(_TID_CHARS[(n >> (5 * (12 - i))) & 31] for i in range(13))


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_datetime(value) -> float | None:
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def _sniff_image(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class BlueskyEmulator(Emulator):
    name = "bluesky"

    def __init__(self, state):
        super().__init__(state)
        self.tokens: dict[str, dict] = {}  # jwt -> {kind, did, handle, exp, revoked}
        self.accounts: dict[str, dict] = {}  # did -> {did, handle, email}
        self.records: dict[tuple[str, str], dict] = {}  # (did, rkey) -> {uri, cid, value, post}
        self.calls: dict[str, list[float]] = {}  # rate-limit window per caller
        # What a create under a used record key answers (status, error, message).
        self.duplicate_rkey_response = (500, "InternalServerError", "Internal Server Error")
        # Handles other than the sandbox's own accounts that com.atproto.identity.resolveHandle knows
        # (handle -> DID); tests add to it. Any other handle answers "Unable to resolve handle".
        self.directory: dict[str, str] = {"kpu.go.id": "did:plc:kpuri7sandbox2024aaaaaa",
                                          "bawaslu.go.id": "did:plc:bawaslu7sandbox2024aaa"}
        # Video uploads per (did, UTC day): [count, bytes]; handles whose email is not verified (tests add).
        self.video_uploads: dict[tuple[str, str], list[int]] = {}
        self.unverified_email: set[str] = set()

    def routes(self):
        x = r"^/xrpc/"
        return [
            route("POST", x + r"com\.atproto\.server\.createSession", self._wrap(self.create_session)),
            route("POST", x + r"com\.atproto\.server\.refreshSession", self._wrap(self.refresh_session)),
            route("GET", x + r"com\.atproto\.server\.getSession", self._wrap(self.get_session)),
            route("POST", x + r"com\.atproto\.repo\.createRecord", self._wrap(self.create_record),
                  publishes=True),
            route("GET", x + r"com\.atproto\.repo\.getRecord", self._wrap(self.get_record)),
            route("POST", x + r"com\.atproto\.repo\.uploadBlob", self._wrap(self.upload_blob)),
            route("GET", x + r"app\.bsky\.feed\.getPosts", self._wrap(self.get_posts)),
            route("GET", x + r"app\.bsky\.feed\.searchPosts", self._wrap(self.search_posts)),
            route("GET", x + r"app\.bsky\.actor\.getProfile", self._wrap(self.get_profile)),
            route("GET", x + r"com\.atproto\.identity\.resolveHandle", self._wrap(self.resolve_handle)),
            route("GET", x + r"com\.atproto\.server\.getServiceAuth", self._wrap(self.get_service_auth)),
            route("POST", x + r"app\.bsky\.video\.uploadVideo", self._wrap(self.upload_video)),
            route("GET", x + r"app\.bsky\.video\.getJobStatus", self._wrap(self.get_job_status)),
            route("GET", x + r"app\.bsky\.video\.getUploadLimits", self._wrap(self.get_upload_limits)),
            route("GET", x + r"(?P<nsid>[A-Za-z0-9.]+)", self._not_implemented),
            route("POST", x + r"(?P<nsid>[A-Za-z0-9.]+)", self._not_implemented),
        ]

    # --- platform habits -------------------------------------------------------------
    def rate_limited(self, reset_in: int) -> Response:
        return Response(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, {
            "ratelimit-limit": str(RATE_LIMIT), "ratelimit-remaining": "0",
            "ratelimit-reset": str(int(time.time()) + reset_in),
            "ratelimit-policy": f"{RATE_LIMIT};w={RATE_WINDOW}",
        })

    def server_error(self) -> Response:
        return _error(500, "InternalServerError", "Internal Server Error")

    # --- test controls ---------------------------------------------------------------------
    def expire_access_tokens(self) -> None:
        """Every access token issued so far is expired from now on (refresh tokens still work)."""
        with self.state.lock:
            for token in self.tokens.values():
                if token["kind"] == "access":
                    token["exp"] = 0

    def revoke_sessions(self) -> None:
        """Every token issued so far is revoked: the client must log in again."""
        with self.state.lock:
            for token in self.tokens.values():
                token["revoked"] = True

    def record(self, uri: str) -> dict | None:
        """The stored record at an at:// uri (tests)."""
        match = re.match(r"^at://([^/]+)/([^/]+)/([^/]+)$", uri)
        if not match or match.group(2) != POST:
            return None
        with self.state.lock:
            return self.records.get((match.group(1), match.group(3)))

    # --- plumbing --------------------------------------------------------------------------------
    def _wrap(self, handler):
        def wrapped(request: Request) -> Response:
            response = handler(request)
            caller = request.header("authorization") or "anonymous"
            now = time.time()
            with self.state.lock:
                window = [t for t in self.calls.get(caller, []) if t > now - RATE_WINDOW] + [now]
                self.calls[caller] = window
            response.headers.update({
                "ratelimit-limit": str(RATE_LIMIT),
                "ratelimit-remaining": str(max(0, RATE_LIMIT - len(window))),
                "ratelimit-reset": str(int(window[0] + RATE_WINDOW)),
                "ratelimit-policy": f"{RATE_LIMIT};w={RATE_WINDOW}",
            })
            return response
        return wrapped

    def _not_implemented(self, request: Request) -> Response:
        return _error(501, "MethodNotImplemented", "Method Not Implemented")

    def _issue(self, did: str, handle: str, kind: str, access_scope: str = "com.atproto.access") -> str:
        now = int(time.time())
        typ, scope, ttl = (("at+jwt", access_scope, ACCESS_TTL) if kind == "access"
                           else ("refresh+jwt", "com.atproto.refresh", REFRESH_TTL))
        header = {"typ": typ, "alg": "HS256"}
        payload = {"scope": scope, "sub": did, "aud": "did:web:sandbox.bsky.local", "iat": now,
                   "exp": now + ttl}
        if kind == "refresh":
            payload["jti"] = secrets.token_urlsafe(16)
        signing_input = _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(payload).encode())
        token = signing_input + "." + _b64url(hashlib.sha256(signing_input.encode() + secrets.token_bytes(8)).digest())
        with self.state.lock:
            self.tokens[token] = {"kind": kind, "did": did, "handle": handle, "exp": now + ttl, "revoked": False,
                                  "access_scope": access_scope}
        return token

    def _session_body(self, account: dict, request: Request, access_scope: str = "com.atproto.access") -> dict:
        host = request.header("host") or "127.0.0.1"
        return {
            "accessJwt": self._issue(account["did"], account["handle"], "access", access_scope),
            "refreshJwt": self._issue(account["did"], account["handle"], "refresh", access_scope),
            "handle": account["handle"],
            "did": account["did"],
            "didDoc": {
                "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
                "id": account["did"],
                "alsoKnownAs": [f"at://{account['handle']}"],
                "verificationMethod": [{
                    "id": f"{account['did']}#atproto", "type": "Multikey", "controller": account["did"],
                    "publicKeyMultibase": "zQ3sh" + hashlib.sha256(account["did"].encode()).hexdigest()[:44],
                }],
                "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                             "serviceEndpoint": f"http://{host}"}],
            },
            "email": account["email"],
            "emailConfirmed": True,
            "emailAuthFactor": False,
            "active": True,
        }

    def _bearer(self, request: Request, kind: str = "access") -> tuple[dict | None, Response | None]:
        """The token record for the request's bearer token, or the PDS's error."""
        header = request.header("authorization")
        if not header:
            return None, _error(401, "AuthenticationRequired", "Authentication Required")
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme != "Bearer" or not value:
            return None, _error(401, "AuthenticationRequired", "Unexpected authorization type")
        if value.startswith("expired"):
            return None, _expired_token()
        with self.state.lock:
            token = self.tokens.get(value)
        if token is None or value.startswith("bad") or value.count(".") != 2:
            return None, _invalid_token()
        if token["kind"] != kind:
            return None, _error(400, "InvalidToken", "Invalid token type")
        if token["revoked"]:
            return None, _expired_token("Token has been revoked")
        if token["exp"] <= time.time():
            return None, _expired_token()
        return token, None

    def _account(self, actor: str | None) -> dict | None:
        if not actor:
            return None
        with self.state.lock:
            if actor in self.accounts:
                return self.accounts[actor]
            for account in self.accounts.values():
                if account["handle"].casefold() == actor.casefold():
                    return account
        return None

    def _author(self, account: dict) -> dict:
        return {"did": account["did"], "handle": account["handle"], "displayName": _display_name(account["handle"]),
                "labels": [], "createdAt": "2023-05-01T00:00:00.000Z"}

    # --- com.atproto.server ------------------------------------------------------------------
    def create_session(self, request: Request) -> Response:
        if request.content_type != "application/json":
            return _invalid(f"Wrong request encoding (Content-Type): {request.content_type or 'none'}")
        body = request.json()
        identifier, password = body.get("identifier"), body.get("password")
        if not isinstance(identifier, str) or not identifier:
            return _invalid('Input must have the property "identifier"')
        if not isinstance(password, str) or not password:
            return _invalid('Input must have the property "password"')
        if password.startswith(("bad", "expired")):
            return _error(401, "AuthenticationRequired", "Invalid identifier or password")
        # Like the PDS: a session opened with an app password (xxxx-xxxx-xxxx-xxxx) has an access token of scope
        # com.atproto.appPass; one opened with the account's main password, com.atproto.access.
        scope = "com.atproto.appPass" if APP_PASSWORD.fullmatch(password) else "com.atproto.access"
        identifier = identifier.strip().casefold().lstrip("@")
        if identifier.startswith("did:"):  # a DID logs in only to an account the sandbox knows
            account = self._account(identifier)
            if account is None:
                return _error(401, "AuthenticationRequired", "Invalid identifier or password")
            return Response(200, self._session_body(account, request, scope))
        # an email or a handle: every one is a valid account here
        handle = identifier.split("@")[0] + ".bsky.social" if "@" in identifier else identifier
        did = _did_for(handle)
        with self.state.lock:
            account = self.accounts.setdefault(did, {
                "did": did, "handle": handle, "email": identifier if "@" in identifier else f"humas@{handle}"})
        return Response(200, self._session_body(account, request, scope))

    def refresh_session(self, request: Request) -> Response:
        token, error = self._bearer(request, kind="refresh")
        if error:
            return error
        with self.state.lock:
            token["revoked"] = True  # refresh tokens rotate: each is good once
            account = self.accounts[token["did"]]
        body = self._session_body(account, request, token.get("access_scope", "com.atproto.access"))
        body.pop("email"), body.pop("emailConfirmed"), body.pop("emailAuthFactor")
        return Response(200, body)

    def get_session(self, request: Request) -> Response:
        token, error = self._bearer(request)
        if error:
            return error
        account = self.accounts[token["did"]]
        return Response(200, {"handle": account["handle"], "did": account["did"], "email": account["email"],
                              "emailConfirmed": True, "emailAuthFactor": False, "active": True})

    # --- com.atproto.repo ----------------------------------------------------------------------
    def upload_blob(self, request: Request) -> Response:
        token, error = self._bearer(request)
        if error:
            return error
        if not request.body:
            return _invalid("Request encoding (Content-Type) required but not provided")
        if len(request.body) > MAX_BLOB_BYTES:
            return _error(413, "PayloadTooLarge", "request entity too large")
        declared = request.content_type
        mime = _sniff_image(request.body) or (declared if declared and declared != "*/*"
                                               else "application/octet-stream")
        cid = _cid(request.body, 0x55)
        with self.state.lock:
            self.state.media[cid] = {"platform": self.name, "did": token["did"], "mimeType": mime,
                                     "size": len(request.body), "declared": declared}
        return Response(200, {"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime,
                                       "size": len(request.body)}})

    # --- video service ----------------------------------------------------------------------------------
    def get_service_auth(self, request: Request) -> Response:
        token, error = self._bearer(request)
        if error:
            return error
        aud, lxm, exp = request.arg("aud"), request.arg("lxm"), request.arg("exp")
        if not aud or not str(aud).startswith("did:"):
            return _invalid('Params must have the property "aud" (a DID)')
        now = int(time.time())
        try:
            expires = int(exp) if exp else now + 60
        except ValueError:
            return _invalid("exp must be an integer")
        if expires - now > SERVICE_TOKEN_MAX_TTL or expires <= now:
            return _error(400, "BadExpiration", "expiration must be in the future and at most an hour away")
        service_token = f"svc.{_b64url(secrets.token_bytes(12))}.{_b64url(aud.encode())}"
        with self.state.lock:
            self.tokens[service_token] = {"kind": "service", "did": token["did"], "handle": token["handle"],
                                          "exp": expires, "revoked": False, "aud": aud, "lxm": lxm}
        return Response(200, {"token": service_token})

    def _service_grant(self, request: Request, lxm: str) -> tuple[dict | None, Response | None]:
        scheme, _, value = request.header("authorization").partition(" ")
        with self.state.lock:
            grant = self.tokens.get(value.strip()) if scheme == "Bearer" else None
        if grant is None or grant["kind"] != "service" or grant["exp"] <= time.time():
            return None, _error(401, "AuthMissing",
                                "a service token from com.atproto.server.getServiceAuth is required")
        if grant["lxm"] != lxm or not str(grant["aud"]).startswith("did:web:"):
            return None, _error(401, "BadJwtLexiconMethod", f"the token is not for {lxm}")
        return grant, None

    def _upload_limits(self, grant: dict) -> dict:
        """What getUploadLimits answers for the token's account today."""
        if grant["handle"] in self.unverified_email:
            return {"canUpload": False, "message": "User is not allowed to upload videos",
                    "error": "EmailNotVerified"}
        with self.state.lock:
            count, used = self.video_uploads.get((grant["did"], time.strftime("%Y-%m-%d", time.gmtime())), [0, 0])
        videos, size = max(DAILY_VIDEOS - count, 0), max(DAILY_VIDEO_BYTES - used, 0)
        if not videos or not size:
            return {"canUpload": False, "remainingDailyVideos": videos, "remainingDailyBytes": size,
                    "message": "You have reached your daily upload limit", "error": "DailyLimitExceeded"}
        return {"canUpload": True, "remainingDailyVideos": videos, "remainingDailyBytes": size}

    def get_upload_limits(self, request: Request) -> Response:
        grant, error = self._service_grant(request, "app.bsky.video.getUploadLimits")
        if error:
            return error
        return Response(200, self._upload_limits(grant))

    def upload_video(self, request: Request) -> Response:
        grant, problem = self._service_grant(request, "com.atproto.repo.uploadBlob")
        if problem:
            return problem
        limits = self._upload_limits(grant)
        if not limits["canUpload"] or len(request.body) > limits["remainingDailyBytes"]:
            return _error(400, limits.get("error") or "DailyLimitExceeded",
                          limits.get("message") or "not enough of today's upload limit left for this video")
        if request.arg("did") != grant["did"]:
            return _invalid("did must be the uploading account's DID")
        data = request.body
        if not data:
            return _invalid("no video in the request body")
        if len(data) > MAX_VIDEO_BYTES:
            return _error(413, "PayloadTooLarge", f"video larger than {MAX_VIDEO_BYTES} bytes")
        error = None
        length = video.seconds(data)
        if video.container(data) != "mp4" or request.content_type != "video/mp4":
            error = "unsupported video format: MP4 (video/mp4) expected"
        elif length is None or length > MAX_VIDEO_SECONDS:
            error = f"video longer than {MAX_VIDEO_SECONDS} seconds (or its length cannot be read)"
        job_id = _b64url(secrets.token_bytes(9))
        cid = _cid(data, 0x55)
        with self.state.lock:
            day = self.video_uploads.setdefault((grant["did"], time.strftime("%Y-%m-%d", time.gmtime())), [0, 0])
            day[0] += 1
            day[1] += len(data)
            self.state.media[f"job:{job_id}"] = {"platform": self.name, "did": grant["did"], "cid": cid,
                                                 "size": len(data), "error": error, "polls": 0}
        return Response(200, {"jobStatus": {"jobId": job_id, "did": grant["did"], "state": "JOB_STATE_CREATED",
                                            "progress": 0}})

    def get_job_status(self, request: Request) -> Response:
        job_id = request.arg("jobId") or ""
        with self.state.lock:
            job = self.state.media.get(f"job:{job_id}")
            if job is None:
                return _error(404, "NotFound", "job not found")
            job["polls"] += 1
            status = {"jobId": job_id, "did": job["did"]}
            if job["error"]:
                status.update(state="JOB_STATE_FAILED", error="InvalidVideo", message=job["error"])
            elif job["polls"] < 2:
                status.update(state="JOB_STATE_ENCODING", progress=50)
            else:
                # Processed: the service stores the result as a blob of the account's PDS.
                self.state.media[job["cid"]] = {"platform": self.name, "did": job["did"], "mimeType": "video/mp4",
                                                "size": job["size"], "declared": "video/mp4"}
                status.update(state="JOB_STATE_COMPLETED", progress=100, blob={
                    "$type": "blob", "ref": {"$link": job["cid"]}, "mimeType": "video/mp4", "size": job["size"]})
        return Response(200, {"jobStatus": status})

    def create_record(self, request: Request) -> Response:
        token, error = self._bearer(request)
        if error:
            return error
        if request.content_type != "application/json":
            return _invalid(f"Wrong request encoding (Content-Type): {request.content_type or 'none'}")
        try:
            body = request.json()
        except ValueError:
            return _invalid("Unable to parse request body as JSON")
        repo, collection, record = body.get("repo"), body.get("collection"), body.get("record")
        if not repo or not collection or record is None:
            missing = next(k for k in ("repo", "collection", "record") if not body.get(k))
            return _invalid(f'Input must have the property "{missing}"')
        account = self._account(repo)
        if account is None or account["did"] != token["did"]:
            return _error(401, "AuthenticationRequired", "Authentication Required")
        if collection != POST:
            return _invalid(f"sandbox: only {POST} records are emulated, not {collection}")
        rkey = body.get("rkey")
        if rkey is not None and (not isinstance(rkey, str) or not _RKEY.match(rkey) or rkey in (".", "..")):
            return _invalid("Invalid record key")
        if rkey is not None and not _TID.match(rkey):  # app.bsky.feed.post's lexicon: "key": "tid"
            return _invalid(f"Invalid record key for {POST}: must be a TID")
        problem = _validate_post(record, self.state.media)
        if problem:
            return _invalid(problem)

        now = time.time()
        did = account["did"]
        with self.state.lock:
            if rkey is None:
                rkey = _tid(now, f"{did}:{len(self.records)}")
            if (did, rkey) in self.records:
                status, name, message = self.duplicate_rkey_response
                return _error(status, name, message)
            uri = f"at://{did}/{POST}/{rkey}"
            cid = _cid(json.dumps(record, sort_keys=True).encode(), 0x71)
            post = self.state.record_post(self.name, account["handle"], record["text"], key=rkey, post_id=uri,
                                          extra={"facets": record.get("facets"), "embed": record.get("embed"),
                                                 "reply": record.get("reply"), "langs": record.get("langs"),
                                                 "cid": cid, "did": did})
            self.records[(did, rkey)] = {"uri": uri, "cid": cid, "value": record, "post": post,
                                         "indexed_at": now}
        return Response(200, {"uri": uri, "cid": cid,
                              "commit": {"cid": _cid(f"commit:{uri}".encode(), 0x71), "rev": _tid(now, uri)},
                              "validationStatus": "valid"})

    def get_record(self, request: Request) -> Response:
        repo, collection, rkey = request.arg("repo"), request.arg("collection"), request.arg("rkey")
        for name, value in (("repo", repo), ("collection", collection), ("rkey", rkey)):
            if not value:
                return _invalid(f'Params must have the property "{name}"')
        account = self._account(repo)
        if account is None:
            return _invalid(f"Could not find repo: {repo}")
        with self.state.lock:
            stored = self.records.get((account["did"], rkey)) if collection == POST else None
        uri = f"at://{account['did']}/{collection}/{rkey}"
        if stored is None:
            return _error(400, "RecordNotFound", f"Could not locate record: {uri}")
        return Response(200, {"uri": stored["uri"], "cid": stored["cid"], "value": stored["value"]})

    # --- app.bsky (AppView, proxied by the PDS) --------------------------------------------------
    def get_posts(self, request: Request) -> Response:
        _, error = self._bearer(request)
        if error:
            return error
        uris = request.query.get("uris", [])
        if not uris:
            return _invalid('Params must have the property "uris"')
        if len(uris) > MAX_GET_POSTS:
            return _invalid(f"Error: uris must not have more than {MAX_GET_POSTS} elements")
        posts = []
        for uri in uris:
            stored = self.record(uri)
            if stored is not None:  # unknown or deleted posts are left out, as the AppView does
                posts.append(self._post_view(stored))
        return Response(200, {"posts": posts})

    def _post_view(self, stored: dict) -> dict:
        metrics = self.state.engagement(stored["post"])
        account = self.accounts[stored["post"]["extra"]["did"]]
        view = {
            "uri": stored["uri"], "cid": stored["cid"], "author": self._author(account),
            "record": stored["value"],
            "replyCount": metrics["replies"], "repostCount": metrics["reposts"],
            "likeCount": metrics["likes"], "quoteCount": metrics["quotes"],
            "bookmarkCount": metrics["saves"],
            "indexedAt": _iso(stored["indexed_at"]), "labels": [],
        }
        embed = stored["value"].get("embed")
        if embed and embed.get("$type") == "app.bsky.embed.external":
            ext = embed["external"]
            view["embed"] = {"$type": "app.bsky.embed.external#view",
                             "external": {"uri": ext["uri"], "title": ext["title"],
                                          "description": ext["description"]}}
        return view

    def search_posts(self, request: Request) -> Response:
        _, error = self._bearer(request)
        if error:
            return error
        q = request.arg("q")
        if not q:
            return _invalid('Params must have the property "q"')
        try:
            limit = int(request.arg("limit") or 25)
            offset = int(request.arg("cursor") or 0)
        except ValueError:
            return _invalid("limit and cursor must be integers")
        if not 1 <= limit <= 100:
            return _invalid("Params/limit must be between 1 and 100")
        since = None
        if request.arg("since"):
            since = _parse_datetime(request.arg("since"))
            if since is None:
                return _invalid("Params/since must be a valid datetime or date")
        found = self.state.mentions(q, since, limit=offset + limit + 1)
        page = found[offset:offset + limit]
        posts = []
        for mention in page:
            author = {"did": _did_for(mention["author"]), "handle": f"{mention['author']}.bsky.social"}
            rkey = _tid(mention["ts"], mention["id"])
            posts.append({
                "uri": f"at://{author['did']}/{POST}/{rkey}",
                "cid": _cid(mention["id"].encode(), 0x71),
                "author": {**author, "displayName": mention["author"].capitalize(), "labels": []},
                "record": {"$type": POST, "text": mention["text"], "createdAt": _iso(mention["ts"]),
                           "langs": ["id"]},
                "replyCount": 0, "repostCount": 0, "likeCount": 0, "quoteCount": 0,
                "indexedAt": _iso(mention["ts"]), "labels": [],
            })
        body = {"posts": posts}
        if len(found) > offset + limit:
            body["cursor"] = str(offset + limit)
        return Response(200, body)

    def resolve_handle(self, request: Request) -> Response:
        return _resolve_handle_answer(self, request)

    def get_profile(self, request: Request) -> Response:
        _, error = self._bearer(request)
        if error:
            return error
        actor = request.arg("actor")
        if not actor:
            return _invalid('Params must have the property "actor"')
        account = self._account(actor)
        if account is None:
            return _invalid("Profile not found")
        posts = len(self.state.posts_of(self.name, account["handle"]))
        return Response(200, {**self._author(account), "description": "Akun resmi (sandbox)",
                              "followersCount": 1200 + posts * 3, "followsCount": 150, "postsCount": posts,
                              "indexedAt": "2024-01-01T00:00:00.000Z"})


def _resolve_handle_answer(emulator: "BlueskyEmulator", request: Request) -> Response:
    """com.atproto.identity.resolveHandle (https://docs.bsky.app/docs/api/com-atproto-identity-resolve-handle):
    ``{"did"}``, or 400 InvalidRequest "Unable to resolve handle". It needs no session."""
    handle = (request.arg("handle") or "").strip().lower()
    if not handle:
        return _invalid('Params must have the property "handle"')
    did = emulator.directory.get(handle)
    account = None if did else emulator._account(handle)
    if did is None and account is None:
        return _invalid("Unable to resolve handle")
    return Response(200, {"did": did or account["did"]})


def _display_name(handle: str) -> str:
    return handle.split(".")[0].upper()


def _invalid_token() -> Response:
    return _error(400, "InvalidToken", "Token could not be verified")


def _expired_token(message: str = "Token has expired") -> Response:
    return _error(400, "ExpiredToken", message)


def _validate_post(record, media: dict) -> str | None:
    """The lexicon checks of app.bsky.feed.post the adapter relies on; a message like the PDS's, or None."""
    if not isinstance(record, dict):
        return "Record must be an object"
    if record.get("$type") != POST:
        return f"Invalid $type: must be {POST}, got {record.get('$type')}"
    text = record.get("text")
    if not isinstance(text, str):
        return 'Record must have the property "text"'
    if "createdAt" not in record:
        return 'Record must have the property "createdAt"'
    if _parse_datetime(record["createdAt"]) is None:
        return "Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)"
    encoded = text.encode("utf-8")
    if len(encoded) > MAX_TEXT_BYTES:
        return f"Record/text must not be longer than {MAX_TEXT_BYTES} characters"
    if grapheme.length(text) > MAX_GRAPHEMES:
        return f"Record/text must not be longer than {MAX_GRAPHEMES} graphemes"
    for i, facet in enumerate(record.get("facets") or []):
        index = facet.get("index") if isinstance(facet, dict) else None
        if not isinstance(index, dict):
            return f'Record/facets/{i} must have the property "index"'
        start, end = index.get("byteStart"), index.get("byteEnd")
        if not isinstance(start, int) or not isinstance(end, int) or start < 0 or end < 0:
            return f"Record/facets/{i}/index must have integer byteStart and byteEnd >= 0"
        if start > end or end > len(encoded):
            return f"Record/facets/{i}/index must lie within the text ({len(encoded)} bytes)"
        if not _on_boundary(encoded, start) or not _on_boundary(encoded, end):
            return f"Record/facets/{i}/index must fall on UTF-8 character boundaries"
        features = facet.get("features")
        if not isinstance(features, list) or not features:
            return f'Record/facets/{i} must have the property "features"'
        for feature in features:
            if not isinstance(feature, dict) or feature.get("$type") not in _FACET_TYPES:
                return f"Record/facets/{i}/features must be link, mention or tag"
    embed = record.get("embed")
    if embed is not None:
        problem = _validate_embed(embed, media)
        if problem:
            return problem
    reply = record.get("reply")
    if reply is not None:
        for part in ("root", "parent"):
            ref = reply.get(part) if isinstance(reply, dict) else None
            if not isinstance(ref, dict) or not ref.get("uri") or not ref.get("cid"):
                return f'Record/reply must have the property "{part}" with uri and cid'
    return None


def _validate_embed(embed, media: dict) -> str | None:
    kind = embed.get("$type") if isinstance(embed, dict) else None
    if kind == "app.bsky.embed.images":
        images = embed.get("images")
        if not isinstance(images, list) or not images:
            return 'Record/embed must have the property "images"'
        if len(images) > MAX_IMAGES:
            return f"Record/embed/images must not have more than {MAX_IMAGES} elements"
        for i, image in enumerate(images):
            if not isinstance(image, dict) or not isinstance(image.get("alt"), str):
                return f'Record/embed/images/{i} must have the property "alt"'
            blob = image.get("image")
            link = (blob.get("ref") or {}).get("$link") if isinstance(blob, dict) else None
            if not link or link not in media:
                return f"Could not find blob: {link}"
            stored = media[link]
            if not stored["mimeType"].startswith("image/"):
                return f"Record/embed/images/{i}/image has an invalid mime type: {stored['mimeType']}"
            if stored["size"] > MAX_IMAGE_BYTES:
                return f"Record/embed/images/{i}/image file too big (max {MAX_IMAGE_BYTES} bytes)"
        return None
    if kind == "app.bsky.embed.video":
        blob = embed.get("video")
        link = (blob.get("ref") or {}).get("$link") if isinstance(blob, dict) else None
        if not link or link not in media:
            return f"Could not find blob: {link}"
        stored = media[link]
        if stored["mimeType"] != "video/mp4":
            return f"Record/embed/video has an invalid mime type: {stored['mimeType']}"
        if stored["size"] > MAX_VIDEO_BYTES:
            return f"Record/embed/video file too big (max {MAX_VIDEO_BYTES} bytes)"
        return None
    if kind == "app.bsky.embed.external":
        external = embed.get("external")
        if not isinstance(external, dict):
            return 'Record/embed must have the property "external"'
        for name in ("uri", "title", "description"):
            if not isinstance(external.get(name), str):
                return f'Record/embed/external must have the property "{name}"'
        thumb = external.get("thumb")
        if thumb is not None:  # app.bsky.embed.external#external: thumb, an image blob of at most 1,000,000 bytes
            link = (thumb.get("ref") or {}).get("$link") if isinstance(thumb, dict) else None
            if not link or link not in media:
                return f"Could not find blob: {link}"
            if not media[link]["mimeType"].startswith("image/"):
                return f"Record/embed/external/thumb has an invalid mime type: {media[link]['mimeType']}"
            if media[link]["size"] > MAX_IMAGE_BYTES:
                return f"Record/embed/external/thumb file too big (max {MAX_IMAGE_BYTES} bytes)"
        return None
    return f"sandbox: embed type {kind!r} is not emulated"


def _on_boundary(encoded: bytes, index: int) -> bool:
    """True when ``index`` does not split a UTF-8 sequence (continuation bytes are 10xxxxxx)."""
    return index == len(encoded) or (encoded[index] & 0xC0) != 0x80


EMULATOR = BlueskyEmulator
