"""Mastodon's app registration and OAuth 2.0 authorization code flow, as Mastodon documents it.

Sources (docs.joinmastodon.org, read with the search tool): /methods/apps/ (``POST /api/v1/apps`` with
client_name, redirect_uris, scopes, website, answered with client_id and client_secret),
/methods/oauth/ (``GET /oauth/authorize`` with response_type=code, client_id, redirect_uri, scope, state
and optionally an S256 code_challenge; ``POST /oauth/token`` with grant_type=authorization_code, code,
client_id, client_secret, redirect_uri (and code_verifier), answered {access_token, token_type "Bearer",
scope, created_at}: a user token that does not expire; ``POST /oauth/revoke``), /client/token/.
Doorkeeper's refusals: ``invalid_grant`` for a bad or reused code, 401 "The access token was revoked".

The authorize page is a consent form a test submits over HTTP (the user who consents, allow or deny).
The Mastodon emulator asks ``token_user`` about bearer tokens: one issued here belongs to the user who
consented, and is refused once revoked; others keep the emulator's older rules.
"""

from __future__ import annotations

import hashlib
import html
import secrets
import threading
import time
from urllib.parse import urlencode

from planner.sandbox.core import Emulator, Request, Response, route

SCOPES = {"read", "write", "follow", "push", "profile", "read:accounts", "read:statuses", "read:search",
          "read:notifications", "write:statuses", "write:media", "write:accounts"}
CODE_LIFETIME = 600
OOB = "urn:ietf:wg:oauth:2.0:oob"


class Registry:
    def __init__(self):
        self.lock = threading.RLock()
        self.apps: dict[str, dict] = {}
        self.pending: dict[str, dict] = {}
        self.codes: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}   # access token -> {username, scopes, client_id, revoked}

    def revoke_user(self, username: str) -> int:
        with self.lock:
            hit = [t for t in self.tokens.values() if t["username"] == username]
            for token in hit:
                token["revoked"] = True
            return len(hit)


def registry(state) -> Registry:
    with state.lock:
        if not hasattr(state, "mastodon_oauth"):
            state.mastodon_oauth = Registry()
        return state.mastodon_oauth


def token_user(state, token: str) -> dict | None | bool:
    """The user of a token issued here; False once revoked; None when not one of ours."""
    reg = registry(state)
    with reg.lock:
        entry = reg.tokens.get(token)
        if entry is None:
            return None
        return False if entry["revoked"] else dict(entry)


def _page(status: int, title: str, body: str) -> Response:
    text = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1>{body}</body></html>")
    return Response(status, text, {"Content-Type": "text/html; charset=utf-8"})


def _grant_error(description: str = "The provided authorization grant is invalid, expired, revoked, does not match "
                 "the redirection URI used in the authorization request, or was issued to another client.") -> Response:
    return Response(400, {"error": "invalid_grant", "error_description": description})


