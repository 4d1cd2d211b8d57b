"""Video and GIF on every platform (issue 13 item 1): each through the platform's real flow over HTTP to
the sandbox, and what a platform cannot take refused at validation with the reason. The files are made here, a few hundred bytes each:
a minimal MP4 (ftyp + moov/mvhd + mdat) and a two-frame animated GIF."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import pytest

from planner.platforms import make_adapter
from planner.platforms.base import Account, OutgoingPost, PermanentError

# --- media made in the test ---------------------------------------------------------------------------


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def mp4_bytes(seconds: float, *, payload: bytes = b"\x00" * 64, brand: bytes = b"isom", timescale: int = 600,
              version: int = 0) -> bytes:
    """An MP4 whose movie header ('mvhd') says ``seconds``; ``brand`` b"qt  " makes a QuickTime file."""
    tail = struct.pack(">IH10x36s24xI", 0x00010000, 0x0100, b"\x00" * 36, 2)  # rate, volume, matrix, next id
    if version == 1:
        mvhd = b"\x01\x00\x00\x00" + struct.pack(">QQIQ", 0, 0, timescale, round(seconds * timescale)) + tail
    else:
        mvhd = b"\x00\x00\x00\x00" + struct.pack(">IIII", 0, 0, timescale, round(seconds * timescale)) + tail
    ftyp = _box(b"ftyp", brand + struct.pack(">I", 512) + brand + b"mp41")
    return ftyp + _box(b"moov", _box(b"mvhd", mvhd)) + _box(b"mdat", payload)


def gif_bytes(frames: int = 2, width: int = 1, height: int = 1) -> bytes:
    """An animated GIF89a of ``width`` x ``height`` pixels (NETSCAPE loop, ``frames`` frames of one pixel each)."""
    head = b"GIF89a" + struct.pack("<HH", width, height) + b"\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    frame = b"\x21\xf9\x04\x04\x0a\x00\x00\x00" + b"\x2c" + struct.pack("<HHHH", 0, 0, 1, 1) + b"\x00" \
        + b"\x02\x02\x44\x01\x00"
    return head + loop + frame * frames + b"\x3b"


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xc8\x1e\x1e")) + chunk(b"IEND", b""))


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def outgoing(text: str, media, key: str = "k-video") -> OutgoingPost:
    return OutgoingPost(post_id=1, idempotency_key=key, text=text, media=tuple(Path(m) for m in media))


def posts_of(sandbox, platform: str) -> list[dict]:
    return [p for p in sandbox.posts()["posts"] if p["platform"] == platform]


# --- X: chunked upload --------------------------------------------------------------------------------
X_TOKEN = "tok-humas-video-1234"


def x_adapter(sandbox):
    account = Account("humas-x", "x", handle="humasx", api_base_url=sandbox.base_url,
                      credentials={"bearer_token": X_TOKEN})
    return make_adapter(account, timeout=5.0)


def x_commands(sandbox) -> list[tuple[str, str | None, str | None]]:
    """(command, media_id, segment_index) of every media upload request, in order, read from the bodies."""
    found = []
    for request in sandbox.state.requests:
        if request["path"] != "/2/media/upload":
            continue
        if request["method"] == "GET":
            found.append(("STATUS", request["query"]["media_id"][0], None))
            continue
        fields = dict(re.findall(r'name="(\w+)"\r\n\r\n([^\r]*)\r\n', request["body"]))
        found.append((fields.get("command", "ONE-SHOT"), fields.get("media_id"), fields.get("segment_index")))
    return found


def test_x_video_goes_through_init_append_finalize_status_then_one_tweet(sandbox, tmp_path):
    video = write(tmp_path / "sosialisasi.mp4", mp4_bytes(12.5, payload=b"v" * 2500))
    adapter = x_adapter(sandbox)
    adapter.chunk_bytes = 1024  # three APPEND segments

    ref = adapter.publish(outgoing("Sosialisasi pemilu: video lengkap.", [video]))

    [tweet] = posts_of(sandbox, "x")
    assert tweet["id"] == ref.platform_post_id
    [media_id] = tweet["extra"]["media"]
    commands = x_commands(sandbox)
    assert [c[0] for c in commands[:5]] == ["INIT", "APPEND", "APPEND", "APPEND", "FINALIZE"]
    assert [c[2] for c in commands if c[0] == "APPEND"] == ["0", "1", "2"]
    assert {c[1] for c in commands[1:]} == {media_id}
    assert commands[-1][0] == "STATUS"  # polled after check_after_secs until it succeeded
    init_body = next(r["body"] for r in sandbox.state.requests if "INIT" in r["body"])
    assert "tweet_video" in init_body and "video/mp4" in init_body
    assert sandbox.state.media[media_id]["state"] == "succeeded"


def test_x_interrupted_append_is_sent_again_with_the_same_media_id_and_index(sandbox, tmp_path):
    video = write(tmp_path / "sosialisasi.mp4", mp4_bytes(12.5, payload=b"v" * 2500))
    adapter = x_adapter(sandbox)
    adapter.chunk_bytes = 1024
    # INIT and APPEND 0 pass; APPEND 1 is stored by X but its answer never arrives.
    sandbox.add_fault("drop", platform="x", path=r"^/2/media/upload$", method="POST", count=1, after=2)

    adapter.publish(outgoing("Sosialisasi pemilu: video lengkap.", [video]))

    appends = [c for c in x_commands(sandbox) if c[0] == "APPEND"]
    assert [c[2] for c in appends] == ["0", "1", "1", "2"]
    assert len({c[1] for c in appends}) == 1
    assert len([c for c in x_commands(sandbox) if c[0] == "INIT"]) == 1
    assert len(posts_of(sandbox, "x")) == 1  # one tweet, with the whole video
    [tweet] = posts_of(sandbox, "x")
    assert sandbox.state.media[tweet["extra"]["media"][0]]["size"] == len(video.read_bytes())


def test_x_append_failing_every_time_is_retryable_and_the_next_attempt_posts_once(sandbox, tmp_path):
    from planner.platforms.base import RetryableError

    video = write(tmp_path / "sosialisasi.mp4", mp4_bytes(12.5, payload=b"v" * 2500))
    adapter = x_adapter(sandbox)
    adapter.chunk_bytes = 1024
    sandbox.add_fault("server_error", platform="x", path=r"^/2/media/upload$", method="POST", count=3, after=2)

    with pytest.raises(RetryableError):
        adapter.publish(outgoing("Sosialisasi pemilu: video lengkap.", [video]))
    assert posts_of(sandbox, "x") == []  # nothing public: the upload is simply started again later

    adapter.publish(outgoing("Sosialisasi pemilu: video lengkap.", [video]))
    assert len(posts_of(sandbox, "x")) == 1
    assert len([c for c in x_commands(sandbox) if c[0] == "INIT"]) == 2


def test_x_gif_uses_the_chunked_upload_with_tweet_gif(sandbox, tmp_path):
    gif = write(tmp_path / "jadwal.gif", gif_bytes())

    x_adapter(sandbox).publish(outgoing("Jadwal coblosan (animasi).", [gif]))

    assert [c[0] for c in x_commands(sandbox)][:3] == ["INIT", "APPEND", "FINALIZE"]
    init_body = next(r["body"] for r in sandbox.state.requests if "INIT" in r["body"])
    assert "tweet_gif" in init_body and "image/gif" in init_body
    assert len(posts_of(sandbox, "x")) == 1


def _x_upload(sandbox, files=None, data=None, method="POST", params=None):
    import requests

    return requests.request(method, sandbox.base_url + "/2/media/upload", files=files, data=data, params=params,
                            headers={"Authorization": f"Bearer {X_TOKEN}"}, timeout=5)


def _x_init(sandbox, media_type="video/mp4", total=100, category="tweet_video"):
    return _x_upload(sandbox, files={"command": (None, "INIT"), "media_type": (None, media_type),
                                     "total_bytes": (None, str(total)), "media_category": (None, category)})


def _x_append(sandbox, media_id, index, data):
    return _x_upload(sandbox, files={"command": (None, "APPEND"), "media_id": (None, media_id),
                                     "segment_index": (None, str(index)), "media": ("blob", data)})


def test_x_sandbox_is_as_strict_as_x(sandbox):
    # The one-shot upload takes still images only: a GIF is refused there.
    gif = _x_upload(sandbox, files={"media": ("a.gif", gif_bytes(), "image/gif")},
                    data={"media_category": "tweet_image"})
    assert gif.status_code == 400 and "chunked" in gif.text
    # INIT: the category must fit the type, and the size the category.
    assert _x_init(sandbox, category="tweet_image").status_code == 400
    assert _x_init(sandbox, "image/gif", category="tweet_video").status_code == 400
    assert _x_init(sandbox, total=512 * 1024 * 1024 + 1).status_code == 400
    assert _x_init(sandbox, "image/gif", 15 * 1024 * 1024 + 1, "tweet_gif").status_code == 400
    # APPEND out of order, FINALIZE before every byte, tweeting unprocessed media: refused.
    data = mp4_bytes(3, payload=b"x" * 100)
    media_id = _x_init(sandbox, total=len(data)).json()["data"]["id"]
    assert _x_append(sandbox, media_id, 1, data[:50]).status_code == 400
    assert _x_append(sandbox, media_id, 0, data[:50]).status_code == 200
    finalize = {"command": (None, "FINALIZE"), "media_id": (None, media_id)}
    early = _x_upload(sandbox, files=finalize)
    assert early.status_code == 400 and "FINALIZE" in early.text
    assert _x_append(sandbox, media_id, 1, data[50:]).status_code == 200
    assert _x_upload(sandbox, files=finalize).status_code == 200
    import requests

    tweet = requests.post(sandbox.base_url + "/2/tweets", json={"text": "x", "media": {"media_ids": [media_id]}},
                          headers={"Authorization": f"Bearer {X_TOKEN}"}, timeout=5)
    assert tweet.status_code == 400  # still processing


def test_x_video_longer_than_140_seconds_is_refused_before_any_upload(sandbox, tmp_path):
    video = write(tmp_path / "panjang.mp4", mp4_bytes(141))

    with pytest.raises(PermanentError) as caught:
        x_adapter(sandbox).publish(outgoing("Video terlalu panjang.", [video]))

    assert "141" in caught.value.message and "140" in caught.value.message
    assert x_commands(sandbox) == [] and posts_of(sandbox, "x") == []


# --- Telegram: sendVideo, sendAnimation, albums with video ---------------------------------------------
TG_TOKEN = "123456789:" + "AAH" + "v" * 32


def tg_adapter(sandbox):
    account = Account("kanal-kpu", "telegram", api_base_url=sandbox.base_url,
                      credentials={"bot_token": TG_TOKEN}, options={"chat_id": "@kpudemak"})
    return make_adapter(account, timeout=5.0)


def tg_methods(sandbox) -> list[str]:
    return [r["path"].rsplit("/", 1)[-1] for r in sandbox.state.requests if r["platform"] == "telegram"]


def test_telegram_video_goes_out_with_send_video_and_the_caption(sandbox, tmp_path):
    video = write(tmp_path / "debat.mp4", mp4_bytes(30))

    tg_adapter(sandbox).publish(outgoing("Cuplikan debat kandidat.", [video]))

    assert tg_methods(sandbox) == ["sendVideo"]
    [sent] = posts_of(sandbox, "telegram")
    assert sent["text"] == "Cuplikan debat kandidat." and sent["extra"]["video_bytes"] == [len(video.read_bytes())]


def test_telegram_gif_goes_out_with_send_animation(sandbox, tmp_path):
    gif = write(tmp_path / "jadwal.gif", gif_bytes())

    tg_adapter(sandbox).publish(outgoing("Jadwal coblosan.", [gif]))

    assert tg_methods(sandbox) == ["sendAnimation"]
    assert posts_of(sandbox, "telegram")[0]["extra"]["animation"] == 1


def test_telegram_album_mixes_photos_and_videos(sandbox, tmp_path):
    photo = write(tmp_path / "poster.png", png_bytes())
    video = write(tmp_path / "debat.mp4", mp4_bytes(5))

    tg_adapter(sandbox).publish(outgoing("Poster dan video.", [photo, video]))

    assert tg_methods(sandbox) == ["sendMediaGroup"]
    assert posts_of(sandbox, "telegram")[0]["extra"]["kinds"] == ["photo", "video"]


def test_telegram_sandbox_refuses_what_the_bot_api_refuses(sandbox):
    import requests

    base = f"{sandbox.base_url}/bot{TG_TOKEN}"
    as_video = requests.post(f"{base}/sendVideo", data={"chat_id": "@kpudemak"},
                             files={"video": ("a.gif", gif_bytes())}, timeout=5)
    assert as_video.status_code == 400  # a GIF is not an MPEG-4 video
    big = requests.post(f"{base}/sendAnimation", data={"chat_id": "@kpudemak"},
                        files={"animation": ("a.gif", gif_bytes() + b"\x00" * (50 * 1024 * 1024))}, timeout=30)
    assert big.status_code == 413
    album = requests.post(f"{base}/sendMediaGroup", data={"chat_id": "@kpudemak", "media": (
        '[{"type": "animation", "media": "attach://a"}, {"type": "photo", "media": "attach://b"}]')},
        files={"a": ("a.gif", gif_bytes()), "b": ("b.jpg", b"\xff\xd8\xff\xe0")}, timeout=5)
    assert album.status_code == 400  # no animation in an album


# --- Facebook Page video --------------------------------------------------------------------------------
FB_PAGE = "102030405060708"


def fb_adapter(sandbox):
    account = Account("humas-fb", "facebook", api_base_url=sandbox.base_url,
                      credentials={"page_access_token": "EAAGpage-token-video-1234"}, options={"page_id": FB_PAGE})
    return make_adapter(account, timeout=5.0)


def test_facebook_video_goes_to_page_videos_with_the_text_as_description(sandbox, tmp_path):
    video = write(tmp_path / "debat.mp4", mp4_bytes(95, version=1))

    ref = fb_adapter(sandbox).publish(outgoing("Debat kandidat, rekaman lengkap.", [video]))

    [stored] = posts_of(sandbox, "facebook")
    assert stored["id"] == ref.platform_post_id == f"{FB_PAGE}_{stored['extra']['video']}"
    assert stored["text"] == "Debat kandidat, rekaman lengkap."
    [upload] = [r for r in sandbox.state.requests if r["path"].endswith(f"/{FB_PAGE}/videos")]
    assert 'name="description"' in upload["body"] and 'name="source"' in upload["body"]
    assert not [r for r in sandbox.state.requests if r["path"].endswith("/photos")]
    # The post is found again by its text (reconciliation after a lost answer).
    from datetime import datetime, timedelta, timezone

    found = fb_adapter(sandbox).find_published(outgoing("Debat kandidat, rekaman lengkap.", [video]),
                                               datetime.now(timezone.utc) - timedelta(minutes=5))
    assert found is not None and found.platform_post_id == ref.platform_post_id


def test_facebook_sandbox_refuses_a_non_video_and_a_message_param(sandbox):
    import requests

    url = f"{sandbox.base_url}/v23.0/{FB_PAGE}/videos"
    headers = {"Authorization": "OAuth EAAGpage-token-video-1234"}
    not_video = requests.post(url, files={"source": ("a.mp4", gif_bytes())}, data={"description": "x"},
                              headers=headers, timeout=5)
    assert not_video.status_code == 400 and "format" in not_video.text
    too_long = requests.post(url, files={"source": ("a.mp4", mp4_bytes(20 * 60 + 1))}, headers=headers, timeout=5)
    assert too_long.status_code == 400
    assert posts_of(sandbox, "facebook") == []


# --- Instagram Reels ---------------------------------------------------------------------------------------
IG_USER = "17841400000000123"
IG_MEDIA_BASE = "https://media.humas.example.go.id/kampanye"


def ig_adapter(sandbox):
    account = Account("humas-ig", "instagram", api_base_url=sandbox.base_url,
                      credentials={"access_token": "EAAGig-user-token-video"},
                      options={"ig_user_id": IG_USER, "media_base_url": IG_MEDIA_BASE})
    return make_adapter(account, timeout=5.0)


def test_instagram_video_is_a_reels_container_polled_until_finished(sandbox, tmp_path):
    video = write(tmp_path / "sosialisasi tps.mp4", mp4_bytes(20))

    ref = ig_adapter(sandbox).publish(outgoing("Cara mencoblos di TPS #pemilu", [video]))

    [created] = [r for r in sandbox.state.requests if r["method"] == "POST" and r["path"].endswith(f"/{IG_USER}/media")]
    assert "media_type=REELS" in created["body"]
    assert "video_url=" + "https%3A%2F%2Fmedia.humas.example.go.id%2Fkampanye%2Fsosialisasi%2520tps.mp4" \
        in created["body"]
    polls = [r for r in sandbox.state.requests if r["method"] == "GET" and "status_code" in str(r["query"])]
    assert len(polls) >= 4  # a Reel is still IN_PROGRESS where an image would be FINISHED
    [media] = posts_of(sandbox, "instagram")
    assert media["id"] == ref.platform_post_id
    assert media["extra"]["media_product_type"] == "REELS" and media["extra"]["media_type"] == "VIDEO"


def test_instagram_reel_still_processing_after_its_budget_is_retried_later_without_a_post(sandbox, tmp_path):
    from planner.platforms.base import RetryableError

    video = write(tmp_path / "sosialisasi.mp4", mp4_bytes(20))
    adapter = ig_adapter(sandbox)
    adapter.reels_budget = 0.5

    with pytest.raises(RetryableError):
        adapter.publish(outgoing("Cara mencoblos di TPS", [video]))
    assert posts_of(sandbox, "instagram") == []


# --- validation: what a platform cannot take is refused, with the reason ----------------------------------
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    from planner.config import load_config

    root = tmp_path_factory.mktemp("video-kerja")
    config_path = root / "config.toml"
    config_path.write_text((REPO / "config.example.toml").read_text("utf-8"), "utf-8")
    config_path.chmod(0o600)
    media = root / "campaigns" / "media"
    media.mkdir(parents=True)
    write(media / "klip.mp4", mp4_bytes(30))
    write(media / "panjang.mp4", mp4_bytes(141))
    write(media / "tiga-menit-lebih.mp4", mp4_bytes(181))
    write(media / "pendek.mp4", mp4_bytes(2))
    write(media / "quicktime.mp4", mp4_bytes(30, brand=b"qt  "))
    write(media / "tanpa-header.mp4", b"\0\0\0\x18ftypmp42" + b"\0" * 100)
    write(media / "animasi.gif", gif_bytes())
    write(media / "lebar.gif", gif_bytes(2, 1281, 1080))  # X: at most 1280x1080
    write(media / "banyak-bingkai.gif", gif_bytes(351))  # X: at most 350 frames
    write(media / "berat.gif", gif_bytes(220, 1280, 1080))  # X: 304 million pixels over all frames, at most 300
    write(media / "pas.gif", gif_bytes(217, 1280, 1080))  # 299.98 million: just fits
    write(media / "poster.png", png_bytes())
    write(media / "foto.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 64)
    return root, load_config(config_path)


def validate(workspace, channel: str, media: list[str]):
    import tomlkit
    from datetime import date, datetime

    from planner.campaign_files import load_campaign

    root, config = workspace
    doc = {"campaign": {"id": "uji-video", "name": "Uji video", "timezone": "Asia/Jakarta",
                        "start": date(2027, 2, 1), "end": date(2027, 2, 28), "channels": [channel]},
           "goal": {"objective": "Uji", "kpi": [{"metric": "reach", "target": 100}]},
           "audience": [{"id": "pemula", "description": "Pemilih pemula"}],
           "content": [{"id": "video", "text": "Cuplikan sosialisasi pemilu.", "at": datetime(2027, 2, 3, 9),
                        "media": [f"media/{name}" for name in media]}]}
    path = root / "campaigns" / "uji.toml"
    path.write_text(tomlkit.dumps(doc), "utf-8")
    from datetime import timezone

    return load_campaign(path, config, now=datetime(2027, 1, 1, tzinfo=timezone.utc))


def problems(loaded) -> list[tuple[str, str, str]]:
    """(code, Indonesian message, English message) of every problem."""
    from planner.i18n import set_language

    found = []
    for problem in loaded.problems:
        set_language("en")
        english = problem.what() + " " + problem.fix()
        set_language("id")
        found.append((problem.code, problem.what() + " " + problem.fix(), english))
    return found


@pytest.mark.parametrize("channel, media", [
    ("kpu_x", ["klip.mp4"]), ("kpu_x", ["animasi.gif"]), ("kpu_x", ["pas.gif"]), ("kpu_fb", ["klip.mp4"]),
    ("kpu_ig", ["klip.mp4"]),
    ("kpu_telegram", ["klip.mp4"]), ("kpu_telegram", ["animasi.gif"]), ("kpu_telegram", ["poster.png", "klip.mp4"]),
    ("kpu_telegram", ["lebar.gif"]), ("kpu_telegram", ["banyak-bingkai.gif"]),  # X's GIF limits are X's only
    ("kpu_mastodon", ["klip.mp4"]), ("kpu_bluesky", ["klip.mp4"]),
])
def test_validation_accepts_what_each_platform_takes(workspace, channel, media):
    assert problems(validate(workspace, channel, media)) == []


def test_validation_refuses_a_video_too_long_for_x_with_both_lengths(workspace):
    [(code, indonesian, english)] = problems(validate(workspace, "kpu_x", ["panjang.mp4"]))
    assert code == "media_too_long"
    assert "141" in indonesian and "140 detik" in indonesian and "140 seconds" in english


def test_validation_refuses_a_gif_larger_than_x_takes_naming_the_limit(workspace):
    [(code, indonesian, english)] = problems(validate(workspace, "kpu_x", ["lebar.gif"]))
    assert code == "media_pixels"
    assert "1281×1080" in indonesian and "1280×1080" in indonesian and "lebar.gif" in indonesian
    assert "at most 1280×1080 pixels" in english


def test_validation_refuses_a_gif_with_more_frames_than_x_takes(workspace):
    [(code, indonesian, english)] = problems(validate(workspace, "kpu_x", ["banyak-bingkai.gif"]))
    assert code == "media_frames"
    assert "351 bingkai" in indonesian and "paling banyak 350 bingkai" in indonesian and "350 frames" in english


def test_validation_refuses_a_gif_over_x_total_pixels(workspace):
    [(code, indonesian, _)] = problems(validate(workspace, "kpu_x", ["berat.gif"]))
    assert code == "media_total_pixels"
    assert "305 juta" in indonesian and "300 juta" in indonesian and "220 bingkai" in indonesian


def test_x_adapter_refuses_an_oversized_gif_before_any_upload(sandbox, tmp_path):
    gif = write(tmp_path / "lebar.gif", gif_bytes(2, 1281, 1080))
    with pytest.raises(PermanentError) as caught:
        x_adapter(sandbox).publish(outgoing("Jadwal coblosan (animasi).", [gif]))
    assert "1280×1080" in caught.value.message
    assert not [r for r in sandbox.state.requests if r["path"] == "/2/media/upload"]


@pytest.mark.parametrize("data, reason", [
    (gif_bytes(2, 1281, 1080), "1281x1080 exceeds 1280x1080"),
    (gif_bytes(351), "351 frames, more than 350"),
    (gif_bytes(220, 1280, 1080), "more than 300000000"),
])
def test_x_sandbox_fails_processing_of_a_gif_over_x_limits(sandbox, data, reason):
    import time

    media_id = _x_init(sandbox, "image/gif", len(data), "tweet_gif").json()["data"]["id"]
    assert _x_append(sandbox, media_id, 0, data).status_code == 200
    assert _x_upload(sandbox, files={"command": (None, "FINALIZE"), "media_id": (None, media_id)}).status_code == 200
    time.sleep(1.1)  # the sandbox's processing time (check_after_secs)
    status = _x_upload(sandbox, method="GET", params={"command": "STATUS", "media_id": media_id}).json()
    info = status["data"]["processing_info"]
    assert info["state"] == "failed" and reason in info["error"]["message"]


def test_x_sandbox_processes_a_gif_within_x_limits(sandbox):
    import time

    data = gif_bytes(217, 1280, 1080)
    media_id = _x_init(sandbox, "image/gif", len(data), "tweet_gif").json()["data"]["id"]
    assert _x_append(sandbox, media_id, 0, data).status_code == 200
    assert _x_upload(sandbox, files={"command": (None, "FINALIZE"), "media_id": (None, media_id)}).status_code == 200
    time.sleep(1.1)
    status = _x_upload(sandbox, method="GET", params={"command": "STATUS", "media_id": media_id}).json()
    assert status["data"]["processing_info"]["state"] == "succeeded"


def test_validation_refuses_a_reel_under_three_seconds(workspace):
    [(code, indonesian, _)] = problems(validate(workspace, "kpu_ig", ["pendek.mp4"]))
    assert code == "media_too_short" and "3 detik" in indonesian


def test_validation_refuses_a_video_in_an_instagram_carousel_or_beside_a_gif_on_telegram(workspace):
    assert [p[0] for p in problems(validate(workspace, "kpu_telegram", ["poster.png", "animasi.gif"]))] \
        == ["media_alone"]
    [(code, indonesian, _)] = problems(validate(workspace, "kpu_ig", ["foto.jpg", "klip.mp4"]))
    assert code == "media_alone" and "klip.mp4" in indonesian


def test_validation_refuses_a_bluesky_video_over_three_minutes_or_not_mp4(workspace):
    [(code, indonesian, _)] = problems(validate(workspace, "kpu_bluesky", ["tiga-menit-lebih.mp4"]))
    assert code == "media_too_long" and "181" in indonesian and "180 detik" in indonesian
    [(code, _, english)] = problems(validate(workspace, "kpu_bluesky", ["quicktime.mp4"]))
    assert code == "media_format" and "MOV" in english


def test_validation_refuses_quicktime_for_telegram_and_a_video_without_a_movie_header(workspace):
    [(code, indonesian, _)] = problems(validate(workspace, "kpu_telegram", ["quicktime.mp4"]))
    assert code == "media_format" and "MOV" in indonesian and "MP4" in indonesian
    [(code, _, english)] = problems(validate(workspace, "kpu_x", ["tanpa-header.mp4"]))
    assert code == "media_duration_unknown" and "mvhd" in english


# --- Mastodon (already uploading video) and Bluesky (refused) -------------------------------------------------
def test_mastodon_video_and_gif_are_uploaded_as_media_attachments(sandbox, tmp_path):
    account = Account("humas-demak", "mastodon", handle="@humas", api_base_url=sandbox.base_url,
                      credentials={"access_token": "sandbox-token-humas-demak-0001"})
    adapter = make_adapter(account, timeout=5.0)
    adapter.publish(outgoing("Video sosialisasi.", [write(tmp_path / "klip.mp4", mp4_bytes(30))], key="m-1"))
    adapter.publish(outgoing("Animasi jadwal.", [write(tmp_path / "jadwal.gif", gif_bytes())], key="m-2"))

    statuses = posts_of(sandbox, "mastodon")
    assert len(statuses) == 2 and all(len(s["extra"]["media_ids"]) == 1 for s in statuses)


def bsky_adapter(sandbox):
    account = Account("kpu-demak-bsky", "bluesky", handle="kpudemak.bsky.social", api_base_url=sandbox.base_url,
                      credentials={"app_password": "abcd-efgh-ijkl-mnop"},
                      options={"video_service_url": sandbox.base_url})
    return make_adapter(account, timeout=5.0)


def bsky_calls(sandbox) -> list[str]:
    return [r["path"].rsplit("/", 1)[-1] for r in sandbox.state.requests if r["platform"] == "bluesky"]


def test_bluesky_video_goes_through_the_video_service_then_the_video_embed(sandbox, tmp_path):
    video = write(tmp_path / "klip.mp4", mp4_bytes(30))

    ref = bsky_adapter(sandbox).publish(outgoing("Video sosialisasi.", [video]))

    calls = bsky_calls(sandbox)
    assert calls[-4:] == ["app.bsky.video.uploadVideo", "app.bsky.video.getJobStatus",
                          "app.bsky.video.getJobStatus", "com.atproto.repo.createRecord"]
    assert "com.atproto.server.getServiceAuth" in calls and "com.atproto.repo.uploadBlob" not in calls
    # Two service tokens: one for the upload limits (asked first), one for the upload itself.
    limits, auth = [r for r in sandbox.state.requests if r["path"].endswith("getServiceAuth")]
    assert limits["query"]["lxm"] == ["app.bsky.video.getUploadLimits"]
    assert auth["query"]["lxm"] == ["com.atproto.repo.uploadBlob"] and auth["query"]["aud"][0].startswith("did:web:")
    assert calls.index("app.bsky.video.getUploadLimits") < calls.index("app.bsky.video.uploadVideo")
    [stored] = posts_of(sandbox, "bluesky")
    assert stored["id"] == ref.platform_post_id
    embed = stored["extra"]["embed"]
    assert embed["$type"] == "app.bsky.embed.video" and embed["video"]["mimeType"] == "video/mp4"
    assert embed["video"]["size"] == len(video.read_bytes())


def test_bluesky_video_over_three_minutes_is_refused_before_any_request(sandbox, tmp_path):
    video = write(tmp_path / "klip.mp4", mp4_bytes(181))  # e.g. the file was replaced after validation
    with pytest.raises(PermanentError) as caught:
        bsky_adapter(sandbox).publish(outgoing("Video sosialisasi.", [video]))
    assert "181" in caught.value.message and "180" in caught.value.message
    assert bsky_calls(sandbox) == []


@pytest.mark.parametrize("limit, reason", [
    ("email", "User is not allowed to upload videos"),
    ("daily", "You have reached your daily upload limit"),
])
def test_bluesky_video_is_refused_when_the_account_may_not_upload_today(sandbox, tmp_path, limit, reason):
    from planner.i18n import set_language

    emulator = next(e for e in sandbox.emulators if e.name == "bluesky")
    if limit == "email":
        emulator.unverified_email.add("kpudemak.bsky.social")
    else:
        import time

        did = bsky_adapter(sandbox)._me().did
        emulator.video_uploads[(did, time.strftime("%Y-%m-%d", time.gmtime()))] = [25, 25 * 1_000_000]
    video = write(tmp_path / "klip.mp4", mp4_bytes(30))
    set_language("id")
    with pytest.raises(PermanentError) as caught:
        bsky_adapter(sandbox).publish(outgoing("Video sosialisasi.", [video]))
    message = caught.value.message
    assert "tidak boleh mengunggah video 'klip.mp4'" in message and reason in message and "kpu-demak-bsky" in message
    calls = bsky_calls(sandbox)
    assert "app.bsky.video.getUploadLimits" in calls
    assert "app.bsky.video.uploadVideo" not in calls and "com.atproto.repo.createRecord" not in calls
    assert posts_of(sandbox, "bluesky") == []


def test_bluesky_sandbox_counts_daily_video_uploads(sandbox, tmp_path):
    import requests

    adapter = bsky_adapter(sandbox)
    adapter.publish(outgoing("Video sosialisasi.", [write(tmp_path / "klip.mp4", mp4_bytes(30))]))
    session = requests.post(f"{sandbox.base_url}/xrpc/com.atproto.server.createSession",
                            json={"identifier": "kpudemak.bsky.social", "password": "abcd-efgh-ijkl-mnop"},
                            timeout=5).json()
    bearer = {"Authorization": f"Bearer {session['accessJwt']}"}

    def service_token(lxm: str) -> str:
        return requests.get(f"{sandbox.base_url}/xrpc/com.atproto.server.getServiceAuth", headers=bearer,
                            params={"aud": "did:web:video.bsky.app", "lxm": lxm}, timeout=5).json()["token"]

    limits_url = f"{sandbox.base_url}/xrpc/app.bsky.video.getUploadLimits"
    def limits_with(lxm: str):
        return requests.get(limits_url, headers={"Authorization": f"Bearer {service_token(lxm)}"}, timeout=5)

    assert limits_with("app.bsky.feed.getTimeline").status_code == 401
    limits = limits_with("app.bsky.video.getUploadLimits").json()
    assert limits["canUpload"] is True and limits["remainingDailyVideos"] == 24
    assert limits["remainingDailyBytes"] == 10_000_000_000 - len(mp4_bytes(30))
    # Past the limit, uploadVideo itself refuses, whatever the client asked before.
    emulator = next(e for e in sandbox.emulators if e.name == "bluesky")
    for key in emulator.video_uploads:
        emulator.video_uploads[key][0] = 25
    refused = requests.post(f"{sandbox.base_url}/xrpc/app.bsky.video.uploadVideo",
                            params={"did": session["did"], "name": "a.mp4"}, data=mp4_bytes(3),
                            headers={"Content-Type": "video/mp4",
                                     "Authorization": f"Bearer {service_token('com.atproto.repo.uploadBlob')}"},
                            timeout=5)
    assert refused.status_code == 400 and "daily" in refused.text


def test_bluesky_sandbox_video_service_is_strict(sandbox):
    import time

    import requests

    upload = f"{sandbox.base_url}/xrpc/app.bsky.video.uploadVideo"
    no_token = requests.post(upload, params={"did": "did:plc:x", "name": "a.mp4"}, data=mp4_bytes(3),
                             headers={"Content-Type": "video/mp4"}, timeout=5)
    assert no_token.status_code == 401
    session = requests.post(f"{sandbox.base_url}/xrpc/com.atproto.server.createSession",
                            json={"identifier": "kpudemak.bsky.social", "password": "abcd-efgh-ijkl-mnop"},
                            timeout=5).json()
    bearer = {"Authorization": f"Bearer {session['accessJwt']}"}
    wrong_lxm = requests.get(f"{sandbox.base_url}/xrpc/com.atproto.server.getServiceAuth", headers=bearer,
                             params={"aud": "did:web:127.0.0.1", "lxm": "app.bsky.feed.getTimeline"}, timeout=5)
    refused = requests.post(upload, params={"did": session["did"], "name": "a.mp4"}, data=mp4_bytes(3),
                            headers={"Content-Type": "video/mp4",
                                     "Authorization": f"Bearer {wrong_lxm.json()['token']}"}, timeout=5)
    assert refused.status_code == 401
    too_far = requests.get(f"{sandbox.base_url}/xrpc/com.atproto.server.getServiceAuth", headers=bearer,
                           params={"aud": "did:web:127.0.0.1", "lxm": "com.atproto.repo.uploadBlob",
                                   "exp": str(int(time.time()) + 7200)}, timeout=5)
    assert too_far.status_code == 400


# --- preview: what each platform gets -----------------------------------------------------------------------
def preview(workspace, channel: str, media: list[str]) -> str:
    from typer.testing import CliRunner

    from planner.cli import common
    from planner.cli.main import build_app
    from planner.i18n import set_language

    loaded = validate(workspace, channel, media)
    assert loaded.problems == []
    root, _ = workspace
    common.options.config = common.options.lang = common.options.actor = None
    set_language("id")
    try:
        result = CliRunner().invoke(build_app(), ["--config", str(root / "config.toml"), "campaign", "preview",
                                                  str(root / "campaigns" / "uji.toml")],
                                    env={"PLANNER_CONFIG": None, "PLANNER_LANG": None, "COLUMNS": "250"})
    finally:
        set_language("id")
        common.options.lang = None
    assert result.exit_code == 0, result.output
    return result.output


def test_preview_shows_a_video_with_its_length_and_how_each_platform_gets_it(workspace):
    assert "klip.mp4 · video 30 detik · lewat Reels" in preview(workspace, "kpu_ig", ["klip.mp4"])
    assert "klip.mp4 · video 30 detik · lewat chunked upload, tweet_video" in preview(workspace, "kpu_x", ["klip.mp4"])
    assert "animasi.gif · GIF animasi · lewat sendAnimation" in preview(workspace, "kpu_telegram", ["animasi.gif"])
