"""Facebook Page adapter against the sandbox's Graph emulator, over real HTTP with facebook-sdk."""

from __future__ import annotations

import json
import socket
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

import facebook
import pytest
import requests

from planner.platforms import facebook as fb
from planner.platforms.base import (
    Account,
    CredentialsError,
    NotSupported,
    OutgoingPost,
    PermanentError,
    PlatformError,
    RetryableError,
    UnknownOutcomeError,
)
from planner.sandbox import Sandbox
from planner.sandbox.core import redacted

PAGE = "104857600123"
TOKEN = "EAAGpage-token-1234567890"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def make_account(base_url: str, token: str = TOKEN, **options) -> Account:
    return Account(name="humas-fb", platform="facebook", api_base_url=base_url,
                   credentials={"page_access_token": token}, options={"page_id": PAGE, **options})


def make_post(text: str, link: str | None = None, media=(), key: str = "key-1") -> OutgoingPost:
    return OutgoingPost(post_id=1, idempotency_key=key, text=text, link=link, media=tuple(media))


@pytest.fixture
def adapter(sandbox):
    sandbox.page_token(PAGE, TOKEN, name="Humas Sandbox Page")  # TOKEN is the Page token of PAGE
    return fb.create(make_account(sandbox.base_url), timeout=5)


@pytest.fixture
def settled_sandbox():
    """Engagement reaches its ceiling at once, so two reads of the same post give the same values."""
    with Sandbox(seed=1, speed=1e9) as sb:
        yield sb


@pytest.fixture
def images(tmp_path):
    paths = []
    for i in range(3):
        path = tmp_path / f"poster-{i}.png"
        path.write_bytes(PNG + bytes([i]))
        paths.append(path)
    return paths


def graph_requests(sandbox, method: str | None = None, suffix: str | None = None) -> list[dict]:
    return [r for r in sandbox.state.requests if r["platform"] == "graph"
            and (method is None or r["method"] == method)
            and (suffix is None or r["path"].endswith(suffix))]


def form(request: dict) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request["body"], keep_blank_values=True).items()}


def metrics_by_post(snapshots) -> dict[str, dict[str, int]]:
    by_post: dict[str, dict[str, int]] = {}
    for snap in snapshots:
        by_post.setdefault(snap.platform_post_id, {})[snap.metric] = snap.value
    return by_post


def fb_posts(sandbox) -> list[dict]:
    return [p for p in sandbox.posts()["posts"] if p["platform"] == "facebook"]


# --- publishing -----------------------------------------------------------------------------------
def test_text_post_goes_to_the_page_feed_with_the_token_in_the_header(sandbox, adapter):
    ref = adapter.publish(make_post("Vaksinasi gratis di puskesmas, Sabtu ini."))

    assert ref.platform_post_id.startswith(f"{PAGE}_")
    assert ref.url == f"https://www.facebook.com/{ref.platform_post_id}"
    [stored] = fb_posts(sandbox)
    assert stored["id"] == ref.platform_post_id and stored["account"] == PAGE
    assert stored["text"] == "Vaksinasi gratis di puskesmas, Sabtu ini."
    [request] = graph_requests(sandbox, "POST")
    assert request["path"] == f"/v23.0/{PAGE}/feed"
    assert request["headers"]["authorization"] == f"OAuth {redacted(TOKEN)}"  # the log keeps a fingerprint
    assert TOKEN not in request["body"] and "access_token" not in request["query"]


def test_link_post_sends_the_link_param(sandbox, adapter):
    adapter.publish(make_post("Jadwal lengkap:", link="https://dinkes.example.go.id/jadwal"))

    [request] = graph_requests(sandbox, "POST")
    assert form(request) == {"message": "Jadwal lengkap:", "link": "https://dinkes.example.go.id/jadwal"}
    [stored] = fb_posts(sandbox)
    assert stored["extra"]["link"] == "https://dinkes.example.go.id/jadwal"


