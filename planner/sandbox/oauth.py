"""X's OAuth 2.0 Authorization Code Flow with PKCE, as X documents it.

Sources (docs.x.com, read with the search tool):
- https://docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code : the authorize URL
  (x.com/i/oauth2/authorize with response_type=code, client_id, redirect_uri, scope, state,
  code_challenge, code_challenge_method S256 or plain); the access token lives two hours; a refresh
  token is issued only with the offline.access scope; ``POST /2/oauth2/token`` with
  grant_type=refresh_token; the authorization code is valid for 30 seconds.
- https://docs.x.com/fundamentals/authentication/oauth-2-0/user-access-token : confidential clients
  authenticate to the token endpoints with HTTP Basic (client id : client secret); public clients send
  client_id in the body; ``POST /2/oauth2/revoke`` with token and token_type_hint.

The emulation: the authorize page is an HTML consent form (a test submits it over HTTP: it names the
user who consents and allows or denies); a consent redirects to redirect_uri with ``code`` and the
caller's ``state``. Access tokens expire after ``access_lifetime`` seconds (7,200 as on X; tests set a
few seconds, or HUMAS_SANDBOX_X_TOKEN_LIFETIME); refresh tokens are single use: each refresh returns a
new one and the old one is dead (a second use is refused with X's own error body). Revocation kills the
grant: its access and refresh tokens. The X emulator asks ``bearer_user`` about every Bearer token: a
token this module issued is refused once expired or revoked (401, X's body); a token it never issued
is left to the X emulator's older rules (fixed sandbox tokens).
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from planner.sandbox.core import Emulator, Request, Response, route

DEFAULT_ACCESS_LIFETIME = 7200
CODE_LIFETIME = 30
SCOPES = {"tweet.read", "tweet.write", "tweet.moderate.write", "users.read", "follows.read", "follows.write",
          "offline.access", "space.read", "mute.read", "mute.write", "like.read", "like.write", "list.read",
          "list.write", "block.read", "block.write", "bookmark.read", "bookmark.write", "media.write"}
APP_ONLY_PREFIX = "AAAAAAAAAAAAAAAAAAAAA"


@dataclass
class Grant:
    client_id: str
    user: dict
    scopes: list[str]
    revoked: bool = False
    access: dict[str, float] = field(default_factory=dict)   # access token -> expiry (epoch seconds)
    refresh: str | None = None                               # the one live refresh token
    used_refresh: set[str] = field(default_factory=set)


class Registry:
    def __init__(self):
        self.lock = threading.RLock()
        self.access_lifetime = float(os.environ.get("HUMAS_SANDBOX_X_TOKEN_LIFETIME") or DEFAULT_ACCESS_LIFETIME)
        self.pending: dict[str, dict] = {}      # consent request id -> authorize parameters
        self.codes: dict[str, dict] = {}        # authorization code -> {params, user, expires}
        self.grants: list[Grant] = []
        self.refresh_uses: list[tuple[str, bool]] = []  # (refresh token fingerprint, accepted): for tests

    def grant_of_access(self, token: str) -> Grant | None:
        return next((g for g in self.grants if token in g.access), None)

    def revoke_user(self, username: str) -> int:
        """The user removes the app in X's settings: every grant of theirs dies."""
        with self.lock:
            hit = [g for g in self.grants if g.user["username"] == username]
            for grant in hit:
                grant.revoked = True
            return len(hit)


def registry(state) -> Registry:
    with state.lock:
        if not hasattr(state, "x_oauth"):
            state.x_oauth = Registry()
        return state.x_oauth


def bearer_user(state, token: str) -> dict | None | bool:
    """The user of an access token this module issued; False when it is expired or revoked; None when
    the token is not one of ours."""
    reg = registry(state)
    with reg.lock:
        grant = reg.grant_of_access(token)
        if grant is None:
            return None
        if grant.revoked or grant.access[token] < time.time():
            return False
        return {**grant.user, "scopes": list(grant.scopes)}


