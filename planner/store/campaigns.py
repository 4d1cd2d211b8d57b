"""Writing a validated campaign into the database: campaign, content, and its outbox rows.

``apply_campaign`` computes the plan inside one BEGIN IMMEDIATE transaction and either
writes it all or nothing (``dry_run`` rolls back). Published posts are never touched.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from planner import clock
from planner.domain.campaign import AppliedCampaign, Audience, Blackout, Campaign, Goal, Kpi, Monitoring, Playbook
from planner.domain.events import Event, EventCode, event
from planner.store import audit
from planner.errors import PlannerError
from planner.store.db import parse_utc, transaction, utc_iso
from planner.store.outbox import record_event

EDITABLE = ("draft", "pending_approval", "queued", "held", "failed_retryable", "failed", "missed", "canceled")
IN_FLIGHT = ("publishing", "unknown", "needs_review")
COMPARED = ("due_at", "text", "link", "media", "thread", "platform")


@dataclass
class PlanEntry:
    key: str
    content_id: str
    channel: str
    due_at: str
    changes: tuple[str, ...] = ()


@dataclass
class Plan:
    campaign_id: str
    added: list[PlanEntry] = field(default_factory=list)
    changed: list[PlanEntry] = field(default_factory=list)
    canceled: list[PlanEntry] = field(default_factory=list)
    published_kept: list[PlanEntry] = field(default_factory=list)  # edited after publishing: left as is
    in_flight: list[PlanEntry] = field(default_factory=list)       # being published now: left as is
    unchanged: int = 0
    new_campaign: bool = False

    @property
    def has_writes(self) -> bool:
        return bool(self.added or self.changed or self.canceled)


def idempotency_key(campaign_id: str, content_id: str, channel: str, occurrence: int) -> str:
    return f"{campaign_id}:{content_id}:{channel}:{occurrence}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if hasattr(value, "key") and type(value).__name__ == "ZoneInfo":
        return value.key
    raise TypeError(type(value))


def campaign_spec(campaign: Campaign) -> str:
    """The campaign's five parts as JSON, without its content items (they live in the content table)."""
    data = asdict(replace(campaign, content=()))
    del data["content"]
    data["timezone"] = campaign.timezone.key
    data["content_count"] = len(campaign.content)
    return json.dumps(data, default=_jsonable, ensure_ascii=False)


# --- reading campaigns back -------------------------------------------------------------------------
def get(db: sqlite_utils.Database, campaign_id: str) -> AppliedCampaign | None:
    """The campaign as last applied, or None when no campaign has this id."""
    found = _read(db, "WHERE id = ?", [campaign_id])
    return found[0] if found else None


def list_all(db: sqlite_utils.Database) -> list[AppliedCampaign]:
    """Every applied campaign, in the order they were first applied."""
    return _read(db, "", [])


def ids(db: sqlite_utils.Database) -> list[str]:
    return [row[0] for row in db.execute("SELECT id FROM campaigns ORDER BY id")]


def content_items(db: sqlite_utils.Database, campaign_id: str) -> list[dict]:
    """The campaign's current content items ({"id", "issue", "text"}), in file order."""
    return list(db.query("SELECT id, issue, text FROM content WHERE campaign_id = ? AND removed_at IS NULL "
                         "ORDER BY seq", [campaign_id]))


# Decoded specs by (id, applied_at, size). A changed spec always comes with a new applied_at (the apply's
# upsert writes nothing when nothing changed), so a campaign is decoded again only after it was re-applied;
# the dispatcher reads the campaigns' blackout windows before every claim.
_decoded: dict[tuple[str, str, int], AppliedCampaign] = {}


def _read(db: sqlite_utils.Database, where: str, params: list) -> list[AppliedCampaign]:
    stamps = [tuple(row) for row in db.execute(
        f"SELECT id, applied_at, length(spec) FROM campaigns {where} ORDER BY seq", params)]
    found = [_decoded.get(stamp) for stamp in stamps]
    if None not in found:
        return found
    if len(_decoded) > 1000:
        _decoded.clear()
    found = []
    for campaign_id, applied_at, size, spec in db.execute(
            f"SELECT id, applied_at, length(spec), spec FROM campaigns {where} ORDER BY seq", params):
        stamp = (campaign_id, applied_at, size)
        campaign = _decoded.get(stamp)
        if campaign is None:
            campaign = _decoded[stamp] = from_spec(campaign_id, json.loads(spec))
        found.append(campaign)
    return found


