"""The staff chat as an approval desk: alerts with buttons, taps read by long polling, answers in the chat.

`planner run` calls ``poll_job`` periodically: one getUpdates long poll (offset = last update id + 1, kept
in the settings table, so each update is handled once; https://core.telegram.org/bots/api#getupdates),
then each ``callback_query`` is decided exactly as the CLI decides: the tapping Telegram id must be mapped
to a user in [users] (``telegram_id``), that user's role must approve, and approval goes through
planner.store.approval (four eyes, content stamps). Every tap, allowed or not, is written to the audit
log with the Telegram identity; a tap from anyone unknown or unauthorised changes nothing else.

Button data (at most 64 bytes): ``r:<alert>:p`` publish the alert's clarification, ``r:<alert>:x`` ignore
the alert, ``a:<post>`` approve one pending post. A ``/review`` message lists pending posts with buttons.
"""

from __future__ import annotations

import logging
from datetime import datetime

from planner import clock
from planner.accounts.resolve import resolve_account
from planner.config import Config
from planner.errors import PlannerError
from planner.i18n import t
from planner.platforms.base import PlatformError
from planner.store import alert_notices, approval, audit, outbox, posts, responses
from planner.store.db import transaction, utc_iso

log = logging.getLogger("planner.response")

OFFSET_KEY = "telegram_update_offset"
LONG_POLL_S = 10          # the job long-polls for this long (short enough for a clean shutdown) ...
POLL_EVERY_S = 10         # ... and runs this often: a tap that comes between two runs waits in Telegram's queue
POLL_GAP_S = 1.5          # the job ends this long before its next run, so the scheduler never skips one
REVIEW_LIST_MAX = 10


def chat_settings(config: Config) -> tuple[str, str] | None:
    alerts = config.raw.get("alerts", {})
    account, chat_id = alerts.get("telegram_account"), alerts.get("chat_id")
    return (account, chat_id) if account and chat_id else None


def _adapter(config: Config, timeout: float):
    from planner.platforms.telegram import TelegramAdapter

    return TelegramAdapter(resolve_account(config, chat_settings(config)[0]), timeout)


def keyboard(buttons: list[tuple[str, str]]) -> dict:
    """An InlineKeyboardMarkup: one row of (label, callback data) buttons."""
    return {"inline_keyboard": [[{"text": label, "callback_data": data} for label, data in buttons]]}


def send(config: Config, text: str, buttons: list[tuple[str, str]] | None = None,
         reply_to: int | None = None) -> int | None:
    """A message to the staff chat (with buttons): its message id, or None when no chat is set.
    Raises PlatformError / PlannerError when it could not be sent."""
    chat = chat_settings(config)
    if chat is None:
        return None
    params: dict = {"chat_id": chat[1], "text": text[:4000]}
    if buttons:
        params["reply_markup"] = keyboard(buttons)
    if reply_to:
        params["reply_parameters"] = {"message_id": reply_to, "allow_sending_without_reply": True}
    with _adapter(config, 10.0) as adapter:
        message = adapter.call("sendMessage", params)
    return message.get("message_id") if isinstance(message, dict) else None


def user_of(config: Config, telegram_id) -> str | None:
    return next((u.name for u in config.users.values() if u.telegram_id is not None and u.telegram_id == telegram_id),
                None)


# --- reading taps -----------------------------------------------------------------------------------
def poll_once(config: Config, db, *, timeout: int = LONG_POLL_S, wake=None, now=None) -> int:
    """One getUpdates call; each update handled and confirmed. Returns how many were handled."""
    if chat_settings(config) is None:
        return 0
    offset = int(outbox.get_setting(db, OFFSET_KEY) or 0)
    with _adapter(config, timeout + 10.0) as adapter:
        updates = adapter.call("getUpdates", {"offset": offset, "timeout": timeout,
                                              "allowed_updates": ["callback_query", "message"]}) or []
        for update in updates:
            try:
                if "callback_query" in update:
                    handle_tap(config, db, adapter, update["callback_query"], wake=wake, now=now)
                elif "message" in update:
                    handle_message(config, db, update["message"])
            except (PlatformError, PlannerError) as exc:  # an answer that could not be sent: the decision stands
                log.error(t("response.chat_failed", error=exc.render() if isinstance(exc, PlannerError)
                            else exc.message))
            outbox.set_setting(db, OFFSET_KEY, str(update["update_id"] + 1), now=clock.now())
    report_published(config, db)
    return len(updates)


def poll_job(config, dispatcher) -> None:
    """Long polls back to back for one period (each returns as soon as a tap arrives)."""
    import time

    end = time.monotonic() + POLL_EVERY_S - POLL_GAP_S
    while (left := end - time.monotonic()) >= 1:
        poll_once(config, dispatcher.db, timeout=int(left), wake=getattr(dispatcher, "on_change", None))


TELEGRAM_JOB = ("telegram-approvals", POLL_EVERY_S, poll_job, 0)


def _identity(who: dict) -> dict:
    return {"telegram_id": who.get("id"), "username": who.get("username") or "",
            "name": " ".join(filter(None, (who.get("first_name"), who.get("last_name"))))}


def _audit(db, *, now: datetime, actor: str, action: str, subject: str, detail: dict) -> None:
    with transaction(db) as conn:
        audit.record(conn, at=utc_iso(now), actor=actor, action=action, subject=subject, detail=detail)


