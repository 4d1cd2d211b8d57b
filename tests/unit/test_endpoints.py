"""planner.platforms.endpoints.check_base_url: which api_base_url a token may be sent to."""

from __future__ import annotations

import pytest

from planner.errors import PlannerError
from planner.i18n import LANGUAGES, catalogue, t
from planner.platforms import SUPPORTED_PLATFORMS, make_adapter
from planner.platforms.base import Account
from planner.platforms.endpoints import check_base_url, is_loopback, shown
from planner.platforms.telegram import send_message


@pytest.mark.parametrize("url", [
    None,  # not set: the platform's own https address
    "https://api.x.com", "https://graph.facebook.com/", "https://mastodon.social", "HTTPS://BSKY.SOCIAL",
    "http://127.0.0.1:8787", "http://127.5.6.7", "http://localhost:8787/", "http://LOCALHOST", "http://localhost.",
    "http://[::1]:8787", "http://[::ffff:127.0.0.1]:80", "https://10.0.0.5:8443", "https://user:pw@example.org",
])
def test_safe_addresses(url):
    assert check_base_url(url) is None


@pytest.mark.parametrize("url, key", [
    (5, "endpoint.not_text"), (["https://api.x.com"], "endpoint.not_text"), (b"https://api.x.com", "endpoint.not_text"),
    ("ftp://evil", "endpoint.bad_scheme"), ("file:///etc/passwd", "endpoint.bad_scheme"),
    ("javascript:alert(1)", "endpoint.bad_scheme"), ("api.x.com", "endpoint.bad_scheme"), ("", "endpoint.bad_scheme"),
    ("//api.x.com", "endpoint.bad_scheme"),
    ("https://", "endpoint.no_host"), ("http:///path", "endpoint.no_host"), ("https://:443", "endpoint.no_host"),
    ("https://api.x.com:port", "endpoint.no_host"), ("https://api.x.com\r\nX-Evil: 1", "endpoint.no_host"),
    ("https://api .x.com", "endpoint.no_host"),
    ("http://api.x.com", "endpoint.plain_http"), ("HTTP://mastodon.social", "endpoint.plain_http"),
    ("http://10.0.0.5:8787", "endpoint.plain_http"), ("http://192.168.1.10", "endpoint.plain_http"),
    ("http://localhost.evil.example", "endpoint.plain_http"), ("http://127.0.0.1.nip.io", "endpoint.plain_http"),
    ("http://127.0.0.1@evil.example", "endpoint.plain_http"), ("http://2130706433", "endpoint.plain_http"),
    ("http://[2001:db8::1]", "endpoint.plain_http"), ("http://0.0.0.0:8787", "endpoint.plain_http"),
])
def test_unsafe_addresses_name_their_problem(url, key):
    assert check_base_url(url) == key


def test_loopback():
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.255.0.9", "::1", "[::1]", "localhost", "LocalHost."))
    assert not any(is_loopback(h) for h in ("10.0.0.1", "localhost.example", "example.org", "0.0.0.0", "::"))


def test_each_problem_is_said_in_both_languages_with_what_to_do():
    for lang in LANGUAGES:
        for key in ("endpoint.not_text", "endpoint.bad_scheme", "endpoint.no_host", "endpoint.plain_http",
                    "endpoint.sandbox"):
            assert key in catalogue(lang), (lang, key)
    said = t("endpoint.plain_http", "id", account="kpu_x", url="http://api.example.org")
    assert "kpu_x" in said and "http://api.example.org" in said and "https://" in said and "config.toml" in said
    assert "{" not in said


ACCOUNTS = {
    "x": {"bearer_token": "unit-x-token-0001"},
    "facebook": {"page_access_token": "EAAGunitPageToken0001"},
    "instagram": {"access_token": "unit-ig-token-0001"},
    "mastodon": {"access_token": "unit-mastodon-token-0001"},
    "bluesky": {"app_password": "unit-app-password-0001"},
    "telegram": {"bot_token": "123456789:AAunitTelegramBotToken0001abcdefgh"},
}
OPTIONS = {"facebook": {"page_id": "1"}, "instagram": {"ig_user_id": "1", "media_base_url": "https://kpu.go.id/m"},
           "telegram": {"chat_id": "@kpudemak"}}


@pytest.mark.parametrize("platform", SUPPORTED_PLATFORMS)
@pytest.mark.parametrize("url, key", [("http://api.example.org", "endpoint.plain_http"),
                                      ("ftp://evil", "endpoint.bad_scheme"), (5, "endpoint.not_text")])
def test_no_adapter_is_made_for_an_unsafe_address_even_without_config_validation(platform, url, key):
    account = Account(f"kpu_{platform}", platform, handle="kpudemak", api_base_url=url,
                      credentials=ACCOUNTS[platform], options=OPTIONS.get(platform, {}))
    with pytest.raises(PlannerError) as refused:
        make_adapter(account, timeout=1)
    assert refused.value.key == key
    assert refused.value.params == {"account": f"kpu_{platform}", "url": str(url)}


def test_a_staff_alert_is_not_sent_in_clear_text_either():
    account = Account("kpu_telegram", "telegram", api_base_url="http://api.example.org",
                      credentials=ACCOUNTS["telegram"])
    with pytest.raises(PlannerError) as refused:
        send_message(account, "-1009876543210", "Peringatan: lonjakan kata kunci hoaks")
    assert refused.value.key == "endpoint.plain_http"


def test_a_password_in_the_address_is_not_shown():
    assert shown("http://kpu:rahasia@api.example.org/v1") == "http://***@api.example.org/v1"
    assert shown("https://api.example.org") == "https://api.example.org"
    assert shown(5) == "5"
