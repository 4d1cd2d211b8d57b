"""The whole database schema, as ordered migrations recorded in the ``_migrations`` table.

Add a migration by appending a function to MIGRATIONS; never edit one that has shipped.
Times are TEXT in UTC ISO-8601 with milliseconds and a Z (``2026-12-01T02:00:00.000Z``),
so they sort as text and read well in Datasette.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Callable


def is_postgres(conn) -> bool:
    """True for a PostgreSQL database (store/backend.py). store/postgres.py reads the DDL below as PostgreSQL
    and says where it cannot; a migration branches on this only where the SQLite text has no such reading."""
    return getattr(conn, "dialect", "sqlite") == "postgresql"


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Execute statements one by one (executescript would COMMIT our open transaction)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""
    if statement.strip():
        conn.execute(statement)


def m001_core(conn: sqlite3.Connection) -> None:
    run_script(conn,
        """
        CREATE TABLE campaigns (
            id TEXT PRIMARY KEY,              -- slug from the campaign file
            name TEXT NOT NULL,
            owner TEXT NOT NULL DEFAULT '',   -- division / person responsible
            timezone TEXT NOT NULL,
            start_at TEXT NOT NULL,           -- UTC
            end_at TEXT NOT NULL,             -- UTC
            source_file TEXT,
            spec TEXT NOT NULL,               -- the validated campaign as JSON (goal, audiences, monitoring...)
            applied_at TEXT NOT NULL,
            applied_by TEXT NOT NULL DEFAULT ''
        );

        CREATE TABLE content (
            campaign_id TEXT NOT NULL REFERENCES campaigns(id),
            id TEXT NOT NULL,
            issue TEXT NOT NULL DEFAULT '',
            audiences TEXT NOT NULL DEFAULT '[]',  -- JSON list of audience ids
            text TEXT NOT NULL DEFAULT '',
            spec TEXT NOT NULL,                    -- the content item as JSON
            removed_at TEXT,                       -- set when the item left the campaign file
            PRIMARY KEY (campaign_id, id)
        );

        -- The outbox: one row per (content, channel, occurrence). This table, not the scheduler's
        -- memory, is the truth about what is to be published and what was.
        CREATE TABLE posts (
            id INTEGER PRIMARY KEY,
            campaign_id TEXT NOT NULL REFERENCES campaigns(id),
            content_id TEXT NOT NULL,
            channel TEXT NOT NULL,                 -- account name from config
            platform TEXT NOT NULL,
            occurrence INTEGER NOT NULL DEFAULT 0, -- 0 for one-off content, n for the nth repeat
            idempotency_key TEXT NOT NULL UNIQUE,
            due_at TEXT NOT NULL,                  -- UTC
            state TEXT NOT NULL,
            text TEXT NOT NULL,                    -- rendered for the channel (variant, hashtags)
            link TEXT,
            media TEXT NOT NULL DEFAULT '[]',      -- JSON list of absolute file paths
            thread TEXT NOT NULL DEFAULT '[]',     -- JSON list of further texts (reply chain)
            fingerprint TEXT NOT NULL,
            attempt INTEGER NOT NULL DEFAULT 0,
            lease_owner TEXT,
            lease_until TEXT,
            retry_at TEXT,
            platform_post_id TEXT,
            url TEXT,
            published_at TEXT,
            late_ms INTEGER,                       -- published_at - due_at
            last_error TEXT,
            error_kind TEXT,                       -- retryable | permanent | unknown
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            FOREIGN KEY (campaign_id, content_id) REFERENCES content(campaign_id, id),
            UNIQUE (campaign_id, content_id, channel, occurrence),
            CHECK (state IN ('draft', 'pending_approval', 'queued', 'publishing', 'published',
                             'failed_retryable', 'failed', 'unknown', 'needs_review', 'held',
                             'missed', 'canceled'))
        );
        CREATE INDEX posts_due ON posts(state, due_at);
        CREATE INDEX posts_campaign ON posts(campaign_id, state);

        -- Every state change of a post, for `planner post show` and the reports.
        CREATE TABLE post_events (
            id INTEGER PRIMARY KEY,
            post_id INTEGER NOT NULL REFERENCES posts(id),
            at TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            actor TEXT NOT NULL DEFAULT '',
            detail TEXT
        );
        CREATE INDEX post_events_post ON post_events(post_id);

        -- Small key/value facts: pause flag, scheduler heartbeat.
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        """
    )


def m002_publishing(conn: sqlite3.Connection) -> None:
    run_script(conn,
        """
        ALTER TABLE campaigns ADD COLUMN grace_seconds INTEGER;  -- NULL: the config's grace
        ALTER TABLE posts ADD COLUMN hold_reason TEXT;           -- why a post is held (pause, blackout)
        CREATE INDEX posts_lease ON posts(state, lease_until);
        """
    )


def m003_monitoring(conn: sqlite3.Connection) -> None:
    run_script(conn,
        """
        -- Append-only: one row per (post, metric) each time metrics are collected. Never updated.
        CREATE TABLE metric_snapshots (
            id INTEGER PRIMARY KEY,
            post_id INTEGER NOT NULL REFERENCES posts(id),
            collected_at TEXT NOT NULL,
            metric TEXT NOT NULL,
            value INTEGER NOT NULL
        );
        CREATE INDEX metric_snapshots_post ON metric_snapshots(post_id, metric, collected_at);

        -- Per post: when metrics were last asked for, and whether the platform can give any.
        CREATE TABLE metric_status (
            post_id INTEGER PRIMARY KEY REFERENCES posts(id),
            last_collected_at TEXT NOT NULL,
            available INTEGER NOT NULL,          -- 0: the platform gives no metrics (Telegram)
            note TEXT
        );

        -- Public posts mentioning a campaign's keywords, stored once per platform post and keyword.
        CREATE TABLE mentions (
            id INTEGER PRIMARY KEY,
            campaign_id TEXT NOT NULL REFERENCES campaigns(id),
            platform TEXT NOT NULL,
            platform_id TEXT NOT NULL,
            keyword TEXT NOT NULL,
            text TEXT NOT NULL,
            author TEXT NOT NULL DEFAULT '',
            url TEXT,
            created_at TEXT NOT NULL,
            seen_at TEXT NOT NULL,
            UNIQUE (campaign_id, platform, platform_id, keyword)
        );
        CREATE INDEX mentions_time ON mentions(campaign_id, keyword, created_at);

        -- Spikes in mentions: volume well above the keyword's rolling baseline.
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            campaign_id TEXT NOT NULL REFERENCES campaigns(id),
            keyword TEXT NOT NULL,
            at TEXT NOT NULL,
            window_count INTEGER NOT NULL,
            baseline REAL NOT NULL,
            detail TEXT NOT NULL
        );
        """
    )


def m004_team(conn: sqlite3.Connection) -> None:
    run_script(conn,
        """
        -- Who did what and when. Append-only; each row's hash covers the previous row's hash.
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,      -- apply, approve, reject, cancel, pause, resume, publish, account.add ...
            subject TEXT NOT NULL,     -- e.g. post:12, campaign:cek-dpt
            detail TEXT NOT NULL,      -- JSON
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

        -- Four-eyes approval: who wrote the content of a post, who approved or rejected it.
        ALTER TABLE posts ADD COLUMN author TEXT NOT NULL DEFAULT '';
        ALTER TABLE posts ADD COLUMN approved_by TEXT;
        ALTER TABLE posts ADD COLUMN approved_at TEXT;
        """
    )


def m005_metric_rollups(conn: sqlite3.Connection) -> None:
    run_script(conn,
        """
        -- Derived from metric_snapshots at collection time, so reports need not scan the whole history:
        -- the latest value of each (post, metric), and each campaign's totals after each collection.
        CREATE TABLE metric_latest (
            post_id INTEGER NOT NULL REFERENCES posts(id),
            metric TEXT NOT NULL,
            value INTEGER NOT NULL,
            collected_at TEXT NOT NULL,
            PRIMARY KEY (post_id, metric)
        ) WITHOUT ROWID;
        """
    )
    # A PostgreSQL database is new when this runs (no snapshots to carry over), and the backfill's "bare
    # column" beside MAX() is SQLite's own reading of GROUP BY.
    if not is_postgres(conn):
        conn.execute("""
        INSERT INTO metric_latest (post_id, metric, value, collected_at)
            SELECT post_id, metric, value, MAX(collected_at) FROM metric_snapshots GROUP BY post_id, metric;
        """)
    run_script(conn,
        """
        CREATE TABLE metric_totals (
            campaign_id TEXT NOT NULL REFERENCES campaigns(id),
            collected_at TEXT NOT NULL,
            engagements INTEGER NOT NULL,
            reach INTEGER NOT NULL,
            PRIMARY KEY (campaign_id, collected_at)
        ) WITHOUT ROWID;
        """
    )


def m006_next_attempt_index(conn: sqlite3.Connection) -> None:
    # The dispatcher asks "what is due next?" on every wake: answer it from an index, not a scan.
    conn.execute("CREATE INDEX posts_next_attempt ON posts(state, COALESCE(retry_at, due_at))")


def m007_thread_progress(conn: sqlite3.Connection) -> None:
    # The platform ids of a thread's parts already live (JSON list, head first), saved as each part goes
    # out: a retry or reconciliation continues the thread instead of posting it again or leaving it short.
    conn.execute("ALTER TABLE posts ADD COLUMN thread_ids TEXT")


def m008_approval_stamp(conn: sqlite3.Connection) -> None:
    # What an approval covers: the hash of the text, link, thread and media bytes when it was given
    # (planner.domain.post.approval_stamp). Approvals recorded before it existed carry none, so with
    # approval required those posts go back to an approver once.
    conn.execute("ALTER TABLE posts ADD COLUMN approved_hash TEXT")


def m009_send_started(conn: sqlite3.Connection) -> None:
    # When this claim's request to the platform was about to leave: committed under the lease right before
    # the adapter is called, NULL from each claim until then. A post whose owner died or lost its lease with
    # the mark unset was certainly never sent, so it is queued again directly instead of reconciled.
    conn.execute("ALTER TABLE posts ADD COLUMN send_started_at TEXT")


def m010_audit_os_user(conn: sqlite3.Connection) -> None:
    # The operating-system account that ran the command, beside the name it acted as (--as is a claim;
    # this is what the machine knew). NULL on rows written before; part of the hash when set.
    conn.execute("ALTER TABLE audit_log ADD COLUMN os_user TEXT")


def m011_standby_responses(conn: sqlite3.Connection) -> None:
    run_script(conn,
        """
        -- Standby content (a prepared clarification): approved like any post, never claimed by the scheduler
        -- while standby = 1 (its due_at is a far placeholder too). `planner respond` clears the flag, due now.
        ALTER TABLE posts ADD COLUMN standby INTEGER NOT NULL DEFAULT 0;

        -- A spike alert answered with a playbook's standby content, and the times of each step.
        CREATE TABLE responses (
            id INTEGER PRIMARY KEY,
            alert_id INTEGER NOT NULL UNIQUE REFERENCES alerts(id),
            campaign_id TEXT NOT NULL REFERENCES campaigns(id),
            playbook TEXT NOT NULL,
            content_id TEXT NOT NULL,
            requested_by TEXT NOT NULL,
            requested_at TEXT NOT NULL,
            links_sent_at TEXT                 -- the published links were reported to the staff chat
        );
        -- Each standby post is released by one response only: exactly once.
        CREATE TABLE response_posts (
            post_id INTEGER PRIMARY KEY REFERENCES posts(id),
            response_id INTEGER NOT NULL REFERENCES responses(id)
        );
        -- What the staff chat was told about an alert (the playbook matched), and when.
        CREATE TABLE alert_notices (
            alert_id INTEGER PRIMARY KEY REFERENCES alerts(id),
            playbook TEXT,
            content_id TEXT,
            sent_at TEXT NOT NULL,
            chat_message_id INTEGER,
            ignored_by TEXT
        );
        """
    )


# How post history and holds were written before m012 (English sentences), read once by m012 to give each
# old row its code and parameters. Frozen with the migration: later code writes codes, never these.
_OLD_EVENT_SENTENCES = (
    (r"^applied$", "applied"),
    (r"^attempt (?P<n>\d+)$", "attempt"),
    (r"^published$", "published"),
    (r"^reconciled: found on the platform$", "reconciled_found"),
    (r"^reconciled: not on the platform, queued again$", "reconciled_absent"),
    (r"^reconciled: (?P<live>\d+) of (?P<total>\d+) thread parts are on the platform, queued again to post the "
     r"rest$", "reconciled_thread"),
    (r"^released at shutdown, never sent$", "released"),
    (r"^lease expired$", "lease_expired"),
    (r"^lease expired, never sent: queued again$", "lease_expired_unsent"),
    (r"^claimed by a process that is gone, never sent: queued again$", "owner_gone_unsent"),
    (r"^claimed by a process that is gone, may have been sent$", "owner_gone_sent"),
    (r"^not published within its grace period \(due (?P<due>[^)]+)\)$", "missed"),
    (r"^publish now requested \(was due (?P<due>[^)]+)\)$", "publish_now"),
    (r"^removed from the campaign file$", "removed"),
    (r"^restored$", "restored"),
    (r"^edited: (?P<fields>.+)$", "edited"),
    (r"^approved$", "approved"),
    (r"^approved \(admin override of the four-eyes rule\)$", "approved_override"),
    (r"^rejected: (?P<reason>.+)$", "rejected"),
    (r"^canceled by hand$", "canceled"),
    (r"^retry requested$", "retry"),
    (r"^approval void: content changed since it was approved$", "approval_void"),
    (r"^approval required: no valid approval$", "approval_missing"),
    (r"^requeued by hand \(was due (?P<due>[^)]+)\)$", "requeued"),
    (r"^resumed$", "resumed"),
    (r"^resumed and rescheduled to now$", "resumed_rescheduled"),
    (r"^blackout over: rescheduled to (?P<due>.+)$", "blackout_over"),
    (r"^pause: (?P<reason>.+)$", "paused"),
    (r"^blackout: (?P<reason>.+)$", "blackout"),
    (r"^cannot tell whether it was published: (?P<detail>.+)$", "cannot_tell"),
    (r"^reconnect needed: (?P<account>.+)$", "reconnect_needed"),
    (r"^account reconnected: (?P<account>.+)$", "reconnected"),
    (r"^standby released: answer to alert (?P<alert>\d+) \(playbook (?P<playbook>.+)\)$", "standby_released"),
)
_OLD_HOLD_PREFIXES = (("pause", "pause: "), ("blackout", "blackout: "), ("reconnect", "reconnect needed: "))


def _old_event(detail: str) -> tuple[str, str | None]:
    for pattern, code in _OLD_EVENT_SENTENCES:
        match = re.match(pattern, detail, re.DOTALL)
        if match:
            params = match.groupdict()
            for name in ("n", "live", "total", "alert"):
                if name in params:
                    params[name] = int(params[name])
            return code, (json.dumps(params, ensure_ascii=False, sort_keys=True) if params else None)
    # Anything else was a platform's error summary (or a problem already worded): shown as it was.
    return "error", json.dumps({"error": detail}, ensure_ascii=False)


def m012_structured_history(conn: sqlite3.Connection) -> None:
    # Post history as a code with parameters (planner.domain.events), shown in the reader's language from
    # the catalogue; ``detail`` keeps the English sentence for people and logs. A held post's reason as a
    # kind (pause | blackout | reconnect) and the detail it needs (the pause's or blackout's reason, the
    # account); ``hold_reason`` keeps the English sentence.
    run_script(conn,
        """
        ALTER TABLE post_events ADD COLUMN code TEXT;
        ALTER TABLE post_events ADD COLUMN params TEXT;   -- JSON object, NULL when the event has none
        ALTER TABLE posts ADD COLUMN hold_kind TEXT;
        ALTER TABLE posts ADD COLUMN hold_detail TEXT;
        """
    )
    known: dict[str, tuple[str, str | None]] = {}
    updates = []
    for event_id, detail in conn.execute("SELECT id, detail FROM post_events WHERE detail IS NOT NULL "
                                         "AND detail != ''"):
        if detail not in known:
            known[detail] = _old_event(detail)
        updates.append((*known[detail], event_id))
    conn.executemany("UPDATE post_events SET code = ?, params = ? WHERE id = ?", updates)
    for kind, prefix in _OLD_HOLD_PREFIXES:
        conn.execute("UPDATE posts SET hold_kind = ?, hold_detail = substr(hold_reason, ?) "
                     "WHERE hold_reason IS NOT NULL AND substr(hold_reason, 1, ?) = ?",
                     [kind, len(prefix) + 1, len(prefix), prefix])


def m013_insertion_order(conn: sqlite3.Connection) -> None:
    # Campaigns and content items listed in the order they were first applied, on both backends
    # (SQLite's rowid has no PostgreSQL twin). New rows take MAX(seq) + 1 when inserted.
    run_script(conn,
        """
        ALTER TABLE campaigns ADD COLUMN seq INTEGER;
        ALTER TABLE content ADD COLUMN seq INTEGER;
        """
    )
    if not is_postgres(conn):
        run_script(conn, "UPDATE campaigns SET seq = rowid;\nUPDATE content SET seq = rowid;\n")


def m014_cluster_pacing_indexes(conn: sqlite3.Connection) -> None:
    # PostgreSQL workers count an account's sends in flight and in its pacing window inside every claim, under
    # the write lock (store/worker_jobs.py): one indexed read, ~0.15 ms a post over a plain claim (2,000 posts,
    # 100 accounts); without the indexes it scans the account's whole history. Made on SQLite too, so that
    # both backends keep the same schema.
    run_script(conn,
        """
        CREATE INDEX posts_channel_in_flight ON posts(channel, state, lease_until);
        CREATE INDEX posts_channel_sends ON posts(channel, send_started_at);
        """
    )


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    m001_core,
    m002_publishing,
    m003_monitoring,
    m004_team,
    m005_metric_rollups,
    m006_next_attempt_index,
    m007_thread_progress,
    m008_approval_stamp,
    m009_send_started,
    m010_audit_os_user,
    m011_standby_responses,
    m012_structured_history,
    m013_insertion_order,
    m014_cluster_pacing_indexes,
]
