"""What the staff chat was told about a spike alert (``alert_notices``): when, with which playbook and message,
and who chose to ignore it."""

from __future__ import annotations

from datetime import datetime

from planner.store import audit
from planner.store.db import transaction, utc_iso


def record_sent(db, alert_id: int, *, playbook: str | None, content_id: str | None, chat_message_id: int | None,
                now: datetime) -> None:
    """The alert went to the staff chat at ``now`` (the first sending counts; a later one changes nothing)."""
    with transaction(db) as conn:
        conn.execute("INSERT OR IGNORE INTO alert_notices (alert_id, playbook, content_id, sent_at, chat_message_id) "
                     "VALUES (?, ?, ?, ?, ?)", [alert_id, playbook, content_id, utc_iso(now), chat_message_id])


def ignore(db, alert_id: int, *, actor: str, now: datetime, via: dict) -> None:
    """``actor`` chose not to answer the alert (the chat's "Abaikan"); audited as ``response.ignore``."""
    with transaction(db) as conn:
        conn.execute("UPDATE alert_notices SET ignored_by = ? WHERE alert_id = ?", [actor, alert_id])
        audit.record(conn, at=utc_iso(now), actor=actor, action="response.ignore", subject=f"alert:{alert_id}",
                     detail={"via": via})


def get(db, alert_id: int) -> dict | None:
    rows = list(db.query("SELECT * FROM alert_notices WHERE alert_id = ?", [alert_id]))
    return rows[0] if rows else None
