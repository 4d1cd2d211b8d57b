"""The X adapter (tweepy, API v2) against the sandbox's X emulator, over real sockets."""

from __future__ import annotations

import json
import struct
import time
import zlib
from datetime import datetime, timedelta, timezone

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
from planner.sandbox import Sandbox
from planner.sandbox.core import redacted

TOKEN = "tok-humas-jatim-7f3a9c"
OAUTH1 = {"consumer_key": "ck-humas-5521", "consumer_secret": "cs-very-secret-8812",
          "access_token": "1234567890-at-humas-0071", "access_token_secret": "ats-very-secret-4410"}


def x_account(sandbox, credentials=None, name="humas-jatim", handle="humasjatim") -> Account:
    return Account(name, "x", handle=handle, api_base_url=sandbox.base_url,
                   credentials=credentials if credentials is not None else {"bearer_token": TOKEN})


def x_adapter(sandbox, credentials=None, timeout=5.0, **kw):
    return make_adapter(x_account(sandbox, credentials, **kw), timeout=timeout)


def post(text, **kw) -> OutgoingPost:
    return OutgoingPost(post_id=1, idempotency_key="k-" + text[:20], text=text, **kw)


def calls(sandbox, method, path):
    return [r for r in sandbox.state.requests if r["method"] == method and r["path"] == path]


def x_posts(sandbox):
    return [p for p in sandbox.posts()["posts"] if p["platform"] == "x"]


def assert_no_secret(exc: BaseException, account: Account):
    for secret in account.secret_values():
        assert secret not in str(exc) and secret not in repr(exc)
        assert secret not in repr(account)
    assert exc.__cause__ is None
    assert exc.__context__ is None or exc.__suppress_context__


def write_png(path, rgb=(200, 30, 30)):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\x00" + bytes(rgb))) + chunk(b"IEND", b""))
    return path


# --- publishing ------------------------------------------------------------------------------------
def test_publish_text(sandbox):
    ref = x_adapter(sandbox).publish(post("Jadwal vaksinasi gratis di Puskesmas Kota, Senin 08.00 WIB."))

    [stored] = x_posts(sandbox)
    assert stored["id"] == ref.platform_post_id
    assert stored["text"] == "Jadwal vaksinasi gratis di Puskesmas Kota, Senin 08.00 WIB."
    assert ref.url == f"https://x.com/humasjatim/status/{ref.platform_post_id}"
    [sent] = calls(sandbox, "POST", "/2/tweets")
    assert sent["headers"]["authorization"] == f"Bearer {redacted(TOKEN)}"  # the log keeps a fingerprint
    assert sent["headers"]["content-type"] == "application/json"
    assert json.loads(sent["body"]) == {"text": stored["text"]}


def test_publish_appends_link_once(sandbox):
    adapter = x_adapter(sandbox)
    adapter.publish(post("Pendaftaran beasiswa dibuka.", link="https://jatimprov.go.id/beasiswa?tahun=2025"))
    adapter.publish(post("Info lengkap: https://jatimprov.go.id/pajak", link="https://jatimprov.go.id/pajak"))

    first, second = x_posts(sandbox)
    assert first["text"] == "Pendaftaran beasiswa dibuka.\n\nhttps://jatimprov.go.id/beasiswa?tahun=2025"
    assert second["text"] == "Info lengkap: https://jatimprov.go.id/pajak"