def test_one_photo_is_a_multipart_upload_with_the_message(sandbox, adapter, images):
    ref = adapter.publish(make_post("Foto kegiatan", link="https://example.go.id/a", media=images[:1]))

    [request] = graph_requests(sandbox, "POST")
    assert request["path"] == f"/v23.0/{PAGE}/photos"
    assert request["headers"]["content-type"].startswith("multipart/form-data")
    assert 'name="source"; filename="poster-0.png"' in request["body"]
    [stored] = fb_posts(sandbox)
    assert stored["id"] == ref.platform_post_id
    assert stored["text"] == "Foto kegiatan\n\nhttps://example.go.id/a"  # photos take no link param
    assert len(stored["extra"]["photos"]) == 1


def test_three_photos_are_uploaded_unpublished_then_attached_to_one_feed_post(sandbox, adapter, images):
    ref = adapter.publish(make_post("Tiga foto", media=images))

    uploads = graph_requests(sandbox, "POST", "/photos")
    assert len(uploads) == 3
    assert all('name="published"\r\n\r\nfalse' in r["body"] for r in uploads)
    photo_ids = [pid for pid, m in sandbox.state.media.items() if m.get("kind") == "fb_photo"]
    [feed] = graph_requests(sandbox, "POST", "/feed")
    body = form(feed)
    assert [json.loads(body[f"attached_media[{i}]"])["media_fbid"] for i in range(3)] == photo_ids
    [stored] = fb_posts(sandbox)  # the unpublished uploads are not posts
    assert stored["id"] == ref.platform_post_id
    assert stored["extra"]["attached_media"] == photo_ids


def test_repeated_status_is_refused_as_duplicate(sandbox, adapter):
    adapter.publish(make_post("Sama persis"))
    with pytest.raises(PermanentError, match="Duplicate status message"):
        adapter.publish(make_post("Sama persis"))
    assert len(fb_posts(sandbox)) == 1


def test_missing_media_file_is_permanent_and_sends_nothing(sandbox, adapter, tmp_path):
    with pytest.raises(PermanentError, match="missing.png"):
        adapter.publish(make_post("x", media=[tmp_path / "missing.png"]))
    assert graph_requests(sandbox) == []


def test_every_request_uses_graph_v23(sandbox, adapter, images):
    ref = adapter.publish(make_post("Versi", media=images[:2]))
    adapter.fetch_metrics([ref.platform_post_id])
    adapter.check_credentials()

    paths = [r["path"] for r in graph_requests(sandbox)]
    assert paths and all(p.startswith("/v23.0/") for p in paths)
    assert fb.GRAPH_VERSION == "v23.0"


def test_sandbox_refuses_old_graph_versions(sandbox, adapter):
    adapter.client.api.version = "v3.1"
    with pytest.raises(PermanentError, match="deprecated version"):
        adapter.check_credentials()


def test_sandbox_requires_an_access_token(sandbox):
    answer = requests.get(f"{sandbox.base_url}/v23.0/me", timeout=5)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == 104


# --- failures ---------------------------------------------------------------------------------------
def test_throttling_is_retryable_after_the_time_from_the_usage_header(sandbox, adapter):
    sandbox.add_fault("rate_limit", platform="graph", method="POST", count=1, reset_in=300)

    with pytest.raises(RetryableError) as caught:
        adapter.publish(make_post("Terlalu cepat"))

    assert caught.value.retry_after == 300  # estimated_time_to_regain_access: 5 minutes
    assert "too many calls" in caught.value.message
    assert fb_posts(sandbox) == []


def test_server_error_is_retryable(sandbox, adapter):
    sandbox.add_fault("server_error", platform="graph", count=1)
    with pytest.raises(RetryableError):
        adapter.publish(make_post("Coba lagi"))


def test_expired_token_asks_to_reconnect_without_showing_the_token(sandbox):
    token = "expired-EAAG-secret-987654"
    adapter = fb.create(make_account(sandbox.base_url, token=token), timeout=5)

    with pytest.raises(CredentialsError) as caught:
        adapter.publish(make_post("Halo"))

    error = caught.value
    assert "reconnect account humas-fb" in str(error)
    assert token not in str(error) and token not in repr(error.args)
    assert error.__cause__ is None and error.__suppress_context__
    assert fb_posts(sandbox) == []


def test_missing_token_is_a_credentials_error(sandbox):
    account = Account(name="humas-fb", platform="facebook", api_base_url=sandbox.base_url,
                      credentials={}, options={"page_id": PAGE})
    with pytest.raises(CredentialsError, match="humas-fb"):
        fb.create(account, timeout=5)


