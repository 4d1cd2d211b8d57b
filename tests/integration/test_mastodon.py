"""Mastodon adapter (Mastodon.py) against the sandbox's Mastodon emulator, over real HTTP."""

from __future__ import annotations

import socket
import struct
import time
import traceback
import zlib
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

import pytest
import requests

from planner.platforms import make_adapter
from planner.platforms.base import (
    Account,
    CredentialsError,
    OutgoingPost,
    PermanentError,
    PlatformError,
    RetryableError,
    UnknownOutcomeError,
)
from planner.platforms.mastodon import plain_text
from planner.sandbox import Sandbox
from planner.sandbox.core import redacted

TOKEN = "sandbox-token-humas-demak-0001"


def account(base_url: str, token: str = TOKEN) -> Account:
    return Account(name="humas-demak", platform="mastodon", handle="@humas", api_base_url=base_url,
                   credentials={"access_token": token})


def adapter(sandbox, token: str = TOKEN, timeout: float = 5.0):
    return make_adapter(account(sandbox.base_url, token), timeout=timeout)


def png(path, shade: int = 0):
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(bytes([0, shade, 0, 0]))) + chunk(b"IEND", b""))
    return path


def requests_to(sandbox, method: str, path_prefix: str) -> list[dict]:
    return [r for r in sandbox.state.requests if r["method"] == method and r["path"].startswith(path_prefix)]


def form(request: dict) -> dict[str, list[str]]:
    return parse_qs(request["body"], keep_blank_values=True)


def post(key: str = "post-1-mastodon", text: str = "Jadwal coklit pemilih dimulai besok.", **kw) -> OutgoingPost:
    return OutgoingPost(post_id=1, idempotency_key=key, text=text, **kw)


# --- publishing ------------------------------------------------------------------------------------------
def test_publish_text(sandbox):
    ref = adapter(sandbox).publish(post())

    stored = sandbox.posts()["posts"]
    assert [p["id"] for p in stored] == [ref.platform_post_id]
    assert stored[0]["text"] == "Jadwal coklit pemilih dimulai besok."
    assert stored[0]["extra"]["visibility"] == "public"
    (sent,) = requests_to(sandbox, "POST", "/api/v1/statuses")
    assert sent["headers"]["authorization"] == f"Bearer {redacted(TOKEN)}"
    assert sent["headers"]["idempotency-key"] == "post-1-mastodon"
    assert form(sent)["status"] == ["Jadwal coklit pemilih dimulai besok."]
    assert form(sent)["visibility"] == ["public"]
    assert ref.url.endswith(f"/{ref.platform_post_id}")
    assert ref.published_at is not None and ref.published_at.tzinfo is not None


def test_publish_with_link_appends_it_and_content_renders_it(sandbox):
    link = "https://kpu.go.id/berita/2029/jadwal-lengkap-pemutakhiran-data-pemilih"
    ref = adapter(sandbox).publish(post(text="Cek jadwal #Pemilu di sini:", link=link))

    stored = sandbox.state.find_post("mastodon", ref.platform_post_id)
    assert stored["text"] == f"Cek jadwal #Pemilu di sini:\n\n{link}"
    status = requests.get(f"{sandbox.base_url}/api/v1/statuses/{ref.platform_post_id}", timeout=5).json()
    assert f'href="{link}"' in status["content"]  # linked like Mastodon does, shown shortened
    assert plain_text(status["content"]) == stored["text"]


def test_publish_with_two_images_uploads_and_waits_for_processing(sandbox, tmp_path):
    images = [png(tmp_path / "a.png", 10), png(tmp_path / "b.png", 200)]
    ref = adapter(sandbox).publish(post(media=images))

    uploads = requests_to(sandbox, "POST", "/api/v2/media")
    assert len(uploads) == 2
    assert all(u["headers"]["content-type"].startswith("multipart/form-data") for u in uploads)
    assert all('name="file"' in u["body"] for u in uploads)
    media_ids = [m for m, info in sandbox.state.media.items() if info["platform"] == "mastodon"]
    assert len(media_ids) == 2
    for media_id in media_ids:  # 202 with url null, then polled until processed
        assert len(requests_to(sandbox, "GET", f"/api/v1/media/{media_id}")) >= 2
    (sent,) = requests_to(sandbox, "POST", "/api/v1/statuses")
    assert sorted(form(sent)["media_ids[]"]) == sorted(media_ids)
    status = requests.get(f"{sandbox.base_url}/api/v1/statuses/{ref.platform_post_id}", timeout=5).json()
    assert len(status["media_attachments"]) == 2
    assert all(m["url"] for m in status["media_attachments"])


