"""Facebook Login (manual flow) and Page tokens, as Meta documents them.

Sources (developers.facebook.com, read with the search tool): facebook-login/guides/advanced/manual-flow
(``GET https://www.facebook.com/vX/dialog/oauth`` with client_id, redirect_uri, state, scope,
response_type=code; the redirect carries ``code`` and ``state``, or ``error=access_denied`` with
``error_reason=user_denied``; ``GET /vX/oauth/access_token`` with client_id, redirect_uri, client_secret and
code gives a short-lived user token), facebook-login/guides/access-tokens/get-long-lived
(grant_type=fb_exchange_token gives a long-lived user token, about 60 days; a Page token obtained from
``/me/accounts`` with a long-lived user token has no expiry), graph-api/reference/page
(``instagram_business_account`` on a Page).

The consent page is a form a test submits over HTTP. The sandbox's Facebook user manages two Pages:
"KPU Kabupaten Demak" (with an Instagram business account) and "PPID Kabupaten Demak" (without). The Graph
emulator's ``/me`` asks ``owner_of_token``: as Graph documents it (graph-api/overview, "/me" translates to the
object whose access token is used), a Page token answers as its own Page and a user token as the user; a token
the sandbox never issued is refused (code 190). Page tokens are issued by ``/me/accounts``, registered by a test
with ``Sandbox.page_token``, or are the demo's own (``HUMAS_SANDBOX_FB_TOKEN``, the first Page).
"""

from __future__ import annotations

import html
import secrets
import threading
import time
from urllib.parse import urlencode

from planner.sandbox.core import Emulator, Request, Response, route

_V = r"/v(?P<version>\d+\.\d+)"
SHORT_LIFETIME = 3600
LONG_LIFETIME = 60 * 24 * 3600
PAGES = ({"id": "100000000000001", "name": "KPU Kabupaten Demak", "ig": "17841400000000001"},
         {"id": "100000000000002", "name": "PPID Kabupaten Demak", "ig": None})
USER = {"id": "10000000000000042", "name": "Staf Humas Demak"}  # the sandbox's Facebook user


class Registry:
    def __init__(self):
        self.lock = threading.RLock()
        self.pending: dict[str, dict] = {}
        self.codes: dict[str, dict] = {}
        self.user_tokens: dict[str, dict] = {}   # token -> {kind: short|long, expires, app}
        self.page_tokens: dict[str, str] = {}    # page token -> page id
        self.pages: dict[str, str] = {p["id"]: p["name"] for p in PAGES}  # page id -> name
        from planner.sandbox.workspace import SANDBOX_SECRETS

        self.page_tokens[SANDBOX_SECRETS["HUMAS_SANDBOX_FB_TOKEN"]] = PAGES[0]["id"]  # the demo's Page token


def registry(state) -> Registry:
    with state.lock:
        if not hasattr(state, "graph_oauth"):
            state.graph_oauth = Registry()
        return state.graph_oauth


def register_page_token(state, page_id: str, token: str, name: str | None = None) -> str:
    """``token`` becomes a Page token of ``page_id`` (a Page named ``name`` when the sandbox has none yet)."""
    reg = registry(state)
    with reg.lock:
        reg.pages.setdefault(str(page_id), name or f"Humas Sandbox {str(page_id)[-4:]}")
        reg.page_tokens[token] = str(page_id)
    return token


def page_of_token(state, token: str) -> dict | None:
    reg = registry(state)
    with reg.lock:
        page_id = reg.page_tokens.get(token)
        return {"id": page_id, "name": reg.pages[page_id]} if page_id in reg.pages else None


def owner_of_token(state, token: str) -> dict | None:
    """What ``/me`` is for this token: its Page, the Facebook user for a live user token, else None."""
    page = page_of_token(state, token)
    if page is not None:
        return page
    reg = registry(state)
    with reg.lock:
        user = reg.user_tokens.get(token)
        return dict(USER) if user is not None and user["expires"] >= time.time() else None


def _error(message: str, code: int, status: int = 400, type_: str = "OAuthException") -> Response:
    return Response(status, {"error": {"message": message, "type": type_, "code": code,
                                       "fbtrace_id": secrets.token_urlsafe(8)}})


def _page(status: int, title: str, body: str) -> Response:
    text = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1>{body}</body></html>")
    return Response(status, text, {"Content-Type": "text/html; charset=utf-8"})


def _token() -> str:
    return "EAA" + secrets.token_urlsafe(48).replace("-", "A").replace("_", "B")