def _user(username: str) -> dict:
    digest = hashlib.sha256(username.encode()).hexdigest()
    return {"id": str(int(digest[:14], 16)), "username": username, "name": username.replace("_", " ").title()}


def _token(kind: str) -> str:
    """Looks like X's tokens: base64 of 'random:milliseconds:1:1:at|rt:1'."""
    raw = f"{secrets.token_urlsafe(30)}:{int(time.time() * 1000)}:1:1:{kind}:1"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _oauth_error(status: int, error: str, description: str) -> Response:
    return Response(status, {"error": error, "error_description": description})


def _page(status: int, title: str, body: str) -> Response:
    text = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1>{body}</body></html>")
    return Response(status, text, {"Content-Type": "text/html; charset=utf-8"})


class XOAuthEmulator(Emulator):
    name = "x"

    def routes(self):
        return [
            route("GET", r"/i/oauth2/authorize", self.authorize),
            route("POST", r"/i/oauth2/authorize", self.consent),
            route("POST", r"/2/oauth2/token", self.token),
            route("POST", r"/2/oauth2/revoke", self.revoke),
        ]

    @property
    def reg(self) -> Registry:
        return registry(self.state)

    # --- GET /i/oauth2/authorize: the consent page ----------------------------------------------------------
    def authorize(self, request: Request) -> Response:
        params = {k: request.arg(k) or "" for k in ("response_type", "client_id", "redirect_uri", "scope", "state",
                                                     "code_challenge", "code_challenge_method")}
        problem = None
        scopes = params["scope"].split()
        if params["response_type"] != "code":
            problem = "response_type must be code"
        elif not params["client_id"] or params["client_id"].startswith("bad"):
            problem = "Something went wrong: the client_id is not a registered app"
        elif not params["redirect_uri"] or urlsplit(params["redirect_uri"]).scheme not in ("http", "https"):
            problem = "Something went wrong: redirect_uri does not match the app's callback URL"
        elif not params["state"] or not params["code_challenge"]:
            problem = "state and code_challenge are required"
        elif params["code_challenge_method"] not in ("S256", "plain"):
            problem = "code_challenge_method must be S256 or plain"
        elif not scopes or any(s not in SCOPES for s in scopes):
            problem = "invalid scope"
        if problem:
            return _page(400, "Something went wrong", f"<p>{html.escape(problem)}</p>")
        request_id = secrets.token_urlsafe(16)
        with self.reg.lock:
            self.reg.pending[request_id] = params
        items = "".join(f"<li>{html.escape(s)}</li>" for s in scopes)
        form = (f'<form method="post" action="/i/oauth2/authorize">'
                f'<input type="hidden" name="request_id" value="{request_id}">'
                f'<label>Username <input name="username" value="humas_sandbox"></label>'
                f'<button name="decision" value="allow">Authorize app</button>'
                f'<button name="decision" value="deny">Cancel</button></form>')
        return _page(200, "Authorize app", f"<p>The app wants to:</p><ul>{items}</ul>{form}")

    # --- POST /i/oauth2/authorize: the user's answer ---------------------------------------------------------
    def consent(self, request: Request) -> Response:
        with self.reg.lock:
            params = self.reg.pending.pop(request.form.get("request_id", ""), None)
        if params is None:
            return _page(400, "Something went wrong", "<p>This authorization request has expired.</p>")
        answer: dict[str, str]
        if request.form.get("decision") != "allow":
            answer = {"error": "access_denied", "state": params["state"]}
        else:
            code = base64.urlsafe_b64encode(secrets.token_bytes(24)).decode().rstrip("=")
            user = _user(request.form.get("username") or "humas_sandbox")
            with self.reg.lock:
                self.reg.codes[code] = {"params": params, "user": user, "expires": time.time() + CODE_LIFETIME}
            answer = {"state": params["state"], "code": code}
        separator = "&" if "?" in params["redirect_uri"] else "?"
        return Response(302, "", {"Location": params["redirect_uri"] + separator + urlencode(answer)})

    # --- POST /2/oauth2/token ------------------------------------------------------------------------------
    def _client(self, request: Request) -> tuple[str, str | None] | None:
        header = request.header("authorization")
        if header.startswith("Basic "):
            try:
                client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            return client_id, secret
        client_id = request.form.get("client_id", "")
        return (client_id, None) if client_id else None

    def token(self, request: Request) -> Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return _oauth_error(400, "invalid_request", "Missing required parameter [grant_type].")
        client = self._client(request)
        grant_type = request.form.get("grant_type", "")
        if client is None:
            return _oauth_error(401, "unauthorized_client", "Missing valid authorization header")
        client_id, secret = client
        if client_id.startswith("conf") and not secret:  # a confidential client must authenticate
            return _oauth_error(401, "unauthorized_client", "Missing valid authorization header")
        if grant_type == "client_credentials":
            if not secret:
                return _oauth_error(401, "unauthorized_client", "Missing valid authorization header")
            return Response(200, {"token_type": "bearer", "access_token": APP_ONLY_PREFIX + secrets.token_hex(20)})
        if grant_type == "authorization_code":
            return self._exchange(request, client_id)
        if grant_type == "refresh_token":
            return self._refresh(request, client_id)
        return _oauth_error(400, "unsupported_grant_type", "Value passed for the grant type was invalid.")

    def _issue(self, grant: Grant) -> Response:
        access = _token("at")
        grant.access[access] = time.time() + self.reg.access_lifetime
        body = {"token_type": "bearer", "expires_in": int(self.reg.access_lifetime), "access_token": access,
                "scope": " ".join(grant.scopes)}
        if "offline.access" in grant.scopes:
            grant.refresh = _token("rt")
            body["refresh_token"] = grant.refresh
        return Response(200, body)

    def _exchange(self, request: Request, client_id: str) -> Response:
        form = request.form
        with self.reg.lock:
            entry = self.reg.codes.pop(form.get("code", ""), None)  # single use, whatever happens next
            if entry is None or entry["expires"] < time.time():
                return _oauth_error(400, "invalid_request", "Value passed for the authorization code was invalid.")
            params = entry["params"]
            if params["client_id"] != client_id or params["redirect_uri"] != form.get("redirect_uri"):
                return _oauth_error(400, "invalid_request", "Value passed for the authorization code was invalid.")
            verifier = form.get("code_verifier", "")
            if params["code_challenge_method"] == "S256":
                expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
            else:
                expected = verifier
            if not verifier or expected != params["code_challenge"]:
                return _oauth_error(400, "invalid_request", "Value passed for the code verifier was invalid.")
            grant = Grant(client_id=client_id, user=entry["user"], scopes=params["scope"].split())
            self.reg.grants.append(grant)
            return self._issue(grant)

    def _refresh(self, request: Request, client_id: str) -> Response:
        token = request.form.get("refresh_token", "")
        fingerprint = hashlib.sha256(token.encode()).hexdigest()[:12]
        with self.reg.lock:
            grant = next((g for g in self.reg.grants if g.refresh == token or token in g.used_refresh), None)
            ok = grant is not None and grant.refresh == token and not grant.revoked and grant.client_id == client_id
            self.reg.refresh_uses.append((fingerprint, ok))
            if not ok:
                return _oauth_error(400, "invalid_request", "Value passed for the token was invalid.")
            grant.used_refresh.add(token)
            return self._issue(grant)

    # --- POST /2/oauth2/revoke -----------------------------------------------------------------------------
    def revoke(self, request: Request) -> Response:
        if self._client(request) is None:
            return _oauth_error(401, "unauthorized_client", "Missing valid authorization header")
        token = request.form.get("token", "")
        with self.reg.lock:
            for grant in self.reg.grants:
                if token in grant.access or token == grant.refresh:
                    grant.revoked = True
        return Response(200, {"revoked": True})


EMULATOR = XOAuthEmulator
