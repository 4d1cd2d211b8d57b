"""Telegram adapter (Bot API over httpx) against the sandbox's Telegram emulator, over real HTTP."""

from __future__ import annotations

import io
import json
import logging
import socket
import struct
import traceback
import zlib
from datetime import datetime, timezone

import httpx
import pytest

from planner.platforms import make_adapter
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
from planner.platforms.redaction import RedactingFilter
from planner.platforms.telegram import REDACTED, install_redaction, send_message
from planner.sandbox.core import redacted

SECRET = "AAHk3x9_sandboxSecretPart-012345678"
TOKEN = f"123456789:{SECRET}"
BAD_SECRET = "bad_k3x9sandboxSecretPart-012345678"
BAD_TOKEN = f"123456789:{BAD_SECRET}"
assert len(SECRET) == len(BAD_SECRET) == 35


def account(base_url: str, token: str = TOKEN, chat_id: str = "@kpudemak") -> Account:
    return Account(name="kanal-kpu-demak", platform="telegram", api_base_url=base_url,
                   credentials={"bot_token": token}, options={"chat_id": chat_id})


def adapter(sandbox, token: str = TOKEN, chat_id: str = "@kpudemak", timeout: float = 5.0):
    return make_adapter(account(sandbox.base_url, token, chat_id), timeout=timeout)


def png(path, shade: int = 0):
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(bytes([0, shade, 0, 0]))) + chunk(b"IEND", b""))
    return path


def post(text: str = "Rapat pleno rekapitulasi hari ini pukul 09.00 WIB.", **kw) -> OutgoingPost:
    return OutgoingPost(post_id=7, idempotency_key="post-7-telegram", text=text, **kw)


def calls(sandbox, method: str) -> list[dict]:
    return [r for r in sandbox.state.requests if r["path"] == f"/bot{redacted(TOKEN)}/{method}"]  # logged masked


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- publishing ----------------------------------------------------------------------------------------
def test_send_message_with_link(sandbox):
    ref = adapter(sandbox).publish(post(link="https://kpu.go.id/demak"))

    (sent,) = calls(sandbox, "sendMessage")
    body = json.loads(sent["body"])
    assert body == {"chat_id": "@kpudemak", "text": "Rapat pleno rekapitulasi hari ini pukul 09.00 WIB.\n\nhttps://kpu.go.id/demak"}
    assert "parse_mode" not in body  # plain text: no markup to escape
    (stored,) = sandbox.posts()["posts"]
    assert stored["account"] == "@kpudemak" and stored["id"] == ref.platform_post_id
    assert stored["text"].endswith("https://kpu.go.id/demak")
    assert ref.url == f"https://t.me/kpudemak/{ref.platform_post_id}"


def test_send_photo_with_caption(sandbox, tmp_path):
    image = png(tmp_path / "poster.png", 99)
    ref = adapter(sandbox).publish(post(text="Poster jadwal kampanye", media=[image]))

    (sent,) = calls(sandbox, "sendPhoto")
    assert sent["headers"]["content-type"].startswith("multipart/form-data")
    assert 'name="photo"; filename="poster.png"' in sent["body"]
    assert "Poster jadwal kampanye" in sent["body"]
    (stored,) = sandbox.posts()["posts"]
    assert stored["text"] == "Poster jadwal kampanye"
    assert stored["extra"]["photo_bytes"] == [image.stat().st_size]
    assert stored["id"] == ref.platform_post_id


def test_media_group_for_several_photos(sandbox, tmp_path):
    images = [png(tmp_path / f"foto{i}.png", i * 40) for i in range(3)]
    ref = adapter(sandbox).publish(post(text="Dokumentasi kegiatan", media=images))

    (sent,) = calls(sandbox, "sendMediaGroup")
    for i in range(3):
        assert f'name="photo{i}"; filename="foto{i}.png"' in sent["body"]
    (stored,) = sandbox.posts()["posts"]
    assert stored["extra"]["photos"] == 3
    assert stored["text"] == "Dokumentasi kegiatan"
    assert ref.platform_post_id == str(stored["extra"]["message_ids"][0])


def test_thread_parts_reply_to_the_previous_message(sandbox):
    ref = adapter(sandbox).publish(post(text="Info TPS (1/3)", thread=("Bawa KTP (2/3)", "Datang pagi (3/3)")))

    first, second, third = sandbox.posts()["posts"]
    assert first["id"] == ref.platform_post_id
    assert second["extra"]["reply_to"] == int(first["id"])
    assert third["extra"]["reply_to"] == int(second["id"])
    replies = [json.loads(c["body"]).get("reply_parameters") for c in calls(sandbox, "sendMessage")]
    assert replies == [None, {"message_id": int(first["id"])}, {"message_id": int(second["id"])}]


