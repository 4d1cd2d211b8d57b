"""Telegram channel adapter: the Bot API over httpx (no SDK needed for four methods).

Account: credentials ``bot_token``; options ``chat_id`` (``@channelname`` or a numeric id; the account
handle is used when it is missing). ``api_base_url`` defaults to https://api.telegram.org.

The bot token is part of every request path (``/bot<token>/<method>``). To keep it out of log lines,
exception messages and tracebacks, the client only ever sees a redacted path (``/bot<id>:REDACTED/``);
a small transport puts the real token in just before the bytes go out. ``install_redaction`` also
registers the token with planner.platforms.redaction (the one masking module) and puts its logging
filter on httpx/httpcore, so any bot token in their records is masked, for other code too.

What the Bot API cannot do: list a channel's past messages (so ``find_published`` cannot tell),
give view counts or reactions of channel posts (no metrics), search (no listening).
"""

from __future__ import annotations

import json
import mimetypes
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlsplit

import httpx

from planner.domain.text_rules import append_link, media_rules
from planner.errors import PlannerError
from planner.platforms.base import (
    Account,
    AccountStatus,
    CredentialsError,
    Mention,
    MetricSnapshot,
    NotSupported,
    OutgoingPost,
    PermanentError,
    PlatformError,
    PublishedRef,
    RetryableError,
    UnknownOutcomeError,
    thread_part_error,
)
from planner.platforms.endpoints import check_base_url, shown
from planner.platforms.media_rules import refuse_unpublishable
from planner.platforms.redaction import MASK, add_logger_filter, register_secrets, safe_error
from planner.platforms.transport import classify_transport_error

PLATFORM = "telegram"
DEFAULT_API = "https://api.telegram.org"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
ALBUM_MAX = 10
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
# Which Bot API method sends a file of each kind (kinds and limits: text_rules.LIMITS["telegram"], from
# https://core.telegram.org/bots/api#sendvideo and #sendanimation); an album (sendMediaGroup) takes photos
# and videos.
SEND_ONE = {"image": ("sendPhoto", "photo"), "video": ("sendVideo", "video"), "gif": ("sendAnimation", "animation")}
ALBUM_TYPES = {"image": "photo", "video": "video"}
REDACTED = MASK

_LOGGERS = ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2",
            "httpcore.proxy", "httpcore.socks")


def create(account: Account, timeout: float) -> "TelegramAdapter":
    return TelegramAdapter(account, timeout)


# --- keeping the token secret ------------------------------------------------------------------------
def install_redaction(*secrets: str) -> None:
    """Mask bot tokens in httpx/httpcore log records (idempotent); ``secrets`` are masked everywhere too."""
    register_secrets(secrets)
    add_logger_filter(*_LOGGERS)


class _TokenTransport(httpx.BaseTransport):
    """Swaps the redacted path segment for the real token just before sending.

    httpx logs ``request.url`` and puts the request in its exceptions; both only ever hold the redacted
    URL. Proxies come from the environment here, because the client runs with ``trust_env=False`` (its
    own proxy mounts would bypass this transport).
    """

    def __init__(self, placeholder: str, real: str, base_url: str):
        self._placeholder = placeholder.encode()
        self._real = real.encode()
        self._inner = httpx.HTTPTransport(trust_env=True, proxy=_env_proxy(base_url))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raw_path = request.url.raw_path.replace(self._placeholder, self._real, 1)
        outgoing = httpx.Request(request.method, request.url.copy_with(raw_path=raw_path),
                                 headers=request.headers, stream=request.stream, extensions=request.extensions)
        return self._inner.handle_request(outgoing)

    def close(self) -> None:
        self._inner.close()


