"""Facebook Page and Instagram (business account of a Page): Facebook Login, then the Page token.

As Meta documents it (developers.facebook.com): the manual Login flow
(facebook-login/guides/advanced/manual-flow: ``https://www.facebook.com/v23.0/dialog/oauth`` with
client_id, redirect_uri, state, scope, response_type=code; ``GET /v23.0/oauth/access_token`` exchanges the
code for a short-lived user token), the long-lived user token
(facebook-login/guides/access-tokens/get-long-lived: grant_type=fb_exchange_token, about 60 days), and the
Page token taken from ``/me/accounts`` with that long-lived token, which does not expire
(it stops working when the person's role on the Page or the app's permissions are removed, or their
password changes). The Instagram business account is the Page's ``instagram_business_account``.

Tokens of "Instagram API with Instagram Login" (graph.instagram.com, 60 days, refreshed with
ig_refresh_token) are not used: the Page token from Facebook Login serves Instagram as well and never
needs renewing. The long-lived user token is not kept: only the Page token is.
"""

from __future__ import annotations

from urllib.parse import urlencode

import requests

from planner.accounts.connect_x import CALLBACK_PATH, Authorization, ConnectError
from planner.platforms.graph_common import GRAPH_VERSION

SCOPES = ("pages_show_list", "pages_manage_posts", "pages_read_engagement", "business_management",
          "instagram_basic", "instagram_content_publish", "instagram_manage_insights")
DIALOG = "https://www.facebook.com"
GRAPH = "https://graph.facebook.com"
TIMEOUT = 15.0


def start(app_id: str, *, api_base_url: str | None, port: int) -> Authorization:
    import secrets

    state = secrets.token_urlsafe(24)
    redirect_uri = f"http://127.0.0.1:{port}{CALLBACK_PATH}"
    query = urlencode({"client_id": app_id, "redirect_uri": redirect_uri, "state": state,
                       "scope": ",".join(SCOPES), "response_type": "code"})
    base = (api_base_url or DIALOG).rstrip("/")
    return Authorization(f"{base}/{GRAPH_VERSION}/dialog/oauth?{query}", state, "", redirect_uri, app_id)


def _get(url: str, params: dict, *, token: str | None = None) -> dict:
    headers = {"Authorization": f"OAuth {token}"} if token else {}
    try:
        response = requests.get(url, params=params, headers=headers, timeout=TIMEOUT)
        body = response.json()
    except requests.RequestException as exc:  # the URL holds the app secret: only the error's kind is shown
        raise ConnectError("connect.unreachable", platform="Facebook", error=type(exc).__name__) from None
    except ValueError:
        body = {}
    if not response.ok or not isinstance(body, dict) or "error" in body:
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        raise ConnectError("connect.token_refused", platform="Facebook",
                           error=str(message or f"HTTP {response.status_code}")[:300])
    return body


def page_tokens(code: str, auth: Authorization, app_secret: str, *, api_base_url: str | None) -> list[dict]:
    """The Pages this person manages, each with its (non-expiring) Page token and Instagram account."""
    base = f"{(api_base_url or GRAPH).rstrip('/')}/{GRAPH_VERSION}"
    short = _get(base + "/oauth/access_token", {"client_id": auth.client_id, "redirect_uri": auth.redirect_uri,
                                                 "client_secret": app_secret, "code": code})
    long = _get(base + "/oauth/access_token", {"grant_type": "fb_exchange_token", "client_id": auth.client_id,
                                                "client_secret": app_secret,
                                                "fb_exchange_token": short["access_token"]})
    pages = _get(base + "/me/accounts", {"fields": "id,name,access_token,tasks,instagram_business_account"},
                 token=long["access_token"])
    return [p for p in pages.get("data", []) if p.get("access_token")]


def page_of(token: str, *, api_base_url: str | None) -> dict:
    """Who a Page token answers as (``/me`` with a Page token is the Page)."""
    base = f"{(api_base_url or GRAPH).rstrip('/')}/{GRAPH_VERSION}"
    return _get(base + "/me", {"fields": "id,name"}, token=token)