def test_drop_on_publish_is_unknown_and_reconciliation_finds_exactly_one(sandbox, adapter):
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    post = make_post("Pengumuman penting", link="https://example.go.id/p")
    adapter.publish(make_post("Post lain sebelumnya"))
    sandbox.add_fault("drop", platform="graph", method="POST", path=r"/feed$", count=1)

    with pytest.raises(UnknownOutcomeError):
        adapter.publish(post)

    found = adapter.find_published(post, since)
    matching = [p for p in fb_posts(sandbox) if p["text"] == "Pengumuman penting"]
    assert len(matching) == 1
    assert found is not None and found.platform_post_id == matching[0]["id"]
    listing = graph_requests(sandbox, "GET", "/published_posts")[-1]
    assert listing["query"]["fields"] == ["id,message,created_time"]
    assert int(listing["query"]["since"][0]) == int(since.timestamp())


def test_find_published_pages_through_and_is_none_when_absent(sandbox, adapter, monkeypatch):
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    for i in range(5):
        adapter.publish(make_post(f"Post nomor {i}"))
    monkeypatch.setattr(fb, "FIND_PAGE_SIZE", 2)

    assert adapter.find_published(make_post("Tidak pernah dikirim"), since) is None
    assert len(graph_requests(sandbox, "GET", "/published_posts")) == 3  # 2 + 2 + 1 posts
    found = adapter.find_published(make_post("post   NOMOR 0"), since)  # the oldest, on the last page
    assert found is not None and found.published_at is not None
    assert found.platform_post_id == fb_posts(sandbox)[0]["id"]


def test_find_published_cannot_tell_beyond_its_page_budget(sandbox, adapter, monkeypatch):
    for i in range(3):
        adapter.publish(make_post(f"Banyak {i}"))
    monkeypatch.setattr(fb, "FIND_PAGE_SIZE", 1)
    monkeypatch.setattr(fb, "FIND_PAGES", 2)
    with pytest.raises(PlatformError, match="cannot tell"):
        adapter.find_published(make_post("Tidak ada"), datetime.now(timezone.utc) - timedelta(hours=1))


def test_read_timeout_on_publish_is_unknown_outcome():
    with Sandbox(seed=1, slow_seconds=2) as slow:
        adapter = fb.create(make_account(slow.base_url), timeout=0.5)
        slow.add_fault("slow", platform="graph", method="POST", count=1)
        with pytest.raises(UnknownOutcomeError):
            adapter.publish(make_post("Lambat"))


def test_base_url_is_per_account_not_global(sandbox):
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    sandbox.page_token(PAGE, TOKEN)
    good = fb.create(make_account(sandbox.base_url), timeout=5)
    bad = fb.create(make_account(dead), timeout=2)

    with pytest.raises(RetryableError):
        bad.check_credentials()
    assert good.check_credentials().handle
    assert facebook.FACEBOOK_GRAPH_URL == "https://graph.facebook.com/"


# --- metrics, credentials, mentions ---------------------------------------------------------------------
def test_metrics_come_from_one_multi_id_read_with_the_insights_expanded(sandbox, adapter):
    refs = [adapter.publish(make_post(f"Metrik {i}")).platform_post_id for i in range(3)]

    snapshots = adapter.fetch_metrics(refs)

    by_post = metrics_by_post(snapshots)
    assert set(by_post) == set(refs)
    for values in by_post.values():
        assert set(values) == {"views", "reach", "clicks", "likes", "replies", "reposts"}
    [multi] = graph_requests(sandbox, "GET")
    assert multi["path"] == "/v23.0/"
    assert multi["query"]["ids"] == [",".join(refs)]
    fields = multi["query"]["fields"][0]
    assert "reactions" in fields and f"insights.metric({','.join(fb.POST_METRICS)})" in fields
    assert graph_requests(sandbox, "GET", "/insights") == []
    assert adapter.metrics_batch_size == 50


