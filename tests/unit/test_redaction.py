"""planner.platforms.redaction: secrets masked by value (in every form an echo may take) and by shape,
error texts cut to a few kB, log records masked; and fast enough to run on every error and log line."""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import re
import time
import traceback
from urllib.parse import quote, quote_plus

import pytest

from planner.platforms import redaction
from planner.platforms.base import PermanentError, RetryableError, thread_part_error
from planner.platforms.redaction import ERROR_LIMIT, MASK, RedactingFilter, redact, register_secrets, safe_error

BOT_TOKEN = "987654321:AAHk3x9_unitSecretPart-0123456789ab"
BOT_SECRET = BOT_TOKEN.split(":", 1)[1]
GRAPH_TOKEN = "EAAGm0PX4ZCpsBAunitGraphToken0123456789"
APP_PASSWORD = "unit-app-pass-w0rd"
ODD_SECRET = "uS3r/s3cr+et=vAlue&more"  # characters that URL-encoding, JSON and base64 all change
register_secrets([BOT_TOKEN, GRAPH_TOKEN, APP_PASSWORD, ODD_SECRET])


def leaks(text: str, secret: str) -> bool:
    """Does ``text`` still hold ``secret``, or a recognisable stretch of it, in any case?"""
    low = text.lower()
    core = secret[2:-2].lower()  # a secret with only its edges cut off still leaks
    return secret.lower() in low or core in low


# --- registered secrets, in every form ------------------------------------------------------------------
def _b64_inside(prefix: bytes, secret: str, suffix: bytes = b"") -> str:
    return base64.b64encode(prefix + secret.encode() + suffix).decode()


@pytest.mark.parametrize("secret", [BOT_TOKEN, GRAPH_TOKEN, APP_PASSWORD, ODD_SECRET])
@pytest.mark.parametrize("form", [
    "exact", "lower", "upper", "quote", "quote_safe", "quote_plus", "quote_lower_hex", "quote_twice",
    "json", "json_slash", "html", "base64", "urlsafe_base64", "basic_user_pass_0", "basic_user_pass_1",
    "basic_user_pass_2",
])
def test_a_registered_secret_is_masked_in_every_form(secret, form):
    forms = {
        "exact": secret,
        "lower": secret.lower(),
        "upper": secret.upper(),
        "quote": quote(secret),
        "quote_safe": quote(secret, safe=""),
        "quote_plus": quote_plus(secret),
        "quote_lower_hex": re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(secret, safe="")),
        "quote_twice": quote(quote(secret, safe=""), safe=""),
        "json": json.dumps(json.dumps({"echo": secret}))[1:-1],
        "json_slash": json.dumps(secret).replace("/", "\\/"),
        "html": html.escape(secret),
        "base64": base64.b64encode(secret.encode()).decode(),
        "urlsafe_base64": base64.urlsafe_b64encode(secret.encode()).decode(),
        # An echoed Basic header: base64 of "user:password", the secret at each offset modulo 3
        "basic_user_pass_0": _b64_inside(b"kpu:", secret),
        "basic_user_pass_1": _b64_inside(b"kpu1:", secret),
        "basic_user_pass_2": _b64_inside(b"kpu12:", secret, b"!"),
    }
    echoed = forms[form]
    text = f"upstream said: 400 Bad Request for <<{echoed}>> (request id 8f2c)"
    clean = redact(text)
    assert echoed not in clean, clean
    assert MASK in clean
    assert clean.startswith("upstream said: 400 Bad Request for <<") and clean.endswith(">> (request id 8f2c)")
    if form in ("exact", "lower", "upper"):
        assert not leaks(clean, secret)


def test_a_bot_token_keeps_its_public_bot_id():
    assert redact(f"GET https://api.telegram.org/bot{BOT_TOKEN}/getMe") == \
        f"GET https://api.telegram.org/bot987654321:{MASK}/getMe"


# --- shapes, registered or not ------------------------------------------------------------------------------
UNREGISTERED_BOT = "5550001234:AAF_unregisteredTokenPart0123456789xy"
JWT = ("eyJhbGciOiJFUzI1NksiLCJ0eXAiOiJhdCtqd3QifQ.eyJzY29wZSI6ImNvbS5hdHByb3RvLmFjY2VzcyIsInN1YiI6ImRpZDpw"
       "bGM6YWJjIn0.c2lnbmF0dXJlLXBhcnQtMDEyMzQ1Njc4OQ")
X_APP_BEARER = ("AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid%2BULvsea4JtiGRiSDSJSI%3D"
                "EUifiRBkKG5E2XzMDjRfl76ZC9Ub0wnz4XsNiRVBChTYbJcE3F")
