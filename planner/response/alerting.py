"""A spike alert that a playbook answers: it names the clarification and the command, and in the staff
chat it carries the buttons "Terbitkan klarifikasi" / "Abaikan"."""

from __future__ import annotations

import logging
from datetime import datetime

from planner import clock
from planner.errors import PlannerError
from planner.i18n import t
from planner.platforms.base import PlatformError
from planner.store import alert_notices, campaigns

log = logging.getLogger("planner.response")


def playbook_lines(db, alert_id: int) -> tuple[list[str], object]:
    """The lines the alert gains when a playbook matches it (else none), and the match."""
    from planner.response.respond import match_alert

    match = match_alert(db, alert_id)
    if match is None:
        return [], None
    text = campaigns.content_text(db, match.alert["campaign_id"], match.content_id)
    preview = " ".join((text or "")[:160].split())
    lines = [t("response.alert_playbook", playbook=match.playbook.id, content=match.content_id, text=preview,
               channels=", ".join(match.playbook.channels) or t("response.all_channels")),
             t("response.alert_command", alert=alert_id, content=match.content_id)]
    return lines, match


def announce(config, db, spike, text: str, *, now: datetime | None = None, log_it: bool = True) -> tuple[str, str | None]:
    """Log and send one spike alert (``text`` from listen.spike_message). Returns the full text and what
    happened to the chat message: "sent", the reason it failed, or None when no chat is set."""
    from planner.alerts import _audit_line
    from planner.response.chat import chat_settings, send
    from planner.response.respond import latest_alert_id

    alert_id = latest_alert_id(db, spike.campaign_id, spike.keyword)
    lines, match = playbook_lines(db, alert_id) if alert_id else ([], None)
    full = "\n".join([text, *lines])
    if log_it:
        log.warning(full)
    if chat_settings(config) is None:
        return full, None
    buttons = [(t("response.button_publish"), f"r:{alert_id}:p"), (t("response.button_ignore"), f"r:{alert_id}:x")] \
        if match else None
    try:
        message_id = send(config, full + _audit_line(config), buttons)
    except (PlatformError, PlannerError) as exc:
        return full, exc.render() if isinstance(exc, PlannerError) else exc.message
    alert_notices.record_sent(db, alert_id, playbook=match.playbook.id if match else None,
                              content_id=match.content_id if match else None, chat_message_id=message_id,
                              now=now or clock.now())
    return full, "sent"