def test_metrics_for_120_posts_take_three_requests_and_match_the_per_post_path(settled_sandbox):
    adapter = fb.create(make_account(settled_sandbox.base_url), timeout=5)
    refs = [adapter.publish(make_post(f"Banyak metrik {i}")).platform_post_id for i in range(120)]

    batched = metrics_by_post(adapter.fetch_metrics(refs))

    reads = graph_requests(settled_sandbox, "GET")
    assert [r["query"]["ids"][0].split(",") for r in reads] == [refs[:50], refs[50:100], refs[100:]]
    assert graph_requests(settled_sandbox, "GET", "/insights") == []
    per_post_adapter = fb.create(make_account(settled_sandbox.base_url), timeout=5)
    per_post_adapter.client.expand_insights = False
    per_post = metrics_by_post(per_post_adapter.fetch_metrics(refs))
    assert len(graph_requests(settled_sandbox, "GET", "/insights")) == 120
    assert batched == per_post
    assert len(batched) == 120 and all(values["views"] > 0 for values in batched.values())


def test_metrics_values_match_what_the_platform_reports(sandbox, adapter):
    ref = adapter.publish(make_post("Nilai")).platform_post_id
    snapshots = {s.metric: s.value for s in adapter.fetch_metrics([ref])}
    engagement = sandbox.state.engagement(sandbox.state.find_post("facebook", ref))
    assert snapshots["likes"] == engagement["likes"]
    assert snapshots["replies"] == engagement["replies"]
    assert abs(snapshots["views"] - engagement["views"]) <= engagement["views"] // 10 + 2


def test_one_rejected_metric_does_not_lose_the_others(sandbox, adapter):
    ref = adapter.publish(make_post("Metrik lama")).platform_post_id
    adapter.post_metrics = fb.POST_METRICS + ("post_impressions",)  # deprecated in 2025

    names = {s.metric for s in adapter.fetch_metrics([ref])}

    assert {"views", "reach", "clicks", "likes", "replies", "reposts"} <= names
    assert "impressions" not in names
    expanded, plain = graph_requests(sandbox, "GET", "/v23.0/")
    assert "insights.metric(" in expanded["query"]["fields"][0]  # refused: the whole read fails
    assert "post_impressions" in expanded["query"]["fields"][0]
    assert plain["query"]["fields"] == [fb.OBJECT_FIELDS]
    insights = graph_requests(sandbox, "GET", "/insights")
    assert "post_impressions" in insights[0]["query"]["metric"][0]  # the combined request, refused
    assert [r["query"]["metric"][0] for r in insights[1:]] == list(adapter.post_metrics)


def test_after_a_rejected_metric_the_adapter_goes_straight_to_the_per_post_path(sandbox, adapter, caplog):
    ref = adapter.publish(make_post("Metrik lama lagi")).platform_post_id
    adapter.post_metrics = fb.POST_METRICS + ("post_impressions",)
    adapter.fetch_metrics([ref])
    reads_before = len(graph_requests(sandbox, "GET", "/v23.0/"))

    names = {s.metric for s in adapter.fetch_metrics([ref])}

    assert {"views", "reach", "clicks", "likes", "replies", "reposts"} <= names
    [read] = graph_requests(sandbox, "GET", "/v23.0/")[reads_before:]
    assert read["query"]["fields"] == [fb.OBJECT_FIELDS]  # no second try of the expansion
    [warning] = [r for r in caplog.records if "per unggahan" in r.getMessage()]  # the log line, in Indonesian
    assert warning.levelname == "WARNING" and "facebook" in warning.getMessage()


def test_metrics_skip_posts_that_no_longer_exist(sandbox, adapter):
    ref = adapter.publish(make_post("Masih ada")).platform_post_id
    snapshots = adapter.fetch_metrics([ref, f"{PAGE}_999"])
    assert {s.platform_post_id for s in snapshots} == {ref}


def test_a_deleted_post_in_an_expanded_read_costs_the_others_nothing(sandbox, adapter):
    refs = [adapter.publish(make_post(f"Tetap ada {i}")).platform_post_id for i in range(2)]

    by_post = metrics_by_post(adapter.fetch_metrics([refs[0], f"{PAGE}_999", refs[1]]))

    assert set(by_post) == set(refs)
    for values in by_post.values():
        assert set(values) == {"views", "reach", "clicks", "likes", "replies", "reposts"}
    reads = graph_requests(sandbox, "GET", "/v23.0/")
    assert len(reads) == 4  # the read of all three, refused, then one by one
    assert all("insights.metric(" in r["query"]["fields"][0] for r in reads)
    assert graph_requests(sandbox, "GET", "/insights") == []
    assert adapter.client.expand_insights  # a deleted post is not a rejected metric