def from_spec(campaign_id: str, data: dict) -> AppliedCampaign:
    """The stored spec (campaign_spec's JSON, decoded) as an AppliedCampaign. Parts a campaign applied by an
    older version lacks take their type's defaults (planner.domain.campaign)."""
    goal = data.get("goal") or {}
    monitoring = data.get("monitoring") or {}
    durations = {name: timedelta(seconds=monitoring[name]) for name in ("collect_every", "track_for")
                 if monitoring.get(name) is not None}
    settings = {name: monitoring[name] for name in ("spike_threshold", "report_period")
                if monitoring.get(name) is not None}
    return AppliedCampaign(
        id=campaign_id, name=data["name"], owner=data.get("owner") or "", timezone=ZoneInfo(data["timezone"]),
        start=date.fromisoformat(data["start"]), end=date.fromisoformat(data["end"]),
        channels=tuple(data.get("channels") or ()),
        goal=Goal(objective=goal.get("objective") or "", kpis=tuple(
            Kpi(metric=k["metric"], target=k["target"], platform=k.get("platform") or "all",
                deadline=date.fromisoformat(k["deadline"]) if k.get("deadline") else None)
            for k in goal.get("kpis") or ())),
        audiences=tuple(Audience(a["id"], a.get("description") or "", tuple(a.get("platforms") or ()))
                        for a in data.get("audiences") or ()),
        monitoring=Monitoring(keywords=tuple(monitoring.get("keywords") or ()), **durations, **settings),
        # A campaign's own window holds only its posts, on all its channels.
        blackouts=tuple(Blackout(start=parse_utc(w["start"]), end=parse_utc(w["end"]), reason=w["reason"],
                                 campaign=campaign_id) for w in data.get("blackouts") or ()),
        playbooks=tuple(Playbook(id=p["id"], keywords=tuple(p.get("keywords") or ()),
                                 phrases=tuple(p.get("phrases") or ()), min_ratio=p.get("min_ratio"),
                                 content=tuple(p.get("content") or ()), channels=tuple(p.get("channels") or ()))
                        for p in data.get("responses") or ()),
    )


def content_spec(item) -> str:
    """One content item as JSON (shallow: dataclasses.asdict deep-copies, which is slow at 10,000 items)."""
    data = {name: getattr(item, name) for name in item.__dataclass_fields__}
    data["variants"] = {key: {"text": v.text, "thread": v.thread, "media": v.media} for key, v in item.variants.items()}
    if item.repeat is not None:
        data["repeat"] = {name: getattr(item.repeat, name) for name in item.repeat.__dataclass_fields__}
    return json.dumps(data, default=_jsonable, ensure_ascii=False)


def applied_times(db: sqlite_utils.Database, campaign_id: str) -> dict[str, set[str]]:
    """content id -> due times (UTC text) of its posts in the outbox, in any state."""
    found: dict[str, set[str]] = {}
    if "posts" in db.table_names():
        for content_id, due_at in db.execute("SELECT content_id, due_at FROM posts WHERE campaign_id = ?",
                                             [campaign_id]):
            found.setdefault(content_id, set()).add(due_at)
    return found


def published_content_ids(db: sqlite_utils.Database, campaign_id: str) -> set[str]:
    if "posts" not in db.table_names():
        return set()
    rows = db.execute("SELECT DISTINCT content_id FROM posts WHERE campaign_id = ? AND state = 'published'",
                      [campaign_id]).fetchall()
    return {r[0] for r in rows}