def test_publish_with_two_images(sandbox, tmp_path):
    images = [write_png(tmp_path / "a.png"), write_png(tmp_path / "b.png", (10, 120, 200))]
    ref = x_adapter(sandbox).publish(post("Dokumentasi rapat koordinasi banjir.", media=images))

    uploads = calls(sandbox, "POST", "/2/media/upload")
    assert len(uploads) == 2
    for upload in uploads:
        assert upload["headers"]["content-type"].startswith("multipart/form-data")
        assert upload["headers"]["authorization"] == f"Bearer {redacted(TOKEN)}"
        assert 'name="media_category"' in upload["body"] and "tweet_image" in upload["body"]
        assert 'name="media"; filename=' in upload["body"]
    [stored] = x_posts(sandbox)
    assert stored["id"] == ref.platform_post_id
    assert len(stored["extra"]["media"]) == 2
    assert all(sandbox.state.media[m]["type"] == "image/png" for m in stored["extra"]["media"])
    body = json.loads(calls(sandbox, "POST", "/2/tweets")[0]["body"])
    assert body["media"]["media_ids"] == stored["extra"]["media"]


def test_more_than_four_images_is_refused_before_sending(sandbox, tmp_path):
    images = [write_png(tmp_path / f"{i}.png") for i in range(5)]
    with pytest.raises(PermanentError, match="at most 4 images"):
        x_adapter(sandbox).publish(post("Terlalu banyak foto", media=images))
    assert sandbox.state.requests == []


def test_thread_is_a_reply_chain(sandbox):
    ref = x_adapter(sandbox).publish(post("Utas: 3 langkah lapor pajak daring (1/3)",
                                          thread=["Masuk ke djponline (2/3)", "Isi formulir dan kirim (3/3)"]))

    first, second, third = x_posts(sandbox)
    assert first["id"] == ref.platform_post_id and first["extra"]["reply_to"] is None
    assert second["extra"]["reply_to"] == first["id"] and second["text"] == "Masuk ke djponline (2/3)"
    assert third["extra"]["reply_to"] == second["id"]
    bodies = [json.loads(r["body"]) for r in calls(sandbox, "POST", "/2/tweets")]
    assert bodies[2]["reply"] == {"in_reply_to_tweet_id": second["id"]}


def test_thread_failing_halfway_keeps_the_live_parts(sandbox):
    adapter = x_adapter(sandbox)
    recorded: list[str] = []
    with pytest.raises(PermanentError, match="thread part 2 of 2") as caught:
        adapter.publish(post("Kepala utas", thread=["x" * 300], on_part=recorded.append))
    head = x_posts(sandbox)[0]
    assert recorded == [head["id"]] and head["id"] in str(caught.value)


def test_thread_continues_after_its_live_parts(sandbox):
    adapter = x_adapter(sandbox)
    thread = ["Cek di cekdptonline (2/3)", "Lapor PPS bila belum terdaftar (3/3)"]
    sandbox.add_fault("server_error", platform="x", path=r"^/2/tweets$", method="POST", after=2, count=1)
    recorded: list[str] = []
    with pytest.raises(RetryableError, match="thread part 3 of 3"):
        adapter.publish(post("Sudah terdaftar di DPT? (1/3)", thread=thread, on_part=recorded.append))
    assert len(recorded) == 2

    ref = adapter.publish(post("Sudah terdaftar di DPT? (1/3)", thread=thread, parts_done=tuple(recorded),
                               on_part=recorded.append))
    first, second, third = x_posts(sandbox)
    assert [first["id"], second["id"], third["id"]] == recorded and ref.platform_post_id == first["id"]
    assert third["extra"]["reply_to"] == second["id"] and third["text"] == thread[1]
    assert sandbox.posts()["duplicates"] == {}


def test_reconciliation_follows_the_thread_and_reports_what_is_live(sandbox):
    adapter = x_adapter(sandbox)
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    thread = ["Bagian dua (2/3)", "Bagian tiga (3/3)"]
    sandbox.add_fault("drop", platform="x", path=r"^/2/tweets$", method="POST", after=1, count=1)
    with pytest.raises(UnknownOutcomeError, match="thread part 2 of 3"):
        adapter.publish(post("Bagian satu (1/3)", thread=thread))  # part 2 stored, its answer lost

    found: list[str] = []
    assert adapter.find_published(post("Bagian satu (1/3)", thread=thread, on_part=found.append), since) is None
    assert found == [p["id"] for p in x_posts(sandbox)]  # head and part 2: live, part 3 not

    adapter.publish(post("Bagian satu (1/3)", thread=thread, parts_done=tuple(found)))
    complete: list[str] = []
    ref = adapter.find_published(post("Bagian satu (1/3)", thread=thread, on_part=complete.append), since)
    assert ref is not None and ref.platform_post_id == found[0]
    assert complete == [p["id"] for p in x_posts(sandbox)] and len(complete) == 3
    assert sandbox.posts()["duplicates"] == {}


