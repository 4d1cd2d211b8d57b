"""Telegram channel: a bot token (from @BotFather) and the channel, checked as the Bot API documents it.

https://core.telegram.org/bots/api#getme (the token works), #getchatmember with the bot's own user id
(its membership in the channel): in a channel a bot can only post as an administrator
(ChatMemberAdministrator) whose ``can_post_messages`` is true. A bot token does not expire; it stops
working only when it is revoked in @BotFather (then `planner account connect` again).
"""

from __future__ import annotations

import re

import requests

from planner.accounts.connect_x import ConnectError

API = "https://api.telegram.org"
TIMEOUT = 15.0
TOKEN_SHAPE = re.compile(r"^\d{5,}:[A-Za-z0-9_-]{30,}$")


def _call(token: str, method: str, params: dict, *, api_base_url: str | None) -> tuple[int, dict]:
    url = f"{(api_base_url or API).rstrip('/')}/bot{token}/{method}"
    try:
        response = requests.post(url, json=params, timeout=TIMEOUT)
        body = response.json()
    except requests.RequestException as exc:  # the message would hold the URL, and so the token: not shown
        raise ConnectError("connect.unreachable", platform="Telegram", error=type(exc).__name__) from None
    except ValueError:
        body = {}
    return response.status_code, body if isinstance(body, dict) else {}


def verify(token: str, chat_id: str, *, api_base_url: str | None) -> dict:
    """The bot (getMe) once it is known to be allowed to post in ``chat_id``; else a ConnectError saying
    what to change."""
    if not TOKEN_SHAPE.match(token):
        raise ConnectError("connect.telegram_token_shape")
    status, body = _call(token, "getMe", {}, api_base_url=api_base_url)
    if status == 401 or status == 404:
        raise ConnectError("connect.telegram_token_refused")
    if not body.get("ok"):
        raise ConnectError("connect.token_refused", platform="Telegram",
                           error=str(body.get("description") or f"HTTP {status}")[:300])
    bot = body["result"]
    status, body = _call(token, "getChatMember", {"chat_id": chat_id, "user_id": bot["id"]},
                         api_base_url=api_base_url)
    if status == 400 and "chat not found" in str(body.get("description", "")):
        raise ConnectError("connect.telegram_chat_not_found", chat=chat_id)
    member = body.get("result") if body.get("ok") else None
    if not member or member.get("status") not in ("administrator", "creator") or \
            (member.get("status") == "administrator" and not member.get("can_post_messages")):
        raise ConnectError("connect.telegram_not_admin", bot=bot.get("username", ""), chat=chat_id)
    return bot