X_OAUTH2 = base64.urlsafe_b64encode(b"mgXwqI_WFCA7GHJkwevDP4NfFAqRxtZ1XX6xl_YCf4CCD:1703574558831:1:0:at:1"
                                    ).decode().rstrip("=")


@pytest.mark.parametrize("text, secret", [
    (f"proxy: no route for /bot{UNREGISTERED_BOT}/sendMessage", UNREGISTERED_BOT.split(":")[1]),
    (f"proxy: no route for %2Fbot{UNREGISTERED_BOT.replace(':', '%3A')}%2FsendMessage", UNREGISTERED_BOT.split(":")[1]),
    (f"proxy: no route for %2fbot{UNREGISTERED_BOT.replace(':', '%3a')}%2fsendMessage", UNREGISTERED_BOT.split(":")[1]),
    (f'{{"token": "{UNREGISTERED_BOT}"}}', UNREGISTERED_BOT.split(":")[1]),
    ("Authorization: Bearer unregisteredXtoken0123456789", "unregisteredXtoken0123456789"),
    ("authorization: bearer unregisteredxtoken0123456789", "unregisteredxtoken0123456789"),
    ("AUTHORIZATION: BEARER UNREGISTEREDXTOKEN0123456789", "UNREGISTEREDXTOKEN0123456789"),
    ("Authorization: Basic " + base64.b64encode(b"kpu.bsky.social:some-other-app-password").decode(),
     base64.b64encode(b"kpu.bsky.social:some-other-app-password").decode()),
    ("GET /v23.0/me?fields=id&access_token=unregisteredGraphValue123&debug=all", "unregisteredGraphValue123"),
    ("GET %2Fv23.0%2Fme%3Faccess_token%3DunregisteredGraphValue123%26x%3D1", "unregisteredGraphValue123"),
    ('{"error": {"message": "bad", "access_token": "unregistered value 123"}}', "unregistered value 123"),
    ('{"identifier": "kpu.bsky.social", "password": "xyzw-abcd-efgh-ijkl"}', "xyzw-abcd-efgh-ijkl"),
    ('"{\\"refreshJwt\\": \\"abc.def.ghi-unregistered\\"}"', "abc.def.ghi-unregistered"),
    ('OAuth oauth_consumer_key="ck-unit-5521", oauth_token="1234-at-unit-0071", oauth_signature="s1g%3D"',
     "1234-at-unit-0071"),
    ("graph echoed EAABwzLixnjYBOunregisteredGraphTokenZZ9 back", "EAABwzLixnjYBOunregisteredGraphTokenZZ9"),
    (f"xrpc: Bearer {JWT} is expired", JWT),
    (f"session {JWT[:60]}", JWT[:60]),
    (f"x: Authorization: Bearer {X_APP_BEARER}", X_APP_BEARER),
    (f"x: token {X_APP_BEARER} refused", X_APP_BEARER),
    (f"x: the token {X_OAUTH2} was revoked", X_OAUTH2),
])
def test_token_shapes_are_masked_even_when_nobody_registered_them(text, secret):
    clean = redact(text)
    assert secret not in clean, clean
    assert MASK in clean


@pytest.mark.parametrize("text", [
    "Rapat pleno rekapitulasi hari ini pukul 09.00 WIB di kantor KPU Kabupaten Demak.",
    "x: the same text was already posted on this account (HTTP 403) at 2027-02-02T08:00:00+07:00",
    "https://x.com/kpudemak/status/1887654321098765432 published; id 1887654321098765432",
    "basic information about the account is missing",
    "mastodon: the instance refused the bearer token of account 'kpu_mastodon' (HTTP 401)",
    "Kredensial 'bearer_token' untuk akun kpu_x belum tersedia: variabel lingkungan KPU_X_TOKEN kosong.",
    "config: bearer_token = env:KPU_X_TOKEN, app_password = keyring:humas/bsky",
    "telegram: chat @kpudemak not found; bot 987654321 cannot see it",
    f"at://did:plc:abcdefghijklmnopqrstuvwx/app.bsky.feed.post/3kq2{'a' * 9}",
])
def test_ordinary_messages_are_left_alone(text):
    assert redact(text) == text


def test_masking_twice_changes_nothing():
    text = f"Bearer unregisteredXtoken0123456789 /bot{BOT_TOKEN}/x access_token={GRAPH_TOKEN} {JWT}"
    once = redact(text)
    assert redact(once) == once


