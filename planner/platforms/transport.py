"""Map transport-level failures (no HTTP answer) to the three failure kinds.

The rule that protects against double posts: once a request that creates something may have
reached the platform (read timeout, connection dropped mid-exchange), the outcome is unknown.
Only failures before the request left this machine (refused, DNS, connect timeout) are retryable.
"""

from __future__ import annotations

from planner.platforms.base import PlatformError, RetryableError, UnknownOutcomeError


def classify_transport_error(exc: BaseException, *, platform: str, creates: bool) -> PlatformError | None:
    """A PlatformError for a requests/httpx transport exception, or None if it is not one.

    ``creates``: the request would create something (a publish). Reads are always safe to retry.
    """
    import requests  # both are light once an SDK is loaded; imported here to keep start-up fast

    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx is a dependency
        httpx = None

    before_sending = (requests.exceptions.ConnectTimeout,)
    maybe_sent = (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError,
                  requests.exceptions.ChunkedEncodingError)
    if httpx is not None:
        before_sending += (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
        maybe_sent += (httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError,
                       httpx.ReadError, httpx.WriteError)

    detail = type(exc).__name__
    if isinstance(exc, before_sending) or _refused(exc):
        return RetryableError(f"{platform}: could not connect ({detail})", platform=platform)
    if isinstance(exc, maybe_sent):
        if creates:
            return UnknownOutcomeError(
                f"{platform}: no answer after the request was sent ({detail}); it may have been published",
                platform=platform)
        return RetryableError(f"{platform}: no answer ({detail})", platform=platform)
    return None


def _refused(exc: BaseException) -> bool:
    """True when the connection was refused, i.e. nothing was sent."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ConnectionRefusedError):
            return True
        if "NewConnectionError" in type(exc).__name__ or "Connection refused" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__ or (exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None)
    return False
