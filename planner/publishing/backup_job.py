"""The database backup `planner run` makes every [backup] every (24 h by default)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from planner.i18n import t
from planner.store import outbox
from planner.store.db import parse_utc, utc_iso

LAST_BACKUP_KEY = "last_backup_at"
log = logging.getLogger("planner.backup")


def backup_job(config, dispatcher) -> None:
    """Looked at every minute; copies the database once ``config.backup_every`` has passed."""
    from planner.store.backup import BackupError, backup_database

    if config.backup_every is None:
        return
    db = dispatcher.db
    now = datetime.now(timezone.utc)
    last = outbox.get_setting(db, LAST_BACKUP_KEY)
    if last and now - parse_utc(last) < config.backup_every:
        return
    try:
        result = backup_database(config.database, config.backup_dir, keep=config.backup_keep, now=now)
    except BackupError as exc:
        log.error(t("log.backup_failed", dir=str(config.backup_dir), error=str(exc)))
        from planner.alerts import notify_staff
        from planner.i18n import t

        notify_staff(config, t("backup.failed", dir=str(config.backup_dir), error=str(exc)))
        outbox.set_setting(db, LAST_BACKUP_KEY, utc_iso(now), now=now)  # try again after the next period
        return
    outbox.set_setting(db, LAST_BACKUP_KEY, utc_iso(now), now=now)
    log.info(t("log.backup_written", path=str(result.path), size=result.size_bytes,
                   removed=len(result.removed)))


BACKUP_JOB = ("backup", 60, backup_job)