# --- safe_error: masked, and cut to a few kB ------------------------------------------------------------------
def test_a_long_error_body_is_cut_with_a_marker_keeping_its_start_and_end():
    body = "x: refused (400): " + "<html>" + "lorem ipsum " * 3000 + "</html> retry with a new token"
    error = safe_error(body)
    assert len(error) <= ERROR_LIMIT
    assert error.startswith("x: refused (400): <html>lorem ipsum")
    assert error.endswith("</html> retry with a new token")
    assert "characters cut" in error
    assert safe_error(error) == error  # a second pass (a message built on a message) changes nothing


def test_a_secret_at_the_cut_is_masked_not_half_kept():
    for offset in range(1400, 1560, 7):  # around where the start is cut
        body = "e" * offset + quote(BOT_TOKEN, safe="") + "f" * 5000
        error = safe_error(body)
        assert len(error) <= ERROR_LIMIT
        assert BOT_SECRET[:8] not in error and BOT_SECRET[-8:] not in error
        assert quote(BOT_SECRET, safe="")[:8] not in error


def test_a_huge_body_is_cut_quickly():
    body = "z" * 5_000_000 + f" Bearer {GRAPH_TOKEN}"
    started = time.perf_counter()
    error = safe_error(body)
    assert time.perf_counter() - started < 0.5
    assert len(error) <= ERROR_LIMIT and GRAPH_TOKEN not in error and error.endswith(f"Bearer {MASK}")


def test_short_texts_and_non_texts():
    assert safe_error("x: HTTP 503") == "x: HTTP 503"
    assert safe_error(None) == ""
    assert safe_error(ValueError(f"bad {APP_PASSWORD}")) == f"bad {MASK}"


def test_platform_errors_are_masked_and_cut_when_made():
    # What every adapter does: put the platform's answer in a PlatformError's message.
    echoed = json.dumps({"error": {"message": "Invalid OAuth access token", "echo": {
        "path": quote(f"/bot{BOT_TOKEN}/sendMessage", safe=""),
        "headers": {"authorization": f"bearer {GRAPH_TOKEN.lower()}"}, "body": "." * 20_000}}})
    for error in (PermanentError(f"facebook: {echoed}", platform="facebook"),
                  RetryableError(f"x: server error 502 on publish: {echoed}", platform="x", retry_after=3)):
        shown = [error.message, str(error), repr(error), "".join(traceback.format_exception(error))]
        for text in shown:
            assert BOT_SECRET not in text and quote(BOT_SECRET, safe="") not in text
            assert GRAPH_TOKEN.lower() not in text.lower()
        assert len(error.message) <= ERROR_LIMIT
    part = thread_part_error(error, number=3, total=4, head="1887654321098765432")
    assert len(part.message) <= ERROR_LIMIT and part.message.endswith("publishing continues after them)")
    assert part.retry_after == 3


# --- logs -------------------------------------------------------------------------------------------------------
def test_log_records_are_masked_in_message_extras_and_traceback():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s detail=%(detail)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("planner.test_redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("post %s -> %s", 7, f"https://api.telegram.org/bot{BOT_TOKEN.upper()}/sendMessage",
                       extra={"detail": f"echo {quote(GRAPH_TOKEN)}"})
        try:
            raise RuntimeError(f"upstream echoed Authorization: Basic "
                               f"{base64.b64encode(f'kpu:{APP_PASSWORD}'.encode()).decode()}")
        except RuntimeError:
            logger.exception("publish failed", extra={"detail": "-"})
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    out = stream.getvalue()
    assert "post 7 -> https://api.telegram.org/bot987654321:" in out and "RuntimeError" in out
    for secret in (BOT_SECRET, GRAPH_TOKEN, APP_PASSWORD):
        assert not leaks(out, secret), out
    assert base64.b64encode(f"kpu:{APP_PASSWORD}".encode()).decode() not in out


# --- fast enough for every error and log line -------------------------------------------------------------------
def test_masking_is_fast_with_many_registered_secrets():
    register_secrets([f"office-{i}-token-{'q' * 20}-{i * 7919}" for i in range(40)])  # ~40 accounts' credentials
    line = ("post 1234 cek-dpt/c1 -> kpu_x late=0.120s outcome=published "
            "https://x.com/kpudemak/status/1887654321098765432")
    error = "x: refused (400): " + "detail of the refusal " * 80  # ~1.8 kB
    redact(line)  # builds the matcher once
    started = time.perf_counter()
    for _ in range(500):
        redact(line)
        safe_error(error)
    per_call = (time.perf_counter() - started) / 1000
    assert per_call < 0.002, f"{per_call * 1e6:.0f} µs per call"


def test_registering_nothing_new_keeps_the_matcher():
    matcher = redaction._matcher or redaction._build_matcher()
    register_secrets([BOT_TOKEN, "", None, "abc"])  # known, empty, not text, too short
    assert redaction._matcher is matcher