def test_thread_is_a_reply_chain_with_derived_idempotency_keys(sandbox):
    ref = adapter(sandbox).publish(post(text="Utas info TPS (1/2)", thread=("Lokasi TPS bisa dicek di aplikasi (2/2)",)))

    head, reply = sandbox.posts()["posts"]
    assert head["id"] == ref.platform_post_id
    assert head["extra"]["in_reply_to_id"] is None
    assert reply["extra"]["in_reply_to_id"] == head["id"]
    keys = [r["headers"]["idempotency-key"] for r in requests_to(sandbox, "POST", "/api/v1/statuses")]
    assert keys == ["post-1-mastodon", "post-1-mastodon-1"]


def test_same_idempotency_key_returns_the_original_status(sandbox):
    mastodon = adapter(sandbox)
    first = mastodon.publish(post())
    second = mastodon.publish(post())

    assert second.platform_post_id == first.platform_post_id
    summary = sandbox.posts()
    assert summary["total"] == 1 and summary["duplicates"] == {}
    assert len(requests_to(sandbox, "POST", "/api/v1/statuses")) == 2  # the server answered both


# --- failures ----------------------------------------------------------------------------------------------
def test_rate_limit_is_retryable_with_the_reset_time(sandbox):
    sandbox.add_fault("rate_limit", platform="mastodon", path=r"^/api/v1/statuses$", method="POST",
                      count=1, reset_in=30)
    with pytest.raises(RetryableError) as caught:
        adapter(sandbox).publish(post())

    assert caught.value.status == 429
    assert 27 <= caught.value.retry_after <= 32
    assert sandbox.posts()["total"] == 0


def test_server_error_is_retryable(sandbox):
    sandbox.add_fault("server_error", platform="mastodon", path=r"^/api/v1/statuses$", count=1)
    with pytest.raises(RetryableError) as caught:
        adapter(sandbox).publish(post())
    assert caught.value.status == 500


def test_dropped_publish_is_unknown_then_found_by_reconciliation(sandbox):
    since = datetime.now(timezone.utc)
    sandbox.add_fault("drop", platform="mastodon", path=r"^/api/v1/statuses$", method="POST", count=1)
    mastodon = adapter(sandbox)
    with pytest.raises(UnknownOutcomeError):
        mastodon.publish(post(link="https://kpu.go.id/info"))

    (stored,) = sandbox.posts()["posts"]  # the server did store it
    requests_before = len(sandbox.state.requests)
    found = mastodon.find_published(post(link="https://kpu.go.id/info"), since)
    assert found is not None and found.platform_post_id == stored["id"]
    assert not requests_to(sandbox, "POST", "/api/v1/statuses")[1:]  # reconciliation never posts
    assert all(r["method"] == "GET" for r in sandbox.state.requests[requests_before:])
    assert mastodon.find_published(post(text="Teks yang tidak pernah dikirim"), since) is None


def test_find_published_reports_the_live_part_of_a_thread(sandbox):
    since = datetime.now(timezone.utc)
    mastodon = adapter(sandbox)
    head = mastodon.publish(post(text="Bagian pertama"))
    live: list[str] = []
    assert mastodon.find_published(post(text="Bagian pertama", thread=("Bagian kedua",), on_part=live.append),
                                   since) is None  # incomplete: publishing again continues after the head
    assert live == [head.platform_post_id]