# --- failures --------------------------------------------------------------------------------------
def test_duplicate_text_is_permanent_with_a_clear_message(sandbox):
    adapter = x_adapter(sandbox)
    adapter.publish(post("Pengumuman libur nasional."))
    with pytest.raises(PermanentError) as caught:
        adapter.publish(post("Pengumuman libur nasional."))
    assert not isinstance(caught.value, CredentialsError)
    assert "already posted" in str(caught.value)
    assert caught.value.status == 403
    assert sandbox.posts()["total"] == 1
    assert_no_secret(caught.value, adapter.account)


def test_too_long_text_is_permanent_with_the_platform_message(sandbox):
    with pytest.raises(PermanentError, match="too long") as caught:
        x_adapter(sandbox).publish(post("a" * 300))
    assert caught.value.status == 403
    assert sandbox.posts()["total"] == 0


def test_length_is_weighted_like_x(sandbox):
    adapter = x_adapter(sandbox)
    # 255 characters + 2 newlines + a link counted as 23 = 280: allowed, though far longer raw
    adapter.publish(post("a" * 255, link="https://jatimprov.go.id/" + "p" * 100))
    with pytest.raises(PermanentError, match="too long"):
        adapter.publish(post("蚊" * 141))  # CJK weighs 2: 282
    assert sandbox.posts()["total"] == 1


def test_rate_limit_is_retryable_after_the_reset_time(sandbox):
    sandbox.add_fault("rate_limit", platform="x", path=r"^/2/tweets$", count=1, reset_in=30)
    adapter = x_adapter(sandbox)
    with pytest.raises(RetryableError) as caught:
        adapter.publish(post("Kena batas kiriman"))
    assert 27 <= caught.value.retry_after <= 31
    assert caught.value.status == 429
    assert sandbox.posts()["total"] == 0
    assert_no_secret(caught.value, adapter.account)
    adapter.publish(post("Kena batas kiriman"))  # the fault was one-off
    assert sandbox.posts()["total"] == 1


def test_server_error_is_retryable(sandbox):
    sandbox.add_fault("server_error", platform="x", path=r"^/2/tweets$", count=1)
    with pytest.raises(RetryableError) as caught:
        x_adapter(sandbox).publish(post("Server sedang sibuk"))
    assert caught.value.status == 503
    assert sandbox.posts()["total"] == 0


def test_dropped_answer_is_unknown_then_reconciled(sandbox):
    sandbox.add_fault("drop", platform="x", path=r"^/2/tweets$", method="POST", count=1)
    adapter = x_adapter(sandbox)
    item = post("Peringatan dini cuaca ekstrem", link="https://bmkg.go.id/peringatan")
    started = datetime.now(timezone.utc)

    with pytest.raises(UnknownOutcomeError) as caught:
        adapter.publish(item)
    assert_no_secret(caught.value, adapter.account)

    found = adapter.find_published(item, started)
    [stored] = x_posts(sandbox)
    assert found is not None and found.platform_post_id == stored["id"]
    assert found.url.endswith(f"/status/{stored['id']}")
    assert sandbox.posts()["counts"] == {f"x:{stored['account']}:{stored['fingerprint']}": 1}
    timeline = calls(sandbox, "GET", f"/2/users/{stored['extra']['author_id']}/tweets")
    assert timeline and "start_time" in timeline[0]["query"]