def test_a_deleted_post_and_a_rejected_metric_in_one_batch(sandbox, adapter):
    refs = [adapter.publish(make_post(f"Campur {i}")).platform_post_id for i in range(2)]
    adapter.post_metrics = ("post_impressions",) + fb.POST_METRICS

    by_post = metrics_by_post(adapter.fetch_metrics([f"{PAGE}_999", *refs]))

    assert set(by_post) == set(refs)
    for values in by_post.values():
        assert {"views", "reach", "clicks", "likes", "replies", "reposts"} <= set(values)
    assert not adapter.client.expand_insights


# --- the sandbox's insights expansion -------------------------------------------------------------------
def graph_get(sandbox, path: str, **params) -> requests.Response:
    return requests.get(f"{sandbox.base_url}/v23.0/{path}", params=params,
                        headers={"Authorization": f"OAuth {TOKEN}"}, timeout=5)


def test_sandbox_expands_insights_on_a_post_like_the_insights_edge(settled_sandbox):
    adapter = fb.create(make_account(settled_sandbox.base_url), timeout=5)
    ref = adapter.publish(make_post("Satu post")).platform_post_id

    node = graph_get(settled_sandbox, ref, fields="id,insights.metric(post_clicks,post_media_view)")
    edge = graph_get(settled_sandbox, f"{ref}/insights", metric="post_clicks,post_media_view")

    assert node.status_code == 200 and edge.status_code == 200
    assert node.json() == {"id": ref, "insights": edge.json()}
    assert [item["name"] for item in edge.json()["data"]] == ["post_clicks", "post_media_view"]


@pytest.mark.parametrize("fields, code", [
    ("insights.metric(post_clicks,post_impressions)", 100),
    ("insights", 3001),
    ("insights.metric()", 3001),
])
def test_sandbox_insights_expansion_fails_like_the_insights_edge(sandbox, adapter, fields, code):
    refs = [adapter.publish(make_post(f"Galat {i}")).platform_post_id for i in range(2)]
    metric = fields.partition("(")[2].rstrip(")")

    multi = graph_get(sandbox, "", ids=",".join(refs), fields=f"shares,{fields}")
    edge = graph_get(sandbox, f"{refs[0]}/insights", metric=metric)

    assert multi.status_code == edge.status_code == 400
    assert multi.json()["error"]["code"] == edge.json()["error"]["code"] == code
    assert multi.json()["error"]["message"] == edge.json()["error"]["message"]


def test_check_credentials_reports_the_page_and_usage(sandbox, adapter):
    status = adapter.check_credentials()
    assert status.display_name.startswith("Humas Sandbox")
    assert status.rate_limit and 0 <= status.rate_limit.usage_percent <= 100
    [request] = graph_requests(sandbox, "GET", "/me")
    assert request["query"]["fields"] == ["id,name"]
    assert status.handle == PAGE


def test_check_refuses_a_token_of_another_page_naming_both(sandbox):
    """/me with a Page token is that Page: a token of another Page (or a person's token) is not PAGE's."""
    other = sandbox.page_token("104857600999", name="Dinas Kominfo Demak")
    with pytest.raises(CredentialsError) as refused:
        fb.create(make_account(sandbox.base_url, token=other), timeout=5).check_credentials()
    message = refused.value.message
    assert "Dinas Kominfo Demak (104857600999)" in message and f"not to the Page {PAGE}" in message
    assert "planner account connect humas-fb" in message


def test_check_refuses_a_token_the_sandbox_never_issued(sandbox):
    with pytest.raises(CredentialsError, match="access token expired or invalid"):
        fb.create(make_account(sandbox.base_url, token="EAAGnever-issued-0001"), timeout=5).check_credentials()


def test_search_mentions_is_not_supported(adapter):
    with pytest.raises(NotSupported):
        adapter.search_mentions(["vaksin"], None)