def test_thread_continues_after_its_live_parts(sandbox):
    mastodon = adapter(sandbox)
    thread = ("Bagian dua (2/3)", "Bagian tiga (3/3)")
    sandbox.add_fault("server_error", platform="mastodon", path=r"^/api/v1/statuses$", method="POST", after=1,
                      count=1)
    live: list[str] = []
    with pytest.raises(RetryableError, match="thread part 2 of 3"):
        mastodon.publish(post(text="Bagian satu (1/3)", thread=thread, on_part=live.append))
    assert len(live) == 1

    ref = mastodon.publish(post(text="Bagian satu (1/3)", thread=thread, parts_done=tuple(live),
                                on_part=live.append))
    head, second, third = sandbox.posts()["posts"]
    assert ref.platform_post_id == head["id"] == live[0] and ref.url
    assert second["extra"]["in_reply_to_id"] == head["id"] and third["extra"]["in_reply_to_id"] == second["id"]
    assert live == [head["id"], second["id"], third["id"]]
    statuses = [r for r in requests_to(sandbox, "POST", "/api/v1/statuses")]
    assert [r["headers"]["idempotency-key"] for r in statuses] == [
        "post-1-mastodon", "post-1-mastodon-1", "post-1-mastodon-1", "post-1-mastodon-2"]


def test_read_timeout_on_publish_is_unknown_outcome():
    with Sandbox(seed=1, slow_seconds=2) as slow:
        slow.add_fault("slow", platform="mastodon", path=r"^/api/v1/statuses$", method="POST", count=1)
        with pytest.raises(UnknownOutcomeError):
            adapter(slow, timeout=0.5).publish(post())


def test_connection_refused_is_retryable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    mastodon = make_adapter(account(f"http://127.0.0.1:{closed_port}"), timeout=2)
    with pytest.raises(RetryableError):
        mastodon.publish(post())


def test_over_length_status_is_permanent_with_the_server_message(sandbox):
    with pytest.raises(PermanentError) as caught:
        adapter(sandbox).publish(post(text="Pengumuman " * 60))

    assert not isinstance(caught.value, CredentialsError)
    assert caught.value.status == 422
    assert "character limit of 500" in caught.value.message
    assert sandbox.posts()["total"] == 0


@pytest.mark.parametrize("token", ["bad-token-9f8e7d6c", "expired-token-1a2b3c4d"])
def test_refused_token_is_a_credentials_error_without_the_token(sandbox, token):
    with pytest.raises(CredentialsError) as caught:
        adapter(sandbox, token=token).publish(post())

    error = caught.value
    shown = str(error) + repr(error) + "".join(traceback.format_exception(error))
    assert "humas-demak" in str(error)
    assert token not in shown
    assert sandbox.posts()["total"] == 0


def test_status_without_token_is_refused_by_the_sandbox(sandbox):
    answer = requests.post(f"{sandbox.base_url}/api/v1/statuses", data={"status": "x"}, timeout=5)
    assert answer.status_code == 401
    assert answer.json() == {"error": "The access token is invalid"}


# --- metrics, listening, account ----------------------------------------------------------------------------
def test_metrics_come_from_the_batch_endpoint(sandbox):
    mastodon = adapter(sandbox)
    refs = [mastodon.publish(post(key=f"k{i}", text=f"Info ke-{i}")).platform_post_id for i in range(3)]
    time.sleep(0.3)
    before = time.time()
    snapshots = mastodon.fetch_metrics(refs + ["999999"])
    after = time.time()

    (lookup,) = requests_to(sandbox, "GET", "/api/v1/statuses")
    assert lookup["path"] == "/api/v1/statuses"
    assert lookup["query"]["id[]"] == refs + ["999999"]
    by_post = {}
    for snap in snapshots:
        by_post.setdefault(snap.platform_post_id, {})[snap.metric] = snap.value
    assert set(by_post) == set(refs)  # the unknown id is left out, not zeroed
    for ref in refs:
        stored = sandbox.state.find_post("mastodon", ref)
        low, high = sandbox.state.engagement(stored, at=before), sandbox.state.engagement(stored, at=after)
        assert set(by_post[ref]) == {"likes", "reposts", "replies"}
        for ours, theirs in (("likes", "likes"), ("reposts", "reposts"), ("replies", "replies")):
            assert low[theirs] <= by_post[ref][ours] <= high[theirs]


