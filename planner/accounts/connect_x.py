"""X: OAuth 2.0 Authorization Code Flow with PKCE, from a terminal.

As X documents it (docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code and
.../user-access-token): the user opens https://x.com/i/oauth2/authorize with response_type=code,
client_id, redirect_uri, scope, state and an S256 code_challenge; X redirects to redirect_uri with
``code`` and ``state``; ``POST https://api.x.com/2/oauth2/token`` with grant_type=authorization_code,
code, redirect_uri, code_verifier and client_id (a confidential client adds HTTP Basic with its secret)
answers access_token (two hours), refresh_token (with offline.access) and the granted scope.

The redirect goes to a loopback address on this machine (http://127.0.0.1:PORT/callback, registered
as the app's callback URL). On an office server reached over SSH there is no browser here: the user
opens the link on their own computer, the browser then fails to reach 127.0.0.1 and shows the address
it tried; pasting that address back into the terminal finishes the connection (paste-back).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from planner.accounts.tokens import TIMEOUT, x_endpoint
from planner.errors import PlannerError

SCOPES = ("tweet.read", "tweet.write", "users.read", "offline.access", "media.write")
NEEDED = ("tweet.write", "users.read", "offline.access")
DEFAULT_PORT = 8765
CALLBACK_PATH = "/callback"


class ConnectError(PlannerError):
    pass


@dataclass
class Authorization:
    url: str
    state: str
    verifier: str
    redirect_uri: str
    client_id: str


def start(client_id: str, *, api_base_url: str | None, port: int) -> Authorization:
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    state = secrets.token_urlsafe(24)
    redirect_uri = f"http://127.0.0.1:{port}{CALLBACK_PATH}"
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                       "scope": " ".join(SCOPES), "state": state, "code_challenge": challenge,
                       "code_challenge_method": "S256"})
    return Authorization(f"{x_endpoint('authorize', api_base_url)}?{query}", state, verifier, redirect_uri,
                         client_id)


class LoopbackReceiver:
    """Listens on 127.0.0.1:PORT for the one redirect that carries our ``state`` (others are ignored)."""

    def __init__(self, port: int, state: str, done_page: str):
        self.result: str | None = None
        self.done = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # nothing on the terminal
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                if parts.path != CALLBACK_PATH or query.get("state", [""])[0] != state:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = done_page.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                receiver.result = f"http://127.0.0.1:{port}{self.path}"
                receiver.done.set()

        try:
            self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        except OSError as exc:
            raise ConnectError("connect.port_busy", port=port, error=exc.strerror or "") from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def code_from_redirect(text: str, auth: Authorization) -> str:
    """The authorization code in the address X redirected to (pasted back or received on the loopback)."""
    text = text.strip()
    query = parse_qs(urlsplit(text).query) if "?" in text else parse_qs(text)
    state = query.get("state", [""])[0]
    if not state or not secrets.compare_digest(state, auth.state):
        raise ConnectError("connect.state_mismatch")
    if query.get("error"):
        raise ConnectError("connect.denied", error=query["error"][0])
    code = query.get("code", [""])[0]
    if not code:
        raise ConnectError("connect.no_code")
    return code


def exchange(code: str, auth: Authorization, client_secret: str | None, *, api_base_url: str | None) -> dict:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": auth.redirect_uri,
            "code_verifier": auth.verifier, "client_id": auth.client_id}
    headers = {}
    if client_secret:
        pair = f"{auth.client_id}:{client_secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    try:
        response = requests.post(x_endpoint("token", api_base_url), data=data, headers=headers, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise ConnectError("connect.unreachable", platform="X", error=type(exc).__name__) from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not response.ok or not isinstance(body, dict) or not body.get("access_token"):
        detail = body.get("error_description") or body.get("error") if isinstance(body, dict) else None
        raise ConnectError("connect.token_refused", platform="X",
                           error=str(detail or f"HTTP {response.status_code}")[:300])
    granted = set(str(body.get("scope", "")).split())
    missing = [s for s in NEEDED if s not in granted]
    if missing or not body.get("refresh_token"):
        raise ConnectError("connect.scopes_missing", scopes=", ".join(missing or ["offline.access"]))
    return body


def whoami(access_token: str, *, api_base_url: str | None) -> dict:
    base = (api_base_url or "https://api.x.com").rstrip("/")
    try:
        response = requests.get(base + "/2/users/me", headers={"Authorization": f"Bearer {access_token}"},
                                timeout=TIMEOUT)
        body = response.json()
        return body["data"]
    except (requests.RequestException, ValueError, KeyError, TypeError):
        raise ConnectError("connect.verify_failed", platform="X") from None
