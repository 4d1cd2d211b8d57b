"""Keeping an OAuth 2.0 account connected: its access token renewed before it expires, and once more
when the platform answers 401 (the token ran out early, or another process already renewed it).

X (docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code): an access token lives two
hours; with offline.access a refresh token comes with it, and ``POST /2/oauth2/token`` with
grant_type=refresh_token gives a new access token AND a new refresh token: the old refresh token is
dead from then on. So a renewal is done under the secrets store's lock, reads the stored refresh token
again inside it (another process may have renewed meanwhile and then its token is simply used), and
saves the new refresh token together with the access token before either is used. A refresh token that
is refused means the user (or X) withdrew the consent: ``ReconnectNeeded``, and the scheduler holds the
account's posts until `planner account connect` is run.
"""

from __future__ import annotations

import base64
import logging
import time
from datetime import datetime, timezone
from typing import Mapping

import requests

from planner.accounts.secrets import SecretStore
from planner.platforms.base import CredentialsError, RetryableError

log = logging.getLogger("planner.accounts")

X_TOKEN_URL = "https://api.x.com/2/oauth2/token"
X_REVOKE_URL = "https://api.x.com/2/oauth2/revoke"
X_AUTHORIZE_URL = "https://x.com/i/oauth2/authorize"
MARGIN = 300.0        # renew when less than this many seconds are left (a quarter of a short lifetime)
TIMEOUT = 15.0


class ReconnectNeeded(CredentialsError):
    """The platform refuses the account's grant for good: only `planner account connect` can mend it."""


def x_endpoint(kind: str, api_base_url: str | None) -> str:
    """X's OAuth URLs; with an api_base_url (the sandbox, a gateway) the same paths on that host."""
    if not api_base_url:
        return {"token": X_TOKEN_URL, "revoke": X_REVOKE_URL, "authorize": X_AUTHORIZE_URL}[kind]
    base = api_base_url.rstrip("/")
    return base + {"token": "/2/oauth2/token", "revoke": "/2/oauth2/revoke", "authorize": "/i/oauth2/authorize"}[kind]


def backend_of(reference: str) -> str:
    return "keyring" if reference.startswith("keyring:") else "file"


class XTokens:
    """The current access token of one X account connected with OAuth 2.0."""

    def __init__(self, config_path, account: str, api_base_url: str | None, references: Mapping[str, str]):
        self.account = account
        self.api_base_url = api_base_url
        self.store = SecretStore(config_path, backend=backend_of(references.get("refresh_token", "")))

    # --- what is stored ------------------------------------------------------------------------------
    def record(self) -> dict[str, str]:
        return self.store.record(self.account)

    @staticmethod
    def expires_at(record: Mapping[str, str]) -> datetime | None:
        try:
            return datetime.fromtimestamp(float(record["expires_at"]), timezone.utc)
        except (KeyError, ValueError, OverflowError, OSError):
            return None

    def _fresh(self, record: Mapping[str, str]) -> bool:
        """Still valid for a good while (a quarter of its lifetime, at most MARGIN seconds)."""
        try:
            expires = float(record["expires_at"])
            lifetime = float(record.get("lifetime") or 7200)
        except (KeyError, ValueError):
            return False
        return time.time() < expires - min(MARGIN, lifetime / 4)

    # --- the token for the next request ------------------------------------------------------------------
    def access_token(self) -> str:
        record = self.store.values(self.account, ("access_token", "expires_at", "lifetime"))  # before each request
        if record.get("access_token") and self._fresh(record):
            return record["access_token"]
        return self.refresh()

    def refresh(self, failed: str | None = None) -> str:
        """A new access token. ``failed``: the token the platform just refused (401); when the stored one is
        another, someone else renewed it meanwhile and it is used as is."""
        with self.store.locked():
            record = self.record()
            current = record.get("access_token")
            if current and current != failed and (failed is not None or self._fresh(record)):
                return current
            refresh_token = record.get("refresh_token")
            if not refresh_token:
                raise ReconnectNeeded(f"x account {self.account!r}: no refresh token is stored; reconnect the "
                                      f"account (planner account connect {self.account})", platform="x")
            body = self._request(refresh_token, record)
            from planner.platforms.redaction import register_secrets

            register_secrets([body["access_token"], body.get("refresh_token", "")])
            lifetime = float(body.get("expires_in") or 7200)
            # The new refresh token is saved with the access token, before either is used: the old one is dead.
            self.store.save(self.account, {
                "access_token": body["access_token"],
                "refresh_token": body.get("refresh_token") or refresh_token,
                "expires_at": f"{time.time() + lifetime:.0f}",
                "lifetime": f"{lifetime:.0f}",
                "scope": body.get("scope") or record.get("scope"),
            })
            log.info("x account %s: access token renewed (valid %d s)", self.account, lifetime)
            return body["access_token"]

    def _request(self, refresh_token: str, record: Mapping[str, str]) -> dict:
        client_id = record.get("client_id", "")
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
        headers = {}
        if record.get("client_secret"):  # a confidential client authenticates with HTTP Basic
            pair = f"{client_id}:{record['client_secret']}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        try:
            response = requests.post(x_endpoint("token", self.api_base_url), data=data, headers=headers,
                                     timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise RetryableError(f"x account {self.account!r}: could not renew the access token "
                                 f"({type(exc).__name__}); trying again later", platform="x") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableError(f"x account {self.account!r}: X could not renew the access token now "
                                 f"(HTTP {response.status_code}); trying again later", platform="x",
                                 status=response.status_code)
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.ok and isinstance(body, dict) and body.get("access_token"):
            return body
        detail = body.get("error_description") or body.get("error") or f"HTTP {response.status_code}" \
            if isinstance(body, dict) else f"HTTP {response.status_code}"
        raise ReconnectNeeded(f"x account {self.account!r}: X no longer accepts this account's consent "
                              f"({detail}); reconnect it: planner account connect {self.account}",
                              platform="x", status=response.status_code)