def _env_proxy(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass_environment(parts.hostname):
        return None
    return urllib.request.getproxies_environment().get(parts.scheme)


# --- the adapter -------------------------------------------------------------------------------------------
class TelegramAdapter:
    platform = PLATFORM
    metrics_batch_size = 1  # nothing to batch: the Bot API gives no metrics

    def __init__(self, account: Account, timeout: float):
        token = account.credentials.get("bot_token") or ""
        if not token:
            raise CredentialsError(f"telegram account {account.name!r} has no bot_token; set one",
                                   platform=PLATFORM)
        install_redaction(token)
        problem = check_base_url(account.api_base_url)
        if problem:  # also for send_message (staff alerts), which does not go through make_adapter
            raise PlannerError(problem, account=account.name, url=shown(account.api_base_url))
        self.account = account
        self.chat_id = account.options.get("chat_id") or account.handle or None
        base = (account.api_base_url or DEFAULT_API).rstrip("/")
        bot_id = token.split(":", 1)[0] if token.split(":", 1)[0].isdigit() else "0"
        placeholder = f"/bot{bot_id}:{REDACTED}/"
        self._prefix = f"{base}{placeholder}"
        self._client = httpx.Client(
            timeout=timeout, trust_env=False,
            transport=_TokenTransport(placeholder, f"/bot{token}/", base))

    def __repr__(self) -> str:
        return f"TelegramAdapter(account={self.account.name!r}, chat_id={self.chat_id!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "TelegramAdapter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- publishing ---------------------------------------------------------------------------------
    def publish(self, post: OutgoingPost) -> PublishedRef:
        chat_id = self._chat_id()
        text = append_link(post.text, post.link)
        photos = [Path(p) for p in post.media]
        self._check(text, photos, post.thread)
        live = list(post.parts_done)
        if not live:
            refuse_unpublishable(PLATFORM, self.account.name, photos)
        if live:  # a thread begun earlier: continue after its saved parts
            ref = self._ref({"message_id": int(live[0]), "chat": self._configured_chat()})
        else:
            ref = self._ref(self._send_first(chat_id, text, photos))
            live.append(ref.platform_post_id)
            post.part_live(live[-1])
        total = len(post.thread) + 1
        for i in range(len(live), total):
            try:
                message = self.call("sendMessage", {"chat_id": chat_id, "text": post.thread[i - 1],
                                                    "reply_parameters": {"message_id": int(live[-1])}})
            except PlatformError as exc:
                # No idempotency on Telegram, but the parts already out are saved: a retry goes on after
                # them. An unknown outcome cannot be looked up afterwards: a person checks the channel.
                raise thread_part_error(exc, number=i + 1, total=total, head=live[0]) from None
            live.append(str(message["message_id"]))
            post.part_live(live[-1])
        return ref

    def _send_first(self, chat_id: str, text: str, photos: list[Path]) -> dict:
        if not photos:
            return self.call("sendMessage", {"chat_id": chat_id, "text": text})
        if len(photos) == 1:
            fields = {"chat_id": chat_id, **({"caption": text} if text else {})}
            method, field = SEND_ONE[media_rules(PLATFORM, photos[0].name)[0] or "image"]
            if field == "video":
                fields["supports_streaming"] = "true"
            return self.call(method, fields, files={field: _file(photos[0])})
        media = [{"type": ALBUM_TYPES.get(media_rules(PLATFORM, path.name)[0] or "image", "photo"),
                  "media": f"attach://photo{i}"} for i, path in enumerate(photos)]
        if text:
            media[0]["caption"] = text
        files = {f"photo{i}": _file(path) for i, path in enumerate(photos)}
        return self.call("sendMediaGroup", {"chat_id": chat_id, "media": json.dumps(media)}, files=files)[0]

    def _configured_chat(self) -> dict:
        """The chat as the config names it, enough to build a message's public address."""
        chat = str(self.chat_id)
        return {"username": chat[1:]} if chat.startswith("@") else {"id": chat}

    def send_text(self, chat_id: str | int, text: str) -> PublishedRef:
        """One plain message to any chat the bot can write to (staff alerts); cut to Telegram's limit."""
        if len(text) > TEXT_LIMIT:
            text = text[:TEXT_LIMIT - 1] + "…"
        return self._ref(self.call("sendMessage", {"chat_id": chat_id, "text": text}))

    def _check(self, text: str, photos: Sequence[Path], thread: Sequence[str]) -> None:
        """Refuse before sending anything what Telegram would refuse halfway through a thread."""
        problems = []
        if not text.strip() and not photos:
            problems.append("the message is empty")
        if not photos and len(text) > TEXT_LIMIT:
            problems.append(f"the text has {len(text)} characters; Telegram allows {TEXT_LIMIT}")
        if photos and len(text) > CAPTION_LIMIT:
            problems.append(f"the caption has {len(text)} characters; Telegram allows {CAPTION_LIMIT} with images")
        if len(photos) > ALBUM_MAX:
            problems.append(f"{len(photos)} images; a Telegram album holds at most {ALBUM_MAX}")
        for path in photos:
            if path.suffix.lower() not in PHOTO_SUFFIXES and media_rules(PLATFORM, path.name)[0] is None:
                problems.append(f"{path.name}: only photos ({', '.join(sorted(PHOTO_SUFFIXES))}), MP4 video "
                                "and GIF are supported")
        for i, part in enumerate(thread, start=2):
            if not part.strip() or len(part) > TEXT_LIMIT:
                problems.append(f"thread part {i} must have 1-{TEXT_LIMIT} characters")
        if problems:
            raise PermanentError("telegram: " + "; ".join(problems), platform=PLATFORM)

    def _chat_id(self) -> str:
        if not self.chat_id:
            raise PermanentError(f"telegram account {self.account.name!r} has no chat_id option "
                                 "(e.g. @channelname)", platform=PLATFORM)
        return self.chat_id

    def _ref(self, message: dict) -> PublishedRef:
        chat = message.get("chat", {})
        message_id = message["message_id"]
        if chat.get("username"):
            url = f"https://t.me/{chat['username']}/{message_id}"
        elif str(chat.get("id", "")).startswith("-100"):
            url = f"https://t.me/c/{str(chat['id'])[4:]}/{message_id}"
        else:
            url = None
        published_at = datetime.fromtimestamp(message["date"], timezone.utc) if message.get("date") else None
        return PublishedRef(platform_post_id=str(message_id), url=url, published_at=published_at)

    # --- what the Bot API cannot do ---------------------------------------------------------------------
    def find_published(self, post: OutgoingPost, since: datetime) -> PublishedRef | None:
        raise PlatformError(f"Telegram cannot look up past messages; check the channel {self.chat_id} "
                            "to see whether the post went out", platform=PLATFORM)

    def fetch_metrics(self, refs: Sequence[str]) -> list[MetricSnapshot]:
        raise NotSupported("Telegram Bot API gives no metrics", platform=PLATFORM)

    def search_mentions(self, keywords: Sequence[str], since: datetime | None) -> list[Mention]:
        raise NotSupported("Telegram Bot API cannot search messages", platform=PLATFORM)

    # --- account ---------------------------------------------------------------------------------------------
    def check_credentials(self) -> AccountStatus:
        me = self.call("getMe", {})
        chat_id = self._chat_id()
        try:
            self.call("getChat", {"chat_id": chat_id})
        except CredentialsError:
            raise
        except PermanentError as exc:
            if exc.status == 403:  # already says what to do: make the bot an administrator of the channel
                raise
            raise PermanentError(f"telegram: bot @{me.get('username')} cannot see chat {chat_id}: {exc.message}",
                                 platform=PLATFORM, status=exc.status) from None
        return AccountStatus(display_name=me.get("first_name", ""), handle=f"@{me.get('username', '')}")

    # --- HTTP ---------------------------------------------------------------------------------------------------
    def call(self, method: str, params: dict[str, Any], files: dict | None = None) -> Any:
        """One Bot API call; the ``result`` on success, else one of the PlatformError kinds."""
        creates = method.startswith("send")
        url = self._prefix + method
        try:
            if files:
                data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
                response = self._client.post(url, data=data, files=files)
            else:
                response = self._client.post(url, json=params)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            mapped = classify_transport_error(exc, platform=PLATFORM, creates=creates)
            if mapped is None:
                mapped = PermanentError(f"telegram: request failed ({type(exc).__name__}); check api_base_url",
                                        platform=PLATFORM)
            raise mapped from None
        return self._result(response, creates)

    def _result(self, response: httpx.Response, creates: bool) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("ok") is True:
            return body.get("result")
        status = response.status_code
        if not isinstance(body, dict):
            if status >= 500 or status == 429:
                raise RetryableError(f"telegram: HTTP {status}", platform=PLATFORM, status=status)
            if creates and response.is_success:
                raise UnknownOutcomeError(f"telegram: unreadable answer (HTTP {status}); the message may have "
                                          "been sent", platform=PLATFORM)
            raise PermanentError(f"telegram: HTTP {status}", platform=PLATFORM, status=status)
        code = int(body.get("error_code") or status)
        description = safe_error(body.get("description") or f"HTTP {status}")
        parameters = body.get("parameters") or {}
        if code == 429:
            retry_after = parameters.get("retry_after")
            raise RetryableError(f"telegram: {description}", platform=PLATFORM, status=code,
                                 retry_after=float(retry_after) if retry_after is not None else None)
        if code >= 500:
            raise RetryableError(f"telegram: {description}", platform=PLATFORM, status=code)
        if code in (401, 404):  # 404: the API does not know this token at all
            raise CredentialsError(f"telegram: bot token rejected ({description}); set a new one for account "
                                   f"{self.account.name!r}", platform=PLATFORM, status=code)
        if code == 403:  # "bot is not a member of the channel chat", "not enough rights...": not temporary,
            from planner.i18n import t  # and not the token either: the bot must be made an administrator

            raise PermanentError(t("telegram_words.forbidden", chat=self.chat_id or "-", detail=description),
                                 platform=PLATFORM, status=code)
        if "migrate_to_chat_id" in parameters:
            raise PermanentError(f"telegram: {description}; the group is now chat "
                                 f"{parameters['migrate_to_chat_id']}: update chat_id", platform=PLATFORM, status=code)
        raise PermanentError(f"telegram: {description}", platform=PLATFORM, status=code)


def _file(path: Path) -> tuple[str, bytes, str]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PermanentError(f"telegram: cannot read {path}: {exc.strerror}", platform=PLATFORM) from None
    return path.name, data, mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def send_message(account: Account, chat_id: str | int, text: str, timeout: float = 10.0) -> PublishedRef:
    """Send one plain message with ``account``'s bot (e.g. a spike alert to a staff chat)."""
    with TelegramAdapter(account, timeout) as adapter:
        return adapter.send_text(chat_id, text)
