"""Instagram's image aspect ratio (4:5 to 1.91:1) is checked by the adapter too, before any container is
made: a file changed after validation is refused with its ratio instead of failing at processing."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from planner.i18n import set_language
from planner.platforms import make_adapter
from planner.platforms.base import Account, OutgoingPost, PermanentError

POSTER = Path(__file__).resolve().parents[2] / "campaigns" / "media" / "cek-dpt-poster.jpg"  # 1080 x 1080


def tall_jpeg(path: Path) -> Path:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, 1920, 1080, 3) + bytes(9)  # 1080 x 1920 (9:16)
    path.write_bytes(b"\xff\xd8" + app0 + sof + b"\xff\xd9")
    return path


def ig_adapter(sandbox):
    return make_adapter(Account(name="kpu_ig", platform="instagram", api_base_url=sandbox.base_url,
                                credentials={"access_token": "EAAGig-user-token-1234567890"},
                                options={"ig_user_id": "17841400000000123",
                                         "media_base_url": "https://kab-demak.kpu.go.id/media"}), timeout=5)


def test_an_image_outside_the_ratio_is_refused_before_any_container(sandbox, tmp_path):
    set_language("en")
    try:
        with pytest.raises(PermanentError) as caught:
            ig_adapter(sandbox).publish(OutgoingPost(post_id=1, idempotency_key="rasio-1", text="Cek DPT",
                                                     media=(tall_jpeg(tmp_path / "tinggi.jpg"),)))
    finally:
        set_language("id")
    assert "1080×1920" in caught.value.message and "0.56:1" in caught.value.message, caught.value.message
    assert not [r for r in sandbox.state.requests if r["method"] == "POST"], "no container may be made"


def test_a_square_image_goes_out(sandbox, tmp_path):
    square = shutil.copy(POSTER, tmp_path / "persegi.jpg")
    ig_adapter(sandbox).publish(OutgoingPost(post_id=1, idempotency_key="rasio-2", text="Cek DPT",
                                             media=(Path(square),)))
    assert sandbox.posts()["total"] == 1


def test_the_sandbox_instagram_fails_the_container_of_an_image_outside_the_ratio(sandbox, tmp_path):
    """Our own checks bypassed: the file on disk is square (the adapter's check passes), while the office's web
    server, where Instagram downloads from, holds a tall image under that name. The sandbox reads what it
    downloads and fails the container (status ERROR), as Instagram does."""
    hosted = tmp_path / "web"
    hosted.mkdir()
    tall_jpeg(hosted / "poster.jpg")
    base = sandbox.serve_media(hosted)
    local = shutil.copy(POSTER, tmp_path / "poster.jpg")
    adapter = make_adapter(Account(name="kpu_ig", platform="instagram", api_base_url=sandbox.base_url,
                                   credentials={"access_token": "EAAGig-user-token-1234567890"},
                                   options={"ig_user_id": "17841400000000123", "media_base_url": base}), timeout=5)

    with pytest.raises(PermanentError) as caught:
        adapter.publish(OutgoingPost(post_id=1, idempotency_key="rasio-3", text="Cek DPT", media=(Path(local),)))

    assert "ERROR" in caught.value.message and "aspect ratio (1080/1920)" in caught.value.message
    assert sandbox.posts()["total"] == 0
    [container] = [m for m in sandbox.state.media.values() if m.get("kind") == "ig_container"]
    assert container["image_url"] == f"{base}/poster.jpg" and container["media_id"] is None


def test_the_sandbox_instagram_publishes_a_hosted_image_inside_the_ratio(sandbox, tmp_path):
    hosted = tmp_path / "web"
    hosted.mkdir()
    shutil.copy(POSTER, hosted / "poster.jpg")
    base = sandbox.serve_media(hosted)
    adapter = make_adapter(Account(name="kpu_ig", platform="instagram", api_base_url=sandbox.base_url,
                                   credentials={"access_token": "EAAGig-user-token-1234567890"},
                                   options={"ig_user_id": "17841400000000123", "media_base_url": base}), timeout=5)
    adapter.publish(OutgoingPost(post_id=1, idempotency_key="rasio-4", text="Cek DPT",
                                 media=(Path(shutil.copy(POSTER, tmp_path / "poster.jpg")),)))
    assert sandbox.posts()["total"] == 1
