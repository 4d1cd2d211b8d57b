"""Mastodon: the app registered on the office's own instance, then the authorization code flow.

As Mastodon documents it (docs.joinmastodon.org /methods/apps/, /methods/oauth/, /client/token/):
``POST /api/v1/apps`` (client_name, redirect_uris, scopes, website) gives client_id and client_secret;
the user opens ``/oauth/authorize`` (response_type=code, client_id, redirect_uri, scope, state, and an
S256 code_challenge, which Mastodon 4.3+ checks); ``POST /oauth/token`` with grant_type=authorization_code,
code, client_id, client_secret, redirect_uri and code_verifier gives a user access token that does not
expire (until the user revokes the app under Preferences → Account → Authorized apps).

Scopes are only what the tool uses: posting statuses and media, reading its own statuses back
(reconciliation, metrics), the account it posts as, and search (listening).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import urlencode

import requests

from planner.accounts.connect_x import CALLBACK_PATH, Authorization, ConnectError

SCOPES = ("read:accounts", "read:statuses", "read:search", "write:statuses", "write:media")
TIMEOUT = 15.0
CLIENT_NAME = "humas-planner"
WEBSITE = "https://github.com/humas-planner"


def _post(url: str, data: dict, what: str) -> dict:
    try:
        response = requests.post(url, data=data, timeout=TIMEOUT)
        body = response.json()
    except requests.RequestException as exc:
        raise ConnectError("connect.unreachable", platform="Mastodon", error=type(exc).__name__) from None
    except ValueError:
        body = {}
    if not response.ok or not isinstance(body, dict):
        detail = body.get("error_description") or body.get("error") if isinstance(body, dict) else None
        raise ConnectError("connect.token_refused" if what == "token" else "connect.mastodon_app_refused",
                           platform="Mastodon", error=str(detail or f"HTTP {response.status_code}")[:300])
    return body


def register_app(instance: str, port: int) -> dict:
    redirect_uri = f"http://127.0.0.1:{port}{CALLBACK_PATH}"
    body = _post(instance.rstrip("/") + "/api/v1/apps", {"client_name": CLIENT_NAME, "redirect_uris": redirect_uri,
                                                         "scopes": " ".join(SCOPES), "website": WEBSITE}, "app")
    if not body.get("client_id") or not body.get("client_secret"):
        raise ConnectError("connect.mastodon_app_refused", platform="Mastodon", error="no client_id")
    return {"client_id": body["client_id"], "client_secret": body["client_secret"], "redirect_uri": redirect_uri}


def start(instance: str, client_id: str, redirect_uri: str) -> Authorization:
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    state = secrets.token_urlsafe(24)
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                       "scope": " ".join(SCOPES), "state": state, "code_challenge": challenge,
                       "code_challenge_method": "S256"})
    return Authorization(f"{instance.rstrip('/')}/oauth/authorize?{query}", state, verifier, redirect_uri, client_id)


def exchange(instance: str, code: str, auth: Authorization, client_secret: str) -> dict:
    body = _post(instance.rstrip("/") + "/oauth/token",
                 {"grant_type": "authorization_code", "code": code, "client_id": auth.client_id,
                  "client_secret": client_secret, "redirect_uri": auth.redirect_uri,
                  "code_verifier": auth.verifier, "scope": " ".join(SCOPES)}, "token")
    if not body.get("access_token"):
        raise ConnectError("connect.token_refused", platform="Mastodon", error="no access_token")
    granted = set(str(body.get("scope", "")).split())
    missing = [s for s in ("write:statuses", "read:statuses") if s not in granted and s.split(":")[0] not in granted]
    if missing:
        raise ConnectError("connect.mastodon_scopes_missing", scopes=", ".join(missing))
    return body


def whoami(instance: str, access_token: str) -> dict:
    try:
        response = requests.get(instance.rstrip("/") + "/api/v1/accounts/verify_credentials",
                                headers={"Authorization": f"Bearer {access_token}"}, timeout=TIMEOUT)
        body = response.json()
        return {"acct": body["acct"], "display_name": body.get("display_name", "")}
    except (requests.RequestException, ValueError, KeyError, TypeError):
        raise ConnectError("connect.verify_failed", platform="Mastodon") from None
