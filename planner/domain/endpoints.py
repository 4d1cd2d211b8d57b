"""Which ``api_base_url`` a token may be sent to: never in clear text (plain ``http://``) to another machine.

Pure and fast: config loading calls ``check_base_url`` for every account, the adapters again before they send
anything. Loopback addresses (127.0.0.0/8, ::1, localhost) are fine: that is the local sandbox, or a local
proxy. Asking an address whether it is the sandbox is I/O and stays in ``planner.platforms.endpoints``.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


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