def handle_tap(config: Config, db, adapter, query: dict, *, wake=None, now=None) -> str:
    """Decide one button press; returns the answer shown to the person who pressed it."""
    now = now or clock.now()
    who = _identity(query.get("from") or {})
    data = str(query.get("data") or "")
    user = user_of(config, who["telegram_id"])
    role = config.role_of(user) if user else None
    if user is None or role not in approval.APPROVER_ROLES:
        reason = "unknown_user" if user is None else "not_approver"
        _audit(db, now=now, actor=user or f"telegram:{who['telegram_id']}", action="chat.refused",
               subject=_subject(data), detail={"via": who, "data": data, "reason": reason})
        log.warning(t("response.tap_refused", who=who["username"] or who["telegram_id"], data=data,
                      reason=t(f"response.reason_{reason}")))
        answer = t(f"response.reason_{reason}")
        adapter.call("answerCallbackQuery", {"callback_query_id": query["id"], "text": answer, "show_alert": True})
        return answer
    via = {**who, "channel": "telegram"}
    if data.startswith("r:") and data.endswith(":p"):
        answer, follow_up = _publish(config, db, int(data.split(":")[1]), user, role, via, now)
    elif data.startswith("r:") and data.endswith(":x"):
        answer, follow_up = _ignore(db, int(data.split(":")[1]), user, via, now), None
    elif data.startswith("a:"):
        answer, follow_up = _approve(db, [int(data[2:])], user, role, via, now), None
    else:
        answer, follow_up = t("response.unknown_button"), None
    adapter.call("answerCallbackQuery", {"callback_query_id": query["id"], "text": answer[:190]})
    message = query.get("message") or {}
    send(config, t("response.chat_decision", user=user, answer=answer), reply_to=message.get("message_id"))
    if follow_up:
        send(config, *follow_up)
    if wake:
        wake()
    return answer


def _subject(data: str) -> str:
    parts = data.split(":")
    if data.startswith("r:") and len(parts) > 1:
        return f"alert:{parts[1]}"
    return f"post:{parts[1]}" if data.startswith("a:") and len(parts) > 1 else "chat"


def _publish(config, db, alert_id: int, user: str, role: str, via: dict, now: datetime):
    from planner.response.respond import RespondError, respond

    try:
        outcome = respond(db, alert_id, actor=user, now=now, via=via)
    except RespondError as exc:
        return exc.render(), None
    if outcome.already:
        # Asked for before (by the author, say): this press approves what still waits, nothing is sent twice.
        outcome.waiting = [row["id"] for row in posts.get_many(db, outcome.released)
                           if row["state"] == "pending_approval"]
        if not outcome.waiting:
            return t("response.already", alert=alert_id), None
    decision = approval.approve(db, outcome.waiting, actor=user, role=role, now=now) if outcome.waiting else None
    _audit(db, now=now, actor=user, action="chat.publish", subject=f"alert:{alert_id}",
           detail={"via": via, "released": outcome.released,
                   "approved": decision.done if decision else [],
                   "refused": [[p, k] for p, k in decision.refused] if decision else []})
    waiting = [p for p, _ in decision.refused] if decision else []
    if not outcome.released:
        return t("response.nothing_released", alert=alert_id), None
    if outcome.already and not waiting:
        return t("response.published_now", count=len(decision.done)), None
    if waiting:
        buttons = [(t("response.button_approve_post", id=p), f"a:{p}") for p in waiting[:3]]
        return (t("response.published_waiting", count=len(outcome.released) - len(waiting), waiting=len(waiting),
                  reason=t(decision.refused[0][1])),
                (t("response.needs_other_approver", ids=", ".join(f"#{p}" for p in waiting)), buttons))
    return t("response.published_now", count=len(outcome.released)), None


def _ignore(db, alert_id: int, user: str, via: dict, now: datetime) -> str:
    alert_notices.ignore(db, alert_id, actor=user, now=now, via=via)
    return t("response.ignored", alert=alert_id)


def _approve(db, post_ids: list[int], user: str, role: str, via: dict, now: datetime) -> str:
    decision = approval.approve(db, post_ids, actor=user, role=role, now=now)
    _audit(db, now=now, actor=user, action="chat.approve", subject=f"post:{post_ids[0]}",
           detail={"via": via, "approved": decision.done, "refused": [[p, k] for p, k in decision.refused]})
    if decision.done:
        return t("response.approved", ids=", ".join(f"#{p}" for p in decision.done))
    return t(decision.refused[0][1]) if decision.refused else t("response.unknown_button")


def handle_message(config: Config, db, message: dict) -> None:
    """``/review`` from a mapped user: the pending posts, each with an approve button."""
    text = str(message.get("text") or "").strip()
    if not text.startswith("/review"):
        return
    who = _identity(message.get("from") or {})
    if user_of(config, who["telegram_id"]) is None:
        log.warning(t("response.tap_refused", who=who["username"] or who["telegram_id"], data=text,
                      reason=t("response.reason_unknown_user")))
        return
    ids = approval.pending_ids(db)[:REVIEW_LIST_MAX]
    if not ids:
        send(config, t("response.review_empty"))
        return
    for row in posts.get_many(db, ids):
        quote = " ".join(row["text"][:300].split())
        send(config, t("response.review_item", id=row["id"], channel=row["channel"], text=quote),
             [(t("response.button_approve_post", id=row["id"]), f"a:{row['id']}")])


def report_published(config: Config, db) -> None:
    """Once every post of a response is out, its links go to the staff chat (once)."""
    for response_id, alert_id in responses.fully_published_unreported(db):
        links = [f"{channel}: {url or '-'}" for channel, url in responses.links(db, response_id)]
        if not responses.mark_links_sent(db, response_id, now=clock.now()):
            continue
        try:
            send(config, t("response.links", alert=alert_id, links="\n".join(links)))
        except (PlatformError, PlannerError) as exc:
            log.error(t("response.chat_failed", error=exc.render() if isinstance(exc, PlannerError) else exc.message))
