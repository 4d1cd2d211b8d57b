"""Instagram business adapter against the sandbox's Graph emulator, over real HTTP with facebook-sdk."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from planner.platforms import instagram as ig
from planner.sandbox import Sandbox, graph_api
from planner.sandbox.core import redacted
from planner.platforms.base import (
    Account,
    CredentialsError,
    NotSupported,
    OutgoingPost,
    PermanentError,
    RateLimit,
    RetryableError,
    UnknownOutcomeError,
)

IG_USER = "17841400000000123"
TOKEN = "EAAGig-user-token-1234567890"
MEDIA_BASE = "https://media.humas.example.go.id/kampanye"


def make_account(base_url: str, token: str = TOKEN, **options) -> Account:
    opts = {"ig_user_id": IG_USER, "media_base_url": MEDIA_BASE, **options}
    return Account(name="humas-ig", platform="instagram", api_base_url=base_url,
                   credentials={"access_token": token},
                   options={k: v for k, v in opts.items() if v is not None})


def make_post(text: str, link: str | None = None, media=(Path("poster.jpg"),)) -> OutgoingPost:
    return OutgoingPost(post_id=7, idempotency_key="key-7", text=text, link=link, media=tuple(media))


@pytest.fixture
def adapter(sandbox):
    return ig.create(make_account(sandbox.base_url), timeout=5)


def graph_requests(sandbox, method: str | None = None, suffix: str | None = None) -> list[dict]:
    return [r for r in sandbox.state.requests if r["platform"] == "graph"
            and (method is None or r["method"] == method)
            and (suffix is None or r["path"].endswith(suffix))]


def form(request: dict) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request["body"], keep_blank_values=True).items()}


def metrics_by_media(snapshots) -> dict[str, dict[str, int]]:
    by_media: dict[str, dict[str, int]] = {}
    for snap in snapshots:
        by_media.setdefault(snap.platform_post_id, {})[snap.metric] = snap.value
    return by_media


def ig_posts(sandbox) -> list[dict]:
    return [p for p in sandbox.posts()["posts"] if p["platform"] == "instagram"]


# --- publishing -----------------------------------------------------------------------------------
def test_single_image_container_is_polled_then_published(sandbox, adapter):
    ref = adapter.publish(make_post("Cek status BPJS Anda", link="https://bpjs.example.go.id/cek",
                                    media=[Path("/campaign/media/poster bpjs.jpg")]))

    [create] = graph_requests(sandbox, "POST", "/media")
    assert create["path"] == f"/v23.0/{IG_USER}/media"
    assert create["headers"]["authorization"] == f"OAuth {redacted(TOKEN)}"
    body = form(create)
    assert body["image_url"] == f"{MEDIA_BASE}/poster%20bpjs.jpg"
    assert body["caption"] == "Cek status BPJS Anda\n\nhttps://bpjs.example.go.id/cek"
    container = sandbox.state.media
    [container_id] = [cid for cid, m in container.items() if m.get("kind") == "ig_container"]
    polls = [r for r in graph_requests(sandbox, "GET", f"/{container_id}")
             if "status_code" in r["query"].get("fields", [""])[0]]
    assert len(polls) >= 2  # IN_PROGRESS first, FINISHED after a short wait
    [publish] = graph_requests(sandbox, "POST", "/media_publish")
    assert form(publish) == {"creation_id": container_id}
    [stored] = ig_posts(sandbox)
    assert stored["id"] == ref.platform_post_id and stored["account"] == IG_USER
    assert stored["text"] == body["caption"]
    assert ref.url == stored["extra"]["permalink"]
    assert all(r["path"].startswith("/v23.0/") for r in graph_requests(sandbox))


def test_carousel_of_three(sandbox, adapter):
    media = [Path(f"foto-{i}.jpg") for i in range(3)]
    ref = adapter.publish(make_post("Galeri kegiatan", media=media))

    creates = [form(r) for r in graph_requests(sandbox, "POST", "/media")]
    assert len(creates) == 4
    items, carousel = creates[:3], creates[3]
    assert [c["image_url"] for c in items] == [f"{MEDIA_BASE}/foto-{i}.jpg" for i in range(3)]
    assert all(c["is_carousel_item"] == "true" and "caption" not in c for c in items)
    assert carousel["media_type"] == "CAROUSEL" and carousel["caption"] == "Galeri kegiatan"
    child_ids = [cid for cid, m in sandbox.state.media.items() if m.get("carousel_item")]
    assert carousel["children"] == ",".join(child_ids)
    [stored] = ig_posts(sandbox)
    assert stored["id"] == ref.platform_post_id
    assert stored["extra"]["media_type"] == "CAROUSEL_ALBUM"
    assert stored["extra"]["children"] == child_ids


def test_missing_media_base_url_fails_before_any_request(sandbox):
    account = make_account(sandbox.base_url, media_base_url=None)
    assert "media_base_url" in ig.media_url_problem(account)
    assert ig.media_url_problem(make_account(sandbox.base_url)) is None
    adapter = ig.create(account, timeout=5)

    with pytest.raises(PermanentError, match="set `media_base_url`"):
        adapter.publish(make_post("Tanpa URL media"))
    assert sandbox.state.requests == []


def test_text_only_post_is_refused_before_any_request(sandbox, adapter):
    with pytest.raises(PermanentError, match="at least one image"):
        adapter.publish(make_post("Hanya teks", media=()))
    assert sandbox.state.requests == []


def test_caption_over_2200_characters_is_refused_by_the_platform(sandbox, adapter):
    with pytest.raises(PermanentError, match="caption is too long"):
        adapter.publish(make_post("a" * 2201))
    assert ig_posts(sandbox) == []
    assert graph_requests(sandbox, "POST", "/media_publish") == []


def test_more_than_30_hashtags_are_refused(sandbox, adapter):
    with pytest.raises(PermanentError, match="hashtags"):
        adapter.publish(make_post(" ".join(f"#tag{i}" for i in range(31))))
    assert ig_posts(sandbox) == []


def test_container_in_error_is_permanent_with_the_status(sandbox, adapter):
    with pytest.raises(PermanentError, match="container ERROR.*Only JPEG"):
        adapter.publish(make_post("Format PNG", media=[Path("poster.png")]))
    assert graph_requests(sandbox, "POST", "/media_publish") == []
    assert ig_posts(sandbox) == []


# --- failures and reconciliation -----------------------------------------------------------------------
def test_drop_on_media_publish_is_unknown_and_reconciliation_finds_it(sandbox, adapter):
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    adapter.publish(make_post("Post sebelumnya"))
    post = make_post("Pendaftaran dibuka", link="https://example.go.id/daftar")
    sandbox.add_fault("drop", platform="graph", method="POST", path=r"/media_publish$", count=1)

    with pytest.raises(UnknownOutcomeError):
        adapter.publish(post)

    found = adapter.find_published(post, since)
    matching = [p for p in ig_posts(sandbox) if p["text"].startswith("Pendaftaran dibuka")]
    assert len(matching) == 1
    assert found is not None and found.platform_post_id == matching[0]["id"]
    assert found.url == matching[0]["extra"]["permalink"]
    listing = graph_requests(sandbox, "GET", f"/{IG_USER}/media")[-1]
    assert listing["query"]["fields"] == ["id,caption,timestamp,permalink"]


def test_find_published_is_none_when_absent(sandbox, adapter, monkeypatch):
    for i in range(3):
        adapter.publish(make_post(f"Ada {i}"))
    monkeypatch.setattr(ig, "FIND_PAGE_SIZE", 2)
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    assert adapter.find_published(make_post("Tidak ada"), since) is None
    assert adapter.find_published(make_post("ada 0"), since) is not None  # on the second page


def test_container_creation_drop_is_retryable_not_unknown(sandbox, adapter):
    sandbox.add_fault("drop", platform="graph", method="POST", path=r"/media$", count=1)
    with pytest.raises(RetryableError):
        adapter.publish(make_post("Kontainer hilang"))
    assert ig_posts(sandbox) == []


def test_throttling_on_publish_is_retryable_with_the_header_time(sandbox, adapter):
    sandbox.add_fault("rate_limit", platform="graph", method="POST", path=r"/media_publish$",
                      count=1, reset_in=120)
    with pytest.raises(RetryableError) as caught:
        adapter.publish(make_post("Pelan-pelan"))
    assert caught.value.retry_after == 120
    assert ig_posts(sandbox) == []


def test_content_publishing_limit_reached_is_retryable_later(sandbox, adapter, monkeypatch):
    monkeypatch.setattr(graph_api, "PUBLISH_QUOTA", 1)
    adapter.publish(make_post("Kuota satu"))
    with pytest.raises(RetryableError, match="publishing limit") as caught:
        adapter.publish(make_post("Kuota habis"))
    assert caught.value.retry_after == 3600
    assert adapter.check_credentials().rate_limit == RateLimit(published=1, quota=1, window_hours=24)


def test_expired_token_is_a_credentials_error_without_the_token(sandbox):
    token = "expired-IGQ-secret-5555"
    adapter = ig.create(make_account(sandbox.base_url, token=token), timeout=5)
    with pytest.raises(CredentialsError) as caught:
        adapter.check_credentials()
    assert "reconnect account humas-ig" in str(caught.value)
    assert token not in str(caught.value)


# --- metrics, credentials, mentions ------------------------------------------------------------------------
def test_metrics_are_mapped_to_our_names(sandbox, adapter):
    ref = adapter.publish(make_post("Metrik IG")).platform_post_id

    values = {s.metric: s.value for s in adapter.fetch_metrics([ref])}

    assert set(values) == {"views", "reach", "likes", "replies", "reposts", "saves", "engagements"}
    assert values["engagements"] == values["likes"] + values["replies"] + values["reposts"] + values["saves"]
    [request] = graph_requests(sandbox, "GET", "/v23.0/")
    assert request["query"]["ids"] == [ref]
    assert request["query"]["fields"] == [
        "insights.metric(views,reach,likes,comments,shares,saved,total_interactions)"]
    assert graph_requests(sandbox, "GET", "/insights") == []


def test_metrics_for_60_media_take_two_requests_and_match_the_per_media_path(monkeypatch):
    monkeypatch.setattr(graph_api, "CONTAINER_READY_AFTER", 0)  # no waiting for processing here
    monkeypatch.setattr(graph_api, "PUBLISH_QUOTA", 100)
    with Sandbox(seed=1, speed=1e9) as settled:  # engagement at its ceiling: values do not move
        adapter = ig.create(make_account(settled.base_url), timeout=5)
        refs = [adapter.publish(make_post(f"Media {i}")).platform_post_id for i in range(60)]

        batched = metrics_by_media(adapter.fetch_metrics(refs))

        reads = graph_requests(settled, "GET", "/v23.0/")
        assert [r["query"]["ids"][0].split(",") for r in reads] == [refs[:50], refs[50:]]
        assert graph_requests(settled, "GET", "/insights") == []
        per_media_adapter = ig.create(make_account(settled.base_url), timeout=5)
        per_media_adapter.client.expand_insights = False
        assert metrics_by_media(per_media_adapter.fetch_metrics(refs)) == batched
        assert len(graph_requests(settled, "GET", "/insights")) == 60
        assert len(batched) == 60 and all(values["views"] > 0 for values in batched.values())


def test_deprecated_impressions_metric_does_not_lose_the_others(sandbox, adapter, caplog):
    ref = adapter.publish(make_post("Impressions sudah usang")).platform_post_id
    adapter.media_metrics = ("impressions",) + ig.MEDIA_METRICS
    everything = {"views", "reach", "likes", "replies", "reposts", "saves", "engagements"}

    assert {s.metric for s in adapter.fetch_metrics([ref])} == everything

    expanded, plain = graph_requests(sandbox, "GET", "/v23.0/")
    assert expanded["query"]["fields"][0].startswith("insights.metric(impressions,")
    assert plain["query"]["fields"] == ["id"]
    assert len(graph_requests(sandbox, "GET", "/insights")) == 1 + len(adapter.media_metrics)

    assert {s.metric for s in adapter.fetch_metrics([ref])} == everything  # straight to the per-media path
    assert len(graph_requests(sandbox, "GET", "/v23.0/")) == 3
    assert graph_requests(sandbox, "GET", "/v23.0/")[-1]["query"]["fields"] == ["id"]
    # In the user's language (Indonesian by default): "... insights diminta per unggahan".
    [warning] = [r for r in caplog.records if "post by post" in r.getMessage() or "per unggahan" in r.getMessage()]
    assert "instagram" in warning.getMessage()


def test_metrics_skip_media_that_no_longer_exist(sandbox, adapter):
    refs = [adapter.publish(make_post(f"Masih ada {i}")).platform_post_id for i in range(2)]
    deleted = str(int(refs[1]) + 999)

    by_media = metrics_by_media(adapter.fetch_metrics([refs[0], deleted, refs[1]]))

    assert set(by_media) == set(refs)
    assert all(len(values) == 7 for values in by_media.values())
    assert graph_requests(sandbox, "GET", "/insights") == []
    assert adapter.client.expand_insights


def test_check_credentials_reports_the_content_publishing_limit(sandbox, adapter):
    adapter.publish(make_post("Satu"))
    status = adapter.check_credentials()

    assert status.handle == f"@humas_{IG_USER[-6:]}"
    assert status.rate_limit == RateLimit(published=1, quota=50, window_hours=24)
    [limit] = graph_requests(sandbox, "GET", "/content_publishing_limit")
    assert limit["query"]["fields"] == ["quota_usage,config"]


def test_search_mentions_is_not_supported(adapter):
    with pytest.raises(NotSupported):
        adapter.search_mentions(["#vaksin"], None)