def test_long_caption_is_refused_before_sending(sandbox, tmp_path):
    with pytest.raises(PermanentError, match="1024"):
        adapter(sandbox).publish(post(text="x" * 1025, media=[png(tmp_path / "a.png")]))
    assert sandbox.state.requests == []


def test_send_message_helper_for_staff_alerts(sandbox):
    ref = send_message(account(sandbox.base_url), "-1001234567890", "Lonjakan sebutan: bansos (52 dalam 10 menit)")

    (sent,) = calls(sandbox, "sendMessage")
    assert json.loads(sent["body"])["chat_id"] == "-1001234567890"
    assert ref.url == f"https://t.me/c/1234567890/{ref.platform_post_id}"


# --- failures --------------------------------------------------------------------------------------------
def test_flood_limit_gives_retry_after_from_the_body(sandbox):
    sandbox.add_fault("rate_limit", platform="telegram", path="sendMessage", count=1, reset_in=7)
    with pytest.raises(RetryableError) as caught:
        adapter(sandbox).publish(post())
    assert caught.value.retry_after == 7
    assert caught.value.status == 429
    assert sandbox.posts()["total"] == 0


def test_server_error_is_retryable(sandbox):
    sandbox.add_fault("server_error", platform="telegram", path="sendMessage", count=1)
    with pytest.raises(RetryableError):
        adapter(sandbox).publish(post())


def test_rejected_token_is_a_credentials_error(sandbox):
    with pytest.raises(CredentialsError) as caught:
        adapter(sandbox, token=BAD_TOKEN).publish(post())
    assert "kanal-kpu-demak" in str(caught.value)
    assert caught.value.status == 401


def test_malformed_token_is_a_credentials_error(sandbox):
    with pytest.raises(CredentialsError) as caught:
        adapter(sandbox, token="12345:short").publish(post())
    assert caught.value.status == 404
    assert "short" not in str(caught.value)


def test_dropped_send_is_unknown_outcome(sandbox):
    sandbox.add_fault("drop", platform="telegram", path="sendMessage", count=1)
    with pytest.raises(UnknownOutcomeError):
        adapter(sandbox).publish(post())
    assert sandbox.posts()["total"] == 1  # it did go out


def test_failed_thread_part_is_retried_after_the_saved_parts(sandbox, tmp_path):
    # The photo goes out; the reply (a sendMessage) meets a 5xx. Telegram has no idempotency key, but
    # the photo's id was saved as it went out: the retry sends only the reply.
    sandbox.add_fault("server_error", platform="telegram", path="sendMessage", count=1)
    live: list[str] = []
    outgoing = post(media=[png(tmp_path / "a.png")], thread=("Bagian kedua",), on_part=live.append)
    with pytest.raises(RetryableError) as caught:
        adapter(sandbox).publish(outgoing)
    (photo,) = sandbox.posts()["posts"]
    assert live == [photo["id"]] and "thread part 2 of 2" in caught.value.message

    ref = adapter(sandbox).publish(post(media=[png(tmp_path / "a.png")], thread=("Bagian kedua",),
                                        parts_done=tuple(live), on_part=live.append))
    first, reply = sandbox.posts()["posts"]
    assert first["id"] == photo["id"] == ref.platform_post_id and ref.url == f"https://t.me/kpudemak/{photo['id']}"
    assert reply["extra"]["reply_to"] == int(photo["id"]) and live == [photo["id"], reply["id"]]
    assert len(calls(sandbox, "sendPhoto")) == 1


def test_connection_refused_is_retryable():
    telegram = make_adapter(account(f"http://127.0.0.1:{closed_port()}"), timeout=2)
    with pytest.raises(RetryableError):
        telegram.publish(post())


def test_unknown_chat_and_missing_membership_are_permanent(sandbox):
    with pytest.raises(PermanentError, match="chat not found") as caught:
        adapter(sandbox, chat_id="@notfound_kanal").publish(post())
    assert caught.value.status == 400
    with pytest.raises(PermanentError, match="not a member") as caught:
        adapter(sandbox, chat_id="@nobot_kanal").check_credentials()
    assert caught.value.status == 403 and not isinstance(caught.value, CredentialsError)


