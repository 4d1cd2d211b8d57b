"""Where an account's requests go: is its ``api_base_url`` safe to send a token to, and is it a sandbox?

``check_base_url`` (planner.domain.endpoints) is pure and fast (config loading calls it for every account, the adapters again before
they send anything): a token must never travel in clear text (plain ``http://``) to another machine.
Loopback addresses (127.0.0.0/8, ::1, localhost) are fine: that is the local sandbox, or a local proxy.

``is_sandbox`` asks a loopback address whether it is humas-planner's sandbox (which marks every answer
with ``X-Humas-Sandbox: 1``), so `planner account check` and `planner check` can say that posts sent
there never reach the real platform.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from planner.domain.endpoints import check_base_url, is_loopback, shown  # noqa: F401  (used here and by the adapters)

SANDBOX_HEADER = "X-Humas-Sandbox"
SANDBOX_PROBE = "/_sandbox/health"


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
