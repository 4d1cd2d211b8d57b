"""The sandbox as a local service other programs (and web pages, through DNS rebinding) can reach.

- its request log, served at /_sandbox/requests, holds no credential: fingerprints (``redacted``) instead;
- a request whose Host header is not its own loopback address and port is refused (421);
- a control POST that is not JSON is refused (415), so a web page cannot switch faults on;
- every answer says ``X-Humas-Sandbox: 1``.

Real adapters over HTTP to a started sandbox, and raw HTTP where a client must send odd headers.
"""

from __future__ import annotations

import http.client
import json
import struct
import zlib
from base64 import b64encode
from urllib.parse import quote

import pytest
import requests

from planner.platforms import make_adapter
from planner.platforms.base import Account, OutgoingPost
from planner.sandbox.core import SANDBOX_HEADER, redacted

X_TOKEN = "hardening-x-bearer-0001"
OAUTH1 = {"consumer_key": "ck-hardening-77", "consumer_secret": "cs-hardening-secret-88",
          "access_token": "555000111-at-hardening-99", "access_token_secret": "ats-hardening-secret-00"}
FB_TOKEN = "EAAGhardeningPageToken0001"
IG_TOKEN = "hardening-ig-token-0001"
MASTODON_TOKEN = "hardening-mastodon-token-0001"
BSKY_PASSWORD = "hard-ning-pass-0001"
TG_TOKEN = "123456789:AAhardeningTelegramToken0001abcdefg"  # 35 characters after the colon
SECRETS = [X_TOKEN, *OAUTH1.values(), FB_TOKEN, IG_TOKEN, MASTODON_TOKEN, BSKY_PASSWORD, TG_TOKEN]


def accounts(base: str) -> list[Account]:
    return [
        Account("hx", "x", handle="humasjatim", api_base_url=base, credentials={"bearer_token": X_TOKEN}),
        Account("hx1", "x", handle="humasjatim", api_base_url=base, credentials=OAUTH1),
        Account("hfb", "facebook", api_base_url=base, credentials={"page_access_token": FB_TOKEN},
                options={"page_id": "104857600123"}),
        Account("hm", "mastodon", handle="@humas", api_base_url=base, credentials={"access_token": MASTODON_TOKEN}),
        Account("hb", "bluesky", handle="kpudemak.bsky.social", api_base_url=base,
                credentials={"app_password": BSKY_PASSWORD}),
        Account("ht", "telegram", api_base_url=base, credentials={"bot_token": TG_TOKEN},
                options={"chat_id": "@kpudemak"}),
    ]


def png(path):
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(bytes([0, 0, 0, 0]))) + chunk(b"IEND", b""))
    return path


def raw(sandbox, method: str, path: str, *, host: str | None = "default", body: bytes | None = None,
        headers: dict | None = None) -> tuple[int, dict, bytes]:
    """One request with exactly the headers given (None: no Host header at all)."""
    conn = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=5)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", f"127.0.0.1:{sandbox.port}" if host == "default" else host)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body or b"")))
        conn.endheaders(body or None)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