class MastodonOAuthEmulator(Emulator):
    name = "mastodon"

    def routes(self):
        return [
            route("POST", r"/api/v1/apps", self.create_app),
            route("GET", r"/oauth/authorize", self.authorize),
            route("POST", r"/oauth/authorize", self.consent),
            route("POST", r"/oauth/token", self.token),
            route("POST", r"/oauth/revoke", self.revoke),
        ]

    @property
    def reg(self) -> Registry:
        return registry(self.state)

    def create_app(self, request: Request) -> Response:
        name = request.arg("client_name") or ""
        redirect_uris = request.arg("redirect_uris") or ""
        scopes = (request.arg("scopes") or "read").split()
        if not name:
            return Response(422, {"error": "Validation failed: Application name can't be blank"})
        if not redirect_uris:
            return Response(422, {"error": "Validation failed: Redirect URI can't be blank"})
        if any(s not in SCOPES for s in scopes):
            return Response(422, {"error": "Validation failed: Scopes must be valid"})
        client_id, client_secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        uris = redirect_uris.split()
        with self.reg.lock:
            self.reg.apps[client_id] = {"secret": client_secret, "redirect_uris": uris, "scopes": scopes}
        return Response(200, {"id": str(len(self.reg.apps)), "name": name, "website": request.arg("website"),
                              "scopes": scopes, "redirect_uri": redirect_uris, "redirect_uris": uris,
                              "client_id": client_id, "client_secret": client_secret})

    def authorize(self, request: Request) -> Response:
        params = {k: request.arg(k) or "" for k in ("response_type", "client_id", "redirect_uri", "scope", "state",
                                                     "code_challenge", "code_challenge_method")}
        app = self.reg.apps.get(params["client_id"])
        scopes = (params["scope"] or "read").split()
        if app is None:
            return _page(401, "An error has occurred", "<p>Client authentication failed due to unknown client.</p>")
        if params["redirect_uri"] not in app["redirect_uris"]:
            return _page(400, "An error has occurred", "<p>The redirect uri included is not valid.</p>")
        if params["response_type"] != "code" or any(s not in app["scopes"] for s in scopes):
            return _page(400, "An error has occurred", "<p>The requested scope is invalid, unknown, or malformed.</p>")
        request_id = secrets.token_urlsafe(16)
        with self.reg.lock:
            self.reg.pending[request_id] = {**params, "scope": " ".join(scopes)}
        items = "".join(f"<li>{html.escape(s)}</li>" for s in scopes)
        form = (f'<form method="post" action="/oauth/authorize">'
                f'<input type="hidden" name="request_id" value="{request_id}">'
                f'<label>Username <input name="username" value="kpudemak"></label>'
                f'<button name="decision" value="allow">Authorize</button>'
                f'<button name="decision" value="deny">Deny</button></form>')
        return _page(200, "Authorization required", f"<p>This application asks for:</p><ul>{items}</ul>{form}")

    def consent(self, request: Request) -> Response:
        with self.reg.lock:
            params = self.reg.pending.pop(request.form.get("request_id", ""), None)
        if params is None:
            return _page(400, "An error has occurred", "<p>This authorization request has expired.</p>")
        if request.form.get("decision") != "allow":
            answer = {"error": "access_denied", "error_description": "The resource owner or authorization server "
                      "denied the request.", "state": params["state"]}
        else:
            code = secrets.token_urlsafe(32)
            with self.reg.lock:
                self.reg.codes[code] = {"params": params, "username": request.form.get("username") or "kpudemak",
                                        "expires": time.time() + CODE_LIFETIME}
            if params["redirect_uri"] == OOB:  # the code is shown on the page, for the user to copy
                return _page(200, "Authorization code", f"<p>Copy this authorization code: <code>{code}</code></p>")
            answer = {"code": code, "state": params["state"]}
        separator = "&" if "?" in params["redirect_uri"] else "?"
        answer = {k: v for k, v in answer.items() if v}
        return Response(302, "", {"Location": params["redirect_uri"] + separator + urlencode(answer)})

    def token(self, request: Request) -> Response:
        form = request.form if request.content_type == "application/x-www-form-urlencoded" else \
            (request.json() if request.content_type == "application/json" else {})
        app = self.reg.apps.get(form.get("client_id", ""))
        if app is None or app["secret"] != form.get("client_secret"):
            return Response(401, {"error": "invalid_client", "error_description": "Client authentication failed "
                                  "due to unknown client, no client authentication included, or unsupported "
                                  "authentication method."})
        if form.get("grant_type") != "authorization_code":
            return Response(400, {"error": "unsupported_grant_type", "error_description": "The authorization grant "
                                  "type is not supported by the authorization server."})
        with self.reg.lock:
            entry = self.reg.codes.pop(form.get("code", ""), None)
            if entry is None or entry["expires"] < time.time():
                return _grant_error()
            params = entry["params"]
            if params["client_id"] != form.get("client_id") or params["redirect_uri"] != form.get("redirect_uri"):
                return _grant_error()
            if params.get("code_challenge"):
                import base64

                verifier = form.get("code_verifier", "")
                expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
                if expected != params["code_challenge"]:
                    return _grant_error()
            access = secrets.token_urlsafe(32)
            self.reg.tokens[access] = {"username": entry["username"], "scopes": params["scope"].split(),
                                       "client_id": params["client_id"], "revoked": False}
        return Response(200, {"access_token": access, "token_type": "Bearer", "scope": params["scope"],
                              "created_at": int(time.time())})

    def revoke(self, request: Request) -> Response:
        form = request.form
        app = self.reg.apps.get(form.get("client_id", ""))
        if app is None or app["secret"] != form.get("client_secret"):
            return Response(403, {"error": "unauthorized_client", "error_description": "You are not authorized to "
                                  "revoke this token"})
        with self.reg.lock:
            entry = self.reg.tokens.get(form.get("token", ""))
            if entry is not None:
                entry["revoked"] = True
        return Response(200, {})


EMULATOR = MastodonOAuthEmulator


