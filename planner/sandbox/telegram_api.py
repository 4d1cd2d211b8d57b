"""Telegram Bot API emulator: getMe, getChat, sendMessage, sendPhoto, sendMediaGroup.

Like the real Bot API: the token is a path segment (``/bot<token>/<method>``), parameters come as a
query string, JSON, form or multipart body, method names are case-insensitive, every answer is
``{"ok": ..., "result" | "error_code"+"description"}`` and a flood limit is a 429 whose body carries
``parameters.retry_after``.

Chats: any ``@username`` or numeric id is a channel the bot may post to, except usernames starting
with ``@notfound`` ("chat not found") and ``@nobot`` (the bot is not a member).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time

from planner.sandbox import video
from planner.sandbox.core import Emulator, Request, Response, route

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
PHOTO_SIZE_LIMIT = 10 * 1024 * 1024
# https://core.telegram.org/bots/api#sendvideo, #sendanimation: MPEG-4 video; GIF or H.264 MPEG-4 animation;
# bots upload files of up to 50 MB (a bigger request is refused with 413). Albums take photos and videos.
UPLOAD_LIMIT = 50 * 1024 * 1024
VIDEO_CONTAINERS = ("mp4",)
ANIMATION_CONTAINERS = ("gif", "mp4")
_TOKEN = re.compile(r"(?P<bot_id>\d+):(?P<secret>[A-Za-z0-9_-]{35})")
_READ_METHODS = "getme|getchat|getchatmember|getupdates|answercallbackquery"
_SEND_METHODS = "sendmessage|sendphoto|sendmediagroup|sendvideo|sendanimation"


def _error(code: int, description: str, **parameters) -> Response:
    body = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Response(code, body)


def _ok(result) -> Response:
    return Response(200, {"ok": True, "result": result})


class TelegramEmulator(Emulator):
    name = "telegram"

    def __init__(self, state):
        super().__init__(state)
        self._messages: dict[tuple[int, int], dict] = {}  # (chat id, message id) -> message
        self.updates = UpdateQueue()  # what getUpdates hands out: taps and messages injected by tests

    def routes(self):
        pattern = r"/bot(?P<token>[^/]+)/(?P<method>(?i:{}))"
        return [
            route(verb, pattern.format(methods), self.handle, publishes=publishes)
            for verb in ("GET", "POST")
            for methods, publishes in ((_READ_METHODS, False), (_SEND_METHODS, True))
        ]

    def rate_limited(self, reset_in: int) -> Response:
        return _error(429, f"Too Many Requests: retry after {reset_in}", retry_after=reset_in)

    def server_error(self) -> Response:
        return _error(500, "Internal Server Error")

    # --- dispatch ---------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        match = _TOKEN.fullmatch(request.params["token"])
        if match is None:
            return _error(404, "Not Found")
        if match["secret"].startswith(("bad", "expired")):
            return _error(401, "Unauthorized")
        if request.method == "POST" and request.body and request.content_type not in (
                "application/json", "application/x-www-form-urlencoded", "multipart/form-data"):
            return _error(400, "Bad Request: unsupported content type")
        bot_id = int(match["bot_id"])
        method = request.params["method"].lower()
        handler = {"getme": self.get_me, "getchat": self.get_chat, "getchatmember": self.get_chat_member,
                   "sendmessage": self.send_message,
                   "sendphoto": self.send_photo, "sendmediagroup": self.send_media_group,
                   "sendvideo": self.send_video, "sendanimation": self.send_animation,
                   "getupdates": self.get_updates, "answercallbackquery": self.answer_callback_query}[method]
        try:
            return handler(request, bot_id)
        except (ValueError, TypeError, KeyError) as exc:  # unparsable JSON-serialised parameters
            return _error(400, f"Bad Request: can't parse parameters: {exc}")

    # --- helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _param(request: Request, name: str):
        """A parameter; JSON-serialised objects in query/form bodies are decoded like the Bot API does."""
        value = request.arg(name)
        if isinstance(value, str) and value[:1] in ("{", "["):
            return json.loads(value)
        return value

    def _chat(self, chat_id) -> tuple[dict | None, Response | None]:
        if chat_id in (None, ""):
            return None, _error(400, "Bad Request: chat_id is empty")
        text = str(chat_id)
        if text.startswith("@"):
            username = text[1:]
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{3,31}", username) or username.lower().startswith("notfound"):
                return None, _error(400, "Bad Request: chat not found")
            digest = hashlib.sha256(username.lower().encode()).hexdigest()
            # channel ids look like -100xxxxxxxxxx
            chat = {"id": -(10**12 + int(digest[:10], 16) % 10**10), "title": f"Kanal {username}",
                    "type": "channel", "username": username}
        elif re.fullmatch(r"-?\d+", text):
            chat = {"id": int(text), "title": f"Kanal {text}", "type": "channel"}
        else:
            return None, _error(400, "Bad Request: chat not found")
        if chat.get("username", "").lower().startswith("nobot"):
            return None, _error(403, "Forbidden: bot is not a member of the channel chat")
        return chat, None

    def _reply_to(self, request: Request, chat: dict) -> tuple[dict | None, Response | None]:
        reply = self._param(request, "reply_parameters")
        message_id = reply.get("message_id") if isinstance(reply, dict) else request.arg("reply_to_message_id")
        if message_id in (None, ""):
            return None, None
        with self.state.lock:
            original = self._messages.get((chat["id"], int(message_id)))
        if original is None:
            return None, _error(400, "Bad Request: message to be replied not found")
        return original, None

    def _message(self, chat: dict, **content) -> dict:
        message = {"message_id": self.state.next_id(), "sender_chat": chat, "chat": chat,
                   "date": int(time.time()), **content}
        with self.state.lock:
            self._messages[(chat["id"], message["message_id"])] = message
        return message

    def _photo_sizes(self, data: bytes, name: str) -> list[dict]:
        digest = hashlib.sha256(data).hexdigest() if data else hashlib.sha256(name.encode()).hexdigest()
        file_id = "AgACAgUAAx0C" + digest[:40]
        return [{"file_id": f"{file_id}{suffix}", "file_unique_id": f"AQAD{digest[:12]}{suffix}",
                 "file_size": size, "width": width, "height": height}
                for suffix, size, width, height in (("s", max(1, len(data) // 20), 90, 90),
                                                    ("m", max(1, len(data) // 4), 320, 320),
                                                    ("x", len(data), 800, 800))]

    def _photo(self, request: Request, value, field: str) -> tuple[bytes | None, str, Response | None]:
        """A photo given as an upload (``attach://name`` or the field itself), a file_id or a URL."""
        if isinstance(value, str) and value.startswith("attach://"):
            field = value.removeprefix("attach://")
            value = None
        if value in (None, ""):
            upload = request.files.get(field)
            if upload is None:
                return None, "", _error(400, "Bad Request: there is no photo in the request")
            filename, data, content_type = upload
            if not data:
                return None, "", _error(400, "Bad Request: file must be non-empty")
            if len(data) > PHOTO_SIZE_LIMIT:
                return None, "", _error(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
            return data, filename, None
        return b"", str(value), None

    def _clip(self, request: Request, value, field: str, containers: tuple[str, ...]
              ) -> tuple[bytes | None, str, Response | None]:
        """A video or animation given as an upload (``attach://name`` or the field itself) or a file_id/URL."""
        if isinstance(value, str) and value.startswith("attach://"):
            field, value = value.removeprefix("attach://"), None
        if value not in (None, ""):
            return b"", str(value), None
        upload = request.files.get(field)
        if upload is None:
            return None, "", _error(400, f"Bad Request: there is no {field} in the request")
        filename, data, _ = upload
        if not data:
            return None, "", _error(400, "Bad Request: file must be non-empty")
        if len(data) > UPLOAD_LIMIT:
            return None, "", _error(413, "Request Entity Too Large")
        if video.container(data) not in containers:
            return None, "", _error(400, f"Bad Request: wrong file type of the {field}")
        return data, filename, None

    def _send_clip(self, request: Request, field: str, containers: tuple[str, ...]) -> Response:
        chat_id = request.arg("chat_id")
        chat, problem = self._chat(chat_id)
        if problem:
            return problem
        caption = request.arg("caption")
        problem = self._length_problem(caption, CAPTION_LIMIT, "message caption")
        if problem:
            return problem
        data, name, problem = self._clip(request, request.arg(field), field, containers)
        if problem:
            return problem
        original, problem = self._reply_to(request, chat)
        if problem:
            return problem
        length = video.seconds(data) if data else None
        content = {field: {"file_id": "BAACAgUAAx0C" + hashlib.sha256(data or name.encode()).hexdigest()[:40],
                           "file_size": len(data), "duration": round(length or 0), "file_name": name}}
        if caption:
            content["caption"] = caption
        if original:
            content["reply_to_message"] = original
        message = self._message(chat, **content)
        self._record(chat_id, message, caption or "", {field: 1, f"{field}_bytes": [len(data)]})
        return _ok(message)

    def send_video(self, request: Request, bot_id: int) -> Response:
        return self._send_clip(request, "video", VIDEO_CONTAINERS)

    def send_animation(self, request: Request, bot_id: int) -> Response:
        return self._send_clip(request, "animation", ANIMATION_CONTAINERS)

    @staticmethod
    def _length_problem(text: str | None, limit: int, what: str) -> Response | None:
        if text is not None and len(text) > limit:
            return _error(400, f"Bad Request: {what} is too long")
        return None

    def _record(self, chat_id, message: dict, text: str, extra: dict | None = None) -> None:
        self.state.record_post("telegram", str(chat_id), text, post_id=str(message["message_id"]),
                               extra={"chat_id": message["chat"]["id"], **(extra or {})})

    # --- methods --------------------------------------------------------------------------------------
    def get_me(self, request: Request, bot_id: int) -> Response:
        return _ok({"id": bot_id, "is_bot": True, "first_name": "Humas Bot", "username": f"humas_{bot_id}_bot",
                    "can_join_groups": True, "can_read_all_group_messages": False,
                    "supports_inline_queries": False, "can_connect_to_business": False, "has_main_web_app": False})

    def get_chat(self, request: Request, bot_id: int) -> Response:
        chat, problem = self._chat(request.arg("chat_id"))
        if problem:
            return problem
        return _ok({**chat, "accent_color_id": 0, "max_reaction_count": 11,
                    "description": "Kanal resmi", "has_visible_history": True})

    def get_chat_member(self, request: Request, bot_id: int) -> Response:
        """https://core.telegram.org/bots/api#getchatmember: the bot's own membership. In a channel a bot can only
        be an administrator (ChatMemberAdministrator, with can_post_messages for channels); the sandbox's
        ``@nopost...`` channels have the bot as an administrator who may not post."""
        chat, problem = self._chat(request.arg("chat_id"))
        if problem:
            return problem
        user_id = str(request.arg("user_id") or "")
        if not user_id.lstrip("-").isdigit():
            return _error(400, "Bad Request: invalid user_id specified")
        if int(user_id) != bot_id:
            return _error(400, "Bad Request: user not found")
        may_post = not chat.get("username", "").lower().startswith("nopost")
        user = {"id": bot_id, "is_bot": True, "first_name": "Humas Bot", "username": f"humas_{bot_id}_bot"}
        return _ok({"status": "administrator", "user": user, "can_be_edited": False, "is_anonymous": False,
                    "can_manage_chat": True, "can_delete_messages": True, "can_manage_video_chats": False,
                    "can_restrict_members": True, "can_promote_members": False, "can_change_info": True,
                    "can_invite_users": True, "can_post_messages": may_post, "can_edit_messages": may_post,
                    "can_post_stories": False, "can_edit_stories": False, "can_delete_stories": False})

    def send_message(self, request: Request, bot_id: int) -> Response:
        chat_id = request.arg("chat_id")
        chat, problem = self._chat(chat_id)
        if problem:
            return problem
        text = request.arg("text")
        if text is None or not str(text).strip():
            return _error(400, "Bad Request: message text is empty")
        text = str(text)
        problem = self._length_problem(text, TEXT_LIMIT, "message")
        if problem:
            return problem
        original, problem = self._reply_to(request, chat)
        if problem:
            return problem
        extra = {"reply_to_message": original} if original else {}
        markup, problem = self._reply_markup(request)
        if problem:
            return problem
        if markup:
            extra["reply_markup"] = markup
        message = self._message(chat, text=text, **extra)
        self._record(chat_id, message, text,
                     {"reply_to": original["message_id"] if original else None})
        return _ok(message)

    def send_photo(self, request: Request, bot_id: int) -> Response:
        chat_id = request.arg("chat_id")
        chat, problem = self._chat(chat_id)
        if problem:
            return problem
        caption = request.arg("caption")
        problem = self._length_problem(caption, CAPTION_LIMIT, "message caption")
        if problem:
            return problem
        data, name, problem = self._photo(request, request.arg("photo"), "photo")
        if problem:
            return problem
        original, problem = self._reply_to(request, chat)
        if problem:
            return problem
        content = {"photo": self._photo_sizes(data, name)}
        if caption:
            content["caption"] = caption
        if original:
            content["reply_to_message"] = original
        message = self._message(chat, **content)
        self._record(chat_id, message, caption or "", {"photos": 1, "photo_bytes": [len(data)]})
        return _ok(message)

    def send_media_group(self, request: Request, bot_id: int) -> Response:
        chat_id = request.arg("chat_id")
        chat, problem = self._chat(chat_id)
        if problem:
            return problem
        media = self._param(request, "media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            return _error(400, "Bad Request: wrong number of media in the album; must be 2-10")
        items = []
        kinds = []
        for item in media:
            if not isinstance(item, dict) or item.get("type") not in ("photo", "video"):
                return _error(400, "Bad Request: unsupported media type in the album")
            problem = self._length_problem(item.get("caption"), CAPTION_LIMIT, "message caption")
            if problem:
                return problem
            if item["type"] == "video":
                data, name, problem = self._clip(request, item.get("media"), "", VIDEO_CONTAINERS)
            else:
                data, name, problem = self._photo(request, item.get("media"), "")
            if problem:
                return problem
            items.append((data, name, item.get("caption")))
            kinds.append(item["type"])
        original, problem = self._reply_to(request, chat)
        if problem:
            return problem
        group_id = str(self.state.next_id() * 7919)
        messages = []
        for (data, name, caption), kind in zip(items, kinds):
            content = {"media_group_id": group_id}
            if kind == "video":
                content["video"] = {"file_id": "BAACAgUAAx0C" + hashlib.sha256(data).hexdigest()[:40],
                                    "file_size": len(data), "duration": round(video.seconds(data) or 0)}
            else:
                content["photo"] = self._photo_sizes(data, name)
            if caption:
                content["caption"] = caption
            if original:
                content["reply_to_message"] = original
            messages.append(self._message(chat, **content))
        caption = next((c for _, _, c in items if c), "")
        # One album is one post in the sandbox record (its first message's id).
        self._record(chat_id, messages[0], caption, {
            "photos": kinds.count("photo"), "videos": kinds.count("video"), "kinds": kinds,
            "photo_bytes": [len(d) for d, _, _ in items], "media_group_id": group_id,
            "message_ids": [m["message_id"] for m in messages]})
        return _ok(messages)


EMULATOR = TelegramEmulator


# --- receiving updates: inline keyboards, callback queries, getUpdates ------------------------------------
# https://core.telegram.org/bots/api#getupdates: updates are kept until confirmed by a call with a higher
# offset; ``timeout`` makes the call wait (long polling) until one arrives. A button's callback_data is 1-64
# bytes (#inlinekeyboardbutton); a tap arrives as an Update with a CallbackQuery, which the bot answers with
# answerCallbackQuery (#answercallbackquery), else the user's client keeps showing a progress bar.
CALLBACK_DATA_LIMIT = 64
LONG_POLL_CAP = 5.0  # the sandbox waits at most this long, whatever timeout is asked for


class UpdateQueue:
    def __init__(self):
        self._cond = threading.Condition()
        self._updates: list[dict] = []
        self._next = 1
        self.queries: dict[str, dict] = {}   # callback query id -> the query
        self.answers: list[dict] = []        # answerCallbackQuery calls, in order

    def push(self, **update) -> dict:
        with self._cond:
            update = {"update_id": self._next, **update}
            self._next += 1
            self._updates.append(update)
            if "callback_query" in update:
                self.queries[update["callback_query"]["id"]] = update["callback_query"]
            self._cond.notify_all()
            return update

    def take(self, offset: int, limit: int, timeout: float, allowed: list | None) -> list[dict]:
        deadline = time.monotonic() + min(timeout, LONG_POLL_CAP)
        with self._cond:
            if offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]  # confirmed: forgotten
            while True:
                found = [u for u in self._updates if not allowed or any(kind in u for kind in allowed)]
                left = deadline - time.monotonic()
                if found or left <= 0:
                    return found[:limit]
                self._cond.wait(left)


def _user(user_id: int, first_name: str = "Pengguna", username: str | None = None) -> dict:
    return {"id": user_id, "is_bot": False, "first_name": first_name, **({"username": username} if username else {}),
            "language_code": "id"}


def _sandbox_press(self, message: dict, data: str, *, user_id: int, first_name: str = "Pengguna",
                   username: str | None = None) -> dict:
    """Inject a tap on one of ``message``'s inline buttons by Telegram user ``user_id`` (tests, demo)."""
    buttons = [b["callback_data"] for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
               for b in row if "callback_data" in b]
    if data not in buttons:
        raise ValueError(f"message {message.get('message_id')} has no button {data!r}")
    query = {"id": str(self.state.next_id() * 7919), "from": _user(user_id, first_name, username),
             "message": message, "chat_instance": str(message["chat"]["id"]), "data": data}
    return self.updates.push(callback_query=query)


def _sandbox_say(self, chat_id, text: str, *, user_id: int, first_name: str = "Pengguna",
                 username: str | None = None) -> dict:
    """Inject a text message written in a chat by Telegram user ``user_id``."""
    chat, _ = self._chat(chat_id)
    message = {"message_id": self.state.next_id(), "from": _user(user_id, first_name, username),
               "chat": chat or {"id": chat_id, "type": "group"}, "date": int(time.time()), "text": text}
    return self.updates.push(message=message)


def _sandbox_messages(self, chat_id) -> list[dict]:
    """The messages sent to ``chat_id`` (as the bot sent them), oldest first."""
    chat, _ = self._chat(chat_id)
    with self.state.lock:
        return [m for (cid, _mid), m in sorted(self._messages.items(), key=lambda kv: kv[0][1])
                if chat and cid == chat["id"]]


def _reply_markup(self, request: Request) -> tuple[dict | None, Response | None]:
    markup = self._param(request, "reply_markup")
    if markup in (None, ""):
        return None, None
    if not isinstance(markup, dict):
        return None, _error(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            if not str(button.get("text") or "").strip():
                return None, _error(400, "Bad Request: text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
                return None, _error(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup, None


def _get_updates(self, request: Request, bot_id: int) -> Response:
    offset = int(request.arg("offset") or 0)
    limit = max(1, min(100, int(request.arg("limit") or 100)))
    timeout = max(0.0, float(request.arg("timeout") or 0))
    allowed = self._param(request, "allowed_updates")
    return _ok(self.updates.take(offset, limit, timeout, allowed if isinstance(allowed, list) else None))


def _answer_callback_query(self, request: Request, bot_id: int) -> Response:
    query_id = str(request.arg("callback_query_id") or "")
    if query_id not in self.updates.queries:
        return _error(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
    text = request.arg("text")
    if text is not None and len(str(text)) > 200:
        return _error(400, "Bad Request: MESSAGE_TOO_LONG")
    with self.updates._cond:
        self.updates.answers.append({"callback_query_id": query_id, "text": text,
                                     "show_alert": bool(request.arg("show_alert"))})
    return _ok(True)


TelegramEmulator.press = _sandbox_press
TelegramEmulator.say = _sandbox_say
TelegramEmulator.messages_to = _sandbox_messages
TelegramEmulator._reply_markup = _reply_markup
TelegramEmulator.get_updates = _get_updates
TelegramEmulator.answer_callback_query = _answer_callback_query