def test_sandbox_checks_what_the_bot_api_checks(sandbox):
    base = f"{sandbox.base_url}/bot{TOKEN}"
    too_long = httpx.post(f"{base}/sendMessage", json={"chat_id": "@kpudemak", "text": "a" * 4097})
    assert too_long.status_code == 400 and too_long.json()["description"] == "Bad Request: message is too long"
    no_chat = httpx.post(f"{base}/sendMessage", data={"text": "halo"})
    assert no_chat.status_code == 400 and not no_chat.json()["ok"]
    long_caption = httpx.post(f"{base}/sendPhoto", data={"chat_id": "@kpudemak", "caption": "c" * 1025},
                              files={"photo": ("a.png", b"png-bytes", "image/png")})
    assert long_caption.json()["description"] == "Bad Request: message caption is too long"
    no_photo = httpx.post(f"{base}/sendPhoto", data={"chat_id": "@kpudemak"})
    assert no_photo.json()["description"] == "Bad Request: there is no photo in the request"
    malformed = httpx.get(f"{sandbox.base_url}/bot123:abc/getMe")
    assert malformed.status_code == 404 and malformed.json()["description"] == "Not Found"
    assert sandbox.posts()["total"] == 0


# --- what the Bot API cannot do, and the account check ---------------------------------------------------------
def test_no_metrics_no_search_no_lookup(sandbox):
    telegram = adapter(sandbox)
    with pytest.raises(NotSupported):
        telegram.fetch_metrics(["1001"])
    with pytest.raises(NotSupported):
        telegram.search_mentions(["bansos"], None)
    with pytest.raises(PlatformError, match="cannot look up") as caught:
        telegram.find_published(post(), datetime.now(timezone.utc))
    assert not isinstance(caught.value, (RetryableError, NotSupported))
    assert sandbox.state.requests == []


def test_check_credentials_asks_get_me_and_get_chat(sandbox):
    status = adapter(sandbox).check_credentials()

    assert status.display_name == "Humas Bot"
    assert status.handle == "@humas_123456789_bot"
    assert json.loads(calls(sandbox, "getChat")[0]["body"]) == {"chat_id": "@kpudemak"}
    assert calls(sandbox, "getMe")


# --- the token never leaks ---------------------------------------------------------------------------------------
def test_token_never_appears_in_logs_errors_or_tracebacks(sandbox, caplog):
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    old_level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore"):  # a CLI run earlier in the session may have quietened them
        caplog.set_level(logging.DEBUG, logger=name)
    errors: list[BaseException] = []
    try:
        adapter(sandbox).publish(post())  # success
        for token, base, fault in ((BAD_TOKEN, sandbox.base_url, None),
                                   (TOKEN, sandbox.base_url, "drop"),
                                   (TOKEN, f"http://127.0.0.1:{closed_port()}", None)):
            if fault:
                sandbox.add_fault(fault, platform="telegram", path="sendMessage", count=1)
            telegram = make_adapter(account(base, token), timeout=2)
            try:
                telegram.publish(post())
            except PlatformError as exc:
                errors.append(exc)
                logging.getLogger("planner.test").exception("publish failed")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)

    assert [type(e) for e in errors] == [CredentialsError, UnknownOutcomeError, RetryableError]
    logs = caplog.text + stream.getvalue()
    assert "HTTP Request: POST" in logs and f"/bot123456789:{REDACTED}/sendMessage" in logs  # httpx did log
    shown = [logs] + [str(e) + repr(e) + "".join(traceback.format_exception(e)) for e in errors]
    for text in shown:
        assert SECRET not in text
        assert BAD_SECRET not in text


def test_redaction_filter_is_idempotent_and_blanks_tokens_in_records(caplog):
    install_redaction()
    install_redaction()
    assert sum(isinstance(f, RedactingFilter) for f in logging.getLogger("httpx").filters) == 1
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "httpcore.http11"):  # a CLI run earlier in the session may have quietened them
        caplog.set_level(logging.DEBUG, logger=name)
    logging.getLogger("httpx").info("HTTP Request: %s %s", "POST", f"https://api.telegram.org/bot{TOKEN}/getMe")
    logging.getLogger("httpcore.http11").debug("url=%s", f"https://api.telegram.org/bot{TOKEN}/getMe")
    assert SECRET not in caplog.text
    assert caplog.text.count(f"/bot123456789:{REDACTED}/getMe") == 2