# --- the request log keeps no credential ----------------------------------------------------------------------
def test_the_request_log_served_over_http_holds_fingerprints_not_credentials(sandbox, tmp_path):
    image = png(tmp_path / "poster.png")
    for i, account in enumerate(accounts(sandbox.base_url)):
        adapter = make_adapter(account, timeout=5)
        media = [image] if account.platform in ("x", "facebook") else []
        adapter.publish(OutgoingPost(post_id=i, idempotency_key=f"hardening-{i}",
                                     text=f"Uji keamanan sandbox nomor {i}: jadwal rapat pleno.", media=media))
    # A Graph token also travels as a query parameter on some clients; and a form body.
    requests.get(f"{sandbox.base_url}/v23.0/me", params={"access_token": IG_TOKEN, "fields": "id"}, timeout=5)

    answer = requests.get(f"{sandbox.base_url}/_sandbox/requests", timeout=5)
    assert answer.status_code == 200
    served = answer.text
    logged = answer.json()["requests"]
    assert len(logged) >= 10
    for secret in SECRETS:
        for form in (secret, quote(secret, safe=""), json.dumps(secret)[1:-1]):
            assert form not in served, f"{secret!r} is served by /_sandbox/requests"
    assert b64encode(f"kpudemak.bsky.social:{BSKY_PASSWORD}".encode()).decode() not in served

    # What the tests check is still there, as fingerprints of the very credentials sent.
    def first(**match):
        return next(r for r in logged if all(r[k] == v for k, v in match.items()))

    assert any(r["path"] == "/2/tweets" and r["headers"]["authorization"] == f"Bearer {redacted(X_TOKEN)}"
               for r in logged)
    oauth1 = [r["headers"]["authorization"] for r in logged if r["path"] == "/2/tweets"
              and r["headers"]["authorization"].startswith("OAuth oauth")]
    assert oauth1 and all(f'oauth_token="{redacted(OAUTH1["access_token"])}"' in h
                          and f'oauth_consumer_key="{redacted(OAUTH1["consumer_key"])}"' in h
                          and 'oauth_signature_method="HMAC-SHA1"' in h for h in oauth1)
    assert any(r["headers"].get("authorization") == f"OAuth {redacted(FB_TOKEN)}" for r in logged)
    assert any(r["headers"].get("authorization") == f"Bearer {redacted(MASTODON_TOKEN)}" for r in logged)
    login = first(path="/xrpc/com.atproto.server.createSession")
    assert json.loads(login["body"]) == {"identifier": "kpudemak.bsky.social", "password": redacted(BSKY_PASSWORD)}
    assert first(path="/xrpc/com.atproto.repo.createRecord")["headers"]["authorization"].startswith("Bearer eyJ")
    assert first(path=f"/bot{redacted(TG_TOKEN)}/sendMessage")["platform"] == "telegram"
    assert first(path="/v23.0/me", method="GET")["query"] == {"access_token": [redacted(IG_TOKEN)],
                                                                "fields": ["id"]}
    # Everything else is kept as sent: the posts' texts, the multipart uploads.
    assert any("Uji keamanan sandbox nomor 0" in r["body"] for r in logged)
    assert any('name="media"; filename="poster.png"' in r["body"] for r in logged)


def test_a_form_body_and_a_multipart_field_are_masked_too(sandbox):
    requests.post(f"{sandbox.base_url}/v23.0/104857600123/feed", timeout=5,
                  data={"message": "Halo", "access_token": FB_TOKEN})
    requests.post(f"{sandbox.base_url}/v23.0/104857600123/photos", timeout=5,
                  data={"access_token": IG_TOKEN, "published": "false"}, files={"source": ("a.png", b"\x89PNG")})
    served = requests.get(f"{sandbox.base_url}/_sandbox/requests", timeout=5).text
    assert FB_TOKEN not in served and IG_TOKEN not in served
    assert redacted(FB_TOKEN) in served and redacted(IG_TOKEN) in served and "Halo" in served


def test_a_credential_at_the_end_of_a_long_body_is_not_half_kept(sandbox):
    for pad in range(4040, 4100, 3):  # the log keeps the first 4096 bytes of a body: inside it, and across
        body = json.dumps({"text": "a" * pad, "password": BSKY_PASSWORD}).encode()
        requests.post(f"{sandbox.base_url}/xrpc/com.atproto.server.createSession", data=body, timeout=5,
                      headers={"Content-Type": "application/json"})
    for entry in sandbox.state.requests:
        assert BSKY_PASSWORD[:8] not in entry["body"] and BSKY_PASSWORD[-8:] not in entry["body"]


# --- Host header: only this loopback address and port ----------------------------------------------------------
@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:{other}", "127.0.0.1",
                                  "localhost.evil.example:{port}", "10.0.0.5:{port}", None])
