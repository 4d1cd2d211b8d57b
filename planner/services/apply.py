"""Checking campaign files and applying them to the outbox (`planner campaign validate|apply`, and
`planner import --apply`), and what the database already holds of a campaign (for `planner import`)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class Applied:
    plans: list            # one planner.store.campaigns.Plan per campaign, in file order
    rows: list[dict]       # every outbox row the files ask for (for the X cost estimate)
    waiting: int           # posts of these campaigns now waiting for an approver (0 without approval)
    approvers: list[str]   # who may approve them: approvers and admins other than the one who applied


@dataclass(frozen=True)
class OnRecord:
    """What the database holds of one campaign, for planning an import into its file."""
    source_file: str | None           # the file it was last applied from
    published: set[str]               # content ids already published
    times: dict[str, set[str]]        # content id -> due times (UTC text) of its posts in the outbox


@contextmanager
def _read_only_database(config):
    """The database opened read-only, or None when there is none (yet) or it cannot be read: checking and
    planning never write, but must know what a running campaign already holds."""
    from planner.store.backend import database_present, open_configured

    db = None
    if config is not None and database_present(config):
        try:
            db = open_configured(config, readonly=True)
        except Exception:
            db = None
    try:
        yield db
    finally:
        if db is not None:
            db.conn.close()


def on_record(config, campaign_id: str) -> OnRecord:
    """The campaign as the database holds it; empty when there is no database (yet)."""
    from planner.store.campaign_lookup import source_file
    from planner.store.campaigns import applied_times, published_content_ids

    with _read_only_database(config) as db:
        if db is None:
            return OnRecord(None, set(), {})
        return OnRecord(source_file(db, campaign_id), published_content_ids(db, campaign_id),
                        applied_times(db, campaign_id))


def check_files(config, files: list[Path], *, now: datetime | None = None) -> list:
    """Each file parsed and checked (planner.campaign_files.Loaded, with its problems); a campaign id used by
    two of the files is a problem of the second. ``config`` may be None: everything else is still checked."""
    from planner.campaign_files import Problem, load_campaign
    from planner.store.campaigns import applied_times, published_content_ids

    with _read_only_database(config) as db:
        lookup = None if db is None else \
            (lambda campaign_id: (published_content_ids(db, campaign_id), applied_times(db, campaign_id)))
        results = [load_campaign(file, config, now=now, known_for=lookup) for file in files]
    seen: dict[str, Path] = {}
    for result in results:
        if result.campaign is None:
            continue
        other = seen.get(result.campaign.id)
        if other is not None:
            result.problems.append(Problem(str(result.file), "campaign.id", "duplicate_campaign",
                                           {"value": result.campaign.id, "other": str(other)}))
        seen.setdefault(result.campaign.id, result.file)
    return results


def account_slots(config) -> dict:
    """channel -> (parsed posting slots, the office's zone) for accounts that have slots."""
    from planner.domain.slots import parse_slot

    return {name: ([parse_slot(spec) for spec in account.options["slots"]], config.timezone)
            for name, account in config.accounts.items() if account.options.get("slots")}


def apply_checked(db, config, results: list, *, actor: str, dry_run: bool = False) -> Applied:
    """Files that passed ``check_files`` written to the outbox in one transaction (``dry_run``: planned, then
    rolled back). Raises PlannerError (e.g. no free posting slot left) with nothing written."""
    from planner.campaign_files import desired_posts
    from planner.store.approval import APPROVER_ROLES
    from planner.store.campaigns import apply_campaigns
    from planner.store.queries import count_awaiting_approval

    batch = [(r.campaign, desired_posts(r.campaign, r.file, config), str(r.file.resolve())) for r in results]
    plans = apply_campaigns(db, batch, approval_required=config.approval_required, actor=actor,
                            dry_run=dry_run, slots=account_slots(config))
    if not dry_run:  # PostgreSQL workers: each post's job at its (new) time, none for posts that no longer go
        from planner.workers.jobs import after_change

        after_change(db, campaigns=[plan.campaign_id for plan in plans])
    waiting, approvers = 0, []
    if config.approval_required and not dry_run:
        waiting = count_awaiting_approval(db, [plan.campaign_id for plan in plans])
        approvers = [u.name for u in config.users.values() if u.role in APPROVER_ROLES and u.name != actor]
    return Applied(plans=plans, rows=[row for _, rows, _ in batch for row in rows], waiting=waiting,
                   approvers=approvers)