def test_metrics_fall_back_to_one_request_per_status_before_mastodon_4_3():
    with Sandbox(seed=1) as old:
        old._routes = [(e, r) for e, r in old._routes
                       if not (e.name == "mastodon" and r.method == "GET" and r.pattern.pattern.startswith("/api/v1/statuses/?$"))]
        mastodon = adapter(old)
        refs = [mastodon.publish(post(key=f"k{i}", text=f"Info ke-{i}")).platform_post_id for i in range(2)]
        snapshots = mastodon.fetch_metrics(refs)
        mastodon.fetch_metrics(refs)

        assert {s.platform_post_id for s in snapshots} == set(refs)
        assert len(snapshots) == 6
        singles = [r["path"] for r in old.state.requests if r["method"] == "GET" and r["path"].startswith("/api/v1/statuses/")]
        assert singles == [f"/api/v1/statuses/{ref}" for ref in refs] * 2


def test_search_mentions_uses_search_and_hashtag_timeline(sandbox):
    since = datetime.now(timezone.utc) - timedelta(seconds=5)
    sandbox.state.add_burst("bansos", 30)
    mentions = adapter(sandbox).search_mentions(["bansos", "kartu prakerja"], since)

    bansos = [m for m in mentions if m.keyword == "bansos"]
    assert len(bansos) >= 30
    assert len({m.platform_id for m in bansos}) == len(bansos)  # search and tag timeline deduplicated
    assert all("bansos" in m.text.casefold() and m.author and m.url for m in bansos)
    assert all(m.created_at >= since - timedelta(seconds=1) for m in bansos)
    assert requests_to(sandbox, "GET", "/api/v1/timelines/tag/bansos")
    searches = requests_to(sandbox, "GET", "/api/v2/search")
    assert {s["query"]["q"][0] for s in searches} == {"bansos", "kartu prakerja"}
    assert all(s["query"]["type"] == ["statuses"] for s in searches)
    assert not requests_to(sandbox, "GET", "/api/v1/timelines/tag/kartu")  # no hashtag for a phrase


def test_search_mentions_skips_our_own_posts(sandbox):
    mastodon = adapter(sandbox)
    mastodon.publish(post(text="Penyaluran bansos tahap dua dimulai"))
    mentions = mastodon.search_mentions(["bansos"], datetime.now(timezone.utc) - timedelta(seconds=30))
    assert all("tahap dua" not in m.text for m in mentions)


def test_check_credentials(sandbox):
    status = adapter(sandbox).check_credentials()
    (call,) = requests_to(sandbox, "GET", "/api/v1/accounts/verify_credentials")
    assert call["headers"]["authorization"] == f"Bearer {redacted(TOKEN)}"

    me = requests.get(f"{sandbox.base_url}/api/v1/accounts/verify_credentials",
                      headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).json()
    assert status.handle == f"@{me['acct']}"
    assert status.display_name == me["display_name"]
    assert (status.rate_limit.remaining, status.rate_limit.limit) == (299, 300)
    assert status.rate_limit.resets_at is not None and status.rate_limit.resets_at.tzinfo is not None


def test_missing_instance_url_is_a_configuration_error():
    with pytest.raises(PermanentError, match="api_base_url"):
        make_adapter(Account(name="x", platform="mastodon", credentials={"access_token": TOKEN}))


def test_sandbox_checks_what_mastodon_checks(sandbox):
    url = f"{sandbox.base_url}/api/v1/statuses"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    wrong_scheme = requests.post(url, data={"status": "x"}, headers={"Authorization": f"Token {TOKEN}"}, timeout=5)
    assert wrong_scheme.status_code == 401
    blank = requests.post(url, json={"status": "  "}, headers=auth, timeout=5)
    assert blank.status_code == 422 and blank.json()["error"] == "Validation failed: Text can't be blank"
    orphan_reply = requests.post(url, json={"status": "x", "in_reply_to_id": "1"}, headers=auth, timeout=5)
    assert orphan_reply.status_code == 404
    unknown_media = requests.post(url, json={"status": "x", "media_ids": ["42"]}, headers=auth, timeout=5)
    assert unknown_media.status_code == 422
    # A URL counts as 23 characters, whatever its length.
    text = "a" * 470 + "\n\nhttps://kpu.go.id/" + "p" * 100
    accepted = requests.post(url, json={"status": text}, headers=auth, timeout=5)
    assert accepted.status_code == 200, accepted.text
    assert accepted.headers["X-RateLimit-Limit"] == "300"
    assert datetime.fromisoformat(accepted.headers["X-RateLimit-Reset"].replace("Z", "+00:00")) > datetime.now(timezone.utc)
    assert sandbox.posts()["total"] == 1
