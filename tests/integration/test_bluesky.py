"""The Bluesky adapter, through the real atproto SDK, against the sandbox's XRPC emulation."""

from __future__ import annotations

import json
import re
import struct
import time
import traceback
import zlib
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from atproto import Client, models
from atproto import exceptions as atproto_errors
from atproto_client.models.utils import get_or_create

from planner.platforms import make_adapter
from planner.platforms.base import (
    Account,
    CredentialsError,
    OutgoingPost,
    PermanentError,
    RetryableError,
    UnknownOutcomeError,
)
from planner.platforms.bluesky import part_keys, record_key
from planner.sandbox import Sandbox
from planner.sandbox.core import redacted

HANDLE = "kpudemak.bsky.social"
PASSWORD = "abcd-efgh-ijkl-mnop"
TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
CEK_DPT = "Pemilu 2029 – cek DPT 👉 https://cekdptonline.kpu.go.id #CekDPT"


def make_account(base_url: str, password: str = PASSWORD, **options) -> Account:
    return Account(name="kpu-demak-bsky", platform="bluesky", handle=HANDLE, api_base_url=base_url,
                   credentials={"app_password": password}, options=options)


@pytest.fixture
def adapter(sandbox):
    return make_adapter(make_account(sandbox.base_url), timeout=5)


def emulator(sandbox):
    return next(e for e in sandbox.emulators if e.name == "bluesky")


def requests_to(sandbox, nsid: str) -> list[dict]:
    return [r for r in sandbox.state.requests if r["path"] == f"/xrpc/{nsid}"]


def stored(sandbox) -> list[dict]:
    return sandbox.posts()["posts"]


def post(key: str = "c1:bluesky", text: str = "Halo pemilih pemula!", **kw) -> OutgoingPost:
    return OutgoingPost(post_id=1, idempotency_key=key, text=text, **kw)