def apply_campaigns(db: sqlite_utils.Database, batch: list[tuple[Campaign, list[dict], str]], *,
                    approval_required: bool, actor: str, dry_run: bool = False,
                    slots: dict[str, tuple[list, ZoneInfo]] | None = None) -> list[Plan]:
    """Apply several campaigns (campaign, desired rows, source file) in ONE transaction."""

    class _DryRun(Exception):
        pass

    plans: list[Plan] = []
    try:
        with transaction(db):
            for campaign, desired, source_file in batch:
                _place_in_slots(db, campaign, desired, slots or {})
                plans.append(_apply_one(db, campaign, desired, source_file=source_file,
                                        approval_required=approval_required, actor=actor))
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return plans


class NoFreeSlot(PlannerError):
    pass


def _place_in_slots(db, campaign: Campaign, desired: list[dict], slots: dict[str, tuple[list, ZoneInfo]]) -> None:
    """Give `slot = "next"` rows (due_at None) a time: the one they already have if it is still ahead,
    else the account's next slot no other post uses. Runs inside the apply transaction."""
    from planner.domain.slots import next_free

    pending = [row for row in desired if row["due_at"] is None]
    if not pending:
        return
    now = clock.now()
    start, _ = campaign.window()
    taken: dict[str, set] = {}
    for row in pending:
        channel = row["channel"]
        if channel not in taken:
            taken[channel] = {parse_utc(r[0]) for r in db.execute(
                "SELECT due_at FROM posts WHERE channel = ? AND state != 'canceled'", [channel])}
            taken[channel].update(r["due_at"] for r in desired if r["channel"] == channel and r["due_at"])
    for row in pending:
        key = idempotency_key(row["campaign_id"], row["content_id"], row["channel"], row["occurrence"])
        old = db.execute("SELECT due_at, state FROM posts WHERE idempotency_key = ?", [key]).fetchone()
        if old is not None and old[1] != "canceled" and (old[1] == "published" or parse_utc(old[0]) > now):
            row["due_at"] = parse_utc(old[0])  # keep its slot: re-applying must not shuffle the plan
            continue
        account_slots, zone = slots[row["channel"]]
        moment = next_free(account_slots, zone, after=max(now, start), until=campaign.end, taken=taken[row["channel"]])
        if moment is None:
            raise NoFreeSlot("apply.no_free_slot", channel=row["channel"], content=row["content_id"],
                             end=campaign.end.isoformat())
        row["due_at"] = moment
        taken[row["channel"]].add(moment)