def test_find_published_matches_despite_tco_links_and_escaping(sandbox):
    adapter = x_adapter(sandbox)
    item = post("Syarat & ketentuan <baru> lomba, formulir di jatimprov.go.id/formulir",
                link="https://jatimprov.go.id/lomba")
    ref = adapter.publish(item)
    # what X returns is shortened and escaped, so a plain comparison would miss it
    lookup = requests.get(f"{sandbox.base_url}/2/tweets", params={"ids": ref.platform_post_id},
                          headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).json()
    returned = lookup["data"][0]["text"]
    assert returned.count("https://t.co/") == 2 and "&amp;" in returned and "jatimprov" not in returned

    found = adapter.find_published(item, datetime.now(timezone.utc) - timedelta(minutes=5))
    assert found is not None and found.platform_post_id == ref.platform_post_id


def test_find_published_is_none_for_a_text_never_posted(sandbox):
    adapter = x_adapter(sandbox)
    adapter.publish(post("Sudah terbit"))
    assert adapter.find_published(post("Belum pernah terbit"), datetime.now(timezone.utc) - timedelta(hours=1)) is None


def test_slow_answer_on_publish_is_unknown_outcome():
    with Sandbox(seed=1, slow_seconds=2) as sb:
        sb.add_fault("slow", platform="x", path=r"^/2/tweets$", method="POST", count=1)
        began = time.monotonic()
        with pytest.raises(UnknownOutcomeError):
            x_adapter(sb, timeout=0.5).publish(post("Jawaban lambat"))
        assert time.monotonic() - began < 1.5
        assert sb.posts()["total"] == 1  # it was stored: exactly why the outcome is unknown


def test_bad_token_is_a_credentials_error_without_the_token(sandbox):
    secret = "bad-token-4471-zz"
    adapter = x_adapter(sandbox, {"bearer_token": secret})
    with pytest.raises(CredentialsError) as caught:
        adapter.publish(post("Tidak akan terbit"))
    assert "humas-jatim" in str(caught.value) and "reconnect" in str(caught.value)
    assert caught.value.status == 401
    assert_no_secret(caught.value, adapter.account)
    with pytest.raises(CredentialsError):
        adapter.check_credentials()
    assert sandbox.posts()["total"] == 0


def test_missing_credentials_name_the_keys_not_values(sandbox):
    partial = {"consumer_key": "ck-1", "consumer_secret": "cs-secret-2"}
    with pytest.raises(CredentialsError) as caught:
        x_adapter(sandbox, partial)
    message = str(caught.value)
    assert "access_token" in message and "access_token_secret" in message
    assert "cs-secret-2" not in message and "consumer_secret" not in message
    assert sandbox.state.requests == []


def test_oauth1_user_context_is_signed_and_accepted(sandbox, tmp_path):
    adapter = x_adapter(sandbox, OAUTH1)
    ref = adapter.publish(post("Dikirim dengan OAuth 1.0a", media=[write_png(tmp_path / "a.png")]))

    [stored] = x_posts(sandbox)
    assert stored["id"] == ref.platform_post_id and len(stored["extra"]["media"]) == 1
    assert stored["extra"]["author_id"] == "1234567890"  # X user id = access token prefix
    for sent in calls(sandbox, "POST", "/2/media/upload") + calls(sandbox, "POST", "/2/tweets"):
        header = sent["headers"]["authorization"]
        assert header.startswith("OAuth ")
        for name in (f'oauth_consumer_key="{redacted("ck-humas-5521")}"',
                     f'oauth_token="{redacted("1234567890-at-humas-0071")}"',
                     "oauth_signature=", "oauth_nonce=", "oauth_timestamp=", 'oauth_signature_method="HMAC-SHA1"'):
            assert name in header
        assert "very-secret" not in header  # secrets sign, they are never sent
    assert adapter.check_credentials().handle == stored["account"]


