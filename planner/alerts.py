"""Messages to the staff chat named in the config's [alerts] table (a Telegram bot account and a chat)."""

from __future__ import annotations

from planner.config import Config, resolve_account
from planner.errors import PlannerError
from planner.platforms.base import PlatformError


def notify_staff(config: Config, text: str) -> str | None:
    """Send ``text`` to the staff chat: "sent", the reason it failed, or None when no chat is set."""
    alerts = config.raw.get("alerts", {})
    account_name, chat_id = alerts.get("telegram_account"), alerts.get("chat_id")
    if not account_name or not chat_id:
        return None
    from planner.platforms.telegram import send_message

    try:
        send_message(resolve_account(config, account_name), chat_id, text)
    except (PlatformError, PlannerError) as exc:
        return exc.render() if isinstance(exc, PlannerError) else exc.message
    return "sent"