def _apply_one(db: sqlite_utils.Database, campaign: Campaign, desired: list[dict], *, source_file: str,
               approval_required: bool, actor: str) -> Plan:
    now = utc_iso(clock.now())
    initial_state = "pending_approval" if approval_required else "queued"
    conn = db.conn
    plan = Plan(campaign.id)
    plan.new_campaign = conn.execute("SELECT 1 FROM campaigns WHERE id = ?", [campaign.id]).fetchone() is None
    existing = {row["idempotency_key"]: row for row in db.query(
        "SELECT * FROM posts WHERE campaign_id = ?", [campaign.id])}
    start, end = campaign.window()
    # Standby posts already released by `planner respond` keep their time and flag: re-applying the file
    # must neither hold back an answer on its way nor send it again.
    responded = {r[0] for r in conn.execute(
        "SELECT post_id FROM response_posts JOIN posts ON posts.id = post_id WHERE posts.campaign_id = ?",
        [campaign.id])}
    # Raw SQL, not sqlite-utils' upsert: its `with conn:` would COMMIT our open transaction.
    conn.execute(
        """INSERT INTO campaigns (id, name, owner, timezone, start_at, end_at, source_file, spec, applied_at,
                                  applied_by, grace_seconds, seq)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM campaigns))
           ON CONFLICT (id) DO UPDATE SET name = excluded.name, owner = excluded.owner,
               timezone = excluded.timezone, start_at = excluded.start_at, end_at = excluded.end_at,
               source_file = excluded.source_file, spec = excluded.spec, applied_at = excluded.applied_at,
               applied_by = excluded.applied_by, grace_seconds = excluded.grace_seconds
           -- Re-applying an unchanged campaign writes nothing (applied_at is when it last changed).
           WHERE campaigns.name IS NOT excluded.name OR campaigns.owner IS NOT excluded.owner
               OR campaigns.timezone IS NOT excluded.timezone OR campaigns.start_at IS NOT excluded.start_at
               OR campaigns.end_at IS NOT excluded.end_at OR campaigns.source_file IS NOT excluded.source_file
               OR campaigns.spec IS NOT excluded.spec OR campaigns.grace_seconds IS NOT excluded.grace_seconds""",
        [campaign.id, campaign.name, campaign.owner, campaign.timezone.key, utc_iso(start), utc_iso(end),
         source_file, campaign_spec(campaign), now, actor,
         int(campaign.grace.total_seconds()) if campaign.grace else None])
    _write_content(db, campaign, now)
    wanted = set()
    new_rows: list[list] = []
    for row in desired:
        key = idempotency_key(row["campaign_id"], row["content_id"], row["channel"], row["occurrence"])
        wanted.add(key)
        values = {
            "due_at": utc_iso(row["due_at"]), "text": row["text"], "link": row["link"],
            "media": _json_list(row["media"]), "thread": _json_list(row["thread"]),
            "platform": row["platform"], "fingerprint": row["fingerprint"],
        }
        old = existing.get(key)
        standby = 1 if row.get("standby") else 0
        if old is not None and old["id"] in responded:
            values["due_at"], standby = old["due_at"], 0
        entry = PlanEntry(key, row["content_id"], row["channel"], values["due_at"])
        if old is None:
            plan.added.append(entry)
            new_rows.append([row["campaign_id"], row["content_id"], row["channel"], values["platform"],
                             row["occurrence"], key, values["due_at"], initial_state, values["text"], values["link"],
                             values["media"], values["thread"], values["fingerprint"], now, now, actor, standby])
            continue
        if old["standby"] != standby and old["state"] not in ("published", *IN_FLIGHT):
            # Standby became timed content or the other way round (its due_at changes with it, below). Guarded
            # by the state read: a worker's claim does not wait for this transaction (store/db.py, scope).
            conn.execute("UPDATE posts SET standby = ? WHERE id = ? AND state = ?", [standby, old["id"], old["state"]])
        changes = tuple(name for name in COMPARED if old[name] != values[name])
        entry.changes = changes
        if old["state"] == "published" or old["thread_ids"]:  # live, whole or in part: the text stays
            if changes:
                plan.published_kept.append(entry)
            else:
                plan.unchanged += 1
        elif old["state"] in IN_FLIGHT:
            if changes:
                plan.in_flight.append(entry)
            else:
                plan.unchanged += 1
        elif old["state"] == "canceled":
            plan.added.append(entry)
            _update_post(conn, old, values, initial_state, now, actor, event(EventCode.RESTORED))
        elif changes:
            # A held post stays held (pause / blackout): editing its text must not release it. An edit
            # always voids an approval: the new text goes back to an approver (four-eyes).
            state = old["state"] if old["state"] in ("draft", "held") and not approval_required else initial_state
            edited = _update_post(conn, old, values, state, now, actor, event(EventCode.EDITED, fields=", ".join(changes)))
            (plan.changed if edited else plan.in_flight).append(entry)
        else:
            plan.unchanged += 1
    _insert_posts(conn, new_rows, initial_state, now, actor)
    for key, old in existing.items():
        if key in wanted or old["state"] in ("published", "canceled"):
            continue
        entry = PlanEntry(key, old["content_id"], old["channel"], old["due_at"])
        if old["thread_ids"] and old["state"] != "published":
            plan.published_kept.append(entry)  # partly live: it is finished (`post cancel` stops it)
            continue
        if old["state"] in IN_FLIGHT:
            plan.in_flight.append(entry)
            continue
        if not conn.execute("UPDATE posts SET state = 'canceled', updated_at = ? WHERE id = ? AND state = ?",
                            [now, old["id"], old["state"]]).rowcount:
            plan.in_flight.append(entry)  # a worker claimed it since we read it: it goes out as it was
            continue
        plan.canceled.append(entry)
        record_event(conn, old["id"], old["state"], "canceled", now, actor, event(EventCode.REMOVED))
    if plan.has_writes or plan.new_campaign:
        audit.record(conn, at=now, actor=actor, action="campaign.apply", subject=f"campaign:{campaign.id}",
                     detail={"added": len(plan.added), "changed": len(plan.changed), "canceled": len(plan.canceled),
                             "file": source_file})
    return plan