class GraphOAuthEmulator(Emulator):
    name = "graph"

    def routes(self):
        return [
            route("GET", _V + r"/dialog/oauth", self.dialog),
            route("POST", _V + r"/dialog/oauth", self.consent),
            route("GET", _V + r"/oauth/access_token", self.access_token),
            route("GET", _V + r"/me/accounts", self.accounts),
        ]

    @property
    def reg(self) -> Registry:
        return registry(self.state)

    def dialog(self, request: Request) -> Response:
        params = {k: request.arg(k) or "" for k in ("client_id", "redirect_uri", "state", "scope", "response_type")}
        if not params["client_id"].isdigit():
            return _page(400, "Error", "<p>Invalid App ID: The provided app ID does not look like a valid app ID.</p>")
        if not params["redirect_uri"].startswith(("http://", "https://")):
            return _page(400, "Error", "<p>URL blocked: This redirect failed because the redirect URI is not "
                                       "whitelisted in the app's client OAuth settings.</p>")
        request_id = secrets.token_urlsafe(16)
        with self.reg.lock:
            self.reg.pending[request_id] = params
        scopes = "".join(f"<li>{html.escape(s)}</li>" for s in params["scope"].split(",") if s)
        form = (f'<form method="post" action="{request.path}">'
                f'<input type="hidden" name="request_id" value="{request_id}">'
                f'<button name="decision" value="allow">Continue</button>'
                f'<button name="decision" value="deny">Cancel</button></form>')
        return _page(200, "Log in with Facebook", f"<p>The app asks for:</p><ul>{scopes}</ul>{form}")

    def consent(self, request: Request) -> Response:
        with self.reg.lock:
            params = self.reg.pending.pop(request.form.get("request_id", ""), None)
        if params is None:
            return _page(400, "Error", "<p>This login request has expired.</p>")
        if request.form.get("decision") != "allow":
            answer = {"error": "access_denied", "error_code": "200", "error_description": "Permissions error",
                      "error_reason": "user_denied", "state": params["state"]}
        else:
            code = secrets.token_urlsafe(40)
            with self.reg.lock:
                self.reg.codes[code] = {"params": params, "expires": time.time() + 600}
            answer = {"code": code, "state": params["state"]}
        separator = "&" if "?" in params["redirect_uri"] else "?"
        return Response(302, "", {"Location": params["redirect_uri"] + separator + urlencode(answer) + "#_=_"})

    def access_token(self, request: Request) -> Response:
        client_id, secret = request.arg("client_id") or "", request.arg("client_secret") or ""
        if not client_id.isdigit() or not secret:
            return _error("Error validating application. Invalid application ID.", 101)
        if secret.startswith("bad"):
            return _error("Error validating client secret.", 1, type_="OAuthException")
        with self.reg.lock:
            if request.arg("grant_type") == "fb_exchange_token":
                short = self.reg.user_tokens.get(request.arg("fb_exchange_token") or "")
                if short is None or short["expires"] < time.time():
                    return _error("Error validating access token: The session is invalid.", 190)
                token = _token()
                self.reg.user_tokens[token] = {"kind": "long", "expires": time.time() + LONG_LIFETIME}
                return Response(200, {"access_token": token, "token_type": "bearer", "expires_in": LONG_LIFETIME})
            entry = self.reg.codes.pop(request.arg("code") or "", None)
            if entry is None or entry["expires"] < time.time() or entry["params"]["client_id"] != client_id or \
                    entry["params"]["redirect_uri"] != (request.arg("redirect_uri") or ""):
                return _error("This authorization code has expired or has been used.", 100)
            token = _token()
            self.reg.user_tokens[token] = {"kind": "short", "expires": time.time() + SHORT_LIFETIME}
        return Response(200, {"access_token": token, "token_type": "bearer", "expires_in": SHORT_LIFETIME})

    def accounts(self, request: Request) -> Response:
        auth = request.header("authorization")
        token = auth.partition(" ")[2].strip() if auth else (request.arg("access_token") or "")
        with self.reg.lock:
            user = self.reg.user_tokens.get(token)
            if user is None or user["expires"] < time.time():
                return _error("Error validating access token: The session is invalid.", 190, status=400)
            fields = {f.strip() for f in (request.arg("fields") or "id,name,access_token").split(",") if f.strip()}
            data = []
            for page in PAGES:
                page_token = _token()
                self.reg.page_tokens[page_token] = page["id"]
                item = {"id": page["id"], "name": page["name"], "access_token": page_token,
                        "tasks": ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"]}
                if page["ig"]:
                    item["instagram_business_account"] = {"id": page["ig"]}
                data.append({k: v for k, v in item.items() if k in fields or k == "id"})
        return Response(200, {"data": data, "paging": {"cursors": {"before": "QVFIUk", "after": "QVFIUl"}}})


EMULATOR = GraphOAuthEmulator