def test_oauth1_with_a_revoked_access_token(sandbox):
    adapter = x_adapter(sandbox, {**OAUTH1, "access_token": "expired-1234"})
    with pytest.raises(CredentialsError) as caught:
        adapter.check_credentials()
    assert_no_secret(caught.value, adapter.account)


# --- metrics, listening, account ---------------------------------------------------------------------
def test_metrics_for_150_posts_in_two_calls_and_growing():
    with Sandbox(seed=1, speed=3600) as sb:
        adapter = x_adapter(sb)
        ids = [adapter.publish(post(f"Kabar kegiatan nomor {i} https://jatimprov.go.id/k/{i}")).platform_post_id
               for i in range(150)]

        first = adapter.fetch_metrics(ids)
        lookups = calls(sb, "GET", "/2/tweets")
        assert len(lookups) == 2
        assert [len(r["query"]["ids"][0].split(",")) for r in lookups] == [100, 50]
        assert "non_public_metrics" in lookups[0]["query"]["tweet.fields"][0]
        assert {s.platform_post_id for s in first} == set(ids)
        assert {s.metric for s in first} == {"impressions", "likes", "reposts", "replies", "quotes", "saves",
                                             "clicks"}

        time.sleep(0.4)
        second = adapter.fetch_metrics(ids)
        total = lambda snaps: sum(s.value for s in snaps if s.metric == "impressions")  # noqa: E731
        assert total(second) > total(first) > 0


def test_metrics_of_someone_elses_tweets_fall_back_to_public(sandbox):
    theirs = x_adapter(sandbox, {"bearer_token": "tok-other-account"}).publish(post("Bukan milik kita"))
    ours = x_adapter(sandbox)
    mine = ours.publish(post("Milik kita https://jatimprov.go.id"))

    snapshots = ours.fetch_metrics([theirs.platform_post_id, mine.platform_post_id])
    metrics = {(s.platform_post_id, s.metric) for s in snapshots}
    assert (theirs.platform_post_id, "likes") in metrics and (theirs.platform_post_id, "impressions") in metrics
    assert (theirs.platform_post_id, "clicks") not in metrics  # non-public: refused, not invented
    assert (mine.platform_post_id, "clicks") in metrics
    first, second = calls(sandbox, "GET", "/2/tweets")
    assert second["query"] == {"ids": [theirs.platform_post_id], "tweet.fields": ["public_metrics"]}


def test_metrics_skip_deleted_tweets(sandbox):
    adapter = x_adapter(sandbox)
    mine = adapter.publish(post("Masih ada"))
    snapshots = adapter.fetch_metrics([mine.platform_post_id, "1790000000000099999"])
    assert {s.platform_post_id for s in snapshots} == {mine.platform_post_id}


def test_search_mentions_for_a_keyword(sandbox):
    sandbox.state.add_burst("banjir rob", 5)
    since = datetime.now(timezone.utc) - timedelta(minutes=5)
    mentions = x_adapter(sandbox).search_mentions(["banjir rob", "KTP digital"], since)

    burst = [m for m in mentions if m.keyword == "banjir rob"]
    assert len(burst) >= 5
    assert all("banjir rob" in m.text.casefold() for m in burst)
    assert all(m.author.startswith("warga") and m.url == f"https://x.com/{m.author}/status/{m.platform_id}"
               for m in burst)
    assert all(m.created_at >= since - timedelta(seconds=1) for m in mentions)
    assert len({m.platform_id for m in mentions}) == len(mentions)
    first, *more = calls(sandbox, "GET", "/2/tweets/search/recent")
    assert first["query"]["query"] == ['("banjir rob" OR "KTP digital") -is:retweet']
    assert first["query"]["expansions"] == ["author_id"]
    assert "start_time" in first["query"] and "next_token" not in first["query"]
    assert all("next_token" in page["query"] for page in more)  # later pages follow meta.next_token


