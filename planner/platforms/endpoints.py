"""Where an account's requests go: is its ``api_base_url`` safe to send a token to, and is it a sandbox?

``check_base_url`` is pure and fast (config loading calls it for every account, the adapters again before
they send anything): a token must never travel in clear text (plain ``http://``) to another machine.
Loopback addresses (127.0.0.0/8, ::1, localhost) are fine: that is the local sandbox, or a local proxy.

``is_sandbox`` asks a loopback address whether it is humas-planner's sandbox (which marks every answer
with ``X-Humas-Sandbox: 1``), so `planner account check` and `planner check` can say that posts sent
there never reach the real platform.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

SANDBOX_HEADER = "X-Humas-Sandbox"
SANDBOX_PROBE = "/_sandbox/health"


def check_base_url(url: object) -> str | None:
    """The message key (planner/i18n, section ``endpoint``) of what is wrong with ``url``, or None if fine.

    None (not set: the platform's own address) is fine. The messages take ``account`` and ``url``.
    """
    if url is None:
        return None
    if not isinstance(url, str):
        return "endpoint.not_text"
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return "endpoint.no_host"  # a space or control character: not a usable address
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        return "endpoint.no_host"
    if parts.scheme.lower() not in ("http", "https"):
        return "endpoint.bad_scheme"
    if not host:
        return "endpoint.no_host"
    if parts.scheme.lower() == "http" and not is_loopback(host):
        return "endpoint.plain_http"
    return None


def is_loopback(host: str) -> bool:
    """True for localhost and loopback IP addresses (127.0.0.0/8, ::1, also IPv4-mapped)."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # any other name may resolve anywhere
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def shown(url: object) -> str:
    """``url`` fit to show in a message: any user name or password in it is left out."""
    text = str(url)
    try:
        parts = urlsplit(text)
        if parts.username is not None or parts.password is not None:
            netloc = parts.netloc.rpartition("@")[2]
            return parts._replace(netloc=f"***@{netloc}").geturl()
    except ValueError:
        pass
    return text


def is_sandbox(url: str | None, timeout: float = 2.0) -> bool:
    """True when ``url`` is a loopback address where humas-planner's sandbox answers.

    Only loopback addresses are asked (the sandbox serves nothing else), so a real platform never
    gets a stray request; no credentials are sent.
    """
    if not isinstance(url, str) or check_base_url(url) is not None:
        return False
    host = urlsplit(url).hostname
    if not host or not is_loopback(host):
        return False
    import httpx

    try:
        with httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False) as client:
            response = client.get(url.rstrip("/") + SANDBOX_PROBE)
    except httpx.HTTPError:
        return False
    return response.headers.get(SANDBOX_HEADER) == "1"
