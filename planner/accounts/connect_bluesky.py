"""Bluesky: the account's handle and an app password, checked with ``com.atproto.server.createSession``
(https://docs.bsky.app/docs/api/com-atproto-server-create-session; app passwords:
https://bsky.app/settings/app-passwords).

The main password is refused when the server says it is one: the access token of a session opened with
an app password carries the scope ``com.atproto.appPass`` (``com.atproto.appPassPrivileged`` for a
privileged one), a main-password session ``com.atproto.access``; a main password with email 2FA on is
answered ``AuthFactorTokenRequired``. The adapter opens its own sessions with the stored app password and
refreshes them as it does today; an app password lasts until it is revoked in Bluesky's settings.
"""

from __future__ import annotations

import base64
import json

import requests

from planner.accounts.connect_x import ConnectError

DEFAULT_PDS = "https://bsky.social"
TIMEOUT = 15.0


def _scope(jwt: str) -> str:
    try:
        payload = jwt.split(".")[1]
        return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("scope", ""))
    except (IndexError, ValueError, AttributeError):
        return ""


def verify(handle: str, app_password: str, *, api_base_url: str | None) -> dict:
    """The session's handle and did when ``app_password`` is an app password of ``handle``."""
    url = f"{(api_base_url or DEFAULT_PDS).rstrip('/')}/xrpc/com.atproto.server.createSession"
    try:
        response = requests.post(url, json={"identifier": handle.lstrip("@"), "password": app_password},
                                 timeout=TIMEOUT)
        body = response.json()
    except requests.RequestException as exc:
        raise ConnectError("connect.unreachable", platform="Bluesky", error=type(exc).__name__) from None
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    if body.get("error") == "AuthFactorTokenRequired":
        raise ConnectError("connect.bluesky_main_password")
    if response.status_code == 401:
        raise ConnectError("connect.bluesky_refused", handle=handle)
    if not response.ok or not body.get("accessJwt"):
        raise ConnectError("connect.token_refused", platform="Bluesky",
                           error=str(body.get("message") or body.get("error") or f"HTTP {response.status_code}")[:300])
    if _scope(body["accessJwt"]) == "com.atproto.access":
        raise ConnectError("connect.bluesky_main_password")
    return {"handle": body.get("handle", handle), "did": body.get("did", "")}