def _json_list(values: list[str]) -> str:
    return json.dumps(values, ensure_ascii=False) if values else "[]"


def _write_content(db: sqlite_utils.Database, campaign: Campaign, now: str) -> None:
    # The insertion order (seq) counted on from the highest once, not with a MAX(seq) per row: that
    # subquery scans the table (no index on seq), 10,000 items x 10,000 rows on a re-apply (19 s).
    # An item already stored keeps its seq (the upsert does not set it); gaps do not matter, only order.
    (top,) = db.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM content").fetchone()
    db.conn.executemany(
        """INSERT INTO content (campaign_id, id, issue, audiences, text, spec, removed_at, seq)
           VALUES (?, ?, ?, ?, ?, ?, NULL, ?)
           ON CONFLICT (campaign_id, id) DO UPDATE SET issue = excluded.issue, audiences = excluded.audiences,
               text = excluded.text, spec = excluded.spec, removed_at = NULL""",
        [(campaign.id, item.id, item.issue, json.dumps(list(item.audiences), ensure_ascii=False), item.text,
          content_spec(item), top + n) for n, item in enumerate(campaign.content, 1)])
    db.conn.execute(
        "UPDATE content SET removed_at = ? WHERE campaign_id = ? AND removed_at IS NULL "
        "AND id NOT IN (SELECT value FROM json_each(?))",
        [now, campaign.id, json.dumps([item.id for item in campaign.content])])


def _insert_posts(conn, rows: list[list], state: str, now: str, actor: str) -> None:
    """Insert new outbox rows in one statement, then their first history event."""
    if not rows:
        return
    (last_id,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM posts").fetchone()
    conn.executemany(
        """INSERT INTO posts (campaign_id, content_id, channel, platform, occurrence, idempotency_key, due_at,
                              state, text, link, media, thread, fingerprint, created_at, updated_at, author, standby)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""", rows)
    applied = event(EventCode.APPLIED)
    conn.execute("""INSERT INTO post_events (post_id, at, from_state, to_state, actor, detail, code)
                    SELECT id, ?, NULL, ?, ?, ?, ? FROM posts WHERE id > ?""",
                 [now, state, actor, applied.sentence, applied.code.value, last_id])


def _update_post(conn, old: dict, values: dict, state: str, now: str, actor: str, what: Event) -> bool:
    """The post rewritten from the file, if it is still in the state read (False: a worker claimed it
    meanwhile, store/db.py scope, and it goes out as it was)."""
    cursor = conn.execute(
        """UPDATE posts SET due_at = ?, text = ?, link = ?, media = ?, thread = ?, platform = ?, fingerprint = ?,
                            state = ?, retry_at = NULL, last_error = NULL, error_kind = NULL, updated_at = ?,
                            author = ?, approved_by = NULL, approved_at = NULL, approved_hash = NULL
           WHERE id = ? AND state = ?""",
        [values["due_at"], values["text"], values["link"], values["media"], values["thread"], values["platform"],
         values["fingerprint"], state, now, actor, old["id"], old["state"]])
    if cursor.rowcount != 1:
        return False
    record_event(conn, old["id"], old["state"], state, now, actor, what)
    return True




def stored_spec(db: sqlite_utils.Database, campaign_id: str) -> str | None:
    """The campaign as last applied (JSON, see ``campaign_spec``), or None for an unknown campaign."""
    row = db.execute("SELECT spec FROM campaigns WHERE id = ?", [campaign_id]).fetchone()
    return row[0] if row else None


def content_text(db: sqlite_utils.Database, campaign_id: str, content_id: str) -> str | None:
    """A content item's text as last applied, or None for an unknown item."""
    row = db.execute("SELECT text FROM content WHERE campaign_id = ? AND id = ?", [campaign_id, content_id]).fetchone()
    return row[0] if row else None