def test_a_foreign_host_header_is_refused_before_anything_happens(sandbox, host):
    host = host.format(port=sandbox.port, other=sandbox.port + 1) if host else None
    status, headers, body = raw(sandbox, "POST", "/2/tweets", host=host, body=b'{"text": "rebinding"}',
                                headers={"Authorization": f"Bearer {X_TOKEN}", "Content-Type": "application/json"})
    assert status == 421
    assert headers[SANDBOX_HEADER.lower()] == "1"
    assert b"Traceback" not in body and json.loads(body)["error"].startswith("sandbox:")
    status, _, _ = raw(sandbox, "POST", "/_sandbox/faults", host=host, body=b'{"random_rate": 1}',
                       headers={"Content-Type": "application/json"})
    assert status == 421
    assert sandbox.state.requests == [] and sandbox.posts()["total"] == 0
    assert sandbox.state.random_fault_rate == 0.0


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "[::1]:{port}"])
def test_the_loopback_names_with_the_right_port_are_served(sandbox, host):
    status, headers, body = raw(sandbox, "GET", "/_sandbox/health", host=host.format(port=sandbox.port))
    assert status == 200 and json.loads(body)["ok"] is True
    assert headers[SANDBOX_HEADER.lower()] == "1"


# --- control requests: JSON only -------------------------------------------------------------------------------
@pytest.mark.parametrize("content_type", ["text/plain", "text/plain;charset=UTF-8",
                                          "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                          None])
def test_a_control_post_that_is_not_json_is_refused(sandbox, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    for path, body in (("/_sandbox/faults", {"rules": [{"kind": "server_error"}], "random_rate": 1.0}),
                       ("/_sandbox/burst", {"keyword": "hoaks", "count": 500})):
        status, answer_headers, answer = raw(sandbox, "POST", path, body=json.dumps(body).encode(), headers=headers)
        assert status == 415, answer
        assert answer_headers[SANDBOX_HEADER.lower()] == "1"
    assert sandbox.state.faults == [] and sandbox.state.random_fault_rate == 0.0 and sandbox.state.bursts == []


def test_a_json_control_post_is_accepted_and_a_broken_one_answered_plainly(sandbox):
    answer = requests.post(f"{sandbox.base_url}/_sandbox/faults", timeout=5,
                           json={"rules": [{"kind": "server_error", "platform": "x", "count": 1}]})
    assert answer.status_code == 200 and answer.headers[SANDBOX_HEADER] == "1"
    assert [rule.kind for rule in sandbox.state.faults] == ["server_error"]
    for body in (b"{not json", b"[1, 2]", b'{"rules": [{"kind": "meteor"}]}'):
        status, _, answer = raw(sandbox, "POST", "/_sandbox/faults", body=body,
                                headers={"Content-Type": "application/json"})
        assert status == 400 and b"Traceback" not in answer and "error" in json.loads(answer)
    assert requests.delete(f"{sandbox.base_url}/_sandbox/faults", timeout=5).status_code == 200
    assert sandbox.state.faults == []


# --- every answer says it is the sandbox -------------------------------------------------------------------------
def test_every_answer_carries_the_sandbox_header(sandbox):
    answers = [
        requests.get(f"{sandbox.base_url}/_sandbox/health", timeout=5),
        requests.get(f"{sandbox.base_url}/no/such/path", timeout=5),
        requests.get(f"{sandbox.base_url}/api/v1/accounts/verify_credentials", timeout=5),  # no token: 401
        requests.get(f"{sandbox.base_url}/api/v1/accounts/verify_credentials", timeout=5,
                     headers={"Authorization": f"Bearer {MASTODON_TOKEN}"}),
        requests.get(f"{sandbox.base_url}/bot{TG_TOKEN}/getMe", timeout=5),
    ]
    assert [a.status_code for a in answers][:2] == [200, 404]
    assert all(a.headers.get(SANDBOX_HEADER) == "1" for a in answers)
