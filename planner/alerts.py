"""Messages to the staff chat named in the config's [alerts] table (a Telegram bot account and a chat)."""

from __future__ import annotations

from planner.accounts.resolve import resolve_account
from planner.config import Config
from planner.errors import PlannerError
from planner.platforms.base import PlatformError


def notify_staff(config: Config, text: str) -> str | None:
    """Send ``text`` to the staff chat: "sent", the reason it failed, or None when no chat is set.

    Each message ends with the audit chain's head: a copy of it outside the office's machine, so a
    shortened or rewritten audit log can be shown against the chat's history.
    """
    alerts = config.raw.get("alerts", {})
    account_name, chat_id = alerts.get("telegram_account"), alerts.get("chat_id")
    if not account_name or not chat_id:
        return None
    from planner.platforms import make_adapter

    try:
        # The account is a Telegram bot (config validation says so): its adapter can write to any chat.
        with make_adapter(resolve_account(config, account_name)) as adapter:
            adapter.send_text(chat_id, text + _audit_line(config))
    except (PlatformError, PlannerError) as exc:
        return exc.render() if isinstance(exc, PlannerError) else exc.message
    return "sent"


def _audit_line(config: Config) -> str:
    from planner.i18n import t
    from planner.store.audit import head
    from planner.store.backend import open_configured

    try:
        db = open_configured(config, readonly=True)
        try:
            current = head(db)
        finally:
            db.conn.close()
    except Exception:  # the alert matters more than its footer
        return ""
    return "\n\n" + t("audit.chat_head", head=current.short(), count=current.count) if current.count else ""