def test_check_credentials_returns_the_account(sandbox):
    status = x_adapter(sandbox).check_credentials()
    assert status.handle.startswith("humas_") and status.display_name
    assert (status.rate_limit.remaining, status.rate_limit.limit) == (74, 75)
    assert status.rate_limit.resets_at > datetime.now(timezone.utc) - timedelta(seconds=1)
    [request] = calls(sandbox, "GET", "/2/users/me")
    assert request["headers"]["authorization"] == f"Bearer {redacted(TOKEN)}"


# --- the emulator checks what X checks ------------------------------------------------------------------
def test_sandbox_rejects_what_x_rejects(sandbox):
    url = f"{sandbox.base_url}/2/tweets"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert requests.post(url, json={"text": "tanpa token"}, timeout=5).status_code == 401
    assert requests.post(url, json={"text": "x"}, headers={"Authorization": "OAuth oauth_token=\"a\""},
                         timeout=5).status_code == 401
    form = requests.post(url, data={"text": "bukan json"}, headers=auth, timeout=5)
    assert form.status_code == 400 and form.json()["title"] == "Invalid Request"
    assert requests.post(url, json={}, headers=auth, timeout=5).status_code == 400
    orphan = requests.post(url, json={"text": "balasan", "reply": {"in_reply_to_tweet_id": "123"}},
                           headers=auth, timeout=5)
    assert orphan.status_code == 403
    fake_media = requests.post(url, json={"text": "foto", "media": {"media_ids": ["42"]}}, headers=auth, timeout=5)
    assert fake_media.status_code == 400
    too_many = requests.get(url, params={"ids": ",".join(str(i) for i in range(1, 102))}, headers=auth, timeout=5)
    assert too_many.status_code == 400
    not_image = requests.post(f"{sandbox.base_url}/2/media/upload", headers=auth, timeout=5,
                              files={"media": ("a.txt", b"hello", "text/plain")},
                              data={"media_category": "tweet_image"})
    assert not_image.status_code == 400
    assert sandbox.posts()["total"] == 0


def test_find_published_cannot_tell_when_the_timeline_fails(sandbox):
    adapter = x_adapter(sandbox)
    adapter.check_credentials()
    sandbox.add_fault("server_error", platform="x", path=r"/tweets$", method="GET", count=1)
    with pytest.raises(PlatformError):
        adapter.find_published(post("Apa saja"), datetime.now(timezone.utc))


def test_app_only_token_gets_public_metrics_and_cannot_post(sandbox):
    mine = x_adapter(sandbox).publish(post("Dipantau dengan token aplikasi https://jatimprov.go.id"))
    app = x_adapter(sandbox, {"bearer_token": "AAAAAAAAAAAAAAAAAAAAAapp-only-0042"})

    first = app.fetch_metrics([mine.platform_post_id])
    second = app.fetch_metrics([mine.platform_post_id])
    assert {s.metric for s in first} == {s.metric for s in second} == {
        "impressions", "likes", "reposts", "replies", "quotes", "saves"}
    fields = [r["query"]["tweet.fields"][0] for r in calls(sandbox, "GET", "/2/tweets")]
    # refused once for the non-public fields, then public only without asking again
    assert fields == ["public_metrics,non_public_metrics,organic_metrics", "public_metrics", "public_metrics"]

    with pytest.raises(CredentialsError, match="reconnect") as caught:
        app.publish(post("Tidak bisa dengan token aplikasi"))
    assert_no_secret(caught.value, app.account)


def test_rate_limit_without_reset_header_waits_a_sane_default():
    from planner.platforms.x import DEFAULT_RETRY_AFTER, _retry_after

    assert _retry_after({}) == DEFAULT_RETRY_AFTER
    assert _retry_after({"x-rate-limit-reset": str(int(time.time()) - 5)}) == 1.0
