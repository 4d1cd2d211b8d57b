"""Bluesky rich text as Bluesky documents it: @mentions resolved to DIDs as mention facets, and link cards
with the page's own title, description and picture, through atproto to the sandbox."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from planner.platforms import make_adapter
from planner.platforms.base import Account, OutgoingPost
from planner.platforms.bluesky import fetch_link_preview, mentions_in

HANDLE = "kpudemak.bsky.social"
POSTER = Path(__file__).resolve().parents[2] / "campaigns" / "media" / "cek-dpt-poster.jpg"


def adapter(sandbox):
    return make_adapter(Account(name="kpu-demak-bsky", platform="bluesky", handle=HANDLE,
                                api_base_url=sandbox.base_url, credentials={"app_password": "abcd-efgh-ijkl-mnop"}),
                        timeout=5)


def record_of(sandbox) -> dict:
    [stored] = sandbox.posts()["posts"]
    return stored["extra"]


def test_mentions_become_facets_with_the_did_and_unknown_handles_stay_text(sandbox):
    text = "Terima kasih @kpu.go.id dan @bawaslu.go.id! Salam untuk @tidakada.bsky.social 🙏"
    adapter(sandbox).publish(OutgoingPost(post_id=1, idempotency_key="sebut-1", text=text))
    facets = record_of(sandbox)["facets"]
    encoded = text.encode("utf-8")
    mentions = [(encoded[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode(), f["features"][0]["did"])
                for f in facets if f["features"][0]["$type"] == "app.bsky.richtext.facet#mention"]
    assert mentions == [("@kpu.go.id", "did:plc:kpuri7sandbox2024aaaaaa"),
                        ("@bawaslu.go.id", "did:plc:bawaslu7sandbox2024aaa")]
    resolved = [r for r in sandbox.state.requests if r["path"] == "/xrpc/com.atproto.identity.resolveHandle"]
    assert len(resolved) == 3  # each handle asked once


def test_mention_offsets_count_utf8_bytes():
    text = "Halo 👋 @kpu.go.id"
    [(start, end, handle)] = mentions_in(text)
    assert handle == "kpu.go.id" and text.encode()[start:end] == b"@kpu.go.id"
    assert mentions_in("@kpu.go.id di awal") == [(0, 10, "kpu.go.id")]
    assert mentions_in("surel humas@kpu.go.id bukan sebutan") == []


def test_link_card_has_the_page_s_title_description_and_picture(sandbox, tmp_path):
    site = tmp_path / "situs"
    site.mkdir()
    shutil.copy(POSTER, site / "sampul.jpg")
    (site / "dpt.html").write_text(
        '<html><head><title>Judul cadangan</title>'
        '<meta property="og:title" content="Cek DPT Online &amp; TPS">'
        '<meta property="og:description" content="Pastikan namamu terdaftar sebagai pemilih.">'
        '<meta property="og:image" content="sampul.jpg"></head><body>...</body></html>', "utf-8")
    base = sandbox.serve_media(site)
    link = f"{base}/dpt.html"
    adapter(sandbox).publish(OutgoingPost(post_id=1, idempotency_key="kartu-1", text="Cek DPT-mu", link=link))
    external = record_of(sandbox)["embed"]["external"]
    assert external["uri"] == link
    assert external["title"] == "Cek DPT Online & TPS"
    assert external["description"] == "Pastikan namamu terdaftar sebagai pemilih."
    assert external["thumb"]["mimeType"] == "image/jpeg" and external["thumb"]["size"] == POSTER.stat().st_size


def test_link_card_without_an_answer_is_the_bare_link(sandbox):
    link = f"{sandbox.base_url}/_sandbox/media/tidak-ada.html"
    adapter(sandbox).publish(OutgoingPost(post_id=1, idempotency_key="kartu-2", text="Info", link=link))
    external = record_of(sandbox)["embed"]["external"]
    assert external["title"] == link and external["description"] == "" and "thumb" not in external


def test_link_preview_reads_a_bounded_part_of_the_page(sandbox, tmp_path):
    site = tmp_path / "besar"
    site.mkdir()
    (site / "besar.html").write_text("<html><head><title>Halaman besar</title></head><body>"
                                     + "x" * 2_000_000 + "</body></html>", "utf-8")
    base = sandbox.serve_media(site)
    assert fetch_link_preview(f"{base}/besar.html") == {"title": "Halaman besar", "description": ""}
    assert fetch_link_preview("ftp://example.org/") == {}