def png(path, colour: int = 0) -> bytes:
    """A valid 1x1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes([0, colour, 0, 0]))) + chunk(b"IEND", b""))
    path.write_bytes(data)
    return data


# --- record keys -----------------------------------------------------------------------------
def test_record_keys_are_deterministic_tids():
    keys = [record_key(f"content-{i}:bluesky") for i in range(2000)]
    assert all(TID.match(k) for k in keys)
    assert len(set(keys)) == len(keys)
    assert record_key("content-1:bluesky") == keys[1]
    thread = part_keys(post(key="k", thread=["dua", "tiga"]))
    assert thread == [record_key("k"), record_key("k-1"), record_key("k-2")]
    assert len(set(thread)) == 3


# --- publishing ------------------------------------------------------------------------------
def test_publish_text(sandbox, adapter):
    ref = adapter.publish(post(text="Halo pemilih pemula! Sudah cek DPT?"))

    rkey = record_key("c1:bluesky")
    assert re.fullmatch(rf"at://did:plc:[a-z2-7]{{24}}/app\.bsky\.feed\.post/{rkey}", ref.platform_post_id)
    assert ref.url == f"https://bsky.app/profile/{HANDLE}/post/{rkey}"
    [saved] = stored(sandbox)
    assert saved["text"] == "Halo pemilih pemula! Sudah cek DPT?"
    assert saved["id"] == ref.platform_post_id and saved["key"] == rkey and saved["account"] == HANDLE
    assert saved["extra"]["facets"] is None and saved["extra"]["embed"] is None
    [login] = requests_to(sandbox, "com.atproto.server.createSession")
    assert json.loads(login["body"]) == {"identifier": HANDLE, "password": redacted(PASSWORD)}  # a fingerprint
    [create] = requests_to(sandbox, "com.atproto.repo.createRecord")
    assert create["headers"]["authorization"].startswith("Bearer ey")
    assert create["headers"]["content-type"] == "application/json"
    body = json.loads(create["body"])
    assert body["repo"] == ref.platform_post_id.split("/")[2]
    assert body["collection"] == "app.bsky.feed.post" and body["rkey"] == rkey
    assert body["record"]["$type"] == "app.bsky.feed.post" and body["record"]["langs"] == ["id"]
    created = datetime.fromisoformat(body["record"]["createdAt"].replace("Z", "+00:00"))
    assert abs((created - datetime.now(timezone.utc)).total_seconds()) < 30


def test_session_is_reused_across_calls(sandbox, adapter):
    adapter.publish(post(key="a"))
    adapter.publish(post(key="b", text="Kedua"))
    adapter.fetch_metrics([stored(sandbox)[0]["id"]])
    assert len(requests_to(sandbox, "com.atproto.server.createSession")) == 1
    assert len(stored(sandbox)) == 2


def test_link_and_hashtag_facets_use_utf8_byte_offsets(sandbox, adapter):
    adapter.publish(post(text=CEK_DPT))

    [saved] = stored(sandbox)
    encoded = CEK_DPT.encode("utf-8")
    link_start = encoded.index(b"https://")
    link_end = link_start + len(b"https://cekdptonline.kpu.go.id")
    tag_start = encoded.index(b"#CekDPT")
    assert link_start != CEK_DPT.index("https://")  # the en dash and the emoji take more than one byte
    facets = saved["extra"]["facets"]
    assert [f["index"] for f in facets] == [
        {"byteStart": link_start, "byteEnd": link_end, "$type": "app.bsky.richtext.facet#byteSlice"},
        {"byteStart": tag_start, "byteEnd": len(encoded), "$type": "app.bsky.richtext.facet#byteSlice"},
    ]
    assert facets[0]["features"] == [{"$type": "app.bsky.richtext.facet#link",
                                      "uri": "https://cekdptonline.kpu.go.id"}]
    assert facets[1]["features"] == [{"$type": "app.bsky.richtext.facet#tag", "tag": "CekDPT"}]
    assert encoded[link_start:link_end].decode() == "https://cekdptonline.kpu.go.id"
    # a link and no images: a link card
    assert saved["extra"]["embed"] == {
        "$type": "app.bsky.embed.external",
        "external": {"$type": "app.bsky.embed.external#external", "uri": "https://cekdptonline.kpu.go.id",
                     "title": "https://cekdptonline.kpu.go.id", "description": ""}}


def test_two_images(sandbox, adapter, tmp_path):
    first, second = png(tmp_path / "jadwal-coklit.png", 10), png(tmp_path / "tps.png", 200)
    adapter.publish(post(text="Jadwal coklit https://kpu.go.id", media=[tmp_path / "jadwal-coklit.png",
                                                                        tmp_path / "tps.png"]))

    uploads = requests_to(sandbox, "com.atproto.repo.uploadBlob")
    assert [u["headers"]["content-type"] for u in uploads] == ["image/png", "image/png"]
    assert all(u["headers"]["authorization"].startswith("Bearer ") for u in uploads)
    assert [int(u["headers"]["content-length"]) for u in uploads] == [len(first), len(second)]
    [saved] = stored(sandbox)
    embed = saved["extra"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images" and len(embed["images"]) == 2
    for image, data in zip(embed["images"], (first, second)):
        assert image["alt"] == ""
        blob = sandbox.state.media[image["image"]["ref"]["$link"]]
        assert blob["size"] == len(data) and blob["mimeType"] == "image/png"
        assert image["image"]["mimeType"] == "image/png" and image["image"]["size"] == len(data)


def test_a_separate_link_is_kept_beside_images(sandbox, adapter, tmp_path):
    # The images take the embed, so the link goes in the text (as validation counted it) with a facet.
    png(tmp_path / "poster.png", 40)
    adapter.publish(post(text="Cek namamu di DPT", link="https://cekdptonline.kpu.go.id",
                         media=[tmp_path / "poster.png"]))
    [saved] = stored(sandbox)
    assert saved["text"] == "Cek namamu di DPT\n\nhttps://cekdptonline.kpu.go.id"
    assert saved["extra"]["embed"]["$type"] == "app.bsky.embed.images"
    assert [f["features"][0].get("uri") for f in saved["extra"]["facets"]] == ["https://cekdptonline.kpu.go.id"]


def test_thread_of_two(sandbox, adapter):
    ref = adapter.publish(post(key="t1", text="Tahapan Pemilu 2029 (1/2)", thread=["Cek DPT di kpu.go.id (2/2)"]))

    root, reply = stored(sandbox)
    assert root["id"] == ref.platform_post_id and root["key"] == record_key("t1")
    assert reply["key"] == record_key("t1-1") and reply["text"] == "Cek DPT di kpu.go.id (2/2)"
    expected = {"uri": root["id"], "cid": root["extra"]["cid"], "$type": "com.atproto.repo.strongRef"}
    assert reply["extra"]["reply"] == {"root": expected, "parent": expected,
                                       "$type": "app.bsky.feed.post#replyRef"}
    assert root["extra"]["reply"] is None
    assert reply["extra"]["facets"][0]["features"][0]["uri"] == "https://kpu.go.id"
    assert reply["extra"]["embed"] is None  # the card goes with the first part only


def test_thread_parts_are_reported_and_a_retry_sends_only_the_rest(sandbox, adapter):
    thread = ["Bagian dua (2/3)", "Bagian tiga (3/3)"]
    sandbox.add_fault("server_error", platform="bluesky", path="createRecord", after=2, count=1)
    live: list[str] = []
    with pytest.raises(RetryableError):
        adapter.publish(post(key="u1", text="Bagian satu (1/3)", thread=thread, on_part=live.append))
    assert live == [p["id"] for p in stored(sandbox)] and len(live) == 2

    adapter.publish(post(key="u1", text="Bagian satu (1/3)", thread=thread, parts_done=tuple(live),
                         on_part=live.append))
    assert live == [p["id"] for p in stored(sandbox)] and len(live) == 3
    assert len(requests_to(sandbox, "com.atproto.repo.createRecord")) == 4  # 2 + the failed one + the last
    found: list[str] = []
    ref = adapter.find_published(post(key="u1", text="Bagian satu (1/3)", thread=thread, on_part=found.append),
                                 datetime.now(timezone.utc))
    assert ref.platform_post_id == live[0] and found == live


@pytest.mark.parametrize("refusal", [
    (500, "InternalServerError", "Internal Server Error"),  # the reference PDS today
    (409, "RecordAlreadyExists", "Record already exists"),
    (400, "InvalidRequest", "Record already exists at this record key"),
])
def test_publishing_twice_leaves_one_record(sandbox, adapter, refusal):
    emulator(sandbox).duplicate_rkey_response = refusal
    again = post(key="dup", text="Sosialisasi #PemiluDamai", thread=["Bagian dua"])
    first = adapter.publish(again)
    second = adapter.publish(again)  # a retry after an unknown outcome

    assert second.platform_post_id == first.platform_post_id
    summary = sandbox.posts()
    assert summary["total"] == 2 and summary["duplicates"] == {}
    assert len(requests_to(sandbox, "com.atproto.repo.createRecord")) == 4  # the server refused the repeats


def test_dropped_create_is_unknown_then_found(sandbox, adapter):
    sandbox.add_fault("drop", platform="bluesky", path="createRecord", count=1)
    outgoing = post(key="drop1", text=CEK_DPT)
    with pytest.raises(UnknownOutcomeError):
        adapter.publish(outgoing)

    found = adapter.find_published(outgoing, since=datetime.now(timezone.utc) - timedelta(hours=1))
    assert found is not None
    assert found.platform_post_id == stored(sandbox)[0]["id"]
    assert found.url.endswith(record_key("drop1")) and found.published_at is not None
    assert adapter.publish(outgoing).platform_post_id == found.platform_post_id
    assert sandbox.posts()["total"] == 1
    [lookup, *_] = requests_to(sandbox, "com.atproto.repo.getRecord")
    assert lookup["query"]["rkey"] == [record_key("drop1")]
    assert lookup["query"]["collection"] == ["app.bsky.feed.post"]


def test_find_published_for_an_unpublished_post_is_none(sandbox, adapter):
    adapter.publish(post(key="other"))
    assert adapter.find_published(post(key="never"), since=datetime.now(timezone.utc)) is None


def test_half_published_thread_is_completed_not_duplicated(sandbox, adapter):
    thread = post(key="half", text="Bagian satu", thread=["Bagian dua"])
    adapter.publish(post(key="half", text="Bagian satu"))  # as if the second part never went out

    assert adapter.find_published(thread, since=datetime.now(timezone.utc)) is None
    ref = adapter.publish(thread)
    root, reply = stored(sandbox)
    assert ref.platform_post_id == root["id"]
    assert reply["extra"]["reply"]["root"]["uri"] == root["id"]
    assert adapter.find_published(thread, since=datetime.now(timezone.utc)).platform_post_id == root["id"]
    assert sandbox.posts()["duplicates"] == {}


# --- failures ------------------------------------------------------------------------------------
def test_rate_limit_is_retryable_with_reset(sandbox, adapter):
    adapter.check_credentials()  # logged in
    sandbox.add_fault("rate_limit", platform="bluesky", path="createRecord", count=1, reset_in=40)
    with pytest.raises(RetryableError) as caught:
        adapter.publish(post())
    assert 37 <= caught.value.retry_after <= 41
    assert caught.value.status == 429 and "RateLimitExceeded" in str(caught.value)
    assert stored(sandbox) == []


def test_server_error_on_create_is_retryable_and_the_retry_publishes_once(sandbox, adapter):
    sandbox.add_fault("server_error", platform="bluesky", path="createRecord", count=1)
    with pytest.raises(RetryableError) as caught:
        adapter.publish(post())
    assert caught.value.status == 500
    assert stored(sandbox) == []
    assert len(requests_to(sandbox, "com.atproto.repo.getRecord")) == 1  # it looked before saying so
    adapter.publish(post())
    assert sandbox.posts()["total"] == 1


def test_bad_password_is_a_credentials_error_without_the_password(sandbox):
    secret = "bad-pass-7q2x-9zzk"
    adapter = make_adapter(make_account(sandbox.base_url, password=secret), timeout=5)
    with pytest.raises(CredentialsError) as caught:
        adapter.publish(post())
    error = caught.value
    shown = str(error) + repr(error) + "".join(traceback.format_exception(error)) + repr(adapter)
    assert secret not in shown
    assert "kpu-demak-bsky" in str(error) and "app password" in str(error)
    assert error.status == 401
    assert requests_to(sandbox, "com.atproto.repo.createRecord") == []


def test_missing_app_password_is_a_credentials_error(sandbox):
    adapter = make_adapter(Account(name="x", platform="bluesky", handle=HANDLE, api_base_url=sandbox.base_url),
                           timeout=5)
    with pytest.raises(CredentialsError):
        adapter.check_credentials()
    assert sandbox.state.requests == []


def test_expired_access_token_is_refreshed_once(sandbox, adapter):
    adapter.publish(post(key="e1"))
    emulator(sandbox).expire_access_tokens()
    adapter.publish(post(key="e2", text="Setelah token kedaluwarsa"))

    assert len(stored(sandbox)) == 2
    assert len(requests_to(sandbox, "com.atproto.server.refreshSession")) == 1
    assert len(requests_to(sandbox, "com.atproto.server.createSession")) == 1
    refused, retried = requests_to(sandbox, "com.atproto.repo.createRecord")[1:]
    assert refused["headers"]["authorization"] != retried["headers"]["authorization"]


def test_revoked_session_logs_in_again(sandbox, adapter):
    adapter.publish(post(key="r1"))
    emulator(sandbox).revoke_sessions()
    adapter.publish(post(key="r2", text="Setelah sesi dicabut"))
    assert len(requests_to(sandbox, "com.atproto.server.createSession")) == 2
    assert len(stored(sandbox)) == 2


def test_over_length_is_refused_before_sending(sandbox, adapter):
    decomposed = "e\u0301"  # one grapheme, two code points
    with pytest.raises(PermanentError) as caught:
        adapter.publish(post(text=decomposed * 301))
    assert "301" in str(caught.value) and "300" in str(caught.value)
    assert requests_to(sandbox, "com.atproto.repo.createRecord") == []
    adapter.publish(post(key="ok", text=decomposed * 300))  # 600 code points, 300 graphemes: fine
    assert len(stored(sandbox)) == 1


def test_the_sandbox_itself_refuses_over_length_and_bad_facets(sandbox):
    client = Client(base_url=sandbox.base_url)
    client.login(HANDLE, PASSWORD, fetch_bsky_profile=False)

    def create(record):
        return client.com.atproto.repo.create_record(
            models.ComAtprotoRepoCreateRecord.Data(repo=HANDLE, collection="app.bsky.feed.post", record=record))

    now = client.get_current_time_iso()
    with pytest.raises(atproto_errors.BadRequestError) as caught:
        create(models.AppBskyFeedPost.Record(text="a" * 301, created_at=now))
    assert caught.value.response.content.error == "InvalidRequest"
    assert caught.value.response.content.message == "Record/text must not be longer than 300 graphemes"
    inside_emoji = CEK_DPT.encode().index("👉".encode()) + 1
    bad = models.AppBskyRichtextFacet.Main(
        index=models.AppBskyRichtextFacet.ByteSlice(byte_start=inside_emoji, byte_end=inside_emoji + 5),
        features=[models.AppBskyRichtextFacet.Tag(tag="x")])
    with pytest.raises(atproto_errors.BadRequestError) as caught:
        create(models.AppBskyFeedPost.Record(text=CEK_DPT, created_at=now, facets=[bad]))
    assert "boundaries" in caught.value.response.content.message
    assert stored(sandbox) == []


def test_image_rules_are_checked_before_sending(sandbox, adapter, tmp_path):
    big = tmp_path / "baliho.jpg"
    big.write_bytes(b"\xff\xd8\xff" + b"0" * 1_000_000)
    many = [tmp_path / f"{i}.png" for i in range(5)]
    for path in many:
        png(path)
    problems = adapter.validate(post(media=[big, tmp_path / "brosur.pdf"]))
    assert any("baliho.jpg" in p and "1,000,000" in p for p in problems)
    assert any("brosur.pdf" in p for p in problems)
    with pytest.raises(PermanentError):
        adapter.publish(post(media=many))
    assert sandbox.state.requests == []


def test_slow_answers_time_out(tmp_path):
    with Sandbox(seed=1, slow_seconds=2) as slow:
        adapter = make_adapter(make_account(slow.base_url), timeout=0.5)
        adapter.check_credentials()
        slow.add_fault("slow", platform="bluesky", path="createRecord", count=1)
        with pytest.raises(UnknownOutcomeError):
            adapter.publish(post(key="slow"))
        slow.add_fault("slow", platform="bluesky", path="getPosts", count=1)
        with pytest.raises(RetryableError):
            adapter.fetch_metrics(["at://did:plc:x/app.bsky.feed.post/3jzfcijpj2z2a"])
        deadline = time.monotonic() + 10  # the slow create finishes storing; reconciliation finds it
        while not slow.posts()["total"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert adapter.find_published(post(key="slow"), since=datetime.now(timezone.utc)) is not None


def test_connection_refused_is_retryable():
    adapter = make_adapter(make_account("http://127.0.0.1:9"), timeout=1)
    with pytest.raises(RetryableError):
        adapter.publish(post())


# --- metrics, search, credentials ---------------------------------------------------------------
def test_metrics_grow(sandbox, adapter):
    ref = adapter.publish(post(text=CEK_DPT))
    first = {s.metric: s.value for s in adapter.fetch_metrics([ref.platform_post_id])}
    assert set(first) == {"likes", "reposts", "replies", "quotes", "saves"}  # no views on Bluesky
    with sandbox.state.lock:
        sandbox.state.posts[0]["created_ts"] -= 6 * 3600 / sandbox.state.speed  # six sandbox hours on
    later = adapter.fetch_metrics([ref.platform_post_id])
    values = {s.metric: s.value for s in later}
    assert values["likes"] > first["likes"] and all(values[m] >= first[m] for m in first)
    assert {s.platform_post_id for s in later} == {ref.platform_post_id}
    [call, _] = requests_to(sandbox, "app.bsky.feed.getPosts")
    assert call["query"]["uris"] == [ref.platform_post_id]


def test_metrics_are_fetched_25_at_a_time(sandbox, adapter):
    assert adapter.metrics_batch_size == 25
    uris = [adapter.publish(post(key=f"m{i}", text=f"Info {i}")).platform_post_id for i in range(26)]
    snapshots = adapter.fetch_metrics(uris + ["at://did:plc:gone/app.bsky.feed.post/3jzfcijpj2z2a"])
    assert {s.platform_post_id for s in snapshots} == set(uris)
    calls = requests_to(sandbox, "app.bsky.feed.getPosts")
    assert [len(c["query"]["uris"]) for c in calls] == [25, 2]


def test_search_mentions(sandbox, adapter):
    since = datetime.now(timezone.utc) - timedelta(seconds=30)
    sandbox.state.add_burst("cek DPT", 7)
    mentions = adapter.search_mentions(["cek DPT"], since=since)

    assert len(mentions) >= 7
    assert len({m.platform_id for m in mentions}) == len(mentions)
    for mention in mentions:
        assert mention.platform == "bluesky" and mention.keyword == "cek DPT"
        assert "cek DPT" in mention.text
        assert mention.author.endswith(".bsky.social")
        rkey = mention.platform_id.rsplit("/", 1)[1]
        assert mention.url == f"https://bsky.app/profile/{mention.author}/post/{rkey}"
        assert mention.created_at >= since - timedelta(seconds=1)
    call = requests_to(sandbox, "app.bsky.feed.searchPosts")[0]
    assert call["query"]["q"] == ["cek DPT"] and call["query"]["sort"] == ["latest"]
    assert datetime.fromisoformat(call["query"]["since"][0].replace("Z", "+00:00")) == since.replace(
        microsecond=since.microsecond // 1000 * 1000)


def test_check_credentials(sandbox, adapter):
    status = adapter.check_credentials()
    assert status.handle == HANDLE and status.display_name == "KPUDEMAK"
    assert status.rate_limit.limit == 3000 and 0 <= status.rate_limit.remaining < 3000
    assert status.rate_limit.resets_at is not None
    [profile] = requests_to(sandbox, "app.bsky.actor.getProfile")
    assert profile["query"]["actor"][0].startswith("did:plc:")
    assert profile["headers"]["authorization"].startswith("Bearer ")


# --- the sandbox's shapes and checks --------------------------------------------------------------
def test_sandbox_answers_validate_against_the_lexicons_strictly(sandbox, adapter):
    """The SDK checks string formats (did, at-uri, cid, datetime, handle) only when asked to."""
    ref = adapter.publish(post(text=CEK_DPT))
    http = httpx.Client(base_url=sandbox.base_url + "/xrpc/")
    session = http.post("com.atproto.server.createSession", json={"identifier": HANDLE, "password": PASSWORD})
    auth = {"Authorization": f"Bearer {session.json()['accessJwt']}"}
    checks = [
        (session, models.ComAtprotoServerCreateSession.Response),
        (http.get("app.bsky.feed.getPosts", params={"uris": ref.platform_post_id}, headers=auth),
         models.AppBskyFeedGetPosts.Response),
        (http.get("app.bsky.feed.searchPosts", params={"q": "pemilu"}, headers=auth),
         models.AppBskyFeedSearchPosts.Response),
        (http.get("com.atproto.repo.getRecord", params={"repo": HANDLE, "collection": "app.bsky.feed.post",
                                                        "rkey": record_key("c1:bluesky")}),
         models.ComAtprotoRepoGetRecord.Response),
        (http.get("app.bsky.actor.getProfile", params={"actor": HANDLE}, headers=auth),
         models.AppBskyActorDefs.ProfileViewDetailed),
    ]
    for answer, model in checks:
        assert answer.status_code == 200, answer.text
        assert answer.headers["ratelimit-limit"] == "3000"
        get_or_create(answer.json(), model, strict_string_format=True)


def test_sandbox_token_checks(sandbox):
    http = httpx.Client(base_url=sandbox.base_url + "/xrpc/")
    body = {"repo": HANDLE, "collection": "app.bsky.feed.post",
            "record": {"$type": "app.bsky.feed.post", "text": "x", "createdAt": "2029-01-01T00:00:00Z"}}
    none = http.post("com.atproto.repo.createRecord", json=body)
    assert (none.status_code, none.json()["error"]) == (401, "AuthenticationRequired")
    forged = http.post("com.atproto.repo.createRecord", json=body, headers={"Authorization": "Bearer a.b.c"})
    assert (forged.status_code, forged.json()["error"]) == (400, "InvalidToken")
    expired = http.post("com.atproto.repo.createRecord", json=body,
                        headers={"Authorization": "Bearer expired.b.c"})
    assert (expired.status_code, expired.json()["error"]) == (400, "ExpiredToken")
    refresh = http.post("com.atproto.server.createSession",
                        json={"identifier": HANDLE, "password": PASSWORD}).json()["refreshJwt"]
    wrong_kind = http.post("com.atproto.repo.createRecord", json=body,
                           headers={"Authorization": f"Bearer {refresh}"})
    assert (wrong_kind.status_code, wrong_kind.json()["error"]) == (400, "InvalidToken")
    refused = http.post("com.atproto.server.createSession", json={"identifier": HANDLE, "password": "bad"})
    assert refused.status_code == 401 and refused.json() == {
        "error": "AuthenticationRequired", "message": "Invalid identifier or password"}
    assert stored(sandbox) == []


def test_sandbox_refuses_images_over_the_record_limit(sandbox):
    client = Client(base_url=sandbox.base_url)
    client.login(HANDLE, PASSWORD, fetch_bsky_profile=False)
    blob = client.upload_blob(b"\x89PNG\r\n\x1a\n" + b"0" * 1_000_000).blob  # the upload itself is allowed
    assert blob.mime_type == "image/png"
    record = models.AppBskyFeedPost.Record(
        text="Baliho", created_at=client.get_current_time_iso(),
        embed=models.AppBskyEmbedImages.Main(images=[models.AppBskyEmbedImages.Image(alt="", image=blob)]))
    with pytest.raises(atproto_errors.BadRequestError) as caught:
        client.com.atproto.repo.create_record(
            models.ComAtprotoRepoCreateRecord.Data(repo=HANDLE, collection="app.bsky.feed.post", record=record))
    assert caught.value.response.content.message == "Record/embed/images/0/image file too big (max 1000000 bytes)"
    assert stored(sandbox) == []
